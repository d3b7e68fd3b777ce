/* dqproto: dqlite's wire protocol messages (see dqproto.h). */
#include "dqproto.h"

#include <stdlib.h>
#include <string.h>

#define ROWS_PART UINT64_C(0xeeeeeeeeeeeeeeee)
#define ROWS_DONE UINT64_C(0xffffffffffffffff)

const char *
dq_strerror(int code)
{
    static const char *const names[] = {
        [0] = "ok",
        [1] = "malformed message",
        [2] = "too big",
        [3] = "out of memory",
        [4] = "server failure",
        [5] = "unexpected response",
        [6] = "I/O error",
        [7] = "timed out",
        [8] = "no leader",
        [9] = "invalid argument",
    };
    if (code > 0 || -code >= (int)(sizeof names / sizeof names[0]))
        return "unknown error";
    return names[-code];
}

/* ---- the buffer ---- */

void
dqbuf_init(dqbuf_t *b)
{
    *b = (dqbuf_t){.data = NULL};
}

void
dqbuf_fini(dqbuf_t *b)
{
    free(b->data);
    dqbuf_init(b);
}

void
dqbuf_reset(dqbuf_t *b)
{
    b->len = 0;
    b->oom = 0;
}

/* Room for n more bytes, zeroed; NULL (and oom set) when it cannot grow. */
static uint8_t *
buf_grow(dqbuf_t *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    memset(p, 0, n);
    b->len += n;
    return p;
}

static void
le_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
le_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void
put_u64(dqbuf_t *b, uint64_t v)
{
    uint8_t *p = buf_grow(b, 8);
    if (p)
        le_put(p, v, 8);
}

static void
put_u32x2(dqbuf_t *b, uint32_t a, uint32_t c)
{
    uint8_t *p = buf_grow(b, 8);
    if (p) {
        le_put(p, a, 4);
        le_put(p + 4, c, 4);
    }
}

static size_t
pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Bytes (zero-padded to a word). */
static void
put_bytes(dqbuf_t *b, const void *src, size_t n, size_t room)
{
    uint8_t *p = buf_grow(b, pad8(room));
    if (p && n)
        memcpy(p, src, n);
}

static void
put_text(dqbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    put_bytes(b, s, n, n + 1);
}

static void
put_value(dqbuf_t *b, const dqvalue_t *v)
{
    switch (v->type) {
    case DQ_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->f, 8);
        put_u64(b, bits);
        break;
    }
    case DQ_TEXT:
    case DQ_ISO8601:
        put_text(b, v->text);
        break;
    case DQ_BLOB:
        put_u64(b, v->blob.n);
        put_bytes(b, v->blob.p, v->blob.n, v->blob.n);
        break;
    case DQ_NULL:
        put_u64(b, 0);
        break;
    default: /* DQ_INTEGER, DQ_UNIXTIME, DQ_BOOLEAN */
        put_u64(b, (uint64_t)v->i);
        break;
    }
}

static int
type_known(int t)
{
    return (t >= DQ_INTEGER && t <= DQ_NULL) || (t >= DQ_UNIXTIME && t <= DQ_BOOLEAN);
}

static int
check_values(const dqvalue_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!type_known(v[i].type) ||
            ((v[i].type == DQ_TEXT || v[i].type == DQ_ISO8601) && !v[i].text))
            return DQ_EINVAL;
    return DQ_OK;
}

/* A parameter tuple: nothing when n == 0 (the server reads no tuple when
 * the body ends), else the count byte, n type bytes, padding, the values. */
static int
put_params(dqbuf_t *b, const dqvalue_t *v, size_t n)
{
    if (n > DQPROTO_MAX_PARAMS || check_values(v, n) != DQ_OK)
        return DQ_EINVAL;
    if (n == 0)
        return DQ_OK;
    uint8_t *h = buf_grow(b, pad8(1 + n));
    if (h) {
        h[0] = (uint8_t)n;
        for (size_t i = 0; i < n; i++)
            h[1 + i] = (uint8_t)v[i].type;
    }
    for (size_t i = 0; i < n; i++)
        put_value(b, &v[i]);
    return DQ_OK;
}

