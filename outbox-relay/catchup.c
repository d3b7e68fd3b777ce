/* catchup: see catchup.h.  Request types are routes of the dispatcher
 * (common/wire/rpc.h). */
#include "catchup.h"

#include "aggstore.h"
#include "product.h"
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a request is answered from, and with. */
typedef struct {
    eventstore_t *es;
    const catchup_relay_stats_t *stats;
    const msgpack_object *req; /* the request map */
    codec_writer_t *w;         /* the reply */
} catchup_ctx_t;

/* Errors have no fields here (docs/protocol.md, section 7). */
static void
reply_error(codec_writer_t *w, const char *code, const char *message)
{
    codec_writer_reset(w);
    codec_pack_error(w, &(codec_error_t){.code = code, .message = message});
}

/* The context of catchup_serve (arg) with the request being answered. */
static catchup_ctx_t *
catchup_ctx(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = arg;
    c->req = req->map;
    c->w = req->w;
    return c;
}

int64_t
catchup_servable(const catchup_relay_stats_t *stats)
{
    int64_t through = stats->durable_through;
    if (stats->damaged_at > 0 && through >= stats->damaged_at)
        through = stats->damaged_at - 1;
    return through;
}

/* The error of a read that failed: a damaged event names its position. */
static void
reply_read_error(codec_writer_t *w, eventstore_t *es, int rc)
{
    char msg[160];
    if (rc == ERR_CORRUPT && eventstore_damaged_at(es) > 0) {
        snprintf(msg, sizeof msg,
                 "the event store is damaged at position %lld (its hash chain breaks there);"
                 " nothing from it on is served",
                 (long long)eventstore_damaged_at(es));
        reply_error(w, "unavailable", msg);
    } else {
        reply_error(w, "unavailable", "the event store could not be read");
    }
}

/* Reads an optional int parameter: 0 ok (absent leaves *out), -1 wrong type. */
static int
opt_int(const msgpack_object *req, const char *key, int64_t *out)
{
    const msgpack_object *v = codec_map_get(req, key);
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 0;
    return codec_get_int(v, out);
}

/* ---- ReadEvents ----------------------------------------------------------- */

typedef struct {
    codec_writer_t items;
    uint32_t count;
} raw_list_t;

static int
collect_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    raw_list_t *l = arg;
    codec_pack_event_raw(&l->items, env, data, len);
    l->count++;
    return 0;
}

static int
read_events(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = catchup_ctx(arg, req);
    int64_t after = 0, limit = CATCHUP_PAGE_MAX, head = 0;
    if (opt_int(c->req, "after", &after) || opt_int(c->req, "limit", &limit) || after < 0) {
        reply_error(c->w, "malformed", "after and limit must be integers, after >= 0");
        return RPC_REPLY;
    }
    if (limit < 1 || limit > CATCHUP_PAGE_MAX)
        limit = CATCHUP_PAGE_MAX;
    raw_list_t l = {.count = 0};
    codec_writer_init(&l.items);
    int64_t through = catchup_servable(c->stats); /* nothing above it is served */
    int rc = eventstore_head(c->es, &head, NULL);
    if (rc == ERR_OK)
        rc = eventstore_read_raw(c->es, after, through, (int)limit, collect_raw, &l);
    if (rc == ERR_CORRUPT && eventstore_damaged_at(c->es) > after) {
        through = eventstore_damaged_at(c->es) - 1; /* what came before it is served */
        rc = ERR_OK;
    }
    if (head > through)
        head = through;
    if (rc != ERR_OK) {
        reply_read_error(c->w, c->es, rc);
    } else {
        int64_t damaged = c->stats->damaged_at ? c->stats->damaged_at : eventstore_damaged_at(c->es);
        msgpack_pack_map(&c->w->pk, damaged > 0 ? 5 : 4);
        codec_pack_kv_bool(&c->w->pk, "ok", true);
        codec_pack_kv_int(&c->w->pk, "after", after);
        codec_pack_kv_int(&c->w->pk, "head", head);
        if (damaged > 0) /* nothing from it on is served (docs/protocol.md) */
            codec_pack_kv_int(&c->w->pk, "damaged_at", damaged);
        codec_pack_cstr(&c->w->pk, "events");
        msgpack_pack_array(&c->w->pk, l.count);
        codec_pack_raw(&c->w->pk, l.items.buf.data, l.items.buf.size);
    }
    codec_writer_fini(&l.items);
    return RPC_REPLY;
}

