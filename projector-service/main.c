/* projector-service: follows the relay's event bus and keeps read.db, the
 * database the query service reads (DOMAIN.md "Read models", projector).
 *
 * Delivery is exact because the subscriber runtime applies position
 * checkpoint + 1 only, in the transaction that moves the checkpoint
 * (common/subscriber/subscriber.h); this file only wires the pieces together.  The
 * control ROUTER answers Status and Rebuild (both in the runtime); other
 * request types get `malformed`.  A rebuild builds a fresh read model in a
 * new generation file and the runtime swaps it in, closing the old model:
 * `live` always names the model the runtime currently applies to.
 *
 * `--mode once` into a file that does not exist yet is a bulk build
 * (readmodel_new_bulk: no journal on disk, no fsync until the end): it is
 * written as <db>.building and renamed over db only after it has reached
 * the head, been turned back into a WAL database and fsynced
 * (readmodel_bulk_finish).  A crash or a stop before that leaves no db, at
 * most a .building file that the next build deletes. */
#include "bus.h"
#include "config.h"
#include "log.h"
#include "modeldb.h"
#include "modellock.h"
#include "proc.h"
#include "readmodel.h"
#include "subscriber.h"
#include "topology.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *db;        /* read database path */
    const char *events;    /* relay PUB endpoint (connect) */
    const char *catchup;   /* relay catch-up ROUTER (connect) */
    const char *bind;      /* our control ROUTER (bind) */
    const char *log_level; /* debug, info, warn, error */
    const char *mode;      /* "run", "once" (catch up, exit) or "dump" */
    int64_t linger_ms;     /* a live batch waits this long for more events */
    const char *sync;      /* the model's fsyncs: "off" or "normal" (modeldb.h) */
} projector_config_t;

/* Control requests other than Status and Rebuild: none. */
static int
on_control(void *arg, const char *type, const msgpack_object *req, codec_writer_t *w)
{
    (void)arg;
    (void)req;
    (void)w;
    LOG_W(NULL, "control request %.40s is not supported", type);
    return -1;
}

