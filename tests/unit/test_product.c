/* Unit tests of the Product and Supplier aggregates: every rule of
 * DOMAIN.md, and replay purity (the same events always fold to the same
 * state). */
#include "product.h"
#include "supplier.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static command_t cmd;
static decision_t d;

static void
cmd_start(command_type_t type, const char *product_id)
{
    memset(&cmd, 0, sizeof cmd);
    cmd.type = type;
    strcpy(cmd.command_id, "c");
    if (product_id)
        fields_set_str(&cmd.data, F_PRODUCT_ID, product_id);
}

/* Folds the accepted decision into p as the next event of its stream. */
static void
fold_product(product_t *p)
{
    cr_assert_eq(d.code, REJ_NONE, "expected acceptance, got %s: %s", reject_code_name(d.code),
                 d.message);
    event_t ev;
    decision_event(&d, "product-p1", p->version + 1, &ev);
    product_apply(p, &ev);
}

static void
supplier_acme(supplier_t *s)
{
    supplier_init(s);
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CMD_REGISTER_SUPPLIER;
    fields_set_str(&cmd.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&cmd.data, F_NAME, "Acme");
    supplier_decide(s, &cmd, &d);
    cr_assert_eq(d.code, REJ_NONE);
    event_t ev;
    decision_event(&d, "supplier-s1", 1, &ev);
    supplier_apply(s, &ev);
}

static void
create_widget(product_t *p, const supplier_t *s, int64_t stock, int64_t threshold)
{
    product_init(p);
    cmd_start(CMD_CREATE_PRODUCT, "p1");
    fields_set_str(&cmd.data, F_SKU, "W-1");
    fields_set_str(&cmd.data, F_NAME, "Widget");
    fields_set_str(&cmd.data, F_DESCRIPTION, "");
    fields_set_str(&cmd.data, F_SUPPLIER_ID, "s1");
    fields_set_int(&cmd.data, F_PRICE_CENTS, 1999);
    fields_set_int(&cmd.data, F_COST_PRICE_CENTS, 1000);
    fields_set_int(&cmd.data, F_STOCK, stock);
    fields_set_int(&cmd.data, F_LOW_STOCK_THRESHOLD, threshold);
    product_decide(p, s, &cmd, &d);
    fold_product(p);
}

Test(supplier, register_then_register_again_is_already_exists)
{
    supplier_t s;
    supplier_acme(&s);
    cr_assert(s.exists);
    cr_assert_str_eq(s.name, "Acme");
    supplier_decide(&s, &cmd, &d);
    cr_assert_eq(d.code, REJ_ALREADY_EXISTS);
}

Test(supplier, rename_rules)
{
    supplier_t s;
    supplier_init(&s);
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CMD_RENAME_SUPPLIER;
    fields_set_str(&cmd.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&cmd.data, F_NAME, "Acme");
    supplier_decide(&s, &cmd, &d);
    cr_assert_eq(d.code, REJ_NOT_FOUND);
    supplier_acme(&s);
    cmd.type = CMD_RENAME_SUPPLIER;
    supplier_decide(&s, &cmd, &d);
    cr_assert_eq(d.code, REJ_VALIDATION, "same name must be refused");
    cr_assert_str_eq(d.fields.items[0].field, "name");
    fields_set_str(&cmd.data, F_NAME, "Acme Ltd");
    supplier_decide(&s, &cmd, &d);
    cr_assert_eq(d.code, REJ_NONE);
    cr_assert_eq(d.type, EV_SUPPLIER_RENAMED);
    cr_assert_str_eq(d.data.old_name, "Acme");
    cr_assert_str_eq(d.data.new_name, "Acme Ltd");
}

