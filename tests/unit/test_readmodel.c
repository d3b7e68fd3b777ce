/* test_readmodel: the projector's read model, driven with event_t values
 * built in C and applied to a model in a temporary file; rows are checked
 * with plain SQL on a second connection.  Includes the differential test:
 * the same events applied to two fresh models (in different batchings)
 * give byte-identical canonical dumps. */
#include "readmodel.h"

#include "event_history.h"
#include "readmodeltest.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures -------------------------------------------------------------- */

static char dir[64];
static char path[128];

static void
setup(void)
{
    scratch_make_file(dir, sizeof dir, "readmodel", "read.db", path, sizeof path);
}

static void
teardown(void)
{
    scratch_remove(dir);
}

static void
apply_all(readmodel_t *m, const hist_t *h)
{
    readmodeltest_apply(m, h, 0, h->n);
}

static readmodel_t *
open_model(const char *p)
{
    const char *why = NULL;
    readmodel_t *m = readmodel_open(p, &why);
    cr_assert_not_null(m, "readmodel_open: %s", why);
    return m;
}

/* Runs a one-value SQL query on a separate connection; returns it as int. */
static int64_t
sql_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -999;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Same for a text value, copied into a static buffer ("<none>" if no row). */
static const char *
sql_text(const char *sql)
{
    static char buf[512];
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    snprintf(buf, sizeof buf, "<none>");
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

static char *
dump_of(readmodel_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(readmodel_dump(m, f), 0);
    fclose(f);
    return buf;
}

/* A history that touches every event type. */
static void
history_full(hist_t *h)
{
    ev_supplier(h, "s1", "Acme");
    ev_supplier(h, "s2", "Globex");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_product(h, "p2", "Red Gadget", "s1", "Acme", 2500, 2000, 3, 5);
    ev_product(h, "p3", "Green Gizmo", "s2", "Globex", 500, 100, 0, 2);
    ev_price(h, "p1", 1000, 900);
    ev_sold(h, "p1", 4, 900, 20);
    ev_viewed(h, "p1");
    ev_viewed(h, "p1");
    ev_review(h, "p1", "r1", 5);
    ev_review(h, "p1", "r2", 4);
    ev_review(h, "p1", "r3", 3);
    ev_stock(h, "p2", 3, 10);
    ev_rename(h, "s1", "Acme", "Acme Corp");
    ev_discontinue(h, "p3", "supplier stopped making it");
    h->now += DAY_US;
    ev_sold(h, "p2", 2, 2500, 10);
}

TestSuite(readmodel, .init = setup, .fini = teardown, .timeout = 30);

Test(readmodel, fresh_model_has_checkpoint_zero_and_schema_version)
{
    readmodel_t *m = open_model(path);
    int64_t pos = -1;
    cr_assert_eq(readmodel_checkpoint(m, &pos), 0);
    cr_assert_eq(pos, 0);
    cr_assert_eq(sql_int("PRAGMA user_version"), READMODEL_SCHEMA_VERSION);
    readmodel_close(&m);
    cr_assert_null(m);
    readmodel_close(&m); /* idempotent */
}

Test(readmodel, product_created_fills_card_detail_and_supplier_counts)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT price_cents FROM product_cards WHERE product_id='p1'"), 1000);
    cr_assert_eq(sql_int("SELECT in_stock FROM product_cards WHERE product_id='p1'"), 1);
    cr_assert_str_eq(sql_text("SELECT supplier_name FROM product_cards"), "Acme");
    cr_assert_str_eq(sql_text("SELECT sku FROM product_details"), "SKU-p1");
    cr_assert_eq(sql_int("SELECT low_stock FROM product_details"), 0);
    cr_assert_eq(sql_int("SELECT version FROM product_details"), 1);
    cr_assert_eq(sql_int("SELECT stock_value_cents FROM admin_products"), 20 * 600);
    cr_assert_eq(sql_int("SELECT margin_cents FROM admin_products"), 400);
    cr_assert_eq(sql_int("SELECT product_count FROM suppliers WHERE supplier_id='s1'"), 1);
    cr_assert_eq(sql_int("SELECT position FROM checkpoint"), 2);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, public_views_have_no_cost_columns)
{
    readmodel_t *m = open_model(path);
    const char *views[] = {"product_cards", "product_details", "low_stock_items"};
    for (int i = 0; i < 3; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pragma_table_info('%s') WHERE name LIKE '%%cost%%'"
                 " OR name LIKE '%%margin%%' OR name LIKE '%%value%%'",
                 views[i]);
        cr_assert_eq(sql_int(sql), 0, "%s shows a cost column", views[i]);
    }
    cr_assert_eq(sql_int("SELECT count(*) FROM pragma_table_info('admin_products')"
                         " WHERE name = 'cost_price_cents'"),
                 1);
    readmodel_close(&m);
}

