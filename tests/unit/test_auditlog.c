/* Unit tests of audit-service/auditlog (the audit model) and auditapi
 * (SearchAudit): event sequences built in C applied to temp-file models,
 * printed lines only after commit, idempotence, rebuild equality, search
 * filters and pagination, and hostile requests. */
#include "auditapi.h"
#include "msgtree.h"
#include "auditlog.h"
#include "modeltest.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1795446680000000 /* 2026-11-23T15:11:20Z, in us */
#define N_EVENTS 10

static event_t evs[N_EVENTS + 1]; /* evs[p] has position p */

/* modeltest's dump: the model's, typed for it. */
static int
dump_to(void *m, FILE *f)
{
    return auditlog_dump(m, f);
}

static modeltest_t mt = {.ops = &auditlog_ops, .dump = dump_to, .evs = evs};
static auditlog_t *model;

/* ---- fixtures ------------------------------------------------------------ */

static void
mk(int64_t pos, const char *stream, int64_t version, event_type_t type, const char *corr)
{
    event_t *e = &evs[pos];
    memset(e, 0, sizeof *e);
    e->env.position = pos;
    snprintf(e->env.stream, sizeof e->env.stream, "%s", stream);
    e->env.version = version;
    e->env.type = type;
    e->env.schema = event_spec(type)->schema;
    snprintf(e->env.event_id, sizeof e->env.event_id, "e%lld", (long long)pos);
    snprintf(e->env.command_id, sizeof e->env.command_id, "cmd%lld", (long long)pos);
    snprintf(e->env.correlation_id, sizeof e->env.correlation_id, "%s", corr);
    e->env.recorded_at = T0 + pos * 1000000;
}

static void
history(void)
{
    mk(1, "supplier-s1", 1, EV_SUPPLIER_REGISTERED, "c1");
    fields_set_str(&evs[1].data, F_SUPPLIER_ID, "s1");
    fields_set_str(&evs[1].data, F_NAME, "Acme");
    mk(2, "product-p1", 1, EV_PRODUCT_CREATED, "c2");
    fields_set_str(&evs[2].data, F_PRODUCT_ID, "p1");
    fields_set_str(&evs[2].data, F_NAME, "Widget");
    fields_set_int(&evs[2].data, F_PRICE_CENTS, 1999);
    fields_set_int(&evs[2].data, F_STOCK, 40);
    fields_set_int(&evs[2].data, F_LOW_STOCK_THRESHOLD, 10);
    mk(3, "product-p1", 2, EV_STOCK_UPDATED, "c3");
    fields_set_int(&evs[3].data, F_OLD_STOCK, 40);
    fields_set_int(&evs[3].data, F_NEW_STOCK, 12);
    mk(4, "product-p1", 3, EV_PRODUCT_SOLD, "c4");
    fields_set_str(&evs[4].data, F_ORDER_ID, "o1");
    fields_set_int(&evs[4].data, F_QUANTITY, 5);
    fields_set_int(&evs[4].data, F_OLD_STOCK, 12);
    fields_set_int(&evs[4].data, F_NEW_STOCK, 7);
    mk(5, "product-p2", 1, EV_PRODUCT_CREATED, "c4");
    fields_set_str(&evs[5].data, F_NAME, "Gadget \"Pro\"");
    mk(6, "product-p1", 4, EV_PRICE_CHANGED, "c5");
    fields_set_int(&evs[6].data, F_OLD_PRICE_CENTS, 1999);
    fields_set_int(&evs[6].data, F_NEW_PRICE_CENTS, 1499);
    mk(7, "supplier-s1", 2, EV_SUPPLIER_RENAMED, "");
    fields_set_str(&evs[7].data, F_OLD_NAME, "Acme");
    fields_set_str(&evs[7].data, F_NEW_NAME, "Acme Ltd");
    mk(8, "product-p1", 5, EV_PRODUCT_VIEWED, "c6");
    mk(9, "product-p1", 6, EV_REVIEW_SUBMITTED, "c7");
    fields_set_str(&evs[9].data, F_REVIEW_ID, "r1");
    fields_set_int(&evs[9].data, F_RATING, 4);
    mk(10, "product-p2", 2, EV_PRODUCT_DISCONTINUED, "c8");
    fields_set_str(&evs[10].data, F_REASON, "bad\nline");
}

