/* request: see request.h.  One table describes every parameter (wire
 * name, bit, kind, where it goes); the query table (queries.c) says which
 * bits each type accepts and requires. */
#include "request.h"

#include "message.h"
#include "queries.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum { PK_ID, PK_TEXT, PK_INT, PK_BOOL } param_kind_t;

typedef struct {
    const char *name; /* wire key */
    uint32_t bit;     /* RP_* */
    param_kind_t kind;
    size_t offset;  /* member of request_t */
    size_t cap;     /* strings: buffer size including the NUL */
    size_t min_len; /* PK_TEXT: bytes */
} param_spec_t;

#define STR_PARAM(n, b, k, member, min)                                                            \
    {                                                                                              \
        n, b, k, offsetof(request_t, member), sizeof(((request_t *)0)->member), min                \
    }
#define VAL_PARAM(n, b, k, member)                                                                 \
    {                                                                                              \
        n, b, k, offsetof(request_t, member), 0, 0                                                 \
    }

static const param_spec_t params[] = {
    STR_PARAM("product_id", RP_PRODUCT_ID, PK_ID, product_id, 1),
    STR_PARAM("supplier_id", RP_SUPPLIER_ID, PK_ID, supplier_id, 1),
    STR_PARAM("q", RP_Q, PK_TEXT, q, 1),
    STR_PARAM("cursor", RP_CURSOR, PK_TEXT, cursor, 0),
    STR_PARAM("correlation_id", RP_CORRELATION_ID, PK_ID, correlation_id, 1),
    VAL_PARAM("limit", RP_LIMIT, PK_INT, limit),
    VAL_PARAM("min_position", RP_MIN_POSITION, PK_INT, min_position),
    VAL_PARAM("wait_ms", RP_WAIT_MS, PK_INT, wait_ms),
    VAL_PARAM("in_stock", RP_IN_STOCK, PK_BOOL, in_stock),
    VAL_PARAM("include_discontinued", RP_INCLUDE_DISCONTINUED, PK_BOOL, include_discontinued),
};
#define N_PARAMS (sizeof params / sizeof params[0])

static int
req_fail(request_error_t *err, const char *code, const char *field, const char *fmt, ...)
{
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static const param_spec_t *
req_param(const char *key, size_t len)
{
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strlen(params[i].name) == len && memcmp(params[i].name, key, len) == 0)
            return &params[i];
    return NULL;
}

/* Stores a string parameter after checking its rules. */
static int
req_set_str(request_t *req, const param_spec_t *p, mpread_t *v, request_error_t *err)
{
    const char *s;
    size_t n;
    if (mpread_str(v, &s, &n) != 0)
        return req_fail(err, "malformed", NULL, "%s must be a string", p->name);
    if (p->kind == PK_ID && !message_id_valid(s, n))
        return req_fail(err, "validation", p->name, "must be 1..64 bytes of [A-Za-z0-9_.:-]");
    if (n < p->min_len || n >= p->cap)
        return req_fail(err, "validation", p->name, "must be %zu..%zu bytes", p->min_len,
                        p->cap - 1);
    if (!utf8_valid(s, n))
        return req_fail(err, "validation", p->name, "invalid UTF-8");
    char *dst = (char *)req + p->offset;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Stores an int or bool parameter after checking its rules. */
static int
req_set_value(request_t *req, const param_spec_t *p, mpread_t *v, request_error_t *err)
{
    if (p->kind == PK_BOOL) {
        if (mpread_bool(v, (bool *)((char *)req + p->offset)) != 0)
            return req_fail(err, "malformed", NULL, "%s must be a boolean", p->name);
        return 0;
    }
    int64_t x;
    if (mpread_int(v, &x) != 0)
        return req_fail(err, "malformed", NULL, "%s must be an integer", p->name);
    if (p->bit == RP_LIMIT && (x < 1 || x > REQUEST_LIMIT_MAX))
        return req_fail(err, "validation", p->name, "must be 1..%d", REQUEST_LIMIT_MAX);
    if (x < 0)
        return req_fail(err, "validation", p->name, "must be >= 0");
    if (p->bit == RP_WAIT_MS && x > REQUEST_WAIT_MAX_MS)
        x = REQUEST_WAIT_MAX_MS;
    *(int64_t *)((char *)req + p->offset) = x;
    return 0;
}

/* The type decides which keys are accepted. */
static int
req_type(const char *s, size_t n, request_t *req, uint32_t *allowed, uint32_t *required,
         request_error_t *err)
{
    if (n > REQUEST_TYPE_MAX || queries_params_n(s, n, allowed, required) != 0)
        return req_fail(err, "malformed", NULL, "unknown request type");
    memcpy(req->type, s, n);
    req->type[n] = '\0';
    return 0;
}

/* Applies the next key/value pair of the request map at m. */
static int
req_field(request_t *req, mpread_t *m, uint32_t allowed, request_error_t *err)
{
    const char *k;
    size_t klen;
    mpread_t v;
    if (mpread_str(m, &k, &klen) != 0)
        return req_fail(err, "malformed", NULL, "keys must be strings");
    v = *m;
    if (mpread_skip(m) != 0)
        return req_fail(err, "malformed", NULL, "keys must be strings");
    if (klen == 4 && memcmp(k, "type", 4) == 0)
        return 0;
    const param_spec_t *p = req_param(k, klen);
    if (!p || !(p->bit & (allowed | RP_COMMON))) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(klen < 31 ? klen : 31), k);
        if (!utf8_valid(name, strlen(name)))
            snprintf(name, sizeof name, "?");
        return req_fail(err, "validation", name, "is not a parameter of %s", req->type);
    }
    if (req->present & p->bit)
        return req_fail(err, "malformed", NULL, "duplicate key %s", p->name);
    if (mpread_nil(&v))
        return 0; /* nil means absent */
    int rc = (p->kind == PK_ID || p->kind == PK_TEXT) ? req_set_str(req, p, &v, err)
                                                      : req_set_value(req, p, &v, err);
    if (rc == 0)
        req->present |= p->bit;
    return rc;
}

