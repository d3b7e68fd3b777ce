/* modeldb: what every subscriber's own database shares: opening it (WAL),
 * the one-row checkpoint table, and transactions.  The read-model modules of
 * the projector, audit and alert daemons call these; the checkpoint is always
 * written in the same transaction as the model rows it covers. */
#ifndef INV_MODELDB_H
#define INV_MODELDB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* Opens path read-write (creating it), WAL, synchronous=NORMAL (a read model
 * can lose its last commits on power loss and re-apply them from the log),
 * busy timeout, the checkpoint table, then runs schema_sql (may be NULL).
 * Returns SQLITE_OK and *db, or an SQLite code with *db NULL. */
int modeldb_open(const char *path, const char *schema_sql, sqlite3 **db);
/* Opens read-only with PRAGMA query_only (the query service). */
int modeldb_open_readonly(const char *path, sqlite3 **db);

int modeldb_checkpoint_get(sqlite3 *db, int64_t *position);
int modeldb_checkpoint_set(sqlite3 *db, int64_t position);

int modeldb_begin(sqlite3 *db);     /* BEGIN IMMEDIATE */
int modeldb_commit(sqlite3 *db);    /* COMMIT; rolls back on failure */
void modeldb_rollback(sqlite3 *db); /* no-op outside a transaction */

/* Prepares (once, cached by the caller in *st) and resets for reuse. */
int modeldb_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql);

#endif
