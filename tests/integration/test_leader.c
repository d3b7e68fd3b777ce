/* Following the leader (issue 26; docs/protocol.md, section 2, not_leader):
 * clients and subscribers given a list of endpoints whose first is a
 * stand-in for a standby daemon (a ROUTER answering `not_leader`, naming
 * the real daemon or no one, or never answering, or naming junk; a PUB
 * replaying duplicates and old heartbeats) reach the real daemons, every
 * command is accepted once, and read models end equal to a fresh build.
 * The real standby mode does not exist yet: the stand-ins speak its
 * replies (rpc_not_leader, the server side's encoder). */
#include "bus.h"
#include "harness.h"
#include "itest.h"
#include "proc.h"
#include "rpc.h"
#include "security.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(leader, .fini = cleanup, .timeout = 240);

/* ---- a stand-in standby ROUTER -------------------------------------------- */

typedef enum {
    SB_LEADER,      /* not_leader naming `leader` */
    SB_ELECTION,    /* not_leader naming no one */
    SB_SILENT,      /* takes every request, answers none */
    SB_JUNK_INT,    /* not_leader whose leader is an integer */
    SB_JUNK_HUGE,   /* ... a 10 KB string */
    SB_JUNK_NOT_EP, /* ... a string that is not an endpoint */
} standby_mode_t;

typedef struct {
    void *zctx;
    void *router;
    char ep[256];       /* where it is bound */
    char leader[256];   /* SB_LEADER: the endpoint it names */
    bool command_shape; /* answers as the command ROUTER (command_id, fields) */
    standby_mode_t mode;
    atomic_int requests; /* requests received */
    atomic_bool stop;
    pthread_t thread;
} standby_t;

/* {ok: false, error: not_leader, message, leader: <hostile>} */
static void
pack_junk(codec_writer_t *w, standby_mode_t mode)
{
    codec_writer_reset(w);
    msgpack_pack_map(&w->pk, 4);
    codec_pack_kv_bool(&w->pk, "ok", false);
    codec_pack_kv_str(&w->pk, "error", "not_leader");
    codec_pack_kv_str(&w->pk, "message", "not leader: follow me");
    codec_pack_cstr(&w->pk, "leader");
    if (mode == SB_JUNK_INT) {
        msgpack_pack_int64(&w->pk, 5550);
    } else if (mode == SB_JUNK_HUGE) {
        static char big[10 * 1024 + 1];
        memset(big, 'a', sizeof big - 1);
        memcpy(big, "tcp://", 6);
        memcpy(big + sizeof big - 6, ":5550", 5);
        codec_pack_cstr(&w->pk, big);
    } else {
        codec_pack_cstr(&w->pk, "\x1b[31mtcp://evil host:5550; rm -rf /");
    }
}

static void *
standby_main(void *arg)
{
    standby_t *s = arg;
    static const rpc_proto_t plain = {.bad_frames = "x", .too_large = "x", .unknown = "x"};
    codec_writer_t w;
    codec_writer_init(&w);
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        bus_msg_t m;
        if (bus_recv(s->router, &m, ZMQ_DONTWAIT) != 0)
            continue;
        atomic_fetch_add(&s->requests, 1);
        size_t len;
        const void *body = bus_body(&m, &len);
        if (memmem(body, len, "\xa6Status", 7)) { /* a standby answers Status, with its role */
            static const char standby_status[] = "\x82\xa2ok\xc3\xa4role\xa7standby";
            bus_reply(s->router, &m, standby_status, sizeof standby_status - 1);
            bus_msg_close(&m);
            continue;
        }
        const rpc_proto_t *p = s->command_shape ? &rpc_command_proto : &plain;
        const char *what = s->command_shape ? "command service" : "outbox relay";
        if (s->mode == SB_LEADER)
            rpc_not_leader(p, &w, NULL, what, s->leader);
        else if (s->mode == SB_ELECTION)
            rpc_not_leader(p, &w, NULL, what, "");
        else if (s->mode != SB_SILENT)
            pack_junk(&w, s->mode);
        if (s->mode != SB_SILENT)
            bus_reply(s->router, &m, w.buf.data, w.buf.size);
        bus_msg_close(&m);
    }
    codec_writer_fini(&w);
    return NULL;
}

