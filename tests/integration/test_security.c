/* Who may speak (docs/protocol.md, section 13), on the real daemons with
 * security on, as it is by default: every endpoint refuses a client with no
 * key, with a wrong server key and with a key not on the allow-list; each
 * role is answered `forbidden` outside its rights; a key removed from the
 * allow-list loses its rights after SIGHUP or ReloadKeys, on its open
 * connection at its next request and at the next handshake. */
#include "bus.h"
#include "harness.h"
#include "itest.h"
#include "security.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static harness_t *h;
static keypair_t operator_key, reader, writer, daemon_key, stranger;

/* The ROUTER endpoints, the daemon behind each, and its log's name. */
static const struct {
    const char *ep, *server, *log;
} routers[] = {
    {"command", "command", "command"},
    {"catchup", "relay", "relay"},
    {"query", "query", "query"},
    {"audit", "audit", "audit"},
    {"projector", "projector", "projector"},
    {"alert-api", "alert", "alert"},
};
#define N_ROUTERS (sizeof routers / sizeof routers[0])

static void
keys_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/keys/%s", harness_dir(h), name);
}

/* Appends "ROLE key name" to the allow-list. */
static void
allow(const char *role, const keypair_t *k, const char *name)
{
    char path[512];
    keys_path("allow", path, sizeof path);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fprintf(f, "%s %s %s\n", role, k->public_z85, name);
    fclose(f);
}

/* Rewrites the allow-list without the line naming `name`. */
static void
disallow(const char *name)
{
    char path[512], tmp[520], line[256], tail[80];
    keys_path("allow", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    snprintf(tail, sizeof tail, " %s\n", name);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    cr_assert(in && out);
    while (fgets(line, sizeof line, in)) {
        size_t n = strlen(line), t = strlen(tail);
        if (!(n >= t && strcmp(line + n - t, tail) == 0))
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    cr_assert_eq(rename(tmp, path), 0);
}

/* Every daemon re-reads the allow-list: SIGHUP to half, ReloadKeys (as the
 * operator) to the others. */
static void
reload_everywhere(void)
{
    security_use_key(&operator_key);
    const char *hup[] = {"command", "relay", "projector"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(kill(harness_daemon_pid(h, hup[i]), SIGHUP), 0);
    const char *asked[] = {"query", "audit", "alert-api"};
    for (int i = 0; i < 3; i++) {
        harness_reply_t r;
        itest_request(h, asked[i], &r, "ReloadKeys", "");
        itest_assert_ok(&r, asked[i]);
        harness_reply_fini(&r);
    }
    harness_sleep_ms(600); /* the ZAP thread looks at SIGHUP every 200 ms */
}

static void
setup(void)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start");
    char path[512], why[256];
    keys_path("operator.key", path, sizeof path);
    cr_assert_eq(keypair_read(path, &operator_key, why, sizeof why), 0, "%s", why);
    cr_assert_eq(keypair_generate(&reader), 0);
    cr_assert_eq(keypair_generate(&writer), 0);
    cr_assert_eq(keypair_generate(&daemon_key), 0);
    cr_assert_eq(keypair_generate(&stranger), 0);
    allow("reader", &reader, "test-reader");
    allow("writer", &writer, "test-writer");
    allow("daemon", &daemon_key, "test-daemon");
    reload_everywhere();
}

static void
teardown(void)
{
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

/* Sends {type: Status} on a socket the caller keyed (or not) and waits
 * up to ms: whether any reply came. */
static bool
answers(void *s, const char *endpoint, int ms)
{
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    static const char status[] = "\x81\xa4type\xa6Status";
    zmq_send(s, status, sizeof status - 1, ZMQ_DONTWAIT);
    zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
    bool got = zmq_poll(&item, 1, ms) == 1;
    zmq_close(s);
    return got;
}

/* A DEALER with CURVE: client key k, server key server_z85. */
static void *
keyed_dealer(void *ctx, const keypair_t *k, const char *server_z85)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_z85, KEY_Z85_LEN);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->public_z85, KEY_Z85_LEN);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->secret_z85, KEY_Z85_LEN);
    return s;
}

