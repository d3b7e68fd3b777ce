/* Every request/reply endpoint against hostile input (docs/protocol.md):
 * garbage, an empty frame, wrong types, unknown types, oversize bodies,
 * invalid UTF-8 and extra frames each get {ok: false, error: "malformed"}
 * (or "validation" for bad UTF-8 in a text field), and the daemon keeps
 * serving: it still answers Status and its process is alive. */
#include "bus.h"
#include "harness.h"
#include "itest.h"
#include "proc.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(bad_input, .fini = cleanup, .timeout = 240);

/* A bad request: {type: T, key: value} with value a string where it must
 * not be one (or not valid UTF-8), or, where that cannot say it, a packer. */
typedef struct {
    void (*pack)(msgpack_packer *pk); /* NULL: {type, key: value} */
    const char *type, *key, *value;
} bad_request_t;

/* One ROUTER under test: its endpoint, its daemon, and a request with a
 * wrong-typed field and one with invalid UTF-8 in a text field. */
typedef struct {
    const char *ep;
    const char *daemon;
    bad_request_t wrong_type;
    bad_request_t bad_utf8;
    bool utf8_is_validation; /* true: must be "validation"; else either code */
} target_t;

/* {type, command_id, data: <a map of n entries the caller packs next>}. */
static void
pack_command_head(msgpack_packer *pk, const char *type, const char *command_id, size_t n)
{
    msgpack_pack_map(pk, 3);
    codec_pack_kv_str(pk, "type", type);
    codec_pack_kv_str(pk, "command_id", command_id);
    codec_pack_cstr(pk, "data");
    msgpack_pack_map(pk, n);
}

static void
pack_create_product(msgpack_packer *pk, bool price_as_string)
{
    pack_command_head(pk, "CreateProduct", "bad-1", 8);
    codec_pack_kv_str(pk, "product_id", "p1");
    codec_pack_kv_str(pk, "sku", "SKU-1");
    codec_pack_kv_str(pk, "name", "Hammer");
    codec_pack_kv_str(pk, "supplier_id", "s1");
    if (price_as_string)
        codec_pack_kv_str(pk, "price_cents", "12");
    else
        codec_pack_kv_int(pk, "price_cents", 12);
    codec_pack_kv_int(pk, "cost_price_cents", 5);
    codec_pack_kv_int(pk, "stock", 1);
    codec_pack_kv_int(pk, "low_stock_threshold", 1);
}

static void
command_wrong_type(msgpack_packer *pk)
{
    pack_create_product(pk, true);
}

static void
command_bad_utf8(msgpack_packer *pk)
{
    pack_command_head(pk, "RegisterSupplier", "bad-2", 2);
    codec_pack_kv_str(pk, "supplier_id", "s1");
    codec_pack_kv_str(pk, "name", "Acme \xff\xfe Tools");
}

/* {type: T, key: "12"} where key must be an integer. */
static void
pack_type_and_string(msgpack_packer *pk, const char *type, const char *key, const char *value)
{
    msgpack_pack_map(pk, 2);
    codec_pack_kv_str(pk, "type", type);
    codec_pack_kv_str(pk, key, value);
}

static void
projector_wrong_type(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    codec_pack_kv_int(pk, "type", 12);
}

static void
projector_bad_utf8(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    codec_pack_kv_str(pk, "type", "Stat\xffus");
}

static void
catchup_wrong_type(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    codec_pack_kv_str(pk, "type", "ReadEvents");
    codec_pack_kv_str(pk, "after", "12");
    codec_pack_kv_int(pk, "limit", 10);
}

static const target_t targets[] = {
    {"command", "command", {.pack = command_wrong_type}, {.pack = command_bad_utf8}, true},
    {"query", "query", {NULL, "ListProducts", "limit", "12"},
     {NULL, "SearchProducts", "q", "ham\xc3\x28mer"}, false},
    {"audit", "audit", {NULL, "SearchAudit", "from_us", "12"},
     {NULL, "SearchAudit", "stream", "product-\xed\xa0\x80"}, false},
    {"alert-api", "alert", {NULL, "ListAlerts", "limit", "12"},
     {NULL, "ListAlerts", "product_id", "p\xff"}, false},
    {"projector", "projector", {.pack = projector_wrong_type}, {.pack = projector_bad_utf8}, false},
    {"catchup", "relay", {.pack = catchup_wrong_type},
     {NULL, "ReadStream", "stream", "product-\xc0\x80"}, false},
};