/* A message is begun by reserving its header, and ended by writing the
 * body's size into it. */
static size_t
msg_begin(dqbuf_t *b)
{
    size_t at = b->len;
    buf_grow(b, 8);
    return at;
}

static int
msg_end(dqbuf_t *b, size_t at, uint8_t type, int rc)
{
    if (b->oom)
        return DQ_ENOMEM;
    if (rc != DQ_OK) {
        b->len = at;
        return rc;
    }
    size_t words = (b->len - at - 8) / 8;
    if (words > UINT32_MAX) {
        b->len = at;
        return DQ_EINVAL;
    }
    le_put(b->data + at, words, 4);
    b->data[at + 4] = type;
    return DQ_OK;
}

/* ---- requests ---- */

int
dqproto_handshake(dqbuf_t *b)
{
    put_u64(b, DQPROTO_VERSION);
    return b->oom ? DQ_ENOMEM : DQ_OK;
}

/* A message whose body is one uint64. */
static int
msg_u64(dqbuf_t *b, uint8_t type, uint64_t v)
{
    size_t at = msg_begin(b);
    put_u64(b, v);
    return msg_end(b, at, type, DQ_OK);
}

/* A message whose body is a uint64 and a text. */
static int
msg_u64_text(dqbuf_t *b, uint8_t type, uint64_t v, const char *text)
{
    size_t at = msg_begin(b);
    put_u64(b, v);
    put_text(b, text);
    return msg_end(b, at, type, DQ_OK);
}

/* A message whose body is two uint64. */
static int
msg_u64x2(dqbuf_t *b, uint8_t type, uint64_t v, uint64_t w)
{
    size_t at = msg_begin(b);
    put_u64(b, v);
    put_u64(b, w);
    return msg_end(b, at, type, DQ_OK);
}

int
dqproto_leader(dqbuf_t *b)
{
    return msg_u64(b, DQ_REQ_LEADER, 0);
}

int
dqproto_client(dqbuf_t *b, uint64_t id)
{
    return msg_u64(b, DQ_REQ_CLIENT, id);
}

int
dqproto_open(dqbuf_t *b, const char *name, uint64_t flags, const char *vfs)
{
    size_t at = msg_begin(b);
    put_text(b, name);
    put_u64(b, flags);
    put_text(b, vfs);
    return msg_end(b, at, DQ_REQ_OPEN, DQ_OK);
}

int
dqproto_prepare(dqbuf_t *b, uint32_t db, const char *sql)
{
    return msg_u64_text(b, DQ_REQ_PREPARE, db, sql);
}

static int
msg_stmt(dqbuf_t *b, uint8_t type, uint32_t db, uint32_t stmt, const dqvalue_t *v, size_t n)
{
    size_t at = msg_begin(b);
    put_u32x2(b, db, stmt);
    return msg_end(b, at, type, put_params(b, v, n));
}

int
dqproto_exec(dqbuf_t *b, uint32_t db, uint32_t stmt, const dqvalue_t *params, size_t n)
{
    return msg_stmt(b, DQ_REQ_EXEC, db, stmt, params, n);
}

int
dqproto_query(dqbuf_t *b, uint32_t db, uint32_t stmt, const dqvalue_t *params, size_t n)
{
    return msg_stmt(b, DQ_REQ_QUERY, db, stmt, params, n);
}

int
dqproto_finalize(dqbuf_t *b, uint32_t db, uint32_t stmt)
{
    return msg_stmt(b, DQ_REQ_FINALIZE, db, stmt, NULL, 0);
}

static int
msg_sql(dqbuf_t *b, uint8_t type, uint32_t db, const char *sql, const dqvalue_t *v, size_t n)
{
    size_t at = msg_begin(b);
    put_u64(b, db);
    put_text(b, sql);
    return msg_end(b, at, type, put_params(b, v, n));
}

