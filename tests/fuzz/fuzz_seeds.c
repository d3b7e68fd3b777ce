/* fuzz_seeds: writes the seed corpora of tests/fuzz from the real encoders
 * and the real request handlers, so the seeds stay what the wire carries:
 *   fuzz_seeds OUT_DIR   ->   OUT_DIR/<harness>/<seed>
 * Requests are flat maps written from a one-line spec ("type=ReadEvents
 * after#0 limit#5": key=string, key#integer, key?true|false, key~ nil);
 * replies are what the relay's, the projector's, the query service's, the
 * audit and the alert handlers answer to those requests over the story's
 * events (fuzz.h).  tests/fuzz/run regenerates the corpora when this
 * program changes; the committed corpora are its output plus the crashes
 * kept as regression seeds (docs/testing.md). */
#include "alertapi.h"
#include "alertmsg.h"
#include "alerts.h"
#include "auditapi.h"
#include "auditlog.h"
#include "catchup.h"
#include "codec.h"
#include "dqproto.h"
#include "err.h"
#include "fuzz.h"
#include "queries.h"
#include "readmodel.h"
#include "request.h"
#include "subscriber.h"
#include "tunnel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static const char *out_dir;

static void
seed_write(const char *harness, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void
seed_writer(const char *harness, const char *name, const codec_writer_t *w)
{
    seed_write(harness, name, w->buf.data, w->buf.size);
}

/* Packs the flat map of spec into w (reset first). */
static void
seed_map(codec_writer_t *w, const char *spec)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    codec_writer_reset(w);
    codec_map_open(w);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strpbrk(tok, "=#?~");
        if (!eq)
            abort();
        char op = *eq;
        *eq = '\0';
        const char *v = eq + 1;
        if (op == '=')
            codec_map_str(w, tok, v);
        else if (op == '#')
            codec_map_int(w, tok, strtoll(v, NULL, 10));
        else if (op == '?')
            codec_map_bool(w, tok, strcmp(v, "true") == 0);
        else
            codec_map_nil(w, tok);
    }
    codec_map_close(w);
}

/* Writes the request of spec as a seed of harness; returns its bytes in w. */
static void
seed_request(codec_writer_t *w, const char *harness, const char *name, const char *spec)
{
    seed_map(w, spec);
    seed_writer(harness, name, w);
}

/* ---- the handlers whose answers become reply seeds ----------------------- */

static event_t evs[FUZZ_STORY_MAX];
static int n_evs;
static int n_replies;

/* A reply as invctl reads it, and (ReadEvents) as a subscriber reads it. */
static void
seed_reply(const codec_writer_t *reply, const char *what)
{
    char name[96];
    snprintf(name, sizeof name, "reply-%02d-%s", n_replies++, what);
    seed_writer("invctl_reply", name, reply);
}

typedef struct {
    const char *name;
    const char *spec;
} seed_spec_t;

