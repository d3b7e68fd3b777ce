/* catchup: see catchup.h.  Request types dispatch through a table. */
#include "catchup.h"

#include "aggstore.h"
#include "product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eventstore_t *es;
    const catchup_relay_stats_t *stats;
    const msgpack_object *req;
    codec_writer_t *w;
} catchup_ctx_t;

static void
reply_error(codec_writer_t *w, const char *code, const char *message)
{
    codec_writer_reset(w);
    msgpack_pack_map(&w->pk, 3);
    codec_pack_kv_bool(&w->pk, "ok", false);
    codec_pack_kv_str(&w->pk, "error", code);
    codec_pack_kv_str(&w->pk, "message", message);
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

static void
read_events(catchup_ctx_t *c)
{
    int64_t after = 0, limit = CATCHUP_PAGE_MAX, head = 0;
    if (opt_int(c->req, "after", &after) || opt_int(c->req, "limit", &limit) || after < 0) {
        reply_error(c->w, "malformed", "after and limit must be integers, after >= 0");
        return;
    }
    if (limit < 1 || limit > CATCHUP_PAGE_MAX)
        limit = CATCHUP_PAGE_MAX;
    raw_list_t l = {.count = 0};
    codec_writer_init(&l.items);
    int64_t through = c->stats->durable_through; /* nothing above it is served */
    int rc = eventstore_head(c->es, &head, NULL);
    if (rc == ES_OK)
        rc = eventstore_read_raw(c->es, after, through, (int)limit, collect_raw, &l);
    if (head > through)
        head = through;
    if (rc != ES_OK) {
        reply_error(c->w, "unavailable", "the event store could not be read");
    } else {
        msgpack_pack_map(&c->w->pk, 4);
        codec_pack_kv_bool(&c->w->pk, "ok", true);
        codec_pack_kv_int(&c->w->pk, "after", after);
        codec_pack_kv_int(&c->w->pk, "head", head);
        codec_pack_cstr(&c->w->pk, "events");
        msgpack_pack_array(&c->w->pk, l.count);
        codec_pack_raw(&c->w->pk, l.items.buf.data, l.items.buf.size);
    }
    codec_writer_fini(&l.items);
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
    static const char *const prefixes[] = {"product-", "supplier-"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(stream, prefixes[i], n) == 0)
            return message_id_valid(stream + n, strlen(stream + n));
    }
    return false;
}

static void
read_stream(catchup_ctx_t *c)
{
    char stream[STREAM_MAX + 1];
    int64_t after = 0, limit = CATCHUP_PAGE_MAX;
    const msgpack_object *v = codec_map_get(c->req, "stream");
    if (!v || codec_copy_str(v, stream, sizeof stream) != 0 ||
        opt_int(c->req, "after_version", &after) || opt_int(c->req, "limit", &limit)) {
        reply_error(c->w, "malformed", "stream must be a string of at most 73 bytes");
        return;
    }
    if (!stream_name_valid(stream)) {
        reply_error(c->w, "validation", "stream must be product-<id> or supplier-<id>");
        return;
    }
    if (limit < 1 || limit > CATCHUP_PAGE_MAX)
        limit = CATCHUP_PAGE_MAX;
    stream_list_t l = {.list.count = 0, .limit = limit};
    codec_writer_init(&l.list.items);
    int64_t through = c->stats->durable_through; /* 0 would mean no bound */
    int rc = through > 0 ? eventstore_load_stream(c->es, stream, after, through, collect_event, &l)
                         : ES_OK;
    if (rc < 0) {
        reply_error(c->w, "unavailable", "the event store could not be read");
    } else {
        msgpack_pack_map(&c->w->pk, 3);
        codec_pack_kv_bool(&c->w->pk, "ok", true);
        codec_pack_kv_str(&c->w->pk, "stream", stream);
        codec_pack_cstr(&c->w->pk, "events");
        msgpack_pack_array(&c->w->pk, l.list.count);
        codec_pack_raw(&c->w->pk, l.list.items.buf.data, l.list.items.buf.size);
    }
    codec_writer_fini(&l.list.items);
}

/* ---- ProductAsOf ---------------------------------------------------------- */

static int
fold_product(const event_t *ev, void *arg)
{
    product_apply(arg, ev);
    return 0;
}

static void
product_as_of(catchup_ctx_t *c)
{
    char id[ID_MAX + 1], stream[STREAM_MAX + 1];
    int64_t position = 0, time_us = 0;
    const msgpack_object *v = codec_map_get(c->req, "product_id");
    if (!v || codec_copy_str(v, id, sizeof id) != 0 || !message_id_valid(id, strlen(id)) ||
        opt_int(c->req, "position", &position) || opt_int(c->req, "time_us", &time_us)) {
        reply_error(c->w, "malformed", "product_id must be an id; position and time_us integers");
        return;
    }
    int rc = ES_OK;
    if (position <= 0 && time_us > 0) {
        rc = eventstore_position_at(c->es, time_us, &position);
        if (rc == ES_OK && position == 0) {
            reply_error(c->w, "not_found", "nothing was recorded at or before that time");
            return;
        }
    }
    if (position <= 0 || position > c->stats->durable_through)
        position = c->stats->durable_through;
    if (rc == ES_OK && position <= 0) { /* 0 would mean no bound */
        reply_error(c->w, "not_found", "nothing durable was recorded yet");
        return;
    }
    product_t *p = calloc(1, sizeof *p);
    snprintf(stream, sizeof stream, "product-%s", id);
    if (rc == ES_OK && p)
        rc = eventstore_load_stream(c->es, stream, 0, position, fold_product, p);
    if (rc != ES_OK || !p)
        reply_error(c->w, "unavailable", "the event store could not be read");
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
}

/* ---- Status --------------------------------------------------------------- */

static void
status(catchup_ctx_t *c)
{
    int64_t head = 0, backlog = 0;
    int rc = eventstore_head(c->es, &head, NULL);
    if (rc == ES_OK)
        rc = eventstore_outbox_backlog(c->es, &backlog);
    msgpack_pack_map(&c->w->pk, 12);
    codec_pack_kv_bool(&c->w->pk, "ok", rc == ES_OK);
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
}

static const struct {
    const char *type;
    void (*fn)(catchup_ctx_t *c);
} handlers[] = {
    {"ReadEvents", read_events},
    {"ReadStream", read_stream},
    {"ProductAsOf", product_as_of},
    {"Status", status},
};

void
catchup_handle(eventstore_t *es, const catchup_relay_stats_t *stats, const void *body, size_t len,
               codec_writer_t *w)
{
    codec_writer_reset(w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    char type[32];
    const msgpack_object *t;
    if (len > CODEC_MAX_MESSAGE)
        reply_error(w, "malformed", "message exceeds 64 KiB");
    else if (codec_parse(body, len, &u, &why) != 0)
        reply_error(w, "malformed", why);
    else if (!(t = codec_map_get(&u.data, "type")) || codec_copy_str(t, type, sizeof type) != 0)
        reply_error(w, "malformed", "type must be a string");
    else {
        catchup_ctx_t c = {es, stats, &u.data, w};
        size_t i = 0;
        while (i < sizeof handlers / sizeof handlers[0] && strcmp(handlers[i].type, type) != 0)
            i++;
        if (i < sizeof handlers / sizeof handlers[0])
            handlers[i].fn(&c);
        else
            reply_error(w, "malformed", "unknown request type");
    }
    msgpack_unpacked_destroy(&u);
}