/* Binds a stand-in for `server` ("command", "relay": its CURVE key pair)
 * at ipc://<tmp>/<name>.sock and starts answering in mode. */
static void
standby_start(standby_t *s, const char *name, const char *server, standby_mode_t mode,
              const char *leader)
{
    memset(s, 0, sizeof *s);
    char why[512];
    snprintf(s->ep, sizeof s->ep, "ipc://%s/%s.sock", harness_dir(h), name);
    snprintf(s->leader, sizeof s->leader, "%s", leader ? leader : "");
    s->mode = mode;
    s->command_shape = strcmp(server, "command") == 0;
    cr_assert_eq(security_expect_server(s->ep, server, NULL, why, sizeof why), 0, "%s", why);
    cr_assert_eq(security_bind_as(s->ep, server, why, sizeof why), 0, "%s", why);
    s->zctx = zmq_ctx_new();
    s->router = bus_bind(s->zctx, ZMQ_ROUTER, s->ep);
    cr_assert_not_null(s->router, "cannot bind %s", s->ep);
    cr_assert_eq(pthread_create(&s->thread, NULL, standby_main, s), 0);
}

static void
standby_stop(standby_t *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    bus_close(&s->router);
    zmq_ctx_term(s->zctx);
}

/* "a,b" into out. */
static const char *
list2(char *out, size_t cap, const char *a, const char *b)
{
    snprintf(out, cap, "%s,%s", a, b);
    return out;
}

static char *
tmp_file(const char *name, char *buf, size_t cap)
{
    char path[512];
    itest_path_in(h, name, path, sizeof path);
    return itest_read_file(path, buf, cap);
}

/* Sends the same command again from the test: accepted earlier means a
 * duplicate with the first result; the stream's version says it was
 * appended once. */
static void
assert_accepted_once(const char *command_id, const char *sid)
{
    command_t c;
    command_reply_t r;
    itest_supplier_cmd(&c, command_id, sid, "Leader Supplies");
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &r), 0);
    cr_assert(r.accepted && r.duplicate, "%s was not accepted before (%s)", command_id, r.message);
    cr_assert_eq(r.version, 1, "%s appended more than once", command_id);
}

/* ---- invctl ----------------------------------------------------------------- */

/* Waits until the relay serves position `pos` through catch-up (what it
 * serves may lag the store for a moment); its first page into page. */
static void
wait_served(int64_t pos, harness_reply_t *page)
{
    static const char read[] = "\x83\xa4type\xaaReadEvents\xa5"
                               "after\x00\xa5limit\x64";
    int64_t deadline = proc_mono_ms() + ITEST_WAIT_MS, served = 0;
    for (;;) {
        cr_assert_eq(harness_request(h, "catchup", read, sizeof read - 1, ITEST_TIMEOUT_MS, page),
                     0);
        harness_reply_int(page, "head", &served);
        if (served >= pos || proc_mono_ms() > deadline)
            break;
        harness_reply_fini(page);
        harness_sleep_ms(20);
    }
    cr_assert_geq(served, pos, "the relay serves %lld of %lld", (long long)served, (long long)pos);
}


