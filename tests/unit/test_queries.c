/* test_queries: the query engine (queries.h, request.h) against a read
 * model built in a temporary file with the projector's readmodel, and the
 * server loop (server.h) over inproc sockets for read-your-writes waits.
 * Checks: reply shapes, no cost field in any public reply, pagination,
 * hostile search input, strict request decoding, the read-only connection,
 * `unavailable` until the file exists, reopening after a swap, one
 * snapshot per batch. */
#include "bus.h"
#include "msgtree.h"
#include "proc.h"
#include "queries.h"
#include "readmodel.h"
#include "request.h"
#include "server.h"

#include "event_history.h"
#include "readmodeltest.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fixtures -------------------------------------------------------------- */

static char dir[64];
static char path[128];
static hist_t *hist;
static readmodel_t *model;
static queries_t *qe;

/* 25 products p00..p24 over two suppliers, with prices, sales, reviews,
 * a rename and a discontinued product. */
static void
history_shop(hist_t *h)
{
    ev_supplier(h, "s1", "Acme");
    ev_supplier(h, "s2", "Globex");
    for (int i = 0; i < 25; i++) {
        char pid[8], name[32];
        snprintf(pid, sizeof pid, "p%02d", i);
        snprintf(name, sizeof name, "%s Widget %d", i % 2 ? "Red" : "Blue", i);
        ev_product(h, pid, name, i < 20 ? "s1" : "s2", i < 20 ? "Acme" : "Globex", 1000 + i, 600,
                   i == 3 ? 0 : 10, i == 4 ? 20 : 5);
    }
    ev_price(h, "p01", 1001, 900);
    ev_price(h, "p01", 900, 950);
    ev_sold(h, "p01", 3, 950, 10);
    for (int i = 0; i < 6; i++) {
        char rid[8];
        snprintf(rid, sizeof rid, "r%d", i);
        ev_review(h, "p01", rid, 4 + (i % 2));
    }
    for (int i = 0; i < 3; i++) {
        char rid[8];
        snprintf(rid, sizeof rid, "x%d", i);
        ev_review(h, "p02", rid, 5);
    }
    ev_viewed(h, "p01");
    ev_stock(h, "p05", 10, 12);
    ev_rename(h, "s2", "Globex", "Umbrella Corp");
    ev_discontinue(h, "p24", "recalled");
}

static void
setup(void)
{
    scratch_make_file(dir, sizeof dir, "queries", "read.db", path, sizeof path);
    hist = hist_new();
    history_shop(hist);
    const char *why = NULL;
    model = readmodel_open(path, &why);
    cr_assert_not_null(model, "%s", why);
    readmodeltest_apply(model, hist, 0, hist->n);
    qe = queries_new(path);
    cr_assert_not_null(qe);
}

static void
teardown(void)
{
    queries_destroy(&qe);
    readmodel_close(&model);
    free(hist);
    scratch_remove(dir);
}

/* ---- asking ---------------------------------------------------------------- */

typedef struct {
    const char *key;
    char kind; /* 's' string, 'i' int, 'b' bool, 'n' nil */
    const char *s;
    int64_t i;
} kv_t;

static codec_writer_t req_w, rep_w;
static msgpack_unpacked reply;
static bool reply_live;

/* Runs raw request bytes through request_parse and queries_execute, like the
 * server does, and returns the decoded reply map. */
static const msgpack_object *
ask_raw(const void *buf, size_t len)
{
    request_t req;
    request_error_t err;
    codec_writer_fini(&rep_w);
    codec_writer_init(&rep_w);
    if (request_parse(buf, len, &req, &err) != 0)
        request_pack_error(&rep_w, &err);
    else
        queries_execute(qe, &req, &rep_w);
    if (reply_live)
        msgpack_unpacked_destroy(&reply);
    msgpack_unpacked_init(&reply);
    reply_live = true;
    const char *why;
    cr_assert_eq(codec_parse(rep_w.buf.data, rep_w.buf.size, &reply, &why), 0, "reply: %s", why);
    cr_assert_eq(reply.data.type, MSGPACK_OBJECT_MAP);
    return &reply.data;
}

static const msgpack_object *
ask(const char *type, const kv_t *kvs, int n)
{
    codec_writer_fini(&req_w);
    codec_writer_init(&req_w);
    codec_writer_t *w = &req_w;
    codec_map_open(w);
    codec_map_str(w, "type", type);
    for (int i = 0; i < n; i++) {
        if (kvs[i].kind == 's')
            codec_map_str(w, kvs[i].key, kvs[i].s);
        else if (kvs[i].kind == 'i')
            codec_map_int(w, kvs[i].key, kvs[i].i);
        else if (kvs[i].kind == 'b')
            codec_map_bool(w, kvs[i].key, kvs[i].i);
        else
            codec_map_nil(w, kvs[i].key);
    }
    codec_map_close(w);
    return ask_raw(req_w.buf.data, req_w.buf.size);
}

