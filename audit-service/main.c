/* audit-service: follows the event bus into the audit model (one row and one
 * printed line per event) and answers SearchAudit, Status and Rebuild on its ROUTER.
 * A recipe: settings, signals, model, sockets, runtime, teardown in reverse;
 * the wiring shared with alert-service is common/subscriber/subdaemon.h.  Settings:
 * docs/conventions.md. */
#include "auditapi.h"
#include "auditlog.h"

#include "log.h"
#include "modellock.h"
#include "subdaemon.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>

/* What audit names differently from alert-service. */
static const subdaemon_spec_t audit_spec = {
    .name = "audit",
    .prog = "audit-service",
    .db = {"audit.db", "INV_AUDIT_DB", "audit database file"},
    .bind = {EP_AUDIT, "INV_AUDIT_BIND", "audit ROUTER to bind"},
    .linger_env = "INV_AUDIT_LINGER_MS",
};

/* subdaemon_open_fn: the audit model, printing to out (arg). */
static void *
open_model(void *out, const subdaemon_config_t *cfg, const char **why)
{
    return cfg->dump ? auditlog_open_dump(cfg->db, why) : auditlog_open(cfg->db, out, why);
}

int
main(int argc, char **argv)
{
    subdaemon_config_t cfg;
    int lock, rc; /* lock held until exit: one writer per model (modellock.h) */
    if (subdaemon_begin(&cfg, &audit_spec, argc, argv, &lock, &rc) != 0)
        return rc;
    const char *why = NULL;
    FILE *out = subdaemon_output(&cfg);
    auditlog_live_t live = {subdaemon_open_model(&cfg, open_model, out, &why),
                            out}; /* Rebuild swaps it */
    if (!live.model) {
        LOG_E(NULL, "%s: %s", cfg.db, why);
        return 1;
    }
    if (cfg.dump) {
        rc = auditlog_dump(live.model, stdout) == 0 ? 0 : 1;
        auditlog_close(&live.model);
        return rc;
    }
    subdaemon_t d;
    const subscriber_factory_t factory = auditlog_factory(&live);
    const subdaemon_model_t m = {&auditlog_ops, live.model, auditapi_handle, &live.model, &factory};
    if (subdaemon_init(&d, &cfg) != 0) {
        rc = 1; /* logged */
    } else if (subdaemon_start(&d, &cfg, &m) != 0) {
        LOG_E(NULL, "cannot bind %s: %s", cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else {
        LOG_I(NULL, "audit-service: db %s, serving %s", cfg.db, cfg.bind);
        rc = subdaemon_run(&d);
    }

    subdaemon_fini(&d);
    auditlog_close(&live.model);
    modellock_release(&lock);
    return rc;
}
