/* Unit tests of the event log's hash chain: common/store/chain.c against a
 * fixed vector (computed independently, with Python's hashlib.blake2b, from
 * the layout in docs/protocol.md), and the event store's use of it: appends
 * link every event, reads check every row, a row changed with SQL (as the
 * sqlite3 shell would) is found and named, a schema-3 store gets the chain
 * at open. */
#include "chain.h"
#include "eventstore.h"
#include "sample.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"qty": 7} */
static const uint8_t qty7[] = {0x81, 0xa3, 'q', 't', 'y', 0xcd, 0x00, 0x07};

static chain_event_t
sold(int64_t version, int64_t recorded_at)
{
    return (chain_event_t){"product-p1", 10, version, "ProductSold", 11, qty7, sizeof qty7,
                           recorded_at};
}

Test(chain, known_vector)
{
    uint8_t h1[CHAIN_HASH_LEN], h2[CHAIN_HASH_LEN];
    char hex[CHAIN_HEX_LEN + 1];
    chain_event_t e1 = sold(1, 1700000000000000), e2 = sold(2, 1700000000000001);
    chain_hash(chain_genesis, &e1, h1);
    chain_hex(h1, hex);
    cr_assert_str_eq(hex, "3192cbb392c0c96e360cc27da352955cd34481440bce2534259fd68ef5311354");
    chain_hash(h1, &e2, h2);
    chain_hex(h2, hex);
    cr_assert_str_eq(hex, "535eb8eea58ce6cbbd14ff0663a0037965823c7db022d7beec8f50cd3ee727cb");
    cr_assert(chain_check(h1, &e2, h2));
    e2.version = 3;
    cr_assert_not(chain_check(h1, &e2, h2), "the version is hashed");
    e2 = sold(2, 1700000000000002);
    cr_assert_not(chain_check(h1, &e2, h2), "the time is hashed");
    e2 = sold(2, 1700000000000001);
    cr_assert_not(chain_check(chain_genesis, &e2, h2), "the previous hash is hashed");
}

/* ---- the store ------------------------------------------------------------ */

static char dir[64];
static char path[128];
static eventstore_t *es;
static int64_t v1, v2; /* the two streams' versions */

static void
setup(void)
{
    scratch_make_file(dir, sizeof dir, "chain", "events.db", path, sizeof path);
    v1 = v2 = 0;
    eventstore_options_t opts = {false, 1000, 0, 0};
    cr_assert_eq(eventstore_open(path, &opts, &es), ERR_OK);
}

static void
teardown(void)
{
    eventstore_close(&es);
    scratch_remove(dir);
}

TestSuite(chainstore, .init = setup, .fini = teardown);

/* Positions 1..n alternating between product-p1 and product-p2 (two per
 * transaction). */
static void
append_n(int n)
{
    for (int i = 0; i < n; i += 2) {
        cr_assert_eq(eventstore_begin(es), ERR_OK);
        for (int j = i; j < n && j < i + 2; j++) {
            event_t *ev = malloc(sizeof *ev);
            bool first = j % 2 == 0;
            int64_t v = first ? ++v1 : ++v2;
            sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_SOLD,
                         first ? "product-p1" : "product-p2", v, j);
            cr_assert_eq(eventstore_append(es, ev), ERR_OK);
            free(ev);
        }
        cr_assert_eq(eventstore_commit(es), ERR_OK);
    }
}

typedef struct {
    int n;
    int64_t positions[64];
    uint8_t hashes[64][CHAIN_HASH_LEN];
} seen_t;

static int
see_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    seen_t *s = arg;
    s->positions[s->n] = env->position;
    memcpy(s->hashes[s->n++], env->hash, CHAIN_HASH_LEN);
    return 0;
}

static int
see_event(const event_t *ev, void *arg)
{
    seen_t *s = arg;
    s->positions[s->n++] = ev->env.position;
    return 0;
}

/* Runs SQL on the store's file from a connection of its own, as an
 * operator's sqlite3 shell would. */
static void
shell(const char *sql)
{
    sqlite3 *db;
    char *err = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
    sqlite3_close(db);
}

/* Flips the last byte of the payload at `position` (the value of its last
 * field). */
static void
flip_payload_byte(int64_t position)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE events SET payload = substr(payload, 1, length(payload) - 1)"
             " || (CASE WHEN substr(payload, -1) = x'01' THEN x'02' ELSE x'01' END)"
             " WHERE position = %lld",
             (long long)position);
    shell(sql);
}