static void
pack_bad_request(msgpack_packer *pk, const bad_request_t *b)
{
    if (b->pack)
        b->pack(pk);
    else
        pack_type_and_string(pk, b->type, b->key, b->value);
}

/* The daemon still answers a valid request and its process is alive. */
static void
assert_still_serving(const target_t *t, const char *after)
{
    harness_reply_t r;
    cr_assert_eq(harness_status(h, t->ep, ITEST_TIMEOUT_MS, &r), 0,
                 "%s no longer answers Status after %s", t->daemon, after);
    harness_reply_fini(&r);
    pid_t pid = harness_daemon_pid(h, t->daemon);
    cr_assert_gt(pid, 0, "%s is not running after %s", t->daemon, after);
    cr_assert_eq(kill(pid, 0), 0, "%s (pid %d) is gone after %s", t->daemon, (int)pid, after);
    cr_assert(harness_daemon_alive(h, t->daemon), "%s exited after %s", t->daemon, after);
}

/* Sends frames and asserts a rejection with `code` (or, when alt is not
 * NULL, `alt`), then that the daemon still serves. */
static void
expect_rejected(const target_t *t, const char *what, const void *const *frames, const size_t *lens,
                int n, const char *code, const char *alt)
{
    harness_reply_t r;
    cr_assert_eq(harness_request_frames(h, t->ep, frames, lens, n, ITEST_TIMEOUT_MS, &r), 0,
                 "%s: no reply to %s", t->ep, what);
    /* cr_expect: report every refusal that is missing, not just the first */
    cr_expect(r.parsed, "%s: the reply to %s is not one msgpack object", t->ep, what);
    const msgpack_object *ok = harness_reply_get(&r, "ok");
    bool okv = true;
    char err[64], msg[256];
    itest_error(&r, err, sizeof err);
    if (!(ok && codec_get_bool(ok, &okv) == 0 && !okv))
        cr_expect_fail("%s: %s was not refused", t->ep, what);
    else if (!(strcmp(err, code) == 0 || (alt && strcmp(err, alt) == 0)))
        cr_expect_fail("%s: %s got error \"%s\", expected \"%s\"", t->ep, what, err, code);
    else
        cr_expect_eq(harness_reply_str(&r, "message", msg, sizeof msg), 0,
                     "%s: the rejection of %s has no message", t->ep, what);
    harness_reply_fini(&r);
    assert_still_serving(t, what);
}

static void
expect_body(const target_t *t, const char *what, const void *body, size_t len, const char *code,
            const char *alt)
{
    const void *frames[1] = {body};
    size_t lens[1] = {len};
    expect_rejected(t, what, frames, lens, 1, code, alt);
}

