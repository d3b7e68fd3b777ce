/* Unit tests of common/store/eventstore on a real SQLite file in a temporary
 * folder: gap-free positions, one version after another per stream (also
 * across connections), all-or-nothing transactions, reads along the
 * per-stream chain, the outbox, idempotency rows, reopening, the migration
 * from schema 2 and the WAL checkpoint that must never stall the writer
 * behind a long reader. */
#include "eventstore.h"
#include "sample.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <time.h>
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
    scratch_make_file(dir, sizeof dir, "es", "events.db", path, sizeof path);
    eventstore_options_t opts = {false, 1000, 0, 0};
    cr_assert_eq(eventstore_open(path, &opts, &es), ERR_OK);
    cr_assert_not_null(es);
}

static void
teardown(void)
{
    eventstore_close(&es);
    scratch_remove(dir);
}

TestSuite(eventstore, .init = setup, .fini = teardown);

static int count_rows(const char *sql);

/* Appends one sample event of type t at (stream, version) in its own
 * transaction; returns the append result and the position through *pos. */
static int
append_one(event_type_t t, const char *stream, int64_t version, int seed, int64_t *pos)
{
    event_t *ev = malloc(sizeof *ev);
    sample_event(ev, t, stream, version, seed);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    int rc = eventstore_append(es, ev);
    if (rc == ERR_OK)
        cr_assert_eq(eventstore_commit(es), ERR_OK);
    else
        eventstore_rollback(es);
    if (pos)
        *pos = ev->env.position;
    free(ev);
    return rc;
}

/* Collects what the read callbacks see. */
typedef struct {
    int n;
    int64_t positions[64];
    int64_t versions[64];
    event_type_t types[64];
    char streams[64][STREAM_MAX + 1];
    bool data_ok[64];
    int stop_after; /* 0: never stop */
} seen_t;

static int
collect_event(const event_t *ev, void *arg)
{
    seen_t *s = arg;
    cr_assert_lt(s->n, 64);
    s->positions[s->n] = ev->env.position;
    s->versions[s->n] = ev->env.version;
    s->types[s->n] = ev->env.type;
    snprintf(s->streams[s->n], sizeof s->streams[0], "%s", ev->env.stream);
    /* the data must equal what sample_event made with seed == version */
    event_t *expect = malloc(sizeof *expect);
    sample_event(expect, ev->env.type, ev->env.stream, ev->env.version, (int)ev->env.version);
    sample_assert_fields_eq(&expect->data, &ev->data, event_spec(ev->env.type)->fields);
    cr_assert_str_eq(ev->env.event_id, expect->env.event_id);
    cr_assert_str_eq(ev->env.correlation_id, expect->env.correlation_id);
    cr_assert_eq(ev->env.recorded_at, expect->env.recorded_at);
    cr_assert_eq(ev->env.schema, expect->env.schema);
    free(expect);
    s->data_ok[s->n] = true;
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static int
collect_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    seen_t *s = arg;
    cr_assert_lt(s->n, 64);
    s->positions[s->n] = env->position;
    s->versions[s->n] = env->version;
    s->types[s->n] = env->type;
    snprintf(s->streams[s->n], sizeof s->streams[0], "%s", env->stream);
    /* the raw bytes are one msgpack map that decodes as the event's data */
    const char *why;
    fields_t *fs = malloc(sizeof *fs);
    s->data_ok[s->n] = codec_decode_event_data(env->type, env->schema, data, len, fs, &why) == 0;
    free(fs);
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

/* Appends the standard history: supplier s1 (2 events) interleaved with
 * product p1 (4 events): positions 1..6. */
/* Six events over two streams, at positions 1..6. */
static void
append_history(void)
{
    static const struct {
        event_type_t type;
        const char *stream;
        int64_t version;
    } history[] = {
        {.type = EV_SUPPLIER_REGISTERED, .stream = "supplier-s1", .version = 1},
        {.type = EV_PRODUCT_CREATED, .stream = "product-p1", .version = 1},
        {.type = EV_PRODUCT_SOLD, .stream = "product-p1", .version = 2},
        {.type = EV_SUPPLIER_RENAMED, .stream = "supplier-s1", .version = 2},
        {.type = EV_PRICE_CHANGED, .stream = "product-p1", .version = 3},
        {.type = EV_REVIEW_SUBMITTED, .stream = "product-p1", .version = 4},
    };
    for (int i = 0; i < 6; i++) {
        int64_t pos;
        cr_assert_eq(append_one(history[i].type, history[i].stream, history[i].version,
                                (int)history[i].version, &pos),
                     ERR_OK);
        cr_assert_eq(pos, i + 1);
    }
}

/* ---- appends ------------------------------------------------------------- */

Test(eventstore, empty_store)
{
    int64_t head = -1, rec = -1, v = -1, n = -1;
    cr_assert_eq(eventstore_head(es, &head, &rec), ERR_OK);
    cr_assert_eq(head, 0);
    cr_assert_eq(rec, 0);
    cr_assert_eq(eventstore_stream_version(es, "product-p1", &v), ERR_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 0);
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 0);
}

Test(eventstore, positions_are_gap_free_across_transactions)
{
    event_t *ev = malloc(sizeof *ev);
    /* several events in one transaction, then single ones */
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    for (int v = 1; v <= 3; v++) {
        sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-p1", v, v);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        cr_assert_eq(ev->env.position, v);
    }
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    /* a rolled-back transaction must not burn positions */
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    sample_event(ev, EV_PRODUCT_VIEWED, "product-p1", 4, 4);
    cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    cr_assert_eq(ev->env.position, 4);
    eventstore_rollback(es);
    for (int v = 4; v <= 10; v++) {
        int64_t pos;
        cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", v, v, &pos), ERR_OK);
        cr_assert_eq(pos, v, "position %lld after version %d", (long long)pos, v);
    }
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 1000, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 10);
    for (int i = 0; i < s.n; i++) {
        cr_assert_eq(s.positions[i], i + 1);
        cr_assert(s.data_ok[i]);
    }
    int64_t head, rec;
    cr_assert_eq(eventstore_head(es, &head, &rec), ERR_OK);
    cr_assert_eq(head, 10);
    cr_assert_eq(rec, 1700000000000000LL + 10);
    free(ev);
}

