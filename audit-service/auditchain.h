/* auditchain: the audit's search by stream without an index on the stream.
 *
 * Every audit row holds `prev`, the position of the previous row of its
 * stream (0: none), like the event store's events (docs/decisions.md,
 * item 26).  `audit_streams` holds each stream's head (its largest
 * position) and row count; `audit_marks` notes every AUDITCHAIN_MARK_EVERY-th
 * row of a stream, so a search can start a chunk of about that many rows
 * anywhere in a long stream and walk it back, instead of walking back from
 * the head.  Why: an index on the stream (random keys, one entry per
 * event) had most of its leaves rewritten by every bulk indexing of the
 * search keys, a cost that grew with the log (~38 % of the audit daemon's
 * CPU with a million events); a head and a mark are one small row per
 * stream and one per AUDITCHAIN_MARK_EVERY events.
 *
 * Invariants (inside the caller's transaction, so they move with the rows):
 *  - the rows of a stream form one chain from its head down through `prev`,
 *    positions strictly falling, holding every row of the stream;
 *  - every mark is a row of its stream (marks are hints for where to start:
 *    any subset of the chain would give the same answers).
 *
 * Talks to the audit's SQLite connection (owned by auditlog). */
#ifndef INV_AUDITCHAIN_H
#define INV_AUDITCHAIN_H

#include <sqlite3.h>
#include <stdint.h>

#define AUDITCHAIN_MARK_EVERY 64

typedef struct auditchain auditchain_t;

/* The tables, for the model's schema (`audit` itself has the prev
 * column).  A stream's row is found by name once (when its head is not in
 * memory) and written by its integer `sid` (one descent, a cell
 * overwritten in place); `rows` places the marks. */
#define AUDITCHAIN_SCHEMA_SQL                                                                      \
    "CREATE TABLE IF NOT EXISTS audit_streams("                                                    \
    " sid INTEGER PRIMARY KEY, stream TEXT NOT NULL UNIQUE,"                                       \
    " head INTEGER NOT NULL, rows INTEGER NOT NULL);"                                              \
    "CREATE TABLE IF NOT EXISTS audit_marks("                                                      \
    " sid INTEGER NOT NULL, position INTEGER NOT NULL,"                                            \
    " PRIMARY KEY (sid, position)) WITHOUT ROWID;"

/* Gives files written before the chain their prevs, heads and marks and
 * drops the stream index (own transaction; nothing to do for newer files).
 * 0 or -1. */
int auditchain_migrate(sqlite3 *db);

/* A chain over db (not owned).  NULL when out of memory. */
auditchain_t *auditchain_new(sqlite3 *db);

/* Frees; NULL-safe, nulls the pointer. */
void auditchain_destroy(auditchain_t **chain);

/* For a row about to be inserted at `position` of `stream`: when the
 * position is beyond the stream's head (the usual case: rows arrive in
 * position order), moves the head there, sets *prev to the old head (0
 * for a new stream), notes a mark when one is due and returns 1.  Returns
 * 0 when the stream's head is at or beyond the position (a row applied
 * before, or a hole below the head: see auditchain_splice), -1 on error. */
int auditchain_advance(auditchain_t *chain, const char *stream, int64_t position, int64_t *prev);

/* Writes the heads the open batch moved (they are kept in memory until
 * then, headcache.h); before its commit.  0 or -1. */
int auditchain_flush(auditchain_t *chain);

/* Forgets the heads the open batch moved; after its rollback. */
void auditchain_forget(auditchain_t *chain);

/* Links a row just inserted below its stream's head (with prev 0) into
 * the chain: its prev and its successor's.  0 or -1. */
int auditchain_splice(auditchain_t *chain, const char *stream, int64_t position);

/* Called with the positions of a stream in rising order; returns nonzero
 * to stop. */
typedef int (*auditchain_fn)(void *arg, int64_t position);

/* Gives fn the positions of `stream` after `after`, in rising order, until
 * fn returns nonzero or none are left.  Between batches only (it reads the
 * heads from the table).  0 or -1. */
int auditchain_each(auditchain_t *chain, const char *stream, int64_t after, auditchain_fn fn,
                    void *arg);

#endif
