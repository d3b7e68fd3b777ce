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
    const rpc_request_t *req; /* the request, its keys indexed (catchup_keys) */
    codec_writer_t *w;        /* the reply */
} catchup_ctx_t;

/* Errors have no fields here (docs/protocol.md, section 7). */
static void
reply_error(codec_writer_t *w, const char *code, const char *message)
{
    codec_writer_reset(w);
    codec_pack_error(w, &(codec_error_t){.code = code, .message = message});
}

/* The context of catchup_serve (arg) with the request being answered. */
/* A standby sends the catch-up requests to the active relay: true when
 * this one was answered so. */
static bool
catchup_redirected(catchup_ctx_t *c)
{
    if (!c->stats->leader)
        return false;
    char msg[320];
    codec_not_leader_message(msg, sizeof msg, "outbox relay", c->stats->leader);
    codec_writer_reset(c->w);
    codec_pack_error(c->w, &(codec_error_t){.code = reject_code_name(REJ_NOT_LEADER),
                                            .message = msg,
                                            .leader = c->stats->leader});
    return true;
}

static catchup_ctx_t *
catchup_ctx(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = arg;
    c->req = req;
    c->w = req->w;
    return c;
}

/* The request keys of every type, indexed once by the dispatcher; unknown
 * keys are ignored, a key given twice is malformed. */
enum {
    CQ_TYPE,
    CQ_AFTER,
    CQ_LIMIT,
    CQ_STREAM,
    CQ_AFTER_VERSION,
    CQ_PRODUCT_ID,
    CQ_POSITION,
    CQ_TIME_US,
    CQ_BACKWARDS,
    CQ_CURSOR,
    CQ__COUNT
};
_Static_assert(CQ__COUNT <= RPC_KEYS_MAX, "the dispatcher indexes at most RPC_KEYS_MAX keys");
static const codec_key_t catchup_keys[CQ__COUNT] = {
    CODEC_KEY("type"),     CODEC_KEY("after"),         CODEC_KEY("limit"),
    CODEC_KEY("stream"),   CODEC_KEY("after_version"), CODEC_KEY("product_id"),
    CODEC_KEY("position"), CODEC_KEY("time_us"),       CODEC_KEY("backwards"),
    CODEC_KEY("cursor")};

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
opt_int(const rpc_request_t *req, int k, int64_t *out)
{
    mpread_t v = req->vals[k];
    if (!(req->found & (1u << k)) || mpread_nil(&v))
        return 0;
    return mpread_int(&v, out);
}

/* Copies a required string parameter (no NUL, UTF-8: mpread_str_copy).  0 or -1. */
static int
req_str(const rpc_request_t *req, int k, char *buf, size_t cap)
{
    mpread_t v = req->vals[k];
    return (req->found & (1u << k)) ? mpread_str_copy(&v, buf, cap) : -1;
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
    if (catchup_redirected(c))
        return RPC_REPLY;
    if (opt_int(c->req, CQ_AFTER, &after) || opt_int(c->req, CQ_LIMIT, &limit) || after < 0) {
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
        int64_t damaged =
            c->stats->damaged_at ? c->stats->damaged_at : eventstore_damaged_at(c->es);
        codec_map_open(c->w);
        codec_map_bool(c->w, "ok", true);
        codec_map_int(c->w, "after", after);
        codec_map_int(c->w, "head", head);
        if (damaged > 0) /* nothing from it on is served (docs/protocol.md) */
            codec_map_int(c->w, "damaged_at", damaged);
        codec_map_key(c->w, "events");
        msgpack_pack_array(&c->w->pk, l.count);
        codec_pack_raw(&c->w->pk, l.items.buf.data, l.items.buf.size);
        codec_map_close(c->w);
    }
    codec_writer_fini(&l.items);
    return RPC_REPLY;
}

/* ---- ReadStream ----------------------------------------------------------- */

/* One page of a stream: the events packed one after another, where each
 * begins (to send them newest first), the versions wanted (lo, hi]. */
typedef struct {
    raw_list_t list;
    int64_t limit;                   /* at most this many, 1..CATCHUP_PAGE_MAX */
    int64_t hi;                      /* versions above are not collected */
    size_t at[CATCHUP_PAGE_MAX + 1]; /* offset of each event in list.items */
    int64_t first, last;             /* versions of the first and last collected */
} stream_list_t;