Test(eventstore, duplicate_version_rolls_back_everything)
{
    append_history();
    event_t *ev = malloc(sizeof *ev);
    int64_t backlog_before;
    cr_assert_eq(eventstore_outbox_backlog(es, &backlog_before), ERR_OK);
    cr_assert_eq(backlog_before, 6);
    /* one good event (another stream), then a lost race on product-p1 v3 */
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    sample_event(ev, EV_PRODUCT_CREATED, "product-p2", 1, 1);
    cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    cr_assert_eq(ev->env.position, 7);
    command_reply_t rep = {.accepted = true, .version = 1, .position = 7};
    snprintf(rep.command_id, sizeof rep.command_id, "c-dup");
    snprintf(rep.stream, sizeof rep.stream, "product-p2");
    cr_assert_eq(eventstore_command_save(es, &rep), ERR_OK);
    sample_event(ev, EV_PRODUCT_VIEWED, "product-p1", 3, 3);
    cr_assert_eq(eventstore_append(es, ev), ERR_DUPLICATE);
    eventstore_rollback(es);

    int64_t head, v, n;
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 6, "no event survived the rollback");
    cr_assert_eq(eventstore_stream_version(es, "product-p2", &v), ERR_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, backlog_before, "no outbox row survived the rollback");
    command_reply_t found;
    cr_assert_eq(eventstore_command_find(es, "c-dup", &found), 0,
                 "no idempotency row survived the rollback");
    /* and position 7 is still the next one */
    int64_t pos;
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 5, 5, &pos), ERR_OK);
    cr_assert_eq(pos, 7);
    free(ev);
}

Test(eventstore, duplicate_in_its_own_transaction)
{
    int64_t pos;
    cr_assert_eq(append_one(EV_SUPPLIER_REGISTERED, "supplier-s1", 1, 1, &pos), ERR_OK);
    cr_assert_eq(append_one(EV_SUPPLIER_REGISTERED, "supplier-s1", 1, 1, &pos), ERR_DUPLICATE);
    int64_t head, n;
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 1);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 1);
    /* the store is usable afterwards */
    cr_assert_eq(append_one(EV_SUPPLIER_RENAMED, "supplier-s1", 2, 2, &pos), ERR_OK);
    cr_assert_eq(pos, 2);
}

Test(eventstore, a_version_gap_is_refused)
{
    int64_t pos, v;
    cr_assert_eq(append_one(EV_SUPPLIER_REGISTERED, "supplier-s1", 1, 1, &pos), ERR_OK);
    cr_assert_eq(append_one(EV_SUPPLIER_RENAMED, "supplier-s1", 3, 3, &pos), ERR_DUPLICATE);
    cr_assert_eq(append_one(EV_PRODUCT_CREATED, "product-new", 2, 2, &pos), ERR_DUPLICATE,
                 "a new stream starts at version 1");
    cr_assert_eq(eventstore_stream_version(es, "supplier-s1", &v), ERR_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(eventstore_stream_version(es, "product-new", &v), ERR_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(append_one(EV_SUPPLIER_RENAMED, "supplier-s1", 2, 2, &pos), ERR_OK);
    cr_assert_eq(pos, 2);
}

/* Two connections on one file: each caches the streams it wrote, and a
 * stale cache must neither fork a stream nor refuse a right version. */
Test(eventstore, two_connections_cannot_fork_a_stream)
{
    eventstore_t *other = NULL;
    cr_assert_eq(eventstore_open(path, NULL, &other), ERR_OK);
    event_t *ev = malloc(sizeof *ev);
    int64_t pos;
    cr_assert_eq(append_one(EV_PRODUCT_CREATED, "product-p1", 1, 1, &pos), ERR_OK);
    /* the other connection appends version 2 behind this one's back */
    sample_event(ev, EV_PRODUCT_SOLD, "product-p1", 2, 2);
    cr_assert_eq(eventstore_begin(other), ERR_OK);
    cr_assert_eq(eventstore_append(other, ev), ERR_OK);
    cr_assert_eq(eventstore_commit(other), ERR_OK);
    /* this connection still believes the stream is at version 1 */
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 2, 3, &pos), ERR_DUPLICATE);
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 3, 3, &pos), ERR_OK);
    cr_assert_eq(pos, 3);
    /* and the other one, stale in turn, catches up the same way */
    sample_event(ev, EV_PRODUCT_VIEWED, "product-p1", 3, 5);
    cr_assert_eq(eventstore_begin(other), ERR_OK);
    cr_assert_eq(eventstore_append(other, ev), ERR_DUPLICATE);
    eventstore_rollback(other);
    seen_t s = {0};
    cr_assert_eq(eventstore_load_stream(other, "product-p1", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s.versions[i], i + 1);
        cr_assert_eq(s.positions[i], i + 1);
    }
    cr_assert_eq(s.types[1], EV_PRODUCT_SOLD);
    free(ev);
    eventstore_close(&other);
}

/* More streams than the connection caches (16,384 rows and names): every
 * stream's second event must still find its row (read again after an
 * eviction), chain to its first and leave the versions where they are,
 * and reads name every event's stream, also where two streams' ids share
 * a slot of the name cache (ids 1 and 16,385). */
