/* relay: the outbox relay.  Publishes outbox rows on the PUB socket in
 * position order, deletes them only after sending (so a crash between the
 * two re-publishes: at least once, and subscribers drop what they have), and
 * sends a heartbeat with the head position at least once a second.  It also
 * serves the catch-up ROUTER (catchup.h).  Its own SQLite connection. */
#ifndef INV_RELAY_H
#define INV_RELAY_H

#include "checkpointer.h"
#include "eventstore.h"
#include "metrics.h"
#include "replica.h"

typedef struct relay relay_t;

/* Borrows es (its own connection), pub (bound PUB), router (bound ROUTER),
 * nudge (bound PULL, may be NULL) and ckpt (the store's checkpointer, whose
 * WAL numbers go into the Status reply; may be NULL).  Publishes only what
 * is durable: up to the position the nudges announce, or, when rows have
 * waited above it for self_sync_ms without a nudge moving it, up to what
 * the relay's own fsync of the WAL covers.  metrics (borrowed, may be
 * NULL) counts what is published and holds the health.  NULL on
 * allocation failure. */
relay_t *relay_new(eventstore_t *es, void *pub, void *router, void *nudge, checkpointer_t *ckpt,
                   int64_t self_sync_ms, metrics_t *metrics);
void relay_destroy(relay_t **r);
/* A nudge's body (docs/protocol.md, section 1): the position it announces,
 * or 0 when it is not one msgpack positive integer (it only wakes the
 * relay).  body may be NULL. */
int64_t relay_nudge_decode(const void *body, size_t len);
/* With a replicated log (replica.h, borrowed): the relay publishes and
 * serves catch-up only while its host's store node leads; otherwise it
 * stays silent and sends catch-up requests to the active relay. */
void relay_set_replica(relay_t *r, replica_t *replica);
/* Serves until proc_stopping(); returns 0. */
int relay_run(relay_t *r);

#endif
