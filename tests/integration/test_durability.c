/* Durable before visible (docs/decisions.md, item 35): the command-service
 * commits without an fsync and its syncer makes each batch durable before
 * the batch is answered; the relay publishes and serves only up to the
 * position announced durable in the nudges, or what its own fsync of the
 * WAL covers when no nudge comes.  Here the test process plays the
 * command-service: it appends to the real events.db and sends the nudges
 * itself, and watches the real relay's PUB socket and catch-up ROUTER. */
#include "../unit/sample.h"
#include "bus.h"
#include "eventstore.h"
#include "harness.h"
#include "itest.h"
#include "proc.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    harness_t *h;
    eventstore_t *es;
    void *ctx, *sub, *push;
} rig_t;

static int64_t
status_int(harness_t *h, const char *endpoint, const char *key)
{
    return harness_status_int(h, endpoint, key, ITEST_TIMEOUT_MS);
}

/* Waits up to timeout_ms for a message on sub that is not a heartbeat. */
static int
next_events(void *sub, int timeout_ms, bus_msg_t *m)
{
    int64_t deadline = proc_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - proc_mono_ms();
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, (long)left) <= 0)
            return -1;
        if (bus_recv(sub, m, ZMQ_DONTWAIT) != 0)
            continue;
        if (!bus_frame_is(m, 0, TOPIC_HEARTBEAT))
            return 0;
        bus_msg_close(m);
    }
}

/* Positions in one `event` / `events` message, appended to seen[*n]. */
static void
collect_positions(const bus_msg_t *m, int64_t *seen, int *n, int cap)
{
    size_t len;
    const void *body = bus_body(m, &len);
    bool batch = bus_frame_is(m, 0, TOPIC_EVENTS);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    cr_assert_eq(codec_parse(body, len, &u, &why), 0, "%s", why);
    uint32_t count = batch ? u.data.via.array.size : 1;
    for (uint32_t i = 0; i < count && *n < cap; i++) {
        const msgpack_object *ev = batch ? &u.data.via.array.ptr[i] : &u.data;
        int64_t pos = -1;
        codec_get_int(codec_map_get(ev, "position"), &pos);
        seen[(*n)++] = pos;
    }
    msgpack_unpacked_destroy(&u);
}

/* Receives events until `through` has been seen (or time runs out);
 * asserts that they come as positions from, from + 1, ... */
static void
expect_positions(rig_t *r, int64_t from, int64_t through)
{
    int64_t seen[64];
    int n = 0;
    bus_msg_t m;
    while (n < (int)(through - from + 1) && next_events(r->sub, ITEST_WAIT_MS, &m) == 0) {
        collect_positions(&m, seen, &n, 64);
        bus_msg_close(&m);
    }
    cr_assert_eq(n, through - from + 1, "saw %d events of %lld..%lld", n, (long long)from,
                 (long long)through);
    for (int i = 0; i < n; i++)
        cr_assert_eq(seen[i], from + i, "position %lld where %lld was due", (long long)seen[i],
                     (long long)(from + i));
}

static void
append_events(rig_t *r, int64_t first_version, int count)
{
    event_t *ev = malloc(sizeof *ev);
    cr_assert_eq(eventstore_begin(r->es), ERR_OK);
    for (int i = 0; i < count; i++) {
        int64_t v = first_version + i;
        sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-d1", v, (int)v);
        cr_assert_eq(eventstore_append(r->es, ev), ERR_OK);
    }
    cr_assert_eq(eventstore_commit(r->es), ERR_OK);
    free(ev);
}

static void
nudge_raw(rig_t *r, const void *body, size_t len)
{
    cr_assert_eq(zmq_send(r->push, body, len, 0), (int)len);
}