static auditlog_t *
open_model(const char *name, FILE *where)
{
    char path[128];
    const char *why = NULL;
    modeltest_path(&mt, name, path, sizeof path);
    auditlog_t *m = auditlog_open(path, where, &why);
    cr_assert_not_null(m, "%s", why);
    return m;
}

static void
setup(void)
{
    modeltest_init(&mt, "auditlog");
    model = open_model("audit.db", mt.out);
    history();
}

static void
teardown(void)
{
    auditlog_close(&model);
    modeltest_fini(&mt);
}

TestSuite(auditlog, .init = setup, .fini = teardown);

/* ---- model --------------------------------------------------------------- */

Test(auditlog, one_line_per_event_after_commit_only)
{
    cr_assert_eq(auditlog_ops.begin(model), 0);
    for (int p = 1; p <= N_EVENTS; p++)
        cr_assert_eq(auditlog_ops.apply(model, &evs[p]), 0);
    cr_assert_str_eq(modeltest_printed(&mt), "", "nothing before the commit");
    cr_assert_eq(auditlog_ops.commit(model, N_EVENTS, ""), 0);
    cr_assert_str_eq(modeltest_printed(&mt), "", "nothing before the committed hook");
    auditlog_ops.committed(model);
    const char *s = modeltest_printed(&mt);
    cr_assert_eq(modeltest_count_lines(s), N_EVENTS, "%s", s);
    cr_assert_not_null(strstr(s, "2026-11-23T15:11:23.000Z #3 product-p1@2 StockUpdated "
                                 "[corr=c3] stock 40 -> 12\n"),
                       "%s", s);
    cr_assert_not_null(strstr(s, "#4 product-p1@3 ProductSold [corr=c4] sold 5 (order o1) "
                                 "stock 12 -> 7\n"));
    cr_assert_not_null(strstr(s, "#7 supplier-s1@2 SupplierRenamed [corr=-] name \"Acme\" -> "
                                 "\"Acme Ltd\"\n"));
    cr_assert_not_null(strstr(s, "discontinued: bad\\nline\n"));
    int64_t cp = 0;
    cr_assert_eq(auditlog_checkpoint(model, &cp), 0);
    cr_assert_eq(cp, N_EVENTS);
}

/* The printed line is assembled by hand; it must equal the format
 * "<iso time> #<pos> <stream>@<version> <type> [corr=<id>|-] <change>" built
 * from change_iso_time and change_escape, for odd ids and for times in the
 * same second, a later one, and before 1970. */
Test(auditlog, printed_line_equals_the_reference_format)
{
    static const int64_t times[] = {T0 + 1000, T0 + 999999, T0 + 1000000, T0 - 1, -1, 0, -1000001};
    static const char *const corrs[] = {"", "c\"1", "tab\there", "caf\xc3\xa9", "\xff", "x"};
    char *want = NULL;
    size_t want_len = 0;
    FILE *w = open_memstream(&want, &want_len);
    cr_assert_eq(auditlog_ops.begin(model), 0);
    for (int i = 0; i < 7; i++) {
        mk(1 + i, i % 2 ? "product-\"q\"" : "product-p1", i + 1, EV_PRODUCT_VIEWED, corrs[i % 6]);
        event_t *e = &evs[1 + i];
        e->env.recorded_at = times[i];
        cr_assert_eq(auditlog_ops.apply(model, e), 0);
        char when[CHANGE_TIME_MAX], stream[4 * STREAM_MAX + 8], corr[4 * ID_MAX + 8];
        change_escape(e->env.stream, strlen(e->env.stream), stream, sizeof stream);
        change_escape(e->env.correlation_id, strlen(e->env.correlation_id), corr, sizeof corr);
        fprintf(w, "%s #%d %s@%d ProductViewed [corr=%s] viewed\n",
                change_iso_time(e->env.recorded_at, when), 1 + i, stream, i + 1,
                corr[0] ? corr : "-");
    }
    fclose(w);
    cr_assert_eq(auditlog_ops.commit(model, 7, ""), 0);
    auditlog_ops.committed(model);
    cr_assert_str_eq(modeltest_printed(&mt), want);
    free(want);
}

