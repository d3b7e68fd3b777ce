/* invctl in daily use (issue 24, part 2), the real binary against the real
 * daemons: a stream's whole history page by page and backwards, a daemon
 * that is down reported at once, `rebuild --wait`, one JSON object on
 * every error path with --json, exit codes (stale read, not found), one
 * table of daemon names, money printed in units the same way everywhere,
 * `product --as-of` shaped as `product` without the cost price, the status
 * columns of the outbox, and `watch events` saying that the relay is
 * silent. */
#include "harness.h"
#include "itest.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(invctl_use, .fini = cleanup, .timeout = 240);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Starts every daemon (sync normal: many commands, quickly) with supplier
 * s1 and product p1 (price 1999, cost 1200, stock 50). */
static void
start(void)
{
    harness_opts_t o = {.sync = "normal"};
    h = harness_start(&o);
    cr_assert_not_null(h, "daemons did not start");
    command_t c;
    itest_supplier_cmd(&c, "sup-1", "s1", "Acme");
    itest_accept(h, &c);
    itest_product_cmd(&c, "prod-1", "p1", "s1", "SKU-1", "Widget", "A widget", 1999, 1200, 50, 5);
    itest_accept(h, &c);
}

static int64_t
view(int i)
{
    command_t c;
    char cid[32];
    snprintf(cid, sizeof cid, "view-%d", i);
    itest_cmd(&c, CMD_RECORD_PRODUCT_VIEW, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    return itest_accept(h, &c);
}

static int64_t
change_price(int i, int64_t cents)
{
    command_t c;
    char cid[32];
    snprintf(cid, sizeof cid, "price-%d", i);
    itest_cmd(&c, CMD_CHANGE_PRICE, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_int(&c.data, F_PRICE_CENTS, cents);
    return itest_accept(h, &c);
}

/* Changes p1's price to 1600, 1500, 1600, ... (each a change). */
static void
change_price_again(int i)
{
    change_price(i + 1, i % 2 ? 1500 : 1600);
}

static void
path_of(const char *name, char *path, size_t cap)
{
    itest_path_in(h, name, path, cap);
}

/* The whole file at <tmp>/name into buf (NUL-terminated). */
static const char *
slurp(const char *name, char *buf, size_t cap)
{
    char path[512];
    path_of(name, path, sizeof path);
    return itest_read_file(path, buf, cap);
}

static bool
has(const char *name, const char *needle)
{
    char path[512];
    path_of(name, path, sizeof path);
    return itest_file_has(path, needle);
}

static int
count(const char *name, const char *needle)
{
    char path[512];
    path_of(name, path, sizeof path);
    return itest_file_count(path, needle);
}

/* stdout of an invctl --json run is exactly one object {"ok":false,
 * "error":"<code>",...} and a newline. */
static void
assert_json_error(const char *name, const char *code)
{
    char buf[4096], want[96];
    slurp(name, buf, sizeof buf);
    snprintf(want, sizeof want, "{\"ok\":false,\"error\":\"%s\",\"message\":\"", code);
    cr_assert(strncmp(buf, want, strlen(want)) == 0, "%s: want %s..., got '%s'", name, want, buf);
    char *nl = strchr(buf, '\n');
    cr_assert(nl && nl[-1] == '}' && nl[1] == '\0', "%s: one object, one line: '%s'", name, buf);
}

/* ---- 5: history page by page ----------------------------------------------- */

/* The cursor of the "more: ... --cursor C" line of a history output, or "". */
static void
next_cursor(const char *name, char *cursor, size_t cap)
{
    char buf[1 << 17];
    slurp(name, buf, sizeof buf);
    const char *m = strstr(buf, "--cursor ");
    cursor[0] = '\0';
    if (m)
        sscanf(m + strlen("--cursor "), "%31s", cursor);
    (void)cap;
}

Test(invctl_use, history_reads_a_whole_stream_page_by_page_both_ways)
{
    start();
    for (int i = 0; i < 1049; i++) /* p1: 1050 events */
        view(i);
    cr_assert_eq(itest_invctl(h, "h1.out", "h1.err", ARGS("history", "p1"), NULL), 0);
    cr_assert_eq(count("h1.out", "product-p1@"), 1000);
    cr_assert(has("h1.out", "events: 1000 of 1050 in the stream"), "says how many there are");
    char cursor[32];
    next_cursor("h1.out", cursor, sizeof cursor);
    cr_assert_str_eq(cursor, "v1000", "and how to get the rest");

    /* --limit 5000 is refused, not cut silently */
    cr_assert_eq(itest_invctl(h, "h2.out", NULL, ARGS("history", "p1", "--limit", "5000"), NULL),
                 1);
    cr_assert(has("h2.out", "--limit must be 1..1000"));

    /* page by page, 300 at a time: every event once, in order */
    int pages = 0, seen = 0;
    cursor[0] = '\0';
    do {
        char out[32];
        snprintf(out, sizeof out, "page%d.out", pages);
        const char *args[] = {"history", "p1", "--limit", "300", cursor[0] ? "--cursor" : NULL,
                              cursor,    NULL};
        cr_assert_eq(itest_invctl(h, out, NULL, args, NULL), 0);
        char first[32];
        snprintf(first, sizeof first, "product-p1@%d ", seen + 1);
        cr_assert(has(out, first), "page %d starts at %s", pages, first);
        seen += count(out, "product-p1@");
        next_cursor(out, cursor, sizeof cursor);
        pages++;
    } while (cursor[0] && pages < 10);
    cr_assert_eq(seen, 1050);
    cr_assert_eq(pages, 4);

    /* backwards: newest first, and on from its cursor */
    cr_assert_eq(
        itest_invctl(h, "b1.out", NULL, ARGS("history", "p1", "--backwards", "--limit", "3"), NULL),
        0);
    char buf[8192];
    slurp("b1.out", buf, sizeof buf);
    char *a = strstr(buf, "product-p1@1050 "), *b = strstr(buf, "product-p1@1049 "),
         *c = strstr(buf, "product-p1@1048 ");
    cr_assert(a && b && c && a < b && b < c, "newest first: %s", buf);
    next_cursor("b1.out", cursor, sizeof cursor);
    cr_assert_str_eq(cursor, "v1048");
    cr_assert_eq(
        itest_invctl(h, "b2.out", NULL,
                     ARGS("history", "p1", "--backwards", "--limit", "2", "--cursor", "v2"), NULL),
        0);
    cr_assert_eq(count("b2.out", "product-p1@"), 1);
    cr_assert(has("b2.out", "product-p1@1 "));
    cr_assert_not(has("b2.out", "--cursor"), "the oldest event ends it");
}

/* `invctl events`: the log of every stream from a position, page by page. */
Test(invctl_use, events_reads_the_log_from_a_position)
{
    start(); /* positions 1 (s1), 2 (p1) */
    for (int i = 0; i < 3; i++)
        view(i); /* 3..5 */
    cr_assert_eq(itest_invctl(h, "e1.out", NULL, ARGS("events", "--limit", "2"), NULL), 0);
    cr_assert(has("e1.out", "supplier-s1@1 ") && has("e1.out", "product-p1@1 "));
    cr_assert_eq(count("e1.out", "corr="), 2);
    cr_assert(has("e1.out", "the next page: --after 2"));
    cr_assert_eq(itest_invctl(h, "e2.out", NULL, ARGS("events", "--after", "2"), NULL), 0);
    cr_assert_eq(count("e2.out", "ProductViewed"), 3);
    cr_assert(has("e2.out", "     3  ") && has("e2.out", "     5  "));
    cr_assert_not(has("e2.out", "the next page"), "the head ends it");
    cr_assert_eq(itest_invctl(h, "e3.out", NULL, ARGS("events", "--limit", "5000"), NULL), 1);
    cr_assert(has("e3.out", "--limit must be 1..1000"));
}

/* The relay's ReadStream paging on the wire (docs/protocol.md, section 7). */
Test(invctl_use, read_stream_pages_on_the_wire)
{
    start();
    for (int i = 0; i < 4; i++) /* p1: versions 1..5 */
        view(i);
    harness_reply_t r;
    itest_request(h, "catchup", &r, "ReadStream", "sbi", "stream", "product-p1", "backwards", 1,
                  "limit", 2);
    itest_assert_ok(&r, "ReadStream backwards");
    const msgpack_object *ev = harness_reply_get(&r, "events");
    cr_assert(ev && ev->type == MSGPACK_OBJECT_ARRAY && ev->via.array.size == 2);
    cr_assert_eq(itest_int(&ev->via.array.ptr[0], "version"), 5);
    cr_assert_eq(itest_int(&ev->via.array.ptr[1], "version"), 4);
    int64_t version = -1;
    cr_assert_eq(harness_reply_int(&r, "version", &version), 0);
    cr_assert_eq(version, 5);
    char cursor[32];
    cr_assert_eq(harness_reply_str(&r, "next_cursor", cursor, sizeof cursor), 0);
    cr_assert_str_eq(cursor, "v4");
    harness_reply_fini(&r);
    /* forward from that cursor; the last page's next_cursor is nil */
    itest_request(h, "catchup", &r, "ReadStream", "ss", "stream", "product-p1", "cursor", "v4");
    itest_assert_ok(&r, "ReadStream cursor");
    ev = harness_reply_get(&r, "events");
    cr_assert(ev && ev->via.array.size == 1);
    cr_assert_eq(itest_int(&ev->via.array.ptr[0], "version"), 5);
    const msgpack_object *next = harness_reply_get(&r, "next_cursor");
    cr_assert(next && next->type == MSGPACK_OBJECT_NIL, "nil at the end");
    harness_reply_fini(&r);
    /* what is not a cursor or a boolean is malformed */
    static const char *const bad[] = {"4", "v", "v-1", "vx", "v9223372036854775807", "v1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[64];
        itest_request(h, "catchup", &r, "ReadStream", "ss", "stream", "product-p1", "cursor",
                      bad[i]);
        cr_assert_str_eq(itest_error(&r, err, sizeof err), "malformed", "cursor '%s'", bad[i]);
        harness_reply_fini(&r);
    }
    char err[64];
    itest_request(h, "catchup", &r, "ReadStream", "si", "stream", "product-p1", "backwards", 1);
    cr_assert_str_eq(itest_error(&r, err, sizeof err), "malformed", "backwards: 1");
    harness_reply_fini(&r);
}

/* ---- 6: a daemon that is down, rebuild --wait ------------------------------ */

Test(invctl_use, a_daemon_that_is_down_is_reported_at_once)
{
    start();
    cr_assert_eq(harness_daemon_stop(h, "projector"), 0);
    int64_t ms;
    cr_assert_eq(itest_invctl(h, "r.out", NULL, ARGS("rebuild", "projector"), &ms), 1);
    cr_assert_lt(ms, 1000, "rebuild of a stopped projector took %lld ms", (long long)ms);
    cr_assert(has("r.out", "projector-service is not running"));

    /* nothing listening on a tcp port, a missing ipc socket file */
    cr_assert_eq(itest_invctl(h, "t.out", NULL,
                              ARGS("--query-ep", "tcp://127.0.0.1:1", "product", "p1"), &ms),
                 1);
    cr_assert_lt(ms, 1000, "a closed tcp port took %lld ms", (long long)ms);
    cr_assert(has("t.out", "nothing accepts connections at tcp://127.0.0.1:1"));
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s/nobody.sock", harness_dir(h));
    cr_assert_eq(itest_invctl(h, "i.out", NULL, ARGS("--query-ep", ep, "products"), &ms), 1);
    cr_assert_lt(ms, 1000, "a missing ipc socket took %lld ms", (long long)ms);
    cr_assert(has("i.out", "no socket file"));
}

Test(invctl_use, rebuild_wait_follows_the_rebuild_and_names_are_singular_or_plural)
{
    start();
    for (int i = 0; i < 300; i++)
        view(i);
    cr_assert_eq(itest_invctl(h, "w.out", "w.err", ARGS("rebuild", "projector", "--wait"), NULL),
                 0);
    cr_assert(has("w.out", "projector rebuilt: the new model is in use"));
    /* with --json, stdout holds the reply alone */
    cr_assert_eq(
        itest_invctl(h, "j.out", "j.err", ARGS("--json", "rebuild", "audit", "--wait"), NULL), 0);
    char buf[4096];
    slurp("j.out", buf, sizeof buf);
    cr_assert(strncmp(buf, "{\"ok\":true,", 11) == 0 && strchr(buf, '\n') == buf + strlen(buf) - 1,
              "one object: %s", buf);
    cr_assert(has("j.err", "audit rebuilt"));
    cr_assert_eq(itest_invctl(h, "a.out", NULL, ARGS("rebuild", "alert", "--wait"), NULL), 0);
    cr_assert(has("a.out", "alert rebuilt"));
    cr_assert_eq(itest_invctl(h, "s.out", NULL, ARGS("status", "--daemon", "alerts"), NULL), 0);
    cr_assert(has("s.out", "alert "));
    cr_assert_eq(itest_invctl(h, "s2.out", NULL, ARGS("status", "--daemon", "audits"), NULL), 0);
    cr_assert_eq(itest_invctl(h, "x.out", NULL, ARGS("rebuild", "query"), NULL), 1);
}

/* ---- 8: --json on error paths ---------------------------------------------- */

Test(invctl_use, json_error_paths_print_one_object)
{
    start();
    cr_assert_eq(itest_invctl(h, "u.out", "u.err", ARGS("--json", "frobnicate"), NULL), 1);
    assert_json_error("u.out", "usage");
    cr_assert_eq(itest_invctl(h, "v.out", "v.err", ARGS("--json", "--timeout-ms", "x"), NULL), 1);
    assert_json_error("v.out", "usage");
    cr_assert_eq(itest_invctl(h, "b.out", "b.err",
                              ARGS("--json", "backup", "/nonexistent/events.db", "/tmp/x.db"),
                              NULL),
                 1);
    assert_json_error("b.out", "backup_failed");

    cr_assert_eq(harness_daemon_sigstop(h, "query"), 0);
    cr_assert_eq(itest_invctl(h, "t.out", "t.err",
                              ARGS("--json", "--timeout-ms", "300", "product", "p1"), NULL),
                 1);
    assert_json_error("t.out", "timeout");
    cr_assert_eq(harness_daemon_sigcont(h, "query"), 0);
    cr_assert_eq(harness_daemon_stop(h, "query"), 0);
    cr_assert_eq(itest_invctl(h, "d.out", "d.err", ARGS("--json", "products"), NULL), 1);
    assert_json_error("d.out", "unreachable");
    cr_assert_eq(
        itest_invctl(h, "s.out", "s.err", ARGS("--json", "sell", "p1", "--qty", "x"), NULL), 1);
    assert_json_error("s.out", "usage");
}

/* ---- 9: exit codes, messages ---------------------------------------------- */

Test(invctl_use, exit_codes_say_stale_and_not_found_once_each)
{
    start();
    /* a stale read: 4, and it says so */
    cr_assert_eq(itest_invctl(h, "st.out", "st.err",
                              ARGS("products", "--min-position", "999999", "--wait-ms", "100"),
                              NULL),
                 4);
    cr_assert(has("st.err", "stale"));
    /* an unknown id: 2 in history as in product */
    cr_assert_eq(itest_invctl(h, "n1.out", NULL, ARGS("product", "nope"), NULL), 2);
    cr_assert_eq(itest_invctl(h, "n2.out", NULL, ARGS("history", "nope"), NULL), 2);
    cr_assert(has("n2.out", "no events in stream product-nope"));
    cr_assert_eq(itest_invctl(h, "n3.out", "n3.err", ARGS("--json", "history", "nope"), NULL), 2);
    assert_json_error("n3.out", "not_found");
    /* a validation rejection says its reason once */
    cr_assert_eq(itest_invctl(h, "v.out", NULL, ARGS("change-price", "p1", "--price", "-5"), NULL),
                 2);
    char buf[4096];
    slurp("v.out", buf, sizeof buf);
    const char *reason = strstr(buf, "price_cents");
    cr_assert_not_null(reason, "%s", buf);
    cr_assert_null(strstr(reason + 1, "price_cents"), "the reason twice: %s", buf);
    /* an unknown global option is one */
    cr_assert_eq(itest_invctl(h, "o.out", NULL, ARGS("--bogus", "status"), NULL), 1);
    cr_assert(has("o.out", "unknown option '--bogus'"));
}

/* ---- 10: money, as-of ------------------------------------------------------ */

Test(invctl_use, money_in_units_everywhere_and_as_of_without_cost)
{
    start();
    change_price(0, 1500);
    cr_assert_eq(itest_invctl(h, "h.out", NULL, ARGS("history", "p1"), NULL), 0);
    cr_assert(has("h.out", "new_price=15.00"), "history prints money in units");
    cr_assert_not(has("h.out", "_cents="), "and does not call units cents");

    /* watch events prints the same */
    char out[512];
    path_of("watch.out", out, sizeof out);
    cr_assert_eq(itest_watch_one_event(h, out, change_price_again), 0, "watch did not finish");
    cr_assert(itest_file_has(out, "new_price=1"), "watch prints money in units");
    cr_assert_not(itest_file_has(out, "_cents="));

    /* product --as-of: the shape of product, no cost price */
    cr_assert_eq(itest_invctl(h, "p.out", NULL, ARGS("--json", "product", "p1"), NULL), 0);
    cr_assert_eq(
        itest_invctl(h, "a.out", NULL, ARGS("--json", "product", "p1", "--as-of", "2"), NULL), 0);
    cr_assert_not(has("a.out", "cost"), "as-of shows no cost price");
    cr_assert(has("a.out", "\"product\":{\"product_id\":\"p1\""));
    cr_assert(has("a.out", "\"price_cents\":1999"));
    static const char *const keys[] = {"\"in_stock\":",  "\"avg_rating\":",    "\"stock\":",
                                       "\"low_stock\":", "\"supplier_name\":", "\"position\":"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        cr_assert(has("p.out", keys[i]), "product has %s", keys[i]);
        cr_assert(has("a.out", keys[i]), "as-of has %s as product does", keys[i]);
    }
    cr_assert_eq(itest_invctl(h, "a2.out", NULL, ARGS("product", "p1", "--as-of", "2"), NULL), 0);
    cr_assert_not(has("a2.out", "cost"));
}

/* ---- 11: status columns, a silent relay ------------------------------------ */

Test(invctl_use, status_names_the_outbox_and_watch_says_the_relay_is_silent)
{
    start();
    cr_assert_eq(itest_invctl(h, "s.out", NULL, ARGS("status"), NULL), 0);
    cr_assert(has("s.out", "in_outbox") && has("s.out", "unpublished"), "status columns");

    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);
    int64_t ms;
    cr_assert_eq(
        itest_invctl(h, "w.out", "w.err", ARGS("watch", "events", "--for-ms", "4000"), &ms), 1);
    cr_assert(has("w.err", "no heartbeat from the relay at"), "watch says the relay is silent");
    cr_assert_lt(ms, 6000);
}