Test(security, every_router_refuses_no_key_a_wrong_server_key_and_an_unknown_key, .init = setup,
     .fini = teardown, .timeout = 120)
{
    void *ctx = zmq_ctx_new();
    keypair_t impostor;
    cr_assert_eq(keypair_generate(&impostor), 0);
    for (size_t i = 0; i < N_ROUTERS; i++) {
        const char *ep = harness_endpoint(h, routers[i].ep);
        char path[512], server[KEY_Z85_LEN + 1], why[256];
        snprintf(path, sizeof path, "%s/keys/%s.pub", harness_dir(h), routers[i].server);
        cr_assert_eq(pubkey_read(path, server, why, sizeof why), 0, "%s", why);
        void *plain = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(plain, ZMQ_LINGER, &linger, sizeof linger);
        cr_assert_not(answers(plain, ep, 700), "%s answered a client with no key", routers[i].ep);
        cr_assert_not(answers(keyed_dealer(ctx, &operator_key, impostor.public_z85), ep, 700),
                      "%s answered a client that expected another server key", routers[i].ep);
        cr_assert_not(answers(keyed_dealer(ctx, &stranger, server), ep, 700),
                      "%s answered a key that is not on the allow-list", routers[i].ep);
        cr_assert(answers(keyed_dealer(ctx, &operator_key, server), ep, 3000),
                  "%s did not answer the operator", routers[i].ep);
        cr_assert_geq(itest_log_count(h, routers[i].log, "refused a connection to"), 1,
                      "%s did not log the refusal", routers[i].log);
    }
    zmq_ctx_term(ctx);
}

/* Sends type on ep as key k: the reply's error code ("" when ok). */
static void
error_of(const keypair_t *k, const char *ep, const char *type, char *code, size_t cap,
         char *message, size_t mcap)
{
    security_use_key(k);
    harness_reply_t r;
    itest_request(h, ep, &r, type, "");
    code[0] = message[0] = '\0';
    if (!harness_reply_ok(&r)) {
        harness_reply_str(&r, "error", code, cap);
        harness_reply_str(&r, "message", message, mcap);
    }
    harness_reply_fini(&r);
}

/* Whether role k may send type on ep, as the server answers it. */
static bool
allowed(const keypair_t *k, const char *ep, const char *type)
{
    char code[32], message[256];
    error_of(k, ep, type, code, sizeof code, message, sizeof message);
    return strcmp(code, "forbidden") != 0;
}