static void
nudge(rig_t *r, int64_t durable)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, durable);
    nudge_raw(r, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The relay alone, with self_sync_ms in its environment, a subscriber that
 * has seen a heartbeat, the store open for appends and a PUSH to the nudge
 * endpoint. */
static void
rig_start(rig_t *r, const char *self_sync_ms)
{
    setenv("INV_RELAY_SELF_SYNC_MS", self_sync_ms, 1);
    harness_opts_t o = {.daemons = HD_RELAY};
    r->h = harness_start(&o);
    cr_assert_not_null(r->h);
    char db[512];
    snprintf(db, sizeof db, "%s/events.db", harness_dir(r->h));
    eventstore_options_t eo = {false, 5000, 0, 0}; /* NORMAL, as the command-service */
    cr_assert_eq(eventstore_open(db, &eo, &r->es), ERR_OK);
    r->ctx = zmq_ctx_new();
    r->sub = zmq_socket(r->ctx, ZMQ_SUB);
    r->push = zmq_socket(r->ctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(r->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r->push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r->sub, ZMQ_SUBSCRIBE, "", 0);
    cr_assert_eq(harness_connect(r->sub, harness_endpoint(r->h, "events")), 0);
    cr_assert_eq(harness_connect(r->push, harness_endpoint(r->h, "nudge")), 0);
    bool subscribed = false; /* a heartbeat comes every 500 ms */
    for (int i = 0; i < 20 && !subscribed; i++) {
        zmq_pollitem_t item = {r->sub, 0, ZMQ_POLLIN, 0};
        bus_msg_t m;
        if (zmq_poll(&item, 1, 500) > 0 && bus_recv(r->sub, &m, ZMQ_DONTWAIT) == 0) {
            subscribed = bus_frame_is(&m, 0, TOPIC_HEARTBEAT);
            bus_msg_close(&m);
        }
    }
    cr_assert(subscribed, "no heartbeat on the event bus");
}

static void
rig_stop(rig_t *r)
{
    zmq_close(r->sub);
    zmq_close(r->push);
    zmq_ctx_term(r->ctx);
    eventstore_close(&r->es);
    cr_assert_eq(harness_destroy(&r->h), 0);
}

/* ReadEvents after 0: the count of events and the head it reports. */
static void
read_events(rig_t *r, int64_t *count, int64_t *head)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    codec_pack_kv_str(&pk, "type", "ReadEvents");
    codec_pack_kv_int(&pk, "after", 0);
    harness_reply_t rep;
    cr_assert_eq(harness_request(r->h, "catchup", sb.data, sb.size, ITEST_TIMEOUT_MS, &rep), 0);
    msgpack_sbuffer_destroy(&sb);
    cr_assert(harness_reply_ok(&rep));
    const msgpack_object *evs = harness_reply_get(&rep, "events");
    cr_assert(evs && evs->type == MSGPACK_OBJECT_ARRAY);
    *count = evs->via.array.size;
    cr_assert_eq(harness_reply_int(&rep, "head", head), 0);
    harness_reply_fini(&rep);
}

/* Committed is not published: of ten committed events the relay publishes
 * and serves the four announced durable, and not one more while no nudge
 * says so (its own fsync is an hour away); hostile nudges move nothing;
 * the nudge for ten releases the rest in order; a nudge far beyond the
 * head moves the durable position only to the head. */
Test(durability, relay_publishes_only_what_is_announced_durable, .timeout = 120)
{
    rig_t r;
    rig_start(&r, "3600000");
    append_events(&r, 1, 10);
    nudge(&r, 4);
    expect_positions(&r, 1, 4);
    bus_msg_t m;
    cr_assert_neq(next_events(r.sub, 1500, &m), 0, "the relay published past the durable position");
    int64_t count = -1, head = -1;
    read_events(&r, &count, &head);
    cr_assert_eq(count, 4, "catch-up served %lld events, 4 are durable", (long long)count);
    cr_assert_eq(head, 4);
    cr_assert_eq(status_int(r.h, "catchup", "durable"), 4);
    cr_assert_eq(status_int(r.h, "catchup", "head"), 10, "the relay's head is the store's");

    /* not a position: empty, not msgpack, negative, a string, above INT64_MAX */
    nudge_raw(&r, "", 0);
    nudge_raw(&r, "\xc1", 1);
    nudge(&r, -7);
    nudge_raw(&r, "\xa2\x39\x39", 3); /* the string "99" */
    nudge_raw(&r, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    nudge(&r, 3); /* lower: durable positions only rise */
    cr_assert_neq(next_events(r.sub, 1000, &m), 0, "a hostile nudge released events");
    cr_assert_eq(status_int(r.h, "catchup", "durable"), 4);

    nudge(&r, 10);
    expect_positions(&r, 5, 10);
    read_events(&r, &count, &head);
    cr_assert_eq(count, 10);
    cr_assert_eq(head, 10);

    /* beyond the head: held to the head, so rows committed later wait */
    nudge(&r, 1000000);
    cr_assert_neq(next_events(r.sub, 500, &m), 0);
    cr_assert_eq(status_int(r.h, "catchup", "durable"), 10);
    append_events(&r, 11, 3);
    cr_assert_neq(next_events(r.sub, 1000, &m), 0, "a nudge beyond the head lifted the cap");
    nudge(&r, 13);
    expect_positions(&r, 11, 13);
    rig_stop(&r);
}

/* When nothing announces a durable position (the command-service died
 * between a commit and its fsync), the relay fsyncs the WAL itself after
 * self_sync_ms and publishes. */
Test(durability, relay_syncs_the_wal_itself_when_no_nudge_comes, .timeout = 120)
{
    rig_t r;
    rig_start(&r, "100");
    int64_t syncs = status_int(r.h, "catchup", "self_syncs");
    cr_assert_geq(syncs, 1, "the relay did not sync the WAL at start");
    append_events(&r, 1, 5);
    expect_positions(&r, 1, 5);
    cr_assert_gt(status_int(r.h, "catchup", "self_syncs"), syncs);
    cr_assert_eq(status_int(r.h, "catchup", "durable"), 5);
    rig_stop(&r);
}

/* The command-service answers through its syncer: after a command its
 * Status counts fsyncs and says durable through the head, and the relay
 * heard so from the nudges, not from an fsync of its own. */
Test(durability, command_replies_follow_the_syncers_fsync, .timeout = 120)
{
    setenv("INV_RELAY_SELF_SYNC_MS", "3600000", 1);
    harness_opts_t o = {.daemons = HD_COMMAND | HD_RELAY};
    harness_t *h = harness_start(&o);
    cr_assert_not_null(h);
    int64_t relay_syncs = status_int(h, "catchup", "self_syncs");
    command_t cmd;
    sample_command(&cmd, CMD_REGISTER_SUPPLIER, 1);
    command_reply_t rep;
    cr_assert_eq(harness_command(h, &cmd, ITEST_TIMEOUT_MS, &rep), 0);
    cr_assert(rep.accepted, "%s", rep.message);
    cr_assert_geq(status_int(h, "command", "syncs"), 1);
    cr_assert_eq(status_int(h, "command", "durable"), rep.position);
    cr_assert_eq(harness_wait_position(h, "relay", rep.position, ITEST_WAIT_MS), 0);
    cr_assert_eq(status_int(h, "catchup", "durable"), rep.position);
    cr_assert_eq(status_int(h, "catchup", "self_syncs"), relay_syncs);
    cr_assert_eq(harness_destroy(&h), 0);
}
