/* The whole pipeline with the real daemons: a command goes in, and the
 * projector, the audit trail and the alerts each show its consequences once
 * their checkpoints cover its position. */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h); /* a no-op when the test already destroyed it */
}

TestSuite(pipeline, .fini = cleanup, .timeout = 240);

/* Waits until every read side covers `position`. */
static void
wait_all(int64_t position)
{
    itest_wait_all(h, position, ITEST_WAIT_MS);
}

static int64_t
sell(const char *command_id, const char *order_id, int64_t quantity)
{
    command_t c;
    itest_sell_cmd(&c, command_id, "p1", order_id, quantity);
    return itest_accept(h, &c);
}

/* A field of the product in a GetProductDetail reply: inside "product", or
 * at the top level. */
static const msgpack_object *
product_field(const harness_reply_t *r, const char *key)
{
    const msgpack_object *p = harness_reply_get(r, "product");
    const msgpack_object *v = p ? codec_map_get(p, key) : NULL;
    return v ? v : harness_reply_get(r, key);
}

static void
request_map(const char *ep, codec_writer_t *w, harness_reply_t *r)
{
    cr_assert_eq(harness_request(h, ep, w->buf.data, w->buf.size, ITEST_TIMEOUT_MS, r), 0,
                 "%s did not answer", ep);
    cr_assert(r->parsed, "%s answered something that is not msgpack", ep);
    char err[64], msg[256];
    harness_reply_str(r, "error", err, sizeof err);
    harness_reply_str(r, "message", msg, sizeof msg);
    cr_assert(harness_reply_ok(r), "%s refused the request: %s (%s)", ep, err, msg);
}

/* Counts ListAlerts items of product p1 by kind. */
static void
count_alerts(int64_t min_position, int *low, int *out, int *total)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ListAlerts");
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "limit", 100);
    harness_reply_t r;
    request_map("alert-api", &w, &r);
    cr_assert(harness_reply_ok(&r), "ListAlerts failed");
    int64_t pos = 0;
    cr_assert_eq(harness_reply_int(&r, "position", &pos), 0);
    cr_assert_geq(pos, min_position);
    const msgpack_object *items = itest_items(&r);
    *low = *out = 0;
    *total = (int)items->via.array.size;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *a = &items->via.array.ptr[i];
        cr_assert(itest_str_is(a, "product_id", "p1"));
        if (itest_str_is(a, "kind", "low_stock"))
            (*low)++;
        if (itest_str_is(a, "kind", "out_of_stock"))
            (*out)++;
    }
    harness_reply_fini(&r);
    codec_writer_fini(&w);
}

Test(pipeline, sale_reaches_every_read_model)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");

    command_t c;
    itest_supplier_cmd(&c, "reg-s1", "s1", "Acme Tools");
    itest_accept(h, &c);

    itest_product_cmd(&c, "create-p1", "p1", "s1", "HAM-001", "Claw hammer",
                      "16 oz, fibreglass handle", 1999, 1200, 40, 10);
    itest_accept(h, &c);

    int64_t p = sell("sell-1", "o-1", 35);
    wait_all(p);

    /* projector + query: the product detail */
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "GetProductDetail");
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "min_position", p);
    codec_pack_kv_int(&w.pk, "wait_ms", 3000);
    harness_reply_t r;
    request_map("query", &w, &r);
    cr_assert(harness_reply_ok(&r), "GetProductDetail failed");
    const msgpack_object *v;
    bool b = false;
    int64_t n = -1;
    cr_assert_eq(harness_reply_int(&r, "position", &n), 0);
    cr_assert_geq(n, p);
    cr_assert((v = harness_reply_get(&r, "reached")) && codec_get_bool(v, &b) == 0 && b);
    cr_assert((v = product_field(&r, "stock")) && codec_get_int(v, &n) == 0);
    cr_assert_eq(n, 5);
    cr_assert((v = product_field(&r, "supplier_name")) && v->type == MSGPACK_OBJECT_STR);
    cr_assert(itest_has_text(v, "Acme Tools"));
    cr_assert((v = product_field(&r, "low_stock")) && codec_get_bool(v, &b) == 0);
    cr_assert(b, "5 < threshold 10 is low stock");
    cr_assert_null(product_field(&r, "cost_price_cents"), "the public detail has no cost price");
    harness_reply_fini(&r);

    /* audit: two rows for the product stream, with what changed */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "SearchAudit");
    codec_pack_kv_str(&w.pk, "stream", "product-p1");
    request_map("audit", &w, &r);
    cr_assert(harness_reply_ok(&r), "SearchAudit failed");
    const msgpack_object *items = itest_items(&r);
    cr_assert_eq(items->via.array.size, 2);
    bool created = false, sold = false;
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *row = &items->via.array.ptr[i];
        cr_assert(itest_has_text(row, "product-p1"));
        if (itest_has_text(row, "ProductCreated"))
            created = true;
        if (itest_has_text(row, "ProductSold")) {
            sold = true;
            cr_assert(itest_has_text(row, "40 -> 5"), "the sale row shows stock 40 -> 5");
        }
    }
    cr_assert(created && sold);
    harness_reply_fini(&r);
    codec_writer_fini(&w);

    /* alerts: one low_stock, not repeated by the next sale */
    int low, out, total;
    count_alerts(p, &low, &out, &total);
    cr_assert_eq(low, 1);
    cr_assert_eq(out, 0);
    cr_assert_eq(total, 1);

    p = sell("sell-2", "o-2", 1);
    wait_all(p);
    count_alerts(p, &low, &out, &total);
    cr_assert_eq(low, 1, "still one low_stock alert after another sale below the threshold");
    cr_assert_eq(out, 0);

    p = sell("sell-3", "o-3", 4);
    wait_all(p);
    count_alerts(p, &low, &out, &total);
    cr_assert_eq(low, 1);
    cr_assert_eq(out, 1, "selling the rest raises out_of_stock");

    /* selling from an empty shelf is rejected and changes nothing */
    command_t s;
    itest_cmd(&s, CMD_SELL_PRODUCT, "sell-4");
    fields_set_str(&s.data, F_PRODUCT_ID, "p1");
    fields_set_str(&s.data, F_ORDER_ID, "o-4");
    fields_set_int(&s.data, F_QUANTITY, 1);
    command_reply_t rep;
    cr_assert_eq(harness_command(h, &s, ITEST_TIMEOUT_MS, &rep), 0);
    cr_assert_not(rep.accepted);
    cr_assert_eq(rep.error, REJ_INSUFFICIENT_STOCK);

    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}