static int
collect_event(const event_t *ev, void *arg)
{
    stream_list_t *l = arg;
    if (ev->env.version > l->hi || (int64_t)l->list.count >= l->limit)
        return 1;
    l->at[l->list.count] = l->list.items.buf.size;
    codec_pack_event(&l->list.items, ev);
    if (l->list.count++ == 0)
        l->first = ev->env.version;
    l->last = ev->env.version;
    return 0;
}

static bool
stream_name_valid(const char *stream)
{
    agg_kind_t kind;
    return aggregate_stream_kind(stream, &kind);
}

/* A page's parameters: the cursor ("v<version>", the last version a page
 * held) wins over after_version; backwards pages read below it. */
typedef struct {
    char stream[STREAM_MAX + 1];
    int64_t after, limit;
    bool backwards, has_cursor;
    int64_t cursor;
} stream_page_t;

static int
stream_page_parse(const rpc_request_t *req, stream_page_t *p, const char **why)
{
    char cursor[32];
    mpread_t v = req->vals[CQ_BACKWARDS];
    *p = (stream_page_t){.limit = CATCHUP_PAGE_MAX};
    *why = "stream must be a string of at most 73 bytes";
    if (req_str(req, CQ_STREAM, p->stream, sizeof p->stream) != 0 ||
        opt_int(req, CQ_AFTER_VERSION, &p->after) || opt_int(req, CQ_LIMIT, &p->limit))
        return -1;
    *why = "backwards must be a boolean, cursor a next_cursor of ReadStream";
    if ((req->found & (1u << CQ_BACKWARDS)) && !mpread_nil(&v) && mpread_bool(&v, &p->backwards))
        return -1;
    v = req->vals[CQ_CURSOR];
    if ((req->found & (1u << CQ_CURSOR)) && !mpread_nil(&v)) {
        char *end;
        if (mpread_str_copy(&v, cursor, sizeof cursor) != 0 || cursor[0] != 'v' ||
            cursor[1] < '0' || cursor[1] > '9')
            return -1;
        p->cursor = strtoll(cursor + 1, &end, 10);
        if (*end || p->cursor < 0 || p->cursor == INT64_MAX)
            return -1;
        p->has_cursor = true;
    }
    if (p->limit < 1 || p->limit > CATCHUP_PAGE_MAX)
        p->limit = CATCHUP_PAGE_MAX;
    return 0;
}

/* Reads the page into l: versions (after, after + limit], or backwards the
 * limit versions below the cursor (below the stream's version + 1 at first). */
static int
stream_page_read(catchup_ctx_t *c, const stream_page_t *p, int64_t version, stream_list_t *l)
{
    int64_t after = p->has_cursor ? p->cursor : p->after;
    l->hi = INT64_MAX;
    l->limit = p->limit;
    if (p->backwards) {
        l->hi = (p->has_cursor ? p->cursor : version + 1) - 1;
        after = l->hi - p->limit > p->after ? l->hi - p->limit : p->after;
    }
    int64_t through = catchup_servable(c->stats); /* 0 would mean no bound */
    if (through <= 0 || after >= l->hi)
        return ERR_OK;
    int rc = eventstore_load_stream(c->es, p->stream, after, through, collect_event, l);
    if (rc > 0) /* collect_event stopped it: the page is full */
        rc = ERR_OK;
    return rc;
}

/* {ok, stream, version, events, next_cursor}: events newest first when
 * backwards; next_cursor nil once the page reached the stream's end. */
static void
stream_page_reply(codec_writer_t *w, const stream_page_t *p, int64_t version, stream_list_t *l)
{
    uint32_t n = l->list.count;
    int64_t edge = p->backwards ? l->first : l->last;
    bool more = n > 0 && (p->backwards ? edge - 1 > p->after : edge < version); /* edge >= 1 */
    l->at[n] = l->list.items.buf.size;
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_str(w, "stream", p->stream);
    codec_map_int(w, "version", version);
    codec_map_key(w, "events");
    msgpack_pack_array(&w->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = p->backwards ? n - 1 - i : i;
        codec_pack_raw(&w->pk, l->list.items.buf.data + l->at[k], l->at[k + 1] - l->at[k]);
    }
    codec_map_key(w, "next_cursor");
    if (more) {
        char cursor[32];
        snprintf(cursor, sizeof cursor, "v%lld", (long long)edge);
        msgpack_pack_str_with_body(&w->pk, cursor, strlen(cursor));
    } else {
        msgpack_pack_nil(&w->pk);
    }
    codec_map_close(w);
}

