/* Hostile peers against the real daemons (issue 23): what a socket can
 * deliver must not grow a daemon without bound, stall it, or flood its log.
 *
 * - A 16 MiB subscription, sent by hand in ZMTP to the relay's event PUB
 *   and to the alert daemon's PUB (a peer that claims to be a SUB), is
 *   refused by ZMQ_MAXMSGSIZE (common/wire/bus.c): the daemons' resident
 *   memory stays where it was and heartbeats and alerts keep coming.
 *   Without the limit libzmq built a trie node per byte: 1.6 GB and seconds
 *   without a heartbeat.
 * - A flood of undecodable requests writes a bounded number of log lines
 *   (common/base/log.c's limiter) and says how many it suppressed. */
#include "bus.h"
#include "harness.h"
#include "itest.h"
#include "log.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <zmq.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(hostile, .fini = cleanup, .timeout = 240);

/* Connects to an ipc:// endpoint as a ZMTP 3.0 peer of type SUB (NULL
 * mechanism) and sends one subscription message of `size` bytes ("\x01"
 * then 'x's), as a hostile client would, without libzmq (whose own XSUB
 * would keep the subscription in a trie too).  Returns the socket (the
 * caller closes it) or -1. */
static int
zmtp_subscribe(const char *endpoint, size_t size)
{
    cr_assert_eq(strncmp(endpoint, "ipc://", 6), 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", endpoint + 6);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    unsigned char greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    static const char ready[] = "\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB";
    size_t frame = size + 9;
    unsigned char *buf = malloc(sizeof greeting + sizeof ready - 1 + frame);
    cr_assert_not_null(buf);
    size_t n = 0;
    memcpy(buf, greeting, sizeof greeting);
    n += sizeof greeting;
    memcpy(buf + n, ready, sizeof ready - 1);
    n += sizeof ready - 1;
    buf[n++] = 0x02; /* a long message frame */
    for (int i = 7; i >= 0; i--)
        buf[n++] = (unsigned char)((uint64_t)size >> (8 * i));
    buf[n++] = 0x01; /* subscribe */
    memset(buf + n, 'x', size - 1);
    n += size - 1;
    /* the daemon drops the connection once it has read the frame's size:
     * a short write or EPIPE is the expected outcome then */
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(buf);
    return fd;
}

/* Waits up to timeout_ms for a message on sub whose first frame is topic. */
static bool
wait_topic(void *sub, const char *topic, int timeout_ms)
{
    int64_t end = proc_mono_ms() + timeout_ms;
    while (proc_mono_ms() < end) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(end - proc_mono_ms())) <= 0)
            continue;
        bus_msg_t m;
        if (bus_recv(sub, &m, 0) != 0)
            continue;
        bool is = bus_frame_is(&m, 0, topic);
        bus_msg_close(&m);
        if (is)
            return true;
    }
    return false;
}

/* Counts heartbeats for ms milliseconds; *longest is the longest gap. */
static int
count_heartbeats(void *sub, int ms, int64_t *longest)
{
    int64_t start = proc_mono_ms(), last = start;
    int n = 0;
    *longest = 0;
    while (proc_mono_ms() - start < ms) {
        if (!wait_topic(sub, TOPIC_HEARTBEAT, (int)(ms - (proc_mono_ms() - start))))
            break;
        int64_t t = proc_mono_ms();
        if (t - last > *longest)
            *longest = t - last;
        last = t;
        n++;
    }
    if (proc_mono_ms() - last > *longest)
        *longest = proc_mono_ms() - last;
    return n;
}

static void
create_low_product(const char *pid, int64_t stock)
{
    command_t c;
    char cid[64];
    snprintf(cid, sizeof cid, "create-%s", pid);
    itest_cmd(&c, CMD_CREATE_PRODUCT, cid);
    fields_set_str(&c.data, F_PRODUCT_ID, pid);
    fields_set_str(&c.data, F_SKU, pid);
    fields_set_str(&c.data, F_NAME, "Widget");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_int(&c.data, F_PRICE_CENTS, 100);
    fields_set_int(&c.data, F_COST_PRICE_CENTS, 50);
    fields_set_int(&c.data, F_STOCK, stock);
    fields_set_int(&c.data, F_LOW_STOCK_THRESHOLD, 10);
    itest_accept(h, &c);
}

#define HUGE_SUBSCRIPTION (16u * 1024 * 1024)
#define RSS_GROWTH_MAX_KIB (64 * 1024)