#define ASK(type, ...)                                                                             \
    ask(type, (const kv_t[]){__VA_ARGS__},                                                         \
        (int)(sizeof((const kv_t[]){__VA_ARGS__}) / sizeof(kv_t)))
#define ASK0(type) ask(type, NULL, 0)

static const msgpack_object *
get(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = codec_map_get(o, key);
    cr_assert_not_null(v, "reply has no %s", key);
    return v;
}

static int64_t
get_int(const msgpack_object *o, const char *key)
{
    int64_t v = 0;
    cr_assert_eq(codec_get_int(get(o, key), &v), 0, "%s is not an int", key);
    return v;
}

static bool
get_bool(const msgpack_object *o, const char *key)
{
    bool v = false;
    cr_assert_eq(codec_get_bool(get(o, key), &v), 0, "%s is not a bool", key);
    return v;
}

static const char *
get_str(const msgpack_object *o, const char *key)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    cr_assert_eq(codec_copy_str(get(o, key), b, 512), 0, "%s is not a string", key);
    return b;
}

static void
assert_ok(const msgpack_object *r)
{
    if (!get_bool(r, "ok"))
        cr_assert_fail("not ok: %s: %s", get_str(r, "error"), get_str(r, "message"));
}

static void
assert_error(const msgpack_object *r, const char *code)
{
    cr_assert_eq(get_bool(r, "ok"), false);
    cr_assert_str_eq(get_str(r, "error"), code, "message: %s", get_str(r, "message"));
    get_str(r, "message");
}

/* True when any key anywhere in o names a cost-derived value. */
static bool
has_cost_key(const msgpack_object *o)
{
    static const char *const banned[] = {"cost", "margin", "stock_value", "inventory_value"};
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (has_cost_key(&o->via.array.ptr[i]))
                return true;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        for (int b = 0; b < 4; b++)
            if (k->type == MSGPACK_OBJECT_STR &&
                memmem(k->via.str.ptr, k->via.str.size, banned[b], strlen(banned[b])))
                return true;
        if (has_cost_key(&o->via.map.ptr[i].val))
            return true;
    }
    return false;
}

static uint32_t
n_items(const msgpack_object *r)
{
    const msgpack_object *items = get(r, "items");
    cr_assert_eq(items->type, MSGPACK_OBJECT_ARRAY);
    return items->via.array.size;
}

static const msgpack_object *
item(const msgpack_object *r, uint32_t i)
{
    return &get(r, "items")->via.array.ptr[i];
}

TestSuite(queries, .init = setup, .fini = teardown, .timeout = 30);

/* ---- shapes ---------------------------------------------------------------- */

