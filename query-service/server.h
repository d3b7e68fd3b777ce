/* server: the query service's ROUTER loop.
 *
 * Decodes each request (request.h), answers it from the read model
 * (queries.h) and replies with bus_reply.  A request with min_position
 * above the read model's checkpoint and a wait_ms > 0 is parked in a
 * pending list instead of blocking: the loop polls every
 * SERVER_PENDING_TICK_MS while anything is pending, and answers a parked
 * request as soon as the checkpoint reaches its min_position (reached =
 * true) or its wait runs out (reached = false, or `unavailable` if the read
 * model still cannot be opened).  Other clients are served meanwhile.
 *
 * Invariants: every request that carries a routing envelope gets exactly
 * one reply (parked ones too, at the latest on shutdown); a bad request
 * gets malformed/validation and the loop goes on. */
#ifndef INV_SERVER_H
#define INV_SERVER_H

#include "metrics.h"
#include "queries.h"

#define SERVER_PENDING_TICK_MS 2 /* re-check interval while requests wait */
#define SERVER_IDLE_TICK_MS 100  /* poll time-out when nothing waits */
#define SERVER_PENDING_MAX 10000 /* parked requests; beyond it: unavailable */
#define SERVER_DRAIN_MAX 256     /* requests handled per poll wake-up */

typedef struct server server_t;

/* Creates the loop over a bound ROUTER (bus_bind) and a query engine; it
 * owns neither.  metrics (borrowed, may be NULL) gets the health: a
 * problem while the read model is unavailable (checked once a second).
 * NULL on allocation failure. */
server_t *server_new(void *router, queries_t *queries, metrics_t *metrics);
/* Frees the server and any parked requests (unanswered); NULL-safe. */
void server_destroy(server_t **s);

/* Serves until proc_stopping(), then answers every parked request with
 * what the read model holds.  0 on a clean stop, -1 if polling failed. */
int server_run(server_t *s);

/* Number of parked requests (tests, status). */
int server_pending(const server_t *s);

#endif
