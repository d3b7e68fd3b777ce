/* Unit tests of alert-service/alerts (the alert model) and alertapi
 * (ListAlerts): event sequences built in C applied to temp-file models,
 * alerts printed and published only after commit, rollback shows nothing,
 * idempotence, rebuild equality, discontinued products, list filters,
 * pagination and hostile requests. */
#include "alertapi.h"
#include "msgtree.h"
#include "alerts.h"

#include "bus.h"
#include "modeltest.h"
#include "scratch.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795446680000000 /* 2026-11-23T15:11:20Z, in us */
#define N_EVENTS 13

static event_t evs[N_EVENTS + 1]; /* evs[p] has position p */

/* modeltest's dump: the model's, typed for it. */
static int
dump_to(void *m, FILE *f)
{
    return alerts_dump(m, f);
}

static modeltest_t mt = {.ops = &alerts_ops, .dump = dump_to, .evs = evs};
static alerts_t *model;
static void *zctx, *pub, *sub;

/* ---- fixtures ------------------------------------------------------------ */

static event_t *
mk(int64_t pos, const char *product, event_type_t type, const char *corr)
{
    event_t *e = &evs[pos];
    memset(e, 0, sizeof *e);
    e->env.position = pos;
    snprintf(e->env.stream, sizeof e->env.stream, "product-%s", product);
    e->env.version = pos;
    e->env.type = type;
    e->env.schema = event_spec(type)->schema;
    snprintf(e->env.command_id, sizeof e->env.command_id, "cmd%lld", (long long)pos);
    snprintf(e->env.correlation_id, sizeof e->env.correlation_id, "%s", corr);
    e->env.recorded_at = T0 + pos * 1000000;
    fields_set_str(&e->data, F_PRODUCT_ID, product);
    return e;
}

static void
created(int64_t pos, const char *product, const char *name, int64_t stock, int64_t threshold)
{
    event_t *e = mk(pos, product, EV_PRODUCT_CREATED, "c-create");
    fields_set_str(&e->data, F_NAME, name);
    fields_set_int(&e->data, F_STOCK, stock);
    fields_set_int(&e->data, F_LOW_STOCK_THRESHOLD, threshold);
}

static void
stock(int64_t pos, const char *product, event_type_t type, int64_t from, int64_t to)
{
    event_t *e = mk(pos, product, type, type == EV_PRODUCT_SOLD ? "c-sale" : "");
    fields_set_int(&e->data, F_OLD_STOCK, from);
    fields_set_int(&e->data, F_NEW_STOCK, to);
    if (type == EV_PRODUCT_SOLD)
        fields_set_int(&e->data, F_QUANTITY, from - to);
}

/* Alerts raised: 2 LOW p1, 5 OUT p1, 6 LOW p1, 7 CLEARED p1, 8 LOW p2, 9 OUT p3. */
static void
history(void)
{
    created(1, "p1", "Widget", 12, 10);
    stock(2, "p1", EV_PRODUCT_SOLD, 12, 9);
    stock(3, "p1", EV_PRODUCT_SOLD, 9, 5);
    mk(4, "p1", EV_PRODUCT_VIEWED, "c-view");
    stock(5, "p1", EV_PRODUCT_SOLD, 5, 0);
    stock(6, "p1", EV_STOCK_UPDATED, 0, 3);
    stock(7, "p1", EV_STOCK_UPDATED, 3, 20);
    created(8, "p2", "Gadget \"Pro\"\n", 2, 5);
    created(9, "p3", "Empty", 0, 5);
    mk(10, "p2", EV_PRODUCT_DISCONTINUED, "c-disc");
    stock(11, "p2", EV_STOCK_UPDATED, 2, 0);
    mk(12, "s1", EV_SUPPLIER_REGISTERED, "c-sup");
    stock(13, "ghost", EV_STOCK_UPDATED, 5, 1);
}

static const int64_t alert_positions[] = {2, 5, 6, 7, 8, 9};
static const stockwatch_kind_t alert_kinds[] = {STOCKWATCH_LOW_STOCK, STOCKWATCH_OUT_OF_STOCK,
                                                STOCKWATCH_LOW_STOCK, STOCKWATCH_CLEARED,
                                                STOCKWATCH_LOW_STOCK, STOCKWATCH_OUT_OF_STOCK};
#define N_ALERTS 6

