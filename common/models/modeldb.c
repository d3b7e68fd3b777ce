/* modeldb: see modeldb.h.
 *
 * No state of its own: the sync policy is the caller's, applied per
 * connection (modeldb_set_sync), and a connection's damage report outlives
 * the rollback that clears sqlite3_errcode in the connection itself (the
 * argument of its rollback hook, see mdb_mark_damaged).
 *
 * Bulk builds trade crash safety for speed (no journal on disk, no fsync,
 * one exclusive connection) and get it back by where the file lives: under
 * a temporary name until modeldb_bulk_adopt has turned it into a normal WAL
 * database, fsynced it and renamed it over the real name.  A torn file can
 * only ever sit under the temporary name. */
#include "modeldb.h"

#include "fsyncpath.h"
#include "log.h"
#include "sqlitedb.h"
#include "syncmark.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The WAL is checkpointed every 256 pages (1 MiB) instead of SQLite's 1000
 * (the audit daemon used 10000).  A checkpoint writes its pages into the
 * database file and fsyncs it, on the disk the event store fsyncs every
 * commit on: the bigger the burst, the longer the command-service's commit
 * waits behind it.  Traced under S3 (strace -T), every command fsync over
 * 15 ms overlapped a subscriber's or the relay's checkpoint fsync, the
 * audit's 40 MiB ones stalling commits for 76-104 ms.  Small checkpoints
 * halved S3's ack p99 (docs/decisions.md, item 25). */
static const char normal_pragmas[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"
    " PRAGMA wal_autocheckpoint=256;";
/* MEMORY, not OFF: a rolled-back batch (an apply failure) must still roll
 * back; pages past the file's size at BEGIN, most of a fresh build, are
 * not journaled at all.  The cache stays at 16 MiB: 128 MiB made no
 * measurable difference once the read-side indexes are built at the end
 * (readmodel.c), and tripled the builder's resident memory. */
static const char bulk_pragmas[] =
    "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
    " PRAGMA cache_size=-16384;";

/* event_id is the checkpoint's event (G15): the model says which history
 * it was built from ('' in a model written before the column, until its
 * next commit).  It sits in the checkpoint's row, so a commit dirties no
 * other page for it. */
static const char checkpoint_sql[] =
    "CREATE TABLE IF NOT EXISTS checkpoint("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " position INTEGER NOT NULL,"
    " event_id TEXT NOT NULL DEFAULT '',"
    " hash BLOB);" /* the chain's hash of that event (chain.h); NULL until known */
    "INSERT OR IGNORE INTO checkpoint(id, position) VALUES (1, 0);";

/* Adds checkpoint.event_id to a model written before it.  SQLITE_OK or an
 * error. */
static int
mdb_add_event_id(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT event_id FROM checkpoint", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return SQLITE_OK;
    }
    return sqlite3_exec(db, "ALTER TABLE checkpoint ADD COLUMN event_id TEXT NOT NULL DEFAULT ''",
                        NULL, NULL, NULL);
}

/* Adds checkpoint.hash to a model written before it (NULL: the subscriber
 * takes the next event's link as it comes, once).  SQLITE_OK or an error. */
static int
mdb_add_hash(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT hash FROM checkpoint", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return SQLITE_OK;
    }
    return sqlite3_exec(db, "ALTER TABLE checkpoint ADD COLUMN hash BLOB", NULL, NULL, NULL);
}

static int
mdb_open(const char *path, const char *pragmas, const char *schema_sql, sqlite3 **db)
{
    int rc = sqlitedb_open(path, db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 5000);
        rc = sqlite3_exec(*db, pragmas, NULL, NULL, NULL);
    }

    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, checkpoint_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = mdb_add_event_id(*db);
    if (rc == SQLITE_OK)
        rc = mdb_add_hash(*db);
    if (rc == SQLITE_OK && schema_sql)
        rc = sqlite3_exec(*db, schema_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

int
modeldb_parse_sync(const char *setting, modeldb_sync_t *policy)
{
    if (strcmp(setting, "off") == 0)
        *policy = MODELDB_SYNC_OFF;
    else if (strcmp(setting, "normal") == 0)
        *policy = MODELDB_SYNC_NORMAL;
    else
        return -1;
    return 0;
}

/* A marker from another boot beside the name SQLite will use: symlinks
 * resolved, as a projector's live name points at its current generation. */
void
modeldb_discard_torn(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real) || !syncmark_stale(real))
        return;
    LOG_W(NULL,
          "%s was written without fsyncs before the system restarted (a crash or power loss may "
          "have torn it): removed it, rebuilding it from the event log",
          real);
    modeldb_remove(real);
    syncmark_clear(real);
}

