/* Unit tests of common/wire/rpc, the request/reply dispatcher every ROUTER
 * uses, and of codec_pack_error, the one error packer: dispatch by table,
 * unknown types, malformed envelopes (tree and cursor protocols, the
 * endpoint's wording), the exact bytes of error replies, and rpc_serve over
 * inproc sockets (frames, keeping a message, idle). */
#include "bus.h"
#include "msgtree.h"
#include "codec.h"
#include "rpc.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* ---- an endpoint to dispatch to ------------------------------------------ */

typedef struct {
    int calls;      /* handler calls */
    char last[32];  /* the type the last handler saw */
    bool saw_map;   /* req->map is the body's map */
    int64_t value;  /* cursor: the "value" key read from req->vals */
    bus_msg_t kept; /* what the Keep handler took */
    bool have_kept;
} probe_t;

static void
probe_note(probe_t *pr, const rpc_request_t *req)
{
    pr->calls++;
    snprintf(pr->last, sizeof pr->last, "%.*s", (int)req->type_len, req->type);
}

static int
on_echo(void *arg, rpc_request_t *req)
{
    probe_t *pr = arg;
    probe_note(pr, req);
    pr->saw_map = mpread_peek(&req->map) == MP_MAP && req->map.p == req->body;
    msgpack_pack_map(&req->w->pk, 1);
    codec_pack_kv_bool(&req->w->pk, "ok", true);
    return RPC_REPLY;
}

static int
on_keep(void *arg, rpc_request_t *req)
{
    probe_t *pr = arg;
    probe_note(pr, req);
    if (req->msg) {
        pr->kept = *req->msg; /* the frames are ours now */
        pr->have_kept = true;
    }
    return RPC_KEPT;
}

/* Takes types that start with "Maybe", refuses the others. */
static int
on_any(void *arg, rpc_request_t *req)
{
    probe_t *pr = arg;
    probe_note(pr, req);
    if (req->type_len < 5 || memcmp(req->type, "Maybe", 5) != 0)
        return RPC_UNKNOWN;
    msgpack_pack_map(&req->w->pk, 1);
    codec_pack_kv_bool(&req->w->pk, "ok", true);
    return RPC_REPLY;
}

static const rpc_proto_t tree_proto = {
    .type_max = 15,
    .bad_frames = "wrong frames",
    .too_large = "over %d bytes",
    .unknown = "unknown thing",
};
static const rpc_route_t tree_routes[] = {
    {.type = "Echo", .handle = on_echo},
    {.type = "Keep", .handle = on_keep},
    {.type = RPC_ANY, .handle = on_any},
};
static const rpc_endpoint_t tree_ep = {&tree_proto, tree_routes, 3};

/* A tree protocol that says when the body is not a map, and no catch-all. */
static const rpc_proto_t strict_proto = {
    .not_map = "must be a map",
    .too_large = "%2$zu bytes over the limit of %1$d",
    .unknown = "unknown strict type",
};
static const rpc_route_t strict_routes[] = {{.type = "Echo", .handle = on_echo}};
static const rpc_endpoint_t strict_ep = {&strict_proto, strict_routes, 1};

/* A cursor protocol, shaped as command replies. */
static const codec_key_t cursor_keys[] = {CODEC_KEY("type"), CODEC_KEY("value")};
static int
on_value(void *arg, rpc_request_t *req)
{
    probe_t *pr = arg;
    probe_note(pr, req);
    cr_assert_eq(mpread_peek(&req->map), MP_MAP);
    if (req->found & 2u)
        cr_assert_eq(mpread_int(&req->vals[1], &pr->value), 0);
    msgpack_pack_map(&req->w->pk, 1);
    codec_pack_kv_int(&req->w->pk, "unknown", req->unknown);
    return RPC_REPLY;
}
static const rpc_proto_t cursor_proto = {
    .keys = cursor_keys,
    .nkeys = 2,
    .command_shape = true,
    .not_map = "a command must be a map",
    .too_large = "too large",
    .unknown = "unknown command type",
};
static const rpc_route_t cursor_routes[] = {{.type = "Set", .handle = on_value}};
static const rpc_endpoint_t cursor_ep = {&cursor_proto, cursor_routes, 1};

