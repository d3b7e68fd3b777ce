/* The domain of DOMAIN.md, row by row, against the running daemons: every
 * command and the event it produces (read back through the relay's
 * catch-up endpoint), every rule and error code, idempotency across a
 * restart, history and as-of, every read model through the query service,
 * read-your-writes, the audit search, the alerts (stored and live), and the
 * invctl commands that read history and watch the bus.
 *
 * Synchronisation is by observation only: read models are read with
 * min_position/wait_ms or after harness_wait_position; live messages are
 * waited for with bounded polls. */
#include "harness.h"
#include "itest.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(domain, .fini = cleanup, .timeout = 120);

static void
start(void)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
}

static void
finish(void)
{
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* ---- commands -------------------------------------------------------------- */

static void
send_cmd(const command_t *c, command_reply_t *r)
{
    cr_assert_eq(harness_command(h, c, ITEST_TIMEOUT_MS, r), 0, "%s: no reply", c->command_id);
}

/* A command naming one entity (key_field: id) and setting one string field. */
static int64_t
accept_str(command_type_t type, const char *cid, field_id_t key_field, const char *id,
           field_id_t field, const char *value)
{
    command_t c;
    itest_cmd(&c, type, cid);
    fields_set_str(&c.data, key_field, id);
    fields_set_str(&c.data, field, value);
    return itest_accept(h, &c);
}

/* A command on product pid setting one integer field. */
static int64_t
accept_int(command_type_t type, const char *cid, const char *pid, field_id_t field, int64_t value)
{
    command_t c;
    itest_cmd(&c, type, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, pid);
    fields_set_int(&c.data, field, value);
    return itest_accept(h, &c);
}

static int64_t
register_supplier(const char *cid, const char *sid, const char *name)
{
    return accept_str(CMD_REGISTER_SUPPLIER, cid, F_SUPPLIER_ID, sid, F_NAME, name);
}

static void
product_cmd(command_t *c, const char *cid, const char *pid, const char *sid, const char *name,
            const char *desc, int64_t price, int64_t cost, int64_t stock, int64_t threshold)
{
    char sku[64];
    snprintf(sku, sizeof sku, "SKU-%s", pid);
    itest_product_cmd(c, cid, pid, sid, sku, name, desc, price, cost, stock, threshold);
}

static int64_t
create_product(const char *cid, const char *pid, const char *sid, const char *name,
               const char *desc, int64_t price, int64_t cost, int64_t stock, int64_t threshold)
{
    command_t c;
    product_cmd(&c, cid, pid, sid, name, desc, price, cost, stock, threshold);
    return itest_accept(h, &c);
}

static int64_t
sell(const char *cid, const char *pid, const char *order, int64_t qty)
{
    command_t c;
    itest_sell_cmd(&c, cid, pid, order, qty);
    return itest_accept(h, &c);
}

static int64_t
change_price(const char *cid, const char *pid, int64_t price)
{
    return accept_int(CMD_CHANGE_PRICE, cid, pid, F_PRICE_CENTS, price);
}

static int64_t
update_stock(const char *cid, const char *pid, int64_t stock)
{
    return accept_int(CMD_UPDATE_STOCK, cid, pid, F_NEW_STOCK, stock);
}

static int64_t
view(const char *cid, const char *pid)
{
    command_t c;
    itest_cmd(&c, CMD_RECORD_PRODUCT_VIEW, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, pid);
    return itest_accept(h, &c);
}

/* One more view of p1 (itest_watch_one_event's producer). */
static void
view_p1(int i)
{
    char cid[32];
    snprintf(cid, sizeof cid, "view-%d", i);
    view(cid, "p1");
}

static int64_t
review(const char *cid, const char *pid, const char *rid, int64_t rating, const char *comment)
{
    command_t c;
    itest_cmd(&c, CMD_SUBMIT_REVIEW, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, pid);
    fields_set_str(&c.data, F_REVIEW_ID, rid);
    fields_set_str(&c.data, F_CUSTOMER_ID, "c1");
    fields_set_int(&c.data, F_RATING, rating);
    fields_set_str(&c.data, F_COMMENT, comment);
    return itest_accept(h, &c);
}

static int64_t
discontinue(const char *cid, const char *pid, const char *reason)
{
    return accept_str(CMD_DISCONTINUE_PRODUCT, cid, F_PRODUCT_ID, pid, F_REASON, reason);
}

static int64_t
rename_supplier(const char *cid, const char *sid, const char *name)
{
    return accept_str(CMD_RENAME_SUPPLIER, cid, F_SUPPLIER_ID, sid, F_NAME, name);
}

/* A command packed by hand: {type, command_id, data: {<pairs>}}, so that
 * values the C structs cannot hold (201-byte names) can be sent. */
static void
raw_command(harness_reply_t *r, const char *type, const char *cid, const char *spec, ...)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", type);
    codec_pack_kv_str(&w.pk, "command_id", cid);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, strlen(spec));
    va_list ap;
    va_start(ap, spec);
    itest_pack_pairs(&w.pk, spec, ap);
    va_end(ap);
    int rc = harness_request(h, "command", w.buf.data, w.buf.size, ITEST_TIMEOUT_MS, r);
    codec_writer_fini(&w);
    cr_assert_eq(rc, 0, "%s: no reply", cid);
    cr_assert(r->parsed);
}

/* One counter of the command-service's Status. */
static int64_t
command_status(const char *key)
{
    harness_reply_t r;
    cr_assert_eq(harness_status(h, "command", ITEST_TIMEOUT_MS, &r), 0);
    int64_t v = itest_int(r.root, key);
    harness_reply_fini(&r);
    return v;
}

/* Asserts the command is rejected with `code` and, when field is not NULL,
 * that `fields` names it; the head must not move. */
static void
expect_reject(const command_t *c, reject_code_t code, const char *field)
{
    int64_t before = itest_head(h);
    command_reply_t r;
    send_cmd(c, &r);
    cr_assert_not(r.accepted, "%s was accepted", c->command_id);
    cr_assert_eq(r.error, code, "%s: expected %s, got %s (%s)", c->command_id,
                 reject_code_name(code), reject_code_name(r.error), r.message);
    cr_assert_str_eq(r.command_id, c->command_id);
    cr_assert_gt(strlen(r.message), 0, "a rejection has a message");
    if (field) {
        bool named = false;
        for (int i = 0; i < r.fields.count; i++)
            named = named || strcmp(r.fields.items[i].field, field) == 0;
        cr_assert(named, "%s: fields do not name %s", c->command_id, field);
    }
    cr_assert_eq(itest_head(h), before, "%s: a rejected command appended something", c->command_id);
}

/* The fields map of a raw rejection. */
static const msgpack_object *
reject_fields(const harness_reply_t *r, const char *code)
{
    char err[64];
    cr_assert_not(harness_reply_ok(r));
    cr_assert_str_eq(itest_error(r, err, sizeof err), code);
    const msgpack_object *f = harness_reply_get(r, "fields");
    cr_assert(f && f->type == MSGPACK_OBJECT_MAP, "a validation rejection has fields");
    return f;
}

/* ---- reading back ----------------------------------------------------------- */

/* ReadStream on the catch-up endpoint; returns the events array. */
static const msgpack_object *
read_stream(const char *stream, harness_reply_t *r)
{
    itest_request(h, "catchup", r, "ReadStream", "s", "stream", stream);
    itest_assert_ok(r, "ReadStream");
    const msgpack_object *ev = harness_reply_get(r, "events");
    cr_assert(ev && ev->type == MSGPACK_OBJECT_ARRAY);
    return ev;
}

/* A query with min_position and a wait; asserts ok and reached. */
static void
query_at(harness_reply_t *r, int64_t pos, const char *type, const char *spec, ...)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3 + strlen(spec));
    codec_pack_kv_str(&w.pk, "type", type);
    codec_pack_kv_int(&w.pk, "min_position", pos);
    codec_pack_kv_int(&w.pk, "wait_ms", 5000);
    va_list ap;
    va_start(ap, spec);
    itest_pack_pairs(&w.pk, spec, ap);
    va_end(ap);
    int rc = harness_request(h, "query", w.buf.data, w.buf.size, 15000, r);
    codec_writer_fini(&w);
    cr_assert_eq(rc, 0, "query: no reply to %s", type);
    cr_assert(r->parsed);
    itest_assert_ok(r, type);
    cr_assert(itest_bool(r->root, "reached"), "%s did not reach %lld", type, (long long)pos);
    cr_assert_geq(itest_int(r->root, "position"), pos);
}

/* "p1,p2,..." of a list of maps with key (cards: product_id). */
static void
ids_of(const msgpack_object *items, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = 0;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        char id[80];
        itest_str(&items->via.array.ptr[i], key, id, sizeof id);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", id);
        cr_assert_lt(n, cap);
    }
}

/* ---- invctl ----------------------------------------------------------------- */

/* Runs invctl with the harness endpoints and the given arguments (NULL-
 * terminated); output into <tmp>/<out_name>. */