/* Puts this boot's marker beside the open model, then stops its fsyncs.
 * Without a marker (it cannot be written) the model keeps them. */
static int
mdb_unsync(sqlite3 *db)
{
    const char *name = sqlite3_db_filename(db, "main");
    if (!name || !name[0] || syncmark_set(name) != 0) {
        LOG_W(NULL, "cannot mark %s unsynced (%s): it keeps its fsyncs", name ? name : "?",
              strerror(errno));
        return SQLITE_OK;
    }
    return sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
}

int
modeldb_open(const char *path, const char *schema_sql, sqlite3 **db)
{
    return mdb_open(path, normal_pragmas, schema_sql, db);
}

/* Whether db's journal is a WAL (not a bulk build's, in memory). */
static bool
mdb_is_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool wal = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW &&
               sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return wal;
}

int
modeldb_set_sync(sqlite3 *db, modeldb_sync_t policy)
{
    if (policy != MODELDB_SYNC_OFF || !mdb_is_wal(db))
        return SQLITE_OK;
    return mdb_unsync(db);
}

/* Whether this connection writes without fsyncs (mdb_unsync marked it). */
static bool
mdb_is_unsynced(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool off = sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
    sqlite3_finalize(st);
    return off;
}

int
modeldb_close(sqlite3 **db)
{
    if (!db || !*db)
        return 0;
    const char *name = sqlite3_db_filename(*db, "main");
    char path[PATH_MAX], wal[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s", name ? name : "");
    bool unsynced = mdb_is_unsynced(*db);
    int rc = sqlite3_close(*db) == SQLITE_OK ? 0 : -1;
    *db = NULL;
    /* only the connection that marked the file removes the marker (not a
     * reader of a file another process writes unsynced) */
    if (!unsynced || !path[0] || !syncmark_present(path))
        return rc;
    /* The last connection's close checkpointed into the file (and removed
     * the WAL, unless a reader still holds it): what is in the page cache
     * goes to disk before the marker goes. */
    snprintf(wal, sizeof wal, "%s-wal", path);
    bool synced = rc == 0 && fsync_file(path) == 0 && (fsync_file(wal) == 0 || errno == ENOENT) &&
                  syncmark_clear(path) == 0;
    return synced ? 0 : -1;
}

int
modeldb_open_bulk(const char *path, const char *schema_sql, sqlite3 **db)
{
    return mdb_open(path, bulk_pragmas, schema_sql, db);
}

int
modeldb_bulk_adopt(sqlite3 **db, const char *path, const char *final_path)
{
    int rc = sqlite3_close(*db); /* SQLITE_BUSY while a statement is alive */
    if (rc != SQLITE_OK)
        return rc;
    *db = NULL;
    /* The normal open turns the file into WAL mode; the truncating
     * checkpoint and the close leave every page in the main file. */
    sqlite3 *wal = NULL;
    rc = mdb_open(path, normal_pragmas, NULL, &wal);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(wal, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    int crc = sqlite3_close(wal);
    if (rc != SQLITE_OK || crc != SQLITE_OK)
        return rc != SQLITE_OK ? rc : crc;
    if (fsync_file(path) != 0 || rename(path, final_path) != 0)
        return SQLITE_IOERR;
    modeldb_remove(path); /* what is left under the old name: empty -wal and -shm */
    return fsync_folder_of(final_path) == 0 ? SQLITE_OK : SQLITE_IOERR;
}

void
modeldb_remove(const char *path)
{
    const char *suffixes[] = {"", "-journal", "-wal", "-shm", MODELDB_DAMAGED_SUFFIX};
    char side[PATH_MAX + 16];
    for (int i = 0; i < 5; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        unlink(side);
    }
}

int
modeldb_open_dump(const char *path, sqlite3 **db)
{
    int rc = sqlitedb_open_readonly(path, db);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(*db, 2000);
    return rc;
}

int
modeldb_open_readonly(const char *path, sqlite3 **db)
{
    int rc = modeldb_open_dump(path, db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, "PRAGMA query_only=1;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

int
modeldb_checkpoint_get(sqlite3 *db, int64_t *position)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT position FROM checkpoint WHERE id = 1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *position = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

int
modeldb_checkpoint_set(sqlite3 *db, sqlite3_stmt **cache, int64_t position,
                       const char *event_id)
{
    sqlite3_stmt *own = NULL, **st = cache ? cache : &own;
    int rc =
        modeldb_prepare(db, st, "UPDATE checkpoint SET position = ?1, event_id = ?2 WHERE id = 1");
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(*st, 1, position);
        sqlite3_bind_text(*st, 2, event_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(*st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(*st);
    }
    sqlite3_finalize(own);
    return rc;
}

int
modeldb_checkpoint_event_get(sqlite3 *db, char *event_id, size_t cap)
{
    sqlite3_stmt *st = NULL;
    event_id[0] = '\0';
    int rc = sqlite3_prepare_v2(db, "SELECT event_id FROM checkpoint WHERE id = 1", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(event_id, cap, "%s", text ? (const char *)text : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
modeldb_begin(sqlite3 *db)
{
    return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

int
modeldb_commit(sqlite3 *db)
{
    int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        modeldb_rollback(db);
    return rc;
}

/* The damage mark: the argument of the connection's rollback hook, whose
 * callback stays NULL (SQLite 3.40 has no per-connection client data, and
 * sqlite3_rollback_hook is the one setter that gives its argument back).
 * It goes with the connection; no model module installs a rollback hook. */
static const char mdb_damaged_mark = 'D';

static void
mdb_mark_damaged(sqlite3 *db)
{
    sqlite3_rollback_hook(db, NULL, (void *)&mdb_damaged_mark);
}

static bool
mdb_marked_damaged(sqlite3 *db)
{
    void *arg = sqlite3_rollback_hook(db, NULL, NULL);
    sqlite3_rollback_hook(db, NULL, arg);
    return arg == &mdb_damaged_mark;
}

void
modeldb_rollback(sqlite3 *db)
{
    if (sqlitedb_damage_code(sqlite3_errcode(db)))
        mdb_mark_damaged(db);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

bool
modeldb_damaged(sqlite3 *db)
{
    return db && (sqlitedb_damage_code(sqlite3_errcode(db)) || mdb_marked_damaged(db));
}

int
modeldb_discard_if_damaged(const char *path)
{
    char real[PATH_MAX], why[256];
    if (!realpath(path, real))
        return -1;
    int damaged = sqlitedb_quick_check(real, why, sizeof why);
    if (damaged != 1)
        return damaged;
    LOG_E(NULL, "%s is damaged (%s): removed it, rebuilding it from the event log", real, why);
    modeldb_remove(real);
    syncmark_clear(real);
    return 1;
}

int
modeldb_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
        return SQLITE_OK;
    }
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

int
modeldb_checkpoint_hash_set(sqlite3 *db, sqlite3_stmt **cache, const uint8_t *hash, size_t len)
{
    sqlite3_stmt *own = NULL, **st = cache ? cache : &own;
    int rc = modeldb_prepare(db, st, "UPDATE checkpoint SET hash = ?1 WHERE id = 1");
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(*st, 1, hash, (int)len, SQLITE_STATIC);
        rc = sqlite3_step(*st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(*st);
    }
    sqlite3_finalize(own);
    return rc;
}

int
modeldb_checkpoint_hash_get(sqlite3 *db, uint8_t *hash, size_t len, bool *known)
{
    sqlite3_stmt *st = NULL;
    *known = false;
    int rc = sqlite3_prepare_v2(db, "SELECT hash FROM checkpoint WHERE id = 1", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 0) == (int)len) {
        memcpy(hash, sqlite3_column_blob(st, 0), len);
        *known = true;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* "<db's file>-damaged" into out; false when there is no name. */
static bool
mdb_damage_marker(const char *file, char *out, size_t cap)
{
    if (!file || !file[0])
        return false;
    int n = snprintf(out, cap, "%s%s", file, MODELDB_DAMAGED_SUFFIX);
    return n > 0 && (size_t)n < cap;
}

int
modeldb_report_damage(sqlite3 *db)
{
    char marker[PATH_MAX + 16];
    if (!db || !mdb_damage_marker(sqlite3_db_filename(db, "main"), marker, sizeof marker))
        return -1;
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

bool
modeldb_damage_reported(const char *file)
{
    char marker[PATH_MAX + 16];
    struct stat sb;
    return mdb_damage_marker(file, marker, sizeof marker) && stat(marker, &sb) == 0;
}

int
modeldb_quick_check(sqlite3 *db, char *why, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(why, cap, "%s", text ? (const char *)text : "?");
        rc = text && strcmp((const char *)text, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
    } else {
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    for (char *p = why; *p; p++) /* one log line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return rc == SQLITE_OK ? 0 : sqlitedb_damage_code(rc) ? 1 : -1;
}