Test(product, create_embeds_supplier_name_and_needs_supplier)
{
    supplier_t s, none;
    supplier_acme(&s);
    supplier_init(&none);
    product_t p;
    product_init(&p);
    cmd_start(CMD_CREATE_PRODUCT, "p1");
    fields_set_str(&cmd.data, F_SUPPLIER_ID, "s1");
    product_decide(&p, &none, &cmd, &d);
    cr_assert_eq(d.code, REJ_NOT_FOUND);
    create_widget(&p, &s, 40, 10);
    cr_assert(p.exists);
    cr_assert_str_eq(p.supplier_name, "Acme");
    cr_assert_eq(p.stock, 40);
    cr_assert_eq(p.version, 1);
    create_widget(&p, &s, 40, 10); /* re-create only to get the command back */
}

Test(product, create_twice_is_already_exists)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, 40, 10);
    cmd.type = CMD_CREATE_PRODUCT;
    fields_set_str(&cmd.data, F_SUPPLIER_ID, "s1");
    product_decide(&p, &s, &cmd, &d);
    cr_assert_eq(d.code, REJ_ALREADY_EXISTS);
}

Test(product, every_command_needs_an_existing_product)
{
    product_t p;
    product_init(&p);
    const command_type_t types[] = {CMD_CHANGE_PRICE,  CMD_UPDATE_STOCK,
                                    CMD_SELL_PRODUCT,  CMD_RECORD_PRODUCT_VIEW,
                                    CMD_SUBMIT_REVIEW, CMD_DISCONTINUE_PRODUCT};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        cmd_start(types[i], "nope");
        fields_set_int(&cmd.data, F_QUANTITY, 1);
        product_decide(&p, NULL, &cmd, &d);
        cr_assert_eq(d.code, REJ_NOT_FOUND, "%s", command_spec(types[i])->name);
    }
}

Test(product, sell_rejects_insufficient_stock_and_records_prices)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, 12, 10);
    cmd_start(CMD_SELL_PRODUCT, "p1");
    fields_set_str(&cmd.data, F_ORDER_ID, "o1");
    fields_set_int(&cmd.data, F_QUANTITY, 13);
    product_decide(&p, NULL, &cmd, &d);
    cr_assert_eq(d.code, REJ_INSUFFICIENT_STOCK);
    fields_set_int(&cmd.data, F_QUANTITY, 12);
    product_decide(&p, NULL, &cmd, &d);
    cr_assert_eq(d.type, EV_PRODUCT_SOLD);
    cr_assert_eq(fields_int(&d.data, F_OLD_STOCK), 12);
    cr_assert_eq(fields_int(&d.data, F_NEW_STOCK), 0);
    cr_assert_eq(fields_int(&d.data, F_UNIT_PRICE_CENTS), 1999);
    cr_assert_str_eq(d.data.product_id, "p1");
    fold_product(&p);
    cr_assert_eq(p.stock, 0);
    cr_assert_eq(p.units_sold, 12);
}

Test(product, change_price_rules)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, 5, 1);
    cmd_start(CMD_CHANGE_PRICE, "p1");
    fields_set_int(&cmd.data, F_PRICE_CENTS, 1999);
    product_decide(&p, NULL, &cmd, &d);
    cr_assert_eq(d.code, REJ_VALIDATION);
    cr_assert_str_eq(d.fields.items[0].field, "price_cents");
    fields_set_int(&cmd.data, F_PRICE_CENTS, 1499);
    product_decide(&p, NULL, &cmd, &d);
    cr_assert_eq(d.type, EV_PRICE_CHANGED);
    cr_assert_eq(fields_int(&d.data, F_OLD_PRICE_CENTS), 1999);
    cr_assert_eq(fields_int(&d.data, F_NEW_PRICE_CENTS), 1499);
    fold_product(&p);
    cr_assert_eq(p.price_cents, 1499);
}

