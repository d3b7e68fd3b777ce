/* Unit tests of common/subscriber/pagefetch: a catch-up request awaited
 * without blocking, against a ROUTER this test answers by hand on an
 * inproc:// endpoint.  Nothing waits longer than a poll for a reply the
 * test has already sent. */
#include "bus.h"
#include "codec.h"
#include "msgtree.h"
#include "pagefetch.h"
#include "proc.h"
#include "rpc.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_MS 100 /* the deadline of a request, short for the tests */

typedef struct {
    void *zctx;
    void *router; /* the relay's catch-up ROUTER */
    pagefetch_t *f;
    char ep[64];
} rig_t;

static void
rig_init(rig_t *x)
{
    x->zctx = zmq_ctx_new();
    snprintf(x->ep, sizeof x->ep, "inproc://pagefetch-%p", (void *)x);
    x->router = bus_bind(x->zctx, ZMQ_ROUTER, x->ep);
    cr_assert_not_null(x->router);
    x->f = pagefetch_new(x->zctx, x->ep, 7, TIMEOUT_MS);
    cr_assert_not_null(x->f);
}

static void
rig_fini(rig_t *x)
{
    pagefetch_destroy(&x->f);
    pagefetch_destroy(&x->f); /* idempotent */
    bus_close(&x->router);
    zmq_ctx_term(x->zctx);
}

/* Receives the next request on the ROUTER (waits up to 1 s) into m and
 * returns its `after`; asserts it is a ReadEvents of the configured limit. */
static int64_t
router_next(rig_t *x, bus_msg_t *m)
{
    zmq_pollitem_t item = {x->router, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 1000), 1, "no request came");
    cr_assert_eq(bus_recv(x->router, m, 0), 0);
    int n_env;
    const void *body;
    size_t len;
    cr_assert_eq(bus_split(m, &n_env, &body, &len), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    int64_t after = -1, limit = -1;
    cr_assert_eq(codec_parse(body, len, &u, &why), 0);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "after"), &after), 0);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "limit"), &limit), 0);
    cr_assert_eq(limit, 7);
    msgpack_unpacked_destroy(&u);
    return after;
}

/* Asserts that the next request on the ROUTER is for `after`, and drops it
 * unanswered. */
static void
router_expect(rig_t *x, int64_t after)
{
    bus_msg_t m;
    cr_assert_eq(router_next(x, &m), after);
    bus_msg_close(&m);
}

/* Whether a request is waiting on the ROUTER now. */
static bool
router_has_request(rig_t *x)
{
    zmq_pollitem_t item = {x->router, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, 0) == 1;
}

/* Answers request m with the text body (the tests need no real page). */
static void
router_answer(rig_t *x, bus_msg_t *m, const char *body)
{
    int n_env;
    const void *b;
    size_t len;
    cr_assert_eq(bus_split(m, &n_env, &b, &len), 0);
    bus_reply_to(x->router, m, n_env, body, strlen(body)); /* may find the peer gone */
    bus_msg_close(m);
}

/* Waits (up to 1 s) in a poll on the fetch's socket, as the loop does, then
 * updates it. */
static void
loop_turn(rig_t *x)
{
    void *sock = pagefetch_socket(x->f);
    cr_assert_not_null(sock, "no reply is awaited");
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    zmq_poll(&item, 1, 1000);
    pagefetch_update(x->f, proc_mono_ms());
}

/* pagefetch_take expecting the reply `want`. */
static void
take_reply(rig_t *x, int64_t after, const char *want)
{
    void *reply = NULL;
    size_t len = 0;
    cr_assert_eq(pagefetch_take(x->f, after, proc_mono_ms(), &reply, &len), PAGEFETCH_READY);
    cr_assert_eq(len, strlen(want));
    cr_assert_eq(memcmp(reply, want, len), 0, "a reply to another request was handed out");
    free(reply);
}

/* The relay answers the next request, for `after`, with body; the loop
 * turns; the take hands body out. */
static void
answer_and_take(rig_t *x, int64_t after, const char *body)
{
    bus_msg_t m;
    cr_assert_eq(router_next(x, &m), after);
    router_answer(x, &m, body);
    loop_turn(x);
    take_reply(x, after, body);
}

static pagefetch_result_t
take(rig_t *x, int64_t after)
{
    void *reply = NULL;
    size_t len = 0;
    pagefetch_result_t r = pagefetch_take(x->f, after, proc_mono_ms(), &reply, &len);
    free(reply);
    return r;
}

