/* request: decoding one query request (docs/protocol.md, section 8).
 *
 * A request is one flat msgpack map {type, <params>, min_position?,
 * wait_ms?, correlation_id?}.  Decoding is strict and bounded: the body is
 * parsed once by the dispatcher (rpc_decode with request_proto: at most
 * CODEC_MAX_MESSAGE bytes, one map, a string type), keys must be
 * unique strings, each parameter has one type, and a query type accepts
 * only the parameters its entry in the query table names.
 *  - shape errors (not a map, wrong types, unknown type, duplicate keys)
 *    are `malformed`;
 *  - values outside their rules (bad ids, invalid UTF-8, limit out of
 *    range, unknown or unaccepted keys, missing required params) are
 *    `validation`, naming the field.
 * Pure code: no I/O, no logging. */
#ifndef INV_REQUEST_H
#define INV_REQUEST_H

#include "codec.h"
#include "fields.h"
#include "rpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REQUEST_TYPE_MAX 31    /* bytes of a type name */
#define REQUEST_Q_MAX 200      /* bytes of a search string */
#define REQUEST_CURSOR_MAX 160 /* bytes of a cursor */
#define REQUEST_LIMIT_DEFAULT 20
#define REQUEST_LIMIT_MAX 100
#define REQUEST_WAIT_MAX_MS 5000 /* larger wait_ms values are capped to this */

/* Parameter bits: which parameters a request carried / a type accepts. */
enum {
    RP_PRODUCT_ID = 1u << 0,
    RP_SUPPLIER_ID = 1u << 1,
    RP_Q = 1u << 2,
    RP_LIMIT = 1u << 3,
    RP_CURSOR = 1u << 4,
    RP_IN_STOCK = 1u << 5,
    RP_INCLUDE_DISCONTINUED = 1u << 6,
    RP_MIN_POSITION = 1u << 7,
    RP_WAIT_MS = 1u << 8,
    RP_CORRELATION_ID = 1u << 9,
};
#define RP_LIST (RP_LIMIT | RP_CURSOR)                               /* paginated queries */
#define RP_COMMON (RP_MIN_POSITION | RP_WAIT_MS | RP_CORRELATION_ID) /* every type */

typedef struct {
    char type[REQUEST_TYPE_MAX + 1]; /* a type known to the query table */
    uint32_t present;                /* RP_* bits of the parameters given (not nil) */
    char product_id[ID_MAX + 1];
    char supplier_id[ID_MAX + 1];
    char q[REQUEST_Q_MAX + 1];           /* valid UTF-8, 1..200 bytes */
    char cursor[REQUEST_CURSOR_MAX + 1]; /* opaque; "" = first page */
    int64_t limit;                       /* 1..100, default 20 */
    bool in_stock;
    bool include_discontinued;       /* default false */
    int64_t min_position;            /* >= 0; 0 = no wait */
    int64_t wait_ms;                 /* 0..5000 */
    char correlation_id[ID_MAX + 1]; /* "" when none */
} request_t;

typedef struct {
    const char *code;  /* "malformed" or "validation" */
    char field[32];    /* validation: the field at fault; "" otherwise */
    char message[128]; /* a human sentence */
} request_error_t;

/* The query ROUTER's envelope: a flat map read with the cursor, its type a
 * string (common/wire/rpc.h). */
extern const rpc_proto_t request_proto;

/* Validates one request whose envelope the dispatcher decoded with
 * request_proto (rq->map, rq->type).  Returns 0 with *req filled, or -1
 * with *err filled (an unknown type is malformed "unknown request type"). */
int request_decode(const rpc_request_t *rq, request_t *req, request_error_t *err);
/* Decodes (as the dispatcher does) and validates one request body.
 * Returns 0 with *req filled, or -1 with *err filled; never reads past
 * len. */
int request_parse(const void *buf, size_t len, request_t *req, request_error_t *err);

/* Packs {ok:false, error, message[, fields:{field: message}]} into pk. */
void request_pack_error(codec_writer_t *w, const request_error_t *err);

#endif
