/* alert-service: follows the event bus into the alert model, prints and
 * publishes each low-stock alert after it commits, and answers ListAlerts,
 * Status and Rebuild on its API ROUTER.  A recipe: settings, log, signals, model,
 * sockets, runtime, teardown in reverse.  Settings: docs/conventions.md. */
#include "alertapi.h"
#include "alerts.h"

#include "bus.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "subscriber.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *db;         /* alert model file */
    const char *events_ep;  /* relay PUB, connected */
    const char *catchup_ep; /* relay catch-up ROUTER, connected */
    const char *pub;        /* our alert PUB, bound */
    const char *bind;       /* our API ROUTER: ListAlerts, Status */
    const char *log_level;  /* debug|info|warn|error */
    const char *mode;       /* "run", "once" (catch up, exit) or "dump" */
    int64_t linger_ms;      /* a live batch waits this long for more events */
} alert_config_t;

/* Parses settings; returns 0 to run, 1 after --help, -1 on a bad setting. */
static int
alert_settings(alert_config_t *cfg, log_level_t *level, int argc, char **argv)
{
    const config_option_t opts[] = {
        {"--db", "INV_ALERTS_DB", CONFIG_STR, &cfg->db, "alerts database file"},
        {"--events", "INV_EVENTS_EP", CONFIG_STR, &cfg->events_ep, "relay event PUB endpoint"},
        {"--catchup", "INV_CATCHUP_EP", CONFIG_STR, &cfg->catchup_ep, "relay catch-up endpoint"},
        {"--pub", "INV_ALERTS_BIND", CONFIG_STR, &cfg->pub, "alert PUB to bind"},
        {"--bind", "INV_ALERT_API_BIND", CONFIG_STR, &cfg->bind, "alert API ROUTER to bind"},
        {"--log-level", "INV_LOG_LEVEL", CONFIG_STR, &cfg->log_level, "debug|info|warn|error"},
        {"--mode", "INV_MODE", CONFIG_STR, &cfg->mode,
         "run | once (catch up silently, exit) | dump (print the canonical dump of --db)"},
        {"--commit-linger-ms", "INV_ALERT_LINGER_MS", CONFIG_INT, &cfg->linger_ms,
         "a live batch waits this long for more events before it commits and prints"},
    };
    int rc = config_parse("alert-service", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (rc == 0 && log_level_parse(cfg->log_level, level) != 0) {
        fprintf(stderr, "bad setting INV_LOG_LEVEL=%s: not a log level\n", cfg->log_level);
        rc = -1;
    }
    return rc;
}

int
main(int argc, char **argv)
{
    alert_config_t cfg = {"alerts.db",  EP_EVENTS, EP_CATCHUP, EP_ALERTS,
                          EP_ALERT_API, "info",    "run",      50};
    log_level_t level = LOG_INFO;
    int rc = alert_settings(&cfg, &level, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("alert", level);
    proc_install_signals();

    bool once = strcmp(cfg.mode, "once") == 0, dump = strcmp(cfg.mode, "dump") == 0;
    const char *why = NULL;
    FILE *out = once || dump ? NULL : stdout;
    alerts_live_t live = {alerts_open(cfg.db, out, &why), out, NULL}; /* Rebuild swaps it */
    if (!live.model) {
        LOG_E(NULL, "%s: %s", cfg.db, why);
        return 1;
    }
    if (dump) {
        rc = alerts_dump(live.model, stdout) == 0 ? 0 : 1;
        alerts_close(&live.model);
        return rc;
    }
    void *zctx = zmq_ctx_new();
    void *pub = bus_bind(zctx, ZMQ_PUB, cfg.pub);
    void *router = pub ? bus_bind(zctx, ZMQ_ROUTER, cfg.bind) : NULL;
    const subscriber_config_t sc = {.name = "alert",
                                    .events_ep = cfg.events_ep,
                                    .catchup_ep = cfg.catchup_ep,
                                    .batch_max = 5000,
                                    .catchup_page = 1000,
                                    .commit_linger_ms = (int)cfg.linger_ms,
                                    .once = once};
    const subscriber_factory_t factory = alerts_factory(&live);
    subscriber_t *sub = router ? subscriber_new(zctx, &sc, &alerts_ops, live.model) : NULL;
    if (!sub) {
        LOG_E(NULL, "cannot bind %s / %s: %s", cfg.pub, cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else {
        live.pub = once ? NULL : pub;
        alerts_set_publisher(live.model, live.pub);
        subscriber_set_control(sub, router, alertapi_handle, &live.model);
        subscriber_set_factory(sub, &factory, cfg.db);
        LOG_I(NULL, "alert-service: db %s, alerts on %s, API on %s", cfg.db, cfg.pub, cfg.bind);
        rc = subscriber_run(sub) == 0 ? 0 : 1;
        if (live.model && alerts_publish_errors(live.model) > 0)
            LOG_W(NULL, "%lld alerts could not be published",
                  (long long)alerts_publish_errors(live.model));
    }

    subscriber_destroy(&sub);
    bus_close(&router);
    bus_close(&pub);
    zmq_ctx_term(zctx);
    alerts_close(&live.model);
    return rc;
}