Test(auditlog, rollback_prints_nothing_and_stores_nothing)
{
    cr_assert_eq(auditlog_ops.begin(model), 0);
    for (int p = 1; p <= 3; p++)
        cr_assert_eq(auditlog_ops.apply(model, &evs[p]), 0);
    auditlog_ops.rollback(model);
    modeltest_apply(&mt, model, 1, 2);
    cr_assert_eq(modeltest_count_lines(modeltest_printed(&mt)), 2, "%s", modeltest_printed(&mt));
    cr_assert_null(strstr(modeltest_printed(&mt), "#3 "));
    char *d = modeltest_dump(&mt, model);
    cr_assert_eq(strncmp(d, "checkpoint 2\n", 13), 0, "%s", d);
    cr_assert_eq(modeltest_count_lines(d), 3);
    free(d);
}

Test(auditlog, reapplying_is_harmless_and_silent)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    char *before = modeltest_dump(&mt, model);
    size_t printed_len = strlen(modeltest_printed(&mt));
    modeltest_apply(&mt, model, 1, N_EVENTS);
    modeltest_apply(&mt, model, 4, 6);
    cr_assert_eq(strlen(modeltest_printed(&mt)), printed_len, "no second line for the same event");
    char *after = modeltest_dump(&mt, model);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

Test(auditlog, rebuild_dumps_identically)
{
    for (int p = 1; p <= N_EVENTS; p++)
        modeltest_apply(&mt, model, p, p);
    auditlog_t *fresh = open_model("rebuild.db", NULL);
    modeltest_apply(&mt, fresh, 1, N_EVENTS);
    char *live = modeltest_dump(&mt, model), *rebuilt = modeltest_dump(&mt, fresh);
    cr_assert_str_eq(live, rebuilt);
    auditlog_close(&fresh);
    cr_assert_null(fresh);
    auditlog_close(&fresh); /* idempotent */
    auditlog_close(&model);
    model = open_model("audit.db", mt.out);
    char *reopened = modeltest_dump(&mt, model);
    cr_assert_str_eq(live, reopened);
    free(live);
    free(rebuilt);
    free(reopened);
}

/* ---- search -------------------------------------------------------------- */

typedef struct {
    int n;
    int64_t pos[AUDITLOG_LIMIT_MAX];
} found_t;

static void
collect(void *arg, const auditlog_row_t *row)
{
    found_t *f = arg;
    f->pos[f->n++] = row->position;
}

static found_t
search(auditlog_query_t q, bool *more)
{
    found_t f = {0};
    if (q.limit == 0)
        q.limit = AUDITLOG_LIMIT_DEFAULT;
    cr_assert_eq(auditlog_search(model, &q, collect, &f, more), f.n);
    return f;
}

static void
expect(found_t f, const int64_t *want, int n)
{
    cr_assert_eq(f.n, n, "found %d, want %d", f.n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(f.pos[i], want[i], "item %d", i);
}

Test(auditlog, search_filters)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    bool more;
    expect(search((auditlog_query_t){.stream = "product-p1"}, &more), (int64_t[]){2, 3, 4, 6, 8, 9},
           6);
    cr_assert(!more);
    expect(search((auditlog_query_t){.correlation_id = "c4"}, &more), (int64_t[]){4, 5}, 2);
    expect(search((auditlog_query_t){.has_from = true,
                                     .from_us = T0 + 3000000,
                                     .has_to = true,
                                     .to_us = T0 + 6000000},
                  &more),
           (int64_t[]){3, 4, 5}, 3);
    expect(
        search(
            (auditlog_query_t){.stream = "product-p1", .has_from = true, .from_us = T0 + 5000000},
            &more),
        (int64_t[]){6, 8, 9}, 3);
    expect(search((auditlog_query_t){.stream = "product-p1", .correlation_id = "c4"}, &more),
           (int64_t[]){4}, 1);
    expect(search((auditlog_query_t){.stream = "product-nope"}, &more), NULL, 0);
    expect(search((auditlog_query_t){.has_to = true, .to_us = T0}, &more), NULL, 0);
}

/* Many events: the search keys are indexed in bulk (audit_keys) some
 * thousand rows behind the table, so searches read an indexed part and a
 * tail.  Every filter combination, cursor (around those boundaries) and
 * limit must give what a walk over all events gives, before and after a
 * reopen (which indexes the tail). */
#define BIG 20000
static struct {
    int stream; /* product-p<stream> */
    int corr;   /* c<corr>, 0: none */
    int64_t at; /* recorded_at, not in position order */
} big[BIG + 1];

