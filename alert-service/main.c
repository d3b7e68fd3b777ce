/* alert-service: follows the event bus into the alert model, prints and
 * publishes each low-stock alert after it commits, and answers ListAlerts,
 * Status and Rebuild on its API ROUTER.  A recipe: settings, signals, model,
 * sockets, runtime, teardown in reverse; the wiring shared with
 * audit-service is common/subscriber/subdaemon.h.  Settings: docs/conventions.md. */
#include "alertapi.h"
#include "alerts.h"

#include "log.h"
#include "modellock.h"
#include "subdaemon.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>

/* subdaemon_open_fn: the alert model, printing to out (arg). */
static void *
open_model(void *out, const subdaemon_config_t *cfg, const char **why)
{
    return cfg->dump ? alerts_open_dump(cfg->db, why) : alerts_open(cfg->db, out, why);
}

int
main(int argc, char **argv)
{
    const char *pub_ep = EP_ALERTS; /* our alert PUB, bound */
    const config_option_t pub =
        CONFIG_STR_OPT("--pub", "INV_ALERTS_BIND", &pub_ep, "alert PUB to bind");
    const subdaemon_spec_t spec = {
        .name = "alert",
        .prog = "alert-service",
        .db = {"alerts.db", "INV_ALERTS_DB", "alerts database file"},
        .bind = {EP_ALERT_API, "INV_ALERT_API_BIND", "alert API ROUTER to bind"},
        .linger_env = "INV_ALERT_LINGER_MS",
        .extra = &pub,
        .n_extra = 1,
    };
    subdaemon_config_t cfg;
    int lock, rc; /* lock held until exit: one writer per model (modellock.h) */
    if (subdaemon_begin(&cfg, &spec, argc, argv, &lock, &rc) != 0)
        return rc;
    const char *why = NULL;
    FILE *out = subdaemon_output(&cfg);
    alerts_live_t live = {subdaemon_open_model(&cfg, open_model, out, &why), out,
                          NULL}; /* Rebuild swaps it */
    if (!live.model) {
        LOG_E(NULL, "%s: %s", cfg.db, why);
        return 1;
    }
    if (cfg.dump) {
        rc = alerts_dump(live.model, stdout) == 0 ? 0 : 1;
        alerts_close(&live.model);
        return rc;
    }
    subdaemon_t d;
    security_require(pub_ep, ROLES_READ); /* who may watch alerts */
    void *pub_sock = subdaemon_init(&d, &cfg) == 0 ? subdaemon_bind(&d, ZMQ_PUB, pub_ep) : NULL;
    const subscriber_factory_t factory = alerts_factory(&live);
    const subdaemon_model_t m = {&alerts_ops, live.model, alertapi_handle, &live.model, &factory};
    if (!pub_sock || subdaemon_start(&d, &cfg, &m) != 0) {
        LOG_E(NULL, "cannot bind %s / %s: %s", pub_ep, cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else {
        live.pub = cfg.once ? NULL : pub_sock;
        alerts_set_publisher(live.model, live.pub);
        LOG_I(NULL, "alert-service: db %s, alerts on %s, API on %s", cfg.db, pub_ep, cfg.bind);
        rc = subdaemon_run(&d);
        if (live.model && alerts_publish_errors(live.model) > 0)
            LOG_W(NULL, "%lld alerts could not be published",
                  (long long)alerts_publish_errors(live.model));
    }

    subdaemon_fini(&d);
    alerts_close(&live.model);
    modellock_release(&lock);
    return rc;
}