Test(eventstore, more_streams_than_the_stream_cache_holds)
{
    enum { STREAMS = 17000 };
    event_t *ev = malloc(sizeof *ev);
    char name[32];
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    for (int v = 1; v <= 2; v++) {
        for (int i = 0; i < STREAMS; i++) {
            snprintf(name, sizeof name, "product-p%d", i);
            sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_SOLD, name, v, v);
            cr_assert_eq(eventstore_append(es, ev), ERR_OK, "%s version %d", name, v);
            cr_assert_eq(ev->env.position, (int64_t)(v - 1) * STREAMS + i + 1);
        }
    }
    sample_event(ev, EV_PRODUCT_SOLD, "product-p0", 2, 2);
    cr_assert_eq(eventstore_append(es, ev), ERR_DUPLICATE, "version 2 of product-p0 twice");
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    for (int i = 0; i < STREAMS; i += STREAMS / 7) {
        snprintf(name, sizeof name, "product-p%d", i);
        int64_t version = 0;
        cr_assert_eq(eventstore_stream_version(es, name, &version), ERR_OK);
        cr_assert_eq(version, 2, "%s", name);
        seen_t s = {0};
        cr_assert_eq(eventstore_load_stream(es, name, 0, 0, collect_event, &s), ERR_OK);
        cr_assert_eq(s.n, 2, "%s", name);
        cr_assert_eq(s.positions[0], i + 1);
        cr_assert_eq(s.positions[1], STREAMS + i + 1);
    }
    const int64_t starts[] = {0, 16384, 0, STREAMS + 16384, 16384};
    for (int k = 0; k < 5; k++) {
        seen_t s = {0};
        int rc = k < 3 ? eventstore_read_raw(es, starts[k], INT64_MAX, 64, collect_raw, &s)
                       : eventstore_outbox_read(es, starts[k], INT64_MAX, 64, collect_raw, &s);
        cr_assert_eq(rc, ERR_OK);
        cr_assert_eq(s.n, 64);
        for (int i = 0; i < s.n; i++) {
            snprintf(name, sizeof name, "product-p%d", (int)((starts[k] + i) % STREAMS));
            cr_assert_str_eq(s.streams[i], name, "position %lld", (long long)s.positions[i]);
        }
    }
    free(ev);
}

/* ---- reads --------------------------------------------------------------- */

Test(eventstore, load_stream_in_order_with_data)
{
    append_history();
    seen_t s = {0};
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 4);
    static const int64_t pos[] = {2, 3, 5, 6};
    static const event_type_t types[] = {EV_PRODUCT_CREATED, EV_PRODUCT_SOLD, EV_PRICE_CHANGED,
                                         EV_REVIEW_SUBMITTED};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(s.versions[i], i + 1);
        cr_assert_eq(s.positions[i], pos[i]);
        cr_assert_eq(s.types[i], types[i]);
        cr_assert_str_eq(s.streams[i], "product-p1");
        cr_assert(s.data_ok[i]);
    }
    /* after_version skips the first ones */
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 2, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.versions[0], 3);
    /* another stream, and an unknown one */
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "supplier-s1", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.types[1], EV_SUPPLIER_RENAMED);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "product-zz", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 0);
}

static int
count_marks(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM stream_marks", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Checks order and counts what a long-stream load returns. */
typedef struct {
    int n;
    int64_t first_version, last_version, last_position;
    int stop_after;
    bool ordered;
} run_t;

static int
follow_run(const event_t *ev, void *arg)
{
    run_t *r = arg;
    if (r->n == 0)
        r->first_version = ev->env.version;
    else if (ev->env.version != r->last_version + 1 || ev->env.position <= r->last_position)
        r->ordered = false;
    r->last_version = ev->env.version;
    r->last_position = ev->env.position;
    r->n++;
    return r->stop_after && r->n >= r->stop_after ? 9 : 0;
}

static run_t
load_run(const char *stream, int64_t after, int64_t max_position, int stop_after)
{
    run_t r = {.ordered = true, .stop_after = stop_after};
    int rc = eventstore_load_stream(es, stream, after, max_position, follow_run, &r);
    cr_assert_eq(rc, stop_after && r.n >= stop_after ? 9 : ERR_OK);
    return r;
}

/* 300 events of product-long interleaved with 100 of product-other, in one
 * transaction: product-long's version v is at position v + (v - 1) / 3. */
static void
append_long_stream(void)
{
    event_t *ev = malloc(sizeof *ev);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    for (int v = 1; v <= 300; v++) {
        sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-long", v, v);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        if (v % 3 == 0) {
            sample_event(ev, v == 3 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-other",
                         v / 3, v / 3);
            cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        }
    }
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    free(ev);
}

static void
check_long_stream_reads(void)
{
    run_t r = load_run("product-long", 0, 0, 0);
    cr_assert(r.ordered);
    cr_assert_eq(r.n, 300);
    cr_assert_eq(r.last_position, 300 + 299 / 3);
    r = load_run("product-long", 130, 0, 0); /* starts between two marks */
    cr_assert(r.ordered);
    cr_assert_eq(r.n, 170);
    cr_assert_eq(r.first_version, 131);
    r = load_run("product-long", 128, 0, 0); /* starts at a mark */
    cr_assert_eq(r.n, 172);
    cr_assert_eq(r.first_version, 129);
    r = load_run("product-long", 200, 0, 10); /* a page: stops early */
    cr_assert(r.ordered);
    cr_assert_eq(r.n, 10);
    cr_assert_eq(r.last_version, 210);
    r = load_run("product-long", 60, 150 + 149 / 3, 0); /* bound inside a chunk */
    cr_assert(r.ordered);
    cr_assert_eq(r.first_version, 61);
    cr_assert_eq(r.last_version, 150);
    r = load_run("product-long", 299, 0, 0);
    cr_assert_eq(r.n, 1);
    r = load_run("product-long", 300, 0, 0);
    cr_assert_eq(r.n, 0);
    r = load_run("product-other", 0, 0, 0);
    cr_assert(r.ordered);
    cr_assert_eq(r.n, 100);
}