Test(pagefetch, a_reply_is_handed_out_once_to_its_page)
{
    rig_t x;
    rig_init(&x);
    cr_assert_null(pagefetch_socket(x.f), "nothing is awaited before a request");
    cr_assert_eq(pagefetch_wait_ms(x.f, proc_mono_ms()), -1);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "the request goes out, nothing waits");
    cr_assert_not_null(pagefetch_socket(x.f));
    cr_assert_leq(pagefetch_wait_ms(x.f, proc_mono_ms()), TIMEOUT_MS);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "asked once, not twice");
    bus_msg_t m;
    cr_assert_eq(router_next(&x, &m), 5);
    cr_assert_not(router_has_request(&x), "the second take sent nothing");
    router_answer(&x, &m, "page after 5");
    loop_turn(&x);
    cr_assert_null(pagefetch_socket(x.f), "a reply is in: the socket is not polled again");
    take_reply(&x, 5, "page after 5");
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "taken once: a new request");
    router_expect(&x, 5);
    rig_fini(&x);
}

Test(pagefetch, a_prefetched_page_is_taken_without_a_second_request)
{
    rig_t x;
    rig_init(&x);
    cr_assert_eq(pagefetch_ask(x.f, 3, proc_mono_ms()), 0);
    cr_assert_eq(pagefetch_ask(x.f, 3, proc_mono_ms()), 0);
    answer_and_take(&x, 3, "three");
    cr_assert_not(router_has_request(&x), "asked once, taken without another request");
    rig_fini(&x);
}

Test(pagefetch, a_silent_relay_fails_the_request_at_its_deadline)
{
    rig_t x;
    rig_init(&x);
    int64_t t0 = proc_mono_ms();
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING);
    cr_assert_lt(proc_mono_ms() - t0, 50, "a take never waits");
    router_expect(&x, 5); /* read, never answered */
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "before the deadline it waits");
    usleep((TIMEOUT_MS + 20) * 1000);
    pagefetch_update(x.f, proc_mono_ms());
    cr_assert_null(pagefetch_socket(x.f), "given up: nothing to poll");
    cr_assert_eq(pagefetch_wait_ms(x.f, proc_mono_ms()), -1);
    cr_assert_eq(take(&x, 5), PAGEFETCH_FAILED, "the caller backs off");
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "asked again after the failure");
    router_expect(&x, 5);
    rig_fini(&x);
}

Test(pagefetch, a_reply_after_the_deadline_is_never_received)
{
    rig_t x;
    rig_init(&x);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING);
    bus_msg_t old;
    cr_assert_eq(router_next(&x, &old), 5);
    usleep((TIMEOUT_MS + 20) * 1000);
    pagefetch_update(x.f, proc_mono_ms());
    cr_assert_eq(take(&x, 5), PAGEFETCH_FAILED);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING);
    bus_msg_t m;
    cr_assert_eq(router_next(&x, &m), 5);
    router_answer(&x, &old, "late"); /* to the socket that timed out */
    router_answer(&x, &m, "fresh");
    loop_turn(&x);
    take_reply(&x, 5, "fresh");
    rig_fini(&x);
}

Test(pagefetch, asking_for_another_page_drops_the_one_in_flight)
{
    rig_t x;
    rig_init(&x);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING);
    cr_assert_eq(take(&x, 9), PAGEFETCH_WAITING);
    bus_msg_t a, b;
    cr_assert_eq(router_next(&x, &a), 5);
    cr_assert_eq(router_next(&x, &b), 9);
    router_answer(&x, &a, "stale page after 5");
    router_answer(&x, &b, "page after 9");
    loop_turn(&x);
    take_reply(&x, 9, "page after 9");
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "the stale reply was never received");
    router_expect(&x, 5);
    rig_fini(&x);
}

Test(pagefetch, a_reply_held_past_its_deadline_is_asked_for_again)
{
    rig_t x;
    rig_init(&x);
    cr_assert_eq(pagefetch_ask(x.f, 5, proc_mono_ms()), 0);
    bus_msg_t m;
    cr_assert_eq(router_next(&x, &m), 5);
    router_answer(&x, &m, "old head");
    loop_turn(&x);
    usleep((TIMEOUT_MS + 20) * 1000);
    pagefetch_update(x.f, proc_mono_ms());
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "dropped: it may name an old head");
    answer_and_take(&x, 5, "new head");
    rig_fini(&x);
}

Test(pagefetch, a_reset_drops_what_is_held_and_in_flight)
{
    rig_t x;
    rig_init(&x);
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING);
    bus_msg_t m;
    cr_assert_eq(router_next(&x, &m), 5);
    pagefetch_reset(x.f);
    cr_assert_null(pagefetch_socket(x.f));
    router_answer(&x, &m, "after the reset");
    cr_assert_eq(take(&x, 5), PAGEFETCH_WAITING, "asked again on the new socket");
    answer_and_take(&x, 5, "again");
    rig_fini(&x);
}

/* ---- a list of relays (issue 26: not_leader) ------------------------------ */

/* Two relays: x's ROUTER first in the list, standby's second; x->f asks
 * the list. */