int
dqproto_exec_sql(dqbuf_t *b, uint32_t db, const char *sql, const dqvalue_t *params, size_t n)
{
    return msg_sql(b, DQ_REQ_EXEC_SQL, db, sql, params, n);
}

int
dqproto_query_sql(dqbuf_t *b, uint32_t db, const char *sql, const dqvalue_t *params, size_t n)
{
    return msg_sql(b, DQ_REQ_QUERY_SQL, db, sql, params, n);
}

int
dqproto_cluster(dqbuf_t *b)
{
    return msg_u64(b, DQ_REQ_CLUSTER, 1);
}

int
dqproto_add(dqbuf_t *b, uint64_t id, const char *address)
{
    return msg_u64_text(b, DQ_REQ_ADD, id, address);
}

int
dqproto_assign(dqbuf_t *b, uint64_t id, dq_role_t role)
{
    return msg_u64x2(b, DQ_REQ_ASSIGN, id, (uint64_t)role);
}

int
dqproto_remove(dqbuf_t *b, uint64_t id)
{
    return msg_u64(b, DQ_REQ_REMOVE, id);
}

int
dqproto_transfer(dqbuf_t *b, uint64_t id)
{
    return msg_u64(b, DQ_REQ_TRANSFER, id);
}

/* ---- decoding ---- */

int
dqproto_header(const uint8_t p[8], dqheader_t *h)
{
    *h = (dqheader_t){
        .words = (uint32_t)le_get(p, 4),
        .type = p[4],
        .schema = p[5],
    };
    if ((uint64_t)h->words * 8 > DQPROTO_MAX_BODY)
        return DQ_ETOOBIG;
    return DQ_OK;
}

/* A cursor over a body; every get checks the bytes are there. */
typedef struct {
    const uint8_t *p;
    size_t left;
} cur_t;

static int
get_u64(cur_t *c, uint64_t *v)
{
    if (c->left < 8)
        return DQ_EMALFORMED;
    *v = le_get(c->p, 8);
    c->p += 8;
    c->left -= 8;
    return DQ_OK;
}

static int
get_u32x2(cur_t *c, uint32_t *a, uint32_t *b)
{
    uint64_t w;
    if (get_u64(c, &w) != DQ_OK)
        return DQ_EMALFORMED;
    *a = (uint32_t)w;
    *b = (uint32_t)(w >> 32);
    return DQ_OK;
}

/* Text: a NUL within the body, the whole padded to a word. */
static int
get_text(cur_t *c, const char **s)
{
    const uint8_t *nul = memchr(c->p, 0, c->left);
    if (!nul)
        return DQ_EMALFORMED;
    size_t n = pad8((size_t)(nul - c->p) + 1);
    if (n > c->left)
        return DQ_EMALFORMED;
    *s = (const char *)c->p;
    c->p += n;
    c->left -= n;
    return DQ_OK;
}

static int
get_blob(cur_t *c, dqvalue_t *v)
{
    uint64_t n;
    if (get_u64(c, &n) != DQ_OK || n > c->left || pad8((size_t)n) > c->left)
        return DQ_EMALFORMED;
    v->blob.p = c->p;
    v->blob.n = (size_t)n;
    c->p += pad8((size_t)n);
    c->left -= pad8((size_t)n);
    return DQ_OK;
}

static int
get_value(cur_t *c, int type, dqvalue_t *v)
{
    uint64_t w = 0;
    int rc;
    v->type = (dq_type_t)type;
    switch (type) {
    case DQ_TEXT:
    case DQ_ISO8601:
        return get_text(c, &v->text);
    case DQ_BLOB:
        return get_blob(c, v);
    case DQ_FLOAT:
        rc = get_u64(c, &w);
        memcpy(&v->f, &w, 8);
        return rc;
    case DQ_INTEGER:
    case DQ_UNIXTIME:
    case DQ_BOOLEAN:
    case DQ_NULL:
        rc = get_u64(c, &w);
        v->i = (int64_t)w;
        return rc;
    default:
        return DQ_EMALFORMED;
    }
}

