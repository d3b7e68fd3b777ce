/* Integration tests of the event log's hash chain with the real daemons:
 * one payload byte of a published event changed with SQL (the sqlite3
 * library, as an operator's sqlite3 shell would) is named by `invctl
 * verify`, by the relay (its log and Status; nothing from it on is
 * published or served) and by the subscribers (Status, no rebuild), and
 * only the commands of the damaged stream fail, in batches shared with
 * other streams' commands. */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static harness_t *h;

static void
setup(void)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "harness did not start");
}

static void
teardown(void)
{
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

TestSuite(chain, .init = setup, .fini = teardown, .timeout = 120);

static void
create_product(const char *cid, const char *pid)
{
    command_t c;
    itest_product_cmd(&c, cid, pid, "s1", pid, "Chained widget", "", 500, 200, 1000, 1);
    itest_accept(h, &c);
}

static void
sell_cmd(command_t *c, const char *cid, const char *pid)
{
    itest_cmd(c, CMD_SELL_PRODUCT, cid);
    fields_set_str(&c->data, F_PRODUCT_ID, pid);
    fields_set_str(&c->data, F_ORDER_ID, cid);
    fields_set_int(&c->data, F_QUANTITY, 1);
}

static int64_t
sell(const char *cid, const char *pid)
{
    command_t c;
    sell_cmd(&c, cid, pid);
    return itest_accept(h, &c);
}

/* Sends n commands on one DEALER without waiting, so that the
 * command-service takes them into one batch, then collects the n replies
 * (in order of the commands). */
static void
send_together(command_t *cmds, int n, command_reply_t *replies)
{
    void *zctx = zmq_ctx_new();
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    cr_assert_eq(zmq_connect(d, harness_endpoint(h, "command")), 0);
    harness_sleep_ms(100); /* connected before the burst */
    codec_writer_t w;
    codec_writer_init(&w);
    for (int i = 0; i < n; i++) {
        codec_writer_reset(&w);
        codec_pack_command(&w, &cmds[i]);
        cr_assert_eq(zmq_send(d, w.buf.data, w.buf.size, 0), (int)w.buf.size);
    }
    codec_writer_fini(&w);
    int timeout = ITEST_TIMEOUT_MS;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (int got = 0; got < n;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, d, 0), 0, "a reply did not come");
        bool more = zmq_msg_more(&m);
        if (!more) {
            command_reply_t r;
            cr_assert_eq(codec_decode_command_reply(zmq_msg_data(&m), zmq_msg_size(&m), &r), 0);
            for (int i = 0; i < n; i++)
                if (strcmp(r.command_id, cmds[i].command_id) == 0)
                    replies[i] = r;
            got++;
        }
        zmq_msg_close(&m);
    }
    zmq_close(d);
    zmq_ctx_term(zctx);
}

/* Flips the last byte of the payload of the event at position (its last
 * field's value) with SQL from a connection of its own. */
static void
tamper(int64_t position)
{
    char path[512], sql[256];
    snprintf(path, sizeof path, "%s/events.db", harness_dir(h));
    snprintf(sql, sizeof sql,
             "UPDATE events SET payload = substr(payload, 1, length(payload) - 1)"
             " || (CASE WHEN substr(payload, -1) = x'01' THEN x'02' ELSE x'01' END)"
             " WHERE position = %lld",
             (long long)position);
    sqlite3 *db;
    char *err = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
    cr_assert_eq(sqlite3_changes(db), 1);
    sqlite3_close(db);
}

/* Runs `invctl verify <events.db>`; its exit code, its output in out. */
static int
invctl_verify(char *out, size_t cap)
{
    char db[512], out_path[512];
    snprintf(db, sizeof db, "%s/events.db", harness_dir(h));
    snprintf(out_path, sizeof out_path, "%s/verify.out", harness_dir(h));
    char *argv[] = {(char *)harness_binary("invctl"), "verify", db, NULL};
    int rc = itest_run(argv, out_path, true);
    itest_read_file(out_path, out, cap);
    return rc;
}

