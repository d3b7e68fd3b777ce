/* projector-service: follows the relay's event bus and keeps read.db, the
 * database the query service reads (DOMAIN.md "Read models", projector).
 *
 * Delivery is exact because the subscriber runtime applies position
 * checkpoint + 1 only, in the transaction that moves the checkpoint
 * (common/subscriber.h); this file only wires the pieces together.  The
 * control ROUTER answers Status and Rebuild (both in the runtime); other
 * request types get `malformed`.  A rebuild builds a fresh read model in a
 * new generation file and the runtime swaps it in, closing the old model:
 * `live` always names the model the runtime currently applies to. */
#include "bus.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "readmodel.h"
#include "subscriber.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *db;        /* read database path */
    const char *events;    /* relay PUB endpoint (connect) */
    const char *catchup;   /* relay catch-up ROUTER (connect) */
    const char *bind;      /* our control ROUTER (bind) */
    const char *log_level; /* debug, info, warn, error */
    const char *mode;      /* "run", "once" (catch up, exit) or "dump" */
    int64_t linger_ms;     /* a live batch waits this long for more events */
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
    };
    int rc = config_parse("projector-service", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (rc != 0)
        return rc;
    if (log_level_parse(cfg->log_level, level) != 0) {
        fprintf(stderr, "bad setting INV_LOG_LEVEL/--log-level=%s\n", cfg->log_level);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    projector_config_t cfg = {"read.db", EP_EVENTS, EP_CATCHUP, EP_PROJECTOR, "info", "run", 3};
    log_level_t level;
    int rc = load_config(&cfg, argc, argv, &level);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("projector", level);
    proc_install_signals();

    const char *why = NULL;
    readmodel_t *live = readmodel_new(cfg.db, &why); /* replaced by each rebuild */
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
    const subscriber_config_t scfg = {.name = "projector",
                                      .events_ep = cfg.events,
                                      .catchup_ep = cfg.catchup,
                                      .batch_max = 5000,
                                      .catchup_page = 1000,
                                      .commit_linger_ms = (int)cfg.linger_ms,
                                      .once = strcmp(cfg.mode, "once") == 0};
    subscriber_factory_t factory = readmodel_factory(&live);
    subscriber_t *sub = subscriber_new(zctx, &scfg, &readmodel_ops, live);
    rc = 1;
    if (sub) {
        subscriber_set_control(sub, control, on_control, NULL);
        subscriber_set_factory(sub, &factory, cfg.db);
        LOG_I(NULL, "projector serving control on %s, read model %s", cfg.bind, cfg.db);
        rc = subscriber_run(sub) == 0 ? 0 : 1;
    }

    subscriber_destroy(&sub);
    bus_close(&control);
    zmq_ctx_term(zctx);
    readmodel_destroy(&live);
    LOG_I(NULL, "projector stopped");
    return rc;
}