Test(hostile, a_16_mib_subscription_leaves_the_publishers_bounded_and_live, .timeout = 180)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_ALERT};
    h = harness_start(&o);
    cr_assert_not_null(h);
    void *ctx = zmq_ctx_new();
    void *events = bus_connect(ctx, ZMQ_SUB, harness_endpoint(h, "events"));
    void *alerts = bus_connect(ctx, ZMQ_SUB, harness_endpoint(h, "alerts"));
    cr_assert(events && alerts);
    cr_assert(wait_topic(events, TOPIC_HEARTBEAT, 5000), "no heartbeat at all");

    command_t c;
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-s1");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme");
    itest_accept(h, &c);
    create_low_product("p0", 1); /* the alert PUB works, and the subscriber is on */
    cr_assert(wait_topic(alerts, TOPIC_ALERT, ITEST_WAIT_MS), "no alert before the attack");

    pid_t relay = harness_daemon_pid(h, "relay"), alert = harness_daemon_pid(h, "alert");
    long relay_before = itest_proc_kib(relay, "VmRSS");
    long alert_before = itest_proc_kib(alert, "VmRSS");
    cr_assert(relay_before > 0 && alert_before > 0);

    /* three attackers on each PUB */
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = zmtp_subscribe(harness_endpoint(h, i % 2 ? "alerts" : "events"), HUGE_SUBSCRIPTION);
        cr_assert_geq(fds[i], 0, "cannot connect: %s", strerror(errno));
    }

    /* heartbeats keep their 500 ms pace meanwhile */
    int64_t longest;
    int beats = count_heartbeats(events, 3000, &longest);
    cr_assert_geq(beats, 4, "%d heartbeats in 3 s after the attack", beats);
    cr_assert_lt(longest, 1500, "no heartbeat for %lld ms", (long long)longest);

    /* the alert daemon raises and publishes its next alert at once */
    int64_t t0 = proc_mono_ms();
    create_low_product("p1", 2);
    cr_assert(wait_topic(alerts, TOPIC_ALERT, 5000), "no alert after the attack");
    cr_assert_lt(proc_mono_ms() - t0, 3000, "the alert took %lld ms",
                 (long long)(proc_mono_ms() - t0));

    long relay_after = itest_proc_kib(relay, "VmRSS");
    long alert_after = itest_proc_kib(alert, "VmRSS");
    cr_log_info("VmRSS relay %ld -> %ld KiB, alert %ld -> %ld KiB", relay_before, relay_after,
                alert_before, alert_after);
    cr_assert_lt(relay_after - relay_before, RSS_GROWTH_MAX_KIB, "relay grew %ld -> %ld KiB",
                 relay_before, relay_after);
    cr_assert_lt(alert_after - alert_before, RSS_GROWTH_MAX_KIB, "alert daemon grew %ld -> %ld KiB",
                 alert_before, alert_after);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    bus_close(&events);
    bus_close(&alerts);
    zmq_ctx_term(ctx);
    cr_assert(harness_daemon_alive(h, "relay") && harness_daemon_alive(h, "alert"));
    cr_assert_eq(harness_destroy(&h), 0);
}

#define FLOOD 20000

Test(hostile, a_flood_of_garbage_writes_a_bounded_log, .timeout = 180)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR | HD_QUERY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    void *ctx = zmq_ctx_new();
    void *dealer = bus_connect(ctx, ZMQ_DEALER, harness_endpoint(h, "query"));
    cr_assert_not_null(dealer);
    int64_t start = proc_mono_ms();
    int answered = 0;
    for (int i = 0; i < FLOOD; i++) {
        cr_assert_eq(zmq_send(dealer, "\xc1", 1, 0), 1);
        bus_msg_t m;
        while (bus_recv(dealer, &m, ZMQ_DONTWAIT) == 0) {
            answered++;
            bus_msg_close(&m);
        }
    }
    while (answered < FLOOD) {
        zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
        cr_assert_gt(zmq_poll(&it, 1, 10000), 0, "%d of %d answered", answered, FLOOD);
        bus_msg_t m;
        if (bus_recv(dealer, &m, 0) == 0) {
            answered++;
            bus_msg_close(&m);
        }
    }
    int64_t seconds = (proc_mono_ms() - start) / 1000 + 1;
    int warned = itest_log_count(h, "query", "bad request (malformed)");
    cr_log_info("%d undecodable requests in %lld s: %d log lines", FLOOD, (long long)seconds,
                warned);
    cr_assert_leq(warned, LOG_BURST * (seconds + 1), "%d lines for %d requests in %lld s", warned,
                  FLOOD, (long long)seconds);
    cr_assert_geq(warned, 1, "the first refusals are logged");

    /* a refusal after the window reports what was left out */
    int notes = itest_log_count(h, "query", "similar suppressed)");
    struct timespec pause = {.tv_sec = 1, .tv_nsec = 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    harness_reply_t r;
    cr_assert_eq(harness_request(h, "query", "\xc1", 1, ITEST_TIMEOUT_MS, &r), 0);
    harness_reply_fini(&r);
    cr_assert_eq(itest_log_count(h, "query", "similar suppressed)"), notes + 1);
    cr_assert_eq(harness_status(h, "query", ITEST_TIMEOUT_MS, &r), 0);
    harness_reply_fini(&r);
    bus_close(&dealer);
    zmq_ctx_term(ctx);
    cr_assert_eq(harness_destroy(&h), 0);
}