static bool big_applied[BIG + 1]; /* what big_check_all expects to find */

static void
big_event(int p, event_t *ev)
{
    big[p].stream = p % 37;
    big[p].corr = p % 101;
    big[p].at = T0 + (int64_t)((p * 7919) % BIG) * 1000;
    memset(ev, 0, sizeof *ev);
    ev->env.position = p;
    snprintf(ev->env.stream, sizeof ev->env.stream, "product-p%d", big[p].stream);
    ev->env.version = p;
    ev->env.type = EV_PRODUCT_VIEWED;
    ev->env.schema = event_spec(EV_PRODUCT_VIEWED)->schema;
    if (big[p].corr)
        snprintf(ev->env.correlation_id, sizeof ev->env.correlation_id, "c%d", big[p].corr);
    snprintf(ev->env.command_id, sizeof ev->env.command_id, "cmd%d", p);
    ev->env.recorded_at = big[p].at;
}

/* Applies the n positions of ps in that order, `batch` per transaction. */
static void
big_apply_list(auditlog_t *m, const int *ps, int n, int batch)
{
    static event_t ev;
    for (int from = 0; from < n; from += batch) {
        int64_t cp = 0;
        cr_assert_eq(auditlog_ops.checkpoint(m, &cp), 0);
        cr_assert_eq(auditlog_ops.begin(m), 0);
        for (int i = from; i < n && i < from + batch; i++) {
            big_event(ps[i], &ev);
            cr_assert_eq(auditlog_ops.apply(m, &ev), 0, "position %d", ps[i]);
            big_applied[ps[i]] = true;
            cp = ps[i] > cp ? ps[i] : cp;
        }
        cr_assert_eq(auditlog_ops.commit(m, cp, ""), 0);
        auditlog_ops.committed(m);
    }
}

static void
big_apply(auditlog_t *m)
{
    static int ps[BIG];
    for (int i = 0; i < BIG; i++)
        ps[i] = i + 1;
    big_apply_list(m, ps, BIG, 1000);
}

static bool
big_match(const auditlog_query_t *q, int p)
{
    char s[32], c[32];
    snprintf(s, sizeof s, "product-p%d", big[p].stream);
    snprintf(c, sizeof c, big[p].corr ? "c%d" : "", big[p].corr);
    return (!q->stream || strcmp(q->stream, s) == 0) &&
           (!q->correlation_id || strcmp(q->correlation_id, c) == 0) &&
           (!q->has_from || big[p].at >= q->from_us) && (!q->has_to || big[p].at < q->to_us);
}

static void
big_check_all(void)
{
    static const char *const streams[] = {NULL, "product-p5", "product-none"};
    static const char *const corrs[] = {NULL, "c7", ""};
    static const int64_t afters[] = {0, 4000, 8999, 9000, 9001, 17999, 18000, 19500, BIG};
    static const int limits[] = {1, 20, 100};
    int checked = 0;
    for (int si = 0; si < 3; si++)
        for (int ci = 0; ci < 3; ci++)
            for (int ti = 0; ti < 4; ti++)
                for (int ai = 0; ai < 9; ai++)
                    for (int li = 0; li < 3; li++) {
                        auditlog_query_t q = {.stream = streams[si],
                                              .correlation_id = corrs[ci],
                                              .has_from = ti & 1,
                                              .from_us = T0 + 3000000,
                                              .has_to = (ti & 2) != 0,
                                              .to_us = T0 + 15000000,
                                              .limit = limits[li],
                                              .after = afters[ai]};
                        found_t want = {0};
                        bool want_more = false;
                        for (int p = (int)q.after + 1; p <= BIG; p++) {
                            if (!big_applied[p] || !big_match(&q, p))
                                continue;
                            if (want.n == q.limit) {
                                want_more = true;
                                break;
                            }
                            want.pos[want.n++] = p;
                        }
                        bool more = !want_more;
                        found_t got = search(q, &more);
                        cr_assert_eq(more, want_more, "stream %d corr %d time %d after %lld", si,
                                     ci, ti, (long long)q.after);
                        expect(got, want.pos, want.n);
                        checked += want.n;
                    }
    cr_assert_gt(checked, 1000);
}

