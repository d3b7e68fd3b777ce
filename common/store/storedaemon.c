/* storedaemon: see storedaemon.h. */
#include "storedaemon.h"

#include "log.h"
#include "proc.h"

#include <zmq.h>

int
storedaemon_open(storedaemon_t *d, const char *db, const eventstore_options_t *opts,
                 const config_daemon_t *sec, const char *name)
{
    d->es = NULL;
    d->zctx = NULL;
    int schema = eventstore_schema_of(db);
    if (schema == 2 || schema == 3)
        LOG_I(NULL, "event store %s is of schema %d: migrating it to 4 before serving (%sthe hash"
                    " chain: about 7 s per million events)",
              db, schema, schema == 2 ? "the per-stream chain, about 15 s per million events, and " : "");
    int64_t started = proc_mono_ms();
    char why[256];
    if (eventstore_open_why(db, opts, &d->es, why, sizeof why) != ERR_OK) {
        LOG_E(NULL, "cannot open event store %s: %s", db, why);
        return -1;
    }
    if (eventstore_migrated_from(d->es))
        LOG_I(NULL, "event store %s migrated from schema %d to 4 (hash chain) in %lld ms", db,
              eventstore_migrated_from(d->es), (long long)(proc_mono_ms() - started));
    d->zctx = zmq_ctx_new();
    if (d->zctx && security_start_daemon(d->zctx, sec, name, db) == 0)
        return 0;
    storedaemon_close(d);
    return -1;
}

void
storedaemon_close(storedaemon_t *d)
{
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    d->zctx = NULL;
    security_stop();
    eventstore_close(&d->es);
}
