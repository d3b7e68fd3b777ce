/* outbox-relay: publishes the outbox of events.db on a PUB socket, sends
 * heartbeats, and serves catch-up reads.  Settings: docs/conventions.md. */
#include "bus.h"
#include "checkpointer.h"
#include "config.h"
#include "httpserv.h"
#include "log.h"
#include "proc.h"
#include "relay.h"
#include "storedaemon.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>

typedef struct {
    const char *db;
    const char *pub;
    const char *catchup;
    const char *nudge;
    const char *store;      /* "": events.db alone; dqlite:...: the replicated log */
    const char *store_node; /* this host's store node */
    const char *advertise;  /* the catch-up endpoint subscribers are sent to */
    config_daemon_t daemon; /* log level and format, --http */
    int64_t self_sync_ms;
} settings_t;

static int
settings_load(settings_t *s, int argc, char **argv)
{
    *s = (settings_t){
        .db = "events.db",
        .pub = EP_EVENTS,
        .catchup = EP_CATCHUP,
        .nudge = EP_NUDGE,
        .store = "",
        .store_node = "",
        .advertise = "",
        .daemon = CONFIG_DAEMON_DEFAULTS,
        .self_sync_ms = 200,
    };
    const config_option_t opts[] = {
        CONFIG_STR_OPT("--db", "INV_EVENTS_DB", &s->db, "event store file"),
        CONFIG_STR_OPT("--pub", "INV_EVENTS_BIND", &s->pub, "event PUB endpoint"),
        CONFIG_STR_OPT("--catchup", "INV_CATCHUP_BIND", &s->catchup, "catch-up ROUTER endpoint"),
        CONFIG_STR_OPT("--nudge", "INV_NUDGE_BIND", &s->nudge, "nudge PULL endpoint"),
        CONFIG_STR_OPT("--store", "INV_STORE", &s->store,
                       "dqlite:HOST:PORT,...: the log is replicated on that cluster; publish only"
                       " where this host's node leads"),
        CONFIG_STR_OPT("--store-node", "INV_STORE_NODE", &s->store_node,
                       "this host's store node HOST:PORT (with --store)"),
        CONFIG_STR_OPT("--advertise", "INV_CATCHUP_ADVERTISE", &s->advertise,
                       "the catch-up endpoint subscribers use to reach this relay (default:"
                       " --catchup)"),
        CONFIG_INT_OPT(
            "--self-sync-ms", "INV_RELAY_SELF_SYNC_MS", &s->self_sync_ms,
            "fsync the WAL itself when committed rows wait this long for a durable nudge"),
    };
    int rc = config_load("outbox-relay", "relay", opts, sizeof opts / sizeof opts[0], argc, argv,
                         &s->daemon);
    if (rc != 0)
        return rc;
    if (s->self_sync_ms < 0) {
        fprintf(stderr, "bad setting INV_RELAY_SELF_SYNC_MS=%lld\n", (long long)s->self_sync_ms);
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
    /* synchronous=NORMAL: the relay's own commits (outbox deletes) need no
     * fsync of their own, and one under the write lock stalled every
     * command for as long as it took (docs/decisions.md, item 54); a
     * delete lost to a power cut only publishes its rows again.  No
     * automatic checkpoint after them: the checkpointer's thread does it. */
    eventstore_options_t eo = {false, 5000, 0, ES_NO_AUTOCHECKPOINT};
    storedaemon_t d;
    security_require(cfg.nudge, ROLES_FEED);    /* the command-service's nudges */
    security_require(cfg.pub, ROLES_SUBSCRIBE); /* the event feed */
    if (storedaemon_open(&d, cfg.db, &eo, &cfg.daemon, "relay") != 0)
        return 1;
    checkpointer_t *ckpt = checkpointer_new(cfg.db, CHECKPOINT_EVERY_MS, CHECKPOINT_RESTART_FRAMES);
    if (!ckpt) {
        LOG_E(NULL, "cannot start the WAL checkpointer on %s", cfg.db);
        storedaemon_close(&d);
        return 1;
    }
    metrics_t *metrics = metrics_new("relay");
    metrics_sampled(metrics, "inv_wal_bytes", "", "Size of the event store's WAL.", 1,
                    metrics_wal_bytes, (void *)cfg.db);
    httpserv_t *http = NULL;
    replica_t *replica = NULL;
    char why[300];
    if (cfg.store[0]) {
        replica_opts_t ro = {.store = cfg.store,
                             .node = cfg.store_node,
                             .kind = "relay",
                             .endpoint = cfg.advertise[0] ? cfg.advertise : cfg.catchup,
                             .zctx = d.zctx};
        if (!(replica = replica_new(&ro, why, sizeof why))) {
            LOG_E(NULL, "%s", why);
            checkpointer_destroy(&ckpt);
            storedaemon_close(&d);
            metrics_destroy(&metrics);
            return 2;
        }
    }
    void *pub = bus_bind(d.zctx, ZMQ_PUB, cfg.pub);
    void *router = bus_bind(d.zctx, ZMQ_ROUTER, cfg.catchup);
    void *nudge = bus_bind(d.zctx, ZMQ_PULL, cfg.nudge);
    relay_t *relay = (pub && router && nudge)
                         ? relay_new(d.es, pub, router, nudge, ckpt, cfg.self_sync_ms, metrics)
                         : NULL;
    if (relay)
        relay_set_replica(relay, replica);
    if (relay && httpserv_open(cfg.daemon.http, metrics, &http) != 0) {
        rc = 2;
    } else if (!relay) {
        LOG_E(NULL, "cannot bind %s / %s / %s: %s", cfg.pub, cfg.catchup, cfg.nudge,
              zmq_strerror(errno));
        rc = 1;
    } else {
        LOG_I(NULL, "relay publishing on %s, catch-up on %s, nudge on %s", cfg.pub, cfg.catchup,
              cfg.nudge);
        rc = relay_run(relay);
        if (rc == 0 && checkpointer_seen(ckpt).store_lost)
            rc = 1; /* stopped because the store's files changed under it */
    }
    httpserv_stop(&http);
    relay_destroy(&relay);
    replica_destroy(&replica);
    bus_close(&nudge);
    bus_close(&router);
    bus_close(&pub);
    checkpointer_destroy(&ckpt);
    storedaemon_close(&d);
    metrics_destroy(&metrics);
    return rc;
}