static int
invctl(const char *out_name, const char *const *args)
{
    return itest_invctl(h, out_name, NULL, args, NULL);
}

static void
tool_out(const char *out_name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", harness_dir(h), out_name);
}

/* ============================================================================
 * Commands and their events
 * ========================================================================== */

/* One event of a ReadStream reply: envelope checks, returns its data map. */
static const msgpack_object *
check_event(const msgpack_object *ev, const char *stream, int64_t version, const char *type,
            const char *cid, int64_t *last_pos, int64_t *last_at, size_t data_keys)
{
    char buf[128];
    cr_assert_str_eq(itest_str(ev, "stream", buf, sizeof buf), stream);
    cr_assert_eq(itest_int(ev, "version"), version, "%s: version", type);
    cr_assert_str_eq(itest_str(ev, "type", buf, sizeof buf), type);
    cr_assert_str_eq(itest_str(ev, "command_id", buf, sizeof buf), cid);
    char corr[80];
    snprintf(corr, sizeof corr, "corr-%s", cid);
    cr_assert_str_eq(itest_str(ev, "correlation_id", buf, sizeof buf), corr);
    cr_assert_geq(itest_int(ev, "schema"), 1);
    cr_assert_eq(strlen(itest_str(ev, "event_id", buf, sizeof buf)), EVENT_ID_MAX);
    int64_t pos = itest_int(ev, "position"), at = itest_int(ev, "recorded_at");
    cr_assert_gt(pos, *last_pos, "positions increase with versions");
    cr_assert_geq(at, *last_at);
    cr_assert_gt(at, 1600000000000000LL, "recorded_at is microseconds since the epoch");
    *last_pos = pos;
    *last_at = at;
    const msgpack_object *d = itest_get(ev, "data");
    cr_assert_eq(d->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(d->via.map.size, data_keys, "%s carries %zu data fields", type, data_keys);
    return d;
}

static void
check_reply(const command_reply_t *r, const char *stream, int64_t version, int64_t position)
{
    cr_assert(r->accepted);
    cr_assert_str_eq(r->stream, stream);
    cr_assert_eq(r->version, version);
    cr_assert_eq(r->position, position);
    cr_assert_not(r->duplicate);
}

Test(domain, every_command_produces_its_event)
{
    start();
    command_t c;
    command_reply_t r;
    char buf[256];

    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-s1");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme Tools");
    send_cmd(&c, &r);
    check_reply(&r, "supplier-s1", 1, 1);

    product_cmd(&c, "create-p1", "p1", "s1", "Claw hammer", "16 oz, fibreglass handle", 1999, 1200,
                40, 10);
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 1, 2);

    itest_cmd(&c, CMD_CHANGE_PRICE, "price-p1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_PRICE_CENTS, 1799);
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 2, 3);

    itest_cmd(&c, CMD_UPDATE_STOCK, "stock-p1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_NEW_STOCK, 50);
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 3, 4);

    itest_sell_cmd(&c, "sell-p1", "p1", "o-1", 5);
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 4, 5);

    itest_cmd(&c, CMD_RECORD_PRODUCT_VIEW, "view-p1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 5, 6);

    itest_cmd(&c, CMD_SUBMIT_REVIEW, "review-p1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_REVIEW_ID, "r1");
    fields_set_str(&c.data, F_CUSTOMER_ID, "cust-7");
    fields_set_int(&c.data, F_RATING, 4);
    fields_set_str(&c.data, F_COMMENT, "Good grip");
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 6, 7);

    itest_cmd(&c, CMD_RENAME_SUPPLIER, "rename-s1");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme Ltd");
    send_cmd(&c, &r);
    check_reply(&r, "supplier-s1", 2, 8);

    itest_cmd(&c, CMD_DISCONTINUE_PRODUCT, "disc-p1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_REASON, "replaced by p2");
    send_cmd(&c, &r);
    check_reply(&r, "product-p1", 7, 9);

    /* The product stream, in version order, with every data field. */
    harness_reply_t rs;
    const msgpack_object *evs = read_stream("product-p1", &rs);
    cr_assert_str_eq(itest_str(rs.root, "stream", buf, sizeof buf), "product-p1");
    cr_assert_eq(evs->via.array.size, 7);
    const msgpack_object *e = evs->via.array.ptr, *d;
    int64_t lp = 0, la = 0;

    d = check_event(&e[0], "product-p1", 1, "ProductCreated", "create-p1", &lp, &la, 10);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_str_eq(itest_str(d, "sku", buf, sizeof buf), "SKU-p1");
    cr_assert_str_eq(itest_str(d, "name", buf, sizeof buf), "Claw hammer");
    cr_assert_str_eq(itest_str(d, "description", buf, sizeof buf), "16 oz, fibreglass handle");
    cr_assert_str_eq(itest_str(d, "supplier_id", buf, sizeof buf), "s1");
    cr_assert_str_eq(itest_str(d, "supplier_name", buf, sizeof buf), "Acme Tools",
                     "ProductCreated embeds the supplier's name at the time");
    cr_assert_eq(itest_int(d, "price_cents"), 1999);
    cr_assert_eq(itest_int(d, "cost_price_cents"), 1200);
    cr_assert_eq(itest_int(d, "stock"), 40);
    cr_assert_eq(itest_int(d, "low_stock_threshold"), 10);

    d = check_event(&e[1], "product-p1", 2, "PriceChanged", "price-p1", &lp, &la, 3);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_eq(itest_int(d, "old_price_cents"), 1999);
    cr_assert_eq(itest_int(d, "new_price_cents"), 1799);

    d = check_event(&e[2], "product-p1", 3, "StockUpdated", "stock-p1", &lp, &la, 3);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_eq(itest_int(d, "old_stock"), 40);
    cr_assert_eq(itest_int(d, "new_stock"), 50);

    d = check_event(&e[3], "product-p1", 4, "ProductSold", "sell-p1", &lp, &la, 6);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_str_eq(itest_str(d, "order_id", buf, sizeof buf), "o-1");
    cr_assert_eq(itest_int(d, "quantity"), 5);
    cr_assert_eq(itest_int(d, "unit_price_cents"), 1799);
    cr_assert_eq(itest_int(d, "old_stock"), 50);
    cr_assert_eq(itest_int(d, "new_stock"), 45);

    d = check_event(&e[4], "product-p1", 5, "ProductViewed", "view-p1", &lp, &la, 1);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");

    d = check_event(&e[5], "product-p1", 6, "ReviewSubmitted", "review-p1", &lp, &la, 5);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_str_eq(itest_str(d, "review_id", buf, sizeof buf), "r1");
    cr_assert_str_eq(itest_str(d, "customer_id", buf, sizeof buf), "cust-7");
    cr_assert_eq(itest_int(d, "rating"), 4);
    cr_assert_str_eq(itest_str(d, "comment", buf, sizeof buf), "Good grip");

    d = check_event(&e[6], "product-p1", 7, "ProductDiscontinued", "disc-p1", &lp, &la, 2);
    cr_assert_str_eq(itest_str(d, "product_id", buf, sizeof buf), "p1");
    cr_assert_str_eq(itest_str(d, "reason", buf, sizeof buf), "replaced by p2");
    harness_reply_fini(&rs);

    /* The supplier stream. */
    evs = read_stream("supplier-s1", &rs);
    cr_assert_eq(evs->via.array.size, 2);
    e = evs->via.array.ptr;
    lp = la = 0;
    d = check_event(&e[0], "supplier-s1", 1, "SupplierRegistered", "reg-s1", &lp, &la, 2);
    cr_assert_str_eq(itest_str(d, "supplier_id", buf, sizeof buf), "s1");
    cr_assert_str_eq(itest_str(d, "name", buf, sizeof buf), "Acme Tools");
    d = check_event(&e[1], "supplier-s1", 2, "SupplierRenamed", "rename-s1", &lp, &la, 3);
    cr_assert_str_eq(itest_str(d, "supplier_id", buf, sizeof buf), "s1");
    cr_assert_str_eq(itest_str(d, "old_name", buf, sizeof buf), "Acme Tools");
    cr_assert_str_eq(itest_str(d, "new_name", buf, sizeof buf), "Acme Ltd");
    harness_reply_fini(&rs);

    /* after_version pages through the stream */
    itest_request(h, "catchup", &rs, "ReadStream", "sii", "stream", "product-p1", "after_version",
                  4, "limit", 2);
    itest_assert_ok(&rs, "ReadStream after_version");
    evs = harness_reply_get(&rs, "events");
    cr_assert_eq(evs->via.array.size, 2);
    cr_assert_eq(itest_int(&evs->via.array.ptr[0], "version"), 5);
    cr_assert_eq(itest_int(&evs->via.array.ptr[1], "version"), 6);
    harness_reply_fini(&rs);

    /* the old name stays in the ProductCreated event, the read model shows
     * the new one */
    harness_reply_t q;
    query_at(&q, 9, "GetProductDetail", "s", "product_id", "p1");
    const msgpack_object *p = itest_get(q.root, "product");
    cr_assert_str_eq(itest_str(p, "supplier_name", buf, sizeof buf), "Acme Ltd");
    harness_reply_fini(&q);
    finish();
}

/* ============================================================================
 * Rules and error codes
 * ========================================================================== */

Test(domain, every_rule_and_error_code)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Claw hammer", "hammer", 1000, 600, 10, 3);
    create_product("create-p2", "p2", "s1", "Old hammer", "gone", 900, 500, 10, 3);
    discontinue("disc-p2", "p2", "end of line");
    command_t c;

    /* suppliers */
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-s1-again");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Other");
    expect_reject(&c, REJ_ALREADY_EXISTS, NULL);
    itest_cmd(&c, CMD_RENAME_SUPPLIER, "rename-s9");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s9");
    fields_set_str(&c.data, F_NAME, "Nobody");
    expect_reject(&c, REJ_NOT_FOUND, NULL);
    itest_cmd(&c, CMD_RENAME_SUPPLIER, "rename-s1-same");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme Tools");
    expect_reject(&c, REJ_VALIDATION, "name");

    /* products */
    product_cmd(&c, "create-p1-again", "p1", "s1", "X", "", 1, 1, 1, 1);
    expect_reject(&c, REJ_ALREADY_EXISTS, NULL);
    product_cmd(&c, "create-p3-s9", "p3", "s9", "X", "", 1, 1, 1, 1);
    expect_reject(&c, REJ_NOT_FOUND, NULL);
    itest_sell_cmd(&c, "sell-p9", "p9", "o-9", 1);
    expect_reject(&c, REJ_NOT_FOUND, NULL);

    /* discontinued */
    itest_cmd(&c, CMD_CHANGE_PRICE, "price-p2");
    fields_set_str(&c.data, F_PRODUCT_ID, "p2");
    fields_set_int(&c.data, F_PRICE_CENTS, 1);
    expect_reject(&c, REJ_DISCONTINUED, NULL);
    itest_sell_cmd(&c, "sell-p2", "p2", "o-2", 1);
    expect_reject(&c, REJ_DISCONTINUED, NULL);
    itest_cmd(&c, CMD_DISCONTINUE_PRODUCT, "disc-p2-again");
    fields_set_str(&c.data, F_PRODUCT_ID, "p2");
    expect_reject(&c, REJ_DISCONTINUED, NULL);

    /* stock and values */
    itest_sell_cmd(&c, "sell-11", "p1", "o-1", 11);
    expect_reject(&c, REJ_INSUFFICIENT_STOCK, NULL);
    itest_sell_cmd(&c, "sell-0", "p1", "o-1", 0);
    expect_reject(&c, REJ_VALIDATION, "quantity");
    itest_cmd(&c, CMD_SUBMIT_REVIEW, "review-6");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_REVIEW_ID, "r1");
    fields_set_str(&c.data, F_CUSTOMER_ID, "c1");
    fields_set_int(&c.data, F_RATING, 6);
    expect_reject(&c, REJ_VALIDATION, "rating");
    itest_cmd(&c, CMD_SUBMIT_REVIEW, "review-0");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_REVIEW_ID, "r1");
    fields_set_str(&c.data, F_CUSTOMER_ID, "c1");
    fields_set_int(&c.data, F_RATING, 0);
    expect_reject(&c, REJ_VALIDATION, "rating");
    itest_cmd(&c, CMD_CHANGE_PRICE, "price-bad-id");
    fields_set_str(&c.data, F_PRODUCT_ID, "p 1!");
    fields_set_int(&c.data, F_PRICE_CENTS, 5);
    expect_reject(&c, REJ_VALIDATION, "product_id");
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-bad-utf8");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s2");
    fields_set_str(&c.data, F_NAME, "Bad \xff\xfe name");
    expect_reject(&c, REJ_VALIDATION, "name");
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-overlong-utf8");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s2");
    fields_set_str(&c.data, F_NAME, "\xc0\xaf");
    expect_reject(&c, REJ_VALIDATION, "name");

    /* names of 200 bytes pass, 201 do not (sent raw: the struct holds 200) */
    char name[202];
    memset(name, 'n', sizeof name);
    int64_t before = itest_head(h);
    harness_reply_t rr;
    raw_command(&rr, "RegisterSupplier", "reg-201", "sS", "supplier_id", "s2", "name", name,
                (size_t)201);
    cr_assert_not_null(codec_map_get(reject_fields(&rr, "validation"), "name"));
    harness_reply_fini(&rr);
    cr_assert_eq(itest_head(h), before);
    raw_command(&rr, "RegisterSupplier", "reg-200", "sS", "supplier_id", "s2", "name", name,
                (size_t)200);
    itest_assert_ok(&rr, "a 200-byte name");
    harness_reply_fini(&rr);
    cr_assert_eq(itest_head(h), before + 1);

    /* several bad fields: every one is named */
    before = itest_head(h);
    raw_command(&rr, "CreateProduct", "create-bad2", "ssSSsiiii", "product_id", "bad id!", "sku",
                "SKU-1", "name", name, (size_t)201, "description", "\xe2\x28\xa1", (size_t)3,
                "supplier_id", "s/1", "price_cents", -5, "cost_price_cents", 1, "stock", -1,
                "low_stock_threshold", 1);
    const msgpack_object *f = reject_fields(&rr, "validation");
    static const char *const bad[] = {"product_id",  "name",        "description",
                                      "supplier_id", "price_cents", "stock"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not_null(codec_map_get(f, bad[i]), "fields do not name %s", bad[i]);
    char named[512] = "";
    for (uint32_t i = 0; i < f->via.map.size; i++)
        snprintf(named + strlen(named), sizeof named - strlen(named), "%.*s ",
                 (int)f->via.map.ptr[i].key.via.str.size, f->via.map.ptr[i].key.via.str.ptr);
    cr_assert_eq(f->via.map.size, sizeof bad / sizeof bad[0], "only the bad fields are named: %s",
                 named);
    harness_reply_fini(&rr);
    cr_assert_eq(itest_head(h), before);

    /* optimistic concurrency */
    itest_cmd(&c, CMD_CHANGE_PRICE, "price-stale");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_PRICE_CENTS, 1100);
    c.has_expected_version = true;
    c.expected_version = 5;
    before = itest_head(h);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command(&w, &c);
    cr_assert_eq(harness_request(h, "command", w.buf.data, w.buf.size, ITEST_TIMEOUT_MS, &rr), 0);
    codec_writer_fini(&w);
    char err[64];
    cr_assert_not(harness_reply_ok(&rr));
    cr_assert_str_eq(itest_error(&rr, err, sizeof err), "conflict");
    cr_assert_eq(itest_int(rr.root, "current_version"), 1, "p1 is at version 1");
    harness_reply_fini(&rr);
    cr_assert_eq(itest_head(h), before);

    itest_cmd(&c, CMD_CHANGE_PRICE, "price-fresh");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_PRICE_CENTS, 1100);
    c.has_expected_version = true;
    c.expected_version = 1;
    command_reply_t r;
    send_cmd(&c, &r);
    cr_assert(r.accepted, "a matching expected_version is accepted: %s", r.message);
    cr_assert_eq(r.version, 2);
    cr_assert_eq(itest_head(h), before + 1);

    /* a new stream expects version 0 */
    product_cmd(&c, "create-p4", "p4", "s1", "New", "", 1, 1, 1, 1);
    c.has_expected_version = true;
    c.expected_version = 0;
    send_cmd(&c, &r);
    cr_assert(r.accepted, "expected_version 0 creates: %s", r.message);

    /* nothing of the rejections is in the product's stream */
    harness_reply_t rs;
    const msgpack_object *evs = read_stream("product-p1", &rs);
    cr_assert_eq(evs->via.array.size, 2, "ProductCreated and one PriceChanged only");
    harness_reply_fini(&rs);
    evs = read_stream("supplier-s2", &rs);
    cr_assert_eq(evs->via.array.size, 1, "only the 200-byte name registered s2");
    harness_reply_fini(&rs);
    finish();
}