static alerts_t *
open_model(const char *name, FILE *where)
{
    char path[128];
    const char *why = NULL;
    modeltest_path(&mt, name, path, sizeof path);
    alerts_t *m = alerts_open(path, where, &why);
    cr_assert_not_null(m, "%s", why);
    return m;
}

/* Binds an inproc PUB and waits until its SUB really receives. */
static void
pubsub_open(void)
{
    zctx = zmq_ctx_new();
    pub = bus_bind(zctx, ZMQ_PUB, "inproc://test-alerts");
    sub = bus_connect(zctx, ZMQ_SUB, "inproc://test-alerts");
    cr_assert(pub && sub);
    for (int i = 0; i < 500; i++) {
        bus_send(pub, "probe", "x", 1, 0);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) == 1)
            return;
    }
    cr_assert_fail("the SUB never received");
}

/* Receives the next alert body, skipping probes; 0, or -1 when none comes
 * within wait_ms. */
static int
pubsub_next(alertmsg_t *a, int wait_ms)
{
    for (;;) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, wait_ms) != 1)
            return -1;
        bus_msg_t m;
        cr_assert_eq(bus_recv(sub, &m, 0), 0);
        bool probe = bus_frame_is(&m, 0, "probe");
        if (!probe) {
            cr_assert_eq(m.count, 2);
            cr_assert(bus_frame_is(&m, 0, TOPIC_ALERT));
            size_t len;
            const void *body = bus_body(&m, &len);
            const char *why = NULL;
            cr_assert_eq(alertmsg_decode(body, len, a, &why), 0, "%s", why);
        }
        bus_msg_close(&m);
        if (!probe)
            return 0;
    }
}

static void
setup(void)
{
    modeltest_init(&mt, "alerts");
    model = open_model("alerts.db", mt.out);
    pubsub_open();
    alerts_set_publisher(model, pub);
    history();
}

static void
teardown(void)
{
    alerts_close(&model);
    bus_close(&sub);
    bus_close(&pub);
    zmq_ctx_term(zctx);
    modeltest_fini(&mt);
}

TestSuite(alerts, .init = setup, .fini = teardown);

/* The dump of a fresh model that applied the whole history in one batch. */
static char *
fresh_dump(void)
{
    alerts_t *fresh = open_model("fresh.db", NULL);
    modeltest_apply(&mt, fresh, 1, N_EVENTS);
    char *want = modeltest_dump(&mt, fresh);
    alerts_close(&fresh);
    return want;
}

/* ---- model --------------------------------------------------------------- */

Test(alerts, alerts_follow_the_rule_and_print_after_commit)
{
    cr_assert_eq(alerts_ops.begin(model), 0);
    for (int p = 1; p <= N_EVENTS; p++)
        cr_assert_eq(alerts_ops.apply(model, &evs[p]), 0, "position %d", p);
    cr_assert_eq(alerts_ops.commit(model, N_EVENTS, ""), 0);
    cr_assert_str_eq(modeltest_printed(&mt), "", "nothing before the committed hook");
    alertmsg_t a;
    cr_assert_eq(pubsub_next(&a, 50), -1, "nothing published before the committed hook");
    alerts_ops.committed(model);
    const char *s = modeltest_printed(&mt);
    cr_assert_eq(modeltest_count_lines(s), N_ALERTS, "%s", s);
    cr_assert_not_null(strstr(s, "2026-11-23T15:11:22.000Z LOW STOCK p1 \"Widget\" stock 9 < "
                                 "threshold 10 (position 2, corr c-sale)\n"),
                       "%s", s);
    cr_assert_not_null(strstr(s, " OUT OF STOCK p1 \"Widget\" stock 0, threshold 10 "
                                 "(position 5, corr c-sale)\n"));
    cr_assert_not_null(strstr(s, " CLEARED p1 \"Widget\" stock 20 >= threshold 10 "
                                 "(position 7, corr -)\n"));
    cr_assert_not_null(strstr(s, " LOW STOCK p2 \"Gadget \\\"Pro\\\"\\n\" stock 2 < threshold "
                                 "5 (position 8, corr c-create)\n"));
    for (int i = 0; i < N_ALERTS; i++) {
        cr_assert_eq(pubsub_next(&a, 2000), 0, "alert %d published", i);
        cr_assert_eq(a.position, alert_positions[i]);
        cr_assert_eq(a.kind, alert_kinds[i]);
    }
    cr_assert_eq(a.stock, 0);
    cr_assert_eq(a.threshold, 5);
    cr_assert_str_eq(a.name, "Empty");
    cr_assert_eq(a.recorded_at, T0 + 9000000);
    cr_assert_eq(pubsub_next(&a, 50), -1, "no more");
    cr_assert_eq(alerts_publish_errors(model), 0);
}