/* ---- ReadStream ----------------------------------------------------------- */

typedef struct {
    raw_list_t list;
    int64_t limit;
} stream_list_t;

static int
collect_event(const event_t *ev, void *arg)
{
    stream_list_t *l = arg;
    if ((int64_t)l->list.count >= l->limit)
        return 1;
    codec_pack_event(&l->list.items, ev);
    l->list.count++;
    return 0;
}

static bool
stream_name_valid(const char *stream)
{
    agg_kind_t kind;
    return aggregate_stream_kind(stream, &kind);
}

static int
read_stream(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = catchup_ctx(arg, req);
    char stream[STREAM_MAX + 1];
    int64_t after = 0, limit = CATCHUP_PAGE_MAX;
    const msgpack_object *v = codec_map_get(c->req, "stream");
    if (!v || codec_copy_str(v, stream, sizeof stream) != 0 ||
        opt_int(c->req, "after_version", &after) || opt_int(c->req, "limit", &limit)) {
        reply_error(c->w, "malformed", "stream must be a string of at most 73 bytes");
        return RPC_REPLY;
    }
    if (!stream_name_valid(stream)) {
        reply_error(c->w, "validation", "stream must be product-<id> or supplier-<id>");
        return RPC_REPLY;
    }
    if (limit < 1 || limit > CATCHUP_PAGE_MAX)
        limit = CATCHUP_PAGE_MAX;
    stream_list_t l = {.list.count = 0, .limit = limit};
    codec_writer_init(&l.list.items);
    int64_t through = catchup_servable(c->stats); /* 0 would mean no bound */
    int rc = through > 0 ? eventstore_load_stream(c->es, stream, after, through, collect_event, &l)
                         : ERR_OK;
    if (rc < 0) {
        reply_read_error(c->w, c->es, rc);
    } else {
        msgpack_pack_map(&c->w->pk, 3);
        codec_pack_kv_bool(&c->w->pk, "ok", true);
        codec_pack_kv_str(&c->w->pk, "stream", stream);
        codec_pack_cstr(&c->w->pk, "events");
        msgpack_pack_array(&c->w->pk, l.list.count);
        codec_pack_raw(&c->w->pk, l.list.items.buf.data, l.list.items.buf.size);
    }
    codec_writer_fini(&l.list.items);
    return RPC_REPLY;
}

/* ---- ProductAsOf ---------------------------------------------------------- */

static int
fold_product(const event_t *ev, void *arg)
{
    product_apply(arg, ev);
    return 0;
}

static int
product_as_of(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = catchup_ctx(arg, req);
    char id[ID_MAX + 1], stream[STREAM_MAX + 1];
    int64_t position = 0, time_us = 0;
    const msgpack_object *v = codec_map_get(c->req, "product_id");
    if (!v || codec_copy_str(v, id, sizeof id) != 0 || !message_id_valid(id, strlen(id)) ||
        opt_int(c->req, "position", &position) || opt_int(c->req, "time_us", &time_us)) {
        reply_error(c->w, "malformed", "product_id must be an id; position and time_us integers");
        return RPC_REPLY;
    }
    int rc = ERR_OK;
    if (position <= 0 && time_us > 0) {
        rc = eventstore_position_at(c->es, time_us, &position);
        if (rc == ERR_OK && position == 0) {
            reply_error(c->w, "not_found", "nothing was recorded at or before that time");
            return RPC_REPLY;
        }
    }
    if (position <= 0 || position > catchup_servable(c->stats))
        position = catchup_servable(c->stats);
    if (rc == ERR_OK && position <= 0) { /* 0 would mean no bound */
        reply_error(c->w, "not_found", "nothing durable was recorded yet");
        return RPC_REPLY;
    }
    product_t *p = calloc(1, sizeof *p);
    aggregate_stream(AGG_PRODUCT, id, stream);
    if (rc == ERR_OK && p)
        rc = eventstore_load_stream(c->es, stream, 0, position, fold_product, p);
    if (rc != ERR_OK || !p)
        reply_read_error(c->w, c->es, p ? rc : ERR_IO);
    else if (!p->exists)
        reply_error(c->w, "not_found", "the product did not exist at that point");
    else {
        msgpack_pack_map(&c->w->pk, 3);
        codec_pack_kv_bool(&c->w->pk, "ok", true);
        codec_pack_kv_int(&c->w->pk, "position", position);
        codec_pack_cstr(&c->w->pk, "product");
        aggstore_pack_product(c->w, p);
    }
    free(p);
    return RPC_REPLY;
}

