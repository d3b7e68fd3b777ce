/* Delivery under late joiners, frozen subscribers and crashes (issue 4):
 * every subscriber ends up equal to a fresh rebuild from the log, every
 * acknowledged command is in the store exactly once, and nothing exists for
 * a command whose reply said rejected.  Load comes from the real load
 * generator (invbench); read models are compared by their canonical dumps
 * (each subscriber daemon's --mode dump). */
#include "bus.h"
#include "harness.h"
#include "itest.h"
#include "proc.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* invbench against the harness: count commands (0: duration_ms) over
 * `products` products, extra arguments appended. */
static int
bench(harness_t *h, int64_t count, int64_t duration_ms, const char *extra1, const char *extra2,
      const char *ack_log)
{
    char c[32], d[32], logp[512];
    snprintf(c, sizeof c, "%lld", (long long)count);
    snprintf(d, sizeof d, "%lld", (long long)duration_ms);
    itest_path_in(h, "invbench.out", logp, sizeof logp);
    const char *args[12] = {"--count", c, "--duration-ms", d, "--products", "200"};
    int n = 6;
    if (ack_log) {
        args[n++] = "--ack-log";
        args[n++] = ack_log;
    }
    if (extra1)
        args[n++] = extra1;
    if (extra2)
        args[n++] = extra2;
    char *argv[24];
    itest_invbench_argv(h, argv, 24, args);
    return itest_run(argv, logp, false);
}

static int64_t
status_int(harness_t *h, const char *endpoint, const char *key)
{
    return harness_status_int(h, endpoint, key, ITEST_TIMEOUT_MS);
}

static void
wait_all(harness_t *h, int64_t pos)
{
    const char *subs[] = {"projector", "audit", "alert"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, subs[i], pos, 60000), 0, "%s did not reach %lld",
                     subs[i], (long long)pos);
}

static void
db_path(harness_t *h, const char *name, char *out, size_t cap)
{
    itest_path_in(h, name, out, cap);
}

/* Waits up to timeout_ms for one message on sub (close it with
 * bus_msg_close).  0, or -1 on time-out. */
static int
sub_wait(void *sub, int timeout_ms, bus_msg_t *m)
{
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, timeout_ms) > 0 ? bus_recv(sub, m, ZMQ_DONTWAIT) : -1;
}


/* A burst of commits goes out in `events` batches (docs/protocol.md,
 * section 5): a subscriber sees every position once and in order, and the
 * projector applies the batches as they come, without a gap (a subscriber
 * that took a batch for noise would see the next event as a gap). */
Test(delivery, bursts_go_out_in_batches_in_position_order, .timeout = 120)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR};
    harness_t *h = harness_start(&o);
    cr_assert_not_null(h);
    /* not bus_connect: its high-water mark (500 messages) could drop part
     * of a burst that is read only after it ends */
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 1000000, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    cr_assert_eq(harness_connect(sub, harness_endpoint(h, "events")), 0);
    bus_msg_t m;
    bool subscribed = false; /* once a heartbeat (every 500 ms) arrives */
    for (int i = 0; i < 20 && !subscribed; i++) {
        if (sub_wait(sub, 500, &m) == 0) {
            subscribed = bus_frame_is(&m, 0, TOPIC_HEARTBEAT);
            bus_msg_close(&m);
        }
    }
    cr_assert(subscribed, "no heartbeat on the event bus");
    cr_assert_eq(harness_wait_position(h, "projector", 0, ITEST_WAIT_MS), 0);
    int64_t gaps = status_int(h, "projector", "gaps");
    cr_assert_eq(bench(h, 3000, 0, NULL, NULL, NULL), 0, "invbench failed");
    int64_t top = itest_head(h), next = 1, batches = 0, largest = 0;
    cr_assert_geq(top, 3000);
    while (next <= top && sub_wait(sub, ITEST_WAIT_MS, &m) == 0) {
        size_t len;
        const void *body = bus_body(&m, &len);
        bool batch = bus_frame_is(&m, 0, TOPIC_EVENTS);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        const char *why;
        if (m.count == 2 && (batch || bus_frame_is(&m, 0, TOPIC_EVENT))) {
            cr_assert_eq(codec_parse(body, len, &u, &why), 0, "%s", why);
            cr_assert(!batch || u.data.type == MSGPACK_OBJECT_ARRAY);
            uint32_t n = batch ? u.data.via.array.size : 1;
            batches += batch;
            largest = n > largest ? n : largest;
            for (uint32_t i = 0; i < n; i++) {
                const msgpack_object *ev = batch ? &u.data.via.array.ptr[i] : &u.data;
                int64_t pos = -1;
                codec_get_int(codec_map_get(ev, "position"), &pos);
                cr_assert_eq(pos, next, "position %lld where %lld was due", (long long)pos,
                             (long long)next);
                next++;
            }
        }
        msgpack_unpacked_destroy(&u);
        bus_msg_close(&m);
    }
    cr_assert_eq(next - 1, top, "the subscriber saw up to %lld of %lld", (long long)next - 1,
                 (long long)top);
    cr_assert_gt(batches, 0, "no `events` batch in a burst of 3,000 commands");
    cr_assert_geq(largest, 2);
    cr_assert_leq(largest, 256);
    cr_assert_eq(harness_wait_position(h, "projector", top, 60000), 0);
    cr_assert_eq(status_int(h, "projector", "gaps"), gaps, "the projector saw a gap");
    /* and it counted its transactions: at least one held a whole batch */
    int64_t commits = status_int(h, "projector", "commits");
    int64_t applied = status_int(h, "projector", "applied");
    cr_assert_gt(commits, 0);
    cr_assert_lt(commits, applied, "%lld commits for %lld events", (long long)commits,
                 (long long)applied);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    cr_assert_eq(harness_destroy(&h), 0);
}