static int
end(const cur_t *c, int rc)
{
    return rc == DQ_OK && c->left == 0 ? DQ_OK : DQ_EMALFORMED;
}

/* A body of one uint64 and one text, and nothing after them. */
static int
u64_text(const uint8_t *body, size_t n, uint64_t *u, const char **text)
{
    cur_t c = {.p = body, .left = n};
    int rc = get_u64(&c, u);
    if (rc == DQ_OK)
        rc = get_text(&c, text);
    return end(&c, rc);
}

int
dqproto_failure(const uint8_t *body, size_t n, uint64_t *code, const char **message)
{
    return u64_text(body, n, code, message);
}

int
dqproto_server(const uint8_t *body, size_t n, uint64_t *id, const char **address)
{
    return u64_text(body, n, id, address);
}

int
dqproto_welcome(const uint8_t *body, size_t n, uint64_t *heartbeat_ms)
{
    cur_t c = {.p = body, .left = n};
    return end(&c, get_u64(&c, heartbeat_ms));
}

int
dqproto_db(const uint8_t *body, size_t n, uint32_t *db)
{
    cur_t c = {.p = body, .left = n};
    uint32_t unused;
    return end(&c, get_u32x2(&c, db, &unused));
}

int
dqproto_stmt(const uint8_t *body, size_t n, uint32_t *db, uint32_t *stmt, uint64_t *params)
{
    cur_t c = {.p = body, .left = n};
    int rc = get_u32x2(&c, db, stmt);
    if (rc == DQ_OK)
        rc = get_u64(&c, params);
    return end(&c, rc);
}

int
dqproto_result(const uint8_t *body, size_t n, int64_t *last_id, uint64_t *changes)
{
    cur_t c = {.p = body, .left = n};
    uint64_t id = 0;
    int rc = get_u64(&c, &id);
    *last_id = (int64_t)id;
    if (rc == DQ_OK)
        rc = get_u64(&c, changes);
    return end(&c, rc);
}

int
dqproto_empty(const uint8_t *body, size_t n)
{
    cur_t c = {.p = body, .left = n};
    uint64_t unused;
    return end(&c, get_u64(&c, &unused));
}

int
dqproto_servers(const uint8_t *body, size_t n, dqserver_t *out, size_t cap, size_t *count)
{
    cur_t c = {.p = body, .left = n};
    uint64_t k;
    *count = 0;
    if (get_u64(&c, &k) != DQ_OK)
        return DQ_EMALFORMED;
    if (k > cap)
        return DQ_ETOOBIG;
    for (size_t i = 0; i < k; i++) {
        uint64_t role;
        if (get_u64(&c, &out[i].id) != DQ_OK || get_text(&c, &out[i].address) != DQ_OK ||
            get_u64(&c, &role) != DQ_OK || role > DQ_SPARE)
            return DQ_EMALFORMED;
        out[i].role = (dq_role_t)role;
    }
    *count = (size_t)k;
    return end(&c, DQ_OK);
}

int
dqproto_rows_begin(const uint8_t *body, size_t n, dqrows_t *r)
{
    cur_t c = {.p = body, .left = n};
    uint64_t k;
    *r = (dqrows_t){.p = body, .left = n};
    if (get_u64(&c, &k) != DQ_OK)
        return DQ_EMALFORMED;
    if (k > DQPROTO_MAX_COLUMNS)
        return DQ_ETOOBIG;
    for (size_t i = 0; i < k; i++)
        if (get_text(&c, &r->names[i]) != DQ_OK)
            return DQ_EMALFORMED;
    r->ncols = (size_t)k;
    r->p = c.p;
    r->left = c.left;
    return DQ_OK;
}

/* The marker word ends the body; anything after it is malformed. */
static int
rows_marker(dqrows_t *r, uint64_t w)
{
    r->done = 1;
    r->more = w == ROWS_PART;
    return r->left == 8 ? 0 : DQ_EMALFORMED;
}