static void
rig_init_list(rig_t *x, rig_t *standby)
{
    x->zctx = zmq_ctx_new();
    *standby = (rig_t){.zctx = x->zctx};
    snprintf(x->ep, sizeof x->ep, "inproc://pagefetch-a-%p", (void *)x);
    snprintf(standby->ep, sizeof standby->ep, "inproc://pagefetch-b-%p", (void *)x);
    x->router = bus_bind(x->zctx, ZMQ_ROUTER, x->ep);
    standby->router = bus_bind(x->zctx, ZMQ_ROUTER, standby->ep);
    cr_assert(x->router && standby->router);
    char list[160];
    snprintf(list, sizeof list, "%s,%s", x->ep, standby->ep);
    x->f = pagefetch_new(x->zctx, list, 7, TIMEOUT_MS);
    cr_assert_not_null(x->f);
    standby->f = x->f; /* the standby's rig drives the same fetch (owned by x) */
    cr_assert_str_eq(pagefetch_endpoint(x->f), x->ep);
}

static void
rig_fini_list(rig_t *x, rig_t *standby)
{
    bus_close(&standby->router);
    rig_fini(x);
}

/* Answers request m as a standby: not_leader naming leader. */
static void
router_not_leader(rig_t *x, bus_msg_t *m, const char *leader)
{
    static const rpc_proto_t plain = {.bad_frames = "x", .too_large = "x", .unknown = "x"};
    codec_writer_t w;
    codec_writer_init(&w);
    rpc_not_leader(&plain, &w, NULL, "outbox relay", leader);
    int n_env;
    const void *b;
    size_t len;
    cr_assert_eq(bus_split(m, &n_env, &b, &len), 0);
    bus_reply_to(x->router, m, n_env, w.buf.data, w.buf.size);
    bus_msg_close(m);
    codec_writer_fini(&w);
}

Test(pagefetch, not_leader_moves_the_request_to_the_leader_of_the_list)
{
    rig_t a, b;
    rig_init_list(&a, &b);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    bus_msg_t m;
    cr_assert_eq(router_next(&a, &m), 3);
    router_not_leader(&a, &m, b.ep);
    loop_turn(&a);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING, "the not_leader reply is not handed out");
    cr_assert_str_eq(pagefetch_endpoint(a.f), b.ep);
    answer_and_take(&b, 3, "page after 3 from the leader");
    cr_assert_not(router_has_request(&a));
    /* the next page goes to the leader directly */
    cr_assert_eq(take(&a, 10), PAGEFETCH_WAITING);
    answer_and_take(&b, 10, "page after 10");
    rig_fini_list(&a, &b);
}

Test(pagefetch, not_leader_outside_the_list_or_in_an_election_moves_on)
{
    rig_t a, b;
    rig_init_list(&a, &b);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    bus_msg_t m;
    cr_assert_eq(router_next(&a, &m), 3);
    router_not_leader(&a, &m, "tcp://10.9.9.9:5552"); /* not in the list: the next one */
    loop_turn(&a);
    cr_assert_str_eq(pagefetch_endpoint(a.f), b.ep);
    cr_assert_eq(router_next(&b, &m), 3, "asked again at once, on the next one");
    router_not_leader(&b, &m, ""); /* an election: given up, the caller backs off */
    loop_turn(&a);
    cr_assert_eq(take(&a, 3), PAGEFETCH_FAILED);
    cr_assert_str_eq(pagefetch_endpoint(a.f), a.ep, "the next one after an election");
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    answer_and_take(&a, 3, "page after 3");
    rig_fini_list(&a, &b);
}

Test(pagefetch, a_silent_relay_is_left_for_the_next_at_the_deadline)
{
    rig_t a, b;
    rig_init_list(&a, &b);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    router_expect(&a, 3); /* never answered */
    usleep((TIMEOUT_MS + 20) * 1000);
    pagefetch_update(a.f, proc_mono_ms());
    cr_assert_eq(take(&a, 3), PAGEFETCH_FAILED);
    cr_assert_str_eq(pagefetch_endpoint(a.f), b.ep);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    answer_and_take(&b, 3, "page after 3 from the second");
    rig_fini_list(&a, &b);
}

Test(pagefetch, a_hostile_leader_is_not_followed)
{
    rig_t a, b;
    rig_init_list(&a, &b);
    cr_assert_eq(take(&a, 3), PAGEFETCH_WAITING);
    bus_msg_t m;
    cr_assert_eq(router_next(&a, &m), 3);
    /* {ok: false, error: not_leader, leader: 42} */
    router_answer(&a, &m,
                  "\x83\xa2ok\xc2\xa5"
                  "error\xaanot_leader\xa6leader\x2a");
    loop_turn(&a);
    cr_assert_eq(take(&a, 3), PAGEFETCH_FAILED);
    cr_assert_str_eq(pagefetch_endpoint(a.f), b.ep);
    cr_assert_not(router_has_request(&b), "nothing followed at once");
    rig_fini_list(&a, &b);
}