Test(queries, product_detail_has_card_detail_and_reviews)
{
    const msgpack_object *r = ASK("GetProductDetail", {"product_id", 's', "p01", 0});
    assert_ok(r);
    cr_assert_eq(get_int(r, "position"), hist->n);
    cr_assert(get_bool(r, "reached"));
    const msgpack_object *p = get(r, "product");
    cr_assert_str_eq(get_str(p, "product_id"), "p01");
    cr_assert_str_eq(get_str(p, "name"), "Red Widget 1");
    cr_assert_eq(get_int(p, "price_cents"), 950);
    cr_assert_eq(get_int(p, "previous_price_cents"), 900);
    cr_assert_eq(get_bool(p, "price_dropped"), false);
    cr_assert_eq(get_int(p, "stock"), 7);
    cr_assert(get_bool(p, "in_stock"));
    cr_assert_eq(get_bool(p, "low_stock"), false);
    cr_assert_eq(get_int(p, "review_count"), 6);
    cr_assert_eq(get(p, "avg_rating")->type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_float_eq(get(p, "avg_rating")->via.f64, 4.5, 1e-9);
    cr_assert_eq(get_int(p, "view_count"), 1);
    cr_assert_str_eq(get_str(p, "sku"), "SKU-p01");
    cr_assert_eq(get_bool(p, "discontinued"), false);
    cr_assert_gt(get_int(p, "version"), 1);
    const msgpack_object *reviews = get(p, "reviews");
    cr_assert_eq(reviews->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(reviews->via.array.size, 5);
    cr_assert_str_eq(get_str(&reviews->via.array.ptr[0], "review_id"), "r5");
    cr_assert_not(has_cost_key(r));
}

Test(queries, unknown_product_is_not_found_with_position)
{
    const msgpack_object *r = ASK("GetProductDetail", {"product_id", 's', "nope", 0});
    assert_error(r, "not_found");
    cr_assert_eq(get_int(r, "position"), hist->n);
    r = ASK("GetAdminProduct", {"product_id", 's', "nope", 0});
    assert_error(r, "not_found");
    r = ASK("PriceHistory", {"product_id", 's', "nope", 0});
    assert_error(r, "not_found");
}

Test(queries, admin_product_has_cost_stock_value_and_margin)
{
    const msgpack_object *r = ASK("GetAdminProduct", {"product_id", 's', "p01", 0});
    assert_ok(r);
    const msgpack_object *p = get(r, "product");
    cr_assert_eq(get_int(p, "cost_price_cents"), 600);
    cr_assert_eq(get_int(p, "stock_value_cents"), 7 * 600);
    cr_assert_eq(get_int(p, "margin_cents"), 350);
    cr_assert_float_eq(get(p, "margin_percent")->via.f64, 36.84, 1e-9);
    cr_assert_eq(get_int(p, "units_sold"), 3);
}

Test(queries, no_public_reply_carries_a_cost_field)
{
    const msgpack_object *r;
    r = ASK("GetProductDetail", {"product_id", 's', "p01", 0});
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "detail");
    r = ASK("ListProducts", {"include_discontinued", 'b', NULL, 1}, {"limit", 'i', NULL, 100});
    assert_ok(r);
    cr_assert_eq(n_items(r), 25);
    cr_assert_not(has_cost_key(r), "list");
    r = ASK("SearchProducts", {"q", 's', "widget", 0});
    assert_ok(r);
    cr_assert_gt(n_items(r), 0);
    cr_assert_not(has_cost_key(r), "search");
    r = ASK0("TopRated");
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "top rated");
    r = ASK0("LowStock");
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "low stock");
    r = ASK0("ListSuppliers");
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "suppliers");
    r = ASK("PriceHistory", {"product_id", 's', "p01", 0});
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "price history");
    r = ASK0("Status");
    assert_ok(r);
    cr_assert_not(has_cost_key(r), "status");
    /* the admin reply does carry them: the check above can see them */
    cr_assert(has_cost_key(ASK("GetAdminProduct", {"product_id", 's', "p01", 0})));
}