/* Whatever arrives on the event bus, a subscriber neither crashes nor
 * moves its checkpoint on it: with the relay stopped, a stand-in PUB on
 * the relay's endpoint sends malformed `events` and `event` messages and a
 * heartbeat announcing a head far ahead; the projector keeps answering,
 * keeps its checkpoint, and once the real relay is back it reaches the
 * real head. */
Test(delivery, malformed_batches_on_the_bus_change_nothing, .timeout = 120)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR};
    harness_t *h = harness_start(&o);
    cr_assert_not_null(h);
    cr_assert_eq(bench(h, 300, 0, NULL, NULL, NULL), 0, "invbench failed");
    int64_t before = itest_head(h);
    cr_assert_eq(harness_wait_position(h, "projector", before, ITEST_WAIT_MS), 0);
    int64_t gaps = status_int(h, "projector", "gaps");
    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);

    void *ctx = zmq_ctx_new();
    void *pub = bus_bind(ctx, ZMQ_PUB, harness_endpoint(h, "events"));
    cr_assert_not_null(pub, "%s", zmq_strerror(errno));
    /* a valid event, but at a position far past the head: a gap, and a
     * head that the real relay never reaches */
    codec_writer_t w;
    codec_writer_init(&w);
    envelope_t env = {.position = before + 1000, .version = 1, .type = EV_PRODUCT_VIEWED,
                      .schema = 1, .recorded_at = 1};
    snprintf(env.stream, sizeof env.stream, "product-x");
    snprintf(env.event_id, sizeof env.event_id, "00000000000000000000000000000001");
    snprintf(env.command_id, sizeof env.command_id, "c");
    snprintf(env.correlation_id, sizeof env.correlation_id, "c");
    msgpack_pack_array(&w.pk, 2);
    codec_pack_event_raw(&w, &env, "\x81\xaaproduct_id\xa1x", 14);
    codec_pack_event_raw(&w, &env, "\x81\xaaproduct_id\xa1x", 14);
    struct {
        const char *topic;
        const char *body;
        size_t len;
    } bad[] = {
        {"events", "\xc1", 1},                    /* not msgpack */
        {"events", "\x92\x01\x02", 3},            /* an array of ints */
        {"events", "\x80", 1},                    /* a map, not an array */
        {"events", "\xdc\xff\xff", 3},            /* an array16 of 65,535 and nothing */
        {"events", "\x91\x81\xa8position\xa1x", 13}, /* a map of the wrong types */
        {"events", w.buf.data, w.buf.size},       /* decodes: a gap, a false head */
        {"event", "\x90", 1},                     /* an event that is an array */
        {"events", "", 0},                        /* empty */
    };
    int64_t until = proc_mono_ms() + 2500; /* long enough for the SUB to reconnect */
    while (proc_mono_ms() < until) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            bus_send(pub, bad[i].topic, bad[i].body, bad[i].len, 0);
        usleep(50 * 1000);
    }
    codec_writer_fini(&w);
    cr_assert_geq(status_int(h, "projector", "checkpoint"), before, "the projector answers");
    cr_assert_eq(status_int(h, "projector", "checkpoint"), before, "nothing moved it");
    cr_assert_gt(status_int(h, "projector", "gaps"), gaps, "the batches past the head were noticed");
    bus_close(&pub);
    zmq_ctx_term(ctx);

    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(bench(h, 300, 0, NULL, NULL, NULL), 0, "invbench failed");
    int64_t after = itest_head(h);
    cr_assert_gt(after, before);
    cr_assert_eq(harness_wait_position(h, "projector", after, ITEST_WAIT_MS), 0,
                 "the projector did not reach the relay's head after the noise");
    /* the head announced by the stray event is dropped once the relay says
     * there is nothing more (a turn of the idle loop, 200 ms) */
    int64_t deadline = proc_mono_ms() + ITEST_WAIT_MS, seen = -1;
    while ((seen = status_int(h, "projector", "head")) != after && proc_mono_ms() < deadline)
        usleep(50 * 1000);
    cr_assert_eq(seen, after, "the projector still believes head %lld", (long long)seen);
    cr_assert_eq(status_int(h, "projector", "lag_events"), 0);
    cr_assert(harness_daemon_alive(h, "projector"));
    cr_assert_eq(harness_destroy(&h), 0);
}

