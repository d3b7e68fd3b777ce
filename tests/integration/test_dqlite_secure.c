/* test_dqlite_secure: three real store-node processes, secure (the
 * default): each node's dqlite listens on an abstract unix socket only,
 * and its Raft traffic and its clients cross the CURVE tunnel
 * (common/wire/tunnel.h) at HOST:PORT.  The test is a client with the
 * operator key through its own tunnel: nodes 2 and 3 join, rows replicate
 * and read back, kill -9 of the leader fails over, the killed node
 * restarts and rejoins (leadership is moved to it, and it has every row);
 * a key not on the allow-list is refused and the node logs it; a key
 * removed from the list (then SIGHUP) loses its open stream; a hostile
 * client with an allowed key sending garbage frames gets its streams
 * closed, and the node keeps serving. */
#include "dqclient.h"
#include "keyring.h"
#include "scratch.h"
#include "security.h"
#include "storenodes.h"
#include "tunnel.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static char dir[256], keys[300];
static storenodes_t nodes;
static void *zctx;
static tunnel_t *tunnel;

static void
setup(void)
{
    static const char *const flags[] = {"--keys", keys, NULL};
    char why[256];
    scratch_make(dir, sizeof dir, "dqsecure");
    snprintf(keys, sizeof keys, "%s/keys", dir);
    cr_assert_geq(keyring_init(keys, why, sizeof why), 0, "%s", why);
    storenodes_init(&nodes, dir, flags, true);
    char key[400], pub[400], z85[KEY_Z85_LEN + 1];
    snprintf(key, sizeof key, "%s/operator.key", keys);
    snprintf(pub, sizeof pub, "%s/store.pub", keys);
    cr_assert_eq(security_client(keys, key, why, sizeof why), 0, "%s", why);
    cr_assert_eq(pubkey_read(pub, z85, why, sizeof why), 0, "%s", why);
    zctx = zmq_ctx_new();
    tunnel = tunnel_new(zctx, &(tunnel_config_t){.server_key = z85});
    cr_assert_not_null(tunnel);
}