Test(auditlog, bulk_indexed_search_equals_a_walk)
{
    big_apply(model);
    big_check_all();
    char *before = modeltest_dump(&mt, model);
    auditlog_close(&model);
    model = open_model("audit.db", mt.out);
    big_check_all();
    char *after = modeltest_dump(&mt, model);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    cr_assert_eq(modeltest_count_lines(modeltest_printed(&mt)), BIG);
}

/* Rows applied below their stream's head (a caller that skipped
 * positions and came back for them): each is spliced into its stream's
 * chain, so searches still equal a walk, also after a rolled-back batch
 * and a reopen, and the file dumps as one built in order. */
Test(auditlog, holes_filled_below_a_streams_head_are_found)
{
    static int first[BIG], later[BIG];
    int n_first = 0, n_later = 0;
    for (int p = 1; p <= BIG; p++)
        if (p % 7 == 0 || (p > 12000 && p <= 12200))
            later[n_later++] = p;
        else
            first[n_first++] = p;
    big_apply_list(model, first, n_first, 1000);
    big_check_all();
    static event_t ev; /* a batch of holes rolled back changes nothing */
    cr_assert_eq(auditlog_ops.begin(model), 0);
    for (int i = 0; i < 300; i++) {
        big_event(later[i], &ev);
        cr_assert_eq(auditlog_ops.apply(model, &ev), 0);
    }
    auditlog_ops.rollback(model);
    big_check_all();
    for (int i = 0; i < n_later / 2; i++) { /* the holes from the top down */
        int t = later[i];
        later[i] = later[n_later - 1 - i];
        later[n_later - 1 - i] = t;
    }
    big_apply_list(model, later, n_later, 500);
    big_check_all();
    char *spliced = modeltest_dump(&mt, model);
    auditlog_close(&model);
    model = open_model("audit.db", mt.out);
    big_check_all();
    auditlog_t *in_order = open_model("in_order.db", NULL);
    big_apply(in_order);
    char *want = modeltest_dump(&mt, in_order);
    auditlog_close(&in_order);
    cr_assert_str_eq(spliced, want);
    free(spliced);
    free(want);
}

/* A file written before the stream chain (no prev column, no heads or
 * marks, an index on audit_keys.stream) gets them at open: searches equal
 * a walk, the index is gone, new rows link on. */
Test(auditlog, a_file_from_before_the_chain_is_linked_at_open)
{
    big_apply(model);
    auditlog_close(&model);
    sqlite3 *db = modeltest_db(&mt, "audit.db");
    modeltest_exec(db, "ALTER TABLE audit DROP COLUMN prev; DROP TABLE audit_streams;"
                       " DROP TABLE audit_marks;"
                       " CREATE INDEX audit_keys_by_stream ON audit_keys(stream);");
    sqlite3_close(db);
    model = open_model("audit.db", mt.out);
    big_check_all();
    db = modeltest_db(&mt, "audit.db");
    cr_assert_eq(modeltest_query_int(db, "SELECT count(*) FROM sqlite_schema"
                                         " WHERE name = 'audit_keys_by_stream'"),
                 0);
    int want_marks = 0; /* every 64th row of each stream */
    for (int s = 0; s < 37; s++)
        want_marks += (BIG / 37 + (s >= 1 && s <= BIG % 37)) / 64;
    cr_assert_eq(modeltest_query_int(db, "SELECT count(*) FROM audit_marks"), want_marks);
    sqlite3_close(db);
    static event_t ev;
    big_event(5, &ev);
    ev.env.position = BIG + 1; /* product-p5 again, beyond its head */
    cr_assert_eq(auditlog_ops.begin(model), 0);
    cr_assert_eq(auditlog_ops.apply(model, &ev), 0);
    cr_assert_eq(auditlog_ops.commit(model, BIG + 1, ""), 0);
    bool more = true;
    found_t f = search((auditlog_query_t){.stream = "product-p5", .after = BIG - 100}, &more);
    cr_assert_gt(f.n, 1);
    cr_assert_eq(f.pos[f.n - 1], BIG + 1);
    cr_assert_eq(f.pos[f.n - 2], BIG - (BIG - 5) % 37); /* the last product-p5 row before it */
    cr_assert(!more);
}

/* More streams in one batch than the head cache holds (16,384 heads):
 * streams whose cache set is full of the batch's heads are written through
 * at once.  Every stream's chain is whole, after the batch, after a second
 * batch over the same streams and after a reopen. */