Test(readmodel, price_change_keeps_previous_price_and_history)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_price(h, "p1", 1000, 800);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT price_cents FROM product_details"), 800);
    cr_assert_eq(sql_int("SELECT previous_price_cents FROM product_details"), 1000);
    cr_assert_eq(sql_int("SELECT price_dropped FROM product_details"), 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM price_history WHERE product_id='p1'"), 1);
    cr_assert_eq(sql_int("SELECT old_price_cents FROM price_history"), 1000);
    cr_assert_eq(sql_int("SELECT recorded_at FROM price_history"), h->ev[2].env.recorded_at);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, price_rise_is_not_a_drop)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_price(h, "p1", 1000, 1200);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT price_dropped FROM product_details"), 0);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, sales_move_stock_and_today_figures)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 6, 5);
    ev_sold(h, "p1", 2, 1000, 6);
    h->now += DAY_US; /* the next sale is on the next UTC day: "today" */
    ev_sold(h, "p1", 3, 1000, 4);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT stock FROM product_details"), 1);
    cr_assert_eq(sql_int("SELECT low_stock FROM product_details"), 1);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products"), 5);
    cr_assert_eq(sql_int("SELECT units_sold_today FROM dashboard"), 3);
    cr_assert_eq(sql_int("SELECT revenue_today_cents FROM dashboard"), 3000);
    cr_assert_str_eq(sql_text("SELECT today FROM dashboard"), "2026-01-02");
    cr_assert_eq(sql_int("SELECT low_stock_count FROM dashboard"), 1);
    cr_assert_eq(sql_int("SELECT inventory_value_cents FROM dashboard"), 600);
    cr_assert_str_eq(sql_text("SELECT product_id FROM best_sellers"), "p1");
    cr_assert_eq(sql_int("SELECT units_sold FROM best_sellers_today"), 3);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, reviews_average_and_keep_the_newest)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 6, 5);
    int ratings[] = {5, 4, 4, 3, 5, 1, 2};
    for (int i = 0; i < 7; i++) {
        char rid[8];
        snprintf(rid, sizeof rid, "r%d", i);
        ev_review(h, "p1", rid, ratings[i]);
    }
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT review_count FROM product_cards"), 7);
    cr_assert_str_eq(sql_text("SELECT avg_rating FROM product_cards"), "3.43");
    cr_assert_eq(sql_int("SELECT count(*) FROM reviews WHERE product_id='p1'"), 7);
    cr_assert_str_eq(sql_text("SELECT review_id FROM reviews ORDER BY position DESC LIMIT 1"),
                     "r6");
    readmodel_close(&m);
    free(h);
}