Test(eventstore, long_stream_reads_in_chunks_between_marks)
{
    append_long_stream();
    cr_assert_eq(count_marks(), 5, "product-long: 64, 128, 192, 256; product-other: 64");
    check_long_stream_reads();
}

Test(eventstore, long_stream_reads_the_same_with_marks_missing)
{
    append_long_stream();
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db, "DELETE FROM stream_marks WHERE version <> 128", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    check_long_stream_reads();
}

/* product-p1's events at or below position max (0: all), loaded into *s. */
static void
load_p1_through(int64_t max, seen_t *s)
{
    *s = (seen_t){0};
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, max, collect_event, s), ERR_OK);
}

Test(eventstore, load_stream_max_position_bound)
{
    append_history();
    seen_t s;
    load_p1_through(3, &s);
    cr_assert_eq(s.n, 2, "positions 2 and 3 only");
    cr_assert_eq(s.positions[1], 3);
    load_p1_through(4, &s);
    cr_assert_eq(s.n, 2, "position 4 belongs to another stream");
    load_p1_through(1, &s);
    cr_assert_eq(s.n, 0);
    load_p1_through(6, &s);
    cr_assert_eq(s.n, 4);
}

Test(eventstore, load_stream_stops_early)
{
    append_history();
    seen_t s = {.stop_after = 2};
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, 0, collect_event, &s), 7);
    cr_assert_eq(s.n, 2);
    /* the statement was reset: a second load works from the start */
    load_p1_through(0, &s);
    cr_assert_eq(s.n, 4);
}

Test(eventstore, read_raw_pages)
{
    append_history();
    int64_t after = 0;
    int pages = 0, total = 0;
    for (;;) {
        seen_t s = {0};
        cr_assert_eq(eventstore_read_raw(es, after, INT64_MAX, 4, collect_raw, &s), ERR_OK);
        if (s.n == 0)
            break;
        pages++;
        for (int i = 0; i < s.n; i++) {
            cr_assert_eq(s.positions[i], after + 1 + i);
            cr_assert(s.data_ok[i]);
        }
        total += s.n;
        after = s.positions[s.n - 1];
    }
    cr_assert_eq(pages, 2);
    cr_assert_eq(total, 6);
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 5, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.positions[0], 6);
    cr_assert_str_eq(s.streams[0], "product-p1");
    cr_assert_eq(s.types[0], EV_REVIEW_SUBMITTED);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_read_raw(es, 6, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 0);
    memset(&s, 0, sizeof s);
    s.stop_after = 3;
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, collect_raw, &s), 7);
    cr_assert_eq(s.n, 3);
}

/* What the relay does with a raw row: envelope + stored bytes -> wire event,
 * which must decode to the same event that load_stream gives. */
static int
republish_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    seen_t *s = arg;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_event_raw(&w, env, data, len);
    event_t *ev = malloc(sizeof *ev);
    const char *why = NULL;
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, ev, &why), 0, "%s", why);
    sample_assert_envelope_eq(env, &ev->env);
    int rc = collect_event(ev, s);
    free(ev);
    codec_writer_fini(&w);
    return rc;
}

Test(eventstore, raw_rows_republish_as_wire_events)
{
    append_history();
    seen_t s = {0};
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, republish_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 6);
    for (int i = 0; i < 6; i++)
        cr_assert(s.data_ok[i]);
}

/* ---- outbox -------------------------------------------------------------- */

Test(eventstore, outbox_read_and_delete_through)
{
    append_history();
    int64_t n;
    seen_t s = {0};
    cr_assert_eq(eventstore_outbox_read(es, 0, INT64_MAX, 4, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(s.positions[i], i + 1);
        cr_assert(s.data_ok[i]);
    }
    cr_assert_eq(eventstore_outbox_delete_through(es, 3), ERR_OK);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 3);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_outbox_read(es, 0, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.positions[0], 4);
    cr_assert_eq(s.positions[2], 6);
    /* deleting through an older position is a no-op */
    cr_assert_eq(eventstore_outbox_delete_through(es, 2), ERR_OK);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(eventstore_outbox_delete_through(es, 6), ERR_OK);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 0);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_outbox_read(es, 0, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 0);
    /* the events themselves stay */
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 6);
    /* new appends show up in the outbox again */
    int64_t pos;
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 5, 5, &pos), ERR_OK);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 1);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_outbox_read(es, 0, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.positions[0], 7);
}

/* Rows in the outbox table, read through a connection of the test's own. */
static int64_t
outbox_rows(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Appends `count` events of product-p<k> (fresh streams) in one transaction. */
static void
append_transaction(int first_stream, int count)
{
    event_t *ev = malloc(sizeof *ev);
    char name[32];
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof name, "product-p%d", first_stream + i);
        sample_event(ev, EV_PRODUCT_CREATED, name, 1, first_stream + i);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    }
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    free(ev);
}

/* Reads what the outbox holds after `after`: the positions, first and count. */
static seen_t *
outbox_after(int64_t after)
{
    static seen_t s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_outbox_read(es, after, INT64_MAX, 100, collect_raw, &s), ERR_OK);
    return &s;
}