/* ---- the domain's bounds (issue 23, item 3) --------------------------------- */

static void
big_product(command_t *c, const char *pid, int64_t cost, int64_t stock)
{
    char cid[64];
    snprintf(cid, sizeof cid, "create-%s", pid);
    itest_cmd(c, CMD_CREATE_PRODUCT, cid);
    fields_set_str(&c->data, F_PRODUCT_ID, pid);
    fields_set_str(&c->data, F_SKU, pid);
    fields_set_str(&c->data, F_NAME, "Ingot");
    fields_set_str(&c->data, F_SUPPLIER_ID, "s1");
    fields_set_int(&c->data, F_PRICE_CENTS, FIELDS_MONEY_MAX);
    fields_set_int(&c->data, F_COST_PRICE_CENTS, cost);
    fields_set_int(&c->data, F_STOCK, stock);
    fields_set_int(&c->data, F_LOW_STOCK_THRESHOLD, 1);
}

/* Ten products at the bounds hold 10^19 cents of stock, past 2^63 - 1: the
 * Dashboard keeps answering, saturated (it answered unavailable for good);
 * values above the bounds are refused as validation. */
Test(hostile, the_dashboard_keeps_answering_at_the_bounds, .timeout = 120)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR | HD_QUERY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    command_t c;
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-s1");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme");
    itest_accept(h, &c);

    command_reply_t r;
    big_product(&c, "over", INT64_C(1) << 31, INT64_C(1) << 31);
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &r), 0);
    cr_assert_not(r.accepted);
    cr_assert_eq(r.error, REJ_VALIDATION, "%s", reject_code_name(r.error));
    cr_assert_geq(r.fields.count, 1, "%s", r.message);
    cr_assert(strstr(r.message, "must be at most"), "%s", r.message);

    int64_t last = 0;
    for (int i = 0; i < 11; i++) { /* 10 left in stock once ingot0 is sold */
        char pid[16];
        snprintf(pid, sizeof pid, "ingot%d", i);
        big_product(&c, pid, FIELDS_MONEY_MAX, FIELDS_COUNT_MAX);
        last = itest_accept(h, &c);
    }
    itest_cmd(&c, CMD_SELL_PRODUCT, "sell-all");
    fields_set_str(&c.data, F_PRODUCT_ID, "ingot0");
    fields_set_str(&c.data, F_ORDER_ID, "o1");
    fields_set_int(&c.data, F_QUANTITY, FIELDS_COUNT_MAX);
    last = itest_accept(h, &c);
    cr_assert_eq(harness_wait_position(h, "projector", last, ITEST_WAIT_MS), 0);

    for (int i = 0; i < 3; i++) { /* for every client, every time */
        harness_reply_t q;
        const char dash[] = "\x81\xa4type\xa9" "Dashboard";
        cr_assert_eq(harness_request(h, "query", dash, sizeof dash - 1, ITEST_TIMEOUT_MS, &q), 0);
        char err[64];
        cr_assert(harness_reply_ok(&q), "Dashboard: %s", itest_error(&q, err, sizeof err));
        int64_t value, revenue;
        cr_assert_eq(harness_reply_int(&q, "inventory_value_cents", &value), 0);
        cr_assert_eq(value, INT64_MAX);
        cr_assert_eq(harness_reply_int(&q, "revenue_today_cents", &revenue), 0);
        cr_assert_eq(revenue, FIELDS_COUNT_MAX * FIELDS_MONEY_MAX);
        harness_reply_fini(&q);
    }
    cr_assert_eq(harness_destroy(&h), 0);
}
