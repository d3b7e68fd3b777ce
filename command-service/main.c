/* command-service: takes commands on a ROUTER, decides them against the
 * aggregates and appends the events plus outbox rows to events.db in one
 * transaction per batch.  Settings: docs/conventions.md. */
#include "bus.h"
#include "commandsvc.h"
#include "config.h"
#include "httpserv.h"
#include "log.h"
#include "modellock.h"
#include "proc.h"
#include "storedaemon.h"
#include "syncer.h"
#include "topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *db;
    const char *bind;
    const char *nudge;
    const char *sync;
    const char *store;      /* "": events.db alone; dqlite:...: the replicated log */
    const char *store_node; /* this host's store node */
    const char *advertise;  /* the endpoint clients are sent to when this one is active */
    config_daemon_t daemon; /* log level and format, --http */
    int64_t batch_max;
    int64_t cache_slots;
    int64_t snapshot_every;
    int64_t cache_mb;
    int64_t busy_timeout_ms;
} settings_t;

static int
settings_load(settings_t *s, int argc, char **argv)
{
    *s = (settings_t){
        .db = "events.db",
        .bind = EP_COMMAND,
        .nudge = EP_NUDGE,
        .sync = "full",
        .store = "",
        .store_node = "",
        .advertise = "",
        .daemon = CONFIG_DAEMON_DEFAULTS,
        .batch_max = 0, /* 256, or 2048 with a replicated log */
        .cache_slots = 16384,
        .snapshot_every = 100,
        .cache_mb = 32,
        .busy_timeout_ms = 5000,
    };
    const config_option_t opts[] = {
        CONFIG_STR_OPT("--db", "INV_EVENTS_DB", &s->db, "event store file"),
        CONFIG_STR_OPT("--bind", "INV_COMMAND_BIND", &s->bind, "command ROUTER endpoint"),
        CONFIG_STR_OPT("--nudge", "INV_NUDGE_EP", &s->nudge, "relay nudge endpoint (PUSH)"),
        CONFIG_STR_OPT("--sync", "INV_SYNC", &s->sync, "full (durable on power loss) or normal"),
        CONFIG_STR_OPT("--store", "INV_STORE", &s->store,
                       "dqlite:HOST:PORT,...: replicate the log on that cluster (default: events.db"
                       " alone)"),
        CONFIG_STR_OPT("--store-node", "INV_STORE_NODE", &s->store_node,
                       "this host's store node HOST:PORT (with --store)"),
        CONFIG_STR_OPT("--advertise", "INV_COMMAND_ADVERTISE", &s->advertise,
                       "the endpoint clients use to reach this service (default: --bind)"),
        CONFIG_INT_OPT("--batch-max", "INV_BATCH_MAX", &s->batch_max,
                       "commands per transaction (0: 256, or 2048 with --store dqlite:...)"),
        CONFIG_INT_OPT("--cache-slots", "INV_CACHE_SLOTS", &s->cache_slots, "aggregate cache size"),
        CONFIG_INT_OPT("--snapshot-every", "INV_SNAPSHOT_EVERY", &s->snapshot_every,
                       "snapshot a stream every N events (0: never)"),
        CONFIG_INT_OPT("--cache-mb", "INV_CACHE_MB", &s->cache_mb, "SQLite page cache, MiB"),
        CONFIG_INT_OPT("--busy-timeout-ms", "INV_BUSY_TIMEOUT_MS", &s->busy_timeout_ms,
                       "wait this long for the write lock before answering unavailable"),
    };
    int rc = config_load("command-service", "command", opts, sizeof opts / sizeof opts[0], argc,
                         argv, &s->daemon);
    if (rc != 0)
        return rc;
    /* A replicated batch costs a round trip to a quorum of store nodes
     * (a few ms) where a local one costs an fsync shared with the next
     * batch: larger batches keep the throughput. */
    if (s->batch_max == 0)
        s->batch_max = s->store[0] ? 2048 : 256;
    if ((strcmp(s->sync, "full") != 0 && strcmp(s->sync, "normal") != 0) || s->batch_max < 1 ||
        s->batch_max > 4096 || s->cache_slots < 1 || s->snapshot_every < 0 || s->cache_mb < 1 ||
        s->busy_timeout_ms < 0) {
        fprintf(stderr, "bad setting: sync %s, batch-max %lld, cache-slots %lld\n", s->sync,
                (long long)s->batch_max, (long long)s->cache_slots);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    settings_t cfg;
    int rc = settings_load(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    proc_install_signals();
    /* The relay checkpoints the WAL; the command path only does so past
     * 20000 pages (the relay is down).  With --sync full the connection
     * commits with synchronous=NORMAL and the syncer's fsync, off the
     * write lock, makes each batch durable before it is answered. */
    /* With a replicated log, a batch is durable once the log has it on a
     * majority of the store nodes: events.db is a copy and needs no fsync
     * of its own (a lost tail is copied from the log again). */
    bool replicated = cfg.store[0] != '\0';
    bool full = strcmp(cfg.sync, "full") == 0 && !replicated;
    eventstore_options_t eo = {false, (int)cfg.busy_timeout_ms, (int)cfg.cache_mb, 20000};
    int lock = modellock_take(cfg.db); /* one command-service per store */
    if (lock < 0)
        return 1;
    storedaemon_t d;
    char why[512];
    if (storedaemon_open(&d, cfg.db, &eo, &cfg.daemon, "command") != 0 ||
        security_expect_server(cfg.nudge, "relay", NULL, why, sizeof why) != 0) {
        if (d.zctx)
            LOG_E(NULL, "%s", why);
        storedaemon_close(&d);
        modellock_release(&lock);
        return 1;
    }
    metrics_t *metrics = metrics_new("command");
    metrics_sampled(metrics, "inv_wal_bytes", "", "Size of the event store's WAL.", 1,
                    metrics_wal_bytes, (void *)cfg.db);
    syncer_t *syncer = full ? syncer_new(eventstore_wal_path(d.es),
                                         metrics_latency(metrics, "inv_fsync_seconds", "",
                                                         "Time of each fdatasync of the WAL."))
                            : NULL;
    replica_t *replica = NULL;
    if (replicated) {
        replica_opts_t ro = {.store = cfg.store,
                             .node = cfg.store_node,
                             .kind = "command",
                             .endpoint = cfg.advertise[0] ? cfg.advertise : cfg.bind,
                             .zctx = d.zctx};
        if (!(replica = replica_new(&ro, why, sizeof why))) {
            LOG_E(NULL, "%s", why);
            rc = 2;
        }
    }
    void *router = rc == 0 ? bus_bind(d.zctx, ZMQ_ROUTER, cfg.bind) : NULL;
    void *nudge = bus_connect(d.zctx, ZMQ_PUSH, cfg.nudge);
    commandsvc_opts_t so = {
        (int)cfg.batch_max, (int)cfg.cache_slots, cfg.snapshot_every, syncer, metrics, replica};
    commandsvc_t *svc =
        router && (syncer || !full) ? commandsvc_new(d.es, router, nudge, &so) : NULL;
    httpserv_t *http = NULL;
    if (rc != 0) {
        /* a bad --store or --store-node: said above */
    } else if (svc && httpserv_open(cfg.daemon.http, metrics, &http) != 0) {
        rc = 2;
    } else if (full && !syncer) {
        LOG_E(NULL, "cannot start the WAL syncer thread: %s", strerror(errno));
        rc = 1;
    } else if (!router) {
        LOG_E(NULL, "cannot serve on %s: %s", cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else if (!svc) {
        rc = 1; /* commandsvc_new said why */
    } else {
        LOG_I(NULL, "command-service on %s, store %s (%s)", cfg.bind, cfg.db,
              replicated ? cfg.store
              : full     ? "synchronous=full"
                         : "synchronous=normal");
        rc = commandsvc_run(svc);
        LOG_I(NULL, "command-service stopping");
    }
    httpserv_stop(&http);
    commandsvc_destroy(&svc);
    syncer_destroy(&syncer);
    replica_destroy(&replica);
    metrics_destroy(&metrics);
    bus_close(&nudge);
    bus_close(&router);
    storedaemon_close(&d);
    modellock_release(&lock);
    return rc;
}