#define WIDE 20000
static void
wide_apply(int round)
{
    static event_t ev;
    cr_assert_eq(auditlog_ops.begin(model), 0);
    for (int i = 1; i <= WIDE; i++) {
        memset(&ev, 0, sizeof ev);
        ev.env.position = round * WIDE + i;
        snprintf(ev.env.stream, sizeof ev.env.stream, "product-w%d", i);
        ev.env.version = round + 1;
        ev.env.type = EV_PRODUCT_VIEWED;
        ev.env.schema = event_spec(EV_PRODUCT_VIEWED)->schema;
        snprintf(ev.env.command_id, sizeof ev.env.command_id, "cmd%d", round * WIDE + i);
        ev.env.recorded_at = T0 + ev.env.position;
        cr_assert_eq(auditlog_ops.apply(model, &ev), 0);
    }
    cr_assert_eq(auditlog_ops.commit(model, (round + 1) * WIDE, ""), 0);
    auditlog_ops.committed(model);
}

static void
wide_check(int rounds)
{
    char stream[32];
    for (int i = 1; i <= WIDE; i++) {
        snprintf(stream, sizeof stream, "product-w%d", i);
        bool more = true;
        expect(search((auditlog_query_t){.stream = stream}, &more), (int64_t[]){i, WIDE + i},
               rounds);
        cr_assert(!more);
    }
}

Test(auditlog, more_streams_in_a_batch_than_the_head_cache_holds)
{
    wide_apply(0);
    wide_check(1);
    wide_apply(1);
    wide_check(2);
    auditlog_close(&model);
    model = open_model("audit.db", mt.out);
    wide_check(2);
}

Test(auditlog, search_pages_with_a_cursor)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    bool more;
    int64_t after = 0, seen = 0;
    for (int page = 0; page < 10; page++) {
        found_t f = search((auditlog_query_t){.limit = 3, .after = after}, &more);
        for (int i = 0; i < f.n; i++)
            cr_assert_eq(f.pos[i], ++seen);
        if (!more)
            break;
        after = f.pos[f.n - 1];
    }
    cr_assert_eq(seen, N_EVENTS);
    found_t f = search((auditlog_query_t){.limit = 5, .after = 5}, &more);
    cr_assert_eq(f.n, 5);
    cr_assert(!more, "exactly the last page: no more");
}

/* ---- SearchAudit --------------------------------------------------------- */

static modeltest_api_t api;

