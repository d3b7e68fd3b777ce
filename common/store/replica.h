/* replica: the event log replicated on a dqlite cluster (issue 26, the
 * store mode INV_STORE=dqlite:...), as one store host sees it.
 *
 * The cluster's database "inventory" holds the log and who serves where:
 *   events(position PRIMARY KEY, stream, version, command_id, msg,
 *          UNIQUE(stream, version))   msg: the event as the relay
 *                                     publishes it (envelope with its
 *                                     hash, and the data)
 *   endpoints(node, kind, endpoint)   the command service and the relay of
 *                                     each store host, as clients reach them
 * A row is in the log once a majority of the nodes has it on disk: that
 * is what "durable" means in this mode.  The host's events.db is a copy of
 * a prefix of the log, never more: the command service writes a batch to
 * the log first and commits it to events.db only once the log has it
 * (replica_push inside the open transaction), and a host that is not
 * active copies what the others wrote (replica_pull).  Everything else of
 * the daemons (the relay's outbox and catch-up, the aggregates) keeps
 * reading events.db.
 *
 * Who is active: the daemons of the host whose store node leads
 * (replica_refresh); only they write the log (one writer, as with one
 * file).  The UNIQUE constraints refuse a second writer's rows whatever
 * happens: no position is taken twice and no stream forks.
 *
 * Not thread-safe: one per daemon thread. */
#ifndef INV_REPLICA_H
#define INV_REPLICA_H

#include "eventstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { REPLICA_ENDPOINT_MAX = 256 };

typedef struct {
    const char *store;    /* "dqlite:HOST:PORT,HOST:PORT,..." (the nodes to ask) */
    const char *node;     /* this host's node, HOST:PORT */
    const char *kind;     /* "command" or "relay" */
    const char *endpoint; /* where clients reach this daemon (registered) */
    int timeout_ms;       /* per write or read of the log; 0: 5000 (who leads: 300) */
    void *zctx;           /* with CURVE on (security.h): the nodes are reached through a
                           * tunnel (tunnel.h) in this context, expecting <keys>/store.pub;
                           * NULL or security off: plain TCP */
} replica_opts_t;

typedef enum {
    REPLICA_DOWN,    /* no leader reachable now */
    REPLICA_STANDBY, /* another node leads */
    REPLICA_LEADER,  /* this host's node leads: this host is active */
} replica_role_t;

typedef struct replica replica_t;

/* NULL with why on a bad setting, a missing store.pub or no memory;
 * connects to nothing yet.  replica_destroy before zmq_ctx_term (the
 * tunnel's sockets). */
replica_t *replica_new(const replica_opts_t *o, char *why, size_t why_cap);
void replica_destroy(replica_t **r);

/* Who leads, asked now (reconnecting as needed; at most about two
 * requests' time): on each new connection the schema is made and this
 * daemon's endpoint registered; the endpoint of the leader's daemon of
 * the same kind is read when the leader changes. */
replica_role_t replica_refresh(replica_t *r);
replica_role_t replica_role(const replica_t *r);
/* Whether the connection to the leader is up: a pull that failed with
 * ERR_IO lost it when the cluster failed, not when events.db did. */
bool replica_connected(const replica_t *r);
/* The endpoint of the active daemon of this kind, "" when unknown. */
const char *replica_leader_endpoint(const replica_t *r);
/* What the cluster said last, or why events.db refused a pull's copy
 * (for the logs); never NULL. */
const char *replica_errmsg(const replica_t *r);

/* Copies up to `limit` events of the log past events.db's head into it
 * (one transaction per page).  ERR_OK with *copied (0: events.db is at
 * the log's head); ERR_IO when the cluster did not answer; events.db's
 * error when it could not take the copy (a full disk); ERR_CORRUPT
 * when events.db is not a prefix of the log (its head's hash differs, or
 * it is ahead of a log that is not empty): nothing is copied then, and
 * the operator must move events.db away. */
int replica_pull(replica_t *r, eventstore_t *es, int limit, int64_t *copied);

/* One row of the log into es, inside its open transaction (what
 * replica_pull does with each row): msg is the row's msg column, the event
 * as the relay publishes it.  Decoded (codec_decode_event), appended with
 * eventstore_append_copy at the position after the head, and its command
 * recorded.  ERR_OK; ERR_CORRUPT when msg does not decode or its hash is
 * not the chain's (nothing to keep: the caller rolls back); another
 * eventstore error (ERR_DUPLICATE: its stream is not at the version
 * before).  msg is not kept. */
int replica_copy_row(eventstore_t *es, const void *msg, size_t len);

/* The first start of a cluster from a single-host store: when the log is
 * empty and events.db is not, the leader writes events.db's events into
 * the log (pages of 500).  ERR_OK (also when there was nothing to do). */
int replica_seed(replica_t *r, eventstore_t *es, int64_t *seeded);

typedef enum {
    REPLICA_COMMITTED,     /* the log has the rows: commit events.db */
    REPLICA_NOT_COMMITTED, /* the log does not have them and never will */
    REPLICA_UNKNOWN,       /* could not find out: roll back; a pull settles it */
} replica_outcome_t;

/* Inside es's open transaction: writes the events after < position <=
 * through (appended in it) to the log in one statement.  When the
 * statement fails or its answer is lost (the leader died), the outcome is
 * looked up from whichever node leads then: the new leader has applied
 * every entry of the old one before it answers (dqlite's barrier), so its
 * answer is final. */
replica_outcome_t replica_push(replica_t *r, eventstore_t *es, int64_t after, int64_t through);

#endif