static void
run_target(const target_t *t)
{
    assert_still_serving(t, "start-up");
    codec_writer_t w;
    codec_writer_init(&w);

    /* garbage: hand-made hostile bytes and a pseudo-random corpus */
    static const uint8_t c1[] = {0xc1};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t array[] = {0x92, 0xa6, 'S', 't', 'a', 't', 'u', 's', 0x01};
    static const char text[] = "{\"type\": \"Status\"}";
    expect_body(t, "0xc1", c1, sizeof c1, "malformed", NULL);
    expect_body(t, "a map32 of 2^32-1 entries", map32, sizeof map32, "malformed", NULL);
    expect_body(t, "a str32 of 4 GB", str32, sizeof str32, "malformed", NULL);
    expect_body(t, "an array", array, sizeof array, "malformed", NULL);
    expect_body(t, "JSON", text, sizeof text - 1, "malformed", NULL);
    uint64_t s = 0x2545f4914f6cdd1dULL;
    uint8_t buf[256];
    for (int i = 0; i < 40; i++) {
        size_t n = 1 + (size_t)(s % sizeof buf);
        for (size_t k = 0; k < n; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[k] = (uint8_t)s;
        }
        buf[0] = 0xc1; /* never a valid first byte: the reply must be malformed */
        expect_body(t, "random bytes", buf, n, "malformed", NULL);
    }
    /* trailing bytes after a valid Status */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "type", "Status");
    msgpack_pack_nil(&w.pk);
    expect_body(t, "trailing bytes", w.buf.data, w.buf.size, "malformed", NULL);
    /* a non-string key */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "Status");
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    expect_body(t, "an integer key", w.buf.data, w.buf.size, "malformed", NULL);

    /* an empty frame */
    expect_body(t, "an empty frame", "", 0, "malformed", NULL);

    /* wrong-typed field, type as int, unknown type */
    codec_writer_reset(&w);
    pack_bad_request(&w.pk, &t->wrong_type);
    expect_body(t, "a wrong-typed field", w.buf.data, w.buf.size, "malformed", NULL);
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_int(&w.pk, "type", 7);
    expect_body(t, "type as an integer", w.buf.data, w.buf.size, "malformed", NULL);
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "type", "DropAllTables");
    expect_body(t, "an unknown type", w.buf.data, w.buf.size, "malformed", NULL);

    /* a body over 64 KiB that would otherwise be a valid Status */
    size_t big = 70 * 1024;
    char *pad = malloc(big);
    cr_assert_not_null(pad);
    memset(pad, 'x', big);
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "Status");
    codec_pack_cstr(&w.pk, "pad");
    msgpack_pack_str(&w.pk, big);
    msgpack_pack_str_body(&w.pk, pad, big);
    free(pad);
    expect_body(t, "a body over 64 KiB", w.buf.data, w.buf.size, "malformed", NULL);

    /* invalid UTF-8 in a text field */
    codec_writer_reset(&w);
    pack_bad_request(&w.pk, &t->bad_utf8);
    if (t->utf8_is_validation)
        expect_body(t, "invalid UTF-8", w.buf.data, w.buf.size, "validation", NULL);
    else
        expect_body(t, "invalid UTF-8", w.buf.data, w.buf.size, "malformed", "validation");

    /* three frames, each a valid Status: still not one request */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "type", "Status");
    const void *frames[3] = {w.buf.data, w.buf.data, w.buf.data};
    size_t lens[3] = {w.buf.size, w.buf.size, w.buf.size};
    expect_rejected(t, "a 3-frame message", frames, lens, 3, "malformed", NULL);
    /* and two frames, the first one empty but the second garbage */
    const void *frames2[2] = {"", c1};
    size_t lens2[2] = {0, sizeof c1};
    expect_rejected(t, "an empty delimiter and garbage", frames2, lens2, 2, "malformed", NULL);

    codec_writer_fini(&w);
    assert_still_serving(t, "all of the above");
}

Test(bad_input, every_endpoint_refuses_and_keeps_serving)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        run_target(&targets[i]);

    /* the command service still accepts a real command afterwards */
    command_t c;
    itest_cmd(&c, CMD_REGISTER_SUPPLIER, "after-bad-input");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_str(&c.data, F_NAME, "Acme");
    int64_t p = itest_accept(h, &c);
    cr_assert_eq(p, 1, "nothing was appended by the bad input");
    cr_assert_eq(harness_wait_position(h, "projector", p, ITEST_WAIT_MS), 0);

    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* ---- issue 23: strings with a NUL, keys given twice, empty requests ----- */

/* {type: T} with T of len bytes, and the pairs key: value (len bytes) when
 * key is not NULL. */
static void
pack_type_n(codec_writer_t *w, const char *type, size_t tlen, const char *key, const char *value,
            size_t vlen)
{
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_str_n(w, "type", type, tlen);
    if (key)
        codec_map_str_n(w, key, value, vlen);
    codec_map_close(w);
}

/* Sends one empty frame from a DEALER and counts the frames of the reply:
 * every reply is one frame (item 8: this one came as ["", reply]). */
static int
empty_request_reply_frames(const target_t *t)
{
    void *ctx = zmq_ctx_new();
    void *s = bus_connect(ctx, ZMQ_DEALER, harness_endpoint(h, t->ep));
    cr_assert_not_null(s);
    int frames = -1;
    int timeout = ITEST_TIMEOUT_MS;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_send(s, "", 0, 0) == 0) {
        frames = 0;
        int more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0) {
                zmq_msg_close(&m);
                frames = -1;
                break;
            }
            frames++;
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
    bus_close(&s);
    zmq_ctx_term(ctx);
    return frames;
}