/* ---- helpers ------------------------------------------------------------- */

static codec_writer_t body, reply;

static void
setup(void)
{
    codec_writer_init(&body);
    codec_writer_init(&reply);
}

static void
teardown(void)
{
    codec_writer_fini(&body);
    codec_writer_fini(&reply);
}

TestSuite(rpc, .init = setup, .fini = teardown);

/* Handles what `body` holds (or raw bytes) through ep. */
static int
handle_raw(const rpc_endpoint_t *ep, probe_t *pr, const void *buf, size_t len)
{
    rpc_request_t req = {.body = buf, .len = len, .w = &reply};
    return rpc_handle(ep, pr, &req);
}

static int
handle(const rpc_endpoint_t *ep, probe_t *pr)
{
    return handle_raw(ep, pr, body.buf.data, body.buf.size);
}

/* Packs {type: t} into body. */
static void
body_type(const char *t)
{
    codec_writer_reset(&body);
    msgpack_pack_map(&body.pk, 1);
    codec_pack_kv_str(&body.pk, "type", t);
}

/* Asserts that the reply holds exactly these bytes. */
static void
expect_bytes(const codec_writer_t *w, const char *bytes, size_t n)
{
    cr_assert_eq(w->buf.size, n, "reply of %zu bytes, expected %zu", w->buf.size, n);
    cr_assert_eq(memcmp(w->buf.data, bytes, n), 0, "reply bytes differ");
}
#define EXPECT_BYTES(w, lit) expect_bytes((w), (lit), sizeof(lit) - 1)

/* {ok: false, command_id: y1, error: conflict, message: v, current_version:
 * 4, fields: {}}: the error packer's and the command reply's bytes. */
#define CONFLICT_Y1_V4                                                                             \
    "\x86\xa2ok\xc2\xaa"                                                                           \
    "command_id\xa2y1\xa5"                                                                         \
    "error\xa8"                                                                                    \
    "conflict\xa7message\xa1v\xaf"                                                                 \
    "current_version\x04\xa6"                                                                      \
    "fields\x80"

/* Asserts the reply is the plain refusal {ok: false, error: malformed, message}. */
static void
expect_refusal(const char *message)
{
    codec_writer_t want;
    codec_writer_init(&want);
    codec_pack_error(&want, &(codec_error_t){.code = "malformed", .message = message});
    cr_assert_eq(reply.buf.size, want.buf.size, "refusal size (wanted \"%s\")", message);
    cr_assert_eq(memcmp(reply.buf.data, want.buf.data, want.buf.size), 0, "refusal \"%s\"",
                 message);
    codec_writer_fini(&want);
}

/* ---- dispatch by table --------------------------------------------------- */

Test(rpc, dispatches_by_the_route_table)
{
    probe_t pr = {0};
    body_type("Echo");
    cr_assert_eq(handle(&tree_ep, &pr), RPC_REPLY);
    cr_assert_eq(pr.calls, 1);
    cr_assert_str_eq(pr.last, "Echo");
    cr_assert(pr.saw_map, "the handler reads the parsed map");
    EXPECT_BYTES(&reply, "\x81\xa2ok\xc3");
}

Test(rpc, route_find_prefers_the_exact_name_then_any)
{
    cr_assert_eq(rpc_route_find(tree_routes, 3, "Keep", 4), &tree_routes[1]);
    cr_assert_eq(rpc_route_find(tree_routes, 3, "Kee", 3), &tree_routes[2]);
    cr_assert_eq(rpc_route_find(tree_routes, 3, "Echoes", 6), &tree_routes[2]);
    cr_assert_null(rpc_route_find(strict_routes, 1, "Status", 6));
    /* compared with their length: a NUL does not end the name */
    cr_assert_eq(rpc_route_find(tree_routes, 3, "Keep\0x", 6), &tree_routes[2]);
    cr_assert_eq(rpc_route_find(tree_routes, 3, "Kee\0p", 5), &tree_routes[2]);
    cr_assert_null(rpc_route_find(strict_routes, 1, "Echo\0", 5));
}

