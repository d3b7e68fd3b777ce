/* storedaemon: see storedaemon.h. */
#include "storedaemon.h"

#include "log.h"

#include <zmq.h>

int
storedaemon_open(storedaemon_t *d, const char *db, const eventstore_options_t *opts)
{
    d->es = NULL;
    d->zctx = NULL;
    if (eventstore_schema_of(db) == 2)
        LOG_I(NULL, "event store %s is of schema 2: migrating it to 3 before serving (about 15 s"
                    " per million events)",
              db);
    if (eventstore_open(db, opts, &d->es) != ERR_OK) {
        LOG_E(NULL, "cannot open event store %s", db);
        return -1;
    }
    if (eventstore_migrated_from(d->es))
        LOG_I(NULL, "event store %s migrated from schema %d to 3 (per-stream chain)", db,
              eventstore_migrated_from(d->es));
    d->zctx = zmq_ctx_new();
    return 0;
}

void
storedaemon_close(storedaemon_t *d)
{
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    d->zctx = NULL;
    eventstore_close(&d->es);
}
