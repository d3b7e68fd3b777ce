/* modeldb: what every subscriber's own database shares: opening it (WAL),
 * the one-row checkpoint table, and transactions.  The read-model modules of
 * the projector, audit and alert daemons call these; the checkpoint is always
 * written in the same transaction as the model rows it covers. */
#ifndef INV_MODELDB_H
#define INV_MODELDB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a model's writes reach the disk (the daemons' --sync):
 * - NORMAL: synchronous=NORMAL; a commit does not wait for the disk, a WAL
 *   checkpoint fsyncs.  A power loss can lose the last commits, which are
 *   applied again from the log.  What modeldb_open gives.
 * - OFF: synchronous=OFF, no fsync at all while the model is open; a clean
 *   close fsyncs it.  A crash of the process loses nothing; a crash of the
 *   system can tear the file, so a marker beside it (syncmark.h) makes the
 *   next open after such a crash discard the file, and the subscriber
 *   rebuilds it from the log (docs/guarantees.md, G12).
 * The policy is the writer's, not the process's: the subscriber runtime
 * applies it (modeldb_set_sync) to each model it writes, and the daemon
 * calls modeldb_discard_torn before opening its model. */
typedef enum { MODELDB_SYNC_NORMAL = 0, MODELDB_SYNC_OFF } modeldb_sync_t;

/* The daemons' --sync help line. */
#define MODELDB_SYNC_HELP                                                                          \
    "off (no fsync; a crash of the system makes the next start rebuild the model from the "        \
    "log) | normal (fsync at WAL checkpoints)"

/* Parses a daemon's --sync setting, "off" or "normal", into *policy.  0, or
 * -1 (*policy unchanged) for anything else. */
int modeldb_parse_sync(const char *setting, modeldb_sync_t *policy);

/* Opens path read-write (creating it), WAL, synchronous=NORMAL, busy
 * timeout, the checkpoint table, then runs schema_sql (may be NULL).  The
 * connection has no mutex: one thread uses it at a time.  Returns SQLITE_OK
 * and *db, or an SQLite code with *db NULL. */
int modeldb_open(const char *path, const char *schema_sql, sqlite3 **db);
/* Before a model at path is opened to be written with MODELDB_SYNC_OFF:
 * removes it (symlinks resolved) and its side files when its marker says it
 * was written without fsyncs before the system restarted (logged). */
void modeldb_discard_torn(const char *path);
/* Applies policy to a connection of modeldb_open: OFF marks the file
 * unsynced (syncmark.h), then turns its fsyncs off (without a marker, when
 * it cannot be written, the model keeps them: logged).  NORMAL, and any
 * connection not in WAL mode (a bulk build never fsyncs before
 * modeldb_bulk_adopt), are left as they are.  SQLITE_OK or an error. */
int modeldb_set_sync(sqlite3 *db, modeldb_sync_t policy);
/* Closes *db (statements finalized by the caller; *db becomes NULL); a
 * model this connection wrote without fsyncs is fsynced and its marker
 * removed (a connection opened with NORMAL leaves a marker alone).  0, or -1
 * when the close or the fsyncs failed (the marker then stays, and the next
 * open after a system crash rebuilds the model). */
int modeldb_close(sqlite3 **db);
/* Bulk building: a model that nobody reads until it is complete (a fresh
 * `--mode once` build).  Opens path, which must be a new file under a
 * temporary name that nothing adopts by itself, with the journal in memory
 * (ROLLBACK still works, nothing journaled on disk), synchronous=OFF,
 * exclusive locking and a large page cache; then the checkpoint table and
 * schema_sql.  A crash leaves a file that may be torn: it must stay under
 * its temporary name (modeldb_bulk_adopt is the only way out).  Returns
 * SQLITE_OK and *db, or an SQLite code with *db NULL. */
int modeldb_open_bulk(const char *path, const char *schema_sql, sqlite3 **db);
/* Ends a bulk build: closes *db (the caller has finalized its statements;
 * *db becomes NULL), reopens path the normal way (WAL, as modeldb_open
 * leaves it), closes it again, fsyncs the file, renames it over
 * final_path and fsyncs the folder.  Only then does final_path name the
 * model.  SQLITE_OK, or an error code (final_path untouched, unless only
 * the folder's fsync failed after the rename). */