Test(delivery, late_subscriber_converges_to_the_same_read_model, .timeout = 240)
{
    harness_t *h = harness_start(NULL);
    cr_assert_not_null(h);
    cr_assert_eq(harness_daemon_stop(h, "audit"), 0);
    cr_assert_eq(bench(h, 10000, 0, "--window", "32", NULL), 0, "invbench failed");
    int64_t pos = itest_head(h);
    cr_assert_geq(pos, 10000);
    cr_assert_eq(harness_daemon_start(h, "audit"), 0);
    wait_all(h, pos);
    char db[512];
    db_path(h, "audit.db", db, sizeof db);
    itest_assert_equals_fresh(h, "audit", db);
    db_path(h, "read.db", db, sizeof db);
    itest_assert_equals_fresh(h, "projector", db);
    cr_assert_eq(harness_destroy(&h), 0);
}

Test(delivery, frozen_subscriber_converges_after_sigcont, .timeout = 280)
{
    harness_t *h = harness_start(NULL);
    cr_assert_not_null(h);
    cr_assert_eq(harness_daemon_sigstop(h, "projector"), 0);
    cr_assert_eq(bench(h, 50000, 0, "--mix", "sell:50,view:30,stock:10,price:5,review:5", NULL), 0);
    cr_assert_eq(harness_daemon_sigcont(h, "projector"), 0);
    int64_t pos = itest_head(h);
    cr_assert_geq(pos, 50000);
    wait_all(h, pos);
    char db[512];
    db_path(h, "read.db", db, sizeof db);
    itest_assert_equals_fresh(h, "projector", db);
    cr_assert_eq(harness_destroy(&h), 0);
}

/* ---- chaos ---------------------------------------------------------------- */

typedef struct {
    sqlite3 *db; /* in memory, with the store attached */
    sqlite3_stmt *count;
} store_t;

/* Counts events per command id once (the store has no index on command_id,
 * and needs none), so each ack-log line is one indexed lookup. */
static void
store_open(store_t *s, const char *path)
{
    cr_assert_eq(sqlite3_open_v2(":memory:", &s->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                 NULL),
                 SQLITE_OK);
    char sql[700];
    snprintf(sql, sizeof sql,
             "ATTACH 'file:%s?mode=ro' AS store;"
             "CREATE TABLE per_command(command_id TEXT PRIMARY KEY, n INTEGER);"
             "INSERT INTO per_command SELECT command_id, count(*) FROM store.events"
             " GROUP BY command_id;",
             path);
    cr_assert_eq(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(s->db));
    cr_assert_eq(sqlite3_prepare_v2(s->db,
                                    "SELECT coalesce((SELECT n FROM per_command"
                                    " WHERE command_id = ?), 0)",
                                    -1, &s->count, NULL),
                 SQLITE_OK);
}