/* The chain verified over the whole store in one call. */
static es_chain_state_t
verify_all(void)
{
    es_chain_state_t c;
    cr_assert_eq(eventstore_chain_start(es, 0, &c), ERR_OK);
    cr_assert_eq(eventstore_chain_verify(es, &c, INT64_MAX, 1000), ERR_OK);
    return c;
}

Test(chainstore, appends_link_every_event_to_the_previous_position)
{
    append_n(6);
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, see_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 6);
    es_chain_state_t c = verify_all();
    cr_assert_eq(c.bad_position, 0);
    cr_assert_eq(c.checked, 6);
    cr_assert_eq(c.through, 6);
    cr_assert_eq(memcmp(c.hash, s.hashes[5], CHAIN_HASH_LEN), 0, "the head's hash");
    cr_assert_eq(eventstore_verify_file(path, 1, &c, (char[64]){0}, 64), ERR_OK);
    cr_assert_eq(c.checked, 6);
    cr_assert_eq(c.bad_position, 0);
}

Test(chainstore, a_payload_byte_changed_with_sql_is_found_and_named)
{
    append_n(8);
    flip_payload_byte(5);
    eventstore_close(&es); /* a fresh connection: nothing cached */
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, see_raw, &s), ERR_CORRUPT);
    cr_assert_eq(s.n, 4, "the events before the damaged one are served");
    cr_assert_eq(eventstore_damaged_at(es), 5);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_outbox_read(es, 0, INT64_MAX, 100, see_raw, &s), ERR_CORRUPT);
    cr_assert_eq(s.n, 4);
    /* Position 5 is product-p1's third event: its stream fails, p2 loads. */
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, 0, see_event, &s), ERR_CORRUPT);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "product-p2", 0, 0, see_event, &s), ERR_OK);
    cr_assert_eq(s.n, 4);
    es_chain_state_t c = verify_all();
    cr_assert_eq(c.bad_position, 5);
    cr_assert_eq(c.through, 4);
    char err[128] = "";
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.bad_position, 5);
    cr_assert_eq(eventstore_verify_file(path, 6, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.bad_position, 0, "from 6 on the chain holds");
    cr_assert_eq(c.checked, 3);
}

static void forge_tail(int64_t from, int64_t to);

Test(chainstore, a_row_rewritten_with_its_own_hash_breaks_the_next_link)
{
    append_n(6);
    /* A forger who recomputes position 3's hash from its new bytes. */
    forge_tail(3, 3);
    es_chain_state_t c;
    char err[128] = "";
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.bad_position, 4);
}

Test(chainstore, a_deleted_event_breaks_the_chain)
{
    append_n(6);
    shell("DELETE FROM events WHERE position = 2");
    es_chain_state_t c;
    char err[128] = "";
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.bad_position, 3);
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, see_raw, &s), ERR_CORRUPT);
    cr_assert_eq(eventstore_damaged_at(es), 3);
}