Test(eventstore, one_outbox_row_per_transaction_deleted_when_all_its_events_are_out)
{
    append_transaction(1, 3); /* positions 1-3 */
    append_transaction(4, 2); /* positions 4-5 */
    int64_t n;
    cr_assert_eq(outbox_rows(), 2, "one row per transaction");
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 5, "the backlog counts events");
    cr_assert_eq(outbox_after(0)->n, 5);
    /* published through 2: the first transaction is out in part, its row stays,
     * so a relay starting over publishes it again (at least once) */
    cr_assert_eq(eventstore_outbox_delete_through(es, 2), ERR_OK);
    cr_assert_eq(outbox_rows(), 2);
    cr_assert_eq(outbox_after(0)->positions[0], 1);
    cr_assert_eq(outbox_after(2)->n, 3);
    /* through 3: the first transaction is all out */
    cr_assert_eq(eventstore_outbox_delete_through(es, 3), ERR_OK);
    cr_assert_eq(outbox_rows(), 1);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 2);
    seen_t *s = outbox_after(0);
    cr_assert_eq(s->n, 2);
    cr_assert_eq(s->positions[0], 4);
    /* through 4: the second is not */
    cr_assert_eq(eventstore_outbox_delete_through(es, 4), ERR_OK);
    cr_assert_eq(outbox_rows(), 1);
    /* through the head: nothing is left */
    cr_assert_eq(eventstore_outbox_delete_through(es, 5), ERR_OK);
    cr_assert_eq(outbox_rows(), 0);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(outbox_after(0)->n, 0);
    /* a rolled-back transaction leaves no row; the next one writes its own */
    event_t *ev = malloc(sizeof *ev);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    sample_event(ev, EV_PRODUCT_CREATED, "product-p9", 1, 9);
    cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    eventstore_rollback(es);
    free(ev);
    cr_assert_eq(outbox_rows(), 0);
    append_transaction(10, 1);
    cr_assert_eq(outbox_rows(), 1);
    cr_assert_eq(outbox_after(0)->positions[0], 6);
}

/* ---- head, versions, time ------------------------------------------------ */

