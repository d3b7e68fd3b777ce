/* projector-service: follows the relay's event bus and keeps read.db, the
 * database the query service reads (DOMAIN.md "Read models", projector),
 * and answers Status and Rebuild on its control ROUTER.  A recipe:
 * settings, signals, model, sockets, runtime, teardown in reverse; the
 * skeleton shared with audit and alert is common/subscriber/subdaemon.h.
 * A rebuild swaps `live` (readmodel_factory). */
#include "log.h"
#include "modelfile.h"
#include "modellock.h"
#include "proc.h"
#include "readmodel.h"
#include "subdaemon.h"
#include "topology.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

/* What the projector names differently from the shared settings. */
static const subdaemon_spec_t projector_spec = {
    .name = "projector",
    .prog = "projector-service",
    .db = {"read.db", "INV_READ_DB", "read model database"},
    .bind = {EP_PROJECTOR, "INV_PROJECTOR_BIND", "control ROUTER endpoint"},
    .linger_env = "INV_PROJECTOR_LINGER_MS",
    .events_help = "relay PUB endpoint",
    .mode_help =
        "run | once (catch up to the head, exit) | dump (print the canonical dump of --db)",
    .linger_help = "a live batch waits this long for more events before it commits (adds to "
                   "visibility lag)",
    .linger_ms = 3,
    .once_batch_max = 50000, /* once: a commit a turn */
};

/* Control requests other than Status and Rebuild: none. */
static int
on_control(void *arg, const char *type, const mpread_t *req, codec_writer_t *w)
{
    (void)arg, (void)req, (void)w;
    LOG_W(NULL, "control request %.40s is not supported", type);
    return -1;
}

int
main(int argc, char **argv)
{
    subdaemon_config_t cfg;
    int lock, rc; /* lock held until exit: one writer per model (modellock.h) */
    if (subdaemon_begin(&cfg, &projector_spec, argc, argv, &lock, &rc) != 0)
        return rc;
    const char *why = NULL;
    char bulk_path[PATH_MAX];
    modelfile_discard_other_schema(&cfg);
    readmodel_t *live =
        subdaemon_open_model(&cfg, modelfile_open, bulk_path, &why); /* Rebuild swaps it */
    if (!live) {
        LOG_E(NULL, "cannot open read model %s: %s", cfg.db, why);
        return 1;
    }
    if (cfg.dump) {
        rc = readmodel_dump(live, stdout) == 0 ? 0 : 1;
        readmodel_close(&live);
        return rc;
    }
    subdaemon_t d;
    subdaemon_init(&d);
    const subscriber_factory_t factory = readmodel_factory(&live);
    const subdaemon_model_t m = {&readmodel_ops, live, on_control, NULL,
                                 bulk_path[0] ? NULL : &factory};
    if (subdaemon_start(&d, &cfg, &m) != 0) {
        LOG_E(NULL, "cannot bind %s: %s", cfg.bind, zmq_strerror(errno));
        rc = 1;
    } else {
        LOG_I(NULL, "projector serving control on %s, read model %s", cfg.bind,
              bulk_path[0] ? bulk_path : cfg.db);
        rc = subdaemon_run(&d);
        if (rc == 0 && bulk_path[0])
            rc = modelfile_finish_bulk(&live, &d, cfg.db);
    }

    subdaemon_fini(&d);
    readmodel_close(&live);
    modellock_release(&lock);
    LOG_I(NULL, "projector stopped");
    return rc;
}