Test(leader, invctl_follows_not_leader_to_the_named_leader)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    standby_t sb, rsb;
    /* the list holds only the stand-in: the leader it names is followed all
     * the same (a valid endpoint, the same kind of daemon) */
    standby_start(&sb, "standby-command", "command", SB_LEADER, harness_endpoint(h, "command"));
    const char *args[] = {
        "--command-ep", sb.ep,    "--command-id",    "c-nl-1", "register-supplier",
        "s1",           "--name", "Leader Supplies", NULL};
    int rc = itest_invctl(h, "nl1.out", "nl1.err", args, NULL);
    char err[4096];
    tmp_file("nl1.err", err, sizeof err);
    cr_assert_eq(rc, 0, "invctl: %d, %s", rc, err);
    cr_assert(strstr(err, harness_endpoint(h, "command")) && strstr(err, "answered at"),
              "no note of the endpoint that answered: %s", err);
    cr_assert_eq(atomic_load(&sb.requests), 1);
    assert_accepted_once("c-nl-1", "s1");

    /* history through a stand-in relay naming the real catch-up endpoint */
    harness_reply_t page;
    wait_served(1, &page);
    harness_reply_fini(&page);
    standby_start(&rsb, "standby-relay", "relay", SB_LEADER, harness_endpoint(h, "catchup"));
    char relays[600];
    const char *hargs[] = {
        "--relay-ep", list2(relays, sizeof relays, rsb.ep, harness_endpoint(h, "catchup")),
        "--json",     "history",
        "--stream",   "supplier-s1",
        NULL};
    rc = itest_invctl(h, "nl1h.out", "nl1h.err", hargs, NULL);
    char out[8192];
    tmp_file("nl1h.out", out, sizeof out);
    cr_assert_eq(rc, 0, "history: %d %s", rc, tmp_file("nl1h.err", err, sizeof err));
    cr_assert(strstr(out, "SupplierRegistered"), "%s", out);
    cr_assert_null(strstr(out, "answered at"), "the note is not on stdout");
    cr_assert_geq(atomic_load(&rsb.requests), 1);
    standby_stop(&rsb);
    standby_stop(&sb);
}

Test(leader, invctl_waits_out_an_election_then_tries_the_next)
{
    harness_opts_t o = {.daemons = HD_COMMAND};
    h = harness_start(&o);
    cr_assert_not_null(h);
    standby_t sb;
    standby_start(&sb, "standby-command", "command", SB_ELECTION, NULL);
    char list[600];
    const char *args[] = {"--command-ep",
                          list2(list, sizeof list, sb.ep, harness_endpoint(h, "command")),
                          "--command-id",
                          "c-nl-2",
                          "register-supplier",
                          "s2",
                          "--name",
                          "Leader Supplies",
                          NULL};
    int64_t ms;
    int rc = itest_invctl(h, "nl2.out", "nl2.err", args, &ms);
    char err[4096];
    cr_assert_eq(rc, 0, "invctl: %d, %s", rc, tmp_file("nl2.err", err, sizeof err));
    cr_assert_geq(ms, 100, "the election's pause (100 ms) was not taken: %lld ms", (long long)ms);
    cr_assert_eq(atomic_load(&sb.requests), 1);
    assert_accepted_once("c-nl-2", "s2");
    standby_stop(&sb);
}

Test(leader, invctl_leaves_a_silent_endpoint_within_its_deadline)
{
    harness_opts_t o = {.daemons = HD_COMMAND};
    h = harness_start(&o);
    cr_assert_not_null(h);
    standby_t sb;
    standby_start(&sb, "standby-command", "command", SB_SILENT, NULL);
    char list[600];
    const char *args[] = {"--command-ep",
                          list2(list, sizeof list, sb.ep, harness_endpoint(h, "command")),
                          "--timeout-ms",
                          "3000",
                          "--command-id",
                          "c-nl-3",
                          "register-supplier",
                          "s3",
                          "--name",
                          "Leader Supplies",
                          NULL};
    int64_t ms;
    int rc = itest_invctl(h, "nl3.out", "nl3.err", args, &ms);
    char err[4096];
    cr_assert_eq(rc, 0, "invctl: %d, %s", rc, tmp_file("nl3.err", err, sizeof err));
    cr_assert_lt(ms, 3000 + 500, "over the deadline: %lld ms", (long long)ms);
    cr_assert_eq(atomic_load(&sb.requests), 1);
    assert_accepted_once("c-nl-3", "s3");
    standby_stop(&sb);
}