/* ============================================================================
 * Idempotency
 * ========================================================================== */

static void
expect_same_reply(const command_reply_t *first, const command_reply_t *again)
{
    cr_assert(again->accepted);
    cr_assert(again->duplicate, "a retry says duplicate");
    cr_assert_str_eq(again->command_id, first->command_id);
    cr_assert_str_eq(again->stream, first->stream);
    cr_assert_eq(again->version, first->version);
    cr_assert_eq(again->position, first->position);
}

/* The same command sent 32 times without waiting: most copies land in one
 * batch of the command-service, and still one event is appended and every
 * copy gets its reply. */
static void
same_command_pipelined_appends_once(void)
{
    enum { COPIES = 32 };
    int64_t before = itest_head(h);
    command_t c;
    itest_sell_cmd(&c, "sell-burst", "p1", "o-burst", 1);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command(&w, &c);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_connect(s, harness_endpoint(h, "command")), 0);
    for (int i = 0; i < COPIES; i++)
        cr_assert_eq(zmq_send(s, w.buf.data, w.buf.size, 0), (int)w.buf.size);
    codec_writer_fini(&w);
    int firsts = 0;
    int64_t position = 0;
    for (int i = 0; i < COPIES; i++) {
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        cr_assert_eq(zmq_poll(&item, 1, 5000), 1, "reply %d of %d", i + 1, COPIES);
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
        command_reply_t r;
        cr_assert_eq(codec_decode_command_reply(zmq_msg_data(&m), zmq_msg_size(&m), &r), 0);
        zmq_msg_close(&m);
        cr_assert(r.accepted, "copy %d: %s", i, r.message);
        firsts += !r.duplicate;
        if (i == 0)
            position = r.position;
        cr_assert_eq(r.position, position, "every copy names the same event");
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    cr_assert_eq(firsts, 1, "exactly one copy is not a duplicate");
    cr_assert_eq(itest_head(h), before + 1, "one event for %d copies", COPIES);
}