Test(rpc, the_any_route_takes_the_rest)
{
    probe_t pr = {0};
    body_type("MaybeThis");
    cr_assert_eq(handle(&tree_ep, &pr), RPC_REPLY);
    cr_assert_str_eq(pr.last, "MaybeThis");
}

/* ---- unknown types ------------------------------------------------------- */

/* A type no route takes is refused in the endpoint's wording (strict: no
 * handler runs); a type the any route's handler does not know, in its. */
Test(rpc, an_unknown_type_is_refused)
{
    static const struct {
        const rpc_endpoint_t *ep;
        const char *type;
        int calls;           /* handlers run */
        const char *refusal; /* the reply's wording */
    } cases[] = {
        {&strict_ep, "Status", 0, "unknown strict type"},
        {&tree_ep, "Other", 1, "unknown thing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        probe_t pr = {0};
        body_type(cases[i].type);
        cr_assert_eq(handle(cases[i].ep, &pr), RPC_REFUSED, "%s", cases[i].type);
        cr_assert_eq(pr.calls, cases[i].calls, "%s", cases[i].type);
        expect_refusal(cases[i].refusal);
    }
}

/* ---- malformed envelopes ------------------------------------------------- */

Test(rpc, bodies_that_do_not_decode_are_refused)
{
    probe_t pr = {0};
    cr_assert_eq(handle_raw(&tree_ep, &pr, "", 0), RPC_REFUSED);
    expect_refusal("empty message");
    cr_assert_eq(handle_raw(&tree_ep, &pr, "\x81\xa1", 2), RPC_REFUSED);
    expect_refusal("not a single well-formed msgpack object");
    cr_assert_eq(handle_raw(&tree_ep, &pr, "\x81\x01\x02", 3), RPC_REFUSED);
    expect_refusal("map keys must be strings");
    cr_assert_eq(pr.calls, 0);
}

Test(rpc, the_type_must_be_a_string)
{
    probe_t pr = {0};
    codec_writer_reset(&body);
    msgpack_pack_map(&body.pk, 1);
    codec_pack_kv_int(&body.pk, "type", 7);
    cr_assert_eq(handle(&tree_ep, &pr), RPC_REFUSED);
    expect_refusal("type must be a string");
    codec_writer_reset(&body);
    msgpack_pack_map(&body.pk, 1);
    codec_pack_kv_str(&body.pk, "kind", "Echo");
    cr_assert_eq(handle(&tree_ep, &pr), RPC_REFUSED);
    expect_refusal("type must be a string");
    cr_assert_eq(pr.calls, 0);
}

Test(rpc, a_body_that_is_not_a_map_in_each_wording)
{
    probe_t pr = {0};
    cr_assert_eq(handle_raw(&tree_ep, &pr, "\x91\x01", 2), RPC_REFUSED);
    expect_refusal("type must be a string"); /* no not_map: it just has no type */
    cr_assert_eq(handle_raw(&strict_ep, &pr, "\x91\x01", 2), RPC_REFUSED);
    expect_refusal("must be a map");
}

Test(rpc, a_type_longer_than_type_max_is_not_a_string)
{
    probe_t pr = {0};
    body_type("MaybeSomethingLong"); /* 18 bytes > 15 */
    cr_assert_eq(handle(&tree_ep, &pr), RPC_REFUSED);
    expect_refusal("type must be a string");
    cr_assert_eq(pr.calls, 0);
}

/* Issue 23, item 2: "Status\0zz" was Status. */
Test(rpc, a_type_with_a_nul_or_bad_utf8_is_malformed)
{
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {{"Echo\0x", 6}, {"Echo\0", 5}, {"Ech\xff", 4}, {"Ech\xc0\x80", 5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        probe_t pr = {0};
        codec_writer_reset(&body);
        codec_map_open(&body);
        codec_map_str_n(&body, "type", bad[i].s, bad[i].n);
        codec_map_close(&body);
        cr_assert_eq(handle(&tree_ep, &pr), RPC_REFUSED, "case %zu", i);
        expect_refusal("type must be UTF-8 without NUL");
        cr_assert_eq(pr.calls, 0);
        cr_assert_eq(handle(&strict_ep, &pr), RPC_REFUSED, "case %zu", i);
        expect_refusal("type must be UTF-8 without NUL");
        cr_assert_eq(pr.calls, 0);
    }
}

Test(rpc, an_oversized_body_is_refused_with_its_size)
{
    probe_t pr = {0};
    size_t n = CODEC_MAX_MESSAGE + 1;
    char *big = calloc(1, n);
    cr_assert_not_null(big);
    cr_assert_eq(handle_raw(&tree_ep, &pr, big, n), RPC_REFUSED);
    expect_refusal("over 65536 bytes");
    cr_assert_eq(handle_raw(&strict_ep, &pr, big, n), RPC_REFUSED);
    expect_refusal("65537 bytes over the limit of 65536");
    free(big);
}

/* ---- a cursor protocol --------------------------------------------------- */

Test(rpc, a_cursor_protocol_hands_over_the_indexed_values)
{
    probe_t pr = {0};
    codec_writer_reset(&body);
    msgpack_pack_map(&body.pk, 3);
    codec_pack_kv_str(&body.pk, "type", "Set");
    codec_pack_kv_int(&body.pk, "extra", 1);
    codec_pack_kv_int(&body.pk, "value", 42);
    cr_assert_eq(handle(&cursor_ep, &pr), RPC_REPLY);
    cr_assert_eq(pr.value, 42);
    EXPECT_BYTES(&reply, "\x81\xa7unknown\x01");
}

Test(rpc, cursor_refusals_are_shaped_as_command_replies)
{
    probe_t pr = {0};
    cr_assert_eq(handle_raw(&cursor_ep, &pr, "\x91\x01", 2), RPC_REFUSED);
    EXPECT_BYTES(&reply, "\x85\xa2ok\xc2\xaa"
                         "command_id\xa0\xa5"
                         "error\xa9malformed\xa7message\xb7"
                         "a command must be a map\xa6"
                         "fields\x80");
    cr_assert_eq(handle_raw(&cursor_ep, &pr, "\x81\xa1x\x81\x01\x02", 6), RPC_REFUSED);
    cr_assert(memmem(reply.buf.data, reply.buf.size, "map keys must be strings", 24));
    body_type("Get");
    cr_assert_eq(handle(&cursor_ep, &pr), RPC_REFUSED);
    cr_assert(memmem(reply.buf.data, reply.buf.size, "unknown command type", 20));
    cr_assert_eq(pr.calls, 0);
}

/* ---- the error packer ---------------------------------------------------- */

Test(rpc, error_packer_bytes)
{
    codec_pack_error(&reply, &(codec_error_t){.code = "unavailable", .message = "m"});
    EXPECT_BYTES(&reply, "\x83\xa2ok\xc2\xa5"
                         "error\xab"
                         "unavailable\xa7message\xa1m");

    codec_writer_reset(&reply);
    field_errors_t errs = {.count = 0};
    field_errors_add(&errs, "limit", "must be 1..100");
    codec_pack_error(&reply,
                     &(codec_error_t){.code = "validation", .message = "bad", .fields = &errs});
    EXPECT_BYTES(&reply, "\x84\xa2ok\xc2\xa5"
                         "error\xaavalidation\xa7message\xa3"
                         "bad\xa6"
                         "fields\x81\xa5limit\xae"
                         "must be 1..100");

    codec_writer_reset(&reply);
    int64_t version = 4;
    field_errors_t none = {.count = 0};
    codec_pack_error(&reply, &(codec_error_t){.code = "conflict",
                                              .message = "v",
                                              .command_id = "y1",
                                              .current_version = &version,
                                              .fields = &none});
    EXPECT_BYTES(&reply, CONFLICT_Y1_V4);
}

Test(rpc, command_rejections_pack_through_the_error_packer)
{
    command_reply_t r;
    command_reply_clear(&r);
    r.error = REJ_CONFLICT;
    r.version = 4;
    snprintf(r.command_id, sizeof r.command_id, "y1");
    snprintf(r.message, sizeof r.message, "v");
    codec_pack_command_reply(&reply, &r);
    EXPECT_BYTES(&reply, CONFLICT_Y1_V4);
}

/* ---- rpc_serve over sockets ---------------------------------------------- */

typedef struct {
    void *ctx, *router, *dealer;
} pair_t;

static void
pair_open(pair_t *p)
{
    p->ctx = zmq_ctx_new();
    p->router = bus_bind(p->ctx, ZMQ_ROUTER, "inproc://test-rpc");
    p->dealer = bus_connect(p->ctx, ZMQ_DEALER, "inproc://test-rpc");
    cr_assert(p->router && p->dealer);
}

static void
pair_close(pair_t *p)
{
    bus_close(&p->dealer);
    bus_close(&p->router);
    zmq_ctx_term(p->ctx);
}

/* Serves what arrives within a second; the result of the first serve. */
static int
serve_one(pair_t *p, probe_t *pr)
{
    zmq_pollitem_t item = {p->router, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 1000), 1, "a request arrives");
    return rpc_serve(&tree_ep, p->router, pr, &reply);
}

/* Receives the reply body into `body`. */
static void
recv_reply(pair_t *p)
{
    bus_msg_t m;
    zmq_pollitem_t item = {p->dealer, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 1000), 1, "a reply arrives");
    cr_assert_eq(bus_recv(p->dealer, &m, 0), 0);
    cr_assert_eq(m.count, 1);
    size_t len;
    const void *b = bus_body(&m, &len);
    codec_writer_reset(&body);
    codec_pack_raw(&body.pk, b, len);
    bus_msg_close(&m);
}