Test(eventstore, head_and_stream_version)
{
    append_history();
    int64_t head, rec, v;
    cr_assert_eq(eventstore_head(es, &head, &rec), ERR_OK);
    cr_assert_eq(head, 6);
    cr_assert_eq(rec, 1700000000000000LL + 4, "recorded_at of the last event (seed 4)");
    cr_assert_eq(eventstore_stream_version(es, "product-p1", &v), ERR_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(eventstore_stream_version(es, "supplier-s1", &v), ERR_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(eventstore_stream_version(es, "supplier-s2", &v), ERR_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 6);
}

Test(eventstore, position_at_time)
{
    append_history(); /* recorded_at = base + seed; seeds 1,1,2,2,3,4 */
    int64_t p = -1;
    const int64_t base = 1700000000000000LL;
    cr_assert_eq(eventstore_position_at(es, base, &p), ERR_OK);
    cr_assert_eq(p, 0);
    cr_assert_eq(eventstore_position_at(es, base + 1, &p), ERR_OK);
    cr_assert_eq(p, 2);
    cr_assert_eq(eventstore_position_at(es, base + 2, &p), ERR_OK);
    cr_assert_eq(p, 4);
    cr_assert_eq(eventstore_position_at(es, base + 1000, &p), ERR_OK);
    cr_assert_eq(p, 6);
}

/* Appends product-p1's events 1..n, event i recorded at times[i - 1];
 * returns the times stored, in position order, through *stored. */
static void
append_at_times(const int64_t *times, int n, int64_t *stored)
{
    for (int i = 0; i < n; i++) {
        event_t *ev = malloc(sizeof *ev);
        sample_event(ev, i == 0 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-p1", i + 1,
                     i + 1);
        ev->env.recorded_at = times[i];
        cr_assert_eq(eventstore_begin(es), ERR_OK);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        cr_assert_eq(eventstore_commit(es), ERR_OK);
        cr_assert_eq(ev->env.position, i + 1);
        stored[i] = ev->env.recorded_at;
        free(ev);
    }
}

/* What eventstore_position_at must answer: the last position whose stored
 * time is at or before t (positions 1..n). */
static int64_t
last_at_or_before(const int64_t *stored, int n, int64_t t)
{
    int64_t p = 0;
    for (int i = 0; i < n; i++)
        if (stored[i] <= t)
            p = i + 1;
    return p;
}

Test(eventstore, recorded_at_never_goes_back)
{
    const int64_t times[] = {100, 90, 90, 200, 150, 300};
    int64_t stored[6];
    append_at_times(times, 6, stored);
    /* behind the head, times move on from it at half the real rate
     * (timeslew.h): at least the head's, well under a second more here */
    const int64_t expect[] = {100, 100, 100, 200, 200, 300};
    for (int i = 0; i < 6; i++) {
        cr_assert_geq(stored[i], expect[i], "event %d", i + 1);
        cr_assert_lt(stored[i], expect[i] + 1000000, "event %d", i + 1);
        cr_assert(i == 0 || stored[i] >= stored[i - 1], "event %d", i + 1);
    }
    int64_t head, rec;
    cr_assert_eq(eventstore_head(es, &head, &rec), ERR_OK);
    cr_assert_eq(rec, 300);
    /* also across a reopen, and for an append outside a transaction */
    eventstore_close(&es);
    eventstore_options_t opts = {false, 1000, 0, 0};
    cr_assert_eq(eventstore_open(path, &opts, &es), ERR_OK);
    event_t *ev = malloc(sizeof *ev);
    sample_event(ev, EV_PRODUCT_VIEWED, "product-p1", 7, 7);
    ev->env.recorded_at = 5;
    cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    cr_assert_eq(ev->env.recorded_at, 300);
    free(ev);
    cr_assert_eq(eventstore_head(es, &head, &rec), ERR_OK);
    cr_assert_eq(rec, 300);
}

Test(eventstore, position_at_bisects_every_time)
{
    /* runs of equal times and jumps, so that every branch of the search is
     * taken; the store has no index on the time */
    enum { N = 77 };
    int64_t times[N], stored[N];
    for (int i = 0; i < N; i++)
        times[i] = 1000 + (i / 3) * 10 + (i % 7 == 0 ? 5 : 0);
    append_at_times(times, N, stored);
    cr_assert_eq(count_rows("SELECT count(*) FROM sqlite_master WHERE name = 'events_recorded_at'"),
                 0);
    for (int64_t t = 990; t <= stored[N - 1] + 10; t++) {
        int64_t p = -1;
        cr_assert_eq(eventstore_position_at(es, t, &p), ERR_OK);
        cr_assert_eq(p, last_at_or_before(stored, N, t), "time %lld", (long long)t);
    }
}

Test(eventstore, position_at_uses_an_older_stores_index)
{
    /* a store written before the clamp: indexed, its times out of order */
    const int64_t times[] = {100, 200, 300, 400};
    int64_t stored[4];
    append_at_times(times, 4, stored);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE INDEX events_recorded_at ON events(recorded_at);"
                              "UPDATE events SET recorded_at = 50 WHERE position = 3;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    const int64_t now[] = {100, 200, 50, 400}; /* a bisection would miss position 3 */
    for (int64_t t = 0; t <= 450; t += 10) {
        int64_t p = -1;
        cr_assert_eq(eventstore_position_at(es, t, &p), ERR_OK);
        cr_assert_eq(p, last_at_or_before(now, 4, t), "time %lld", (long long)t);
    }
}

/* ---- idempotency --------------------------------------------------------- */

Test(eventstore, command_save_and_find)
{
    command_reply_t in, out;
    append_history(); /* position 5 is product-p1@3: the reply is rebuilt from it */
    memset(&in, 0, sizeof in);
    in.accepted = true;
    snprintf(in.command_id, sizeof in.command_id, "c-77");
    snprintf(in.stream, sizeof in.stream, "product-p1");
    in.version = 3;
    in.position = 5;
    cr_assert_eq(eventstore_command_find(es, "c-77", &out), 0);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(eventstore_command_save(es, &in), ERR_OK);
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    memset(&out, 0xa5, sizeof out);
    cr_assert_eq(eventstore_command_find(es, "c-77", &out), 1);
    cr_assert(out.accepted);
    cr_assert_str_eq(out.command_id, "c-77");
    cr_assert_str_eq(out.stream, "product-p1");
    cr_assert_eq(out.version, 3);
    cr_assert_eq(out.position, 5);
    cr_assert_not(out.duplicate);
    cr_assert_eq(eventstore_command_find(es, "c-78", &out), 0);
    /* the same id twice is a constraint error */
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(eventstore_command_save(es, &in), ERR_DUPLICATE);
    eventstore_rollback(es);
}

/* A claim takes a new id once (a second claim finds the row), names the
 * position given until moved, is gone after a release or a rollback. */
Test(eventstore, command_claim_move_release)
{
    command_reply_t out;
    append_history(); /* position 5 is product-p1@3, 6 is product-p1@4 */
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(eventstore_command_claim(es, "c-1", 5), 1);
    cr_assert_eq(eventstore_command_claim(es, "c-1", 6), 0, "claimed already");
    cr_assert_eq(eventstore_command_find(es, "c-1", &out), 1);
    cr_assert_eq(out.position, 5, "the second claim changed nothing");
    cr_assert_eq(eventstore_command_move(es, "c-1", 6), ERR_OK);
    cr_assert_eq(eventstore_command_find(es, "c-1", &out), 1);
    cr_assert_eq(out.position, 6);
    cr_assert_eq(out.version, 4);
    cr_assert_eq(eventstore_command_claim(es, "c-2", 5), 1);
    cr_assert_eq(eventstore_command_release(es, "c-2"), ERR_OK);
    cr_assert_eq(eventstore_command_find(es, "c-2", &out), 0, "released");
    cr_assert_eq(eventstore_command_claim(es, "c-2", 5), 1, "a released id is new again");
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    cr_assert_eq(eventstore_command_find(es, "c-2", &out), 1);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(eventstore_command_claim(es, "c-3", 6), 1);
    eventstore_rollback(es);
    cr_assert_eq(eventstore_command_find(es, "c-3", &out), 0, "rolled back");
    cr_assert_eq(eventstore_command_find(es, "c-1", &out), 1);
    cr_assert_eq(out.position, 6);
}

/* ---- persistence --------------------------------------------------------- */

Test(eventstore, reopen_keeps_everything)
{
    append_history();
    command_reply_t rep = {.accepted = true, .version = 4, .position = 6};
    snprintf(rep.command_id, sizeof rep.command_id, "c-last");
    snprintf(rep.stream, sizeof rep.stream, "product-p1");
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    cr_assert_eq(eventstore_command_save(es, &rep), ERR_OK);
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    cr_assert_eq(eventstore_outbox_delete_through(es, 2), ERR_OK);
    eventstore_close(&es);
    cr_assert_null(es);
    eventstore_close(&es); /* idempotent */

    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    int64_t head, v, n;
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 6);
    cr_assert_eq(eventstore_stream_version(es, "product-p1", &v), ERR_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 4);
    seen_t s = {0};
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 4);
    command_reply_t out;
    cr_assert_eq(eventstore_command_find(es, "c-last", &out), 1);
    cr_assert_eq(out.position, 6);
    int64_t pos;
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 5, 5, &pos), ERR_OK);
    cr_assert_eq(pos, 7);
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 4, 4, &pos), ERR_DUPLICATE);
}

/* Turns the fixture's file back into a schema-2 store: the events table
 * with UNIQUE(stream_id, version) and no chain, streams without version
 * and head (what every store written before the chain holds). */
static void
downgrade_to_schema_2(void)
{
    eventstore_close(&es);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    const char *sql =
        "BEGIN;"
        "CREATE TABLE events2(position INTEGER PRIMARY KEY,"
        " stream_id INTEGER NOT NULL REFERENCES streams(stream_id), version INTEGER NOT NULL,"
        " type TEXT NOT NULL, schema INTEGER NOT NULL, event_id TEXT NOT NULL,"
        " command_id TEXT NOT NULL, correlation_id TEXT NOT NULL,"
        " recorded_at INTEGER NOT NULL, payload BLOB NOT NULL, UNIQUE(stream_id, version));"
        "INSERT INTO events2 SELECT position, stream_id, version, type, schema, event_id,"
        " command_id, correlation_id, recorded_at, payload FROM events;"
        "DROP TABLE events; ALTER TABLE events2 RENAME TO events;"
        "CREATE INDEX events_recorded_at ON events(recorded_at);"
        "ALTER TABLE streams DROP COLUMN version; ALTER TABLE streams DROP COLUMN head;"
        "DROP TABLE stream_marks;"
        "PRAGMA user_version = 2; COMMIT;";
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
    sqlite3_close(db);
}

