/* codec: msgpack on the wire and in the store (msgpack-c underneath).
 *
 * Decoding is strict: one complete object, no trailing bytes, container
 * counts bounded by the bytes that remain (so a 5-byte message cannot make
 * us allocate gigabytes), keys are strings, every field has its declared
 * type.  Wrong shapes are `malformed`; values that break a field's rules are
 * `validation` errors naming the field.  Every encoder here has a decoder and
 * a round-trip test (tests/unit/test_codec.c).
 *
 * Encoding goes through codec_writer_t: a map's header is written by the
 * writer from the entries it counted (codec_map_*), never by hand, and the
 * bytes are those msgpack-c's own header would give (byte-equality tests).
 * Reading goes through the mpread cursor (mpread.h) everywhere: msgpack-c
 * is used for writing only (its object tree is left to the tests, which
 * build and inspect messages with it: tests/msgtree.h). */
#ifndef INV_CODEC_H
#define INV_CODEC_H

#include "eplist.h"
#include "message.h"
#include "mpread.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define CODEC_MAX_MESSAGE (64 * 1024) /* larger requests are rejected as malformed */

/* Reply to one command. */
typedef struct {
    bool accepted;
    reject_code_t error; /* REJ_NONE when accepted */
    char command_id[ID_MAX + 1];
    char stream[STREAM_MAX + 1];
    int64_t version;       /* accepted: new version; conflict: current version */
    int64_t position;      /* accepted: position of the last event appended */
    bool duplicate;        /* accepted earlier; this is the stored first reply */
    char message[256];     /* human reason when rejected */
    field_errors_t fields; /* validation: field -> message */
    char leader[EPLIST_EP_MAX + 1]; /* REJ_NOT_LEADER: the active command service's endpoint,
                                       "" while none is known; encoded with that code only */
} command_reply_t;

/* Empties r: not accepted, no error, every text "", no field errors (only
 * the first byte of each text is written: the struct is ~2.5 KiB and the
 * command-service clears one per command). */
void command_reply_clear(command_reply_t *r);

/* ---- writing --------------------------------------------------------------
 *
 * A packer over a growable buffer, reused across messages, that writes maps
 * counting their own entries: codec_map_open() writes a one-byte fixmap
 * header, every codec_map_* call below adds one entry to the innermost open
 * map, and codec_map_close() patches the header with the count.  The bytes
 * are exactly msgpack_pack_map(n)'s (fixmap below 16 entries; map16/map32
 * above, when close moves the entries up by 2 or 4 bytes: rare, and no
 * allocation beyond the buffer's own growth).  Maps nest up to
 * CODEC_MAP_DEPTH deep in one writer; opening deeper, closing with no map
 * open or writing an entry with no map open is a bug (assert). */
#define CODEC_MAP_DEPTH 8

typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;               /* writes into buf; values go through it */
    int depth;                       /* maps open: 0..CODEC_MAP_DEPTH */
    size_t map_at[CODEC_MAP_DEPTH];  /* offset in buf of each open map's header byte */
    uint32_t map_n[CODEC_MAP_DEPTH]; /* entries written into each so far */
} codec_writer_t;
void codec_writer_init(codec_writer_t *w);
/* Empties the buffer (keeping its memory) and forgets open maps. */
void codec_writer_reset(codec_writer_t *w);
void codec_writer_fini(codec_writer_t *w);

/* Starts a map: as a whole message, as an array element, or as the value
 * after codec_map_key. */
void codec_map_open(codec_writer_t *w);
/* Ends the innermost open map, writing its header with the entries counted. */
void codec_map_close(codec_writer_t *w);
/* One entry of the innermost open map whose value the caller writes next
 * (through w->pk, codec_map_open, codec_pack_raw...): exactly one value. */
void codec_map_key(codec_writer_t *w, const char *key);
/* One whole entry of the innermost open map. */
void codec_map_str(codec_writer_t *w, const char *key, const char *value);
void codec_map_str_n(codec_writer_t *w, const char *key, const char *value, size_t len);
void codec_map_int(codec_writer_t *w, const char *key, int64_t value);
void codec_map_bool(codec_writer_t *w, const char *key, bool value);
void codec_map_nil(codec_writer_t *w, const char *key);
/* A struct's members as map entries: one table of {key, kind, offsetof}
 * names them once and codec_map_fields writes them, in table order, into
 * the innermost open map (the caller opens, adds computed entries, closes). */