Test(alerts, product_state_and_discontinued)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    stockwatch_state_t st;
    cr_assert_eq(alerts_product(model, "p1", &st), 1);
    cr_assert_eq(st.stock, 20);
    cr_assert_eq(st.level, STOCKWATCH_OK);
    cr_assert_eq(alerts_product(model, "p2", &st), 1);
    cr_assert(st.discontinued);
    cr_assert_eq(st.stock, 0, "stock still tracked after discontinuing");
    cr_assert_eq(st.level, STOCKWATCH_OUT);
    cr_assert_eq(alerts_product(model, "ghost", &st), 0, "unknown products are skipped");
    cr_assert_null(strstr(modeltest_printed(&mt), "position 11"),
                   "no alert for a discontinued product");
}

Test(alerts, rollback_prints_and_publishes_nothing)
{
    cr_assert_eq(alerts_ops.begin(model), 0);
    for (int p = 1; p <= 5; p++)
        cr_assert_eq(alerts_ops.apply(model, &evs[p]), 0);
    alerts_ops.rollback(model);
    alertmsg_t a;
    cr_assert_str_eq(modeltest_printed(&mt), "");
    cr_assert_eq(pubsub_next(&a, 50), -1);
    modeltest_apply(&mt, model, 1, 1); /* a later good batch must not carry the dropped alerts */
    cr_assert_str_eq(modeltest_printed(&mt), "");
    cr_assert_eq(pubsub_next(&a, 50), -1);
    char *d = modeltest_dump(&mt, model);
    cr_assert_null(strstr(d, "alert\t"), "%s", d);
    cr_assert_eq(strncmp(d, "checkpoint 1\n", 13), 0, "%s", d);
    free(d);
}

Test(alerts, reapplying_is_harmless_and_silent)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    alertmsg_t a;
    for (int i = 0; i < N_ALERTS; i++)
        cr_assert_eq(pubsub_next(&a, 2000), 0);
    char *before = modeltest_dump(&mt, model);
    size_t len = strlen(modeltest_printed(&mt));
    modeltest_apply(&mt, model, 1, N_EVENTS);
    modeltest_apply(&mt, model, 5, 7);
    cr_assert_eq(strlen(modeltest_printed(&mt)), len);
    cr_assert_eq(pubsub_next(&a, 50), -1);
    char *after = modeltest_dump(&mt, model);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

Test(alerts, rebuild_dumps_identically)
{
    for (int p = 1; p <= N_EVENTS; p++)
        modeltest_apply(&mt, model, p, p);
    alerts_t *fresh = open_model("rebuild.db", NULL);
    modeltest_apply(&mt, fresh, 1, N_EVENTS);
    char *live = modeltest_dump(&mt, model), *rebuilt = modeltest_dump(&mt, fresh);
    cr_assert_str_eq(live, rebuilt);
    cr_assert_eq(modeltest_count_lines(live), 1 + 3 + N_ALERTS, "%s", live);
    alerts_close(&fresh);
    alerts_close(&fresh);
    free(live);
    free(rebuilt);
}

/* The model keeps product state in memory and writes a product row once per
 * commit: rows written across batches of any size, and after a rolled-back
 * batch, must equal those of one batch on a fresh model. */
Test(alerts, batch_sizes_and_rollbacks_store_the_same_rows)
{
    char *want = fresh_dump();

    modeltest_apply(&mt, model, 1, 3);
    cr_assert_eq(alerts_ops.begin(model), 0);
    for (int p = 4; p <= N_EVENTS; p++)
        cr_assert_eq(alerts_ops.apply(model, &evs[p]), 0);
    alerts_ops.rollback(model); /* its in-memory state must be forgotten */
    stockwatch_state_t st;
    cr_assert_eq(alerts_product(model, "p1", &st), 1);
    cr_assert_eq(st.stock, 5, "the committed stock, not the rolled-back one");
    char *mid = modeltest_dump(&mt, model);
    cr_assert_eq(strncmp(mid, "checkpoint 3\n", 13), 0, "%s", mid);
    modeltest_apply(&mt, model, 4, 6);
    modeltest_apply(&mt, model, 7, N_EVENTS);
    char *got = modeltest_dump(&mt, model);
    cr_assert_str_eq(got, want);
    free(mid);
    free(got);
    free(want);
}

