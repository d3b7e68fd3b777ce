/* relay: see relay.h.
 * `published_through` is the highest position such that every event at or
 * below it has been published at least once; it is what heartbeats announce
 * as the head, so a subscriber never chases events that are still on their
 * way out of the outbox.
 * `durable_through` is the highest position known to be on disk: the
 * command-service commits without an fsync and announces in its nudges
 * what its syncer has made durable (syncer.h).  Nothing above it is
 * published or served, so no subscriber ever holds an event that a power
 * loss could take back and a later command could reuse the position of.
 * When rows wait above it (the committed head is higher) and no nudge has
 * moved it for self_sync_ms (the command-service died between a commit and
 * its fsync), and at start, the relay fsyncs the WAL itself.
 * The hash chain (common/store/chain.h) is checked before anything is
 * published or served: the store checks every row it reads against the
 * stored hash of the event before it, and the relay keeps the last
 * verified (position, hash) in memory (`chain`), walks it from the start of
 * the log in pages (relay_verify) and moves it over each event it publishes
 * (relay_publish_one), which also catches a rewritten tail.  The first
 * position that does not follow is `damaged_at`: it is logged and put in
 * Status, and nothing from it on is published or served, for as long as
 * the relay runs (a restart finds it again). */
#include "relay.h"

#include "bus.h"
#include "catchup.h"
#include "log.h"
#include "proc.h"
#include "rpc.h"
#include "security.h"
#include "topology.h"
#include "walsync.h"
#include "metrics.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUTBOX_PAGE 1000
#define HEARTBEAT_MS 500
#define POLL_MS 50
/* With a replicated log: how often the relay asks who leads. */
#define REPLICA_TICK_MS 100
#define DELETE_EVERY_MS 200
/* After a drain that published only a few events (commits of one or two
 * commands at a moderate rate), nudges are left unread for COALESCE_US and
 * the next drain takes everything committed meanwhile: the relay and every
 * subscriber then wake about once per millisecond instead of once per commit
 * (docs/decisions.md, item 21).  An idle relay still answers the first
 * nudge at once, and under full load drains are big and follow every nudge
 * (waiting there only cost throughput). */
#define COALESCE_US 1000
#define COALESCE_BELOW 32
/* A drain goes out in batches: one `events` message (a msgpack array of
 * event maps) per BATCH_EVENTS events or BATCH_BYTES bytes, a lone event as
 * one `event` message.  Every message costs the relay, the ZeroMQ I/O
 * threads and each subscriber a hand-off and a wake-up whatever its size
 * (docs/decisions.md, item 31).  The bytes bound what a stalled
 * subscriber's queue can hold: BUS_PUBSUB_HWM batches (bus.h).  With 256
 * KiB batches the relay grew to 68 MiB behind one stopped subscriber; 16
 * KiB cost the relay about 1 us more per event than 256 KiB in bench/cpu
 * (three pairs: 8.3 / 8.3 / 7.4 against 7.0 / 6.3 / 6.9 us). */
#define BATCH_EVENTS 256
#define BATCH_BYTES (16 * 1024)
/* The batch buffer starts with room for an array16 header (0xdc and the
 * count, big-endian), written when the batch is sent. */
#define BATCH_HEADER 3
/* Events of the chain checked per loop turn while the in-memory chain is
 * behind (at start): ~10 ms of work, so heartbeats and catch-up go on. */
#define VERIFY_PAGE 8192

struct relay {
    eventstore_t *es;
    void *pub, *router, *nudge;
    uint64_t removals_seen; /* security_removals() when pub last dropped revoked keys */
    catchup_relay_stats_t stats;
    checkpointer_t *ckpt; /* borrowed, may be NULL */
    walsync_t wal;
    int64_t self_sync_ms;
    int64_t durable_ms;        /* monotonic: when durable_through last moved or was checked */
    int64_t bad_nudges;        /* nudges beyond the head, for their log lines */
    int64_t head_seen;         /* the committed head as last read (it only grows) */
    int64_t head_recorded_at;  /* recorded_at of published_through */
    int64_t next_heartbeat_ms; /* monotonic */
    int64_t page_last;         /* last position published in the current page */
    int64_t deleted_through;   /* outbox rows <= this are deleted */
    int64_t next_delete_ms;    /* monotonic: no outbox delete before this */
    int64_t failures;          /* consecutive store errors, for back-off */
    int64_t quiet_until_us;    /* monotonic: no drain before this (COALESCE_US) */
    codec_writer_t w;
    codec_writer_t batch; /* BATCH_HEADER bytes, then the batch's event maps */
    int batch_n;          /* events in batch */
    int64_t batch_last;   /* position of its last event */
    int64_t batch_last_recorded;
    es_chain_state_t chain;         /* the last verified (position, hash) */
    bool chain_walked;              /* the walk from the start reached what was published */
    metrics_t *metrics;             /* borrowed, may be NULL */
    metrics_counter_t *m_published; /* events sent on the PUB socket */
    metrics_histogram_t *m_batch;   /* events per message sent */
    metrics_histogram_t *m_fsync;   /* the relay's own fsyncs, us */
    metrics_gauge_t *m_published_through;
    int64_t health_damaged_at; /* stats.damaged_at as told to the health */
    replica_t *replica;        /* borrowed, NULL: events.db alone */
    bool active;               /* publishes and serves: no replica, or its node leads */
    int64_t replica_tick_ms;   /* monotonic time of the next relay_replica_tick */
};