static int
read_stream(void *arg, rpc_request_t *req)
{
    catchup_ctx_t *c = catchup_ctx(arg, req);
    stream_page_t p;
    const char *why;
    if (catchup_redirected(c))
        return RPC_REPLY;
    if (stream_page_parse(c->req, &p, &why) != 0) {
        reply_error(c->w, "malformed", why);
        return RPC_REPLY;
    }
    if (!stream_name_valid(p.stream)) {
        reply_error(c->w, "validation", "stream must be product-<id> or supplier-<id>");
        return RPC_REPLY;
    }
    stream_list_t *l = calloc(1, sizeof *l);
    int64_t version = 0;
    int rc = l ? eventstore_stream_version(c->es, p.stream, &version) : ERR_IO;
    if (l)
        codec_writer_init(&l->list.items);
    if (rc == ERR_OK)
        rc = stream_page_read(c, &p, version, l);
    if (rc < 0)
        reply_read_error(c->w, c->es, rc);
    else
        stream_page_reply(c->w, &p, version, l);
    if (l)
        codec_writer_fini(&l->list.items);
    free(l);
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
    if (catchup_redirected(c))
        return RPC_REPLY;
    if (req_str(c->req, CQ_PRODUCT_ID, id, sizeof id) != 0 || !message_id_valid(id, strlen(id)) ||
        opt_int(c->req, CQ_POSITION, &position) || opt_int(c->req, CQ_TIME_US, &time_us)) {
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
        codec_map_open(c->w);
        codec_map_bool(c->w, "ok", true);
        codec_map_int(c->w, "position", position);
        codec_map_key(c->w, "product");
        aggstore_pack_product(c->w, p);
        codec_map_close(c->w);
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
    codec_map_open(c->w);
    codec_map_bool(c->w, "ok", rc == ERR_OK);
    codec_map_str(c->w, "service", "relay");
    codec_map_str(c->w, "role", c->stats->role ? c->stats->role : "single");
    codec_map_int(c->w, "head", head);
    codec_map_int(c->w, "checkpoint", c->stats->published_through);
    codec_map_int(c->w, "lag_events", head - c->stats->published_through);
    codec_map_int(c->w, "outbox_backlog", backlog);
    codec_map_int(c->w, "unpublished",
                  head > c->stats->published_through ? head - c->stats->published_through : 0);
    codec_map_int(c->w, "published", c->stats->published);
    codec_map_int(c->w, "heartbeats", c->stats->heartbeats);
    codec_map_int(c->w, "durable", c->stats->durable_through);
    codec_map_int(c->w, "self_syncs", c->stats->self_syncs);
    codec_map_int(c->w, "wal_frames", c->stats->wal.frames);
    codec_map_int(c->w, "wal_backfilled", c->stats->wal.backfilled);
    codec_map_int(c->w, "chain_verified_through", c->stats->chain_through);
    codec_map_int(c->w, "store_damaged_at", c->stats->damaged_at);
    codec_map_close(c->w);
    return RPC_REPLY;
}

/* ---- dispatch ------------------------------------------------------------- */

/* Flat maps with unknown keys ignored; errors without fields (section 7). */
static const rpc_proto_t catchup_proto = {
    .keys = catchup_keys,
    .nkeys = CQ__COUNT,
    .type_max = 31,
    .bad_frames = "empty message", /* what decoding the missing body says */
    .too_large = "message exceeds 64 KiB",
    .unknown = "unknown request type",
    .log_dropped = "catch-up reply dropped: %s",
};
static const rpc_route_t catchup_routes[] = {
    {.type = "ReadEvents", .handle = read_events, .roles = ROLES_FEED},
    {.type = "ReadStream", .handle = read_stream, .roles = ROLES_READ},
    {.type = "ProductAsOf", .handle = product_as_of, .roles = ROLES_READ},
    {.type = "Status", .handle = status, .roles = ROLES_STATUS},
    {.type = "ReloadKeys", .handle = rpc_on_reload_keys, .roles = ROLES_OPERATE},
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