Test(readmodel, supplier_rename_rewrites_cards_detail_and_search)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_supplier(h, "s2", "Globex");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_product(h, "p2", "Red Gadget", "s1", "Acme", 1000, 600, 20, 5);
    ev_product(h, "p3", "Green Gizmo", "s2", "Globex", 1000, 600, 20, 5);
    ev_rename(h, "s1", "Acme", "Initech");
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_str_eq(sql_text("SELECT name FROM suppliers WHERE supplier_id='s1'"), "Initech");
    cr_assert_eq(sql_int("SELECT count(*) FROM product_cards WHERE supplier_name='Initech'"), 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM product_details WHERE supplier_name='Acme'"), 0);
    cr_assert_str_eq(sql_text("SELECT supplier_name FROM products WHERE product_id='p3'"),
                     "Globex");
    cr_assert_eq(sql_int("SELECT count(*) FROM product_search WHERE product_search MATCH"
                         " 'initech'"),
                 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM product_search WHERE product_search MATCH"
                         " 'acme'"),
                 0);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, discontinue_updates_active_counts)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_product(h, "p2", "Red Gadget", "s1", "Acme", 1000, 600, 20, 5);
    ev_discontinue(h, "p2", "old");
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT product_count FROM suppliers"), 2);
    cr_assert_eq(sql_int("SELECT active_product_count FROM suppliers"), 1);
    cr_assert_eq(sql_int("SELECT discontinued FROM product_details WHERE product_id='p2'"), 1);
    cr_assert_str_eq(sql_text("SELECT discontinued_reason FROM product_details"
                              " WHERE product_id='p2'"),
                     "old");
    cr_assert_eq(sql_int("SELECT product_count FROM dashboard"), 1);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, reapplying_every_event_changes_nothing)
{
    hist_t *h = hist_new();
    history_full(h);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    char *once = dump_of(m);
    for (int i = 0; i < h->n; i++) /* every event again, one batch each */
        readmodeltest_apply(m, h, i, i + 1);
    readmodeltest_apply(m, h, h->n - 1, h->n); /* restore the checkpoint */
    char *twice = dump_of(m);
    cr_assert_str_eq(once, twice);
    free(once);
    free(twice);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, rollback_leaves_model_and_checkpoint)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    readmodel_t *m = open_model(path);
    readmodeltest_apply(m, h, 0, 1);
    cr_assert_eq(readmodel_begin(m), 0);
    cr_assert_eq(readmodel_apply(m, &h->ev[1]), 0);
    readmodel_rollback(m);
    int64_t pos;
    cr_assert_eq(readmodel_checkpoint(m, &pos), 0);
    cr_assert_eq(pos, 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM products"), 0);
    readmodel_close(&m);
    free(h);
}

/* A rolled-back batch may have created product rows; a later batch that
 * creates other products first must not have its events land on their
 * rows (a cache of product keys would have to forget them: one was tried,
 * docs/decisions.md item 29). */
Test(readmodel, rollback_forgets_the_rows_it_created)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5); /* [1] */
    ev_sold(h, "p1", 2, 1000, 20);                                      /* [2] */
    readmodel_t *m = open_model(path);
    readmodeltest_apply(m, h, 0, 1);
    cr_assert_eq(readmodel_begin(m), 0); /* p1 created and sold, then rolled back */
    cr_assert_eq(readmodel_apply(m, &h->ev[1]), 0);
    cr_assert_eq(readmodel_apply(m, &h->ev[2]), 0);
    readmodel_rollback(m);
    /* the same positions again, but another product takes the first new row */
    hist_t *g = hist_new();
    ev_supplier(g, "s1", "Acme");
    ev_product(g, "p0", "Red Widget", "s1", "Acme", 500, 300, 7, 5);
    ev_product(g, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_sold(g, "p1", 2, 1000, 20);
    readmodeltest_apply(m, g, 1, g->n);
    cr_assert_eq(sql_int("SELECT stock FROM admin_products WHERE product_id = 'p0'"), 7);
    cr_assert_eq(sql_int("SELECT stock FROM admin_products WHERE product_id = 'p1'"), 18);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products WHERE product_id = 'p1'"), 2);
    readmodel_close(&m);
    free(g);
    free(h);
}

Test(readmodel, reopen_keeps_rows)
{
    hist_t *h = hist_new();
    history_full(h);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    char *before = dump_of(m);
    readmodel_close(&m);
    m = open_model(path);
    char *after = dump_of(m);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, refuses_another_schema_version)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    const char *why = NULL;
    readmodel_t *m = readmodel_open(path, &why);
    cr_assert_null(m);
    cr_assert_not_null(why);
}