static void
relay_batch_reset(relay_t *r)
{
    codec_writer_reset(&r->batch);
    msgpack_sbuffer_write(&r->batch.buf, "\xdc\0\0", BATCH_HEADER);
    r->batch_n = 0;
}

/* The relay's series, registered once at start. */
static void
relay_metrics_init(relay_t *r, metrics_t *m)
{
    static const int64_t sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    r->metrics = m;
    r->m_published =
        metrics_counter(m, "inv_events_published", "",
                        "Events sent on the event PUB socket (again after a restart).");
    r->m_batch = metrics_histogram(m, "inv_publish_batch_size", "", "Events per message published.",
                                   sizes, (int)(sizeof sizes / sizeof sizes[0]), 1);
    r->m_fsync = metrics_latency(m, "inv_fsync_seconds", "",
                                 "Time of each fdatasync of the WAL the relay made itself.");
    r->m_published_through =
        metrics_gauge(m, "inv_published_position", "",
                      "Every event at or below this position has been published.", 1);
}

relay_t *
relay_new(eventstore_t *es, void *pub, void *router, void *nudge, checkpointer_t *ckpt,
          int64_t self_sync_ms, metrics_t *metrics)
{
    relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (walsync_init(&r->wal, eventstore_wal_path(es)) != 0) {
        free(r);
        return NULL;
    }
    r->self_sync_ms = self_sync_ms;
    r->es = es;
    r->pub = pub;
    r->removals_seen = security_removals();
    r->router = router;
    r->nudge = nudge;
    r->ckpt = ckpt;
    codec_writer_init(&r->w);
    codec_writer_init(&r->batch);
    relay_batch_reset(r);
    relay_metrics_init(r, metrics);
    relay_set_replica(r, NULL);
    return r;
}

void
relay_destroy(relay_t **rp)
{
    if (!rp || !*rp)
        return;
    codec_writer_fini(&(*rp)->w);
    codec_writer_fini(&(*rp)->batch);
    walsync_fini(&(*rp)->wal);
    free(*rp);
    *rp = NULL;
}

/* Sends the batch (`event` for one event, `events` for more) and starts
 * the next.  0, or -1 when the PUB socket refused it. */
static int
relay_batch_send(relay_t *r)
{
    if (r->batch_n == 0)
        return 0;
    char *buf = r->batch.buf.data;
    size_t size = r->batch.buf.size;
    int rc;
    if (r->batch_n == 1) {
        rc = bus_send(r->pub, TOPIC_EVENT, buf + BATCH_HEADER, size - BATCH_HEADER, 0);
    } else {
        buf[1] = (char)(r->batch_n >> 8);
        buf[2] = (char)(r->batch_n & 0xff);
        rc = bus_send(r->pub, TOPIC_EVENTS, buf, size, 0);
    }
    if (rc == 0) {
        r->page_last = r->batch_last;
        r->head_recorded_at = r->batch_last_recorded;
        r->stats.published += r->batch_n;
        metrics_add(r->m_published, r->batch_n);
        metrics_observe(r->m_batch, r->batch_n);
    }
    relay_batch_reset(r);
    return rc;
}

static int
relay_publish_one(const envelope_t *env, const void *data, size_t len, void *arg)
{
    relay_t *r = arg;
    if (!eventstore_chain_follow(r->es, &r->chain, env, data, len))
        return 1; /* damaged: nothing from it on goes out (relay_note_damage) */
    codec_pack_event_raw(&r->batch, env, data, len);
    r->batch_n++;
    r->batch_last = env->position;
    r->batch_last_recorded = env->recorded_at;
    if (r->batch_n >= BATCH_EVENTS || r->batch.buf.size >= BATCH_BYTES)
        return relay_batch_send(r);
    return 0;
}