typedef enum { CODEC_FIELD_TEXT, CODEC_FIELD_INT, CODEC_FIELD_BOOL } codec_field_kind_t;
typedef struct {
    const char *key;
    codec_field_kind_t kind; /* TEXT: char[] (NUL-terminated); INT: int64_t; BOOL: bool */
    size_t offset;           /* offsetof the member in the struct */
} codec_field_t;
#define CODEC_FIELD(kind_, type_, member_) {#member_, CODEC_FIELD_##kind_, offsetof(type_, member_)}
void codec_map_fields(codec_writer_t *w, const codec_field_t *fields, size_t n, const void *obj);
/* Appends the entries written so far into from's one open map (from->depth
 * is 1) to w's innermost open map, counting them: a reply whose entries were
 * packed before its first entries were known. */
void codec_map_merge(codec_writer_t *w, const codec_writer_t *from);

/* A string value. */
void codec_pack_cstr(msgpack_packer *pk, const char *s);
/* Appends already-encoded msgpack bytes (one object) to the packer's buffer. */
void codec_pack_raw(msgpack_packer *pk, const void *bytes, size_t len);

/* ---- reading and the messages ---------------------------------------- */

/* Starts a cursor over buf after checking its structure (one complete
 * object, no trailing bytes, container counts that fit), without building
 * a tree.  The decoders below read with it and check map keys and
 * nesting as they go.  0, or -1 with *why. */
int codec_reader_init(mpread_t *r, const void *buf, size_t len, const char **why);
/* The same, and also every map key (at any depth) is a string and nesting
 * is at most MPREAD_MAX_DEPTH deep (as msgpack-c's unpacker would accept
 * it: tests/msgtree.h).  For readers that walk any shape (invctl). */
int codec_reader_check(mpread_t *r, const void *buf, size_t len, const char **why);

/* A map key known to a decoder. */
typedef struct {
    const char *name;
    size_t len;
} codec_key_t;
#define CODEC_KEY(s)                                                                               \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }

/* Reads the map at the cursor, noting in vals[k] where the value of keys[k]
 * begins (nkeys <= 32); bit k of *found says that keys[k] was there, and
 * *unknown counts the other keys.  0, -1 when the cursor holds no map, -2
 * when a key (at any depth) is not a string, -3 when a key of keys[] is
 * given twice (CODEC_DUPLICATE_KEY: a map with a key twice is malformed in
 * every decoder: commands, their data, events, requests). */
#define CODEC_DUPLICATE_KEY "a key is given twice"
int codec_map_index(mpread_t *r, const codec_key_t *keys, int nkeys, mpread_t *vals,
                    uint32_t *found, int *unknown);

/* Decodes a command request.  Returns REJ_NONE, REJ_MALFORMED (reason in
 * why) or REJ_VALIDATION (errs filled).  command_id is copied into
 * cmd->command_id whenever it was readable, even on rejection. */
reject_code_t codec_decode_command(const void *buf, size_t len, command_t *cmd,
                                   field_errors_t *errs, char *why, size_t why_cap);
/* The keys of a command's envelope, "type" first, for codec_map_index (the
 * command-service's dispatcher indexes them once, common/wire/rpc.h). */
#define CODEC_COMMAND_NKEYS 5
extern const codec_key_t codec_command_keys[CODEC_COMMAND_NKEYS];
/* The rest of codec_decode_command once the envelope is indexed: vals,
 * found and unknown as codec_map_index gave them for codec_command_keys,
 * and the type already read from vals[0].  Same results and contract. */
reject_code_t codec_decode_command_at(command_type_t type, mpread_t *vals, uint32_t found,
                                      int unknown, command_t *cmd, field_errors_t *errs, char *why,
                                      size_t why_cap);
/* Encodes a command request (clients and tests). */
void codec_pack_command(codec_writer_t *w, const command_t *cmd);

/* The `data` map of an event, as stored in the payload column. */
void codec_pack_event_data(codec_writer_t *w, event_type_t type, const fields_t *data);
/* Decodes a stored payload (buf, len) of the given schema, upcasting old
 * schemas to the current one (ProductCreated v1 has no
 * low_stock_threshold: it reads as PRODUCT_V1_DEFAULT_THRESHOLD).  0 or -1
 * with why. */
