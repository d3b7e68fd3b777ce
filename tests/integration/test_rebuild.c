/* Read models are disposable (guarantees.md G11): with data in the system,
 * {"type":"Rebuild"} to the projector, the audit daemon and the alert daemon
 * builds a new generation from position 0 and swaps it in while the old
 * one keeps serving; afterwards the canonical dump is the same as before,
 * the query service answers from the new file, and new commands still show
 * up everywhere.  Also `invctl rebuild projector`. */
#include "harness.h"
#include "itest.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(rebuild, .fini = cleanup, .timeout = 180);

/* `<daemon> --mode dump --db <tmp>/<db>` into <tmp>/<out>. */
static void
dump(const char *daemon, const char *db, const char *out)
{
    char dbp[512], outp[512];
    itest_path_in(h, db, dbp, sizeof dbp);
    itest_path_in(h, out, outp, sizeof outp);
    itest_dump(daemon, dbp, outp);
}

static bool
same_file(const char *a, const char *b)
{
    char pa[512], pb[512];
    itest_path_in(h, a, pa, sizeof pa);
    itest_path_in(h, b, pb, sizeof pb);
    return itest_same_file(pa, pb);
}

static void
accept_cmd(command_t *c)
{
    itest_accept(h, c);
}

static int64_t
sell(const char *cid, int64_t qty)
{
    command_t c;
    itest_sell_cmd(&c, cid, "p1", cid, qty);
    return itest_accept(h, &c);
}

/* The daemon's Status (asserts ok). */
static void
status(const char *ep, harness_reply_t *r)
{
    cr_assert_eq(harness_status(h, ep, ITEST_TIMEOUT_MS, r), 0, "%s Status", ep);
}

/* GetProductDetail p1 at min_position: its stock (asserts reached). */
static int64_t
p1_stock(int64_t min_position, int64_t *position)
{
    harness_reply_t r;
    itest_request(h, "query", &r, "GetProductDetail", "sIi", "product_id", "p1", "min_position",
                  min_position, "wait_ms", 5000);
    itest_assert_ok(&r, "GetProductDetail");
    cr_assert(itest_bool(r.root, "reached"));
    if (position)
        *position = itest_int(r.root, "position");
    int64_t stock = itest_int(itest_get(r.root, "product"), "stock");
    harness_reply_fini(&r);
    return stock;
}

/* Sends Rebuild to ep and polls Status until the rebuild is swapped in
 * (rebuilding false, rebuilds == want).  While it runs, `during` is called
 * after every Status poll; returns how many polls saw rebuilding=true. */
static int
rebuild_and_wait(const char *ep, int64_t want, void (*during)(void))
{
    harness_reply_t r;
    itest_request(h, ep, &r, "Rebuild", "");
    itest_assert_ok(&r, "Rebuild");
    harness_reply_fini(&r);
    int seen_running = 0;
    int64_t deadline = proc_mono_ms() + 60000;
    for (;;) {
        status(ep, &r);
        bool running = itest_bool(r.root, "rebuilding");
        int64_t rebuilds = itest_int(r.root, "rebuilds");
        harness_reply_fini(&r);
        if (running)
            seen_running++;
        if (during)
            during();
        if (!running && rebuilds == want)
            break;
        cr_assert_leq(rebuilds, want);
        cr_assert_lt(proc_mono_ms(), deadline, "%s: the rebuild did not finish", ep);
        harness_sleep_ms(running ? 2 : 20);
    }
    return seen_running;
}

static int queries_during;
static int64_t expected_stock;

static void
query_meanwhile(void)
{
    harness_reply_t r;
    itest_request(h, "query", &r, "GetProductDetail", "s", "product_id", "p1");
    itest_assert_ok(&r, "a query during the rebuild");
    cr_assert_eq(itest_int(itest_get(r.root, "product"), "stock"), expected_stock);
    harness_reply_fini(&r);
    itest_request(h, "audit", &r, "SearchAudit", "si", "stream", "product-p1", "limit", 1);
    itest_assert_ok(&r, "SearchAudit during the rebuild");
    harness_reply_fini(&r);
    queries_during++;
}

/* The checkpoint of a subscriber daemon now. */
static int64_t
checkpoint_of(const char *daemon)
{
    int64_t pos = -1;
    cr_assert_eq(harness_checkpoint(h, daemon, &pos), 0);
    return pos;
}