/* A RegisterSupplier into w (reset) whose command_id is cid and again
 * cid2, and whose data's name is Acme and again name2 (NULL: once). */
static void
pack_supplier_twice(codec_writer_t *w, const char *cid, const char *cid2, const char *name2)
{
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_str(w, "type", "RegisterSupplier");
    codec_map_str(w, "command_id", cid);
    if (cid2)
        codec_map_str(w, "command_id", cid2);
    codec_map_key(w, "data");
    codec_map_open(w);
    codec_map_str(w, "supplier_id", "s1");
    codec_map_str(w, "name", "Acme");
    if (name2)
        codec_map_str(w, "name", name2);
    codec_map_close(w);
    codec_map_close(w);
}

Test(bad_input, strings_are_compared_with_their_length_and_keys_come_once)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
    codec_writer_t w;
    codec_writer_init(&w);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const target_t *t = &targets[i];
        /* item 2: "Status\0zz" was Status */
        pack_type_n(&w, "Status\0zz", 9, NULL, NULL, 0);
        expect_body(t, "Status\\0zz", w.buf.data, w.buf.size, "malformed", NULL);
        pack_type_n(&w, "Stat\xc3", 5, NULL, NULL, 0);
        expect_body(t, "a type cut in a UTF-8 sequence", w.buf.data, w.buf.size, "malformed", NULL);
        /* item 4: a key given twice */
        codec_writer_reset(&w);
        codec_map_open(&w);
        codec_map_str(&w, "type", "Status");
        codec_map_str(&w, "type", "Status");
        codec_map_close(&w);
        expect_body(t, "type twice", w.buf.data, w.buf.size, "malformed", NULL);
        /* item 8 */
        cr_expect_eq(empty_request_reply_frames(t), 1, "%s: an empty request's reply frames",
                     t->ep);
        assert_still_serving(t, "an empty request");
    }
    const target_t *command = &targets[0], *projector = &targets[4], *relay = &targets[5];
    /* item 2: a rebuild started for "Rebuild\0zz" */
    pack_type_n(&w, "Rebuild\0zz", 10, NULL, NULL, 0);
    expect_body(projector, "Rebuild\\0zz", w.buf.data, w.buf.size, "malformed", NULL);
    /* item 2: the relay served "<id>\0\xff junk" as <id> */
    pack_type_n(&w, "ReadStream", 10, "stream", "product-p1\0\xff junk", 17);
    expect_body(relay, "a stream with a NUL", w.buf.data, w.buf.size, "malformed", NULL);
    pack_type_n(&w, "ProductAsOf", 11, "product_id", "p1\0\xff junk", 9);
    expect_body(relay, "a product_id with a NUL", w.buf.data, w.buf.size, "malformed", NULL);
    /* item 4: the first command_id counted, and the last quantity */
    pack_supplier_twice(&w, "dup-1", "dup-2", NULL);
    expect_body(command, "command_id twice", w.buf.data, w.buf.size, "malformed", NULL);
    pack_supplier_twice(&w, "dup-3", NULL, "Other");
    expect_body(command, "a data key twice", w.buf.data, w.buf.size, "malformed", NULL);
    codec_writer_fini(&w);
    /* nothing above was appended, and no rebuild was started */
    cr_assert_eq(harness_status_int(h, "command", "head", ITEST_TIMEOUT_MS), 0);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* ---- the counting map writer: replies byte for byte as before ----------- */

/* Asserts that r's bytes are what msgpack-c writes for the same value (its
 * own map headers, counted by hand before the map writer): the replies
 * moved to codec_map_* are byte-identical to the hand-counted ones. */
static void
assert_canonical(const void *data, size_t len, const char *what)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why = NULL;
    cr_assert_eq(codec_parse(data, len, &u, &why), 0, "%s: %s", what, why);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, u.data);
    cr_expect_eq(sb.size, len, "%s: %zu bytes, msgpack-c writes %zu", what, len, sb.size);
    cr_expect(sb.size == len && memcmp(sb.data, data, len) == 0, "%s: bytes differ", what);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&u);
}