static int
req_required(const request_t *req, uint32_t required, request_error_t *err)
{
    for (size_t i = 0; i < N_PARAMS; i++)
        if ((required & params[i].bit) && !(req->present & params[i].bit))
            return req_fail(err, "validation", params[i].name, "is required");
    return 0;
}

/* The query ROUTER's envelope (docs/protocol.md, sections 2 and 8). */
const rpc_proto_t request_proto = {
    .not_map = "request must be a map",
    .bad_frames = "a request is one body frame after the envelope",
    .too_large = "request larger than %d bytes",
    .unknown = "unknown request type",
    .log_refused = "bad request (malformed): %s",
    .log_dropped = "reply dropped: %s",
};

static void
req_clear(request_t *req)
{
    memset(req, 0, sizeof *req);
    req->limit = REQUEST_LIMIT_DEFAULT;
}

/* The parameters of the decoded map rq->map, after its type. */
static int
req_decode(const rpc_request_t *rq, request_t *req, request_error_t *err)
{
    uint32_t allowed = 0, required = 0, n = 0;
    if (req_type(rq->type, rq->type_len, req, &allowed, &required, err) != 0)
        return -1;
    mpread_t m = rq->map;
    if (mpread_map(&m, &n) != 0)
        return req_fail(err, "malformed", NULL, "request must be a map");
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = req_field(req, &m, allowed, err);
    return rc == 0 ? req_required(req, required, err) : rc;
}

int
request_decode(const rpc_request_t *rq, request_t *req, request_error_t *err)
{
    req_clear(req);
    return req_decode(rq, req, err);
}

int
request_parse(const void *buf, size_t len, request_t *req, request_error_t *err)
{
    req_clear(req);
    rpc_request_t rq = {.body = buf, .len = len};
    char why[sizeof err->message];
    return rpc_decode(&request_proto, &rq, why, sizeof why) == 0
               ? req_decode(&rq, req, err)
               : req_fail(err, "malformed", NULL, "%s", why);
}

void
request_pack_error(codec_writer_t *w, const request_error_t *err)
{
    bool has_field = err->field[0] != '\0';
    char message[sizeof err->field + sizeof err->message + 2];
    snprintf(message, sizeof message, "%s%s%s", err->field, has_field ? " " : "", err->message);
    field_errors_t fields = {.count = 0};
    if (has_field)
        field_errors_add(&fields, err->field, err->message);
    codec_pack_error(w, &(codec_error_t){.code = err->code,
                                         .message = message,
                                         .fields = has_field ? &fields : NULL});
}
