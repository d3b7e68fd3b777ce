/* Loading aggregates from a real event store file: snapshot + tail equals a
 * full replay on random histories; a stale or damaged snapshot is ignored;
 * v1 ProductCreated rows written the way an old version wrote them are
 * upcast on load. */
#include "aggstore.h"
#include "msgtree.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static eventstore_t *es;

static void
setup(void)
{
    scratch_make_file(dir, sizeof dir, "aggstore", "events.db", path, sizeof path);
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
}

static void
teardown(void)
{
    eventstore_close(&es);
    scratch_remove(dir);
}

/* Decides cmd against a, appends the event (snapshotting every k) and folds
 * it.  Returns true when accepted. */
static bool
run(aggregate_t *a, const supplier_t *sup, const command_t *cmd, int64_t k)
{
    decision_t d;
    aggregate_ops(a->kind)->decide(&a->u, sup, cmd, &d);
    if (d.code != REJ_NONE)
        return false;
    event_t ev;
    decision_event(&d, a->stream, aggcache_version(a) + 1, &ev);
    strcpy(ev.env.event_id, "e");
    strcpy(ev.env.command_id, "c");
    ev.env.recorded_at = 1;
    cr_assert_eq(eventstore_append(es, &ev), ERR_OK);
    aggstore_fold(a, &ev);
    cr_assert_eq(aggstore_maybe_snapshot(es, a, k), ERR_OK);
    return true;
}

static void
random_product_history(aggregate_t *a, int n, int64_t k, unsigned seed)
{
    aggregate_t *sa = calloc(1, sizeof *sa);
    sa->kind = AGG_SUPPLIER;
    strcpy(sa->stream, "supplier-s1");
    command_t *cmd = calloc(1, sizeof *cmd);
    cmd->type = CMD_REGISTER_SUPPLIER;
    fields_set_str(&cmd->data, F_SUPPLIER_ID, "s1");
    fields_set_str(&cmd->data, F_NAME, "Acme");
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    run(sa, NULL, cmd, k);
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CMD_CREATE_PRODUCT;
    fields_set_str(&cmd->data, F_PRODUCT_ID, "p1");
    fields_set_str(&cmd->data, F_SKU, "S");
    fields_set_str(&cmd->data, F_NAME, "Widget");
    fields_set_str(&cmd->data, F_DESCRIPTION, "d");
    fields_set_str(&cmd->data, F_SUPPLIER_ID, "s1");
    fields_set_int(&cmd->data, F_PRICE_CENTS, 100);
    fields_set_int(&cmd->data, F_COST_PRICE_CENTS, 50);
    fields_set_int(&cmd->data, F_STOCK, 30);
    fields_set_int(&cmd->data, F_LOW_STOCK_THRESHOLD, 5);
    cr_assert(run(a, &sa->u.supplier, cmd, k));
    srand(seed);
    while (a->u.product.version < n) {
        memset(cmd, 0, sizeof *cmd);
        cmd->type = (command_type_t)(CMD_CHANGE_PRICE + rand() % 5);
        fields_set_str(&cmd->data, F_PRODUCT_ID, "p1");
        fields_set_int(&cmd->data, F_PRICE_CENTS, rand() % 1000);
        fields_set_int(&cmd->data, F_NEW_STOCK, rand() % 50);
        fields_set_int(&cmd->data, F_QUANTITY, 1 + rand() % 10);
        fields_set_str(&cmd->data, F_ORDER_ID, "o");
        fields_set_str(&cmd->data, F_REVIEW_ID, "r");
        fields_set_str(&cmd->data, F_CUSTOMER_ID, "u");
        fields_set_str(&cmd->data, F_COMMENT, "");
        fields_set_int(&cmd->data, F_RATING, 1 + rand() % 5);
        run(a, NULL, cmd, k);
    }
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    free(cmd);
    free(sa);
}

TestSuite(aggstore, .init = setup, .fini = teardown);