static int
count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

Test(eventstore, schema_2_store_is_migrated_on_open)
{
    append_history();
    cr_assert_eq(eventstore_migrated_from(es), 0);
    downgrade_to_schema_2();
    cr_assert_eq(count_rows("SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                            " AND tbl_name = 'events' AND name LIKE 'sqlite_autoindex%'"),
                 1, "the downgraded file has the old unique index");

    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    cr_assert_eq(eventstore_migrated_from(es), 2);
    seen_t s = {0};
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 0, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 4);
    static const int64_t pos[] = {2, 3, 5, 6};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(s.versions[i], i + 1);
        cr_assert_eq(s.positions[i], pos[i]);
        cr_assert(s.data_ok[i]);
    }
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "supplier-s1", 1, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.positions[0], 4);
    int64_t v, head, n;
    cr_assert_eq(eventstore_stream_version(es, "product-p1", &v), ERR_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 6);
    cr_assert_eq(eventstore_outbox_backlog(es, &n), ERR_OK);
    cr_assert_eq(n, 6);
    int64_t p;
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 4, 7, &p), ERR_DUPLICATE);
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 5, 5, &p), ERR_OK);
    cr_assert_eq(p, 7);
    memset(&s, 0, sizeof s);
    cr_assert_eq(eventstore_load_stream(es, "product-p1", 3, 0, collect_event, &s), ERR_OK);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.positions[1], 7);
    cr_assert_eq(count_rows("SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'events'"
                            " AND type = 'index'"),
                 1, "only events_recorded_at is left");
    cr_assert_eq(count_rows("PRAGMA user_version"), 4);

    eventstore_close(&es);
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    cr_assert_eq(eventstore_migrated_from(es), 0, "migrated once");
}

Test(eventstore, migrated_long_stream_gets_its_marks)
{
    append_long_stream();
    downgrade_to_schema_2();
    cr_assert_eq(count_rows("SELECT count(*) FROM sqlite_schema WHERE name = 'stream_marks'"), 0);
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    cr_assert_eq(eventstore_migrated_from(es), 2);
    cr_assert_eq(count_marks(), 5);
    check_long_stream_reads();
    int64_t pos;
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-long", 301, 301, &pos), ERR_OK);
    cr_assert_eq(pos, 401);
}

/* Holds the write lock on the file for 2 s, as a process migrating a
 * big store would. */
static void *
hold_write_lock(void *arg)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    *(volatile int *)arg = 1;
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

/* The relay and the command-service open the store together: the one that
 * does not migrate waits for the other instead of giving up after its busy
 * timeout (here 100 ms). */
Test(eventstore, open_waits_while_another_process_may_be_migrating)
{
    append_history();
    downgrade_to_schema_2();
    volatile int locked = 0;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, hold_write_lock, (void *)&locked), 0);
    while (!locked)
        sched_yield();
    eventstore_options_t opts = {false, 100, 0, 0};
    cr_assert_eq(eventstore_open(path, &opts, &es), ERR_OK);
    pthread_join(th, NULL);
    cr_assert_eq(eventstore_migrated_from(es), 2);
    int64_t v;
    cr_assert_eq(eventstore_stream_version(es, "product-p1", &v), ERR_OK);
    cr_assert_eq(v, 4);
}

Test(eventstore, unknown_schema_version_is_refused)
{
    eventstore_close(&es);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_neq(eventstore_open(path, NULL, &es), ERR_OK);
    cr_assert_null(es);
}