/* The model writes a product row by the rowid it cached.  A row renumbered
 * from outside (what a VACUUM may do) is found again by its product_id, and
 * another row that took the old rowid is left alone. */
Test(alerts, a_renumbered_product_row_is_found_again)
{
    char *want = fresh_dump();

    modeltest_apply(&mt, model, 1, 3); /* p1 is cached, with its rowid */
    sqlite3 *db = modeltest_db(&mt, "alerts.db");
    modeltest_exec(db, "UPDATE products SET rowid = rowid + 100;"
                       "INSERT INTO products(rowid, product_id, name, stock, threshold,"
                       " level, discontinued, position)"
                       " VALUES (1, 'zz', 'Other', 7, 1, 'ok', 0, 0);");
    modeltest_apply(&mt, model, 4, N_EVENTS);
    cr_assert_eq(modeltest_query_int(db, "SELECT stock FROM products WHERE rowid = 1"), 7,
                 "the row that took p1's old rowid changed");
    cr_assert_eq(modeltest_query_int(db, "SELECT position FROM products WHERE rowid = 1"), 0);
    modeltest_exec(db, "DELETE FROM products WHERE product_id = 'zz'");
    sqlite3_close(db);
    char *got = modeltest_dump(&mt, model);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
}

Test(alerts, product_state_includes_the_open_batch)
{
    modeltest_apply(&mt, model, 1, 1);
    stockwatch_state_t st;
    cr_assert_eq(alerts_ops.begin(model), 0);
    for (int p = 2; p <= 5; p++)
        cr_assert_eq(alerts_ops.apply(model, &evs[p]), 0);
    cr_assert_eq(alerts_product(model, "p1", &st), 1);
    cr_assert_eq(st.stock, 0, "the applied but uncommitted sale shows");
    cr_assert_eq(st.level, STOCKWATCH_OUT);
    cr_assert_eq(alerts_ops.commit(model, 5, ""), 0);
    alerts_ops.committed(model);
}

/* The product cache starts small and doubles: products made dirty before
 * it grows are still written at commit (a fresh model reads the rows). */
Test(alerts, dirty_products_are_written_across_the_caches_growth)
{
    enum { N = 1200 };
    event_t *e = calloc(1, sizeof *e);
    char id[16];
    cr_assert_eq(alerts_ops.begin(model), 0);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "g%d", i);
        for (int k = 0; k < 2; k++) {
            event_type_t type = k ? EV_STOCK_UPDATED : EV_PRODUCT_CREATED;
            memset(e, 0, sizeof *e);
            e->env.position = 100 + 2 * i + k;
            snprintf(e->env.stream, sizeof e->env.stream, "product-%s", id);
            e->env.version = 1 + k;
            e->env.type = type;
            e->env.schema = event_spec(type)->schema;
            e->env.recorded_at = T0;
            fields_set_str(&e->data, F_PRODUCT_ID, id);
            fields_set_str(&e->data, F_NAME, "Bulk");
            fields_set_int(&e->data, F_STOCK, 50);
            fields_set_int(&e->data, F_LOW_STOCK_THRESHOLD, 10);
            fields_set_int(&e->data, F_OLD_STOCK, 50);
            fields_set_int(&e->data, F_NEW_STOCK, 11 + i % 40);
            cr_assert_eq(alerts_ops.apply(model, e), 0, "%s", id);
        }
    }
    cr_assert_eq(alerts_ops.commit(model, 100 + 2 * N, ""), 0);
    alerts_ops.committed(model);
    free(e);
    alerts_close(&model);
    model = open_model("alerts.db", mt.out);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "g%d", i);
        stockwatch_state_t st;
        cr_assert_eq(alerts_product(model, id, &st), 1, "%s", id);
        cr_assert_eq(st.stock, 11 + i % 40, "%s", id);
    }
}

/* ---- list ---------------------------------------------------------------- */

typedef struct {
    int n;
    int64_t pos[ALERTS_LIMIT_MAX];
} found_t;

static void
collect(void *arg, const alertmsg_t *a)
{
    found_t *f = arg;
    f->pos[f->n++] = a->position;
}

