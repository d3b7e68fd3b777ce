/* storedaemon: what the two daemons on events.db (command-service and
 * outbox-relay) hold beside their own sockets: the event store and the
 * ZeroMQ context, opened in that order and released in reverse.  The daemon
 * closes its sockets before storedaemon_close, which ends the context and
 * only then closes the store (a socket must not outlive its context, and
 * nothing may still be reading the store). */
#ifndef INV_STOREDAEMON_H
#define INV_STOREDAEMON_H

#include "eventstore.h"
#include "security.h"

typedef struct {
    eventstore_t *es; /* owned; NULL when closed */
    void *zctx;       /* owned; NULL when closed */
} storedaemon_t;

/* Opens the event store at db (opts NULL: eventstore_open's defaults), then
 * creates the ZeroMQ context and starts security in it as daemon `name`
 * (security_start_daemon).  Returns 0, or -1 after logging why ("cannot
 * open event store <db>"), with nothing to close. */
int storedaemon_open(storedaemon_t *d, const char *db, const eventstore_options_t *opts,
                     const config_daemon_t *sec, const char *name);
/* Terminates the context, stops security, then closes the store.
 * Idempotent. */
void storedaemon_close(storedaemon_t *d);

#endif