static void
stamp_version(const char *file, int version)
{
    sqlite3 *db;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The projector's start-up upgrade: a model of another schema version is
 * removed (it is rebuilt from the log), anything else is left alone. */
Test(readmodel, another_schema_version_is_discarded)
{
    cr_assert_eq(readmodel_discard_other_schema(path), 0, "no file");
    readmodel_t *m = open_model(path);
    readmodel_close(&m);
    cr_assert_eq(readmodel_discard_other_schema(path), 0, "the current version stays");
    cr_assert_eq(access(path, F_OK), 0);

    stamp_version(path, 1);
    char wal[200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    FILE *f = fopen(wal, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(readmodel_discard_other_schema(path), 1);
    cr_assert_eq(access(path, F_OK), -1);
    cr_assert_eq(access(wal, F_OK), -1, "side files go too");
    m = open_model(path);
    cr_assert_eq(sql_int("PRAGMA user_version"), READMODEL_SCHEMA_VERSION);
    readmodel_close(&m);

    /* the rebuild layout: live path -> generation file */
    char gen[200], link_path[200];
    snprintf(gen, sizeof gen, "%s/live.db.1", dir);
    snprintf(link_path, sizeof link_path, "%s/live.db", dir);
    m = open_model(gen);
    readmodel_close(&m);
    stamp_version(gen, 1);
    cr_assert_eq(symlink("live.db.1", link_path), 0);
    cr_assert_eq(readmodel_discard_other_schema(link_path), 1);
    struct stat sb;
    cr_assert_eq(lstat(link_path, &sb), -1, "the link is removed");
    cr_assert_eq(access(gen, F_OK), 0, "the stale generation is the runtime's to delete");
}

Test(readmodel, differential_two_fresh_models_dump_equal)
{
    hist_t *h = hist_new();
    history_full(h);
    char path_b[160];
    snprintf(path_b, sizeof path_b, "%s/rebuild.db", dir);
    readmodel_t *a = open_model(path);
    readmodel_t *b = open_model(path_b);
    apply_all(a, h);                  /* one batch */
    for (int i = 0; i < h->n; i += 3) /* small batches */
        readmodeltest_apply(b, h, i, i + 3 < h->n ? i + 3 : h->n);
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert_gt(strlen(da), 500);
    cr_assert(strstr(da, "product_search product_id=\"p1\" term=\"widget\""), "%s", da);
    cr_assert_str_eq(da, db);
    free(da);
    free(db);
    readmodel_close(&a);
    readmodel_close(&b);
    free(h);
}

Test(readmodel, dump_differs_when_models_differ)
{
    hist_t *h = hist_new();
    history_full(h);
    char path_b[160];
    snprintf(path_b, sizeof path_b, "%s/other.db", dir);
    readmodel_t *a = open_model(path);
    readmodel_t *b = open_model(path_b);
    apply_all(a, h);
    readmodeltest_apply(b, h, 0, h->n - 1);
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert_str_neq(da, db);
    free(da);
    free(db);
    readmodel_close(&a);
    readmodel_close(&b);
    free(h);
}

Test(readmodel, events_for_unknown_products_are_skipped)
{
    hist_t *h = hist_new();
    ev_price(h, "ghost", 1, 2);
    ev_sold(h, "ghost", 1, 1, 5);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT count(*) FROM products"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM sales_daily"), 0);
    cr_assert_eq(sql_int("SELECT position FROM checkpoint"), 2);
    readmodel_close(&m);
    free(h);
}

Test(readmodel, factory_tracks_the_live_model)
{
    readmodel_t *live = open_model(path);
    readmodel_t *first = live;
    subscriber_factory_t f = readmodel_factory(&live);
    char path_b[160];
    snprintf(path_b, sizeof path_b, "%s/read.db.2", dir);
    void *fresh = f.open(f.arg, path_b);
    cr_assert_not_null(fresh);
    f.close(f.arg, first); /* the runtime closes the old live model */
    cr_assert_null(live);
    f.activate(f.arg, fresh);
    cr_assert_eq(live, fresh);
    readmodel_close(&live);
}

/* Sales are folded per product within a batch and written at commit
 * (salefold.h).  A batch that sells products many times, across a day
 * boundary, with other events of the same products between the sales and
 * events delivered twice, must leave what one event per batch leaves. */
static void
history_busy_sales(hist_t *h)
{
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 500, 5);
    ev_product(h, "p2", "Red Gadget", "s1", "Acme", 2500, 2000, 500, 5);
    int64_t stock1 = 500, stock2 = 500;
    for (int i = 0; i < 60; i++) {
        int64_t q = 1 + i % 3;
        ev_sold(h, "p1", q, 1000, stock1);
        stock1 -= q;
        if (i % 2 == 0) {
            ev_sold(h, "p2", 2, 2500, stock2);
            stock2 -= 2;
        }
        if (i % 7 == 3)
            ev_viewed(h, "p1");
        if (i % 11 == 5) {
            ev_stock(h, "p1", stock1, stock1 + 50);
            stock1 += 50;
        }
        if (i % 13 == 6)
            ev_price(h, "p2", 2500, 2400);
        if (i == 30)
            h->now += DAY_US;
    }
    ev_rename(h, "s1", "Acme", "Acme Corp");
    ev_sold(h, "p1", 1, 1000, stock1);
    ev_discontinue(h, "p2", "gone");
}