/* Sends the request packed in api.req; returns the reply map. */
static const msgpack_object *
call(void)
{
    return modeltest_api_call(&api, auditapi_handle, &model, "SearchAudit");
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

TestSuite(auditapi, .init = api_setup, .fini = api_teardown);

Test(auditapi, search_reply_shape_and_pages)
{
    msgpack_pack_map(&api.req.pk, 3);
    codec_pack_kv_str(&api.req.pk, "type", "SearchAudit");
    codec_pack_kv_str(&api.req.pk, "stream", "product-p1");
    codec_pack_kv_int(&api.req.pk, "limit", 4);
    const msgpack_object *rep = call();
    bool ok = false;
    int64_t position = 0, v = 0;
    cr_assert_eq(codec_get_bool(codec_map_get(rep, "ok"), &ok), 0);
    cr_assert(ok);
    cr_assert_eq(codec_get_int(codec_map_get(rep, "position"), &position), 0);
    cr_assert_eq(position, N_EVENTS);
    const msgpack_object *items = codec_map_get(rep, "items");
    cr_assert_eq(items->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(items->via.array.size, 4);
    const msgpack_object *first = &items->via.array.ptr[0];
    static const char *const keys[] = {"position", "recorded_at",    "stream",     "version",
                                       "type",     "correlation_id", "command_id", "change"};
    for (size_t i = 0; i < 8; i++)
        cr_assert_not_null(codec_map_get(first, keys[i]), "%s", keys[i]);
    cr_assert_eq(codec_get_int(codec_map_get(first, "recorded_at"), &v), 0);
    cr_assert_eq(v, T0 + 2000000);
    char buf[64];
    cr_assert_eq(codec_copy_str(codec_map_get(first, "change"), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "created \"Widget\" price 1999 stock 40 threshold 10");
    cr_assert_eq(codec_copy_str(codec_map_get(rep, "next_cursor"), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "6");

    msgpack_pack_map(&api.req.pk, 4);
    codec_pack_kv_str(&api.req.pk, "type", "SearchAudit");
    codec_pack_kv_str(&api.req.pk, "stream", "product-p1");
    codec_pack_kv_int(&api.req.pk, "limit", 4);
    codec_pack_kv_str(&api.req.pk, "cursor", buf);
    rep = call();
    items = codec_map_get(rep, "items");
    cr_assert_eq(items->via.array.size, 2);
    cr_assert_eq(codec_map_get(rep, "next_cursor")->type, MSGPACK_OBJECT_NIL);
}

Test(auditapi, nil_means_absent_and_defaults_apply)
{
    msgpack_pack_map(&api.req.pk, 4);
    codec_pack_kv_str(&api.req.pk, "type", "SearchAudit");
    codec_pack_cstr(&api.req.pk, "stream");
    msgpack_pack_nil(&api.req.pk);
    codec_pack_cstr(&api.req.pk, "cursor");
    msgpack_pack_nil(&api.req.pk);
    codec_pack_kv_int(&api.req.pk, "from_us", 0);
    const msgpack_object *rep = call();
    cr_assert_eq(codec_map_get(rep, "items")->via.array.size, N_EVENTS);
}

/* One bad request: a single key after "type". */
#define BAD_REQUEST(packing, code, field)                                                          \
    do {                                                                                           \
        msgpack_pack_map(&api.req.pk, 2);                                                          \
        codec_pack_kv_str(&api.req.pk, "type", "SearchAudit");                                     \
        packing;                                                                                   \
        modeltest_expect_error(call(), code, field);                                               \
    } while (0)

Test(auditapi, bad_parameters_get_clear_errors)
{
    msgpack_packer *pk = &api.req.pk;
    BAD_REQUEST(codec_pack_kv_int(pk, "stream", 5), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_str(pk, "limit", "10"), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_bool(pk, "from_us", true), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_int(pk, "cursor", 3), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_int(pk, "bogus", 3), "malformed", NULL);
    BAD_REQUEST((codec_pack_cstr(pk, "stream"), msgpack_pack_array(pk, 0)), "malformed", NULL);
    BAD_REQUEST(codec_pack_kv_int(pk, "limit", 0), "validation", "limit");
    BAD_REQUEST(codec_pack_kv_int(pk, "limit", 101), "validation", "limit");
    BAD_REQUEST(codec_pack_kv_int(pk, "limit", -5), "validation", "limit");
    BAD_REQUEST(codec_pack_kv_int(pk, "from_us", -1), "validation", "from_us");
    BAD_REQUEST(codec_pack_kv_str(pk, "cursor", "abc"), "validation", "cursor");
    BAD_REQUEST(codec_pack_kv_str(pk, "cursor", ""), "validation", "cursor");
    BAD_REQUEST(codec_pack_kv_str(pk, "cursor", "99999999999999999999999"), "validation", "cursor");
    BAD_REQUEST(codec_pack_kv_str(pk, "stream", ""), "validation", "stream");
    BAD_REQUEST(codec_pack_kv_str(pk, "stream", "product-\xff\xfe"), "validation", "stream");
    BAD_REQUEST(codec_pack_kv_str(pk, "correlation_id",
                                  "0123456789012345678901234567890123456789012345678901234567890"
                                  "123456789"),
                "validation", "correlation_id");
    /* uint64 beyond int64 */
    BAD_REQUEST((codec_pack_cstr(pk, "to_us"), msgpack_pack_uint64(pk, UINT64_MAX)), "validation",
                "to_us");

    msgpack_pack_map(pk, 3);
    codec_pack_kv_str(pk, "type", "SearchAudit");
    codec_pack_kv_int(pk, "limit", 5);
    codec_pack_kv_int(pk, "limit", 6);
    modeltest_expect_error(call(), "malformed", NULL);

    msgpack_pack_map(pk, 3);
    codec_pack_kv_str(pk, "type", "SearchAudit");
    codec_pack_kv_int(pk, "from_us", T0 + 5);
    codec_pack_kv_int(pk, "to_us", T0);
    modeltest_expect_error(call(), "validation", "to_us");
}

Test(auditapi, unknown_type_is_left_to_the_runtime)
{
    mpread_t none;
    mpread_init(&none, "\x80", 1);
    cr_assert_eq(auditapi_handle(&model, "Rebuild", &none, &api.rep), -1);
    cr_assert_eq(api.rep.buf.size, 0);
    mpread_t not_map;
    mpread_init(&not_map, "\xc0", 1);
    cr_assert_eq(auditapi_handle(&model, "SearchAudit", &not_map, &api.rep), 0);
}

/* The dispatcher already refuses such maps; the handler must not rely on it. */
Test(auditapi, non_string_keys_are_malformed)
{
    static const char bytes[] = "\x82\xa4type\xabSearchAudit\x07\xc0";
    mpread_t req;
    mpread_init(&req, bytes, sizeof bytes - 1);
    const char *why = NULL;
    codec_writer_reset(&api.rep);
    cr_assert_eq(auditapi_handle(&model, "SearchAudit", &req, &api.rep), 0);
    msgpack_unpacked_destroy(&api.rep_u);
    msgpack_unpacked_init(&api.rep_u);
    cr_assert_eq(codec_parse(api.rep.buf.data, api.rep.buf.size, &api.rep_u, &why), 0, "%s", why);
    modeltest_expect_error(&api.rep_u.data, "malformed", NULL);
}

Test(auditapi, a_model_mid_swap_answers_unavailable)
{
    auditlog_t *none = NULL;
    mpread_t req;
    mpread_init(&req, "\x80", 1);
    const char *why = NULL;
    cr_assert_eq(auditapi_handle(&none, "SearchAudit", &req, &api.rep), 0);
    cr_assert_eq(codec_parse(api.rep.buf.data, api.rep.buf.size, &api.rep_u, &why), 0, "%s", why);
    modeltest_expect_error(&api.rep_u.data, "unavailable", NULL);
}

/* The Rebuild factory: a silent model, made live (and printing) on activate. */
Test(auditlog, rebuild_factory_is_silent_until_activated)
{
    modeltest_apply(&mt, model, 1, N_EVENTS);
    size_t len = strlen(modeltest_printed(&mt));
    auditlog_live_t live = {model, mt.out};
    subscriber_factory_t f = auditlog_factory(&live);
    char path[128];
    modeltest_path(&mt, "audit.db.2", path, sizeof path);
    auditlog_t *fresh = f.open(f.arg, path);
    cr_assert_not_null(fresh);
    modeltest_apply(&mt, fresh, 1, N_EVENTS);
    cr_assert_eq(strlen(modeltest_printed(&mt)), len, "a rebuild does not re-print history");
    char *a = modeltest_dump(&mt, model), *b = modeltest_dump(&mt, fresh);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    f.close(f.arg, model); /* the swap closes the old live model first */
    cr_assert_null(live.model);
    model = NULL;
    f.activate(f.arg, fresh);
    cr_assert_eq(live.model, fresh);
    evs[1].env.position = N_EVENTS + 1;
    modeltest_apply(&mt, fresh, 1, 1);
    cr_assert_eq(modeltest_count_lines(modeltest_printed(&mt) + len), 1,
                 "the activated model prints");
    model = fresh; /* closed by teardown */
}

Test(auditlog, keeps_the_chain_links_it_verified_and_its_head)
{
    for (int p = 1; p <= N_EVENTS; p++) {
        memset(evs[p].env.hash, 0xa0 + p, sizeof evs[p].env.hash);
        evs[p].env.hash[0] = (uint8_t)p;
    }
    int64_t at = -1;
    uint8_t head[32];
    cr_assert_eq(auditlog_chain_head(model, &at, head, sizeof head), 0);
    cr_assert_eq(at, 0, "nothing verified yet");
    modeltest_apply(&mt, model, 1, 4);
    modeltest_apply(&mt, model, 5, N_EVENTS);
    cr_assert_eq(auditlog_chain_head(model, &at, head, sizeof head), 0);
    cr_assert_eq(at, N_EVENTS);
    cr_assert_eq(memcmp(head, evs[N_EVENTS].env.hash, sizeof head), 0);
    sqlite3 *db = modeltest_db(&mt, "audit.db");
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE position = 4", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_bytes(st, 0), 32);
    cr_assert_eq(memcmp(sqlite3_column_blob(st, 0), evs[4].env.hash, 32), 0, "every row keeps its link");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
