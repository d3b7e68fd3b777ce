/* auditapi: see auditapi.h.  One table per request type lists its
 * parameters with their msgpack type and a setter that checks the value. */
#include "auditapi.h"

#include "auditlog.h"
#include "modeldb.h"
#include "params.h"
#include "sqlitedb.h"
#include "rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A decoded SearchAudit: the query plus storage for its strings. */
typedef struct {
    auditlog_query_t q;
    char stream[STREAM_MAX + 1];
    char correlation_id[ID_MAX + 1];
} search_req_t;

/* ---- parameter setters --------------------------------------------------- */

static const char *
set_text(mpread_t *v, char *buf, size_t cap, const char *size_rule)
{
    const char *s;
    size_t n;
    params_str(v, &s, &n);
    if (n == 0 || n >= cap)
        return size_rule;
    if (!utf8_valid(s, n))
        return "must be valid UTF-8 without NUL";
    memcpy(buf, s, n);
    buf[n] = '\0';
    return NULL;
}

static const char *
set_stream(void *target, mpread_t *v)
{
    search_req_t *r = target;
    const char *msg = set_text(v, r->stream, sizeof r->stream, "must be 1..73 bytes");
    r->q.stream = msg ? NULL : r->stream;
    return msg;
}

static const char *
set_corr(void *target, mpread_t *v)
{
    search_req_t *r = target;
    const char *msg =
        set_text(v, r->correlation_id, sizeof r->correlation_id, "must be 1..64 bytes");
    r->q.correlation_id = msg ? NULL : r->correlation_id;
    return msg;
}

static const char *
get_time(mpread_t *v, int64_t *out)
{
    if (mpread_int(v, out) != 0 || *out < 0)
        return "must be microseconds since the epoch, 0..2^63-1";
    return NULL;
}

static const char *
set_from(void *target, mpread_t *v)
{
    search_req_t *r = target;
    r->q.has_from = true;
    return get_time(v, &r->q.from_us);
}

static const char *
set_to(void *target, mpread_t *v)
{
    search_req_t *r = target;
    r->q.has_to = true;
    return get_time(v, &r->q.to_us);
}

static const char *
set_limit(void *target, mpread_t *v)
{
    return params_limit(v, AUDITLOG_LIMIT_MAX, &((search_req_t *)target)->q.limit);
}

static const char *
set_cursor(void *target, mpread_t *v)
{
    return params_cursor(v, &((search_req_t *)target)->q.after);
}

static const param_t search_params[] = {
    {.name = "type", .kind = PARAM_STR, .set = NULL},
    {.name = "stream", .kind = PARAM_STR, .set = set_stream},
    {.name = "correlation_id", .kind = PARAM_STR, .set = set_corr},
    {.name = "from_us", .kind = PARAM_INT, .set = set_from},
    {.name = "to_us", .kind = PARAM_INT, .set = set_to},
    {.name = "limit", .kind = PARAM_INT, .set = set_limit},
    {.name = "cursor", .kind = PARAM_STR, .set = set_cursor},
};
#define N_SEARCH_PARAMS (sizeof search_params / sizeof search_params[0])

/* ---- parsing ------------------------------------------------------------- */

/* Decodes req into r (params_parse), then checks the time range. */
static int
search_parse(const mpread_t *req, search_req_t *r, field_errors_t *errs, const char **why,
             char *why_buf, size_t why_cap)
{
    if (params_parse(req, search_params, N_SEARCH_PARAMS, r, errs, why, why_buf, why_cap) != 0)
        return -1;
    if (r->q.has_from && r->q.has_to && errs->count == 0 && r->q.from_us > r->q.to_us)
        field_errors_add(errs, "to_us", "must not be before from_us");
    return 0;
}

/* ---- SearchAudit --------------------------------------------------------- */

static void
pack_row(void *arg, const auditlog_row_t *row)
{
    params_page_t *pg = arg;
    codec_writer_t *w = &pg->items;
    codec_map_open(w);
    codec_map_int(w, "position", row->position);
    codec_map_int(w, "recorded_at", row->recorded_at);
    codec_map_str(w, "stream", row->stream);
    codec_map_int(w, "version", row->version);
    codec_map_str(w, "type", row->type);
    codec_map_str(w, "correlation_id", row->correlation_id);
    codec_map_str(w, "command_id", row->command_id);
    codec_map_str(w, "change", row->change);
    codec_map_close(w);
    params_page_added(pg, row->position);
}

/* Why a read failed, for the reply: a damaged file (SQLITE_CORRUPT,
 * SQLITE_NOTADB) is reported to the subscriber runtime of this daemon
 * (modeldb_report_damage), which replaces the model by a rebuild within a
 * second (issue 23 item 10). */
static const char *
read_failure(sqlite3 *db)
{
    if (!sqlitedb_damage_code(sqlite3_extended_errcode(db)))
        return "the audit database could not be read";
    modeldb_report_damage(db);
    return "the audit database is damaged: it is being rebuilt from the event log";
}

/* Runs the search and packs {ok, position, items, next_cursor}. */
static void
search_reply(auditlog_t *log, const auditlog_query_t *q, codec_writer_t *w)
{
    params_page_t pg;
    params_page_init(&pg);
    int64_t checkpoint = 0;
    bool more = false;
    bool ok = auditlog_checkpoint(log, &checkpoint) == 0 &&
              auditlog_search(log, q, pack_row, &pg, &more) >= 0;
    params_reply_page(w, ok, checkpoint, &pg, more, ok ? NULL : read_failure(auditlog_ops.db(log)));
    params_page_fini(&pg);
}

static int
search_audit(void *arg, rpc_request_t *rq)
{
    auditlog_t *log = arg;
    const mpread_t *req = &rq->map;
    codec_writer_t *w = rq->w;
    search_req_t r;
    memset(&r, 0, sizeof r);
    r.q.limit = AUDITLOG_LIMIT_DEFAULT;
    field_errors_t errs = {.count = 0};
    const char *why = NULL;
    char why_buf[96];
    if (search_parse(req, &r, &errs, &why, why_buf, sizeof why_buf) != 0)
        params_reply_error(w, "malformed", why, NULL);
    else if (errs.count > 0)
        params_reply_error(w, "validation", "invalid SearchAudit parameters", &errs);
    else
        search_reply(log, &r.q, w);
    return RPC_REPLY;
}

/* ---- dispatch ------------------------------------------------------------ */

static const rpc_route_t routes[] = {
    {.type = "SearchAudit", .handle = search_audit},
};

int
auditapi_handle(void *arg, const char *type, const mpread_t *req, codec_writer_t *w)
{
    auditlog_t *log = *(auditlog_t **)arg;
    size_t len = strlen(type);
    const rpc_route_t *r = rpc_route_find(routes, sizeof routes / sizeof routes[0], type, len);
    if (!r)
        return -1;
    if (!log) {
        params_reply_error(w, "unavailable", "the audit model is being swapped", NULL);
        return 0;
    }
    rpc_request_t rq = {.type = type, .type_len = len, .map = *req, .w = w};
    return r->handle(log, &rq) == RPC_REPLY ? 0 : -1;
}