Test(readmodel, sales_folded_in_one_batch_equal_one_event_per_batch)
{
    hist_t *h = hist_new();
    history_busy_sales(h);
    char path_b[160];
    snprintf(path_b, sizeof path_b, "%s/by-one.db", dir);
    readmodel_t *a = open_model(path);
    readmodel_t *b = open_model(path_b);
    cr_assert_eq(readmodel_begin(a), 0); /* one batch, every event twice */
    for (int i = 0; i < h->n; i++) {
        cr_assert_eq(readmodel_apply(a, &h->ev[i]), 0, "apply %d: %s", i, readmodel_errmsg(a));
        cr_assert_eq(readmodel_apply(a, &h->ev[i]), 0, "again %d", i);
    }
    cr_assert_eq(readmodel_commit(a, h->ev[h->n - 1].env.position, h->ev[h->n - 1].env.event_id),
                 0);
    for (int i = 0; i < h->n; i++)
        readmodeltest_apply(b, h, i, i + 1);
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert(strstr(da, "sales_daily"), "%s", da);
    cr_assert_str_eq(da, db);
    /* and nothing moves when the whole history comes again */
    apply_all(a, h);
    char *again = dump_of(a);
    cr_assert_str_eq(da, again);
    free(da);
    free(db);
    free(again);
    readmodel_close(&a);
    readmodel_close(&b);
    free(h);
}

/* Views, stock updates and sales of one product in one batch reach its
 * row as the events say, each kind alone and all mixed: the fold writes
 * the view count, the newest stock (none: the stock stays), the units,
 * the version and the time of the last event. */
Test(readmodel, folded_views_stock_and_sales_are_written_at_commit)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_product(h, "p2", "Red Gadget", "s1", "Acme", 2500, 2000, 7, 5);
    ev_product(h, "p3", "Green Gizmo", "s1", "Acme", 500, 100, 4, 2);
    ev_viewed(h, "p1");
    ev_viewed(h, "p2");
    ev_viewed(h, "p3"); /* only a view for p3: its stock stays 4 */
    ev_stock(h, "p1", 20, 50);
    ev_viewed(h, "p1");
    ev_stock(h, "p2", 7, 9); /* a stock update and views, no sale */
    ev_sold(h, "p1", 2, 1000, 48);
    ev_viewed(h, "p2");
    ev_stock(h, "p1", 48, 60);
    ev_viewed(h, "p1");
    readmodel_t *m = open_model(path);
    readmodeltest_apply(m, h, 0, 4);
    cr_assert_eq(readmodel_begin(m), 0);
    for (int i = 4; i < h->n; i++)
        cr_assert_eq(readmodel_apply(m, &h->ev[i]), 0, "apply %d", i);
    cr_assert_eq(readmodel_commit(m, h->ev[h->n - 1].env.position, h->ev[h->n - 1].env.event_id),
                 0);
    cr_assert_eq(sql_int("SELECT view_count FROM product_details WHERE product_id = 'p1'"), 3);
    cr_assert_eq(sql_int("SELECT stock FROM product_details WHERE product_id = 'p1'"), 60);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products WHERE product_id = 'p1'"), 2);
    cr_assert_eq(sql_int("SELECT version FROM product_details WHERE product_id = 'p1'"), 7);
    cr_assert_eq(sql_int("SELECT updated_at FROM product_details WHERE product_id = 'p1'"),
                 h->ev[h->n - 1].env.recorded_at);
    cr_assert_eq(sql_int("SELECT view_count FROM product_details WHERE product_id = 'p2'"), 2);
    cr_assert_eq(sql_int("SELECT stock FROM product_details WHERE product_id = 'p2'"), 9);
    cr_assert_eq(sql_int("SELECT version FROM product_details WHERE product_id = 'p2'"), 4);
    cr_assert_eq(sql_int("SELECT view_count FROM product_details WHERE product_id = 'p3'"), 1);
    cr_assert_eq(sql_int("SELECT stock FROM product_details WHERE product_id = 'p3'"), 4);
    cr_assert_eq(sql_int("SELECT units_sold_today FROM dashboard"), 2);
    /* the same events again change nothing */
    readmodeltest_apply(m, h, 4, h->n);
    cr_assert_eq(sql_int("SELECT view_count FROM product_details WHERE product_id = 'p1'"), 3);
    cr_assert_eq(sql_int("SELECT stock FROM product_details WHERE product_id = 'p1'"), 60);
    readmodel_close(&m);
    free(h);
}