/* ---- Status --------------------------------------------------------------- */

static int
status(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = catchup_ctx(arg, req);
    int64_t head = 0, backlog = 0;
    int rc = eventstore_head(c->es, &head, NULL);
    if (rc == ERR_OK)
        rc = eventstore_outbox_backlog(c->es, &backlog);
    msgpack_pack_map(&c->w->pk, 14);
    codec_pack_kv_bool(&c->w->pk, "ok", rc == ERR_OK);
    codec_pack_kv_str(&c->w->pk, "service", "relay");
    codec_pack_kv_int(&c->w->pk, "head", head);
    codec_pack_kv_int(&c->w->pk, "checkpoint", c->stats->published_through);
    codec_pack_kv_int(&c->w->pk, "lag_events", head - c->stats->published_through);
    codec_pack_kv_int(&c->w->pk, "outbox_backlog", backlog);
    codec_pack_kv_int(&c->w->pk, "published", c->stats->published);
    codec_pack_kv_int(&c->w->pk, "heartbeats", c->stats->heartbeats);
    codec_pack_kv_int(&c->w->pk, "durable", c->stats->durable_through);
    codec_pack_kv_int(&c->w->pk, "self_syncs", c->stats->self_syncs);
    codec_pack_kv_int(&c->w->pk, "wal_frames", c->stats->wal.frames);
    codec_pack_kv_int(&c->w->pk, "wal_backfilled", c->stats->wal.backfilled);
    codec_pack_kv_int(&c->w->pk, "chain_verified_through", c->stats->chain_through);
    codec_pack_kv_int(&c->w->pk, "store_damaged_at", c->stats->damaged_at);
    return RPC_REPLY;
}

/* ---- dispatch ------------------------------------------------------------- */

/* Flat maps with unknown keys ignored; errors without fields (section 7). */
static const rpc_proto_t catchup_proto = {
    .type_max = 31,
    .bad_frames = "empty message", /* what decoding the missing body says */
    .too_large = "message exceeds 64 KiB",
    .unknown = "unknown request type",
    .log_dropped = "catch-up reply dropped: %s",
};
static const rpc_route_t catchup_routes[] = {
    {.type = "ReadEvents", .handle = read_events},
    {.type = "ReadStream", .handle = read_stream},
    {.type = "ProductAsOf", .handle = product_as_of},
    {.type = "Status", .handle = status},
};
static const rpc_endpoint_t catchup_endpoint = {&catchup_proto, catchup_routes,
                                                sizeof catchup_routes / sizeof catchup_routes[0]};

int
catchup_serve(void *router, eventstore_t *es, const catchup_relay_stats_t *stats, codec_writer_t *w)
{
    catchup_ctx_t c = {es, stats, NULL, NULL};
    return rpc_serve(&catchup_endpoint, router, &c, w);
}

int
catchup_handle(eventstore_t *es, const catchup_relay_stats_t *stats, rpc_request_t *req)
{
    catchup_ctx_t c = {es, stats, NULL, NULL};
    return rpc_handle(&catchup_endpoint, &c, req);
}