Test(queries, writes_through_the_query_connection_fail)
{
    cr_assert_eq(queries_refresh(qe), 0);
    struct sqlite3 *db = queries_db(qe);
    cr_assert_not_null(db);
    cr_assert_neq(sqlite3_exec(db, "DELETE FROM products", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_neq(sqlite3_exec(db, "UPDATE checkpoint SET position = 0", NULL, NULL, NULL),
                  SQLITE_OK);
    cr_assert_neq(sqlite3_exec(db, "CREATE TABLE evil(x)", NULL, NULL, NULL), SQLITE_OK);
    const msgpack_object *r = ASK0("Status");
    assert_ok(r);
    cr_assert_eq(get_int(r, "position"), hist->n);
}

Test(queries, status_reply)
{
    const msgpack_object *r = ASK0("Status");
    assert_ok(r);
    cr_assert_str_eq(get_str(r, "service"), "query");
    cr_assert_eq(get_int(r, "position"), hist->n);
    cr_assert(get_bool(r, "reached"));
    r = ASK("Status", {"min_position", 'i', NULL, hist->n + 1});
    assert_ok(r);
    cr_assert_eq(get_bool(r, "reached"), false);
}

/* ---- lists ----------------------------------------------------------------- */

Test(queries, list_products_pages_with_cursor)
{
    char seen[32][ID_MAX + 1];
    int n_seen = 0, pages = 0;
    char cursor[REQUEST_CURSOR_MAX + 1] = "";
    for (;;) {
        const msgpack_object *r = ASK("ListProducts", {"limit", 'i', NULL, 10},
                                      {"cursor", cursor[0] ? 's' : 'n', cursor, 0});
        assert_ok(r);
        pages++;
        for (uint32_t i = 0; i < n_items(r); i++)
            snprintf(seen[n_seen++], ID_MAX + 1, "%s", get_str(item(r, i), "product_id"));
        const msgpack_object *next = get(r, "next_cursor");
        if (next->type == MSGPACK_OBJECT_NIL)
            break;
        cr_assert_eq(codec_copy_str(next, cursor, sizeof cursor), 0);
        cr_assert_lt(pages, 5);
    }
    cr_assert_eq(pages, 3);
    cr_assert_eq(n_seen, 24); /* p24 is discontinued */
    for (int i = 1; i < n_seen; i++)
        cr_assert_lt(strcmp(seen[i - 1], seen[i]), 0, "order/duplicates at %d", i);
}

Test(queries, list_products_default_limit_and_bad_paging)
{
    const msgpack_object *r = ASK0("ListProducts");
    assert_ok(r);
    cr_assert_eq(n_items(r), REQUEST_LIMIT_DEFAULT);
    assert_error(ASK("ListProducts", {"limit", 'i', NULL, 101}), "validation");
    assert_error(ASK("ListProducts", {"limit", 'i', NULL, 0}), "validation");
    assert_error(ASK("ListProducts", {"cursor", 's', "zz", 0}), "validation");
    assert_error(ASK("ListProducts", {"cursor", 's', "p7", 0}), "validation");
    assert_error(ASK("ListProducts", {"cursor", 's', "o10", 0}), "validation");
    assert_error(ASK("TopRated", {"cursor", 's', "o99999999", 0}), "validation");
    assert_error(ASK("TopRated", {"cursor", 's', "p70", 0}), "validation");
}

Test(queries, list_products_filters)
{
    const msgpack_object *r = ASK("ListProducts", {"supplier_id", 's', "s2", 0});
    assert_ok(r);
    cr_assert_eq(n_items(r), 4); /* p20..p23; p24 discontinued */
    cr_assert_str_eq(get_str(item(r, 0), "supplier_name"), "Umbrella Corp");
    r = ASK("ListProducts", {"supplier_id", 's', "s2", 0}, {"include_discontinued", 'b', NULL, 1});
    cr_assert_eq(n_items(r), 5);
    cr_assert(get_bool(item(r, 4), "discontinued"));
    r = ASK("ListProducts", {"in_stock", 'b', NULL, 0}, {"limit", 'i', NULL, 100});
    cr_assert_eq(n_items(r), 1);
    cr_assert_str_eq(get_str(item(r, 0), "product_id"), "p03");
    r = ASK("ListProducts", {"in_stock", 'b', NULL, 1}, {"limit", 'i', NULL, 100});
    cr_assert_eq(n_items(r), 23);
}

Test(queries, suppliers_with_counts)
{
    const msgpack_object *r = ASK0("ListSuppliers");
    assert_ok(r);
    cr_assert_eq(n_items(r), 2);
    cr_assert_str_eq(get_str(item(r, 1), "name"), "Umbrella Corp");
    cr_assert_eq(get_int(item(r, 0), "product_count"), 20);
    cr_assert_eq(get_int(item(r, 1), "product_count"), 5);
    cr_assert_eq(get_int(item(r, 1), "active_product_count"), 4);
    r = ASK("ListSuppliers", {"limit", 'i', NULL, 1});
    cr_assert_eq(n_items(r), 1);
    char cursor[REQUEST_CURSOR_MAX + 1];
    cr_assert_eq(codec_copy_str(get(r, "next_cursor"), cursor, sizeof cursor), 0);
    r = ASK("ListSuppliers", {"limit", 'i', NULL, 1}, {"cursor", 's', cursor, 0});
    cr_assert_str_eq(get_str(item(r, 0), "supplier_id"), "s2");
    cr_assert_eq(get(r, "next_cursor")->type, MSGPACK_OBJECT_NIL);
}

Test(queries, top_rated_needs_three_reviews)
{
    const msgpack_object *r = ASK0("TopRated");
    assert_ok(r);
    cr_assert_eq(n_items(r), 2);
    cr_assert_str_eq(get_str(item(r, 0), "product_id"), "p02"); /* 5.0 over 4.5 */
    cr_assert_str_eq(get_str(item(r, 1), "product_id"), "p01");
}

Test(queries, low_stock_lists_products_below_threshold)
{
    const msgpack_object *r = ASK0("LowStock");
    assert_ok(r);
    cr_assert_eq(n_items(r), 2);
    cr_assert_str_eq(get_str(item(r, 0), "product_id"), "p03");
    cr_assert(get_bool(item(r, 0), "out_of_stock"));
    cr_assert_str_eq(get_str(item(r, 1), "product_id"), "p04");
    cr_assert_eq(get_int(item(r, 1), "low_stock_threshold"), 20);
    r = ASK("LowStock", {"limit", 'i', NULL, 1});
    cr_assert_eq(n_items(r), 1);
    cr_assert_str_eq(get_str(r, "next_cursor"), "o1");
    r = ASK("LowStock", {"limit", 'i', NULL, 1}, {"cursor", 's', "o1", 0});
    cr_assert_str_eq(get_str(item(r, 0), "product_id"), "p04");
    cr_assert_eq(get(r, "next_cursor")->type, MSGPACK_OBJECT_NIL);
}

Test(queries, dashboard_figures)
{
    const msgpack_object *r = ASK0("Dashboard");
    assert_ok(r);
    cr_assert_eq(get_int(r, "product_count"), 24);
    cr_assert_eq(get_int(r, "discontinued_count"), 1);
    cr_assert_eq(get_int(r, "supplier_count"), 2);
    cr_assert_eq(get_int(r, "low_stock_count"), 2);
    cr_assert_eq(get_int(r, "out_of_stock_count"), 1);
    cr_assert_eq(get_int(r, "inventory_value_cents"),
                 (25 * 10 - 10 - 3 + 2) * 600 /* all stock, discontinued too */);
    cr_assert_eq(get_int(r, "units_sold_today"), 3);
    cr_assert_eq(get_int(r, "revenue_today_cents"), 3 * 950);
    cr_assert_str_eq(get_str(r, "today"), "2026-01-01");
    const msgpack_object *best = get(r, "best_sellers");
    cr_assert_eq(best->via.array.size, 1);
    cr_assert_str_eq(get_str(&best->via.array.ptr[0], "product_id"), "p01");
    cr_assert_eq(get(r, "best_sellers_today")->via.array.size, 1);
}

Test(queries, price_history_in_order)
{
    const msgpack_object *r = ASK("PriceHistory", {"product_id", 's', "p01", 0});
    assert_ok(r);
    cr_assert_eq(n_items(r), 2);
    cr_assert_eq(get_int(item(r, 0), "old_price_cents"), 1001);
    cr_assert_eq(get_int(item(r, 0), "new_price_cents"), 900);
    cr_assert_eq(get_int(item(r, 1), "new_price_cents"), 950);
    cr_assert_gt(get_int(item(r, 1), "recorded_at"), get_int(item(r, 0), "recorded_at"));
    r = ASK("PriceHistory", {"product_id", 's', "p01", 0}, {"limit", 'i', NULL, 1});
    char cursor[REQUEST_CURSOR_MAX + 1];
    cr_assert_eq(codec_copy_str(get(r, "next_cursor"), cursor, sizeof cursor), 0);
    r = ASK("PriceHistory", {"product_id", 's', "p01", 0}, {"cursor", 's', cursor, 0});
    cr_assert_eq(n_items(r), 1);
    cr_assert_eq(get_int(item(r, 0), "new_price_cents"), 950);
    r = ASK("PriceHistory", {"product_id", 's', "p05", 0});
    assert_ok(r);
    cr_assert_eq(n_items(r), 0);
}

/* ---- search ---------------------------------------------------------------- */

Test(queries, search_by_name_prefix_description_and_supplier)
{
    const msgpack_object *r = ASK("SearchProducts", {"q", 's', "blue widget", 0});
    assert_ok(r);
    cr_assert_eq(n_items(r), 12); /* even ids p00..p22; p24 discontinued */
    r = ASK("SearchProducts", {"q", 's', "wid", 0}, {"limit", 'i', NULL, 100});
    cr_assert_eq(n_items(r), 24);
    r = ASK("SearchProducts", {"q", 's', "umbrella", 0});
    cr_assert_eq(n_items(r), 4);
    r = ASK("SearchProducts", {"q", 's', "globex", 0});
    cr_assert_eq(n_items(r), 0, "the old supplier name must be gone from the index");
    r = ASK("SearchProducts", {"q", 's', "umbrella", 0}, {"include_discontinued", 'b', NULL, 1});
    cr_assert_eq(n_items(r), 5);
    r = ASK("SearchProducts", {"q", 's', "STURDY", 0}, {"limit", 'i', NULL, 5});
    cr_assert_eq(n_items(r), 5);
    cr_assert_str_eq(get_str(r, "next_cursor"), "o5");
}

Test(queries, search_survives_hostile_input)
{
    static const char *const hostile[] = {
        "\"",
        "*",
        "NEAR(",
        "'; DROP TABLE products; --",
        "a AND OR NOT",
        "name:blue",
        "^",
        "-",
        "\"\"\"",
        "blue\" OR \"1\"=\"1",
        "NEAR(blue red, 2)",
        "{name description}: x",
        "(((((",
        ")",
        "+",
        "\xe2\x80\x94",
        "\xf0\x9f\x98\x80",
        "widget*",
        "AND",
        "OR blue",
        "\\",
        "%",
        "_",
        "blue NOT",
        "rowid:1",
        "*blue",
        "\x7f",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const msgpack_object *r = ASK("SearchProducts", {"q", 's', hostile[i], 0});
        assert_ok(r);
        (void)n_items(r);
    }
    const msgpack_object *r = ASK("SearchProducts", {"q", 's', "blue\" OR \"1\"=\"1", 0});
    cr_assert_eq(n_items(r), 0); /* all four terms must match: "1" does not */
    r = ASK("SearchProducts", {"q", 's', "NEAR(blue", 0});
    cr_assert_eq(n_items(r), 0); /* NEAR is a plain word here */
    r = ASK("SearchProducts", {"q", 's', "(blue)", 0});
    cr_assert_eq(n_items(r), 12);
    /* the model is intact */
    cr_assert_eq(n_items(ASK("ListProducts", {"limit", 'i', NULL, 100})), 24);
}

Test(queries, search_input_rules)
{
    assert_error(ASK("SearchProducts", {"q", 's', "", 0}), "validation");
    assert_error(ASK0("SearchProducts"), "validation");
    assert_error(ASK("SearchProducts", {"q", 's', "\xff\xfe", 0}), "validation");
    char big[REQUEST_Q_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_error(ASK("SearchProducts", {"q", 's', big, 0}), "validation");
    assert_error(ASK("SearchProducts", {"q", 'i', NULL, 5}), "malformed");
}

/* ---- request decoding ------------------------------------------------------ */

Test(queries, malformed_requests)
{
    assert_error(ask_raw("\x93\x01\x02\x03", 4), "malformed");     /* array */
    assert_error(ask_raw("\x01", 1), "malformed");                 /* int */
    assert_error(ask_raw("", 0), "malformed");                     /* empty */
    assert_error(ask_raw("\x81\xa4type", 6), "malformed");         /* truncated */
    assert_error(ask_raw("\xdf\xff\xff\xff\xff", 5), "malformed"); /* huge map count */
    assert_error(ask_raw("\x80\x80", 2), "malformed");             /* trailing bytes */
    assert_error(ask_raw("\x80", 1), "malformed");                 /* no type */
    assert_error(ASK0("DropEverything"), "malformed");
    assert_error(ASK("GetProductDetail", {"product_id", 'i', NULL, 7}), "malformed");
    assert_error(ASK("ListProducts", {"limit", 's', "10", 0}), "malformed");
    assert_error(ASK("ListProducts", {"in_stock", 'i', NULL, 1}), "malformed");
    assert_error(ASK("Status", {"min_position", 's', "1", 0}), "malformed");
    /* {1: 2, "type": "Status"}: a key that is not a string */
    assert_error(ask_raw("\x82\x01\x02\xa4type\xa6Status", 14), "malformed");
    /* {"type": "Status", "wait_ms": 1, "wait_ms": 2} */
    assert_error(ask_raw("\x83\xa4type\xa6Status\xa7wait_ms\x01\xa7wait_ms\x02", 30), "malformed");
    /* {"type": 5} */
    assert_error(ask_raw("\x81\xa4type\x05", 7), "malformed");
}

Test(queries, validation_requests)
{
    assert_error(ASK("GetProductDetail", {"product_id", 's', "bad id!", 0}), "validation");
    assert_error(ASK0("GetProductDetail"), "validation");
    assert_error(ASK("GetProductDetail", {"product_id", 's', "p01", 0}, {"q", 's', "x", 0}),
                 "validation");
    assert_error(ASK("Status", {"bogus", 'i', NULL, 1}), "validation");
    assert_error(ASK("Status", {"min_position", 'i', NULL, -1}), "validation");
    assert_error(ASK("Status", {"wait_ms", 'i', NULL, -5}), "validation");
    assert_error(ASK("ListProducts", {"supplier_id", 's', "\xc3\x28", 0}), "validation");
    const msgpack_object *r =
        ASK("GetProductDetail", {"product_id", 's', "x", 0}, {"zzz", 's', "\xff", 0});
    assert_error(r, "validation");
    cr_assert_eq(get(r, "fields")->type, MSGPACK_OBJECT_MAP);
}

Test(queries, oversized_request_is_malformed)
{
    size_t len = CODEC_MAX_MESSAGE + 100;
    char *buf = malloc(len);
    cr_assert_not_null(buf);
    memcpy(buf, "\x82\xa4type\xa6Status\xa1q\xdb", 16);
    uint32_t n = (uint32_t)(len - 20);
    buf[16] = (char)(n >> 24);
    buf[17] = (char)(n >> 16);
    buf[18] = (char)(n >> 8);
    buf[19] = (char)n;
    memset(buf + 20, 'a', len - 20);
    assert_error(ask_raw(buf, len), "malformed");
    free(buf);
}

Test(queries, nil_params_are_absent_and_wait_is_capped)
{
    request_t req;
    request_error_t err;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", "ListProducts");
    codec_map_nil(&w, "cursor");
    codec_map_int(&w, "wait_ms", 999999);
    codec_map_str(&w, "correlation_id", "corr-1");
    codec_map_close(&w);
    cr_assert_eq(request_parse(w.buf.data, w.buf.size, &req, &err), 0, "%s", err.message);
    cr_assert_eq(req.wait_ms, REQUEST_WAIT_MAX_MS);
    cr_assert_eq(req.present & RP_CURSOR, 0);
    cr_assert_str_eq(req.correlation_id, "corr-1");
    cr_assert_eq(req.limit, REQUEST_LIMIT_DEFAULT);
    codec_writer_fini(&w);
}

/* ---- availability ---------------------------------------------------------- */

Test(queries, unavailable_until_the_file_exists)
{
    char later[160];
    snprintf(later, sizeof later, "%s/later.db", dir);
    queries_t *saved = qe;
    qe = queries_new(later);
    assert_error(ASK0("Status"), "unavailable");
    assert_error(ASK("GetProductDetail", {"product_id", 's', "p01", 0}), "unavailable");
    readmodel_t *m = readmodel_open(later, NULL);
    cr_assert_not_null(m);
    readmodeltest_apply(m, hist, 0, 3);
    const msgpack_object *r = ASK0("Status");
    assert_ok(r);
    cr_assert_eq(get_int(r, "position"), 3);
    readmodel_close(&m);
    queries_destroy(&qe);
    qe = saved;
}

Test(queries, reopens_when_the_file_is_swapped)
{
    /* The runtime's rebuild layout: live path is a symlink to a generation. */
    char gen1[160], gen2[160], link_path[160], tmp[170];
    snprintf(gen1, sizeof gen1, "%s/live.db.1", dir);
    snprintf(gen2, sizeof gen2, "%s/live.db.2", dir);
    snprintf(link_path, sizeof link_path, "%s/live.db", dir);
    snprintf(tmp, sizeof tmp, "%s.link", link_path);
    readmodel_t *a = readmodel_open(gen1, NULL), *b = readmodel_open(gen2, NULL);
    cr_assert(a && b);
    readmodeltest_apply(a, hist, 0, 5);
    readmodeltest_apply(b, hist, 0, 9);
    cr_assert_eq(symlink("live.db.1", link_path), 0);
    queries_t *saved = qe;
    qe = queries_new(link_path);
    cr_assert_eq(get_int(ASK0("Status"), "position"), 5);
    cr_assert_eq(symlink("live.db.2", tmp), 0);
    cr_assert_eq(rename(tmp, link_path), 0);
    cr_assert_eq(get_int(ASK0("Status"), "position"), 9);
    readmodel_close(&a);
    unlink(gen1);
    cr_assert_eq(get_int(ASK0("Status"), "position"), 9);
    readmodel_close(&b);
    queries_destroy(&qe);
    qe = saved;
}

/* A model of its own in dir/name (path in out), at position 5. */
static readmodel_t *
model_at_5(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
    readmodel_t *m = readmodel_open(out, NULL);
    cr_assert_not_null(m);
    readmodeltest_apply(m, hist, 0, 5);
    return m;
}

/* queries_begin_batch: the server's drain answers its requests from one
 * read transaction; a commit in between shows only after the batch. */
Test(queries, a_batch_reads_one_snapshot)
{
    char live[160];
    readmodel_t *a = model_at_5("batch.db", live, sizeof live);
    queries_t *saved = qe;
    qe = queries_new(live);
    queries_begin_batch(qe);
    cr_assert_eq(get_int(ASK0("Status"), "position"), 5);
    readmodeltest_apply(a, hist, 5, 9); /* the projector commits meanwhile (WAL: not blocked) */
    cr_assert_eq(get_int(ASK0("Status"), "position"), 5, "same snapshot within the batch");
    int64_t pos = -1;
    cr_assert_eq(queries_position(qe, &pos), 0);
    cr_assert_eq(pos, 5);
    queries_end_batch(qe);
    cr_assert_eq(get_int(ASK0("Status"), "position"), 9, "the next batch sees the commit");
    cr_assert_eq(queries_position(qe, &pos), 0);
    cr_assert_eq(pos, 9);
    cr_assert(sqlite3_get_autocommit(queries_db(qe)), "no read transaction left open");
    readmodel_close(&a);
    queries_destroy(&qe);
    qe = saved;
}

/* ---- the server: waiting without blocking ---------------------------------- */

static void *
server_thread(void *arg)
{
    server_run(arg);
    return NULL;
}

/* Sends a Status request with the given wait on a fresh DEALER. */
static void *
send_status(void *ctx, int64_t min_position, int64_t wait_ms)
{
    void *d = bus_connect(ctx, ZMQ_DEALER, "inproc://queries-test");
    cr_assert_not_null(d);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_status_wait(&w, min_position, wait_ms);
    cr_assert_eq(zmq_send(d, w.buf.data, w.buf.size, 0), (int)w.buf.size);
    codec_writer_fini(&w);
    return d;
}

/* Waits up to timeout_ms for d's reply; returns its position and reached,
 * or -1 when nothing came. */
static int64_t
recv_status(void *d, int timeout_ms, bool *reached)
{
    zmq_pollitem_t it = {d, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return -1;
    char buf[512];
    int n = zmq_recv(d, buf, sizeof buf, 0);
    cr_assert_gt(n, 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    cr_assert_eq(codec_parse(buf, (size_t)n, &u, &why), 0);
    int64_t pos = get_int(&u.data, "position");
    *reached = get_bool(&u.data, "reached");
    msgpack_unpacked_destroy(&u);
    return pos;
}

Test(queries, waiting_requests_do_not_block_others)
{
    char p2[160];
    readmodel_t *m = model_at_5("wait.db", p2, sizeof p2);
    queries_t *q = queries_new(p2);
    void *ctx = zmq_ctx_new();
    void *router = bus_bind(ctx, ZMQ_ROUTER, "inproc://queries-test");
    cr_assert_not_null(router);
    server_t *srv = server_new(router, q, NULL);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, server_thread, srv), 0);

    void *waiter = send_status(ctx, 8, 4000);
    void *short_wait = send_status(ctx, 1000, 150);
    bool reached = true;
    cr_assert_eq(recv_status(waiter, 50, &reached), -1, "answered before position 8");
    void *other = send_status(ctx, 0, 0);
    cr_assert_eq(recv_status(other, 1000, &reached), 5, "a plain request was blocked");
    cr_assert(reached);

    int64_t t0 = proc_mono_ms();
    readmodeltest_apply(m, hist, 5, 8);
    cr_assert_eq(recv_status(waiter, 2000, &reached), 8);
    cr_assert(reached);
    cr_assert_lt(proc_mono_ms() - t0, 500, "the wait took too long");

    cr_assert_eq(recv_status(short_wait, 2000, &reached), 8);
    cr_assert_not(reached, "timed-out wait must say reached=false");

    void *at_stop = send_status(ctx, 1000, 5000);
    usleep(20000);
    proc_request_stop();
    cr_assert_eq(recv_status(at_stop, 2000, &reached), 8, "parked request not answered at stop");
    pthread_join(th, NULL);
    cr_assert_eq(server_pending(srv), 0);

    bus_close(&waiter);
    bus_close(&short_wait);
    bus_close(&other);
    bus_close(&at_stop);
    server_destroy(&srv);
    bus_close(&router);
    zmq_ctx_term(ctx);
    queries_destroy(&q);
    readmodel_close(&m);
}

/* ---- 64-bit extremes (issue 23, item 3) ------------------------------------- */

/* History written before the domain's bounds: two products of stock 2^31
 * at cost 2^31 made every Dashboard answer unavailable ("integer
 * overflow" in sum()), and stock_value_cents came back as a float. */
Test(queries, dashboard_keeps_answering_past_int64)
{
    int from = hist->n;
    ev_product(hist, "big1", "Big One", "s1", "Acme", 10, INT64_C(1) << 31, INT64_C(1) << 31, 0);
    ev_product(hist, "big2", "Big Two", "s1", "Acme", 10, INT64_C(1) << 31, INT64_C(1) << 31, 0);
    ev_product(hist, "big3", "Big Three", "s1", "Acme", INT64_C(1) << 62, 0, 10, 0);
    ev_sold(hist, "big3", 4, INT64_C(1) << 62, 10);
    readmodeltest_apply(model, hist, from, hist->n);
    const msgpack_object *r = ASK0("Dashboard");
    assert_ok(r);
    cr_assert_eq(get(r, "inventory_value_cents")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(get_int(r, "inventory_value_cents"), INT64_MAX);
    cr_assert_eq(get_int(r, "revenue_today_cents"), INT64_MAX);
    cr_assert_eq(get_int(r, "units_sold_today"), 3 + 4);
    r = ASK("GetAdminProduct", {"product_id", 's', "big1", 0});
    assert_ok(r);
    const msgpack_object *p = get(r, "product");
    cr_assert_eq(get(p, "stock_value_cents")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(get_int(p, "stock_value_cents"), INT64_C(1) << 62);
    r = ASK("GetAdminProduct", {"product_id", 's', "big3", 0});
    assert_ok(r);
    cr_assert_eq(get_int(get(r, "product"), "revenue_cents"), INT64_MAX);
}

/* An integer column that holds a REAL (SQL arithmetic that overflowed in a
 * model written before the views saturated) is still sent as an integer,
 * clamped; avg_rating and margin_percent stay floats. */
Test(queries, a_real_in_an_integer_column_is_sent_as_an_integer)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE product_counters SET units_sold = 1e19, revenue_cents = -1e19"
                              " WHERE pid = (SELECT pid FROM products WHERE product_id = 'p01')",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    const msgpack_object *r = ASK("GetAdminProduct", {"product_id", 's', "p01", 0});
    assert_ok(r);
    const msgpack_object *p = get(r, "product");
    cr_assert_eq(get_int(p, "units_sold"), INT64_MAX);
    cr_assert_eq(get_int(p, "revenue_cents"), INT64_MIN);
    cr_assert_eq(get(p, "margin_percent")->type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_eq(get(p, "avg_rating")->type, MSGPACK_OBJECT_FLOAT64);
}