static void
touch(const char *name)
{
    char path[512];
    itest_path_in(h, name, path, sizeof path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    fclose(f);
}

static bool
exists(const char *name)
{
    char path[512];
    struct stat sb;
    itest_path_in(h, name, path, sizeof path);
    return lstat(path, &sb) == 0;
}

/* What a rebuild killed half-way leaves (a generation and a bulk build
 * nobody points at) is deleted when the projector starts; the live
 * generation and files that only look alike stay. */
static void
stale_generations_go_at_restart(int64_t p1_stock_now)
{
    const char *stale[] = {"read.db.1000000000000001", "read.db.1000000000000001-wal",
                           "read.db.1000000000000002.building", "read.db-wal", "read.db.link"};
    const char *kept[] = {"read.db.notes", "read.db.123", "read.db.bak", "read.db.1718400000",
                          "read.db.1000000000000003.bak"};
    enum { N = 5 };
    for (int i = 0; i < N; i++) {
        touch(stale[i]);
        touch(kept[i]);
    }
    cr_assert_eq(harness_daemon_restart(h, "projector"), 0);
    cr_assert_eq(harness_wait_position(h, "projector", itest_head(h), 30000), 0);
    for (int i = 0; i < N; i++) {
        cr_assert(!exists(stale[i]), "%s was not removed", stale[i]);
        cr_assert(exists(kept[i]), "%s was removed", kept[i]);
    }
    char target[256], live[512];
    itest_path_in(h, "read.db", live, sizeof live);
    ssize_t len = readlink(live, target, sizeof target - 1);
    cr_assert_gt(len, 0);
    target[len] = '\0';
    cr_assert(exists(target), "the live generation %s is gone", target);
    int64_t qpos = 0;
    cr_assert_eq(p1_stock(itest_head(h), &qpos), p1_stock_now,
                 "the projector serves the live generation");
}

Test(rebuild, rebuilt_models_equal_the_live_ones_and_keep_serving)
{
    h = harness_start(NULL);
    cr_assert_not_null(h);

    command_t c;
    itest_supplier_cmd(&c, "reg-s1", "s1", "Acme Tools");
    accept_cmd(&c);
    itest_product_cmd(&c, "create-p1", "p1", "s1", "HAM-001", "Claw hammer", "16 oz", 1999, 1200,
                      400, 10);
    accept_cmd(&c);
    sell("sell-1", 5);

    /* bulk: the real load generator */
    char blog[512], n[16];
    itest_path_in(h, "invbench.out", blog, sizeof blog);
    snprintf(n, sizeof n, "%d", 20000);
    const char *args[] = {"--count", n, "--products", "300", "--window", "32", NULL};
    char *argv[16];
    itest_invbench_argv(h, argv, 16, args);
    cr_assert_eq(itest_run(argv, blog, true), 0, "invbench failed (%s)", blog);
    int64_t h1 = itest_head(h);
    cr_assert_geq(h1, 20000);
    itest_wait_all(h, h1, 60000);
    expected_stock = 395;
    cr_assert_eq(p1_stock(h1, NULL), 395);

    dump("projector", "read.db", "read.before");
    dump("audit", "audit.db", "audit.before");
    dump("alert", "alerts.db", "alerts.before");

    /* projector: queries keep being answered while it runs */
    queries_during = 0;
    int running = rebuild_and_wait("projector", 1, query_meanwhile);
    fprintf(stderr, "projector rebuild: %d polls saw it running, %d queries meanwhile\n", running,
            queries_during);
    cr_assert_gt(queries_during, 0);
    cr_assert_gt(running, 0, "the rebuild of %lld events was never seen running", (long long)h1);
    harness_reply_t r;
    status("projector", &r);
    cr_assert_eq(itest_int(r.root, "checkpoint"), h1, "the rebuilt model is at the head");
    harness_reply_fini(&r);
    /* read.db is now the new generation (a symlink to it) */
    char live[512];
    struct stat sb;
    itest_path_in(h, "read.db", live, sizeof live);
    cr_assert_eq(lstat(live, &sb), 0);
    cr_assert(S_ISLNK(sb.st_mode), "read.db points at the rebuilt generation");
    /* the first generation's WAL files went with it; the build's file was renamed */
    const char *gone[] = {"read.db-wal", "read.db-shm"};
    for (int i = 0; i < 2; i++) {
        itest_path_in(h, gone[i], live, sizeof live);
        cr_assert_neq(lstat(live, &sb), 0, "%s is left behind", gone[i]);
    }
    char target[256], building[300];
    itest_path_in(h, "read.db", live, sizeof live);
    ssize_t len = readlink(live, target, sizeof target - 1);
    cr_assert_gt(len, 0);
    target[len] = '\0';
    snprintf(building, sizeof building, "%s.building", target);
    itest_path_in(h, building, live, sizeof live);
    cr_assert_neq(lstat(live, &sb), 0, "the bulk build's file %s is left behind", building);
    /* the query service answers from the new file: data intact, at the head */
    int64_t qpos = 0;
    cr_assert_eq(p1_stock(h1, &qpos), 395);
    cr_assert_eq(qpos, h1);
    dump("projector", "read.db", "read.after");
    cr_assert(same_file("read.before", "read.after"),
              "the rebuilt read model differs (diff %s/read.before %s/read.after)", harness_dir(h),
              harness_dir(h));

    /* audit and alerts */
    queries_during = 0;
    rebuild_and_wait("audit", 1, query_meanwhile);
    rebuild_and_wait("alert-api", 1, query_meanwhile);
    cr_assert_eq(checkpoint_of("audit"), h1);
    cr_assert_eq(checkpoint_of("alert"), h1);
    dump("audit", "audit.db", "audit.after");
    dump("alert", "alerts.db", "alerts.after");
    cr_assert(same_file("audit.before", "audit.after"), "the rebuilt audit model differs");
    cr_assert(same_file("alerts.before", "alerts.after"), "the rebuilt alert model differs");

    /* new commands show up everywhere */
    int64_t p = sell("sell-after", 390); /* 395 -> 5: a low_stock alert */
    cr_assert_eq(p, h1 + 1);
    int64_t pos = 0;
    cr_assert_eq(p1_stock(p, &pos), 5, "the query service sees a command after the rebuild");
    itest_wait_all(h, p, 60000);
    itest_request(h, "audit", &r, "SearchAudit", "s", "correlation_id", "corr-sell-after");
    itest_assert_ok(&r, "SearchAudit after the rebuild");
    const msgpack_object *items = itest_items(&r);
    cr_assert_eq(items->via.array.size, 1);
    char change[128];
    cr_assert_str_eq(itest_str(&items->via.array.ptr[0], "change", change, sizeof change),
                     "sold 390 (order sell-after) stock 395 -> 5");
    harness_reply_fini(&r);
    itest_request(h, "alert-api", &r, "ListAlerts", "si", "product_id", "p1", "limit", 100);
    itest_assert_ok(&r, "ListAlerts after the rebuild");
    items = itest_items(&r);
    cr_assert_eq(items->via.array.size, 1);
    cr_assert(itest_str_is(&items->via.array.ptr[0], "kind", "low_stock"));
    cr_assert_eq(itest_int(&items->via.array.ptr[0], "position"), p);
    harness_reply_fini(&r);

    /* invctl rebuild projector */
    char out[512];
    itest_path_in(h, "invctl-rebuild.out", out, sizeof out);
    char *ictl[] = {(char *)harness_binary("invctl"),
                    "--projector-ep",
                    (char *)harness_endpoint(h, "projector"),
                    "rebuild",
                    "projector",
                    NULL};
    cr_assert_eq(itest_run(ictl, out, true), 0, "invctl rebuild projector (%s)", out);
    int64_t deadline = proc_mono_ms() + 60000;
    for (;;) {
        status("projector", &r);
        bool done = !itest_bool(r.root, "rebuilding") && itest_int(r.root, "rebuilds") == 2;
        harness_reply_fini(&r);
        if (done)
            break;
        cr_assert_lt(proc_mono_ms(), deadline, "the second rebuild did not finish");
        harness_sleep_ms(10);
    }
    cr_assert_eq(p1_stock(p, NULL), 5);
    p = sell("sell-last", 1);
    cr_assert_eq(p1_stock(p, NULL), 4);
    itest_wait_all(h, p, 60000);
    dump("projector", "read.db", "read.final");
    /* a fresh `--mode once` build from the log equals the twice-rebuilt live
     * model */
    char fresh[512];
    itest_path_in(h, "fresh-read.db", fresh, sizeof fresh);
    itest_fresh_build(h, "projector", fresh);
    dump("projector", "fresh-read.db", "read.fresh");
    cr_assert(same_file("read.final", "read.fresh"), "the live model differs from a fresh build");
    stale_generations_go_at_restart(4);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}