/* Deletes the published outbox rows: at most every DELETE_EVERY_MS, so
 * the relay takes the write lock rarely and never queues behind every
 * commit.  The WAL is checkpointed by a thread of its own (checkpointer.h).
 * Rows published but not yet deleted go out again after a relay crash
 * (at least once); subscribers drop them as duplicates. */
static void
relay_delete_published(relay_t *r, bool force)
{
    if (r->deleted_through >= r->stats.published_through)
        return;
    if (!force && proc_mono_ms() < r->next_delete_ms)
        return;
    r->next_delete_ms = proc_mono_ms() + DELETE_EVERY_MS;
    if (eventstore_outbox_delete_through(r->es, r->stats.published_through) == ERR_OK)
        r->deleted_through = r->stats.published_through;
    else if (r->failures++ % 20 == 0)
        LOG_W(NULL, "outbox: delete failed (%s); will retry", eventstore_errmsg(r->es));
}

/* Takes the first damaged position the chain walk or any read found:
 * logged once, in Status, and the bound of what is published and served. */
static void
relay_note_damage(relay_t *r)
{
    r->stats.chain_through = r->chain.through;
    int64_t at = r->chain.bad_position, read_at = eventstore_damaged_at(r->es);
    if (read_at > 0 && (at == 0 || read_at < at))
        at = read_at;
    if (at == 0 || (r->stats.damaged_at > 0 && r->stats.damaged_at <= at))
        return;
    r->stats.damaged_at = at;
    LOG_E(NULL,
          "event store damaged at position %lld: its hash chain breaks there (a changed, "
          "removed or reordered event); publishing and serving stop before it (published "
          "through %lld); restore events.db from a backup",
          (long long)at, (long long)r->stats.published_through);
}

/* Moves the in-memory chain on by up to VERIFY_PAGE published events: at
 * start it walks the log published before; events published afterwards
 * move it themselves (relay_publish_one) once it has caught up. */
static void
relay_verify(relay_t *r)
{
    int64_t through = r->stats.published_through; /* what publishing will not check */
    if (r->chain.bad_position || r->chain.through >= through)
        return;
    if (eventstore_chain_verify(r->es, &r->chain, through, VERIFY_PAGE) != ERR_OK) {
        if (r->failures++ % 20 == 0)
            LOG_W(NULL, "chain: store error (%s); will retry", eventstore_errmsg(r->es));
        return;
    }
    if (!r->chain_walked && r->chain.through >= through && !r->chain.bad_position) {
        r->chain_walked = true;
        LOG_I(NULL, "hash chain verified from position 1 through %lld (%lld events)",
              (long long)r->chain.through, (long long)r->chain.checked);
    }
    relay_note_damage(r);
}

/* Publishes pages of the outbox after published_through until none is left.
 * Reading needs no lock (WAL): the command-service keeps committing. */
static void
relay_drain_pages(relay_t *r)
{
    for (;;) {
        r->page_last = 0;
        int64_t before = r->stats.published;
        int rc =
            eventstore_outbox_read(r->es, r->stats.published_through, catchup_servable(&r->stats),
                                   OUTBOX_PAGE, relay_publish_one, r);
        if (relay_batch_send(r) != 0 && rc == ERR_OK)
            rc = -1; /* as a refused send inside the read returns */
        if (r->page_last > r->stats.published_through)
            r->stats.published_through = r->page_last;
        relay_note_damage(r);
        if (rc != ERR_OK && r->stats.damaged_at > 0)
            return; /* published up to the damage; nothing more */
        if (rc != ERR_OK) {
            if (r->failures++ % 20 == 0)
                LOG_W(NULL, "outbox: store error (%s); will retry", eventstore_errmsg(r->es));
            return;
        }
        r->failures = 0;
        if (r->stats.published - before < OUTBOX_PAGE)
            break;
    }
    relay_delete_published(r, false);
}

/* Publishes what the outbox holds, then stays quiet for COALESCE_US if that
 * was a few events. */
static void
relay_drain(relay_t *r)
{
    int64_t published = r->stats.published;
    relay_drain_pages(r);
    int64_t n = r->stats.published - published;
    if (n > 0 && n < COALESCE_BELOW)
        r->quiet_until_us = proc_mono_us() + COALESCE_US;
}