Test(chainstore, a_schema_3_store_gets_the_chain_at_open)
{
    append_n(10);
    seen_t before = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, see_raw, &before), ERR_OK);
    eventstore_close(&es);
    shell("ALTER TABLE events DROP COLUMN hash; PRAGMA user_version = 3;");
    char err[128] = "";
    es_chain_state_t c;
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_IO);
    cr_assert(strstr(err, "schema 3"), "%s", err);
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    cr_assert_eq(eventstore_migrated_from(es), 3);
    seen_t after = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, see_raw, &after), ERR_OK);
    cr_assert_eq(after.n, 10);
    cr_assert_eq(memcmp(before.hashes, after.hashes, sizeof before.hashes), 0,
                 "the migration computes the hashes the appends wrote");
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.checked, 10);
    append_n(2); /* the chain goes on */
    cr_assert_eq(eventstore_verify_file(path, 0, &c, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(c.checked, 12);
    cr_assert_eq(c.bad_position, 0);
}

/* Rewrites positions from..to as a forger who knows the layout would: the
 * payload of `from` changed, every hash from it on recomputed, so the
 * stored chain is consistent again. */
static void
forge_tail(int64_t from, int64_t to)
{
    flip_payload_byte(from);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (int64_t p = from; p <= to; p++) {
        sqlite3_stmt *st, *up;
        cr_assert_eq(sqlite3_prepare_v2(db,
                                        "SELECT s.name, e.version, e.type, e.payload, e.recorded_at,"
                                        " (SELECT hash FROM events WHERE position = ?1 - 1)"
                                        " FROM events e JOIN streams s USING (stream_id)"
                                        " WHERE position = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
        sqlite3_bind_int64(st, 1, p);
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        uint8_t h[CHAIN_HASH_LEN];
        chain_hash(sqlite3_column_blob(st, 5),
                   &(chain_event_t){name, strlen(name), sqlite3_column_int64(st, 1), type,
                                    strlen(type), sqlite3_column_blob(st, 3),
                                    (size_t)sqlite3_column_bytes(st, 3),
                                    sqlite3_column_int64(st, 4)},
                   h);
        sqlite3_finalize(st);
        cr_assert_eq(sqlite3_prepare_v2(db, "UPDATE events SET hash = ?2 WHERE position = ?1", -1,
                                        &up, NULL),
                     SQLITE_OK);
        sqlite3_bind_int64(up, 1, p);
        sqlite3_bind_blob(up, 2, h, CHAIN_HASH_LEN, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(up), SQLITE_DONE);
        sqlite3_finalize(up);
    }
    sqlite3_close(db);
}

typedef struct {
    eventstore_t *es;
    es_chain_state_t *c;
    int followed;
} follow_t;

static int
follow_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    follow_t *f = arg;
    if (!eventstore_chain_follow(f->es, f->c, env, data, len))
        return 1;
    f->followed++;
    return 0;
}

Test(chainstore, a_forged_tail_is_caught_by_a_chain_kept_in_memory)
{
    append_n(6);
    es_chain_state_t c; /* what the relay holds after publishing 1..6 */
    cr_assert_eq(eventstore_chain_start(es, 0, &c), ERR_OK);
    follow_t f = {es, &c, 0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, follow_raw, &f), ERR_OK);
    cr_assert_eq(c.through, 6);
    forge_tail(3, 6);
    char err[128] = "";
    es_chain_state_t offline;
    cr_assert_eq(eventstore_verify_file(path, 0, &offline, err, sizeof err), ERR_OK, "%s", err);
    cr_assert_eq(offline.bad_position, 0, "a consistent forgery passes a check from scratch");
    append_n(2); /* the appends link to the forged head */
    f.followed = 0;
    cr_assert_eq(eventstore_read_raw(es, 6, INT64_MAX, 100, follow_raw, &f), 1);
    cr_assert_eq(f.followed, 0);
    cr_assert_eq(c.bad_position, 7, "the first event after the forged head is named");
}

/* ---- the wire ------------------------------------------------------------- */

Test(chain, the_hash_and_the_data_bytes_round_trip_on_the_wire)
{
    event_t *ev = malloc(sizeof *ev), *back = malloc(sizeof *back);
    sample_event(ev, EV_PRODUCT_SOLD, "product-p1", 3, 7);
    codec_writer_t data, w;
    codec_writer_init(&data);
    codec_writer_init(&w);
    codec_pack_event_data(&data, ev->env.type, &ev->data);
    chain_event_t cev = {"product-p1", 10, 3, "ProductSold", 11, data.buf.data, data.buf.size,
                         ev->env.recorded_at};
    chain_hash(chain_genesis, &cev, ev->env.hash);
    codec_pack_event_raw(&w, &ev->env, data.buf.data, data.buf.size);
    const char *why = NULL;
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, back, &why), 0, "%s", why);
    cr_assert_eq(memcmp(back->env.hash, ev->env.hash, CHAIN_HASH_LEN), 0);
    cr_assert_eq(back->raw_len, data.buf.size, "the data map's bytes as they came");
    cr_assert_eq(memcmp(back->raw_data, data.buf.data, data.buf.size), 0);
    cr_assert(chain_check(chain_genesis,
                          &(chain_event_t){back->env.stream, strlen(back->env.stream),
                                           back->env.version, "ProductSold", 11, back->raw_data,
                                           back->raw_len, back->env.recorded_at},
                          back->env.hash));
    /* A hash of another length is refused; none at all decodes (all zero). */
    uint8_t *bad = malloc(w.buf.size);
    memcpy(bad, w.buf.data, w.buf.size);
    uint8_t *at = memmem(bad, w.buf.size, "\xa4hash\xc4\x20", 7);
    cr_assert_not_null(at);
    at[6] = 31;
    cr_assert_neq(codec_decode_event(bad, w.buf.size, back, &why), 0);
    free(bad);
    codec_writer_fini(&data);
    codec_writer_fini(&w);
    free(ev);
    free(back);
}