static int
load_config(projector_config_t *cfg, int argc, char **argv, log_level_t *level)
{
    const config_option_t opts[] = {
        {"--db", "INV_READ_DB", CONFIG_STR, &cfg->db, "read model database"},
        {"--events", "INV_EVENTS_EP", CONFIG_STR, &cfg->events, "relay PUB endpoint"},
        {"--catchup", "INV_CATCHUP_EP", CONFIG_STR, &cfg->catchup, "relay catch-up endpoint"},
        {"--bind", "INV_PROJECTOR_BIND", CONFIG_STR, &cfg->bind, "control ROUTER endpoint"},
        {"--log-level", "INV_LOG_LEVEL", CONFIG_STR, &cfg->log_level, "debug|info|warn|error"},
        {"--mode", "INV_MODE", CONFIG_STR, &cfg->mode,
         "run | once (catch up to the head, exit) | dump (print the canonical dump of --db)"},
        {"--commit-linger-ms", "INV_PROJECTOR_LINGER_MS", CONFIG_INT, &cfg->linger_ms,
         "a live batch waits this long for more events before it commits (adds to visibility lag)"},
        {"--sync", "INV_MODEL_SYNC", CONFIG_STR, &cfg->sync, MODELDB_SYNC_HELP},
    };
    int rc = config_parse("projector-service", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (rc != 0)
        return rc;
    if (log_level_parse(cfg->log_level, level) != 0) {
        fprintf(stderr, "bad setting INV_LOG_LEVEL/--log-level=%s\n", cfg->log_level);
        return -1;
    }
    if (modeldb_configure_sync(cfg->sync) != 0) {
        fprintf(stderr, "bad setting INV_MODEL_SYNC/--sync=%s: off or normal\n", cfg->sync);
        return -1;
    }
    return 0;
}

/* The model to apply to: a bulk build (bulk_path set) for a once run into
 * a file that does not exist, otherwise cfg->db itself (read-only for a
 * dump). */
static readmodel_t *
open_model(const projector_config_t *cfg, char *bulk_path, size_t cap, const char **why)
{
    struct stat sb;
    bulk_path[0] = '\0';
    if (strcmp(cfg->mode, "dump") == 0)
        return readmodel_open_dump(cfg->db, why);
    if (strcmp(cfg->mode, "once") != 0 || lstat(cfg->db, &sb) == 0 || errno != ENOENT)
        return readmodel_new(cfg->db, why);
    snprintf(bulk_path, cap, "%s" SUBSCRIBER_BUILDING_SUFFIX, cfg->db);
    return readmodel_new_bulk(bulk_path, why);
}

/* Adopts a bulk build that reached the head; 0, or 1 (nothing adopted). */
static int
finish_bulk(readmodel_t **live, const subscriber_t *sub, const char *db)
{
    subscriber_status_t st;
    subscriber_status(sub, &st);
    if (!proc_stopping() && st.checkpoint >= st.head && readmodel_bulk_finish(live, db) == 0) {
        LOG_I(NULL, "built %s up to position %lld", db, (long long)st.checkpoint);
        return 0;
    }
    LOG_E(NULL, "build stopped at position %lld of %lld; %s not created", (long long)st.checkpoint,
          (long long)st.head, db);
    return 1;
}

int
main(int argc, char **argv)
{
    projector_config_t cfg = {"read.db", EP_EVENTS, EP_CATCHUP, EP_PROJECTOR,
                              "info",    "run",     3,          "off"};
    log_level_t level;
    int rc = load_config(&cfg, argc, argv, &level);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("projector", level);
    proc_install_signals();

    int lock = -1; /* held until exit: one writer per model (modellock.h) */
    if (strcmp(cfg.mode, "dump") != 0 && (lock = modellock_take(cfg.db)) < 0)
        return 1;
    const char *why = NULL;
    char bulk_path[PATH_MAX];
    if (strcmp(cfg.mode, "run") == 0) {
        int old = readmodel_discard_other_schema(cfg.db);
        if (old > 0)
            LOG_W(NULL,
                  "read model %s had schema %d, this build writes %d: removed it, rebuilding"
                  " from the log",
                  cfg.db, old, READMODEL_SCHEMA_VERSION);
    }
    /* replaced by each rebuild */
    readmodel_t *live = open_model(&cfg, bulk_path, sizeof bulk_path, &why);
    if (!live && strcmp(cfg.mode, "dump") != 0 && modeldb_discard_if_damaged(cfg.db) == 1)
        live = open_model(&cfg, bulk_path, sizeof bulk_path, &why);
    if (!live) {
        LOG_E(NULL, "cannot open read model %s: %s", cfg.db, why);
        return 1;
    }
    if (strcmp(cfg.mode, "dump") == 0) {
        rc = readmodel_dump(live, stdout) == 0 ? 0 : 1;
        readmodel_destroy(&live);
        return rc;
    }
    void *zctx = zmq_ctx_new();
    void *control = bus_bind(zctx, ZMQ_ROUTER, cfg.bind);
    if (!control) {
        LOG_E(NULL, "cannot bind %s: %s", cfg.bind, zmq_strerror(errno));
        zmq_ctx_term(zctx);
        readmodel_destroy(&live);
        return 1;
    }
    bool once = strcmp(cfg.mode, "once") == 0;
    const subscriber_config_t scfg = {.name = "projector",
                                      .events_ep = cfg.events,
                                      .catchup_ep = cfg.catchup,
                                      .batch_max = once ? 50000 : 5000, /* once: a commit a turn */
                                      .catchup_page = 1000,
                                      .commit_linger_ms = (int)cfg.linger_ms,
                                      .once = once};
    subscriber_factory_t factory = readmodel_factory(&live);
    subscriber_t *sub = subscriber_new(zctx, &scfg, &readmodel_ops, live);
    rc = 1;
    if (sub) {
        subscriber_set_control(sub, control, on_control, NULL);
        if (!bulk_path[0])
            subscriber_set_factory(sub, &factory, cfg.db);
        LOG_I(NULL, "projector serving control on %s, read model %s", cfg.bind,
              bulk_path[0] ? bulk_path : cfg.db);
        rc = subscriber_run(sub) == 0 ? 0 : 1;
        if (rc == 0 && bulk_path[0])
            rc = finish_bulk(&live, sub, cfg.db);
    }

    subscriber_destroy(&sub);
    bus_close(&control);
    zmq_ctx_term(zctx);
    readmodel_destroy(&live);
    modellock_release(&lock);
    LOG_I(NULL, "projector stopped");
    return rc;
}
