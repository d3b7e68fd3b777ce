/* evfeed (tools/evfeed.c), invctl's "from a position, then live" reader,
 * against a fake relay (a ROUTER answering ReadEvents from a store whose
 * head the test moves) and a PUB the test publishes on: the catch-up comes
 * first, live events follow, a duplicate is dropped, a gap on the SUB and
 * a heartbeat above the last position are closed from the relay; every
 * position comes out once, in order. */
#include "bus.h"
#include "codec.h"
#include "evfeed.h"
#include "proc.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

typedef struct {
    void *zctx;
    char ep[128];
    atomic_llong head; /* the store holds positions 1..head */
    atomic_int stop;
    atomic_int ready;
    atomic_int requests;
} relay_t;

static void
pack_event(codec_writer_t *w, int64_t pos)
{
    codec_map_open(w);
    codec_map_int(w, "position", pos);
    codec_map_str(w, "stream", "product-p1");
    codec_map_str(w, "type", "ProductViewed");
    codec_map_close(w);
}

/* The reply to ReadEvents {after}: at most 3 events a page (so that a
 * catch-up takes several pages). */
static void
relay_answer(relay_t *r, void *router, bus_msg_t *m)
{
    size_t len;
    const void *body = bus_body(m, &len);
    mpread_t req, v;
    const char *why;
    int64_t after = 0, head = atomic_load(&r->head);
    if (codec_reader_check(&req, body, len, &why) == 0 && mpread_find(&req, "after", &v) == 0)
        mpread_int(&v, &after);
    int64_t n = head - after < 0 ? 0 : head - after > 3 ? 3 : head - after;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_bool(&w, "ok", true);
    codec_map_int(&w, "after", after);
    codec_map_int(&w, "head", head);
    codec_map_key(&w, "events");
    msgpack_pack_array(&w.pk, (size_t)n);
    for (int64_t i = 1; i <= n; i++)
        pack_event(&w, after + i);
    codec_map_close(&w);
    bus_reply(router, m, w.buf.data, w.buf.size);
    codec_writer_fini(&w);
    atomic_fetch_add(&r->requests, 1);
}

static void *
fake_relay(void *arg)
{
    relay_t *r = arg;
    void *router = bus_bind(r->zctx, ZMQ_ROUTER, r->ep);
    atomic_store(&r->ready, router ? 1 : -1);
    while (router && !atomic_load(&r->stop)) {
        zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
        bus_msg_t m;
        if (zmq_poll(&item, 1, 20) > 0 && bus_recv(router, &m, ZMQ_DONTWAIT) == 0) {
            relay_answer(r, router, &m);
            bus_msg_close(&m);
        }
    }
    bus_close(&router);
    return NULL;
}

static relay_t relay;
static pthread_t relay_thread;
static void *pub;
static char pub_ep[128];
static evfeed_t *feed;

static void
publish_event(int64_t pos)
{
    codec_writer_t w;
    codec_writer_init(&w);
    pack_event(&w, pos);
    cr_assert_eq(bus_send(pub, TOPIC_EVENT, w.buf.data, w.buf.size, 0), 0);
    codec_writer_fini(&w);
}

static void
publish_heartbeat(int64_t head)
{
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_int(&w, "head", head);
    codec_map_int(&w, "head_recorded_at", 0);
    codec_map_int(&w, "ts", 1);
    codec_map_close(&w);
    cr_assert_eq(bus_send(pub, TOPIC_HEARTBEAT, w.buf.data, w.buf.size, 0), 0);
    codec_writer_fini(&w);
}

/* The next position evfeed hands out within wait_ms, or 0. */
static int64_t
next_position(int wait_ms)
{
    mpread_t ev, v;
    char err[256];
    int64_t pos = 0;
    int rc = evfeed_next(feed, wait_ms, &ev, err, sizeof err);
    cr_assert_geq(rc, 0, "%s", err);
    if (rc == 1)
        cr_assert_eq(mpread_find(&ev, "position", &v) == 0 && mpread_int(&v, &pos) == 0, 1);
    return pos;
}

