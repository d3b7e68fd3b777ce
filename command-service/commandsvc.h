/* commandsvc: the command-service's loop.  Receives commands on a ROUTER,
 * and for each batch of queued commands (group commit):
 *   BEGIN IMMEDIATE; for each: idempotency check, load aggregate (cache or
 *   replay), expected_version check, decide, append event + outbox row +
 *   idempotency row; COMMIT; with a syncer, ask it for an fsync and take
 *   the next batch; reply to every command of the batch once the syncer
 *   reports that fsync done, then nudge the relay with the durable position.
 * Invariants (ARCHITECTURE.md 1 and 5): a reply is sent only after its
 * transaction commits and is durable (every reply of a batch waits, also a
 * rejection or a duplicate: it may rest on state not yet on disk); a
 * rejected command writes nothing; when a batch fails to commit, every
 * command in it is answered `unavailable` and nothing of it remains.  It
 * never touches a read database.
 * With a replicated log (opts.replica): standby --its node leads, events.db
 * caught up with the log--> active --a push not committed or in doubt, or
 * another node leads--> standby.  A standby answers every command
 * `not_leader` with the active service's endpoint and copies the log into
 * events.db every tick; an active one writes each batch to the log inside
 * its events.db transaction and commits events.db once the log has it
 * (docs/design.md, "the replicated store"). */
#ifndef INV_COMMANDSVC_H
#define INV_COMMANDSVC_H

#include "eventstore.h"
#include "metrics.h"
#include "replica.h"
#include "syncer.h"

typedef struct {
    int batch_max;          /* commands per transaction (group commit), e.g. 256 */
    int cache_slots;        /* aggregate cache entries, e.g. 2048 */
    int64_t snapshot_every; /* snapshot a stream every N events; 0 = never */
    syncer_t *syncer;       /* borrowed; NULL: a commit is as durable as the
                             * connection's synchronous setting makes it */
    metrics_t *metrics;     /* borrowed, may be NULL: inv_commands_total by result
                               and code, inv_command_batch_size, the health */
    replica_t *replica;     /* borrowed, may be NULL: the event log is replicated
                               (replica.h); the service is active only while its
                               host's store node leads, and a batch is committed to
                               the log before events.db (the durable point) */
} commandsvc_opts_t;

typedef struct commandsvc commandsvc_t;

/* Borrows es, router (a bound ROUTER) and nudge (a PUSH to the relay, may be
 * NULL); they must outlive the service.  NULL on allocation failure. */
commandsvc_t *commandsvc_new(eventstore_t *es, void *router, void *nudge,
                             const commandsvc_opts_t *opts);
void commandsvc_destroy(commandsvc_t **svc);
/* Serves until proc_stopping(), then answers what the syncer still makes
 * durable; returns 0.  Returns 1 at once when an fsync failed, leaving the
 * waiting batches unanswered (their clients retry by command id). */
int commandsvc_run(commandsvc_t *svc);

#endif