int modeldb_bulk_adopt(sqlite3 **db, const char *path, const char *final_path);
/* Removes path and the journal/WAL files beside it (a torn bulk build). */
void modeldb_remove(const char *path);
/* Opens read-only with PRAGMA query_only (the query service). */
int modeldb_open_readonly(const char *path, sqlite3 **db);
/* Opens an existing model read-only for --mode dump: it creates, migrates,
 * discards and marks nothing, whoever writes the file (temp tables stay
 * possible, as the projector's dump needs one). */
int modeldb_open_dump(const char *path, sqlite3 **db);

int modeldb_checkpoint_get(sqlite3 *db, int64_t *position);
/* Moves the checkpoint to position, whose event is event_id (inside the
 * caller's transaction).  *cache keeps
 * the prepared statement between calls (the caller finalizes it before
 * closing db): with a projector's schema a prepare cost ~80 us, once per
 * commit.  cache NULL: prepared and finalized here. */
int modeldb_checkpoint_set(sqlite3 *db, sqlite3_stmt **cache, int64_t position,
                           const char *event_id);

/* The event_id of the checkpoint's event, written with the position by
 * modeldb_checkpoint_set ("" when never written): what tells a model built
 * from another history (docs/guarantees.md, G15). */
int modeldb_checkpoint_event_get(sqlite3 *db, char *event_id, size_t cap);
/* The hash chain's link of the checkpoint's event (common/store/chain.h),
 * `len` bytes: set inside the caller's transaction (*cache as for
 * modeldb_checkpoint_set), read with *known false when the model has none
 * (written before the column, or by a rebuild). */
int modeldb_checkpoint_hash_set(sqlite3 *db, sqlite3_stmt **cache, const uint8_t *hash,
                                size_t len);
int modeldb_checkpoint_hash_get(sqlite3 *db, uint8_t *hash, size_t len, bool *known);

int modeldb_begin(sqlite3 *db);     /* BEGIN IMMEDIATE */
int modeldb_commit(sqlite3 *db);    /* COMMIT; rolls back on failure */
void modeldb_rollback(sqlite3 *db); /* no-op outside a transaction */
/* Whether db reported a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) in
 * its last failed call, also when a modeldb_rollback or modeldb_commit
 * followed (the connection remembers it until it is closed): such a model
 * is rebuilt from the log, never repaired (docs/guarantees.md, G14). */
bool modeldb_damaged(sqlite3 *db);
/* After a model failed to open: removes path (symlinks resolved) and its
 * side files when PRAGMA quick_check finds it damaged, so that it can be
 * created anew and rebuilt from the log.  1 removed, 0 not damaged (the
 * failure was something else), -1 cannot tell. */
int modeldb_discard_if_damaged(const char *path);

/* A reader's damage report (issue 23 item 10): a process whose read of a
 * model failed with SQLITE_CORRUPT or SQLITE_NOTADB (the query service on
 * the projector's file, the audit and alert APIs on their own) leaves an
 * empty "<file>-damaged" beside the file db reads (symlinks resolved); the
 * model's writer sees it within a second (subscriber.c) and replaces the
 * model by a rebuild.  A new generation has another name, so the report
 * goes with the damaged file (modeldb_remove and the rebuild delete it).
 * 0, or -1 (no file name, cannot create it). */
/* PRAGMA quick_check(1) on the open db (the subscriber runs it at start,
 * issue 23 item 10): 0 ok, 1 damaged (SQLITE_CORRUPT or NOTADB), -1 cannot
 * tell; why gets the finding or the error on one line.  It reads every
 * page once: 0.9 s for a 259 MiB audit model in the page cache, 4.3 s from
 * disk (docs/guarantees.md, G14). */
int modeldb_quick_check(sqlite3 *db, char *why, size_t cap);

#define MODELDB_DAMAGED_SUFFIX "-damaged"
int modeldb_report_damage(sqlite3 *db);
/* Whether a damage report lies beside file (a real path: what
 * sqlite3_db_filename gives).  One stat(). */
bool modeldb_damage_reported(const char *file);

/* Prepares (once, cached by the caller in *st) and resets for reuse. */
int modeldb_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql);

#endif
