/* dqclient: a blocking client of a dqlite cluster over TCP (the wire
 * protocol of common/wire/dqproto.h), for the replicated event store
 * (issue 26).  One connection, to the leader; one open database.  The
 * connection is plain TCP unless a dialer is set (dqclient_set_dialer):
 * with CURVE on, the store nodes are reached through the tunnel.
 *
 * States: disconnected --dqclient_connect--> on the leader --a request
 * fails with DQ_EIO / DQ_ETIMEOUT, or a FAILURE says "not leader"--> the
 * caller calls dqclient_connect again (which reopens the database).
 * Every request has a deadline (the timeout given to dqclient_new); a
 * request that fails on I/O or time leaves the connection closed, since
 * its stream position is lost; prepared statements do not survive a
 * reconnection (prepare them again).  Not thread-safe: one user at a time. */
#ifndef INV_DQCLIENT_H
#define INV_DQCLIENT_H

#include "dqproto.h"
#include "tunnel.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dqclient dqclient_t;

enum { DQCLIENT_ADDR_MAX = 64, DQCLIENT_SEEDS_MAX = 16 };

/* A node of the cluster as CLUSTER lists it. */
typedef struct {
    uint64_t id;
    char address[DQCLIENT_ADDR_MAX]; /* HOST:PORT */
    dq_role_t role;
} dqnode_t;

/* A client that will look for the leader among seeds[0..n) (HOST:PORT,
 * copied; n <= DQCLIENT_SEEDS_MAX), with timeout_ms per request.  NULL on
 * a bad argument or no memory.  Connects to nothing yet. */
dqclient_t *dqclient_new(const char *const *seeds, size_t n, int timeout_ms);

/* The deadline of each request from now on (ms > 0; others are ignored):
 * a short one for "who leads?" so that a leader gone silent (a partition:
 * no reset comes) is noticed quickly, a longer one for a large write. */
void dqclient_set_timeout(dqclient_t *c, int timeout_ms);

/* How the client reaches a node: a connected stream socket to address
 * (HOST:PORT) into *fd, returning 0 (non-zero on failure): dqlite's
 * connect-function signature, so tunnel_connect_func (tunnel.h) fits. */
typedef int (*dqclient_dial_fn)(void *arg, const char *address, int *fd);

/* From now on, nodes are reached through fn(arg, ...) instead of plain TCP
 * (fn NULL: plain TCP again); the connection open now is kept.  The fd
 * returned is owned by the client, made non-blocking, closed by it. */
void dqclient_set_dialer(dqclient_t *c, dqclient_dial_fn fn, void *arg);

/* With CURVE on in this process (security.h): the nodes reached through a
 * new tunnel in zctx whose streams expect server_key (NULL: the keyring's
 * store.pub), set as c's dialer; *t is that tunnel, which the caller
 * destroys after the client and before zmq_ctx_term.  Security off:
 * plain TCP, *t NULL.  0, or -1 with why. */
int dqclient_secure(dqclient_t *c, void *zctx, const char *server_key, tunnel_t **t, char *why,
                    size_t cap);

/* Closes and frees; NULL-safe; nulls *c. */
void dqclient_destroy(dqclient_t **c);

/* Finds the leader (asks each seed LEADER, then connects to the node
 * named) and, when a database was opened before, opens it again.  Tries
 * the seeds over and over for up to wait_ms.  DQ_OK, DQ_ENOLEADER, or the
 * error of the reopening. */
int dqclient_connect(dqclient_t *c, int wait_ms);
/* dqclient_connect, asking hint first (a node believed to lead; NULL or
 * "": none): a seed that went silent then costs nothing. */
int dqclient_connect_hint(dqclient_t *c, const char *hint, int wait_ms);
/* Connects to the node at address itself, whether it leads or not (for
 * dqclient_ask_leader: what that node knows); DQ_OK or the error. */
int dqclient_connect_node(dqclient_t *c, const char *address);

/* The leader's address after dqclient_connect ("" before); never NULL. */
const char *dqclient_leader(const dqclient_t *c);

/* Asks the node this client is connected to who leads now (LEADER): its
 * address into leader[cap], "" when it knows none.  A leader that lost
 * its place names the new one: the caller connects again.  An error
 * leaves the client disconnected. */
int dqclient_ask_leader(dqclient_t *c, char *leader, size_t cap);

/* After DQ_EFAILURE: the server's code and message; otherwise a phrase
 * naming what failed.  Never NULL; valid until the next call. */
const char *dqclient_errmsg(const dqclient_t *c);
uint64_t dqclient_failure_code(const dqclient_t *c);

/* OPEN name (copied; reopened by dqclient_connect). */
int dqclient_open(dqclient_t *c, const char *name);

/* EXEC_SQL with params[0..n): *last_id and *changes may be NULL. */
int dqclient_exec(dqclient_t *c, const char *sql, const dqvalue_t *params, size_t n,
                  int64_t *last_id, uint64_t *changes);

/* Called once per row; row[0..ncols) and its text and blobs are valid
 * during the call only. */
typedef void (*dqclient_row_fn)(void *arg, const dqvalue_t *row, size_t ncols);

/* QUERY_SQL with params[0..n): every row of every page goes to fn. */
int dqclient_query(dqclient_t *c, const char *sql, const dqvalue_t *params, size_t n,
                   dqclient_row_fn fn, void *arg);

/* The ROWS messages (pages) the last query read. */
int dqclient_pages(const dqclient_t *c);

/* A prepared statement: PREPARE, then EXEC or QUERY any number of times,
 * then FINALIZE. */
int dqclient_prepare(dqclient_t *c, const char *sql, uint32_t *stmt);
int dqclient_exec_stmt(dqclient_t *c, uint32_t stmt, const dqvalue_t *params, size_t n,
                       int64_t *last_id, uint64_t *changes);
int dqclient_query_stmt(dqclient_t *c, uint32_t stmt, const dqvalue_t *params, size_t n,
                        dqclient_row_fn fn, void *arg);
int dqclient_finalize(dqclient_t *c, uint32_t stmt);

/* CLUSTER: up to cap nodes into out, their number in *count
 * (DQ_ETOOBIG when more). */
int dqclient_cluster(dqclient_t *c, dqnode_t *out, size_t cap, size_t *count);

/* Membership, sent to the leader: ADD a node (as a spare), ASSIGN it a
 * role, REMOVE it, TRANSFER leadership to it. */
int dqclient_add(dqclient_t *c, uint64_t id, const char *address);
int dqclient_assign(dqclient_t *c, uint64_t id, dq_role_t role);
int dqclient_remove(dqclient_t *c, uint64_t id);
int dqclient_transfer(dqclient_t *c, uint64_t id);

/* ADD then ASSIGN voter: how a new node joins. */
int dqclient_join(dqclient_t *c, uint64_t id, const char *address);

/* Asks the node at address (any node, a seed or not) which node it knows
 * as the leader: that address into leader[cap], "" when it knows none.
 * Within the client's timeout; leaves the client disconnected (call
 * dqclient_connect before other requests).  DQ_OK when the node answered,
 * else the error of connecting or of the request (invctl store status). */
int dqclient_probe(dqclient_t *c, const char *address, char *leader, size_t cap);

#endif