Test(alerts, list_filters_and_pages)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    bool more;
    found_t f = {0};
    alerts_query_t q = {.product_id = "p1", .limit = 20};
    cr_assert_eq(alerts_list(model, &q, collect, &f, &more), 4);
    cr_assert_eq(f.pos[0], 2);
    cr_assert_eq(f.pos[3], 7);
    cr_assert(!more);
    int64_t seen = 0;
    q = (alerts_query_t){.limit = 4};
    for (;;) {
        f = (found_t){0};
        cr_assert_eq(alerts_list(model, &q, collect, &f, &more), f.n);
        for (int i = 0; i < f.n; i++)
            cr_assert_eq(f.pos[i], alert_positions[seen++]);
        if (!more)
            break;
        q.after = f.pos[f.n - 1];
    }
    cr_assert_eq(seen, N_ALERTS);
}

/* ---- ListAlerts ---------------------------------------------------------- */

static modeltest_api_t api;

/* Sends the request packed in api.req; returns the reply map. */
static const msgpack_object *
call(void)
{
    return modeltest_api_call(&api, alertapi_handle, &model, "ListAlerts");
}

static void
api_setup(void)
{
    setup();
    modeltest_api_init(&api);
    modeltest_apply(&mt, model, 1, N_EVENTS);
}

static void
api_teardown(void)
{
    modeltest_api_fini(&api);
    teardown();
}

TestSuite(alertapi, .init = api_setup, .fini = api_teardown);

Test(alertapi, list_reply_shape_and_pages)
{
    msgpack_pack_map(&api.req.pk, 3);
    codec_pack_kv_str(&api.req.pk, "type", "ListAlerts");
    codec_pack_kv_str(&api.req.pk, "product_id", "p1");
    codec_pack_kv_int(&api.req.pk, "limit", 3);
    const msgpack_object *rep = call();
    bool ok = false;
    int64_t position = 0;
    cr_assert_eq(codec_get_bool(codec_map_get(rep, "ok"), &ok), 0);
    cr_assert(ok);
    cr_assert_eq(codec_get_int(codec_map_get(rep, "position"), &position), 0);
    cr_assert_eq(position, N_EVENTS);
    const msgpack_object *items = codec_map_get(rep, "items");
    cr_assert_eq(items->via.array.size, 3);
    alertmsg_t a;
    const char *why = NULL;
    mpread_t r, it;
    uint32_t n;
    mpread_init(&r, api.rep.buf.data, api.rep.buf.size);
    cr_assert_eq(mpread_find(&r, "items", &it), 0);
    cr_assert_eq(mpread_array(&it, &n), 0);
    cr_assert_eq(mpread_skip(&it), 0);
    cr_assert_eq(alertmsg_read(&it, &a, &why), 0, "%s", why);
    cr_assert_eq(a.kind, STOCKWATCH_OUT_OF_STOCK);
    cr_assert_eq(a.position, 5);
    char cursor[32];
    cr_assert_eq(codec_copy_str(codec_map_get(rep, "next_cursor"), cursor, sizeof cursor), 0);
    cr_assert_str_eq(cursor, "6");

    msgpack_pack_map(&api.req.pk, 3);
    codec_pack_kv_str(&api.req.pk, "type", "ListAlerts");
    codec_pack_kv_str(&api.req.pk, "product_id", "p1");
    codec_pack_kv_str(&api.req.pk, "cursor", cursor);
    rep = call();
    cr_assert_eq(codec_map_get(rep, "items")->via.array.size, 1);
    cr_assert_eq(codec_map_get(rep, "next_cursor")->type, MSGPACK_OBJECT_NIL);

    msgpack_pack_map(&api.req.pk, 1);
    codec_pack_kv_str(&api.req.pk, "type", "ListAlerts");
    cr_assert_eq(codec_map_get(call(), "items")->via.array.size, N_ALERTS);
}

#define BAD_REQUEST(packing, code, field)                                                          \
    do {                                                                                           \
        msgpack_pack_map(&api.req.pk, 2);                                                          \
        codec_pack_kv_str(&api.req.pk, "type", "ListAlerts");                                      \
        packing;                                                                                   \
        modeltest_expect_error(call(), code, field);                                               \
    } while (0)