static void
request_canonical(const char *ep, const char *what, const char *type, const char *spec, ...)
{
    harness_reply_t r;
    va_list ap;
    va_start(ap, spec);
    itest_vrequest(h, ep, &r, type, spec, ap);
    va_end(ap);
    cr_assert(harness_reply_ok(&r), "%s is not ok", what);
    assert_canonical(r.data, r.len, what);
    harness_reply_fini(&r);
}

Test(bad_input, replies_written_by_the_map_writer_are_msgpack_cs_bytes)
{
    h = harness_start(NULL);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
    command_t c;
    itest_supplier_cmd(&c, "canon-1", "s1", "Acme");
    itest_accept(h, &c);
    itest_product_cmd(&c, "canon-2", "p1", "s1", "SKU-1", "Hammer", "", 1200, 500, 1, 5);
    int64_t p = itest_accept(h, &c);
    cr_assert_eq(harness_wait_position(h, "projector", p, ITEST_WAIT_MS), 0);
    cr_assert_eq(harness_wait_position(h, "audit", p, ITEST_WAIT_MS), 0);
    cr_assert_eq(harness_wait_position(h, "alert", p, ITEST_WAIT_MS), 0);

    /* Status of every daemon: command (11 entries), relay (12), the
     * subscribers' runtime (15) */
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        request_canonical(targets[i].ep, targets[i].ep, "Status", "");
    /* the relay's catch-up replies and the audit rows; an alert row */
    request_canonical("catchup", "ReadEvents", "ReadEvents", "i", "after", 0);
    request_canonical("catchup", "ReadStream", "ReadStream", "s", "stream", "product-p1");
    request_canonical("catchup", "ProductAsOf", "ProductAsOf", "s", "product_id", "p1");
    request_canonical("audit", "SearchAudit", "SearchAudit", "");
    request_canonical("alert-api", "ListAlerts", "ListAlerts", "");

    /* a heartbeat from the relay's PUB */
    void *ctx = zmq_ctx_new();
    void *sub = bus_connect(ctx, ZMQ_SUB, harness_endpoint(h, "events"));
    cr_assert_not_null(sub);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, TOPIC_HEARTBEAT, strlen(TOPIC_HEARTBEAT));
    int timeout = ITEST_WAIT_MS;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    bus_msg_t m;
    cr_assert_eq(bus_recv(sub, &m, 0), 0, "no heartbeat");
    size_t len;
    const void *body = bus_body(&m, &len);
    assert_canonical(body, len, "heartbeat");
    bus_msg_close(&m);
    bus_close(&sub);
    zmq_ctx_term(ctx);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* ---- a hostile relay's heartbeat ----------------------------------------- */

/* Sends heartbeats {head: 0} until the projector has seen one (its SUB
 * reconnected to the stand-in), up to 10 s. */
static void
heartbeat_until_seen(void *pub)
{
    static const char small[] = "\x81\xa4head\x00";
    int64_t until = proc_mono_ms() + 10000;
    while (proc_mono_ms() < until) {
        bus_send(pub, TOPIC_HEARTBEAT, small, sizeof small - 1, 0);
        usleep(100 * 1000);
        if (harness_status_int(h, "projector", "heartbeat_age_ms", ITEST_TIMEOUT_MS) >= 0)
            return;
    }
    cr_assert_fail("the projector saw no heartbeat of the stand-in");
}

/* Issue 23, item 6: an 8 MiB heartbeat (a map whose padding is an array of
 * nils) took each subscriber from ~8 MB to ~213 MB, msgpack-c's zone for
 * its tree (~25x the message).  The SUB socket now refuses messages over
 * BUS_MAX_PUBLISHED (item 1), so a stand-in PUB on the relay's endpoint
 * sends the largest heartbeat it takes; the projector's peak memory grows
 * by its frame, far less than one tree (~24 MiB), and it keeps answering. */
