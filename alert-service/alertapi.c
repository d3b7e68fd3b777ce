/* alertapi: see alertapi.h.  One table lists ListAlerts' parameters with
 * their msgpack type and a setter that checks the value. */
#include "alertapi.h"

#include "alerts.h"
#include "modeldb.h"
#include "params.h"
#include "sqlitedb.h"
#include "rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A decoded ListAlerts: the query plus storage for its string. */
typedef struct {
    alerts_query_t q;
    char product_id[ID_MAX + 1];
} list_req_t;

/* ---- parameter setters --------------------------------------------------- */

static const char *
set_product(void *target, mpread_t *v)
{
    list_req_t *r = target;
    const char *s;
    size_t n;
    params_str(v, &s, &n);
    if (!message_id_valid(s, n))
        return "must be 1..64 bytes of [A-Za-z0-9_.:-]";
    memcpy(r->product_id, s, n);
    r->product_id[n] = '\0';
    r->q.product_id = r->product_id;
    return NULL;
}

static const char *
set_limit(void *target, mpread_t *v)
{
    return params_limit(v, ALERTS_LIMIT_MAX, &((list_req_t *)target)->q.limit);
}

static const char *
set_cursor(void *target, mpread_t *v)
{
    return params_cursor(v, &((list_req_t *)target)->q.after);
}

static const param_t list_params[] = {
    {.name = "type", .kind = PARAM_STR, .set = NULL},
    {.name = "product_id", .kind = PARAM_STR, .set = set_product},
    {.name = "limit", .kind = PARAM_INT, .set = set_limit},
    {.name = "cursor", .kind = PARAM_STR, .set = set_cursor},
};
#define N_LIST_PARAMS (sizeof list_params / sizeof list_params[0])

/* ---- ListAlerts ---------------------------------------------------------- */

static void
pack_alert(void *arg, const alertmsg_t *a)
{
    params_page_t *pg = arg;
    alertmsg_pack(&pg->items, a);
    params_page_added(pg, a->position);
}

/* Why a read failed, for the reply: a damaged file (SQLITE_CORRUPT,
 * SQLITE_NOTADB) is reported to the subscriber runtime of this daemon
 * (modeldb_report_damage), which replaces the model by a rebuild within a
 * second (issue 23 item 10). */
static const char *
read_failure(sqlite3 *db)
{
    if (!sqlitedb_damage_code(sqlite3_extended_errcode(db)))
        return "the alerts database could not be read";
    modeldb_report_damage(db);
    return "the alerts database is damaged: it is being rebuilt from the event log";
}

/* Runs the query and packs {ok, position, items, next_cursor}. */
static void
list_reply(alerts_t *model, const alerts_query_t *q, codec_writer_t *w)
{
    params_page_t pg;
    params_page_init(&pg);
    int64_t checkpoint = 0;
    bool more = false;
    bool ok = alerts_checkpoint(model, &checkpoint) == 0 &&
              alerts_list(model, q, pack_alert, &pg, &more) >= 0;
    params_reply_page(w, ok, checkpoint, &pg, more, ok ? NULL : read_failure(alerts_ops.db(model)));
    params_page_fini(&pg);
}

static int
list_alerts(void *arg, rpc_request_t *rq)
{
    alerts_t *model = arg;
    const mpread_t *req = &rq->map;
    codec_writer_t *w = rq->w;
    list_req_t r;
    memset(&r, 0, sizeof r);
    r.q.limit = ALERTS_LIMIT_DEFAULT;
    field_errors_t errs = {.count = 0};
    const char *why = NULL;
    char why_buf[96];
    if (params_parse(req, list_params, N_LIST_PARAMS, &r, &errs, &why, why_buf, sizeof why_buf) !=
        0)
        params_reply_error(w, "malformed", why, NULL);
    else if (errs.count > 0)
        params_reply_error(w, "validation", "invalid ListAlerts parameters", &errs);
    else
        list_reply(model, &r.q, w);
    return RPC_REPLY;
}

/* ---- dispatch ------------------------------------------------------------ */

static const rpc_route_t routes[] = {
    {.type = "ListAlerts", .handle = list_alerts},
};

int
alertapi_handle(void *arg, const char *type, const mpread_t *req, codec_writer_t *w)
{
    alerts_t *model = *(alerts_t **)arg;
    size_t len = strlen(type);
    const rpc_route_t *r = rpc_route_find(routes, sizeof routes / sizeof routes[0], type, len);
    if (!r)
        return -1;
    if (!model) {
        params_reply_error(w, "unavailable", "the alerts model is being swapped", NULL);
        return 0;
    }
    rpc_request_t rq = {.type = type, .type_len = len, .map = *req, .w = w};
    return r->handle(model, &rq) == RPC_REPLY ? 0 : -1;
}