static void
seed_catchup(codec_writer_t *w, codec_writer_t *reply)
{
    eventstore_t *es;
    eventstore_options_t opts = {.synchronous_full = false, .busy_timeout_ms = 1000};
    if (eventstore_open(fuzz_path("events.db"), &opts, &es) != ERR_OK ||
        eventstore_begin(es) != ERR_OK)
        abort();
    for (int i = 0; i < n_evs; i++)
        if (eventstore_append(es, &evs[i]) != ERR_OK)
            abort();
    if (eventstore_commit(es) != ERR_OK)
        abort();
    catchup_relay_stats_t stats = {.durable_through = n_evs, .published_through = n_evs};
    static const seed_spec_t reqs[] = {
        {"read-events", "type=ReadEvents after#0 limit#1000"},
        {"read-events-after", "type=ReadEvents after#5 limit#3"},
        {"read-events-head", "type=ReadEvents after#11"},
        {"read-stream", "type=ReadStream stream=product-p0"},
        {"read-stream-after", "type=ReadStream stream=supplier-s0 after_version#1 limit#10"},
        {"as-of-position", "type=ProductAsOf product_id=p0 position#7"},
        {"as-of-time", "type=ProductAsOf product_id=p0 time_us#1767225605000000"},
        {"status", "type=Status"},
        {"bad-after", "type=ReadEvents after#-1"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        seed_request(w, "catchup", reqs[i].name, reqs[i].spec);
        rpc_request_t req = {.body = w->buf.data, .len = w->buf.size, .w = reply};
        catchup_handle(es, &stats, &req);
        seed_reply(reply, reqs[i].name);
        if (strncmp(reqs[i].name, "read-events", 11) == 0) {
            /* fuzz_catchup_reply: the `after` asked, then the reply */
            mpread_t r, v;
            const char *why;
            int64_t after = 0;
            static const codec_key_t k[] = {CODEC_KEY("after")};
            uint32_t found;
            int unknown;
            if (codec_reader_init(&r, reply->buf.data, reply->buf.size, &why) == 0 &&
                codec_map_index(&r, k, 1, &v, &found, &unknown) == 0 && found)
                mpread_int(&v, &after);
            unsigned char *b = malloc(reply->buf.size + 1);
            b[0] = (unsigned char)after;
            memcpy(b + 1, reply->buf.data, reply->buf.size);
            seed_write("catchup_reply", reqs[i].name, b, reply->buf.size + 1);
            free(b);
        }
    }
    eventstore_close(&es);
}

static void
seed_queries(codec_writer_t *w, codec_writer_t *reply, void *zctx)
{
    const char *why, *path = fuzz_path("read.db");
    readmodel_t *m = readmodel_open(path, &why);
    if (!m || readmodel_begin(m) != 0)
        abort();
    for (int i = 0; i < n_evs; i++)
        if (readmodel_apply(m, &evs[i]) != 0)
            abort();
    if (readmodel_commit(m, n_evs, evs[n_evs - 1].env.event_id) != 0)
        abort();
    queries_t *q = queries_new(path);
    static const seed_spec_t reqs[] = {
        {"detail", "type=GetProductDetail product_id=p0"},
        {"admin", "type=GetAdminProduct product_id=p0 correlation_id=q1"},
        {"list", "type=ListProducts limit#1 in_stock?true"},
        {"list-suppliers", "type=ListSuppliers limit#100"},
        {"search", "type=SearchProducts q=widget include_discontinued?true"},
        {"top-rated", "type=TopRated limit#5"},
        {"low-stock", "type=LowStock"},
        {"dashboard", "type=Dashboard min_position#3 wait_ms#0"},
        {"price-history", "type=PriceHistory product_id=p0 cursor~"},
        {"status", "type=Status"},
        {"unknown", "type=Nope"},
        {"bad-limit", "type=ListProducts limit#0"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        seed_request(w, "query", reqs[i].name, reqs[i].spec);
        request_t rq;
        request_error_t err;
        codec_writer_reset(reply);
        if (request_parse(w->buf.data, w->buf.size, &rq, &err) == 0)
            queries_execute(q, &rq, reply);
        else
            request_pack_error(reply, &err);
        seed_reply(reply, reqs[i].name);
    }
    queries_destroy(&q);

    /* the projector's control ROUTER */
    subscriber_config_t cfg = {
        .name = "projector", .events_ep = "inproc://x", .catchup_ep = "inproc://x"};
    subscriber_t *sub = subscriber_new(zctx, &cfg, &readmodel_ops, m);
    static const seed_spec_t ctl[] = {
        {"status", "type=Status"}, {"rebuild", "type=Rebuild"}, {"unknown", "type=Flush"}};
    for (size_t i = 0; i < sizeof ctl / sizeof ctl[0]; i++) {
        seed_request(w, "control", ctl[i].name, ctl[i].spec);
        rpc_request_t req = {.body = w->buf.data, .len = w->buf.size, .w = reply};
        subscriber_handle_control(sub, &req);
        seed_reply(reply, ctl[i].name);
    }
    subscriber_destroy(&sub);
    readmodel_close(&m);
}

/* One subscriber daemon's API: its model with the story, its requests. */
static void
seed_api(codec_writer_t *w, codec_writer_t *reply, void *zctx, const char *harness,
         const subscriber_ops_t *ops, void *model, subscriber_control_fn fn, void *slot,
         const seed_spec_t *reqs, size_t n)
{
    if (ops->begin(model) != 0)
        abort();
    for (int i = 0; i < n_evs; i++)
        if (ops->apply(model, &evs[i]) != 0)
            abort();
    if (ops->commit(model, n_evs, evs[n_evs - 1].env.event_id) != 0)
        abort();
    subscriber_config_t cfg = {
        .name = harness, .events_ep = "inproc://x", .catchup_ep = "inproc://x"};
    subscriber_t *sub = subscriber_new(zctx, &cfg, ops, model);
    subscriber_set_control(sub, NULL, fn, slot);
    for (size_t i = 0; i < n; i++) {
        seed_request(w, harness, reqs[i].name, reqs[i].spec);
        rpc_request_t req = {.body = w->buf.data, .len = w->buf.size, .w = reply};
        subscriber_handle_control(sub, &req);
        seed_reply(reply, reqs[i].name);
    }
    subscriber_destroy(&sub);
}

static void
seed_audit_alert(codec_writer_t *w, codec_writer_t *reply, void *zctx)
{
    const char *why;
    auditlog_t *log = auditlog_open(fuzz_path("audit.db"), NULL, &why);
    if (!log)
        abort();
    static const seed_spec_t audit[] = {
        {"search", "type=SearchAudit"},
        {"search-stream", "type=SearchAudit stream=product-p0 limit#2"},
        {"search-corr", "type=SearchAudit correlation_id=c4 from_us#0 to_us#1867225600000000"},
        {"search-cursor", "type=SearchAudit cursor=3 limit#100"},
        {"status", "type=Status"},
        {"dup", "type=SearchAudit limit#1 limit#2"},
    };
    seed_api(w, reply, zctx, "audit", &auditlog_ops, log, auditapi_handle, &log, audit,
             sizeof audit / sizeof audit[0]);
    auditlog_close(&log);

    alerts_t *al = alerts_open(fuzz_path("alerts.db"), NULL, &why);
    if (!al)
        abort();
    static const seed_spec_t alert[] = {
        {"list", "type=ListAlerts"},
        {"list-product", "type=ListAlerts product_id=p0 limit#5"},
        {"list-cursor", "type=ListAlerts cursor=1"},
        {"status", "type=Status"},
    };
    seed_api(w, reply, zctx, "alert", &alerts_ops, al, alertapi_handle, &al, alert,
             sizeof alert / sizeof alert[0]);
    alerts_close(&al);

    alertmsg_t a = {.kind = STOCKWATCH_LOW_STOCK,
                    .stock = 5,
                    .threshold = 10,
                    .position = 9,
                    .recorded_at = 1767225608000000LL};
    snprintf(a.product_id, sizeof a.product_id, "p0");
    snprintf(a.name, sizeof a.name, "Blue \"Widget\"\n\xe2\x80\xa8");
    snprintf(a.correlation_id, sizeof a.correlation_id, "c9");
    codec_writer_reset(w);
    alertmsg_pack(w, &a);
    seed_writer("alertmsg", "low", w);
    seed_writer("invctl_reply", "alert-low", w);
    a.kind = STOCKWATCH_OUT_OF_STOCK;
    a.stock = 0;
    codec_writer_reset(w);
    alertmsg_pack(w, &a);
    seed_writer("alertmsg", "out", w);
}

/* ---- commands, events, batches, heartbeats, nudges ------------------------ */

static void
seed_bus(codec_writer_t *w)
{
    static command_t cmds[FUZZ_STORY_MAX];
    int n = fuzz_story(cmds, FUZZ_STORY_MAX);
    char name[64];
    for (int i = 0; i < n; i++) {
        cmds[i].has_expected_version = i % 3 == 0;
        cmds[i].expected_version = i % 2;
        if (i % 2)
            snprintf(cmds[i].correlation_id, sizeof cmds[i].correlation_id, "corr-%d", i);
        codec_writer_reset(w);
        codec_pack_command(w, &cmds[i]);
        snprintf(name, sizeof name, "%02d-%s", i, command_spec(cmds[i].type)->name);
        seed_writer("command", name, w);
    }
    seed_request(w, "command", "status", "type=Status");
    seed_request(w, "command", "dup-key", "type=ChangePrice command_id=c1 command_id=c2 data~");

    /* the command-service's replies */
    command_reply_t r;
    command_reply_clear(&r);
    r.accepted = true;
    snprintf(r.command_id, sizeof r.command_id, "c7");
    snprintf(r.stream, sizeof r.stream, "product-p0");
    r.version = 3;
    r.position = 9;
    codec_writer_reset(w);
    codec_pack_command_reply(w, &r);
    seed_writer("invctl_reply", "command-accepted", w);
    command_reply_not_leader(&r, "c9", "tcp://10.1.0.2:5550");
    codec_writer_reset(w);
    codec_pack_command_reply(w, &r);
    seed_writer("invctl_reply", "command-not-leader", w);
    command_reply_not_leader(&r, "c9", "");
    codec_writer_reset(w);
    codec_pack_command_reply(w, &r);
    seed_writer("invctl_reply", "command-not-leader-election", w);
    command_reply_clear(&r);
    r.error = REJ_VALIDATION;
    snprintf(r.command_id, sizeof r.command_id, "c8");
    snprintf(r.message, sizeof r.message, "invalid quantity: must be >= 1");
    field_errors_add(&r.fields, "quantity", "must be >= 1");
    codec_writer_reset(w);
    codec_pack_command_reply(w, &r);
    seed_writer("invctl_reply", "command-rejected", w);

    for (int i = 0; i < n_evs; i++) {
        codec_writer_reset(w);
        codec_pack_event(w, &evs[i]);
        snprintf(name, sizeof name, "%02d-%s", i, event_spec(evs[i].env.type)->name);
        seed_writer("event", name, w);
        seed_writer("apply", name, w);
        if (i == 8)
            seed_writer("invctl_reply", "event", w);
    }
    for (int from = 0; from < n_evs; from += 4) {
        codec_writer_reset(w);
        int k = n_evs - from < 4 ? n_evs - from : 4;
        const char header[3] = {(char)0xdc, 0, (char)k}; /* the relay's array16 form */
        msgpack_sbuffer_write(&w->buf, header, sizeof header);
        for (int i = from; i < from + k; i++)
            codec_pack_event(w, &evs[i]);
        snprintf(name, sizeof name, "batch-%02d", from);
        seed_writer("batch", name, w);
    }

    seed_request(w, "heartbeat", "heartbeat",
                 "head#11 head_recorded_at#1767225610000000 ts#1767225611000000");
    seed_request(w, "heartbeat", "heartbeat-zero", "head#0 head_recorded_at#0 ts#1");
    seed_writer("invctl_reply", "heartbeat", w);

    static const int64_t nudges[] = {1, 127, 128, 65535, 4294967296LL, INT64_MAX};
    for (size_t i = 0; i < sizeof nudges / sizeof nudges[0]; i++) {
        codec_writer_reset(w);
        msgpack_pack_int64(&w->pk, nudges[i]);
        snprintf(name, sizeof name, "nudge-%zu", i);
        seed_writer("nudge", name, w);
    }

    /* what invctl must survive: an ext value, a float, C0/C1/ESC text */
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_key(w, "items");
    msgpack_pack_array(&w->pk, 1);
    codec_map_open(w);
    codec_map_str(w, "\x1b]0;title\x07name",
                  "\x1b[2J\xc2\x9b"
                  "31m");
    codec_map_key(w, "x");
    msgpack_pack_ext(&w->pk, 2, 1);
    msgpack_pack_ext_body(&w->pk, "\x01\x02", 2);
    codec_map_key(w, "margin_percent");
    msgpack_pack_double(&w->pk, 12.5);
    codec_map_close(w);
    codec_map_close(w);
    seed_writer("invctl_reply", "hostile", w);
    seed_request(w, "invctl_reply", "status-extreme",
                 "ok?true service=relay checkpoint#-9223372036854775807 "
                 "head#9223372036854775807 lag_ms#-1 wal_frames#9223372036854775807");
}

/* dqproto: each response a dqlite server sends, from the real encoders;
 * a query's two pages as one input. */
static void
seed_dqproto(void)
{
    dqbuf_t b;
    dqbuf_init(&b);
    dqserver_t servers[] = {{.id = 1, .address = "127.0.0.1:9001", .role = DQ_VOTER},
                            {.id = 2, .address = "127.0.0.1:9002", .role = DQ_SPARE}};
    const char *names[] = {"id", "name", "note"};
    dqvalue_t rows[] = {dq_int(1),  dq_text("item-1"), dq_null(),
                        dq_int(-2), dq_text(""),       dq_blob("\0\1\2", 3)};
    dqproto_put_failure(&b, 1, "no such table: items");
    seed_write("dqproto", "failure", b.data, b.len);
    dqbuf_reset(&b);
    dqproto_put_server(&b, 1, "127.0.0.1:9001");
    dqproto_put_welcome(&b, 15000);
    dqproto_put_db(&b, 0);
    dqproto_put_stmt(&b, 0, 1, 3);
    dqproto_put_result(&b, 200, 1);
    dqproto_put_empty(&b);
    seed_write("dqproto", "small", b.data, b.len);
    dqbuf_reset(&b);
    dqproto_put_servers(&b, servers, 2);
    seed_write("dqproto", "servers", b.data, b.len);
    dqbuf_reset(&b);
    dqproto_put_rows(&b, names, 3, rows, 2, 1);
    dqproto_put_rows(&b, names, 3, rows, 1, 0);
    seed_write("dqproto", "rows-pages", b.data, b.len);
    dqbuf_fini(&b);
}

/* tunnel_frame: every frame type from the real encoder (the DATA payload
 * after its type byte, as the tunnel sends it); CREDITs at both bounds. */
static void
seed_tunnel_frame(void)
{
    static const struct {
        const char *name;
        tunnel_type_t type;
        uint32_t credit;
    } ctl[] = {{"open", TUNNEL_OPEN, 0},
               {"accept", TUNNEL_ACCEPT, 0},
               {"ping", TUNNEL_PING, 0},
               {"close", TUNNEL_CLOSE, 0},
               {"credit-1", TUNNEL_CREDIT, 1},
               {"credit-chunk", TUNNEL_CREDIT, TUNNEL_CHUNK},
               {"credit-window", TUNNEL_CREDIT, TUNNEL_WINDOW}};
    static uint8_t f[1 + TUNNEL_CHUNK];
    for (size_t i = 0; i < sizeof ctl / sizeof ctl[0]; i++)
        seed_write("tunnel_frame", ctl[i].name, f,
                   tunnel_frame_encode(ctl[i].type, ctl[i].credit, f));
    size_t n = tunnel_frame_encode(TUNNEL_DATA, 0, f);
    static const char hello[] = "\x01\x00\x00\x00\x00\x00\x00\x00dqlite";
    memcpy(f + n, hello, sizeof hello - 1);
    seed_write("tunnel_frame", "data", f, n + sizeof hello - 1);
    seed_write("tunnel_frame", "data-1", f, n + 1);
    for (size_t i = 0; i < TUNNEL_CHUNK; i++)
        f[n + i] = (uint8_t)(i * 31);
    seed_write("tunnel_frame", "data-chunk", f, n + TUNNEL_CHUNK);
}

/* replica_row: the story's events as the replicated log holds them (the
 * msg column: codec_pack_event_raw of each row of an events.db, its hash
 * the chain's), one seed per position. */
static int
seed_row(const envelope_t *env, const void *data, size_t len, void *arg)
{
    codec_writer_t *w = arg;
    char name[32];
    codec_writer_reset(w);
    codec_pack_event_raw(w, env, data, len);
    snprintf(name, sizeof name, "row-%02lld", (long long)env->position);
    seed_writer("replica_row", name, w);
    return 0;
}

static void
seed_replica_row(codec_writer_t *w)
{
    eventstore_t *es;
    eventstore_options_t opts = {.synchronous_full = false, .busy_timeout_ms = 1000};
    if (eventstore_open(fuzz_path("replica.db"), &opts, &es) != ERR_OK ||
        eventstore_begin(es) != ERR_OK)
        abort();
    for (int i = 0; i < n_evs; i++)
        if (eventstore_append(es, &evs[i]) != ERR_OK)
            abort();
    if (eventstore_commit(es) != ERR_OK ||
        eventstore_read_raw(es, 0, INT64_MAX, 1000, seed_row, w) != ERR_OK)
        abort();
    eventstore_close(&es);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    n_evs = fuzz_story_events(evs, FUZZ_STORY_MAX);
    codec_writer_t w, reply;
    codec_writer_init(&w);
    codec_writer_init(&reply);
    void *zctx = zmq_ctx_new();
    seed_bus(&w);
    seed_catchup(&w, &reply);
    seed_queries(&w, &reply, zctx);
    seed_audit_alert(&w, &reply, zctx);
    seed_dqproto();
    seed_tunnel_frame();
    seed_replica_row(&w);
    codec_writer_fini(&w);
    codec_writer_fini(&reply);
    zmq_ctx_term(zctx);
    return 0;
}