Test(leader, invctl_refuses_junk_leaders)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    static const standby_mode_t modes[] = {SB_JUNK_INT, SB_JUNK_HUGE, SB_JUNK_NOT_EP};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        standby_t sb, rsb;
        standby_start(&sb, "standby-command", "command", modes[i], NULL);
        standby_start(&rsb, "standby-relay", "relay", modes[i], NULL);
        char list[600], cid[32], sid[32];
        snprintf(cid, sizeof cid, "c-junk-%zu", i);
        snprintf(sid, sizeof sid, "sj%zu", i);
        const char *args[] = {"--command-ep",
                              list2(list, sizeof list, sb.ep, harness_endpoint(h, "command")),
                              "--command-id",
                              cid,
                              "register-supplier",
                              sid,
                              "--name",
                              "X",
                              NULL};
        int rc = itest_invctl(h, "junk.out", "junk.err", args, NULL);
        char err[4096], out[4096];
        tmp_file("junk.err", err, sizeof err);
        cr_assert_eq(rc, 1, "mode %zu: exit %d (a crash is -1 or >= 128): %s", i, rc, err);
        cr_assert(strstr(err, "not followed"), "mode %zu: %s", i, err);
        cr_assert_null(strstr(err, "evil"), "the server's junk reached the terminal: %s", err);
        cr_assert_lt(strlen(err), 1024, "the 10 KB leader was printed");
        /* the same for a catch-up read, in JSON */
        const char *hargs[] = {"--relay-ep", rsb.ep,        "--json", "history",
                               "--stream",   "supplier-s1", NULL};
        rc = itest_invctl(h, "junkh.out", "junkh.err", hargs, NULL);
        tmp_file("junkh.out", out, sizeof out);
        cr_assert_eq(rc, 1, "history, mode %zu: exit %d", i, rc);
        cr_assert(strstr(out, "\"error\": \"not_leader\"") ||
                      strstr(out, "\"error\":\"not_leader\""),
                  "mode %zu: %s", i, out);
        standby_stop(&rsb);
        standby_stop(&sb);
    }
    /* nothing was sent on to the real command service */
    cr_assert_eq(harness_status_int(h, "catchup", "head", ITEST_TIMEOUT_MS), 0);
}

Test(leader, invctl_status_shows_every_endpoint_of_a_list_with_its_role)
{
    harness_opts_t o = {.daemons = HD_COMMAND};
    h = harness_start(&o);
    cr_assert_not_null(h);
    standby_t sb;
    standby_start(&sb, "standby-command", "command", SB_LEADER, harness_endpoint(h, "command"));
    char list[600], out[4096], err[2048];
    list2(list, sizeof list, sb.ep, harness_endpoint(h, "command"));
    const char *args[] = {"--command-ep", list, "status", "--daemon", "command", NULL};
    int rc = itest_invctl(h, "st.out", "st.err", args, NULL);
    tmp_file("st.out", out, sizeof out);
    cr_assert_eq(rc, 0, "status: %d %s %s", rc, out, tmp_file("st.err", err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "%s  standby", sb.ep);
    cr_assert(strstr(out, want), "no standby row: %s", out);
    cr_assert(strstr(out, harness_endpoint(h, "command")), "no row of the real one: %s", out);
    const char *jargs[] = {"--command-ep", list, "--json", "status", "--daemon", "command", NULL};
    rc = itest_invctl(h, "stj.out", "stj.err", jargs, NULL);
    tmp_file("stj.out", out, sizeof out);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "{\"command\":[{\"endpoint\":") && strstr(out, "\"role\":\"standby\""),
              "%s", out);
    standby_stop(&sb);
}

/* ---- subscribers -------------------------------------------------------------- */

/* A few events in the store. */
static int64_t
make_events(const char *tag, int n)
{
    command_t c;
    char cid[64], sid[32], pid[32];
    snprintf(cid, sizeof cid, "%s-s", tag);
    snprintf(sid, sizeof sid, "%s-s", tag);
    itest_supplier_cmd(&c, cid, sid, "Leader Supplies");
    int64_t pos = itest_accept(h, &c);
    for (int i = 0; i < n; i++) {
        snprintf(cid, sizeof cid, "%s-p%d", tag, i);
        snprintf(pid, sizeof pid, "%s-p%d", tag, i);
        itest_product_cmd(&c, cid, pid, sid, pid, "Thing", "", 100 + i, 50, 10, 2);
        pos = itest_accept(h, &c);
    }
    return pos;
}

/* projector --mode once with --catchup list into db; asserts it exits 0
 * and equals a fresh build. */
