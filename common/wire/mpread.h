/* mpread: a bounds-checked cursor that reads msgpack values straight from
 * the bytes, in order, without building msgpack-c's object tree.
 *
 * Every decoder of the daemons reads with it (events on the bus and in
 * catch-up pages, stored payloads and snapshots, every request through
 * common/wire/rpc.c, heartbeats, alerts): no allocation per message, one
 * walk over the bytes instead of three (the shape check, the unpack into
 * a zone, the key check) plus the walk of the tree.  Every read checks the bytes that remain; a
 * wrong type or a truncated value is an error that leaves the cursor where it was. Skipped values
 * are checked as codec_reader_check checks a whole message: map keys are strings, nesting is at
 * most MPREAD_MAX_DEPTH deep.
 *
 * Readers that know no shape (invctl's JSON and human printers, invbench's
 * reply checks) walk with the generic calls at the end (mpread_value,
 * mpread_item, mpread_pair, mpread_find) over bytes that
 * codec_reader_check accepted.
 *
 * Ownership: a cursor points into the caller's buffer and owns nothing;
 * strings it returns point into that buffer (not NUL-terminated). */
#ifndef INV_MPREAD_H
#define INV_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPREAD_MAX_DEPTH 32

typedef struct {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last byte */
} mpread_t;

/* What the next value is (MP_NONE at the end of the bytes). */
typedef enum {
    MP_NONE,
    MP_NIL,
    MP_BOOL,
    MP_INT,
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
    MP_INVALID /* 0xc1, never used by msgpack */
} mptype_t;

/* True when buf holds exactly one well-formed msgpack value whose
 * container counts fit in its bytes: the structural pre-check of every
 * decoder (one pass, no recursion; it also bounds msgpack-c's allocations
 * by the message size).  Map keys are not checked here. */
bool mpread_well_formed(const void *buf, size_t len);

void mpread_init(mpread_t *r, const void *buf, size_t len);
/* True when every byte has been read. */
bool mpread_at_end(const mpread_t *r);
mptype_t mpread_peek(const mpread_t *r);

/* Typed reads: 0 and the cursor moved past the value, or -1 (wrong type,
 * truncated, an integer outside int64) and the cursor unmoved. */
int mpread_int(mpread_t *r, int64_t *out);
int mpread_bool(mpread_t *r, bool *out);
int mpread_str(mpread_t *r, const char **s, size_t *len);
/* A string copied into buf (NUL-terminated); -1 also when it does not fit
 * in cap - 1 bytes, holds a NUL (the C string would be cut short) or is
 * not well-formed UTF-8 (utf8_valid). */
int mpread_str_copy(mpread_t *r, char *buf, size_t cap);
/* Container headers: the number of elements (of pairs, for a map) that
 * follow; -1 also when that many cannot fit in the bytes that remain. */
int mpread_array(mpread_t *r, uint32_t *n);
int mpread_map(mpread_t *r, uint32_t *n);
/* Consumes a nil and returns true, or returns false and moves nothing. */
bool mpread_nil(mpread_t *r);
/* Skips one whole value, containers included. */
int mpread_skip(mpread_t *r);

/* ---- generic reading: for code that knows no shape (invctl's printers) ---- */

/* One value as read by mpread_value. */
typedef struct {
    mptype_t type;
    bool b;        /* MP_BOOL */
    bool neg;      /* MP_INT: below zero, in i; else in u (and in i when <= INT64_MAX) */
    int64_t i;     /* MP_INT */
    uint64_t u;    /* MP_INT */
    double f;      /* MP_FLOAT */
    bool f32;      /* MP_FLOAT: written as a 32-bit float */
    int8_t ext;    /* MP_EXT: its type */
    const char *s; /* MP_STR, MP_BIN, MP_EXT: the payload (ext: after its type byte) */
    uint32_t len;  /* MP_STR, MP_BIN, MP_EXT: payload bytes; MP_ARRAY: elements; MP_MAP: pairs */
} mpval_t;

/* Reads a scalar whole, or only the header of an array or map (its
 * elements, or key/value pairs, follow at the cursor).  0, or -1 (truncated,
 * 0xc1, a count that cannot fit in the bytes left) with the cursor unmoved. */
int mpread_value(mpread_t *r, mpval_t *v);
/* Moves past one element of an array being walked, pointing el at it.
 * 0 or -1. */
int mpread_item(mpread_t *r, mpread_t *el);
/* Moves past one key/value pair of a map being walked, pointing key and val
 * (either may be NULL) at them.  0 or -1. */
int mpread_pair(mpread_t *r, mpread_t *key, mpread_t *val);
/* Points val at the value of key in the map at `map` (its first
 * occurrence).  0, or -1 when map holds no map or the key is absent. */
int mpread_find(const mpread_t *map, const char *key, mpread_t *val);

#endif