Test(product, discontinued_refuses_price_sell_and_discontinue_but_takes_stock_views_reviews)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, 5, 1);
    cmd_start(CMD_DISCONTINUE_PRODUCT, "p1");
    fields_set_str(&cmd.data, F_REASON, "end of line");
    product_decide(&p, NULL, &cmd, &d);
    fold_product(&p);
    cr_assert(p.discontinued);
    const command_type_t refused[] = {CMD_CHANGE_PRICE, CMD_SELL_PRODUCT, CMD_DISCONTINUE_PRODUCT};
    for (size_t i = 0; i < 3; i++) {
        cmd_start(refused[i], "p1");
        fields_set_int(&cmd.data, F_PRICE_CENTS, 1);
        fields_set_int(&cmd.data, F_QUANTITY, 1);
        product_decide(&p, NULL, &cmd, &d);
        cr_assert_eq(d.code, REJ_DISCONTINUED, "%s", command_spec(refused[i])->name);
    }
    cmd_start(CMD_UPDATE_STOCK, "p1");
    fields_set_int(&cmd.data, F_NEW_STOCK, 9);
    product_decide(&p, NULL, &cmd, &d);
    fold_product(&p);
    cr_assert_eq(p.stock, 9);
    cmd_start(CMD_RECORD_PRODUCT_VIEW, "p1");
    product_decide(&p, NULL, &cmd, &d);
    fold_product(&p);
    cr_assert_eq(p.view_count, 1);
}

Test(product, reviews_accumulate)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, 5, 1);
    for (int r = 1; r <= 5; r++) {
        cmd_start(CMD_SUBMIT_REVIEW, "p1");
        fields_set_str(&cmd.data, F_REVIEW_ID, "r");
        fields_set_str(&cmd.data, F_CUSTOMER_ID, "u");
        fields_set_int(&cmd.data, F_RATING, r);
        fields_set_str(&cmd.data, F_COMMENT, "ok");
        product_decide(&p, NULL, &cmd, &d);
        fold_product(&p);
    }
    cr_assert_eq(p.review_count, 5);
    cr_assert_eq(p.rating_sum, 15);
    cr_assert_eq(p.version, 6);
}

/* A random but valid history, recorded as events. */
static int
random_history(product_t *p, event_t *events, int max, unsigned seed)
{
    supplier_t s;
    supplier_acme(&s);
    create_widget(p, &s, 50, 10);
    int n = 0;
    events[n].env.type = d.type;
    events[n].env.version = 1;
    events[n++].data = d.data;
    srand(seed);
    while (n < max) {
        command_type_t t = (command_type_t)(CMD_CHANGE_PRICE + rand() % 6);
        cmd_start(t, "p1");
        fields_set_int(&cmd.data, F_PRICE_CENTS, rand() % 5000);
        fields_set_int(&cmd.data, F_NEW_STOCK, rand() % 100);
        fields_set_int(&cmd.data, F_QUANTITY, 1 + rand() % 20);
        fields_set_str(&cmd.data, F_ORDER_ID, "o");
        fields_set_str(&cmd.data, F_REVIEW_ID, "r");
        fields_set_str(&cmd.data, F_CUSTOMER_ID, "u");
        fields_set_int(&cmd.data, F_RATING, 1 + rand() % 5);
        product_decide(p, NULL, &cmd, &d);
        if (d.code != REJ_NONE)
            continue;
        memset(&events[n], 0, sizeof events[n]);
        events[n].env.type = d.type;
        events[n].env.version = p->version + 1;
        events[n].data = d.data;
        product_apply(p, &events[n]);
        n++;
    }
    return n;
}

Test(product, replay_is_pure)
{
    enum { N = 200 };
    event_t *events = calloc(N, sizeof *events);
    for (unsigned seed = 1; seed <= 20; seed++) {
        product_t live, replay1, replay2;
        int n = random_history(&live, events, N, seed);
        product_init(&replay1);
        product_init(&replay2);
        for (int i = 0; i < n; i++)
            product_apply(&replay1, &events[i]);
        for (int i = 0; i < n; i++)
            product_apply(&replay2, &events[i]);
        cr_assert(memcmp(&replay1, &replay2, sizeof replay1) == 0, "seed %u", seed);
        cr_assert(memcmp(&replay1, &live, sizeof live) == 0, "seed %u: replay != live", seed);
        cr_assert_geq(live.stock, 0);
    }
    free(events);
}