static void
relay_heartbeat(relay_t *r)
{
    codec_writer_reset(&r->w);
    codec_map_open(&r->w);
    codec_map_int(&r->w, "head", r->stats.published_through);
    codec_map_int(&r->w, "head_recorded_at", r->head_recorded_at);
    codec_map_int(&r->w, "ts", proc_now_us());
    codec_map_close(&r->w);
    bus_send(r->pub, TOPIC_HEARTBEAT, r->w.buf.data, r->w.buf.size, 0);
    r->stats.heartbeats++;
    r->next_heartbeat_ms = proc_mono_ms() + HEARTBEAT_MS;
}

/* fsyncs the WAL itself when committed rows wait above durable_through
 * (always when forced, at start): everything committed before is then
 * durable.  Runs at most once per self_sync_ms without a nudge. */
static void
relay_self_sync(relay_t *r, bool force)
{
    int64_t head = 0;
    r->durable_ms = proc_mono_ms(); /* paces the checks, and retries after a failure */
    if (eventstore_head(r->es, &head, NULL) != ERR_OK) {
        LOG_W(NULL, "outbox: cannot read the head (%s); will retry", eventstore_errmsg(r->es));
        return;
    }
    if (!force && head <= r->stats.durable_through)
        return;
    if (r->replica) { /* every row of events.db is in the replicated log already */
        r->stats.durable_through = head;
        return;
    }
    int64_t started = proc_mono_us();
    int rc = walsync_sync(&r->wal);
    metrics_observe(r->m_fsync, proc_mono_us() - started);
    if (rc != 0) {
        LOG_E(NULL, "fsync of the event store's WAL failed: %s; publishing waits", strerror(errno));
        return;
    }
    if (head > r->stats.durable_through) {
        if (r->stats.durable_through > 0)
            LOG_I(NULL,
                  "no durable position announced for %lld ms: synced the WAL, durable "
                  "through %lld",
                  (long long)r->self_sync_ms, (long long)head);
        r->stats.durable_through = head;
    }
    r->stats.self_syncs++;
}

/* A nudge's body is the position the command-service has made durable (a
 * msgpack integer); anything else only wakes the relay.  0 when none. */
int64_t
relay_nudge_decode(const void *body, size_t len)
{
    mpread_t r;
    const char *why;
    int64_t position = 0;
    if (!body || codec_reader_init(&r, body, len, &why) != 0 || mpread_int(&r, &position) != 0)
        return 0;
    return position > 0 ? position : 0;
}

static int64_t
relay_nudge_position(const bus_msg_t *m)
{
    size_t len = 0;
    const void *body = bus_body(m, &len);
    return relay_nudge_decode(body, len);
}

/* Takes every queued nudge.  A position above the committed head cannot
 * come from the command-service (it announces only what it committed
 * before): it is held to the head, so a stray or hostile nudge cannot lift
 * the cap over rows committed later.  The head is read again only for a
 * position beyond the head last read (committed rows stay: the head only
 * grows), which was a query per nudge (8 % of the relay's CPU in S2). */
static void
relay_read_nudges(relay_t *r)
{
    int64_t announced = 0, head = r->head_seen;
    bus_msg_t m;
    while (bus_recv(r->nudge, &m, ZMQ_DONTWAIT) == 0) {
        int64_t p = relay_nudge_position(&m);
        announced = p > announced ? p : announced;
        bus_msg_close(&m);
    }
    if (announced <= r->stats.durable_through)
        return;
    if (announced > head) {
        if (eventstore_head(r->es, &head, NULL) != ERR_OK)
            return;
        r->head_seen = head;
    }
    if (announced > head) {
        if (r->bad_nudges++ % 20 == 0)
            LOG_W(NULL, "a nudge announced position %lld beyond the head %lld; held to the head",
                  (long long)announced, (long long)head);
        announced = head;
    }
    if (announced > r->stats.durable_through) {
        r->stats.durable_through = announced;
        r->durable_ms = proc_mono_ms();
    }
}

/* Answers queued catch-up requests, after the nudges that came before
 * them: the command-service announces a durable position before it
 * replies, so a client that reads its stream after a reply finds its
 * event (also while the relay coalesces drains). */
static void
relay_serve(relay_t *r)
{
    if (r->nudge)
        relay_read_nudges(r);
    for (int i = 0; i < 64; i++) {
        if (r->ckpt)
            r->stats.wal = checkpointer_seen(r->ckpt).wal;
        int rc = catchup_serve(r->router, r->es, &r->stats, &r->w);
        relay_note_damage(r);
        if (rc == RPC_IDLE)
            return;
    }
}

