/* audit-service: follows the event bus into the audit model (one row and one
 * printed line per event) and answers SearchAudit, Status and Rebuild on its ROUTER.
 * A recipe: settings, log, signals, model, sockets, runtime, teardown in
 * reverse.  Settings: docs/conventions.md. */
#include "auditapi.h"
#include "auditlog.h"

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
    const char *db;         /* audit model file */
    const char *events_ep;  /* relay PUB, connected */
    const char *catchup_ep; /* relay catch-up ROUTER, connected */
    const char *bind;       /* our ROUTER: SearchAudit, Status */
    const char *log_level;  /* debug|info|warn|error */
    const char *mode;       /* "run", "once" (catch up, exit) or "dump" */
    int64_t linger_ms;      /* a live batch waits this long for more events */
} audit_config_t;

/* Parses settings; returns 0 to run, 1 after --help, -1 on a bad setting. */
static int
audit_settings(audit_config_t *cfg, log_level_t *level, int argc, char **argv)
{
    const config_option_t opts[] = {
        {"--db", "INV_AUDIT_DB", CONFIG_STR, &cfg->db, "audit database file"},
        {"--events", "INV_EVENTS_EP", CONFIG_STR, &cfg->events_ep, "relay event PUB endpoint"},
        {"--catchup", "INV_CATCHUP_EP", CONFIG_STR, &cfg->catchup_ep, "relay catch-up endpoint"},
        {"--bind", "INV_AUDIT_BIND", CONFIG_STR, &cfg->bind, "audit ROUTER to bind"},
        {"--log-level", "INV_LOG_LEVEL", CONFIG_STR, &cfg->log_level, "debug|info|warn|error"},
        {"--mode", "INV_MODE", CONFIG_STR, &cfg->mode,
         "run | once (catch up silently, exit) | dump (print the canonical dump of --db)"},
        {"--commit-linger-ms", "INV_AUDIT_LINGER_MS", CONFIG_INT, &cfg->linger_ms,
         "a live batch waits this long for more events before it commits and prints"},
    };
    int rc = config_parse("audit-service", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (rc == 0 && log_level_parse(cfg->log_level, level) != 0) {
        fprintf(stderr, "bad setting INV_LOG_LEVEL=%s: not a log level\n", cfg->log_level);
        rc = -1;
    }
    return rc;
}

int
main(int argc, char **argv)
{
    audit_config_t cfg = {"audit.db", EP_EVENTS, EP_CATCHUP, EP_AUDIT, "info", "run", 50};
    log_level_t level = LOG_INFO;
    int rc = audit_settings(&cfg, &level, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("audit", level);
    proc_install_signals();

    bool once = strcmp(cfg.mode, "once") == 0, dump = strcmp(cfg.mode, "dump") == 0;
    const char *why = NULL;
    FILE *out = once || dump ? NULL : stdout;
    auditlog_live_t live = {auditlog_open(cfg.db, out, &why), out}; /* Rebuild swaps it */
    if (!live.model) {
        LOG_E(NULL, "%s: %s", cfg.db, why);
        return 1;
    }
    if (dump) {
        rc = auditlog_dump(live.model, stdout) == 0 ? 0 : 1;
        auditlog_close(&live.model);
        return rc;
    }
    void *zctx = zmq_ctx_new();
    void *router = bus_bind(zctx, ZMQ_ROUTER, cfg.bind);
    const subscriber_config_t sc = {.name = "audit",
                                    .events_ep = cfg.events_ep,
                                    .catchup_ep = cfg.catchup_ep,
                                    .batch_max = 5000,
                                    .catchup_page = 1000,
                                    .commit_linger_ms = (int)cfg.linger_ms,
                                    .once = once};
    const subscriber_factory_t factory = auditlog_factory(&live);
    subscriber_t *sub = router ? subscriber_new(zctx, &sc, &auditlog_ops, live.model) : NULL;
    if (!sub) {
        LOG_E(NULL, "cannot bind %s: %s", cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else {
        subscriber_set_control(sub, router, auditapi_handle, &live.model);
        subscriber_set_factory(sub, &factory, cfg.db);
        LOG_I(NULL, "audit-service: db %s, serving %s", cfg.db, cfg.bind);
        rc = subscriber_run(sub) == 0 ? 0 : 1;
    }

    subscriber_destroy(&sub);
    bus_close(&router);
    zmq_ctx_term(zctx);
    auditlog_close(&live.model);
    return rc;
}