static void
setup(void)
{
    relay.zctx = zmq_ctx_new();
    snprintf(relay.ep, sizeof relay.ep, "ipc:///tmp/evfeed-relay-%d.sock", (int)getpid());
    snprintf(pub_ep, sizeof pub_ep, "ipc:///tmp/evfeed-pub-%d.sock", (int)getpid());
    atomic_store(&relay.head, 5);
    pthread_create(&relay_thread, NULL, fake_relay, &relay);
    while (!atomic_load(&relay.ready))
        usleep(1000);
    cr_assert_eq(atomic_load(&relay.ready), 1);
    pub = bus_bind(relay.zctx, ZMQ_PUB, pub_ep);
    cr_assert_not_null(pub);
}

static void
teardown(void)
{
    evfeed_destroy(&feed);
    bus_close(&pub);
    atomic_store(&relay.stop, 1);
    pthread_join(relay_thread, NULL);
    zmq_ctx_term(relay.zctx);
}

TestSuite(evfeed, .init = setup, .fini = teardown, .timeout = 30);

Test(evfeed, catch_up_then_live_each_position_once_in_order)
{
    char err[256];
    feed = evfeed_new(relay.zctx, pub_ep, relay.ep, 0, 2000, err, sizeof err);
    cr_assert_not_null(feed, "%s", err);
    cr_assert_eq(evfeed_start_head(feed), 5);
    for (int64_t p = 1; p <= 5; p++)
        cr_assert_eq(next_position(1000), p, "catch-up: position %lld", (long long)p);
    cr_assert_eq(next_position(50), 0, "nothing more yet");

    /* live: 6 (published until the subscription has taken effect) */
    atomic_store(&relay.head, 8);
    int64_t got = 0, deadline = proc_mono_ms() + 5000;
    while (got == 0 && proc_mono_ms() < deadline) {
        publish_event(6);
        got = next_position(50);
    }
    cr_assert_eq(got, 6);
    /* a gap on the SUB (7 lost): 7 comes from the relay, then 8 */
    publish_event(8);
    cr_assert_eq(next_position(1000), 7, "the gap is closed from the relay");
    cr_assert_eq(next_position(1000), 8);
    /* duplicates (6 may still be queued from the loop above) are dropped */
    publish_event(7);
    publish_event(8);
    cr_assert_eq(next_position(200), 0, "no duplicate");
    /* a heartbeat above the last position: the relay is read again */
    atomic_store(&relay.head, 10);
    usleep(250 * 1000); /* past the minimum gap between catch-ups */
    publish_heartbeat(10);
    cr_assert_eq(next_position(1000), 9, "the heartbeat's head is caught up");
    cr_assert_eq(next_position(1000), 10);
    cr_assert_eq(evfeed_position(feed), 10);
}

Test(evfeed, from_a_position_and_an_absent_relay)
{
    char err[256];
    feed = evfeed_new(relay.zctx, pub_ep, relay.ep, 3, 2000, err, sizeof err);
    cr_assert_not_null(feed, "%s", err);
    cr_assert_eq(next_position(1000), 4, "after 3 comes 4");
    cr_assert_eq(next_position(1000), 5);
    evfeed_destroy(&feed);
    char nobody[160];
    snprintf(nobody, sizeof nobody, "ipc:///tmp/evfeed-nobody-%d.sock", (int)getpid());
    int64_t t0 = proc_mono_ms();
    feed = evfeed_new(relay.zctx, pub_ep, nobody, 0, 300, err, sizeof err);
    cr_assert_null(feed);
    cr_assert(strstr(err, "outbox-relay"), "%s", err);
    cr_assert_lt(proc_mono_ms() - t0, 2000, "it waits its timeout, not more");
}