Test(domain, same_command_id_returns_the_first_reply_even_after_a_restart)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Claw hammer", "hammer", 1000, 600, 10, 3);
    command_t c;
    command_reply_t first, again;
    itest_sell_cmd(&c, "sell-once", "p1", "o-1", 3);
    send_cmd(&c, &first);
    cr_assert(first.accepted);
    cr_assert_not(first.duplicate);
    int64_t h1 = itest_head(h);
    cr_assert_eq(h1, first.position);

    send_cmd(&c, &again);
    expect_same_reply(&first, &again);
    cr_assert_eq(itest_head(h), h1, "a retry appends nothing");

    /* a retry with other data still gets the first result */
    itest_sell_cmd(&c, "sell-once", "p1", "o-1", 7);
    send_cmd(&c, &again);
    expect_same_reply(&first, &again);
    cr_assert_eq(itest_head(h), h1);

    cr_assert_eq(harness_daemon_restart(h, "command"), 0);
    itest_sell_cmd(&c, "sell-once", "p1", "o-1", 3);
    send_cmd(&c, &again);
    expect_same_reply(&first, &again);
    cr_assert_eq(itest_head(h), h1, "a retry after a restart appends nothing");
    cr_assert_eq(command_status("loads"), 0, "a retry is answered without its aggregate");

    /* one sale in the stream, stock 10 -> 7 */
    harness_reply_t rs;
    const msgpack_object *evs = read_stream("product-p1", &rs);
    cr_assert_eq(evs->via.array.size, 2);
    cr_assert_eq(itest_int(itest_get(&evs->via.array.ptr[1], "data"), "new_stock"), 7);
    harness_reply_fini(&rs);

    /* a rejection is not stored: the retry is decided again */
    command_reply_t r;
    itest_sell_cmd(&c, "sell-big", "p1", "o-2", 20);
    send_cmd(&c, &r);
    cr_assert_eq(r.error, REJ_INSUFFICIENT_STOCK);
    cr_assert_eq(command_status("loads"), 1, "p1 is read from the store once after the restart");
    update_stock("restock", "p1", 30);
    send_cmd(&c, &r);
    cr_assert(r.accepted, "the retried rejection is decided again: %s", r.message);
    cr_assert_not(r.duplicate);
    cr_assert_eq(command_status("loads"), 1, "then it is cached");
    same_command_pipelined_appends_once();
    finish();
}

/* ============================================================================
 * History and as-of, and invctl
 * ========================================================================== */

static const msgpack_object *
as_of(harness_reply_t *r, const char *key, int64_t value)
{
    itest_request(h, "catchup", r, "ProductAsOf", "sI", "product_id", "p1", key, value);
    itest_assert_ok(r, "ProductAsOf");
    return itest_get(r->root, "product");
}

/* The command-service tells the relay what is durable before it replies,
 * and the relay reads those nudges before it serves: an event is served
 * (ReadEvents, ReadStream, ProductAsOf) as soon as its command is
 * acknowledged.  Before, the reply went first, and a client that asked at
 * once sometimes got the history without its own event. */
Test(domain, an_acknowledged_event_is_served_at_once)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Claw hammer", "hammer", 1999, 1200, 100000, 10);
    for (int i = 0; i < 300; i++) {
        char cid[32], order[32];
        snprintf(cid, sizeof cid, "sell-%d", i);
        snprintf(order, sizeof order, "o-%d", i);
        int64_t pos = sell(cid, "p1", order, 1);
        harness_reply_t r;
        itest_request(h, "catchup", &r, "ReadEvents", "II", "after", pos - 1, "limit", (int64_t)1);
        itest_assert_ok(&r, "ReadEvents");
        const msgpack_object *evs = itest_get(r.root, "events");
        cr_assert_eq(evs->type, MSGPACK_OBJECT_ARRAY);
        cr_assert_eq(evs->via.array.size, 1, "the event of acknowledged command %d (position %lld)",
                     i, (long long)pos);
        cr_assert_eq(itest_int(&evs->via.array.ptr[0], "position"), pos);
        harness_reply_fini(&r);
    }
    finish();
}

Test(domain, history_and_as_of)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    int64_t p_create =
        create_product("create-p1", "p1", "s1", "Claw hammer", "hammer", 1999, 1200, 40, 10);
    int64_t p_sell = sell("sell-1", "p1", "o-1", 35);
    int64_t p_price = change_price("price-1", "p1", 1499);
    cr_assert(p_create < p_sell && p_sell < p_price);

    harness_reply_t rs;
    const msgpack_object *evs = read_stream("product-p1", &rs);
    cr_assert_eq(evs->via.array.size, 3);
    static const char *const types[] = {"ProductCreated", "ProductSold", "PriceChanged"};
    int64_t positions[] = {p_create, p_sell, p_price}, at[3];
    for (uint32_t i = 0; i < 3; i++) {
        const msgpack_object *e = &evs->via.array.ptr[i];
        cr_assert(itest_str_is(e, "type", types[i]));
        cr_assert_eq(itest_int(e, "version"), (int64_t)i + 1);
        cr_assert_eq(itest_int(e, "position"), positions[i]);
        at[i] = itest_int(e, "recorded_at");
    }
    harness_reply_fini(&rs);

    harness_reply_t r;
    const msgpack_object *p = as_of(&r, "position", p_create);
    cr_assert_eq(itest_int(r.root, "position"), p_create);
    cr_assert_eq(itest_int(p, "stock"), 40);
    cr_assert_eq(itest_int(p, "price_cents"), 1999);
    cr_assert_eq(itest_int(p, "version"), 1);
    harness_reply_fini(&r);
    p = as_of(&r, "position", p_sell);
    cr_assert_eq(itest_int(p, "stock"), 5);
    cr_assert_eq(itest_int(p, "price_cents"), 1999);
    harness_reply_fini(&r);
    p = as_of(&r, "position", p_price);
    cr_assert_eq(itest_int(p, "stock"), 5);
    cr_assert_eq(itest_int(p, "price_cents"), 1499);
    cr_assert_eq(itest_int(p, "version"), 3);
    harness_reply_fini(&r);
    /* by time: the state as of each event's recorded_at */
    cr_assert(at[0] < at[1] && at[1] < at[2], "each command took at least a microsecond");
    p = as_of(&r, "time_us", at[0]);
    cr_assert_eq(itest_int(r.root, "position"), p_create);
    cr_assert_eq(itest_int(p, "stock"), 40);
    cr_assert_eq(itest_int(p, "price_cents"), 1999);
    harness_reply_fini(&r);
    p = as_of(&r, "time_us", at[1] + (at[2] - at[1]) / 2);
    cr_assert_eq(itest_int(r.root, "position"), p_sell);
    cr_assert_eq(itest_int(p, "stock"), 5);
    cr_assert_eq(itest_int(p, "price_cents"), 1999);
    harness_reply_fini(&r);
    p = as_of(&r, "time_us", at[2] + 1000000);
    cr_assert_eq(itest_int(p, "price_cents"), 1499);
    harness_reply_fini(&r);
    /* before the product existed */
    itest_request(h, "catchup", &r, "ProductAsOf", "si", "product_id", "p1", "position", 1);
    char err[64];
    cr_assert_str_eq(itest_error(&r, err, sizeof err), "not_found");
    harness_reply_fini(&r);

    /* invctl history and product --as-of */
    char path[512], pos[32];
    cr_assert_eq(invctl("history.out", (const char *const[]){"history", "p1", NULL}), 0);
    tool_out("history.out", path, sizeof path);
    cr_assert(itest_file_has(path, "ProductCreated") && itest_file_has(path, "ProductSold") &&
                  itest_file_has(path, "PriceChanged"),
              "invctl history lists the events (%s)", path);
    snprintf(pos, sizeof pos, "%lld", (long long)p_create);
    cr_assert_eq(
        invctl("asof.out", (const char *const[]){"--json", "product", "p1", "--as-of", pos, NULL}),
        0);
    tool_out("asof.out", path, sizeof path);
    cr_assert(itest_file_has(path, "\"stock\": 40") || itest_file_has(path, "\"stock\":40"),
              "invctl product --as-of shows the old stock (%s)", path);
    /* an ISO time, well after everything: the current state */
    cr_assert_eq(invctl("asof-time.out", (const char *const[]){"--json", "product", "p1", "--as-of",
                                                               "2999-01-01T00:00:00Z", NULL}),
                 0);
    tool_out("asof-time.out", path, sizeof path);
    cr_assert(itest_file_has(path, "1499"), "invctl product --as-of TIME (%s)", path);

    /* invctl watch events --count 1 prints the next event */
    tool_out("watch.out", path, sizeof path);
    cr_assert_eq(itest_watch_one_event(h, path, view_p1), 0, "invctl watch did not finish");
    cr_assert(itest_file_has(path, "ProductViewed") && itest_file_has(path, "product-p1"),
              "invctl watch printed the event (%s)", path);
    finish();
}