Test(security, each_role_is_forbidden_outside_its_rights, .init = setup, .fini = teardown,
     .timeout = 180)
{
    /* every command type: writers and operators, not readers or daemons */
    for (int t = 0; t < CMD__COUNT; t++) {
        const char *type = command_spec((command_type_t)t)->name;
        cr_assert_not(allowed(&reader, "command", type), "a reader may %s", type);
        cr_assert_not(allowed(&daemon_key, "command", type), "a daemon key may %s", type);
        cr_assert(allowed(&writer, "command", type), "a writer may not %s", type);
        cr_assert(allowed(&operator_key, "command", type), "the operator may not %s", type);
    }
    char code[32], message[256];
    error_of(&reader, "command", "SellProduct", code, sizeof code, message, sizeof message);
    cr_assert_str_eq(code, "forbidden");
    cr_assert_str_eq(message, "forbidden: role reader cannot SellProduct");
    /* the catch-up feed: daemons and operators; history: readers too */
    cr_assert_not(allowed(&reader, "catchup", "ReadEvents"), "a reader read the feed");
    cr_assert_not(allowed(&writer, "catchup", "ReadEvents"), "a writer read the feed");
    cr_assert(allowed(&daemon_key, "catchup", "ReadEvents"));
    cr_assert(allowed(&operator_key, "catchup", "ReadEvents"));
    cr_assert(allowed(&reader, "catchup", "ReadStream"));
    cr_assert(allowed(&reader, "catchup", "ProductAsOf"));
    cr_assert_not(allowed(&daemon_key, "catchup", "ReadStream"));
    /* queries, audit search, alert list: readers; not daemons */
    const char *queries[] = {"ListProducts", "ListSuppliers", "SearchProducts", "LowStock"};
    for (int i = 0; i < 4; i++) {
        cr_assert(allowed(&reader, "query", queries[i]), "a reader may not %s", queries[i]);
        cr_assert_not(allowed(&daemon_key, "query", queries[i]), "a daemon key may %s", queries[i]);
    }
    cr_assert(allowed(&reader, "audit", "SearchAudit"));
    cr_assert(allowed(&reader, "alert-api", "ListAlerts"));
    cr_assert_not(allowed(&daemon_key, "audit", "SearchAudit"));
    /* Status: every role; Rebuild and ReloadKeys: operators only */
    for (size_t i = 0; i < N_ROUTERS; i++) {
        const char *ep = routers[i].ep;
        cr_assert(allowed(&reader, ep, "Status"), "%s: a reader may not ask Status", ep);
        cr_assert(allowed(&daemon_key, ep, "Status"), "%s: a daemon may not ask Status", ep);
        cr_assert_not(allowed(&writer, ep, "ReloadKeys"), "%s: a writer reloaded keys", ep);
    }
    const char *rebuilt[] = {"projector", "audit", "alert-api"};
    for (int i = 0; i < 3; i++) {
        cr_assert_not(allowed(&reader, rebuilt[i], "Rebuild"), "%s: a reader rebuilt", rebuilt[i]);
        cr_assert_not(allowed(&writer, rebuilt[i], "Rebuild"), "%s: a writer rebuilt", rebuilt[i]);
    }
    cr_assert_geq(itest_log_count(h, "command", "forbidden: role reader cannot"), 1);
}

Test(security, a_removed_key_loses_its_rights_after_sighup_or_reloadkeys, .init = setup,
     .fini = teardown, .timeout = 120)
{
    /* one connection held open across the reload */
    security_use_key(&reader);
    void *ctx = zmq_ctx_new();
    char path[512], server[KEY_Z85_LEN + 1], why[256];
    snprintf(path, sizeof path, "%s/keys/query.pub", harness_dir(h));
    cr_assert_eq(pubkey_read(path, server, why, sizeof why), 0, "%s", why);
    void *held = keyed_dealer(ctx, &reader, server);
    cr_assert_eq(zmq_connect(held, harness_endpoint(h, "query")), 0);
    static const char status[] = "\x81\xa4type\xa6Status";
    zmq_pollitem_t item = {.socket = held, .events = ZMQ_POLLIN};
    char buf[4096];
    zmq_send(held, status, sizeof status - 1, 0);
    cr_assert_eq(zmq_poll(&item, 1, 3000), 1, "the reader was not answered before");
    cr_assert_gt(zmq_recv(held, buf, sizeof buf, 0), 0);

    /* and a subscription of the event feed held open too */
    void *feed = bus_connect(ctx, ZMQ_SUB, harness_endpoint(h, "events"));
    cr_assert_not_null(feed);
    zmq_pollitem_t heard = {.socket = feed, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&heard, 1, 3000), 1, "the reader heard no heartbeat before");

    disallow("test-reader");
    reload_everywhere();
    /* the relay dropped the feed's connections at its next heartbeat; the
     * held SUB reconnects and is refused: after what was queued, silence */
    harness_sleep_ms(1200);
    bus_msg_t m;
    while (bus_recv(feed, &m, ZMQ_DONTWAIT) == 0)
        bus_msg_close(&m);
    cr_assert_eq(zmq_poll(&heard, 1, 1500), 0, "a removed key still hears the event feed");
    bus_close(&feed);
    cr_assert_geq(itest_log_count(h, "relay", "every connection dropped"), 1);
    zmq_send(held, status, sizeof status - 1, 0);
    cr_assert_eq(zmq_poll(&item, 1, 3000), 1, "no answer on the held connection");
    int n = zmq_recv(held, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(memmem(buf, (size_t)n, "forbidden", 9) && memmem(buf, (size_t)n, "allow-list", 10),
              "a removed key was still served on its open connection");
    zmq_close(held);
    for (size_t i = 0; i < N_ROUTERS; i++) {
        snprintf(path, sizeof path, "%s/keys/%s.pub", harness_dir(h), routers[i].server);
        cr_assert_eq(pubkey_read(path, server, why, sizeof why), 0, "%s", why);
        cr_assert_not(
            answers(keyed_dealer(ctx, &reader, server), harness_endpoint(h, routers[i].ep), 700),
            "%s let a removed key connect again", routers[i].ep);
    }
    zmq_ctx_term(ctx);
    security_use_key(&operator_key);
    cr_assert_geq(itest_log_count(h, "query", "allow-list reloaded"), 2);
    cr_assert_geq(itest_log_count(h, "command", "allow-list reloaded"), 2, "SIGHUP did not reload");
}