Test(product, decide_does_not_touch_state)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p, before;
    create_widget(&p, &s, 5, 1);
    before = p;
    cmd_start(CMD_SELL_PRODUCT, "p1");
    fields_set_int(&cmd.data, F_QUANTITY, 2);
    fields_set_str(&cmd.data, F_ORDER_ID, "o");
    product_decide(&p, NULL, &cmd, &d);
    cr_assert(memcmp(&p, &before, sizeof p) == 0);
}

/* ---- 64-bit extremes (issue 23, item 3) ------------------------------------- */

static void
apply_event(product_t *p, event_type_t type, const fields_t *data)
{
    event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.env.type = type;
    ev.env.version = p->version + 1;
    ev.data = *data;
    product_apply(p, &ev);
}

/* Events stored before the domain's bounds may hold any int64 >= 0: the
 * aggregate's counters stay at 2^63 - 1 instead of wrapping (units_sold
 * read -2^63 after 2^63 units). */
Test(product, counters_saturate_instead_of_wrapping)
{
    product_t p;
    product_init(&p);
    fields_t f;
    memset(&f, 0, sizeof f);
    fields_set_str(&f, F_PRODUCT_ID, "p1");
    fields_set_int(&f, F_STOCK, INT64_MAX);
    fields_set_int(&f, F_PRICE_CENTS, INT64_MAX);
    apply_event(&p, EV_PRODUCT_CREATED, &f);
    memset(&f, 0, sizeof f);
    fields_set_int(&f, F_QUANTITY, INT64_C(1) << 62);
    fields_set_int(&f, F_NEW_STOCK, 7);
    apply_event(&p, EV_PRODUCT_SOLD, &f);
    apply_event(&p, EV_PRODUCT_SOLD, &f);
    cr_assert_eq(p.units_sold, INT64_MAX);
    apply_event(&p, EV_PRODUCT_SOLD, &f);
    cr_assert_eq(p.units_sold, INT64_MAX);
    p.rating_sum = INT64_MAX - 2;
    p.review_count = INT64_MAX;
    p.view_count = INT64_MAX;
    memset(&f, 0, sizeof f);
    fields_set_int(&f, F_RATING, 5);
    apply_event(&p, EV_REVIEW_SUBMITTED, &f);
    apply_event(&p, EV_PRODUCT_VIEWED, &f);
    cr_assert_eq(p.rating_sum, INT64_MAX);
    cr_assert_eq(p.review_count, INT64_MAX);
    cr_assert_eq(p.view_count, INT64_MAX);
}

/* A sale of everything in stock at the domain's bounds: every value fits. */
Test(product, a_sale_at_the_bounds_fits)
{
    supplier_t s;
    supplier_acme(&s);
    product_t p;
    create_widget(&p, &s, FIELDS_COUNT_MAX, 1);
    cmd_start(CMD_CHANGE_PRICE, "p1");
    fields_set_int(&cmd.data, F_PRICE_CENTS, FIELDS_MONEY_MAX);
    product_decide(&p, &s, &cmd, &d);
    fold_product(&p);
    cmd_start(CMD_SELL_PRODUCT, "p1");
    fields_set_str(&cmd.data, F_ORDER_ID, "o1");
    fields_set_int(&cmd.data, F_QUANTITY, FIELDS_COUNT_MAX);
    product_decide(&p, &s, &cmd, &d);
    cr_assert_eq(fields_int(&d.data, F_NEW_STOCK), 0);
    int64_t revenue;
    cr_assert_not(__builtin_mul_overflow(fields_int(&d.data, F_QUANTITY),
                                         fields_int(&d.data, F_UNIT_PRICE_CENTS), &revenue));
    cr_assert_eq(revenue, FIELDS_COUNT_MAX * FIELDS_MONEY_MAX);
    fold_product(&p);
    cr_assert_eq(p.units_sold, FIELDS_COUNT_MAX);
}