/* A rolled-back batch had folded sales and moved the versions the fold
 * remembers; the retried batch must apply them again, not take them for
 * already applied. */
Test(readmodel, rollback_forgets_folded_sales)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "Blue Widget", "s1", "Acme", 1000, 600, 20, 5);
    ev_sold(h, "p1", 2, 1000, 20);
    ev_sold(h, "p1", 3, 1000, 18);
    readmodel_t *m = open_model(path);
    readmodeltest_apply(m, h, 0, 3); /* the fold now knows p1 at version 2 */
    cr_assert_eq(readmodel_begin(m), 0);
    cr_assert_eq(readmodel_apply(m, &h->ev[3]), 0);
    readmodel_rollback(m);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products"), 2);
    readmodeltest_apply(m, h, 3, 4);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products"), 5);
    cr_assert_eq(sql_int("SELECT stock FROM product_details"), 15);
    cr_assert_eq(sql_int("SELECT units FROM sales_daily"), 5);
    readmodel_close(&m);
    free(h);
}

/* More products sold in one batch than the fold holds (16,384): it is
 * written out when full and started again, and nothing is lost. */
Test(readmodel, more_products_sold_than_the_fold_holds, .timeout = 120)
{
    enum { N = 16384 + 600 };
    readmodel_t *m = open_model(path);
    event_t *ev = calloc(1, sizeof *ev);
    cr_assert_not_null(ev);
    int64_t pos = 0;
    cr_assert_eq(readmodel_begin(m), 0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            memset(ev, 0, sizeof *ev);
            ev->env.position = ++pos;
            ev->env.type = round == 0 ? EV_PRODUCT_CREATED : EV_PRODUCT_SOLD;
            ev->env.schema = event_spec(ev->env.type)->schema;
            snprintf(ev->env.stream, sizeof ev->env.stream, "product-p%d", i);
            ev->env.version = round + 1;
            ev->env.recorded_at = 1767225600LL * 1000000 + pos;
            fields_t *d = &ev->data;
            char id[16];
            snprintf(id, sizeof id, "p%d", i);
            fields_set_str(d, F_PRODUCT_ID, id);
            if (round == 0) {
                fields_set_str(d, F_SKU, id);
                fields_set_str(d, F_NAME, "thing");
                fields_set_str(d, F_DESCRIPTION, "a thing");
                fields_set_str(d, F_SUPPLIER_ID, "s1");
                fields_set_str(d, F_SUPPLIER_NAME, "Acme");
                fields_set_int(d, F_PRICE_CENTS, 100);
                fields_set_int(d, F_COST_PRICE_CENTS, 50);
                fields_set_int(d, F_STOCK, 10);
                fields_set_int(d, F_LOW_STOCK_THRESHOLD, 1);
            } else {
                fields_set_str(d, F_ORDER_ID, "o");
                fields_set_int(d, F_QUANTITY, round);
                fields_set_int(d, F_UNIT_PRICE_CENTS, 100);
                fields_set_int(d, F_OLD_STOCK, round == 1 ? 10 : 9);
                fields_set_int(d, F_NEW_STOCK, round == 1 ? 9 : 7);
            }
            cr_assert_eq(readmodel_apply(m, ev), 0, "%lld: %s", (long long)pos,
                         readmodel_errmsg(m));
        }
    }
    cr_assert_eq(readmodel_commit(m, pos, ""), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM admin_products WHERE units_sold = 3 AND stock = 7"
                         " AND version = 3 AND revenue_cents = 300"),
                 N);
    cr_assert_eq(sql_int("SELECT sum(units) FROM sales_daily"), 3 * N);
    cr_assert_eq(sql_int("SELECT sum(revenue_cents) FROM sales_daily"), 300 * N);
    free(ev);
    readmodel_close(&m);
}