static void
teardown(void)
{
    storenodes_fini(&nodes);
    tunnel_destroy(&tunnel);
    zmq_ctx_term(zctx);
    security_stop();
    if (getenv("INV_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", dir);
    else
        scratch_remove(dir);
}

TestSuite(dqlite_secure, .init = setup, .fini = teardown, .timeout = 150);

static dqclient_t *
client_of(const char *const *seeds, size_t n, int wait_ms, int *rc)
{
    dqclient_t *c = dqclient_new(seeds, n, 5000);
    cr_assert_not_null(c);
    dqclient_set_dialer(c, tunnel_connect_func, tunnel);
    *rc = dqclient_connect(c, wait_ms);
    return c;
}

static dqclient_t *
client(void)
{
    return storenodes_client(&nodes, tunnel_connect_func, tunnel);
}

static void
count_row(void *arg, const dqvalue_t *row, size_t ncols)
{
    int64_t *sum = arg;
    if (ncols == 1 && row[0].type == DQ_INTEGER)
        *sum += row[0].i;
}

static int64_t
sum_ids(dqclient_t *c)
{
    int64_t sum = 0;
    cr_assert_eq(dqclient_query(c, "SELECT id FROM items", NULL, 0, count_row, &sum), DQ_OK,
                 "query: %s", dqclient_errmsg(c));
    return sum;
}

static double
ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

Test(dqlite_secure, join_replicate_failover_and_rejoin)
{
    dqclient_t *c = client();
    cr_assert_str_eq(dqclient_leader(c), nodes.addrs[0]);
    for (int i = 1; i < STORENODES_N; i++)
        cr_assert_eq(dqclient_join(c, (uint64_t)i + 1, nodes.addrs[i]), DQ_OK, "join %d: %s", i + 1,
                     dqclient_errmsg(c));
    cr_assert_eq(dqclient_open(c, "inv"), DQ_OK, "open: %s", dqclient_errmsg(c));
    cr_assert_eq(dqclient_exec(c, "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)", NULL, 0,
                               NULL, NULL),
                 DQ_OK, "%s", dqclient_errmsg(c));
    for (int64_t i = 1; i <= 100; i++)
        cr_assert_eq(dqclient_exec(c, "INSERT INTO items VALUES (?, 'one by one')",
                                   (dqvalue_t[]){dq_int(i)}, 1, NULL, NULL),
                     DQ_OK, "%s", dqclient_errmsg(c));
    uint64_t changes;
    cr_assert_eq(dqclient_exec(c,
                               "WITH RECURSIVE n(x) AS (SELECT 101 UNION ALL SELECT x + 1 FROM n "
                               "WHERE x < 20000) INSERT INTO items SELECT x, hex(randomblob(64)) "
                               "FROM n",
                               NULL, 0, NULL, &changes),
                 DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_eq(changes, 19900);
    const int64_t want = 20000LL * 20001 / 2;
    cr_assert_eq(sum_ids(c), want);
    dqnode_t members[8];
    size_t n;
    cr_assert_eq(dqclient_cluster(c, members, 8, &n), DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_eq(n, STORENODES_N);

    int old = storenodes_index(&nodes, dqclient_leader(c));
    cr_assert_geq(old, 0);
    storenodes_stop(&nodes, old, SIGKILL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = dqclient_connect(c, 30000);
    cr_assert_eq(rc, DQ_OK, "reconnect: %s", dqclient_errmsg(c));
    cr_assert_eq(dqclient_exec(c, "INSERT INTO items VALUES (20001, 'after')", NULL, 0, NULL, NULL),
                 DQ_OK, "%s", dqclient_errmsg(c));
    cr_log_info("failover through the tunnel: new leader %s took a write after %.0f ms",
                dqclient_leader(c), ms_since(&t0));
    cr_assert_neq(storenodes_index(&nodes, dqclient_leader(c)), old);
    cr_assert_eq(sum_ids(c), want + 20001);

    /* the killed node comes back, catches up, and can lead */
    storenodes_start(&nodes, old);
    int moved = DQ_EFAILURE;
    for (int tries = 0; tries < 100 && moved != DQ_OK; tries++) {
        if (dqclient_connect(c, 5000) == DQ_OK)
            moved = dqclient_transfer(c, (uint64_t)old + 1);
        if (moved != DQ_OK)
            nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000L}, NULL);
    }
    cr_assert_eq(moved, DQ_OK, "transfer: %s", dqclient_errmsg(c));
    cr_assert_eq(dqclient_connect(c, 15000), DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_str_eq(dqclient_leader(c), nodes.addrs[old]);
    cr_assert_eq(sum_ids(c), want + 20001);
    dqclient_destroy(&c);
}

Test(dqlite_secure, a_key_not_on_the_allow_list_is_refused)
{
    keypair_t stranger, operator;
    char path[400], why[256];
    snprintf(path, sizeof path, "%s/operator.key", keys);
    cr_assert_eq(keypair_read(path, &operator, why, sizeof why), 0, "%s", why);
    cr_assert_eq(keypair_generate(&stranger), 0);
    security_use_key(&stranger);
    int fd = -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(tunnel_dial(tunnel, nodes.addrs[0], &fd), -1);
    cr_assert_eq(errno, ECONNREFUSED, "%s", strerror(errno));
    cr_assert_lt(ms_since(&t0), TUNNEL_DIAL_MS, "the refusal waited for the deadline");
    const char *seeds[] = {nodes.addrs[0]};
    int rc;
    dqclient_t *c = client_of(seeds, 1, 500, &rc);
    cr_assert_eq(rc, DQ_ENOLEADER);
    dqclient_destroy(&c);
    bool logged = false;
    for (int i = 0; i < 50 && !logged; i++) {
        logged = storenodes_log_has(&nodes, 0, "refused a connection to tcp://") &&
                 storenodes_log_has(&nodes, 0, "key not on the allow-list");
        if (!logged)
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
    }
    cr_assert(logged, "node 1 did not log the refusal");
    /* the allowed key still gets in */
    security_use_key(&operator);
    c = client_of(seeds, 1, 15000, &rc);
    cr_assert_eq(rc, DQ_OK, "%s", dqclient_errmsg(c));
    dqclient_destroy(&c);
}

/* Appends line to the allow-list (or, line NULL, restores the saved
 * text), then SIGHUP to node 1 and a pause for its reload. */
static void
allow_edit(const char *line)
{
    static char saved[65536];
    static size_t saved_len;
    char path[400];
    snprintf(path, sizeof path, "%s/allow", keys);
    FILE *f = fopen(path, line ? "r" : "w");
    cr_assert_not_null(f);
    if (line)
        saved_len = fread(saved, 1, sizeof saved, f);
    else
        fwrite(saved, 1, saved_len, f);
    fclose(f);
    if (line) {
        f = fopen(path, "a");
        fprintf(f, "%s\n", line);
        fclose(f);
    }
    kill(nodes.pids[0], SIGHUP);
    nanosleep(&(struct timespec){.tv_nsec = 600 * 1000000L}, NULL); /* the ZAP thread's tick */
}

Test(dqlite_secure, a_key_removed_from_the_list_loses_its_open_stream)
{
    keypair_t temp, operator;
    char path[400], why[256], line[128];
    snprintf(path, sizeof path, "%s/operator.key", keys);
    cr_assert_eq(keypair_read(path, &operator, why, sizeof why), 0, "%s", why);
    cr_assert_eq(keypair_generate(&temp), 0);
    snprintf(line, sizeof line, "daemon %s temporary", temp.public_z85);
    dqclient_t *ready = client(); /* node 1 handles SIGHUP from now on */
    dqclient_destroy(&ready);
    allow_edit(line);
    security_use_key(&temp);
    const char *seeds[] = {nodes.addrs[0]};
    int rc;
    dqclient_t *c = client_of(seeds, 1, 15000, &rc);
    cr_assert_eq(rc, DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_eq(dqclient_open(c, "r"), DQ_OK, "%s", dqclient_errmsg(c));
    allow_edit(NULL);
    int64_t sum = 0;
    rc = DQ_OK;
    for (int i = 0; i < 30 && rc == DQ_OK; i++) {
        rc = dqclient_query(c, "SELECT 1", NULL, 0, count_row, &sum);
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
    }
    cr_assert_eq(rc, DQ_EIO, "the removed key's stream stayed open: %s", dqclient_errmsg(c));
    cr_assert(storenodes_log_has(&nodes, 0, "its key is no longer allowed"));
    cr_assert_neq(dqclient_connect(c, 300), DQ_OK, "the removed key got in again");
    dqclient_destroy(&c);
    security_use_key(&operator);
}

/* A raw DEALER with the operator key on node 1's tunnel. */
static void *
hostile(void)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://%s", nodes.addrs[0]);
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    char z85[KEY_Z85_LEN + 1], pub[400], why[256];
    snprintf(pub, sizeof pub, "%s/store.pub", keys);
    cr_assert_eq(pubkey_read(pub, z85, why, sizeof why), 0);
    cr_assert_eq(security_apply_connect_key(s, z85), 0);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

/* The next frame the node sends, or "" after 3 s. */
static char
next_type(void *s)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    char b[70000];
    if (zmq_poll(&it, 1, 3000) != 1)
        return '\0';
    int n = zmq_recv(s, b, sizeof b, 0);
    return n > 0 ? b[0] : '\0';
}

Test(dqlite_secure, garbage_frames_close_their_stream_and_the_node_serves_on)
{
    dqclient_t *c = client(); /* node 1 leads, alone */
    cr_assert_eq(dqclient_open(c, "g"), DQ_OK, "%s", dqclient_errmsg(c));
    void *s = hostile();
    /* DATA on a stream never opened: CLOSE */
    zmq_send(s, "Dxyz", 4, 0);
    cr_assert_eq(next_type(s), 'C');
    /* an unknown type, an empty frame, two frames, a bad CREDIT: each
     * closes the stream it was sent on */
    const char *bad[][2] = {
        {"Zzz", NULL}, {"", NULL}, {"D", NULL}, {"P", "P"}, {"K\0\0\0\0", NULL}};
    const size_t len[] = {3, 0, 1, 1, 5};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zmq_close(s);
        s = hostile();
        zmq_send(s, "O", 1, 0);
        cr_assert_eq(next_type(s), 'A', "case %zu: not accepted", i);
        zmq_send(s, bad[i][0], len[i], bad[i][1] ? ZMQ_SNDMORE : 0);
        if (bad[i][1])
            zmq_send(s, bad[i][1], 1, 0);
        char got;
        while ((got = next_type(s)) == 'P' || got == 'K' || got == 'D') {
        }
        cr_assert_eq(got, 'C', "case %zu: the stream was not closed", i);
    }
    /* DATA beyond the window: closed */
    zmq_close(s);
    s = hostile();
    zmq_send(s, "O", 1, 0);
    cr_assert_eq(next_type(s), 'A');
    static uint8_t big[1 + TUNNEL_CHUNK];
    memset(big, 0xff, sizeof big);
    big[0] = 'D';
    for (int i = 0; i < 2 * TUNNEL_WINDOW / TUNNEL_CHUNK; i++)
        zmq_send(s, big, sizeof big, 0);
    char got;
    while ((got = next_type(s)) == 'P' || got == 'K' || got == 'D') {
    }
    cr_assert_eq(got, 'C', "a stream beyond its window was not closed");
    /* random frames for a while, from streams that opened and did not */
    unsigned seed = (unsigned)getpid();
    for (int i = 0; i < 3000; i++) {
        uint8_t f[64];
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof f);
        for (size_t k = 0; k < n; k++)
            f[k] = (uint8_t)rand_r(&seed);
        if (i % 100 == 0) {
            zmq_close(s);
            s = hostile();
            if (i % 200 == 0)
                zmq_send(s, "O", 1, 0);
        }
        zmq_send(s, f, n, ZMQ_DONTWAIT);
    }
    zmq_close(s);
    /* the node serves on, through a new stream and the old one */
    int64_t sum = 0;
    cr_assert_eq(dqclient_query(c, "SELECT 40 + 2", NULL, 0, count_row, &sum), DQ_OK, "%s",
                 dqclient_errmsg(c));
    cr_assert_eq(sum, 42);
    dqclient_t *c2 = client();
    cr_assert_eq(dqclient_open(c2, "g"), DQ_OK, "%s", dqclient_errmsg(c2));
    cr_assert_eq(dqclient_query(c2, "SELECT 1", NULL, 0, count_row, &sum), DQ_OK, "%s",
                 dqclient_errmsg(c2));
    dqclient_destroy(&c2);
    dqclient_destroy(&c);
    cr_assert(storenodes_log_has(&nodes, 0, "a stream closed"),
              "the node did not log the bad frames");
}