static void
once_through(const char *list, const char *db_name)
{
    char db[512], bind[512], log[512];
    itest_path_in(h, db_name, db, sizeof db);
    snprintf(bind, sizeof bind, "ipc://%s/%s.sock", harness_dir(h), db_name);
    snprintf(log, sizeof log, "%s/%s.log", harness_dir(h), db_name);
    char *argv[] = {(char *)harness_binary("projector"),
                    "--db",
                    db,
                    "--events",
                    (char *)harness_endpoint(h, "events"),
                    "--catchup",
                    (char *)list,
                    "--bind",
                    bind,
                    "--mode",
                    "once",
                    NULL};
    cr_assert_eq(itest_run(argv, log, false), 0, "projector --mode once failed (see %s)", log);
    itest_assert_equals_fresh(h, "projector", db);
}

Test(leader, a_subscriber_catches_up_through_the_leader_of_its_list)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    harness_reply_t page;
    wait_served(make_events("sub", 5), &page);
    harness_reply_fini(&page);
    static const standby_mode_t modes[] = {SB_LEADER, SB_ELECTION, SB_SILENT};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        standby_t sb;
        standby_start(&sb, "standby-relay", "relay", modes[i], harness_endpoint(h, "catchup"));
        char list[600], db[32];
        snprintf(db, sizeof db, "once-%zu.db", i);
        once_through(list2(list, sizeof list, sb.ep, harness_endpoint(h, "catchup")), db);
        cr_assert_geq(atomic_load(&sb.requests), 1, "mode %zu: the stand-in was not asked", i);
        standby_stop(&sb);
    }
}

/* A stand-in PUB replaying what the relay published and heartbeats of old
 * and future heads. */
typedef struct {
    void *zctx, *pub;
    char ep[256];
    atomic_bool stop;
    pthread_t thread;
    void *page; /* a ReadEvents page of the store, its events replayed */
    size_t page_len;
} replay_t;

static void *
replay_main(void *arg)
{
    replay_t *r = arg;
    static const char old_beat[] = "\x81\xa4head\x01";                 /* {head: 1} */
    static const char far_beat[] = "\x81\xa4head\xce\x00\x0f\x42\x40"; /* {head: 10^6} */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    codec_writer_t w;
    codec_writer_init(&w);
    if (codec_parse(r->page, r->page_len, &u, &why) == 0) {
        const msgpack_object *events = codec_map_get(&u.data, "events");
        if (events)
            msgpack_pack_object(&w.pk, *events);
    }
    for (int i = 0; !atomic_load(&r->stop); i++) {
        if (w.buf.size)
            bus_send(r->pub, TOPIC_EVENTS, w.buf.data, w.buf.size, ZMQ_DONTWAIT);
        if (i % 5 == 0)
            bus_send(r->pub, TOPIC_HEARTBEAT, old_beat, sizeof old_beat - 1, ZMQ_DONTWAIT);
        if (i % 25 == 0)
            bus_send(r->pub, TOPIC_HEARTBEAT, far_beat, sizeof far_beat - 1, ZMQ_DONTWAIT);
        usleep(20000);
    }
    codec_writer_fini(&w);
    msgpack_unpacked_destroy(&u);
    return NULL;
}