Test(aggstore, snapshot_plus_tail_equals_full_replay)
{
    aggregate_t *live = calloc(1, sizeof *live);
    aggregate_t *snap = calloc(1, sizeof *snap);
    aggregate_t *full = calloc(1, sizeof *full);
    const int64_t every[] = {1, 3, 7, 50};
    for (unsigned seed = 1; seed <= 12; seed++) {
        int64_t k = every[seed % 4];
        char stream[32];
        memset(live, 0, sizeof *live);
        live->kind = AGG_PRODUCT;
        eventstore_close(&es);
        snprintf(path, sizeof path, "%s/events-%u.db", dir, seed);
        cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
        snprintf(stream, sizeof stream, "product-p1");
        strcpy(live->stream, stream);
        random_product_history(live, 40 + (int)seed * 7, k, seed);
        *snap = *live;
        *full = *live;
        cr_assert_eq(aggstore_load(es, snap, true), ERR_OK);
        cr_assert_eq(aggstore_load(es, full, false), ERR_OK);
        cr_assert(memcmp(&snap->u.product, &full->u.product, sizeof full->u.product) == 0,
                  "seed %u every %lld", seed, (long long)k);
        cr_assert(memcmp(&live->u.product, &full->u.product, sizeof full->u.product) == 0);
    }
    free(live);
    free(snap);
    free(full);
}

Test(aggstore, damaged_snapshot_falls_back_to_full_replay)
{
    aggregate_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->kind = AGG_PRODUCT;
    strcpy(a->stream, "product-p1");
    random_product_history(a, 20, 10, 7);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(
        eventstore_snapshot_save(es, "product-p1", 30, AGGSTORE_SNAPSHOT_SCHEMA, "\x81", 1),
        ERR_OK);
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    *b = *a;
    cr_assert_eq(aggstore_load(es, b, true), ERR_OK);
    cr_assert(memcmp(&a->u.product, &b->u.product, sizeof a->u.product) == 0);
    free(a);
    free(b);
}

Test(aggstore, v1_product_created_is_upcast_with_the_default_threshold)
{
    /* What version 1 wrote: schema 1, no low_stock_threshold in the payload. */
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 9);
    codec_pack_kv_str(&w.pk, "product_id", "old");
    codec_pack_kv_str(&w.pk, "sku", "O-1");
    codec_pack_kv_str(&w.pk, "name", "Old thing");
    codec_pack_kv_str(&w.pk, "description", "from 2024");
    codec_pack_kv_str(&w.pk, "supplier_id", "s1");
    codec_pack_kv_str(&w.pk, "supplier_name", "Acme");
    codec_pack_kv_int(&w.pk, "price_cents", 500);
    codec_pack_kv_int(&w.pk, "cost_price_cents", 200);
    codec_pack_kv_int(&w.pk, "stock", 3);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(
        sqlite3_exec(db, "INSERT INTO streams(name) VALUES('product-old')", NULL, NULL, NULL),
        SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "INSERT INTO events(stream_id, version, type, schema,"
                                    " event_id, command_id, correlation_id, recorded_at, payload,"
                                    " prev, hash) SELECT stream_id, 1, 'ProductCreated', 1, 'e',"
                                    " 'c', 'c', 1, ?, 0, ? FROM streams WHERE name = 'product-old'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_blob(st, 1, w.buf.data, (int)w.buf.size, SQLITE_STATIC);
    uint8_t hash[CHAIN_HASH_LEN]; /* its link of the chain, as the store would write it */
    chain_hash(
        chain_genesis,
        &(chain_event_t){"product-old", 11, 1, "ProductCreated", 14, w.buf.data, w.buf.size, 1},
        hash);
    sqlite3_bind_blob(st, 2, hash, CHAIN_HASH_LEN, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE streams SET version = 1, head = last_insert_rowid()"
                              " WHERE name = 'product-old'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    codec_writer_fini(&w);
    aggregate_t *a = calloc(1, sizeof *a);
    a->kind = AGG_PRODUCT;
    strcpy(a->stream, "product-old");
    cr_assert_eq(aggstore_load(es, a, true), ERR_OK);
    cr_assert(a->u.product.exists);
    cr_assert_eq(a->u.product.low_stock_threshold, PRODUCT_V1_DEFAULT_THRESHOLD);
    cr_assert_eq(a->u.product.stock, 3);
    free(a);
}
