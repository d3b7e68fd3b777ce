/* invbaseline: what this machine's SQLite allows, measured the same way the
 * daemons use it, so that bench/run can print every result also as a ratio
 * to its baseline (absolute times drift on a shared machine).
 *
 *   invbaseline append DB N      N events + outbox rows through eventstore_append,
 *                                1000 per transaction, synchronous=FULL (the
 *                                command-service's rows and durability, without
 *                                ZeroMQ, decoding or deciding)
 *   invbaseline preload DB N P   fills a store with N events over P products
 *                                (ProductCreated, then sales and views)
 *   invbaseline upsert DB N      N read-model upserts (INSERT ... ON CONFLICT DO
 *                                UPDATE) over 1000 products, 1000 per transaction
 *   invbaseline read DB N        N prepared primary-key reads of those rows
 *   invbaseline openloop DB RATE [SECONDS]
 *                                S3's floor: events arrive at RATE per second
 *                                for SECONDS (default 10) and are appended in
 *                                open loop with group commit (every arrival that
 *                                is due goes into the next transaction),
 *                                synchronous=FULL; prints the latency from each
 *                                arrival's intended time until its commit
 *                                returned (p50, p99, p99.9, max in us)
 *   invbaseline fsync FILE N     N times: write 4 KiB, fdatasync (what a commit
 *                                with synchronous=FULL waits for at least);
 *                                also prints p50, p99, p99.9 and max in us, and
 *                                the share of the time spent in stalls > 10 ms
 * Prints "<mode> <ops_per_second>".  This is a measuring tool: it talks to
 * SQLite directly for upsert/read on purpose. */
#include "checkpointer.h"
#include "eventstore.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A ProductSold (or ProductCreated when version is 1) of product k. */
static void
make_event(event_t *ev, int64_t k, int64_t version)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->env.stream, sizeof ev->env.stream, "product-base%lld", (long long)k);
    ev->env.version = version;
    ev->env.recorded_at = proc_now_us();
    proc_random_hex(ev->env.event_id, EVENT_ID_MAX / 2);
    snprintf(ev->env.command_id, sizeof ev->env.command_id, "cmd-%llx",
             (unsigned long long)next_rand());
    strcpy(ev->env.correlation_id, ev->env.command_id);
    fields_t *d = &ev->data;
    fields_set_str(d, F_PRODUCT_ID, ev->env.stream + 8);
    if (version == 1) {
        ev->env.type = EV_PRODUCT_CREATED;
        fields_set_str(d, F_SKU, "SKU");
        fields_set_str(d, F_NAME, "Baseline product");
        fields_set_str(d, F_DESCRIPTION, "made by invbaseline");
        fields_set_str(d, F_SUPPLIER_ID, "s1");
        fields_set_str(d, F_SUPPLIER_NAME, "Acme");
        fields_set_int(d, F_PRICE_CENTS, 1999);
        fields_set_int(d, F_COST_PRICE_CENTS, 999);
        fields_set_int(d, F_STOCK, 1000000000);
        fields_set_int(d, F_LOW_STOCK_THRESHOLD, 10);
    } else {
        ev->env.type = EV_PRODUCT_SOLD;
        fields_set_str(d, F_ORDER_ID, ev->env.command_id);
        fields_set_int(d, F_QUANTITY, 1);
        fields_set_int(d, F_UNIT_PRICE_CENTS, 1999);
        fields_set_int(d, F_OLD_STOCK, 1000000000 - version + 1);
        fields_set_int(d, F_NEW_STOCK, 1000000000 - version);
    }
    ev->env.schema = event_spec(ev->env.type)->schema;
}

/* Appends n events over `products` products in transactions of `batch`;
 * versions continue from what the store has. */
static int
append(const char *path, int64_t n, int64_t products, int batch, bool full, double *secs)
{
    eventstore_options_t o = {full, 5000, 32, 0};
    eventstore_t *es;
    if (eventstore_open(path, &o, &es) != ERR_OK)
        return -1;
    int64_t *versions = calloc((size_t)products, sizeof *versions);
    event_t *ev = malloc(sizeof *ev);
    for (int64_t k = 0; k < products; k++) {
        char s[64];
        snprintf(s, sizeof s, "product-base%lld", (long long)k);
        eventstore_stream_version(es, s, &versions[k]);
    }
    double t0 = now_s();
    int rc = ERR_OK;
    for (int64_t i = 0; i < n && rc == ERR_OK; i += batch) {
        rc = eventstore_begin(es);
        for (int64_t j = i; j < i + batch && j < n && rc == ERR_OK; j++) {
            int64_t k = j < products && versions[j] == 0 ? j : (int64_t)(next_rand() % products);
            make_event(ev, k, ++versions[k]);
            rc = eventstore_append(es, ev);
        }
        if (rc == ERR_OK)
            rc = eventstore_commit(es);
    }
    *secs = now_s() - t0;
    free(ev);
    free(versions);
    eventstore_close(&es);
    return rc;
}