/* ============================================================================
 * Read models
 * ========================================================================== */

static const char *const card_keys[] = {
    "product_id",   "name",        "price_cents",   "in_stock",     "avg_rating",
    "review_count", "supplier_id", "supplier_name", "discontinued", NULL};

static void
check_cards(const msgpack_object *items)
{
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *card = &items->via.array.ptr[i];
        cr_assert(itest_keys_are(card, card_keys), "a card has exactly the documented keys");
        cr_assert_null(codec_map_get(card, "cost_price_cents"));
    }
}

/* Items of a list query, ids joined with commas, checked as cards. */
static void
list_ids(int64_t pos, char *out, size_t cap, const char *type, const char *spec, ...)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3 + strlen(spec));
    codec_pack_kv_str(&w.pk, "type", type);
    codec_pack_kv_int(&w.pk, "min_position", pos);
    codec_pack_kv_int(&w.pk, "wait_ms", 5000);
    va_list ap;
    va_start(ap, spec);
    itest_pack_pairs(&w.pk, spec, ap);
    va_end(ap);
    harness_reply_t r;
    cr_assert_eq(harness_request(h, "query", w.buf.data, w.buf.size, 15000, &r), 0);
    codec_writer_fini(&w);
    itest_assert_ok(&r, type);
    cr_assert(itest_bool(r.root, "reached"));
    const msgpack_object *items = itest_items(&r);
    if (strcmp(type, "ListProducts") == 0 || strcmp(type, "SearchProducts") == 0 ||
        strcmp(type, "TopRated") == 0)
        check_cards(items);
    ids_of(items, strcmp(type, "ListSuppliers") == 0 ? "supplier_id" : "product_id", out, cap);
    harness_reply_fini(&r);
}

#define ASSERT_LIST(expect, pos, type, ...)                                                        \
    do {                                                                                           \
        char ids_[1024];                                                                           \
        list_ids(pos, ids_, sizeof ids_, type, __VA_ARGS__);                                       \
        cr_assert_str_eq(ids_, expect, "%s", type);                                                \
    } while (0)

static const msgpack_object *
find_item(const msgpack_object *items, const char *key, const char *id)
{
    for (uint32_t i = 0; i < items->via.array.size; i++)
        if (itest_str_is(&items->via.array.ptr[i], key, id))
            return &items->via.array.ptr[i];
    cr_assert_fail("%s %s is not in the list", key, id);
    return NULL;
}