static int64_t
events_of(store_t *s, const char *command_id)
{
    sqlite3_reset(s->count);
    sqlite3_bind_text(s->count, 1, command_id, -1, SQLITE_TRANSIENT);
    cr_assert_eq(sqlite3_step(s->count), SQLITE_ROW);
    return sqlite3_column_int64(s->count, 0);
}

/* Every accepted command has exactly one event; a rejected one has none. */
static void
check_ack_log(harness_t *h, const char *ack_log, int64_t *accepted, int64_t *rejected)
{
    char path[512];
    db_path(h, "events.db", path, sizeof path);
    store_t s;
    store_open(&s, path);
    FILE *f = fopen(ack_log, "r");
    cr_assert_not_null(f);
    char line[512], id[128], result[64];
    long long pos, sent_us, latency_us;
    while (fgets(line, sizeof line, f)) {
        cr_assert_eq(sscanf(line, "%127s %63s %lld %lld %lld", id, result, &pos, &sent_us,
                            &latency_us),
                     5, "ack log line: %s", line);
        int64_t n = events_of(&s, id);
        if (strcmp(result, "accepted") == 0) {
            (*accepted)++;
            cr_assert_eq(n, 1, "accepted %s has %lld events", id, (long long)n);
        } else {
            (*rejected)++;
            cr_assert_eq(n, 0, "%s was rejected (%s) but has %lld events", id, result,
                         (long long)n);
        }
    }
    fclose(f);
    sqlite3_finalize(s.count);
    sqlite3_close(s.db);
}

Test(delivery, chaos_kill_every_daemon_under_load, .timeout = 290)
{
    harness_t *h = harness_start(NULL);
    cr_assert_not_null(h);
    char ack_log[512], blog[512];
    itest_path_in(h, "acks.log", ack_log, sizeof ack_log);
    itest_path_in(h, "chaos-bench.log", blog, sizeof blog);
    const char *args[] = {"--duration-ms",
                          "15000",
                          "--products",
                          "50",
                          "--connections",
                          "4",
                          "--window",
                          "16",
                          "--retry-ms",
                          "1500",
                          "--initial-stock",
                          "30",
                          "--restock",
                          "25",
                          "--mix",
                          "sell:70,view:5,stock:10,price:10,review:5",
                          "--ack-log",
                          ack_log,
                          NULL};
    char *argv[40];
    itest_invbench_argv(h, argv, 40, args);
    pid_t load = itest_start(argv, blog, true);
    cr_assert_gt(load, 0);
    const char *victims[] = {"command", "relay", "projector", "audit", "alert", "query"};
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "chaos seed %u\n", seed);
    srand(seed);
    int kills = 0;
    for (int round = 0; round < 12; round++) {
        struct timespec pause = {0, (300 + rand() % 700) * 1000000L};
        nanosleep(&pause, NULL);
        const char *v = victims[rand() % 6];
        cr_assert_eq(harness_daemon_kill(h, v), 0, "kill %s", v);
        nanosleep(&(struct timespec){0, (rand() % 300) * 1000000L}, NULL);
        cr_assert_eq(harness_daemon_start(h, v), 0, "restart %s", v);
        kills++;
    }
    int status;
    cr_assert_eq(waitpid(load, &status, 0), load);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "invbench failed, see %s", blog);
    int64_t pos = itest_head(h);
    wait_all(h, pos);
    int64_t accepted = 0, rejected = 0;
    check_ack_log(h, ack_log, &accepted, &rejected);
    fprintf(stderr, "chaos: %d kills, %lld accepted, %lld rejected, head %lld\n", kills,
            (long long)accepted, (long long)rejected, (long long)pos);
    cr_assert_gt(accepted, 1000);
    char db[512];
    db_path(h, "read.db", db, sizeof db);
    itest_assert_equals_fresh(h, "projector", db);
    db_path(h, "audit.db", db, sizeof db);
    itest_assert_equals_fresh(h, "audit", db);
    db_path(h, "alerts.db", db, sizeof db);
    itest_assert_equals_fresh(h, "alert", db);
    cr_assert_eq(harness_destroy(&h), 0);
}