/* Everything at or below the head is published once the outbox holds nothing
 * below it; start from there, with the WAL synced. */
static void
relay_start_position(relay_t *r)
{
    relay_self_sync(r, true);
    int64_t head = 0, rec = 0, backlog = 0;
    if (eventstore_head(r->es, &head, &rec) == ERR_OK &&
        eventstore_outbox_backlog(r->es, &backlog) == ERR_OK && backlog == 0) {
        r->stats.published_through = head;
        r->head_recorded_at = rec;
    }
    LOG_I(NULL, "relay starting: head %lld, outbox backlog %lld; verifying the hash chain",
          (long long)head, (long long)backlog);
}

/* The health (metrics.h): a turn of the loop, and a damaged store, told
 * when found. */
static void
relay_health(relay_t *r)
{
    metrics_beat(r->metrics);
    metrics_set(r->m_published_through, r->stats.published_through);
    if (r->stats.damaged_at == r->health_damaged_at)
        return;
    r->health_damaged_at = r->stats.damaged_at;
    char why[160];
    snprintf(why, sizeof why,
             "event store damaged at position %lld: publishing stops before it; restore it from "
             "a backup",
             (long long)r->stats.damaged_at);
    metrics_set_problem(r->metrics, r->stats.damaged_at > 0 ? why : NULL);
}

void
relay_set_replica(relay_t *r, replica_t *replica)
{
    r->replica = replica;
    r->active = replica == NULL;
    r->stats.role = replica ? "standby" : "single";
    r->stats.leader = replica ? "" : NULL;
}

/* With a replicated log, every REPLICA_TICK_MS: who leads.  Becoming
 * active, the relay starts as at a start: what the outbox no longer holds
 * was published by the relay active before (or a subscriber's catch-up
 * repairs it). */
static void
relay_replica_tick(relay_t *r)
{
    int64_t now = proc_mono_ms();
    if (!r->replica || now < r->replica_tick_ms)
        return;
    r->replica_tick_ms = now + REPLICA_TICK_MS;
    bool leads = replica_refresh(r->replica) == REPLICA_LEADER;
    r->stats.leader = leads ? NULL : replica_leader_endpoint(r->replica);
    if (leads == r->active)
        return;
    r->active = leads;
    r->stats.role = leads ? "active" : "standby";
    LOG_I(NULL, "relay %s", leads ? "active: this host's store node leads" : "standby");
    if (leads) {
        relay_start_position(r);
        relay_heartbeat(r);
    }
}

int
relay_run(relay_t *r)
{
    if (!r->replica) { /* with one, relay_replica_tick starts it */
        relay_start_position(r);
        relay_drain(r);
        relay_heartbeat(r);
    }
    while (!proc_stopping()) {
        relay_replica_tick(r);
        int64_t quiet_us = r->quiet_until_us - proc_mono_us();
        zmq_pollitem_t items[2] = {{r->router, 0, ZMQ_POLLIN, 0},
                                   {r->nudge, 0, quiet_us > 0 ? 0 : ZMQ_POLLIN, 0}};
        /* a standby sends no heartbeat: its next one is not a deadline */
        int64_t wait = r->active ? r->next_heartbeat_ms - proc_mono_ms() : POLL_MS;
        wait = wait < 0 ? 0 : (wait > POLL_MS ? POLL_MS : wait);
        if (quiet_us > 0 && wait > (quiet_us + 999) / 1000)
            wait = (quiet_us + 999) / 1000;
        int rc = zmq_poll(items, r->nudge ? 2 : 1, (long)wait);
        if (rc < 0 && errno != EINTR)
            break;
        bool drain = proc_mono_us() >= r->quiet_until_us;
        if (r->nudge && (drain || (items[1].revents & ZMQ_POLLIN)))
            relay_read_nudges(r); /* the durable position before the drain */
        if (proc_mono_ms() - r->durable_ms >= r->self_sync_ms)
            relay_self_sync(r, false);
        relay_verify(r);
        if (drain && r->active)
            relay_drain(r);
        if (items[0].revents & ZMQ_POLLIN)
            relay_serve(r);
        if (r->active && proc_mono_ms() >= r->next_heartbeat_ms) {
            security_drop_revoked(r->pub, &r->removals_seen); /* a removed key's subscription */
            relay_heartbeat(r);
        }
        relay_health(r);
    }
    relay_delete_published(r, true);
    LOG_I(NULL, "relay stopping: published through %lld", (long long)r->stats.published_through);
    return 0;
}