Test(domain, read_models)
{
    start();
    char buf[256];
    register_supplier("reg-s1", "s1", "Acme Tools");
    register_supplier("reg-s2", "s2", "Bolt Brothers");
    create_product("c-p1", "p1", "s1", "Claw hammer", "Sixteen ounce fibreglass handle", 2000, 1200,
                   40, 10);
    create_product("c-p2", "p2", "s2", "Torque wrench", "Precision drive", 5000, 3000, 3, 5);
    create_product("c-p3", "p3", "s1", "Spirit level", "Aluminium frame", 1500, 700, 0, 2);
    create_product("c-p4", "p4", "s2", "Tape measure", "Steel blade", 800, 300, 20, 5);
    for (int i = 1; i <= 4; i++) {
        char cid[16], pid[16], name[32];
        snprintf(cid, sizeof cid, "c-f%d", i);
        snprintf(pid, sizeof pid, "f%d", i);
        snprintf(name, sizeof name, "Filler widget %d", i);
        create_product(cid, pid, "s1", name, "plain", 100, 50, 100, 1);
    }
    change_price("pr-p1", "p1", 1800);
    change_price("pr-p2a", "p2", 5500);
    change_price("pr-p2b", "p2", 5200);
    static const int ratings[] = {5, 4, 3, 5, 4, 5};
    for (int i = 0; i < 6; i++) {
        char cid[16], rid[8], comment[32];
        snprintf(cid, sizeof cid, "rv-p1-%d", i + 1);
        snprintf(rid, sizeof rid, "r%d", i + 1);
        snprintf(comment, sizeof comment, "comment %d", i + 1);
        review(cid, "p1", rid, ratings[i], comment);
    }
    review("rv-p2-1", "p2", "r1", 3, "ok");
    review("rv-p2-2", "p2", "r2", 4, "ok");
    review("rv-p2-3", "p2", "r3", 2, "meh");
    review("rv-p3-1", "p3", "r1", 5, "great");
    review("rv-p3-2", "p3", "r2", 5, "great");
    view("v1", "p1");
    view("v2", "p1");
    view("v3", "p1");
    sell("s-p1", "p1", "o-1", 4);
    sell("s-p2", "p2", "o-2", 1);
    int64_t pos = discontinue("d-p4", "p4", "end of line");

    /* detail */
    harness_reply_t r;
    query_at(&r, pos, "GetProductDetail", "s", "product_id", "p1");
    const msgpack_object *p = itest_get(r.root, "product");
    static const char *const detail_keys[] = {"product_id",
                                              "name",
                                              "price_cents",
                                              "in_stock",
                                              "avg_rating",
                                              "review_count",
                                              "supplier_id",
                                              "supplier_name",
                                              "discontinued",
                                              "sku",
                                              "description",
                                              "stock",
                                              "low_stock",
                                              "low_stock_threshold",
                                              "previous_price_cents",
                                              "price_dropped",
                                              "view_count",
                                              "discontinued_reason",
                                              "version",
                                              "created_at",
                                              "updated_at",
                                              "reviews",
                                              NULL};
    cr_assert(itest_keys_are(p, detail_keys), "detail keys as documented (no cost)");
    cr_assert_str_eq(itest_str(p, "sku", buf, sizeof buf), "SKU-p1");
    cr_assert_str_eq(itest_str(p, "description", buf, sizeof buf),
                     "Sixteen ounce fibreglass handle");
    cr_assert_str_eq(itest_str(p, "supplier_name", buf, sizeof buf), "Acme Tools");
    cr_assert_eq(itest_int(p, "stock"), 36);
    cr_assert_eq(itest_bool(p, "in_stock"), true);
    cr_assert_eq(itest_bool(p, "low_stock"), false);
    cr_assert_eq(itest_int(p, "low_stock_threshold"), 10);
    cr_assert_eq(itest_int(p, "price_cents"), 1800);
    cr_assert_eq(itest_int(p, "previous_price_cents"), 2000);
    cr_assert_eq(itest_bool(p, "price_dropped"), true);
    cr_assert_eq(itest_int(p, "view_count"), 3);
    cr_assert_eq(itest_int(p, "review_count"), 6);
    cr_assert_float_eq(itest_double(p, "avg_rating"), 4.33, 0.001);
    cr_assert_eq(itest_bool(p, "discontinued"), false);
    cr_assert_eq(itest_get(p, "discontinued_reason")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq(itest_int(p, "version"), 12, "1 created + 1 price + 6 reviews + 3 views + 1 sale");
    const msgpack_object *rv = itest_get(p, "reviews");
    cr_assert_eq(rv->type, MSGPACK_OBJECT_ARRAY);
    char ids[256];
    ids_of(rv, "review_id", ids, sizeof ids);
    cr_assert_str_eq(ids, "r6,r5,r4,r3,r2", "the last 5 reviews, newest first");
    cr_assert_eq(itest_int(&rv->via.array.ptr[0], "rating"), 5);
    cr_assert_str_eq(itest_str(&rv->via.array.ptr[0], "comment", buf, sizeof buf), "comment 6");
    harness_reply_fini(&r);

    query_at(&r, pos, "GetProductDetail", "s", "product_id", "p2");
    p = itest_get(r.root, "product");
    cr_assert_eq(itest_int(p, "previous_price_cents"), 5500);
    cr_assert_eq(itest_bool(p, "price_dropped"), true);
    cr_assert_eq(itest_bool(p, "low_stock"), true, "2 < 5");
    harness_reply_fini(&r);

    query_at(&r, pos, "GetProductDetail", "s", "product_id", "p3");
    p = itest_get(r.root, "product");
    cr_assert_eq(itest_bool(p, "in_stock"), false);
    cr_assert_eq(itest_get(p, "previous_price_cents")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq(itest_bool(p, "price_dropped"), false);
    harness_reply_fini(&r);

    query_at(&r, pos, "GetProductDetail", "s", "product_id", "p4");
    p = itest_get(r.root, "product");
    cr_assert_eq(itest_bool(p, "discontinued"), true);
    cr_assert_str_eq(itest_str(p, "discontinued_reason", buf, sizeof buf), "end of line");
    harness_reply_fini(&r);

    itest_request(h, "query", &r, "GetProductDetail", "s", "product_id", "nope");
    char err[64];
    cr_assert_str_eq(itest_error(&r, err, sizeof err), "not_found");
    harness_reply_fini(&r);

    /* admin view */
    query_at(&r, pos, "GetAdminProduct", "s", "product_id", "p1");
    p = itest_get(r.root, "product");
    cr_assert_eq(itest_int(p, "cost_price_cents"), 1200);
    cr_assert_eq(itest_int(p, "stock_value_cents"), 36 * 1200);
    cr_assert_eq(itest_int(p, "margin_cents"), 600);
    cr_assert_float_eq(itest_double(p, "margin_percent"), 33.33, 0.001);
    cr_assert_eq(itest_int(p, "units_sold"), 4);
    cr_assert_eq(itest_int(p, "revenue_cents"), 4 * 1800);
    cr_assert_null(codec_map_get(p, "reviews"));
    harness_reply_fini(&r);

    /* lists and filters (ordered by product_id) */
    ASSERT_LIST("f1,f2,f3,f4,p1,p2,p3", pos, "ListProducts", "");
    ASSERT_LIST("f1,f2,f3,f4,p1,p2,p3,p4", pos, "ListProducts", "b", "include_discontinued", 1);
    ASSERT_LIST("p2", pos, "ListProducts", "s", "supplier_id", "s2");
    ASSERT_LIST("p2,p4", pos, "ListProducts", "sb", "supplier_id", "s2", "include_discontinued", 1);
    ASSERT_LIST("p3", pos, "ListProducts", "b", "in_stock", 0);
    ASSERT_LIST("f1,f2,f3,f4,p1,p2", pos, "ListProducts", "b", "in_stock", 1);

    /* pagination: no duplicates, no gaps */
    char all[1024] = "", cursor[128] = "";
    int pages = 0;
    for (;;) {
        harness_reply_t pr;
        if (cursor[0])
            itest_request(h, "query", &pr, "ListProducts", "is", "limit", 3, "cursor", cursor);
        else
            itest_request(h, "query", &pr, "ListProducts", "i", "limit", 3);
        itest_assert_ok(&pr, "ListProducts page");
        const msgpack_object *items = itest_items(&pr);
        cr_assert_leq(items->via.array.size, 3);
        check_cards(items);
        ids_of(items, "product_id", ids, sizeof ids);
        if (ids[0])
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? "," : "", ids);
        pages++;
        const msgpack_object *next = harness_reply_get(&pr, "next_cursor");
        bool more = next && next->type == MSGPACK_OBJECT_STR;
        if (more)
            codec_copy_str(next, cursor, sizeof cursor);
        harness_reply_fini(&pr);
        if (!more)
            break;
        cr_assert_lt(pages, 10, "pagination does not end");
    }
    cr_assert_str_eq(all, "f1,f2,f3,f4,p1,p2,p3");
    cr_assert_geq(pages, 3);

    itest_request(h, "query", &r, "ListProducts", "i", "limit", 101);
    const msgpack_object *f = NULL;
    cr_assert_str_eq(itest_error(&r, err, sizeof err), "validation");
    cr_assert((f = harness_reply_get(&r, "fields")) && codec_map_get(f, "limit"),
              "limit 101 is named");
    harness_reply_fini(&r);

    /* suppliers with product counts */
    query_at(&r, pos, "ListSuppliers", "");
    const msgpack_object *items = itest_items(&r);
    ids_of(items, "supplier_id", ids, sizeof ids);
    cr_assert_str_eq(ids, "s1,s2");
    const msgpack_object *s = find_item(items, "supplier_id", "s1");
    cr_assert_str_eq(itest_str(s, "name", buf, sizeof buf), "Acme Tools");
    cr_assert_eq(itest_int(s, "product_count"), 6);
    cr_assert_eq(itest_int(s, "active_product_count"), 6);
    s = find_item(items, "supplier_id", "s2");
    cr_assert_eq(itest_int(s, "product_count"), 2);
    cr_assert_eq(itest_int(s, "active_product_count"), 1);
    harness_reply_fini(&r);

    /* search over name, description and supplier name */
    ASSERT_LIST("p1", pos, "SearchProducts", "s", "q", "hammer");
    ASSERT_LIST("p1", pos, "SearchProducts", "s", "q", "FIBREGLASS");
    ASSERT_LIST("p1", pos, "SearchProducts", "s", "q", "sixteen fibre");
    ASSERT_LIST("p2", pos, "SearchProducts", "s", "q", "bolt");
    ASSERT_LIST("p2,p4", pos, "SearchProducts", "sb", "q", "bolt", "include_discontinued", 1);
    ASSERT_LIST("", pos, "SearchProducts", "s", "q", "nonexistentword");
    char acme[256];
    list_ids(pos, acme, sizeof acme, "SearchProducts", "s", "q", "acme");
    cr_assert(strstr(acme, "p1") && strstr(acme, "p3") && strstr(acme, "f4") && !strstr(acme, "p2"),
              "search by supplier name: %s", acme);

    /* top rated: >= 3 reviews only */
    ASSERT_LIST("p1,p2", pos, "TopRated", "");

    /* low stock, lowest first */
    query_at(&r, pos, "LowStock", "");
    items = itest_items(&r);
    ids_of(items, "product_id", ids, sizeof ids);
    cr_assert_str_eq(ids, "p3,p2");
    cr_assert_eq(itest_bool(&items->via.array.ptr[0], "out_of_stock"), true);
    cr_assert_eq(itest_int(&items->via.array.ptr[1], "stock"), 2);
    cr_assert_eq(itest_int(&items->via.array.ptr[1], "low_stock_threshold"), 5);
    cr_assert_eq(itest_bool(&items->via.array.ptr[1], "out_of_stock"), false);
    harness_reply_fini(&r);

    /* dashboard */
    query_at(&r, pos, "Dashboard", "");
    const msgpack_object *d = r.root;
    cr_assert_eq(itest_int(d, "product_count"), 7);
    cr_assert_eq(itest_int(d, "discontinued_count"), 1);
    cr_assert_eq(itest_int(d, "supplier_count"), 2);
    cr_assert_eq(itest_int(d, "inventory_value_cents"),
                 36 * 1200 + 2 * 3000 + 0 * 700 + 20 * 300 + 4 * 100 * 50);
    cr_assert_eq(itest_int(d, "low_stock_count"), 2);
    cr_assert_eq(itest_int(d, "out_of_stock_count"), 1);
    cr_assert_eq(itest_int(d, "units_sold_today"), 5);
    cr_assert_eq(itest_int(d, "revenue_today_cents"), 4 * 1800 + 5200);
    cr_assert_eq(strlen(itest_str(d, "today", buf, sizeof buf)), 10, "today is YYYY-MM-DD");
    const msgpack_object *bs = itest_get(d, "best_sellers");
    ids_of(bs, "product_id", ids, sizeof ids);
    cr_assert_str_eq(ids, "p1,p2");
    cr_assert_eq(itest_int(&bs->via.array.ptr[0], "units_sold"), 4);
    cr_assert_eq(itest_int(&bs->via.array.ptr[0], "revenue_cents"), 7200);
    ids_of(itest_get(d, "best_sellers_today"), "product_id", ids, sizeof ids);
    cr_assert_str_eq(ids, "p1,p2");
    harness_reply_fini(&r);

    /* price history, oldest first */
    query_at(&r, pos, "PriceHistory", "s", "product_id", "p2");
    items = itest_items(&r);
    cr_assert_eq(items->via.array.size, 2);
    cr_assert_eq(itest_int(&items->via.array.ptr[0], "old_price_cents"), 5000);
    cr_assert_eq(itest_int(&items->via.array.ptr[0], "new_price_cents"), 5500);
    cr_assert_eq(itest_int(&items->via.array.ptr[1], "old_price_cents"), 5500);
    cr_assert_eq(itest_int(&items->via.array.ptr[1], "new_price_cents"), 5200);
    cr_assert_lt(itest_int(&items->via.array.ptr[0], "position"),
                 itest_int(&items->via.array.ptr[1], "position"));
    harness_reply_fini(&r);
    itest_request(h, "query", &r, "PriceHistory", "s", "product_id", "nope");
    cr_assert_str_eq(itest_error(&r, err, sizeof err), "not_found");
    harness_reply_fini(&r);

    /* a supplier rename rewrites the name everywhere it is shown */
    pos = rename_supplier("ren-s1", "s1", "Apex Instruments");
    query_at(&r, pos, "GetProductDetail", "s", "product_id", "p1");
    p = itest_get(r.root, "product");
    cr_assert_str_eq(itest_str(p, "supplier_name", buf, sizeof buf), "Apex Instruments");
    harness_reply_fini(&r);
    query_at(&r, pos, "ListProducts", "s", "supplier_id", "s1");
    items = itest_items(&r);
    cr_assert_eq(items->via.array.size, 6, "p1, p3 and f1..f4");
    for (uint32_t i = 0; i < items->via.array.size; i++)
        cr_assert(itest_str_is(&items->via.array.ptr[i], "supplier_name", "Apex Instruments"));
    harness_reply_fini(&r);
    query_at(&r, pos, "LowStock", "");
    s = find_item(itest_items(&r), "product_id", "p3");
    cr_assert_str_eq(itest_str(s, "supplier_name", buf, sizeof buf), "Apex Instruments");
    harness_reply_fini(&r);
    query_at(&r, pos, "ListSuppliers", "");
    s = find_item(itest_items(&r), "supplier_id", "s1");
    cr_assert_str_eq(itest_str(s, "name", buf, sizeof buf), "Apex Instruments");
    harness_reply_fini(&r);
    ASSERT_LIST("", pos, "SearchProducts", "s", "q", "acme");
    list_ids(pos, acme, sizeof acme, "SearchProducts", "s", "q", "apex");
    cr_assert(strstr(acme, "p1") && strstr(acme, "p3") && strstr(acme, "f1") && !strstr(acme, "p2"),
              "search by the new supplier name: %s", acme);
    ASSERT_LIST("p1", pos, "SearchProducts", "s", "q", "apex hammer");
    finish();
}

/* ============================================================================
 * Read your own writes
 * ========================================================================== */

Test(domain, read_your_own_writes)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Claw hammer", "hammer", 1000, 600, 10, 3);
    /* no waiting between the command and the query: the query waits */
    int64_t p = sell("sell-1", "p1", "o-1", 4);
    harness_reply_t r;
    query_at(&r, p, "GetProductDetail", "s", "product_id", "p1");
    cr_assert_eq(itest_int(itest_get(r.root, "product"), "stock"), 6);
    harness_reply_fini(&r);
    p = update_stock("stock-1", "p1", 25);
    query_at(&r, p, "GetAdminProduct", "s", "product_id", "p1");
    cr_assert_eq(itest_int(itest_get(r.root, "product"), "stock"), 25);
    harness_reply_fini(&r);

    /* a position far in the future: parked for wait_ms, answered with
     * reached=false, while another query is answered meanwhile */
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_connect(s, harness_endpoint(h, "query")), 0);
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "GetProductDetail");
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "min_position", p + 1000000);
    codec_pack_kv_int(&w.pk, "wait_ms", 200);
    int64_t t0 = proc_mono_ms();
    cr_assert_eq(zmq_send(s, w.buf.data, w.buf.size, 0), (int)w.buf.size);
    codec_writer_fini(&w);

    itest_request(h, "query", &r, "Dashboard", "");
    int64_t t_other = proc_mono_ms();
    itest_assert_ok(&r, "Dashboard while another request is parked");
    cr_assert_eq(itest_int(r.root, "product_count"), 1);
    harness_reply_fini(&r);
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 0), 0, "the parked request was answered before its wait");
    cr_assert_eq(zmq_poll(&item, 1, 3000), 1, "the parked request is answered within bounds");
    int64_t t1 = proc_mono_ms();
    zmq_msg_t m;
    zmq_msg_init(&m);
    cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    cr_assert_eq(codec_parse(zmq_msg_data(&m), zmq_msg_size(&m), &u, &why), 0);
    bool ok = false, reached = true;
    cr_assert_eq(codec_get_bool(codec_map_get(&u.data, "ok"), &ok), 0);
    cr_assert(ok);
    cr_assert_eq(codec_get_bool(codec_map_get(&u.data, "reached"), &reached), 0);
    cr_assert_not(reached, "a future position is not reached");
    cr_assert_eq(itest_int(itest_get(&u.data, "product"), "stock"), 25,
                 "the data as of the current position");
    msgpack_unpacked_destroy(&u);
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(ctx);
    cr_assert_geq(t1 - t0, 190, "answered before wait_ms ran out (%lld ms)", (long long)(t1 - t0));
    cr_assert_lt(t1 - t0, 3000);
    cr_assert_lt(t_other, t1);

    /* without wait_ms: answered at once, reached=false */
    itest_request(h, "query", &r, "Status", "I", "min_position", p + 1000000);
    itest_assert_ok(&r, "Status");
    cr_assert_not(itest_bool(r.root, "reached"));
    harness_reply_fini(&r);
    finish();
}

