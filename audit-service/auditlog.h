/* auditlog: the audit read model, one row per event, in its own SQLite file
 * (with auditchain, which it owns and which keeps the search by stream on
 * the same connection, the only audit-service modules that talk to SQLite).
 *
 * Invariants:
 *  - one row per event, keyed by its global position; applying an event
 *    twice changes nothing (INSERT OR IGNORE on the position) and prints
 *    nothing the second time;
 *  - the checkpoint moves in the same transaction as the rows it covers
 *    (common/models/modeldb.h), so rows and checkpoint never disagree;
 *  - a printed line is written only after its batch committed: apply queues
 *    the line, `committed` writes and flushes the queue, `rollback` drops it;
 *  - everything stored is a function of the events only (no wall clock), so
 *    a rebuild from position 0 dumps byte-identical (auditlog_dump). */
#ifndef INV_AUDITLOG_H
#define INV_AUDITLOG_H

#include "change.h"
#include "message.h"
#include "subscriber.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define AUDITLOG_LIMIT_DEFAULT 20
#define AUDITLOG_LIMIT_MAX 100

typedef struct auditlog auditlog_t;

/* One stored row, as search returns it. */
typedef struct {
    int64_t position;                /* global event position, the key */
    int64_t recorded_at;             /* event time, microseconds since the epoch, UTC */
    char stream[STREAM_MAX + 1];     /* "product-p1" */
    int64_t version;                 /* 1-based within the stream */
    char type[32];                   /* event type name, "StockUpdated" */
    char correlation_id[ID_MAX + 1]; /* "" when none */
    char command_id[ID_MAX + 1];
    char change[CHANGE_MAX]; /* change_describe() text, already escaped */
} auditlog_row_t;

/* Search filters; every filter is optional and they combine with AND. */
typedef struct {
    const char *stream;         /* exact stream name, or NULL */
    const char *correlation_id; /* exact correlation id, or NULL */
    bool has_from;
    int64_t from_us; /* recorded_at >= from_us (us) */
    bool has_to;
    int64_t to_us; /* recorded_at < to_us (us) */
    int limit;     /* 1..AUDITLOG_LIMIT_MAX rows */
    int64_t after; /* cursor: only positions > after; 0 from the start */
} auditlog_query_t;

/* Called once per row found, in position order; the row is valid only
 * during the call. */
typedef void (*auditlog_row_fn)(void *arg, const auditlog_row_t *row);

/* The subscriber runtime's view of the model (common/subscriber/subscriber.h); the
 * model pointer given to subscriber_new must be an auditlog_t *. */
extern const subscriber_ops_t auditlog_ops;

/* Opens (creating) the model at path.  Committed lines go to `out` (stdout
 * in the daemon; NULL prints nothing).  Returns NULL on failure with a
 * static reason in *why. */
auditlog_t *auditlog_open(const char *path, FILE *out, const char **why);
/* Opens the existing model at path read-only, for auditlog_dump only
 * (--mode dump): nothing is created or migrated.  NULL with *why set. */
auditlog_t *auditlog_open_dump(const char *path, const char **why);
/* Changes where committed lines go (NULL: nowhere), e.g. a model rebuilt
 * silently and then swapped in.  Not owned. */
void auditlog_set_output(auditlog_t *model, FILE *out);
/* Closes and frees; NULL-safe, nulls the pointer. */
void auditlog_close(auditlog_t **model);

/* The live model of a daemon and where it prints; Rebuild replaces model. */
typedef struct {
    auditlog_t *model; /* the model serving searches; NULL only mid-swap */
    FILE *out;         /* where the live model prints (stdout) */
} auditlog_live_t;

/* The factory the runtime uses for Rebuild (subscriber_set_factory): open
 * makes a silent model on the new generation file, activate (after the
 * swap) makes it live->model and lets it print to live->out, close closes
 * one and clears live->model when it was that one.  live must outlive the
 * runtime. */
subscriber_factory_t auditlog_factory(auditlog_live_t *live);

/* The last applied position.  0 or -1. */
int auditlog_checkpoint(auditlog_t *model, int64_t *position);
/* The chain head the audit has verified: every audit row keeps its event's
 * link of the store's hash chain (common/store/chain.h), checked by the
 * subscriber runtime before it was applied; this is the last one (position
 * 0 when none), `len` bytes into hash.  Compared with the store's hash at
 * that position it shows a store rewritten after the audit saw it, even
 * consistently.  0 or -1. */
int auditlog_chain_head(auditlog_t *model, int64_t *position, uint8_t *hash, size_t len);

/* Runs a search: calls fn for up to q->limit rows in position order and
 * sets *more when further rows match after the last one given.  Returns
 * the number of rows given, or -1 on a storage error. */
int auditlog_search(auditlog_t *model, const auditlog_query_t *q, auditlog_row_fn fn, void *arg,
                    bool *more);

/* Writes the canonical dump (checkpoint, then every row in position order,
 * strings escaped, one line each) to out.  Two models built from the same
 * events dump identically.  0 or -1. */
int auditlog_dump(auditlog_t *model, FILE *out);

#endif
