/* dqproto: the messages of dqlite's wire protocol (version 1), encoded and
 * decoded, with no socket (dqclient does the I/O).  Named for the protocol
 * rather than "dqlite" so that nobody takes it for the node library.
 *
 * A message is one 8-byte header word (body size in words, uint32 LE; type;
 * schema; two unused bytes) and a body of little-endian fields, each padded
 * to a word: uint64, uint32 pairs, text (NUL-terminated, zero-padded), and
 * tuples (a parameter tuple: a count byte and one type byte per value, then
 * the values; a row: one 4-bit type per column, then the values).
 *
 * Encoding appends to a dqbuf_t (grown with realloc; an allocation failure
 * makes every later call fail with DQ_ENOMEM).  Decoding reads a body the
 * caller holds: it allocates nothing, every length is checked against the
 * bytes that are there, text and blobs point into the body (valid while
 * it is), counts above the documented caps (DQPROTO_MAX_*) are refused,
 * and bytes left after the last field make the message malformed. */
#ifndef INV_DQPROTO_H
#define INV_DQPROTO_H

#include <stddef.h>
#include <stdint.h>

/* The error vocabulary of dqproto and dqclient: 0 or a negative code. */
typedef enum {
    DQ_OK = 0,
    DQ_EMALFORMED = -1,  /* bytes that do not decode as the message expected */
    DQ_ETOOBIG = -2,     /* a size or count above a DQPROTO_MAX_* cap */
    DQ_ENOMEM = -3,      /* an allocation failed while encoding */
    DQ_EFAILURE = -4,    /* the server answered FAILURE (code and message kept) */
    DQ_EUNEXPECTED = -5, /* a well-formed response of the wrong type */
    DQ_EIO = -6,         /* connect, read or write failed, or the peer closed */
    DQ_ETIMEOUT = -7,    /* the deadline passed */
    DQ_ENOLEADER = -8,   /* no node knows a leader */
    DQ_EINVAL = -9,      /* a bad argument (an address that does not parse) */
} dqerr_t;

/* A static phrase for code; "unknown error" for others. Never NULL. */
const char *dq_strerror(int code);

enum { DQPROTO_VERSION = 1 };
enum {
    DQPROTO_MAX_BODY = 16 * 1024 * 1024, /* bytes of one response body */
    DQPROTO_MAX_COLUMNS = 64,            /* columns of a result set */
    DQPROTO_MAX_PARAMS = 255,            /* values of a parameter tuple (a count byte) */
};

typedef enum {
    DQ_REQ_LEADER = 0,
    DQ_REQ_CLIENT = 1,
    DQ_REQ_OPEN = 3,
    DQ_REQ_PREPARE = 4,
    DQ_REQ_EXEC = 5,
    DQ_REQ_QUERY = 6,
    DQ_REQ_FINALIZE = 7,
    DQ_REQ_EXEC_SQL = 8,
    DQ_REQ_QUERY_SQL = 9,
    DQ_REQ_ADD = 12,
    DQ_REQ_ASSIGN = 13,
    DQ_REQ_REMOVE = 14,
    DQ_REQ_CLUSTER = 16,
    DQ_REQ_TRANSFER = 17,
} dq_request_t;

typedef enum {
    DQ_RES_FAILURE = 0,
    DQ_RES_SERVER = 1, /* the answer to LEADER: id and address */
    DQ_RES_WELCOME = 2,
    DQ_RES_SERVERS = 3, /* the answer to CLUSTER */
    DQ_RES_DB = 4,
    DQ_RES_STMT = 5,
    DQ_RES_RESULT = 6,
    DQ_RES_ROWS = 7,
    DQ_RES_EMPTY = 8,
} dq_response_t;

/* Value types, SQLite's codes and dqlite's own. */
typedef enum {
    DQ_INTEGER = 1,
    DQ_FLOAT = 2,
    DQ_TEXT = 3,
    DQ_BLOB = 4,
    DQ_NULL = 5,
    DQ_UNIXTIME = 9,
    DQ_ISO8601 = 10,
    DQ_BOOLEAN = 11,
} dq_type_t;

typedef enum { DQ_VOTER = 0, DQ_STANDBY = 1, DQ_SPARE = 2 } dq_role_t;

/* One value of a parameter tuple or of a row.  text and blob point into
 * memory the caller (encoding) or the body (decoding) owns. */
typedef struct {
    dq_type_t type;
    union {
        int64_t i;        /* DQ_INTEGER, DQ_UNIXTIME, DQ_BOOLEAN (0 or 1) */
        double f;         /* DQ_FLOAT */
        const char *text; /* DQ_TEXT, DQ_ISO8601: NUL-terminated */
        struct {
            const void *p;
            size_t n;
        } blob; /* DQ_BLOB */
    };
} dqvalue_t;

static inline dqvalue_t
dq_int(int64_t i)
{
    return (dqvalue_t){.type = DQ_INTEGER, .i = i};
}
static inline dqvalue_t
dq_text(const char *s)
{
    return (dqvalue_t){.type = DQ_TEXT, .text = s};
}
static inline dqvalue_t
dq_null(void)
{
    return (dqvalue_t){.type = DQ_NULL};
}
static inline dqvalue_t
dq_blob(const void *p, size_t n)
{
    return (dqvalue_t){.type = DQ_BLOB, .blob = {.p = p, .n = n}};
}

/* A growable byte buffer: dqbuf_init / dqbuf_fini (frees, idempotent). */
typedef struct {
    uint8_t *data;
    size_t len; /* bytes written */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed; the contents are incomplete */
} dqbuf_t;