/* A SUB of the relay's event feed: whether a heartbeat arrives within ms. */
static bool
hears_heartbeat(const keypair_t *k, int ms)
{
    security_use_key(k);
    void *ctx = zmq_ctx_new();
    void *sub = bus_connect(ctx, ZMQ_SUB, harness_endpoint(h, "events"));
    cr_assert_not_null(sub);
    zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
    bool got = zmq_poll(&item, 1, ms) == 1;
    bus_close(&sub);
    zmq_ctx_term(ctx);
    security_use_key(&operator_key);
    return got;
}

Test(security, the_event_feed_and_the_nudge_admit_only_their_roles, .init = setup, .fini = teardown,
     .timeout = 120)
{
    cr_assert(hears_heartbeat(&reader, 3000), "a reader may watch events");
    cr_assert(hears_heartbeat(&daemon_key, 3000), "a daemon may follow events");
    cr_assert_not(hears_heartbeat(&stranger, 1500), "a stranger heard the feed");
    /* no key at all, and the right key with a wrong server key */
    void *ctx0 = zmq_ctx_new();
    const char *ep = harness_endpoint(h, "events");
    void *plain = zmq_socket(ctx0, ZMQ_SUB);
    keypair_t impostor;
    cr_assert_eq(keypair_generate(&impostor), 0);
    void *wrong = zmq_socket(ctx0, ZMQ_SUB);
    zmq_setsockopt(wrong, ZMQ_CURVE_SERVERKEY, impostor.public_z85, KEY_Z85_LEN);
    zmq_setsockopt(wrong, ZMQ_CURVE_PUBLICKEY, operator_key.public_z85, KEY_Z85_LEN);
    zmq_setsockopt(wrong, ZMQ_CURVE_SECRETKEY, operator_key.secret_z85, KEY_Z85_LEN);
    void *both[2] = {plain, wrong};
    for (int i = 0; i < 2; i++) {
        int linger = 0;
        zmq_setsockopt(both[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(both[i], ZMQ_SUBSCRIBE, "", 0);
        cr_assert_eq(zmq_connect(both[i], ep), 0);
    }
    zmq_pollitem_t items[2] = {{.socket = plain, .events = ZMQ_POLLIN},
                               {.socket = wrong, .events = ZMQ_POLLIN}};
    cr_assert_eq(zmq_poll(items, 2, 1500), 0, "a SUB without the keys heard the feed");
    zmq_close(plain);
    zmq_close(wrong);
    zmq_ctx_term(ctx0);
    /* the alert PUB: a stranger is refused at the handshake */
    security_use_key(&stranger);
    void *ctx1 = zmq_ctx_new();
    void *alerts = bus_connect(ctx1, ZMQ_SUB, harness_endpoint(h, "alerts"));
    cr_assert_not_null(alerts);
    itest_wait_log_line(h, "alert", "refused a connection to");
    bus_close(&alerts);
    zmq_ctx_term(ctx1);
    security_use_key(&operator_key);
    /* the nudge channel: daemons only */
    security_use_key(&reader);
    void *ctx = zmq_ctx_new();
    void *push = bus_connect(ctx, ZMQ_PUSH, harness_endpoint(h, "nudge"));
    cr_assert_not_null(push);
    harness_sleep_ms(500);
    bus_close(&push);
    zmq_ctx_term(ctx);
    security_use_key(&operator_key);
    itest_wait_log_line(h, "relay", "role not admitted on this endpoint");
}

/* invctl says why at once: a key not on the list is refused, a reader is
 * forbidden to sell, a writer sells. */
Test(security, invctl_names_a_refusal_and_a_forbidden_request, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char path[512];
    const char *names[] = {"stranger.key", "reader.key", "writer.key"};
    const keypair_t *keys[] = {&stranger, &reader, &writer};
    for (int i = 0; i < 3; i++) {
        keys_path(names[i], path, sizeof path);
        cr_assert_eq(keypair_write(path, keys[i]), 0);
    }
    char stranger_key[512], reader_key[512], writer_key[512], err[512];
    keys_path("stranger.key", stranger_key, sizeof stranger_key);
    keys_path("reader.key", reader_key, sizeof reader_key);
    keys_path("writer.key", writer_key, sizeof writer_key);
    int64_t ms = 0;
    const char *refused[] = {"--key", stranger_key, "products", NULL};
    cr_assert_eq(itest_invctl(h, "refused.out", NULL, refused, &ms), 1);
    itest_path_in(h, "refused.out", err, sizeof err);
    cr_assert(itest_file_has(err, "refused: your key is not allowed on query-service"), "%s", err);
    cr_assert_lt(ms, 2000, "the refusal took %lld ms", (long long)ms);
    const char *forbidden[] = {
        "--key", reader_key, "register-supplier", "s-sec", "--name", "Secure Supplies", NULL};
    cr_assert_eq(itest_invctl(h, "forbidden.out", NULL, forbidden, NULL), 2);
    itest_path_in(h, "forbidden.out", err, sizeof err);
    cr_assert(itest_file_has(err, "forbidden: role reader cannot RegisterSupplier"), "%s", err);
    const char *sold[] = {"--key",           writer_key, "register-supplier", "s-sec", "--name",
                          "Secure Supplies", NULL};
    cr_assert_eq(itest_invctl(h, "writer.out", NULL, sold, NULL), 0, "a writer was refused");
    /* reload-keys: operators only */
    const char *reload[] = {"reload-keys", NULL};
    cr_assert_eq(itest_invctl(h, "reload.out", NULL, reload, NULL), 0, "the operator's reload");
    const char *reload_as_reader[] = {"--key", reader_key, "reload-keys", "query", NULL};
    cr_assert_eq(itest_invctl(h, "reload-reader.out", NULL, reload_as_reader, NULL), 2);
    itest_path_in(h, "reload-reader.out", err, sizeof err);
    cr_assert(itest_file_has(err, "forbidden: role reader cannot ReloadKeys"), "%s", err);
}

/* ---- a flood of strangers ------------------------------------------------ */

#define FLOOD_MS 4000
#define HALF_OPEN 200

/* The child's flood: handshakes with an unknown key as fast as one process
 * makes them, garbage where a greeting belongs, and HALF_OPEN connections
 * that stop mid-greeting and stay open.  Exits with the handshakes tried,
 * in thousands (an exit status holds 8 bits). */
static void
flood(const char *endpoint)
{
    void *ctx = zmq_ctx_new();
    keypair_t k;
    char path[512], server[KEY_Z85_LEN + 1], why[256];
    snprintf(path, sizeof path, "%s/keys/query.pub", harness_dir(h));
    if (keypair_generate(&k) != 0 || pubkey_read(path, server, why, sizeof why) != 0)
        _exit(255);
    const char *file = endpoint + strlen("ipc://");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", file);
    int held[HALF_OPEN];
    for (int i = 0; i < HALF_OPEN; i++) {
        held[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(held[i], (struct sockaddr *)&sa, sizeof sa) == 0)
            (void)!write(held[i], "\xff\0\0\0\0\0\0\0\x01\x7f\x03", 11); /* a greeting's start */
    }
    long tried = 0;
    int64_t end = proc_mono_ms() + FLOOD_MS;
    while (proc_mono_ms() < end) {
        void *s = keyed_dealer(ctx, &k, server);
        zmq_connect(s, endpoint);
        zmq_send(s, "x", 1, ZMQ_DONTWAIT);
        zmq_close(s);
        int g = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(g, (struct sockaddr *)&sa, sizeof sa) == 0)
            (void)!write(g, "GET / HTTP/1.0\r\n\r\n garbage instead of a greeting", 49);
        close(g);
        tried++;
    }
    zmq_ctx_term(ctx);
    for (int i = 0; i < HALF_OPEN; i++)
        close(held[i]);
    _exit((int)(tried / 1000 > 250 ? 250 : tried / 1000));
}

/* Status of the query service as the operator: the reply's latency in
 * microseconds, or -1 without one within 5 s. */
static int64_t
status_us(void)
{
    harness_reply_t r;
    int64_t t0 = proc_mono_us();
    int rc = harness_status(h, "query", 5000, &r);
    int64_t us = proc_mono_us() - t0;
    if (rc == 0)
        harness_reply_fini(&r);
    return rc == 0 ? us : -1;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

Test(security, a_flood_of_refused_handshakes_leaves_the_allowed_served_and_memory_bounded,
     .init = setup, .fini = teardown, .timeout = 120)
{
    security_use_key(&operator_key);
    pid_t query = harness_daemon_pid(h, "query");
    long rss_before = itest_proc_kib(query, "VmRSS");
    int64_t quiet[20], loud[40];
    for (int i = 0; i < 20; i++)
        cr_assert_geq(quiet[i] = status_us(), 0, "no Status before the flood");
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        flood(harness_endpoint(h, "query"));
    harness_sleep_ms(300);
    int n = 0;
    for (int64_t end = proc_mono_ms() + FLOOD_MS - 800; proc_mono_ms() < end && n < 40;
         harness_sleep_ms(50))
        cr_assert_geq(loud[n++] = status_us(), 0, "the operator was not answered during the flood");
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255, "the flood did not run");
    long tried = 1000L * WEXITSTATUS(status);
    long rss_after = itest_proc_kib(query, "VmRSS");
    qsort(quiet, 20, sizeof quiet[0], cmp_i64);
    qsort(loud, (size_t)n, sizeof loud[0], cmp_i64);
    fprintf(stderr,
            "flood: ~%ld connection attempts with an unknown key and as many garbage greetings in "
            "%d ms, %d held "
            "half-open; operator Status median %lld us before, %lld us during (max %lld); query "
            "RSS %ld -> %ld KiB\n",
            tried, FLOOD_MS, HALF_OPEN, (long long)quiet[10], (long long)loud[n / 2],
            (long long)loud[n - 1], rss_before, rss_after);
    cr_assert_geq(tried, 1000, "the flood made only %ld attempts", tried);
    cr_assert_geq(n, 5, "only %d answers during the flood", n);
#ifndef __SANITIZE_ADDRESS__ /* ASan holds freed memory in its 256 MiB quarantine */
    cr_assert_lt(rss_after - rss_before, 64 * 1024, "the query service grew by %ld KiB",
                 rss_after - rss_before);
#endif
    cr_assert(harness_daemon_alive(h, "query"));
    cr_assert_geq(itest_log_count(h, "query", "refused a connection to"), 1);
}