/* ============================================================================
 * Audit
 * ========================================================================== */

static const msgpack_object *
audit(harness_reply_t *r, const char *spec, ...)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 1 + strlen(spec));
    codec_pack_kv_str(&w.pk, "type", "SearchAudit");
    va_list ap;
    va_start(ap, spec);
    itest_pack_pairs(&w.pk, spec, ap);
    va_end(ap);
    cr_assert_eq(harness_request(h, "audit", w.buf.data, w.buf.size, ITEST_TIMEOUT_MS, r), 0);
    codec_writer_fini(&w);
    itest_assert_ok(r, "SearchAudit");
    return itest_items(r);
}

static void
check_row(const msgpack_object *row, const char *stream, int64_t version, const char *type,
          const char *corr, const char *change)
{
    char buf[256];
    cr_assert_str_eq(itest_str(row, "stream", buf, sizeof buf), stream);
    cr_assert_eq(itest_int(row, "version"), version);
    cr_assert_str_eq(itest_str(row, "type", buf, sizeof buf), type);
    cr_assert_str_eq(itest_str(row, "correlation_id", buf, sizeof buf), corr);
    cr_assert_str_eq(itest_str(row, "change", buf, sizeof buf), change);
}

Test(domain, audit_search)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Widget", "w", 1999, 1000, 40, 10);
    command_t c;
    itest_sell_cmd(&c, "sell-1", "p1", "o1", 35);
    snprintf(c.correlation_id, sizeof c.correlation_id, "order-flow-1");
    int64_t p_sell = itest_accept(h, &c);
    itest_cmd(&c, CMD_UPDATE_STOCK, "stock-1");
    snprintf(c.correlation_id, sizeof c.correlation_id, "order-flow-1");
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_NEW_STOCK, 30);
    int64_t p_stock = itest_accept(h, &c);
    int64_t last = change_price("price-1", "p1", 1499);
    cr_assert_eq(harness_wait_position(h, "audit", last, ITEST_WAIT_MS), 0);

    harness_reply_t r;
    const msgpack_object *items = audit(&r, "s", "stream", "product-p1");
    cr_assert_eq(items->via.array.size, 4);
    const msgpack_object *row = items->via.array.ptr;
    check_row(&row[0], "product-p1", 1, "ProductCreated", "corr-create-p1",
              "created \"Widget\" price 1999 stock 40 threshold 10");
    check_row(&row[1], "product-p1", 2, "ProductSold", "order-flow-1",
              "sold 35 (order o1) stock 40 -> 5");
    check_row(&row[2], "product-p1", 3, "StockUpdated", "order-flow-1", "stock 5 -> 30");
    check_row(&row[3], "product-p1", 4, "PriceChanged", "corr-price-1", "price 1999 -> 1499");
    cr_assert_eq(itest_int(&row[1], "position"), p_sell);
    cr_assert_eq(itest_int(&row[2], "position"), p_stock);
    int64_t at_sell = itest_int(&row[1], "recorded_at");
    int64_t at_stock = itest_int(&row[2], "recorded_at");
    int64_t at_price = itest_int(&row[3], "recorded_at");
    harness_reply_fini(&r);

    items = audit(&r, "s", "stream", "supplier-s1");
    cr_assert_eq(items->via.array.size, 1);
    check_row(&items->via.array.ptr[0], "supplier-s1", 1, "SupplierRegistered", "corr-reg-s1",
              "registered \"Acme Tools\"");
    harness_reply_fini(&r);

    items = audit(&r, "s", "correlation_id", "order-flow-1");
    cr_assert_eq(items->via.array.size, 2);
    cr_assert_eq(itest_int(&items->via.array.ptr[0], "position"), p_sell);
    cr_assert_eq(itest_int(&items->via.array.ptr[1], "position"), p_stock);
    harness_reply_fini(&r);

    /* time range: half-open [from, to) */
    cr_assert(at_sell < at_stock && at_stock < at_price);
    {
        items = audit(&r, "II", "from_us", at_sell, "to_us", at_stock);
        cr_assert_eq(items->via.array.size, 1);
        check_row(&items->via.array.ptr[0], "product-p1", 2, "ProductSold", "order-flow-1",
                  "sold 35 (order o1) stock 40 -> 5");
        harness_reply_fini(&r);
        items = audit(&r, "I", "from_us", at_stock);
        cr_assert_eq(items->via.array.size, 2);
        cr_assert_eq(itest_int(&items->via.array.ptr[0], "position"), p_stock);
        harness_reply_fini(&r);
        items = audit(&r, "I", "to_us", at_sell);
        cr_assert_eq(items->via.array.size, 2, "the registration and the creation");
        harness_reply_fini(&r);
        items = audit(&r, "sII", "correlation_id", "order-flow-1", "from_us", at_stock, "to_us",
                      at_price + 1);
        cr_assert_eq(items->via.array.size, 1, "filters combine");
        harness_reply_fini(&r);
    }

    /* pages */
    items = audit(&r, "i", "limit", 2);
    cr_assert_eq(items->via.array.size, 2);
    char cursor[32];
    cr_assert_eq(harness_reply_str(&r, "next_cursor", cursor, sizeof cursor), 0);
    harness_reply_fini(&r);
    items = audit(&r, "is", "limit", 10, "cursor", cursor);
    cr_assert_eq(items->via.array.size, 3);
    cr_assert_eq(itest_int(&items->via.array.ptr[0], "position"), 3);
    harness_reply_fini(&r);

    /* the printed line */
    itest_wait_log_line(h, "audit",
                        "product-p1@2 ProductSold [corr=order-flow-1] sold 35 (order o1) "
                        "stock 40 -> 5");
    finish();
}