Test(rpc, serve_answers_requests_and_wrong_frames)
{
    pair_t p;
    pair_open(&p);
    probe_t pr = {0};
    cr_assert_eq(rpc_serve(&tree_ep, p.router, &pr, &reply), RPC_IDLE);

    body_type("Echo");
    cr_assert_eq(bus_send(p.dealer, NULL, body.buf.data, body.buf.size, 0), 0);
    cr_assert_eq(serve_one(&p, &pr), RPC_REPLY);
    recv_reply(&p);
    EXPECT_BYTES(&body, "\x81\xa2ok\xc3");

    cr_assert_eq(zmq_send(p.dealer, "a", 1, ZMQ_SNDMORE), 1);
    cr_assert_eq(zmq_send(p.dealer, "b", 1, 0), 1);
    cr_assert_eq(serve_one(&p, &pr), RPC_REFUSED);
    recv_reply(&p);
    cr_assert_eq(pr.calls, 1);
    cr_assert(memmem(body.buf.data, body.buf.size, "wrong frames", 12));
    pair_close(&p);
}

Test(rpc, a_kept_message_is_neither_answered_nor_closed)
{
    pair_t p;
    pair_open(&p);
    probe_t pr = {0};
    body_type("Keep");
    cr_assert_eq(bus_send(p.dealer, NULL, body.buf.data, body.buf.size, 0), 0);
    cr_assert_eq(serve_one(&p, &pr), RPC_KEPT);
    cr_assert(pr.have_kept);
    zmq_pollitem_t item = {p.dealer, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 50), 0, "no reply for a kept message");
    /* the keeper answers later, with the frames it took */
    cr_assert_eq(bus_reply(p.router, &pr.kept, "\xc0", 1), 0);
    bus_msg_close(&pr.kept);
    recv_reply(&p);
    EXPECT_BYTES(&body, "\xc0");
    pair_close(&p);
}