static sqlite3 *
open_model(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return NULL;
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE IF NOT EXISTS products(product_id TEXT PRIMARY KEY, name TEXT,"
                 " price_cents INTEGER, stock INTEGER, units_sold INTEGER, version INTEGER)",
                 NULL, NULL, NULL);
    return db;
}

static int
upsert(const char *path, int64_t n, double *secs)
{
    sqlite3 *db = open_model(path);
    sqlite3_stmt *st;
    if (!db || sqlite3_prepare_v2(db,
                                  "INSERT INTO products VALUES(?1, 'Baseline', 1999, ?2, 1, ?3)"
                                  " ON CONFLICT(product_id) DO UPDATE SET stock = excluded.stock,"
                                  " units_sold = units_sold + 1, version = excluded.version",
                                  -1, &st, NULL) != SQLITE_OK)
        return -1;
    double t0 = now_s();
    for (int64_t i = 0; i < n; i++) {
        if (i % 1000 == 0)
            sqlite3_exec(db, i ? "COMMIT; BEGIN IMMEDIATE" : "BEGIN IMMEDIATE", NULL, NULL, NULL);
        char id[32];
        snprintf(id, sizeof id, "base%llu", (unsigned long long)(next_rand() % 1000));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, 1000000 - i);
        sqlite3_bind_int64(st, 3, i);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    *secs = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

static int
point_reads(const char *path, int64_t n, double *secs)
{
    sqlite3 *db = open_model(path);
    sqlite3_stmt *st;
    if (!db || sqlite3_prepare_v2(db, "SELECT * FROM products WHERE product_id = ?", -1, &st,
                                  NULL) != SQLITE_OK)
        return -1;
    double t0 = now_s();
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "base%llu", (unsigned long long)(next_rand() % 1000));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            found++;
        sqlite3_reset(st);
    }
    *secs = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found > 0 ? 0 : -1;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* fsync latency of this disk: the floor under every durable commit. */
static int
fsync_latency(const char *path, int64_t n, double *secs)
{
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    if (fd < 0 || !lat) {
        free(lat);
        return -1;
    }
    char page[4096];
    memset(page, 'x', sizeof page);
    int64_t stalled = 0;
    double t0 = now_s();
    for (int64_t i = 0; i < n; i++) {
        double t = now_s();
        if (pwrite(fd, page, sizeof page, (off_t)(i % 256) * 4096) != (ssize_t)sizeof page ||
            fdatasync(fd) != 0) {
            close(fd);
            free(lat);
            return -1;
        }
        lat[i] = (int64_t)((now_s() - t) * 1e6);
        if (lat[i] > 10000)
            stalled += lat[i];
    }
    *secs = now_s() - t0;
    close(fd);
    unlink(path);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    fprintf(stderr,
            "fsync p50 %lld p99 %lld p99.9 %lld max %lld us, stalls > 10 ms: %.1f%% of the time\n",
            (long long)lat[n / 2], (long long)lat[n * 99 / 100], (long long)lat[n * 999 / 1000],
            (long long)lat[n - 1], 100.0 * (double)stalled / (*secs * 1e6));
    free(lat);
    return 0;
}

static void
sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void
print_latency(const char *what, int64_t *lat, int64_t n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    fprintf(stderr, "%s p50 %lld p99 %lld p99.9 %lld max %lld us\n", what, (long long)lat[n / 2],
            (long long)lat[n * 99 / 100], (long long)lat[n * 999 / 1000], (long long)lat[n - 1]);
}

/* One ProductCreated per product, in one transaction. */
static int
create_products(eventstore_t *es, event_t *ev, int64_t *versions, int64_t products)
{
    int rc = eventstore_begin(es);
    for (int64_t k = 0; k < products && rc == ERR_OK; k++) {
        make_event(ev, k, ++versions[k]);
        rc = eventstore_append(es, ev);
    }
    return rc == ERR_OK ? eventstore_commit(es) : rc;
}

