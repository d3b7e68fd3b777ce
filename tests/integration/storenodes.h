/* storenodes: three real store-node processes (libdqlite) on 127.0.0.1,
 * for the tests of the dqlite client (test_dqlite, test_dqlite_secure).
 * Node i (0..STORENODES_N-1) has id i + 1, a port the kernel said was free
 * when the set was made (other test runs share the host), its data in
 * DIR/node<i+1> and, with .log, its stderr in DIR/node<i+1>.log (else the
 * test's).  Nothing is bootstrapped or joined here: each node starts on its
 * own (node 1 bootstraps; the test joins the others).
 *
 * An embedded value: storenodes_init starts them, storenodes_fini stops
 * what still runs.  Read the fields; change them only through the
 * functions.  Failures are Criterion assertions (test code only). */
#ifndef INV_STORENODES_H
#define INV_STORENODES_H

#include "dqclient.h"

#include <stdbool.h>
#include <sys/types.h>

enum { STORENODES_N = 3 };

typedef struct {
    const char *dir;              /* the test's scratch folder, not owned */
    const char *const *flags;     /* more flags for each node (NULL-ended), not owned */
    bool log;                     /* stderr into DIR/node<i+1>.log */
    pid_t pids[STORENODES_N];     /* 0: not running */
    char addrs[STORENODES_N][32]; /* 127.0.0.1:PORT */
} storenodes_t;

/* Picks a port for each node and starts them all: store-node --address
 * ADDR --dir DIR/node<i+1> FLAGS... --id <i+1>.  dir and flags (which may
 * be NULL) must outlive self. */
void storenodes_init(storenodes_t *self, const char *dir, const char *const *flags, bool log);

/* (Re)starts node i, at the same address and folder. */
void storenodes_start(storenodes_t *self, int i);

/* sig to node i, then waits for it; nothing when it does not run. */
void storenodes_stop(storenodes_t *self, int i, int sig);

/* SIGTERM to every node that runs, each waited for. */
void storenodes_fini(storenodes_t *self);

/* The node whose address is address, or -1. */
int storenodes_index(const storenodes_t *self, const char *address);

/* A client of every node (timeout 5 s a request), dialing through
 * dial(arg, ...) (NULL: plain TCP), connected to the leader within 15 s. */
dqclient_t *storenodes_client(const storenodes_t *self, dqclient_dial_fn dial, void *arg);

/* Whether node i's log (with .log) holds s, in its first 64 KiB. */
bool storenodes_log_has(const storenodes_t *self, int i, const char *s);

#endif