int
dqproto_rows_next(dqrows_t *r, dqvalue_t *row)
{
    if (r->done || r->left < 8)
        return DQ_EMALFORMED;
    uint64_t w = le_get(r->p, 8);
    if (w == ROWS_PART || w == ROWS_DONE)
        return rows_marker(r, w);
    size_t hsize = pad8((r->ncols + 1) / 2);
    if (r->ncols == 0 || hsize > r->left)
        return DQ_EMALFORMED;
    cur_t c = {.p = r->p + hsize, .left = r->left - hsize};
    for (size_t i = 0; i < r->ncols; i++) {
        int type = (r->p[i / 2] >> (4 * (i % 2))) & 0x0f;
        if (get_value(&c, type, &row[i]) != DQ_OK)
            return DQ_EMALFORMED;
    }
    r->p = c.p;
    r->left = c.left;
    return 1;
}

/* ---- responses (a server's side, for tests and seeds) ---- */

int
dqproto_put_failure(dqbuf_t *b, uint64_t code, const char *message)
{
    return msg_u64_text(b, DQ_RES_FAILURE, code, message);
}

int
dqproto_put_server(dqbuf_t *b, uint64_t id, const char *address)
{
    return msg_u64_text(b, DQ_RES_SERVER, id, address);
}

int
dqproto_put_welcome(dqbuf_t *b, uint64_t heartbeat_ms)
{
    return msg_u64(b, DQ_RES_WELCOME, heartbeat_ms);
}

int
dqproto_put_db(dqbuf_t *b, uint32_t db)
{
    size_t at = msg_begin(b);
    put_u32x2(b, db, 0);
    return msg_end(b, at, DQ_RES_DB, DQ_OK);
}

int
dqproto_put_stmt(dqbuf_t *b, uint32_t db, uint32_t stmt, uint64_t params)
{
    size_t at = msg_begin(b);
    put_u32x2(b, db, stmt);
    put_u64(b, params);
    return msg_end(b, at, DQ_RES_STMT, DQ_OK);
}

int
dqproto_put_result(dqbuf_t *b, int64_t last_id, uint64_t changes)
{
    return msg_u64x2(b, DQ_RES_RESULT, (uint64_t)last_id, changes);
}

int
dqproto_put_empty(dqbuf_t *b)
{
    return msg_u64(b, DQ_RES_EMPTY, 0);
}

int
dqproto_put_servers(dqbuf_t *b, const dqserver_t *servers, size_t n)
{
    size_t at = msg_begin(b);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++) {
        put_u64(b, servers[i].id);
        put_text(b, servers[i].address);
        put_u64(b, (uint64_t)servers[i].role);
    }
    return msg_end(b, at, DQ_RES_SERVERS, DQ_OK);
}

static void
put_row(dqbuf_t *b, const dqvalue_t *row, size_t ncols)
{
    uint8_t *h = buf_grow(b, pad8((ncols + 1) / 2));
    if (h)
        for (size_t i = 0; i < ncols; i++)
            h[i / 2] |= (uint8_t)(row[i].type << (4 * (i % 2)));
    for (size_t i = 0; i < ncols; i++)
        put_value(b, &row[i]);
}

int
dqproto_put_rows(dqbuf_t *b, const char *const *names, size_t ncols, const dqvalue_t *rows,
                 size_t nrows, int more)
{
    if (ncols > DQPROTO_MAX_COLUMNS || check_values(rows, nrows * ncols) != DQ_OK)
        return DQ_EINVAL;
    size_t at = msg_begin(b);
    put_u64(b, ncols);
    for (size_t i = 0; i < ncols; i++)
        put_text(b, names[i]);
    for (size_t r = 0; r < nrows; r++)
        put_row(b, rows + r * ncols, ncols);
    put_u64(b, more ? ROWS_PART : ROWS_DONE);
    return msg_end(b, at, DQ_RES_ROWS, DQ_OK);
}