/* ============================================================================
 * Alerts
 * ========================================================================== */

static int
alert_kinds(int64_t min_position, char *kinds, size_t cap)
{
    cr_assert_eq(harness_wait_position(h, "alert", min_position, ITEST_WAIT_MS), 0);
    harness_reply_t r;
    itest_request(h, "alert-api", &r, "ListAlerts", "si", "product_id", "p1", "limit", 100);
    itest_assert_ok(&r, "ListAlerts");
    cr_assert_geq(itest_int(r.root, "position"), min_position);
    const msgpack_object *items = itest_items(&r);
    kinds[0] = '\0';
    size_t n = 0;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *a = &items->via.array.ptr[i];
        char k[32];
        itest_str(a, "kind", k, sizeof k);
        cr_assert(itest_str_is(a, "product_id", "p1"));
        cr_assert(itest_str_is(a, "name", "Widget"));
        cr_assert_eq(itest_int(a, "threshold"), 10);
        n += (size_t)snprintf(kinds + n, cap - n, "%s%s:%lld", i ? "," : "", k,
                              (long long)itest_int(a, "stock"));
    }
    int count = (int)items->via.array.size;
    harness_reply_fini(&r);
    return count;
}

typedef struct {
    char *bytes; /* the body (the parse points into it) */
    msgpack_unpacked u;
} alert_msg_t;

static void
alert_msg_fini(alert_msg_t *a)
{
    msgpack_unpacked_destroy(&a->u);
    free(a->bytes);
    a->bytes = NULL;
}

/* Receives alerts on sub until one for product pid arrives (0), or
 * timeout_ms runs out (-1). */
static int
recv_alert(void *sub, const char *pid, int timeout_ms, alert_msg_t *out)
{
    int64_t deadline = proc_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - proc_mono_ms();
        if (left <= 0)
            return -1;
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)left) <= 0)
            continue;
        char topic[16];
        int tn = zmq_recv(sub, topic, sizeof topic, 0);
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        cr_assert(tn == 5 && memcmp(topic, "alert", 5) == 0 && more,
                  "alert frames are [\"alert\", body]");
        zmq_msg_t body;
        zmq_msg_init(&body);
        cr_assert_geq(zmq_msg_recv(&body, sub, 0), 0);
        size_t len = zmq_msg_size(&body);
        out->bytes = malloc(len ? len : 1);
        memcpy(out->bytes, zmq_msg_data(&body), len);
        zmq_msg_close(&body);
        msgpack_unpacked_init(&out->u);
        const char *why;
        cr_assert_eq(codec_parse(out->bytes, len, &out->u, &why), 0, "alert body: %s", why);
        if (itest_str_is(&out->u.data, "product_id", pid))
            return 0;
        alert_msg_fini(out);
    }
}

static void
check_alert(const alert_msg_t *a, const char *kind, int64_t stock, int64_t position,
            const char *corr)
{
    static const char *const keys[] = {"kind",        "product_id",     "name",
                                       "stock",       "threshold",      "position",
                                       "recorded_at", "correlation_id", NULL};
    const msgpack_object *o = &a->u.data;
    cr_assert(itest_keys_are(o, keys), "the alert body has exactly the documented keys");
    cr_assert(itest_str_is(o, "kind", kind), "expected a %s alert", kind);
    cr_assert(itest_str_is(o, "name", "Widget"));
    cr_assert_eq(itest_int(o, "stock"), stock);
    cr_assert_eq(itest_int(o, "threshold"), 10);
    cr_assert_eq(itest_int(o, "position"), position);
    cr_assert(itest_str_is(o, "correlation_id", corr));
    cr_assert_gt(itest_int(o, "recorded_at"), 0);
}

Test(domain, low_stock_alerts_stored_and_live)
{
    start();
    register_supplier("reg-s1", "s1", "Acme Tools");
    create_product("create-p1", "p1", "s1", "Widget", "w", 1999, 1000, 40, 10);

    /* subscribe first; the subscription reaches the PUB socket some time
     * after the connect, so prove it is live with warm-up alerts (products
     * created at stock 0) before the commands under test */
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert", 5);
    cr_assert_eq(zmq_connect(sub, harness_endpoint(h, "alerts")), 0);
    alert_msg_t a;
    bool live = false;
    for (int i = 0; i < 50 && !live; i++) {
        char cid[32], pid[32];
        snprintf(cid, sizeof cid, "warm-%d", i);
        snprintf(pid, sizeof pid, "warm%d", i);
        create_product(cid, pid, "s1", "Warm-up", "", 1, 1, 0, 1);
        if (recv_alert(sub, pid, 300, &a) == 0) {
            live = true;
            cr_assert(itest_str_is(&a.u.data, "kind", "out_of_stock"));
            alert_msg_fini(&a);
        }
    }
    cr_assert(live, "no warm-up alert ever arrived on the alert PUB");

    char kinds[512];
    int64_t p = sell("sell-1", "p1", "o-1", 35); /* 40 -> 5: crosses below 10 */
    cr_assert_eq(recv_alert(sub, "p1", ITEST_WAIT_MS, &a), 0, "the live low_stock alert");
    check_alert(&a, "low_stock", 5, p, "corr-sell-1");
    alert_msg_fini(&a);
    cr_assert_eq(alert_kinds(p, kinds, sizeof kinds), 1);
    cr_assert_str_eq(kinds, "low_stock:5");
    itest_wait_log_line(h, "alert", "LOW STOCK p1 \"Widget\" stock 5 < threshold 10");

    p = sell("sell-2", "p1", "o-2", 1); /* 5 -> 4: still low, no new alert */
    cr_assert_eq(alert_kinds(p, kinds, sizeof kinds), 1, "once per crossing: %s", kinds);

    p = sell("sell-3", "p1", "o-3", 4); /* 4 -> 0 */
    cr_assert_eq(recv_alert(sub, "p1", ITEST_WAIT_MS, &a), 0, "the live out_of_stock alert");
    check_alert(&a, "out_of_stock", 0, p, "corr-sell-3");
    alert_msg_fini(&a);
    cr_assert_eq(alert_kinds(p, kinds, sizeof kinds), 2);
    cr_assert_str_eq(kinds, "low_stock:5,out_of_stock:0");
    itest_wait_log_line(h, "alert", "OUT OF STOCK p1 \"Widget\" stock 0, threshold 10");

    p = update_stock("restock-1", "p1", 10); /* back to the threshold: cleared */
    cr_assert_eq(recv_alert(sub, "p1", ITEST_WAIT_MS, &a), 0, "the live cleared alert");
    check_alert(&a, "cleared", 10, p, "corr-restock-1");
    alert_msg_fini(&a);
    cr_assert_eq(alert_kinds(p, kinds, sizeof kinds), 3);
    cr_assert_str_eq(kinds, "low_stock:5,out_of_stock:0,cleared:10");
    itest_wait_log_line(h, "alert", "CLEARED p1 \"Widget\" stock 10 >= threshold 10");

    p = update_stock("restock-2", "p1", 50); /* ok -> ok: nothing */
    cr_assert_eq(alert_kinds(p, kinds, sizeof kinds), 3, "%s", kinds);

    zmq_close(sub);
    zmq_ctx_term(ctx);
    finish();
}
