/* proc: process-level helpers every daemon shares: clean shutdown on
 * SIGTERM/SIGINT, the wall clock, random ids, a stoppable worker thread. */
#ifndef INV_PROC_H
#define INV_PROC_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Installs SIGTERM/SIGINT handlers (without SA_RESTART, so blocking calls
 * return EINTR), a SIGHUP handler that asks for a reload (of the
 * allow-list, security.h) instead of ending the process, and ignores
 * SIGPIPE. */
void proc_install_signals(void);
/* True once SIGTERM or SIGINT has arrived. */
int proc_stopping(void);
/* Asks the loops to stop, as a signal would (tests, fatal errors). */
void proc_request_stop(void);
/* True once per SIGHUP received since the last call. */
bool proc_take_reload(void);

/* Microseconds since the Unix epoch (wall clock) and a monotonic clock. */
int64_t proc_now_us(void);
int64_t proc_mono_ms(void);
int64_t proc_mono_us(void); /* monotonic microseconds */

/* Writes 2*n_bytes random hex characters plus a NUL into out. */
void proc_random_hex(char *out, size_t n_bytes);
/* A time-ordered id (like UUIDv7): 14 hex digits of microseconds since the
 * epoch, '-', 16 random hex digits; out has room for PROC_ORDERED_ID_LEN + 1.
 * Ids that sort by time append to the end of the idempotency index instead
 * of rewriting a random page of it per command (docs/decisions.md, item 11). */
#define PROC_ORDERED_ID_LEN 31
void proc_ordered_id(char *out);

/* A worker thread, the lock and condition variable it sleeps on, and the
 * flag that asks it to return (the WAL checkpointer, the command-service's
 * syncer).  The condition variable runs on CLOCK_MONOTONIC, for
 * pthread_cond_timedwait deadlines.  An embedded value. */
typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool stop;           /* under mu: the thread returns when it sees it */
} proc_worker_t;

/* Initialises w's lock and condition variable and runs fn(arg) on a new
 * thread.  0, or the error number of pthread_create with nothing left to
 * undo. */
int proc_worker_start(proc_worker_t *w, void *(*fn)(void *), void *arg);
/* Sets stop under the lock, wakes the thread, joins it, then destroys the
 * lock and condition variable.  Pairs with a successful proc_worker_start. */
void proc_worker_stop(proc_worker_t *w);

#endif