Test(leader, a_subscriber_on_two_pubs_ends_equal_to_a_fresh_build)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    int64_t first = make_events("two", 6);
    /* the stand-in's replay: the store's first page once the relay serves it */
    harness_reply_t page;
    wait_served(first, &page);
    replay_t r = {.page = page.data, .page_len = page.len};
    char why[512];
    snprintf(r.ep, sizeof r.ep, "ipc://%s/standby-pub.sock", harness_dir(h));
    cr_assert_eq(security_expect_server(r.ep, "relay", NULL, why, sizeof why), 0, "%s", why);
    cr_assert_eq(security_bind_as(r.ep, "relay", why, sizeof why), 0, "%s", why);
    r.zctx = zmq_ctx_new();
    r.pub = bus_bind(r.zctx, ZMQ_PUB, r.ep);
    cr_assert_not_null(r.pub);
    cr_assert_eq(pthread_create(&r.thread, NULL, replay_main, &r), 0);

    /* a projector on both PUBs, live */
    char db[512], bind[512], log[512], pubs[600];
    itest_path_in(h, "two.db", db, sizeof db);
    snprintf(bind, sizeof bind, "ipc://%s/two.sock", harness_dir(h));
    snprintf(log, sizeof log, "%s/two.log", harness_dir(h));
    char *argv[] = {(char *)harness_binary("projector"),
                    "--db",
                    db,
                    "--events",
                    (char *)list2(pubs, sizeof pubs, harness_endpoint(h, "events"), r.ep),
                    "--catchup",
                    (char *)harness_endpoint(h, "catchup"),
                    "--bind",
                    bind,
                    NULL};
    pid_t pid = itest_start(argv, log, true);
    cr_assert_gt(pid, 0);
    cr_assert_eq(security_expect_server(bind, "projector", NULL, why, sizeof why), 0, "%s", why);
    harness_sleep_ms(500); /* the replay runs meanwhile */
    int64_t head = make_events("live", 10);
    /* until its checkpoint reaches the head, through its control socket */
    void *ctx = zmq_ctx_new();
    int64_t at = -1, dups = 0, deadline = proc_mono_ms() + ITEST_WAIT_MS;
    static const char status[] = "\x81\xa4type\xa6Status";
    while ((at < head || dups == 0) && proc_mono_ms() < deadline) {
        void *s = bus_connect(ctx, ZMQ_DEALER, bind);
        void *reply = NULL;
        size_t len = 0;
        if (s && bus_request(s, status, sizeof status - 1, 1000, &reply, &len) == 0) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            const char *w;
            if (codec_parse(reply, len, &u, &w) == 0) {
                codec_get_int(codec_map_get(&u.data, "checkpoint"), &at);
                codec_get_int(codec_map_get(&u.data, "duplicates"), &dups);
            }
            msgpack_unpacked_destroy(&u);
        }
        free(reply);
        bus_close(&s);
        if (at < head || dups == 0)
            harness_sleep_ms(50);
    }
    zmq_ctx_term(ctx);
    cr_assert_geq(at, head, "the projector on two PUBs stopped at %lld of %lld", (long long)at,
                  (long long)head);
    cr_assert_gt(dups, 0, "the stand-in's replays never reached the projector");
    harness_sleep_ms(300); /* more duplicates and old heartbeats after the head */
    kill(pid, SIGTERM);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the projector did not exit 0 (see %s)", log);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    bus_close(&r.pub);
    zmq_ctx_term(r.zctx);
    harness_reply_fini(&page);
    itest_assert_equals_fresh(h, "projector", db);
}

/* ---- invbench ------------------------------------------------------------------ */

Test(leader, invbench_follows_not_leader_and_each_command_is_accepted_once)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    h = harness_start(&o);
    cr_assert_not_null(h);
    standby_t sb;
    standby_start(&sb, "standby-command", "command", SB_LEADER, harness_endpoint(h, "command"));
    char list[600], acks[512], out[512];
    itest_path_in(h, "acks.log", acks, sizeof acks);
    itest_path_in(h, "bench.out", out, sizeof out);
    const char *args[] = {"--count",  "300",      "--products", "5",         "--connections",
                          "2",        "--window", "8",          "--ack-log", acks,
                          "--format", "json",     NULL};
    char *argv[40];
    itest_invbench_argv(h, argv, 40, args);
    argv[2] = (char *)list2(list, sizeof list, sb.ep, harness_endpoint(h, "command"));
    int rc = itest_run(argv, out, false);
    char text[4096];
    cr_assert_eq(rc, 0, "invbench: %d %s", rc, itest_read_file(out, text, sizeof text));
    itest_read_file(out, text, sizeof text);
    cr_assert(strstr(text, "\"acked\":300,"), "%s", text);
    cr_assert(strstr(text, "\"max_ack_gap_ms\":"), "%s", text);
    cr_assert_null(strstr(text, "\"failovers\":0,"), "no move was counted: %s", text);
    cr_assert_eq(itest_file_count(acks, " accepted "), 300);
    cr_assert_geq(atomic_load(&sb.requests), 1);
    /* the setup (a supplier, five products) and the 300 commands, each once */
    cr_assert_eq(harness_status_int(h, "catchup", "head", ITEST_TIMEOUT_MS), 1 + 5 + 300);
    standby_stop(&sb);
}