void dqbuf_init(dqbuf_t *b);
void dqbuf_fini(dqbuf_t *b);
void dqbuf_reset(dqbuf_t *b); /* len = 0, oom cleared; keeps the memory */

/* Request encoders: each appends one whole message (header and body) to
 * b and returns DQ_OK, DQ_ENOMEM, or DQ_EINVAL (a text holding no NUL
 * within reach is impossible in C; more than DQPROTO_MAX_PARAMS values,
 * or an unknown value type, is DQ_EINVAL).  dqproto_handshake appends the
 * protocol-version word a connection starts with. */
int dqproto_handshake(dqbuf_t *b);
int dqproto_leader(dqbuf_t *b);
int dqproto_client(dqbuf_t *b, uint64_t id);
int dqproto_open(dqbuf_t *b, const char *name, uint64_t flags, const char *vfs);
int dqproto_prepare(dqbuf_t *b, uint32_t db, const char *sql);
int dqproto_exec(dqbuf_t *b, uint32_t db, uint32_t stmt, const dqvalue_t *params, size_t n);
int dqproto_query(dqbuf_t *b, uint32_t db, uint32_t stmt, const dqvalue_t *params, size_t n);
int dqproto_finalize(dqbuf_t *b, uint32_t db, uint32_t stmt);
int dqproto_exec_sql(dqbuf_t *b, uint32_t db, const char *sql, const dqvalue_t *params, size_t n);
int dqproto_query_sql(dqbuf_t *b, uint32_t db, const char *sql, const dqvalue_t *params, size_t n);
int dqproto_cluster(dqbuf_t *b); /* format 1: with roles */
int dqproto_add(dqbuf_t *b, uint64_t id, const char *address);
int dqproto_assign(dqbuf_t *b, uint64_t id, dq_role_t role);
int dqproto_remove(dqbuf_t *b, uint64_t id);
int dqproto_transfer(dqbuf_t *b, uint64_t id);

/* The header word of a message. */
typedef struct {
    uint32_t words; /* body size in 8-byte words */
    uint8_t type;   /* dq_request_t or dq_response_t */
    uint8_t schema;
} dqheader_t;

/* Decodes the 8 bytes at p.  DQ_ETOOBIG when the body would exceed
 * DQPROTO_MAX_BODY (so a reader never allocates more). */
int dqproto_header(const uint8_t p[8], dqheader_t *h);

/* Response decoders: body is the message body (n bytes, a multiple of 8
 * for a valid message).  Each returns DQ_OK or DQ_EMALFORMED; pointers
 * returned point into body. */
int dqproto_failure(const uint8_t *body, size_t n, uint64_t *code, const char **message);
int dqproto_server(const uint8_t *body, size_t n, uint64_t *id, const char **address);
int dqproto_welcome(const uint8_t *body, size_t n, uint64_t *heartbeat_ms);
int dqproto_db(const uint8_t *body, size_t n, uint32_t *db);
int dqproto_stmt(const uint8_t *body, size_t n, uint32_t *db, uint32_t *stmt, uint64_t *params);
int dqproto_result(const uint8_t *body, size_t n, int64_t *last_id, uint64_t *changes);
int dqproto_empty(const uint8_t *body, size_t n);

typedef struct {
    uint64_t id;
    const char *address; /* into the body */
    dq_role_t role;
} dqserver_t;

/* The SERVERS answer to CLUSTER (format 1): up to cap entries into out.
 * *count is the number of servers; DQ_ETOOBIG when it exceeds cap. */
int dqproto_servers(const uint8_t *body, size_t n, dqserver_t *out, size_t cap, size_t *count);

/* A cursor over one ROWS body: dqproto_rows_begin reads the column names,
 * dqproto_rows_next one row at a time, until the end marker: then `more`
 * says whether another ROWS message follows (a page boundary) or the
 * result set is complete. */
typedef struct {
    const uint8_t *p; /* the next unread byte */
    size_t left;      /* bytes left in the body */
    size_t ncols;     /* <= DQPROTO_MAX_COLUMNS */
    const char *names[DQPROTO_MAX_COLUMNS];
    int done; /* the end marker was read */
    int more; /* the marker was PART: another ROWS message follows */
} dqrows_t;

/* DQ_OK, DQ_EMALFORMED, or DQ_ETOOBIG (more than DQPROTO_MAX_COLUMNS). */
int dqproto_rows_begin(const uint8_t *body, size_t n, dqrows_t *r);

/* Reads the next row into row[0..r->ncols): returns 1 (a row), 0 (the
 * marker: r->more is set; the body must end there), or DQ_EMALFORMED. */
int dqproto_rows_next(dqrows_t *r, dqvalue_t *row);

/* Encoders of the responses, for tests and fuzz seeds (a server's side). */
int dqproto_put_failure(dqbuf_t *b, uint64_t code, const char *message);
int dqproto_put_server(dqbuf_t *b, uint64_t id, const char *address);
int dqproto_put_welcome(dqbuf_t *b, uint64_t heartbeat_ms);
int dqproto_put_db(dqbuf_t *b, uint32_t db);
int dqproto_put_stmt(dqbuf_t *b, uint32_t db, uint32_t stmt, uint64_t params);
int dqproto_put_result(dqbuf_t *b, int64_t last_id, uint64_t changes);
int dqproto_put_empty(dqbuf_t *b);
int dqproto_put_servers(dqbuf_t *b, const dqserver_t *servers, size_t n);
/* A ROWS message: names[0..ncols), rows row-major (nrows * ncols values),
 * then the PART marker if more, else DONE. */
int dqproto_put_rows(dqbuf_t *b, const char *const *names, size_t ncols, const dqvalue_t *rows,
                     size_t nrows, int more);

#endif