Test(bad_input, a_huge_heartbeat_costs_no_tree, .timeout = 120)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR};
    h = harness_start(&o);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);
    pid_t pid = harness_daemon_pid(h, "projector");
    void *ctx = zmq_ctx_new();
    void *pub = bus_bind(ctx, ZMQ_PUB, harness_endpoint(h, "events"));
    cr_assert_not_null(pub);
    heartbeat_until_seen(pub);
    codec_writer_t w;
    codec_writer_init(&w);
    size_t nils = BUS_MAX_PUBLISHED - 1024;
    codec_map_open(&w);
    codec_map_int(&w, "head", 1); /* the projector's Status shows it was taken */
    codec_map_key(&w, "pad");
    msgpack_pack_array(&w.pk, nils);
    for (size_t i = 0; i < nils; i++)
        msgpack_pack_nil(&w.pk);
    codec_map_close(&w);
    long before = itest_proc_kib(pid, "VmHWM");
    cr_assert_gt(before, 0);
    /* sent until taken: one within 200 ms of the last small one is dropped */
    int64_t until = proc_mono_ms() + 20000, seen = 0;
    while (seen != 1 && proc_mono_ms() < until) {
        bus_send(pub, TOPIC_HEARTBEAT, w.buf.data, w.buf.size, 0);
        usleep(300 * 1000);
        seen = harness_status_int(h, "projector", "head", ITEST_TIMEOUT_MS);
    }
    codec_writer_fini(&w);
    cr_assert_eq(seen, 1, "the projector did not take the heartbeat");
    long after = itest_proc_kib(pid, "VmHWM");
    bus_close(&pub);
    zmq_ctx_term(ctx);
    cr_log_info("projector VmHWM %ld KiB -> %ld KiB", before, after);
    cr_assert_lt(after - before, 8 * 1024, "the projector's peak grew from %ld KiB to %ld KiB",
                 before, after);
    cr_assert_eq(harness_status_int(h, "projector", "checkpoint", ITEST_TIMEOUT_MS), 0);
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* Issue 23, item 6: heartbeats announcing a head the catch-up does not have
 * made a subscriber catch up on every loop turn.  A stand-in relay (PUB and
 * catch-up ROUTER) floods heartbeats of head 10^6 for 2 s and answers every
 * ReadEvents with an empty page at head 0; the projector asks at most once
 * per flood-guard interval (200 ms), not once per heartbeat. */
Test(bad_input, a_heartbeat_flood_does_not_drive_catch_up, .timeout = 120)
{
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR};
    h = harness_start(&o);
    cr_assert_not_null(h, "the daemons did not start (see stderr)");
    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);
    void *ctx = zmq_ctx_new();
    void *pub = bus_bind(ctx, ZMQ_PUB, harness_endpoint(h, "events"));
    void *router = bus_bind(ctx, ZMQ_ROUTER, harness_endpoint(h, "catchup"));
    cr_assert(pub && router);
    static const char beat[] = "\x81\xa4head\xce\x00\x0f\x42\x40"; /* {head: 1000000} */
    static const char page[] = "\x84\xa2ok\xc3\xa5"
                               "after\x00\xa4head\x00\xa6"
                               "events\x90"; /* {ok, after: 0, head: 0, events: []} */
    /* Counted for 2 s from the first request the stand-in gets: how soon
     * that comes depends on the projector's SUB finding the stand-in and on
     * a page request to the stopped relay waiting out its deadline (3 s,
     * pagefetch.h), slower under the sanitizers. */
    int requests = 0;
    int64_t first = 0, give_up = proc_mono_ms() + 10000;
    while (proc_mono_ms() < (first ? first + 2000 : give_up)) {
        bus_send(pub, TOPIC_HEARTBEAT, beat, sizeof beat - 1, 0);
        bus_msg_t m;
        while (bus_recv(router, &m, ZMQ_DONTWAIT) == 0) {
            first = first ? first : proc_mono_ms();
            requests++;
            bus_reply(router, &m, page, sizeof page - 1);
            bus_msg_close(&m);
        }
        usleep(1000);
    }
    cr_log_info("%d catch-up requests in 2 s of heartbeats", requests);
    cr_assert_gt(requests, 0, "the heartbeats made no catch-up at all");
    cr_assert_leq(requests, 2000 / 200 + 4, "%d catch-up requests in 2 s", requests);
    cr_assert_eq(harness_status_int(h, "projector", "checkpoint", ITEST_TIMEOUT_MS), 0);
    bus_close(&pub);
    bus_close(&router);
    zmq_ctx_term(ctx);
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}