Test(chain, a_changed_event_is_named_everywhere_and_fails_only_its_streams_commands)
{
    command_t c;
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "reg-s1");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme");
    itest_accept(h, &c);
    create_product("c-p1", "p1");
    create_product("c-p2", "p2");
    int64_t bad = 0, last = 0;
    for (int i = 0; i < 4; i++) {
        char cid[32];
        snprintf(cid, sizeof cid, "s-p1-%d", i);
        int64_t p = sell(cid, "p1");
        if (i == 1)
            bad = p; /* a sale of p1 in the middle of the log */
        snprintf(cid, sizeof cid, "s-p2-%d", i);
        last = sell(cid, "p2");
    }
    cr_assert_eq(harness_wait_position(h, "projector", last, ITEST_WAIT_MS), 0);
    char out[1024];
    cr_assert_eq(invctl_verify(out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "chain intact"), "%s", out);

    /* The relay and the command-service are restarted on the changed
     * store (nothing cached); the subscribers keep running. */
    cr_assert_eq(harness_daemon_stop(h, "command"), 0);
    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);
    tamper(bad);
    int rc = invctl_verify(out, sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    char needle[64];
    snprintf(needle, sizeof needle, "broken at position %lld", (long long)bad);
    cr_assert(strstr(out, needle), "%s", out);
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(harness_daemon_start(h, "command"), 0);

    snprintf(needle, sizeof needle, "event store damaged at position %lld", (long long)bad);
    itest_wait_log_line(h, "relay", needle);
    cr_assert_eq(harness_status_int(h, "catchup", "store_damaged_at", ITEST_TIMEOUT_MS), bad);

    /* p1's commands fail, naming the position; p2's, in the same burst, go in. */
    command_t cmds[6];
    command_reply_t replies[6];
    for (int i = 0; i < 6; i++) {
        char cid[32];
        snprintf(cid, sizeof cid, "after-%d", i);
        sell_cmd(&cmds[i], cid, i % 3 == 0 ? "p1" : "p2");
    }
    send_together(cmds, 6, replies);
    int64_t head = 0;
    snprintf(needle, sizeof needle, "damaged at position %lld", (long long)bad);
    for (int i = 0; i < 6; i++) {
        if (i % 3 == 0) {
            cr_assert_not(replies[i].accepted, "a command on the damaged stream went in");
            cr_assert_eq(replies[i].error, REJ_UNAVAILABLE);
            cr_assert(strstr(replies[i].message, needle), "%s", replies[i].message);
        } else {
            cr_assert(replies[i].accepted, "%s: %s", cmds[i].command_id, replies[i].message);
            head = replies[i].position > head ? replies[i].position : head;
        }
    }
    cr_assert_gt(head, last);
    cr_assert_eq(harness_status_int(h, "command", "store_damaged_at", ITEST_TIMEOUT_MS), bad);

    /* Nothing from the damaged position on is published or served: the new
     * events stay where they are, and the subscribers say why. */
    harness_sleep_ms(1500);
    int64_t cp = 0;
    cr_assert_eq(harness_checkpoint(h, "projector", &cp), 0);
    cr_assert_eq(cp, last, "the projector moved past the damage to %lld", (long long)cp);
    cr_assert_eq(harness_status_int(h, "projector", "store_damaged_at", ITEST_TIMEOUT_MS), bad);
    cr_assert_eq(harness_status_int(h, "projector", "rebuilds", ITEST_TIMEOUT_MS), 0);
    cr_assert_eq(harness_status_int(h, "audit", "store_damaged_at", ITEST_TIMEOUT_MS), bad);
    cr_assert_eq(harness_status_int(h, "alert-api", "store_damaged_at", ITEST_TIMEOUT_MS), bad);

    /* A catch-up read serves the events before the damage, and names it. */
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "ReadEvents");
    codec_pack_kv_int(&w.pk, "after", bad - 3);
    harness_reply_t r;
    cr_assert_eq(harness_request(h, "catchup", w.buf.data, w.buf.size, ITEST_TIMEOUT_MS, &r), 0);
    itest_assert_ok(&r, "ReadEvents");
    const msgpack_object *events = harness_reply_get(&r, "events");
    cr_assert_eq(events->via.array.size, 2, "positions bad - 2 and bad - 1 only");
    int64_t damaged = 0, page_head = 0;
    cr_assert_eq(harness_reply_int(&r, "damaged_at", &damaged), 0);
    cr_assert_eq(damaged, bad);
    cr_assert_eq(harness_reply_int(&r, "head", &page_head), 0);
    cr_assert_eq(page_head, bad - 1);
    harness_reply_fini(&r);
    codec_writer_fini(&w);
}