#define PRODUCT_V1_DEFAULT_THRESHOLD 5
int codec_decode_event_data(event_type_t type, int32_t schema, const void *buf, size_t len,
                            fields_t *out, const char **why);

/* A whole event on the wire: the envelope plus an already-encoded data map
 * (raw bytes as stored), so relays never re-encode payloads. */
void codec_pack_event_raw(codec_writer_t *w, const envelope_t *env, const void *data,
                          size_t data_len);
void codec_pack_event(codec_writer_t *w, const event_t *ev);
/* Decodes a whole wire event, upcasting its data.  0 or -1 with why. */
int codec_decode_event(const void *buf, size_t len, event_t *ev, const char **why);
/* Decodes the event at the cursor (an element of a batch or of a page) and
 * moves past it.  0 or -1 with why. */
int codec_read_event(mpread_t *r, event_t *ev, const char **why);

void codec_pack_command_reply(codec_writer_t *w, const command_reply_t *r);
/* A map of field -> message (validation replies). */
void codec_pack_field_errors(codec_writer_t *w, const field_errors_t *errs);
/* The request {type: Status, min_position, wait_ms}: the query service's
 * status once it has applied min_position, or after wait_ms
 * (docs/protocol.md, the query params). */
void codec_pack_status_wait(codec_writer_t *w, int64_t min_position, int64_t wait_ms);

/* One error reply (docs/protocol.md, section 2, Reply shape).  Every
 * endpoint packs its error replies with codec_pack_error, as
 * {ok: false[, command_id], error, message[, current_version][, fields]};
 * the optional keys are there when their member is not NULL. */
typedef struct {
    const char *code;               /* "malformed", "validation", ... (section 2) */
    const char *message;            /* a human sentence */
    const char *command_id;         /* command replies: the id, "" when unread; else NULL */
    const int64_t *current_version; /* conflict: the stream's version; else NULL */
    const field_errors_t *fields;   /* field -> message; command replies always carry it */
    const char *leader;             /* not_leader: the active daemon's endpoint or ""; else NULL */
} codec_error_t;
void codec_pack_error(codec_writer_t *w, const codec_error_t *e);
/* Decodes a command reply.  0, or -1 when it has no boolean `ok`, or is a
 * not_leader rejection whose `leader` is not read as codec_read_not_leader
 * reads it (a client must not follow it). */
int codec_decode_command_reply(const void *buf, size_t len, command_reply_t *r);

/* ---- not_leader (docs/protocol.md, section 2) ----------------------------
 *
 * A standby daemon of a replicated store answers every request it cannot
 * serve {ok: false, error: "not_leader", message, leader[, command_id,
 * fields]}: `leader` the endpoint of the daemon of its kind that is active
 * now, "" while none is known (an election).  The same request, the same
 * command_id, may be sent there. */

/* The sentence of a not_leader reply: "not leader: the active <what> is at
 * <leader>", or "not leader: no active <what> is known yet (election in
 * progress)" when leader is "" (what: "command service", "outbox relay"). */
void codec_not_leader_message(char *buf, size_t cap, const char *what, const char *leader);
/* Fills r as the not_leader rejection of command_id (NULL: "") for the
 * command reply encoder (codec_pack_command_reply): error, message, leader
 * (cut to EPLIST_EP_MAX bytes; the server gives a valid endpoint or ""). */
void command_reply_not_leader(command_reply_t *r, const char *command_id, const char *leader);
/* Reads a reply (body: a cursor at its value, e.g. client_reply_t's) as a
 * not_leader rejection.  Returns 0 when it is not one (not a map, ok not
 * false, error not "not_leader"); 1 when it is, with its leader copied into
 * leader (cap > EPLIST_EP_MAX): "" or a valid endpoint (eplist_valid);
 * -1 when it is one whose leader is missing, not a string, longer than
 * EPLIST_EP_MAX bytes or not an endpoint, with the reason in *why (leader
 * is then ""): a client reports it and follows nothing. */
int codec_read_not_leader(const mpread_t *body, char *leader, size_t cap, const char **why);

#endif