Test(alertapi, bad_parameters_get_clear_errors)
{
    msgpack_packer *pk = &api.req.pk;
    BAD_REQUEST(codec_pack_kv_int(pk, "product_id", 1), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_bool(pk, "limit", false), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_int(pk, "cursor", 2), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_int(pk, "stream", 2), "malformed", NULL);
    BAD_REQUEST((codec_pack_cstr(pk, "limit"), msgpack_pack_double(pk, 2.5)), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_str(pk, "product_id", "p 1"), "validation", "product_id");
    BAD_REQUEST(codec_pack_kv_str(pk, "product_id", "\xc3\x28"), "validation", "product_id");
    BAD_REQUEST(codec_pack_kv_str(pk, "product_id", ""), "validation", "product_id");
    BAD_REQUEST(codec_pack_kv_int(pk, "limit", 0), "validation", "limit");
    BAD_REQUEST(codec_pack_kv_int(pk, "limit", 1000), "validation", "limit");
    BAD_REQUEST(codec_pack_kv_str(pk, "cursor", "-1"), "validation", "cursor");
    BAD_REQUEST(codec_pack_kv_str(pk, "cursor", "12x"), "validation", "cursor");
}

Test(alertapi, unknown_type_is_left_to_the_runtime)
{
    mpread_t none;
    mpread_init(&none, "\x80", 1);
    cr_assert_eq(alertapi_handle(&model, "SearchAudit", &none, &api.rep), -1);
    mpread_t not_map;
    mpread_init(&not_map, "\xc0", 1);
    cr_assert_eq(alertapi_handle(&model, "ListAlerts", &not_map, &api.rep), 0);
}

/* The dispatcher already refuses such maps; the handler must not rely on it. */
Test(alertapi, non_string_keys_are_malformed)
{
    static const char bytes[] = "\x82\xa4type\xaaListAlerts\x07\xc0";
    mpread_t req;
    mpread_init(&req, bytes, sizeof bytes - 1);
    const char *why = NULL;
    codec_writer_reset(&api.rep);
    cr_assert_eq(alertapi_handle(&model, "ListAlerts", &req, &api.rep), 0);
    msgpack_unpacked_destroy(&api.rep_u);
    msgpack_unpacked_init(&api.rep_u);
    cr_assert_eq(codec_parse(api.rep.buf.data, api.rep.buf.size, &api.rep_u, &why), 0, "%s", why);
    modeltest_expect_error(&api.rep_u.data, "malformed", NULL);
}

/* The Rebuild factory: a silent model, printing and publishing once live. */
Test(alerts, rebuild_factory_is_silent_until_activated)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    alertmsg_t a;
    for (int i = 0; i < N_ALERTS; i++)
        cr_assert_eq(pubsub_next(&a, 2000), 0);
    size_t len = strlen(modeltest_printed(&mt));
    alerts_live_t live = {model, mt.out, pub};
    subscriber_factory_t f = alerts_factory(&live);
    char path[128];
    modeltest_path(&mt, "alerts.db.2", path, sizeof path);
    alerts_t *fresh = f.open(f.arg, path);
    cr_assert_not_null(fresh);
    modeltest_apply(&mt, fresh, 1, N_EVENTS);
    cr_assert_eq(strlen(modeltest_printed(&mt)), len, "a rebuild does not re-print history");
    cr_assert_eq(pubsub_next(&a, 50), -1, "nor re-publish it");
    f.close(f.arg, model);
    cr_assert_null(live.model);
    model = NULL;
    f.activate(f.arg, fresh);
    cr_assert_eq(live.model, fresh);
    stock(1, "p1", EV_PRODUCT_SOLD, 20, 1); /* slot 1 reused for position N_EVENTS + 1 */
    evs[1].env.position = N_EVENTS + 1;
    modeltest_apply(&mt, fresh, 1, 1);
    cr_assert_eq(modeltest_count_lines(modeltest_printed(&mt) + len), 1,
                 "the activated model prints");
    cr_assert_eq(pubsub_next(&a, 2000), 0, "and publishes");
    cr_assert_eq(a.position, N_EVENTS + 1);
    model = fresh;
}

Test(alertapi, a_model_mid_swap_answers_unavailable)
{
    alerts_t *none = NULL;
    mpread_t req;
    mpread_init(&req, "\x80", 1);
    const char *why = NULL;
    cr_assert_eq(alertapi_handle(&none, "ListAlerts", &req, &api.rep), 0);
    cr_assert_eq(codec_parse(api.rep.buf.data, api.rep.buf.size, &api.rep_u, &why), 0, "%s", why);
    modeltest_expect_error(&api.rep_u.data, "unavailable", NULL);
}
