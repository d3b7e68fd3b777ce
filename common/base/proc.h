/* proc: process-level helpers every daemon shares: clean shutdown on
 * SIGTERM/SIGINT, the wall clock, random ids. */
#ifndef INV_PROC_H
#define INV_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Installs SIGTERM/SIGINT handlers (without SA_RESTART, so blocking calls
 * return EINTR) and ignores SIGPIPE. */
void proc_install_signals(void);
/* True once SIGTERM or SIGINT has arrived. */
int proc_stopping(void);
/* Asks the loops to stop, as a signal would (tests, fatal errors). */
void proc_request_stop(void);

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

#endif