/* A bulk build (the fresh `--mode once` path) equals a normal model: the
 * read-side indexes and the search triggers come at the end, the search
 * index is filled in one 'rebuild', a rolled-back batch still rolls back,
 * and the adopted file is a normal WAL model that keeps its triggers. */
Test(readmodel, bulk_build_dumps_equal_to_a_normal_model)
{
    hist_t *h = hist_new();
    history_full(h);
    char building[160], built[128];
    snprintf(building, sizeof building, "%s/bulk.db.building", dir);
    snprintf(built, sizeof built, "%s/bulk.db", dir);
    readmodel_t *a = open_model(path);
    apply_all(a, h);
    const char *why = NULL;
    readmodel_t *b = readmodel_open_bulk(building, &why);
    cr_assert_not_null(b, "readmodel_open_bulk: %s", why);
    readmodeltest_apply(b, h, 0, 5);
    cr_assert_eq(readmodel_begin(b), 0); /* a failed batch: rolled back */
    for (int i = 5; i < h->n; i++)
        cr_assert_eq(readmodel_apply(b, &h->ev[i]), 0);
    readmodel_rollback(b);
    for (int i = 5; i < h->n; i += 4)
        readmodeltest_apply(b, h, i, i + 4 < h->n ? i + 4 : h->n);
    cr_assert_eq(access(built, F_OK), -1, "nothing adopted before the end");
    cr_assert_eq(readmodel_bulk_finish(&b, built), 0);
    cr_assert_null(b);
    cr_assert_eq(access(building, F_OK), -1, "the temporary file is renamed");
    b = open_model(built);
    /* later events (a rename rewrites the search index through a trigger) */
    int n = h->n;
    ev_rename(h, "s1", "Acme Corp", "Initech");
    ev_product(h, "p4", "Yellow Widget", "s1", "Initech", 700, 300, 9, 2);
    readmodeltest_apply(a, h, n, h->n);
    readmodeltest_apply(b, h, n, h->n);
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert(strstr(da, "product_search product_id=\"p4\" term=\"initech\""), "%s", da);
    cr_assert_str_eq(da, db);
    free(da);
    free(db);
    readmodel_close(&a);
    readmodel_close(&b);
    snprintf(path, sizeof path, "%s", built); /* sql_* read `path` */
    cr_assert_str_eq(sql_text("PRAGMA journal_mode"), "wal");
    cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE name IN ("
                         " 'products_low', 'products_top', 'reviews_recent',"
                         " 'price_history_by_product', 'products_ai', 'products_au',"
                         " 'products_ad')"),
                 7);
    cr_assert_gt(sql_int("SELECT count(*) FROM sales_daily"), 0);
    free(h);
}

/* A bulk build that never finishes leaves nothing behind to be taken for
 * a model, and a new build clears what a crashed one left. */
Test(readmodel, unfinished_bulk_build_is_never_adopted)
{
    hist_t *h = hist_new();
    history_full(h);
    char building[160];
    snprintf(building, sizeof building, "%s/bulk.db.building", dir);
    FILE *f = fopen(building, "w"); /* a torn file from a crash */
    cr_assert_not_null(f);
    fputs("not a database", f);
    fclose(f);
    readmodel_t *b = readmodel_open_bulk(building, NULL);
    cr_assert_not_null(b);
    apply_all(b, h);
    readmodel_close(&b);
    cr_assert_eq(access(building, F_OK), -1);
    free(h);
}

/* ---- 64-bit extremes (issue 23, item 3) ------------------------------------- */

/* The type of a one-value SQL query's result (SQLITE_INTEGER, ...), or -1
 * when it fails (sum() overflowing said "integer overflow"). */