/* Appends n sales arriving at `rate` per second from t0: each transaction
 * takes every arrival that is due by the time the previous commit returned
 * (the command-service's group commit without ZeroMQ, decoding or
 * deciding).  lat[i]: from arrival i's intended time until its commit. */
static int
append_arrivals(eventstore_t *es, event_t *ev, int64_t *versions, int64_t products, int64_t rate,
                int64_t n, double t0, int64_t *lat)
{
    int rc = ERR_OK;
    int64_t done = 0;
    while (done < n && rc == ERR_OK) {
        int64_t due = (int64_t)((now_s() - t0) * (double)rate) + 1;
        due = due > n ? n : due;
        if (due <= done) {
            sleep_until(t0 + (double)done / (double)rate);
            continue;
        }
        rc = eventstore_begin(es);
        for (int64_t i = done; i < due && rc == ERR_OK; i++) {
            int64_t k = (int64_t)(next_rand() % (uint64_t)products);
            make_event(ev, k, ++versions[k]);
            rc = eventstore_append(es, ev);
        }
        if (rc == ERR_OK)
            rc = eventstore_commit(es);
        double end = now_s();
        for (; done < due; done++)
            lat[done] = (int64_t)((end - t0 - (double)done / (double)rate) * 1e6);
    }
    return rc;
}

/* S3's floor: the store as the command-service and relay use it (its
 * auto-checkpoint threshold, the relay's checkpoints beside it), n arrivals
 * at `rate` per second over `products` products, in open loop. */
static int
open_loop(const char *path, int64_t rate, int64_t n, int64_t products, double *secs)
{
    eventstore_options_t o = {true, 5000, 32, 20000};
    eventstore_t *es;
    if (eventstore_open(path, &o, &es) != ERR_OK)
        return -1;
    int64_t *versions = calloc((size_t)products, sizeof *versions);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    event_t *ev = malloc(sizeof *ev);
    int rc = versions && lat && ev ? create_products(es, ev, versions, products) : ERR_IO;
    /* the relay's checkpoints beside it, as the relay runs them */
    checkpointer_t *ck =
        rc == ERR_OK ? checkpointer_new(path, CHECKPOINT_EVERY_MS, CHECKPOINT_RESTART_FRAMES) : NULL;
    bool started = ck != NULL;
    if (rc == ERR_OK && !started)
        fprintf(stderr, "invbaseline: cannot start the checkpointer on %s\n", path);
    if (started) {
        double t0 = now_s() + 0.01;
        rc = append_arrivals(es, ev, versions, products, rate, n, t0, lat);
        *secs = now_s() - t0;
        checkpointer_destroy(&ck);
    }
    if (started && rc == ERR_OK)
        print_latency("group commit open loop: latency", lat, n);
    free(ev);
    free(lat);
    free(versions);
    eventstore_close(&es);
    return started && rc == ERR_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: invbaseline append|preload|upsert|read|fsync DB N [PRODUCTS]\n"
                        "       invbaseline openloop DB RATE [SECONDS]\n");
        return 2;
    }
    const char *mode = argv[1], *db = argv[2];
    int64_t n = atoll(argv[3]);
    int64_t products = argc > 4 ? atoll(argv[4]) : 1000;
    double secs = 0;
    int rc;
    if (strcmp(mode, "append") == 0)
        rc = append(db, n, products, 1000, true, &secs);
    else if (strcmp(mode, "preload") == 0)
        rc = append(db, n, products, 20000, false, &secs);
    else if (strcmp(mode, "upsert") == 0)
        rc = upsert(db, n, &secs);
    else if (strcmp(mode, "read") == 0)
        rc = point_reads(db, n, &secs);
    else if (strcmp(mode, "openloop") == 0 && n > 0) {
        double seconds = argc > 4 ? atof(argv[4]) : 10;
        int64_t arrivals = (int64_t)(seconds * (double)n);
        rc = arrivals > 0 ? open_loop(db, n, arrivals, 1000, &secs) : -1;
        n = arrivals;
    } else if (strcmp(mode, "fsync") == 0 && n > 0)
        rc = fsync_latency(db, n, &secs);
    else
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "invbaseline %s failed\n", mode);
        return 1;
    }
    printf("%s %.0f\n", mode, (double)n / secs);
    return 0;
}
