/* readmodel: the projector's read database (read.db), the only projector
 * module that talks to SQLite.
 *
 * Owns the schema (tables, the public/admin views the query service reads,
 * the FTS5 index) and applies events to it, one per call, inside the
 * transaction the subscriber runtime opens (common/subscriber/subscriber.h).
 *
 * Invariants:
 *  - the checkpoint row is written in the same transaction as the rows it
 *    covers (readmodel_commit), so the model is always "every event up to
 *    the checkpoint, nothing after it";
 *  - every product/supplier row remembers the stream version it last
 *    applied; an event whose version is not above it changes nothing, so
 *    re-applying an event is harmless;
 *  - the model is a pure function of the event sequence: two models built
 *    from the same events give byte-identical readmodel_dump output (no
 *    wall clock, no random values are stored);
 *  - cost fields live only in the products table and the admin_products
 *    view; the public views (product_cards, product_details) never carry
 *    them. */
#ifndef INV_READMODEL_H
#define INV_READMODEL_H

#include "message.h"
#include "subscriber.h"

#include <stdint.h>
#include <stdio.h>

/* PRAGMA user_version of read.db.  2: sales_daily replaced the
 * sales_by_day index; 3: a product's stock, counters and version moved to
 * product_counters; 4: the views and the counters' updates saturate at
 * 2^63 - 1 instead of overflowing (issue 23).  A file of another version is
 * discarded and rebuilt from the log (readmodel_discard_other_schema). */
#define READMODEL_SCHEMA_VERSION 4

typedef struct readmodel readmodel_t;

/* Opens (creating if needed) the read database at `path`, which may be any
 * file (a rebuild builds a fresh one beside the live one), and creates the
 * schema.  Returns the model, or NULL with *why set to a static reason
 * (why may be NULL). */
readmodel_t *readmodel_open(const char *path, const char **why);
/* Opens the existing model at path read-only, for readmodel_dump only
 * (--mode dump): nothing is created, stamped or migrated.  NULL with *why
 * set when there is no such file or it has another schema version. */
readmodel_t *readmodel_open_dump(const char *path, const char **why);
/* A bulk build (a fresh `--mode once` model nobody reads until it is
 * complete): removes whatever a crashed build left at `path`, a temporary
 * name, and opens it with common/models/modeldb.h's bulk settings and without the
 * indexes only the query service reads.  Applies like readmodel_open's
 * model.  NULL with *why set on failure. */
readmodel_t *readmodel_open_bulk(const char *path, const char **why);
/* Ends a bulk build: creates the remaining indexes, turns the file into a
 * normal WAL database, fsyncs it and renames it over final_path
 * (modeldb_bulk_adopt), then destroys the model and nulls *m.  -1 on
 * failure, with *m still owned by the caller (readmodel_close deletes
 * the temporary file). */
int readmodel_bulk_finish(readmodel_t **m, const char *final_path);
/* A read model is disposable: when `path` holds one of another schema
 * version, removes it (a symlink to a generation file: the link; the
 * runtime then deletes the generation as stale) and its side files, so
 * that the daemon starts a fresh one and catches up from position 0.
 * Returns the version it discarded, 0 when there was nothing to discard
 * (no file, or the current version), -1 when the file cannot be read. */
int readmodel_discard_other_schema(const char *path);
/* Finalizes statements and closes the database; NULL-safe, nulls *m.  A
 * bulk build destroyed without readmodel_bulk_finish deletes its file. */
void readmodel_close(readmodel_t **m);

/* The subscriber_ops_t callbacks; `model` is a readmodel_t *. */
extern const subscriber_ops_t readmodel_ops;

/* The factory the runtime uses for Rebuild (subscriber_set_factory): open
 * makes a readmodel on the new generation file, close destroys one.  *live
 * always names the model the runtime currently applies to: activate (after
 * the swap) sets it, close clears it when it closes that model.  live must
 * outlive the runtime. */
subscriber_factory_t readmodel_factory(readmodel_t **live);

/* Opens a write transaction (BEGIN IMMEDIATE).  0 or -1. */
int readmodel_begin(readmodel_t *m);
/* Applies one event inside the open transaction.  Unknown products and
 * already-applied events change nothing and return 0; -1 only on a
 * database error (the runtime then rolls the batch back). */
int readmodel_apply(readmodel_t *m, const event_t *ev);
/* Writes `checkpoint` and the batch's metadata, then commits.  0 or -1
 * (rolled back). */
int readmodel_commit(readmodel_t *m, int64_t checkpoint, const char *event_id);
/* Rolls back the open transaction, if any. */
void readmodel_rollback(readmodel_t *m);
/* Reads the committed checkpoint (0 for a fresh model).  0 or -1. */
int readmodel_checkpoint(readmodel_t *m, int64_t *position);

/* Writes a canonical text dump of every table (fixed table order, rows in
 * key order, one line per row, no surrogate keys) to out.  Two models built
 * from the same events dump identically.  0 or -1 on a database error. */
int readmodel_dump(readmodel_t *m, FILE *out);

/* The last SQLite error message of the model's connection. */
const char *readmodel_errmsg(const readmodel_t *m);

#endif