Test(eventstore, open_fails_cleanly)
{
    eventstore_t *bad = (eventstore_t *)0x1;
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/dir/events.db", dir);
    cr_assert_neq(eventstore_open(p, NULL, &bad), ERR_OK);
    cr_assert_null(bad);
    /* a file that is not a database */
    snprintf(p, sizeof p, "%s/junk.db", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database at all ", f);
    fclose(f);
    cr_assert_neq(eventstore_open(p, NULL, &bad), ERR_OK);
    cr_assert_null(bad);
    eventstore_close(&bad);
    eventstore_close(NULL);
}

Test(eventstore, second_connection_sees_commits_only)
{
    eventstore_t *other = NULL;
    cr_assert_eq(eventstore_open(path, NULL, &other), ERR_OK);
    event_t *ev = malloc(sizeof *ev);
    cr_assert_eq(eventstore_begin(es), ERR_OK);
    sample_event(ev, EV_SUPPLIER_REGISTERED, "supplier-s1", 1, 1);
    cr_assert_eq(eventstore_append(es, ev), ERR_OK);
    int64_t head;
    cr_assert_eq(eventstore_head(other, &head, NULL), ERR_OK);
    cr_assert_eq(head, 0, "uncommitted events are invisible to other connections");
    cr_assert_eq(eventstore_commit(es), ERR_OK);
    cr_assert_eq(eventstore_head(other, &head, NULL), ERR_OK);
    cr_assert_eq(head, 1);
    free(ev);
    eventstore_close(&other);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The relay's checkpoint restarts the WAL while holding the write lock; a
 * reader that keeps an old snapshot (an operator's sqlite3 shell) must not
 * make it wait the whole busy timeout (5 s here), and the checkpoint must
 * not fail because of it.  The writer commits again afterwards. */
Test(eventstore, wal_restart_does_not_wait_for_a_long_reader)
{
    for (int v = 1; v <= 50; v++)
        cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", v, v, NULL), ERR_OK);
    sqlite3 *reader;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(reader, "SELECT count(*) FROM events", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 50);
    for (int v = 51; v <= 100; v++)
        cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", v, v, NULL), ERR_OK);

    eventstore_t *relay = NULL;
    eventstore_options_t opts = {false, 5000, 0, 0};
    cr_assert_eq(eventstore_open(path, &opts, &relay), ERR_OK);
    int64_t t0 = mono_ms();
    cr_assert_eq(eventstore_checkpoint(relay, 1, NULL), ERR_OK);
    int64_t took = mono_ms() - t0;
    cr_assert_lt(took, 2500, "the WAL restart waited %lld ms for the reader", (long long)took);
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 101, 101, NULL), ERR_OK);

    sqlite3_finalize(st);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    cr_assert_eq(eventstore_checkpoint(relay, 1, NULL), ERR_OK);
    cr_assert_eq(append_one(EV_PRODUCT_VIEWED, "product-p1", 102, 102, NULL), ERR_OK);
    eventstore_close(&relay);
}

/* The copy of an event from the replicated log (replica.c): read back raw
 * from one store, decoded and appended to another. */
typedef struct {
    eventstore_t *to;
    int copied;
    bool tamper; /* hand over a hash that is not the event's */
    int rc;
} copy_t;

static int
copy_raw(const envelope_t *env, const void *data, size_t len, void *arg)
{
    copy_t *c = arg;
    event_t *ev = malloc(sizeof *ev);
    const char *why;
    memset(ev, 0, sizeof *ev);
    ev->env = *env;
    cr_assert_eq(codec_decode_event_data(env->type, env->schema, data, len, &ev->data, &why), 0);
    uint8_t hash[CHAIN_HASH_LEN];
    memcpy(hash, env->hash, sizeof hash);
    hash[0] ^= c->tamper ? 1 : 0;
    c->rc = eventstore_append_copy(c->to, ev, hash);
    c->copied += c->rc == ERR_OK;
    free(ev);
    return c->rc == ERR_OK ? 0 : 1;
}

Test(eventstore, a_copy_lands_at_the_next_position_with_the_logs_hash_and_no_outbox_row)
{
    append_history();
    int64_t head;
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    char path2[160];
    snprintf(path2, sizeof path2, "%s/copy.db", dir);
    eventstore_t *to = NULL;
    cr_assert_eq(eventstore_open(path2, NULL, &to), ERR_OK);
    /* a hash that is not the event's is refused and nothing stays */
    copy_t bad = {to, 0, true, ERR_OK};
    cr_assert_eq(eventstore_begin(to), ERR_OK);
    eventstore_read_raw(es, 0, 1, 1, copy_raw, &bad);
    cr_assert_eq(bad.rc, ERR_CORRUPT);
    eventstore_rollback(to);
    copy_t c = {to, 0, false, ERR_OK};
    cr_assert_eq(eventstore_begin(to), ERR_OK);
    cr_assert_eq(eventstore_read_raw(es, 0, INT64_MAX, 1000, copy_raw, &c), ERR_OK);
    cr_assert_eq(eventstore_commit(to), ERR_OK);
    cr_assert_eq(c.copied, head);
    int64_t head2, backlog = -1;
    cr_assert_eq(eventstore_head(to, &head2, NULL), ERR_OK);
    cr_assert_eq(head2, head);
    cr_assert_eq(eventstore_outbox_backlog(to, &backlog), ERR_OK);
    cr_assert_eq(backlog, 0, "a copied event has no outbox row");
    es_chain_state_t a, b;
    cr_assert_eq(eventstore_chain_start(es, 1, &a), ERR_OK);
    cr_assert_eq(eventstore_chain_verify(es, &a, head, 1000), ERR_OK);
    cr_assert_eq(eventstore_chain_start(to, 1, &b), ERR_OK);
    cr_assert_eq(eventstore_chain_verify(to, &b, head, 1000), ERR_OK);
    cr_assert_eq(b.bad_position, 0);
    cr_assert_arr_eq(a.hash, b.hash, CHAIN_HASH_LEN, "the copy's chain ends where the log's does");
    /* the same event again does not follow the head */
    copy_t again = {to, 0, false, ERR_OK};
    cr_assert_eq(eventstore_begin(to), ERR_OK);
    eventstore_read_raw(es, head - 1, head, 1, copy_raw, &again);
    cr_assert_neq(again.rc, ERR_OK);
    eventstore_rollback(to);
    eventstore_close(&to);
}

/* The hash does not cover the position: a copy that claims another
 * position than the one after the head is refused before it is appended
 * (the log's row must say where it lands). */
static int
copy_misplaced(const envelope_t *env, const void *data, size_t len, void *arg)
{
    copy_t *c = arg;
    event_t *ev = malloc(sizeof *ev);
    const char *why;
    memset(ev, 0, sizeof *ev);
    ev->env = *env;
    ev->env.position += 64;
    cr_assert_eq(codec_decode_event_data(env->type, env->schema, data, len, &ev->data, &why), 0);
    c->rc = eventstore_append_copy(c->to, ev, env->hash);
    free(ev);
    return 1;
}

Test(eventstore, a_copy_that_claims_another_position_is_refused)
{
    append_history();
    char path2[160];
    snprintf(path2, sizeof path2, "%s/copy.db", dir);
    eventstore_t *to = NULL;
    cr_assert_eq(eventstore_open(path2, NULL, &to), ERR_OK);
    copy_t c = {to, 0, false, ERR_OK};
    cr_assert_eq(eventstore_begin(to), ERR_OK);
    eventstore_read_raw(es, 0, 1, 1, copy_misplaced, &c);
    cr_assert_eq(c.rc, ERR_CORRUPT, "the event of position 1 claiming 65: %s", err_strerror(c.rc));
    eventstore_rollback(to);
    int64_t head = -1;
    cr_assert_eq(eventstore_head(to, &head, NULL), ERR_OK);
    cr_assert_eq(head, 0);
    eventstore_close(&to);
}