static int
sql_type(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    int type = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_type(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return type;
}

#define P62 (INT64_C(1) << 62)

/* History written before the domain's bounds can hold any int64 >= 0: the
 * model's sums stay at 2^63 - 1 (and integers) instead of wrapping, turning
 * into floats or failing the dashboard for good. */
Test(readmodel, sums_past_int64_saturate_and_stay_integers)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    /* two products of stock 2^31 at cost 2^31: 2^62 each, 2^63 together */
    ev_product(h, "p1", "One", "s1", "Acme", 10, INT64_C(1) << 31, INT64_C(1) << 31, 0);
    ev_product(h, "p2", "Two", "s1", "Acme", 10, INT64_C(1) << 31, INT64_C(1) << 31, 0);
    /* 4 units at 2^62 cents (2^64: read 0), and 2 at 2^63 - 1 (read -2) */
    ev_product(h, "p3", "Three", "s1", "Acme", P62, 0, 100, 0);
    ev_sold(h, "p3", 4, P62, 100);
    ev_product(h, "p4", "Four", "s1", "Acme", INT64_MAX, 0, 100, 0);
    ev_sold(h, "p4", 2, INT64_MAX, 100);
    /* 2^62 units three times, in two batches (the fold and then SQL) */
    ev_product(h, "p5", "Five", "s1", "Acme", 1, 0, INT64_MAX, 0);
    ev_sold(h, "p5", P62, 1, INT64_MAX);
    ev_sold(h, "p5", P62, 1, INT64_MAX - P62);
    int split = h->n;
    ev_stock(h, "p5", 0, INT64_MAX);
    ev_sold(h, "p5", P62, 1, INT64_MAX);
    ev_sold(h, "p5", P62, 1, INT64_MAX - P62);
    readmodel_t *m = open_model(path);
    readmodeltest_apply(m, h, 0, split);
    readmodeltest_apply(m, h, split, h->n);

    cr_assert_eq(sql_type("SELECT inventory_value_cents FROM dashboard"), SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT inventory_value_cents FROM dashboard"), INT64_MAX);
    cr_assert_eq(sql_type("SELECT stock_value_cents FROM admin_products WHERE product_id = 'p1'"),
                 SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT stock_value_cents FROM admin_products WHERE product_id = 'p1'"),
                 P62);
    cr_assert_eq(sql_type("SELECT stock_value_cents FROM admin_products WHERE product_id = 'p5'"),
                 SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT revenue_cents FROM admin_products WHERE product_id = 'p3'"),
                 INT64_MAX);
    cr_assert_eq(sql_int("SELECT revenue_cents FROM admin_products WHERE product_id = 'p4'"),
                 INT64_MAX);
    cr_assert_eq(sql_type("SELECT units_sold FROM admin_products WHERE product_id = 'p5'"),
                 SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT units_sold FROM admin_products WHERE product_id = 'p5'"),
                 INT64_MAX);
    cr_assert_eq(sql_type("SELECT units_sold_today FROM dashboard"), SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT units_sold_today FROM dashboard"), INT64_MAX);
    cr_assert_eq(sql_type("SELECT revenue_today_cents FROM dashboard"), SQLITE_INTEGER);
    cr_assert_eq(sql_int("SELECT revenue_today_cents FROM dashboard"), INT64_MAX);
    cr_assert_eq(sql_int("SELECT count(*) FROM best_sellers"), 3);
    readmodel_close(&m);
    free(h);
}

/* The saturating sum is exact below the limit: every bit counts, low and
 * high halves alike. */
Test(readmodel, inventory_value_is_exact_below_the_limit)
{
    hist_t *h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "One", "s1", "Acme", 10, 1, INT64_MAX / 2, 0);
    ev_product(h, "p2", "Two", "s1", "Acme", 10, 1, INT64_MAX / 2, 0);
    ev_product(h, "p3", "Three", "s1", "Acme", 10, 1, 0xffffffffLL, 0);
    ev_product(h, "p4", "Four", "s1", "Acme", 10, 3, 7, 0);
    readmodel_t *m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT inventory_value_cents FROM dashboard"), INT64_MAX);
    free(h);
    readmodel_close(&m);
    scratch_remove(dir);
    setup();
    h = hist_new();
    ev_supplier(h, "s1", "Acme");
    ev_product(h, "p1", "One", "s1", "Acme", 10, 1, INT64_MAX / 2 - 0xffffffffLL, 0);
    ev_product(h, "p2", "Two", "s1", "Acme", 10, 1, INT64_MAX / 2, 0);
    ev_product(h, "p3", "Three", "s1", "Acme", 10, 1, 0xffffffffLL, 0);
    m = open_model(path);
    apply_all(m, h);
    cr_assert_eq(sql_int("SELECT inventory_value_cents FROM dashboard"), INT64_MAX - 1);
    cr_assert_eq(sql_type("SELECT inventory_value_cents FROM dashboard"), SQLITE_INTEGER);
    readmodel_close(&m);
    free(h);
}
