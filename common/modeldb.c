/* modeldb: see modeldb.h. */
#include "modeldb.h"

#include <stddef.h>

static const char checkpoint_sql[] =
    "CREATE TABLE IF NOT EXISTS checkpoint("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " position INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO checkpoint(id, position) VALUES (1, 0);";

int
modeldb_open(const char *path, const char *schema_sql, sqlite3 **db)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 5000);
        rc = sqlite3_exec(*db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                          " PRAGMA cache_size=-16384;",
                          NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, checkpoint_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK && schema_sql)
        rc = sqlite3_exec(*db, schema_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

int
modeldb_open_readonly(const char *path, sqlite3 **db)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 2000);
        rc = sqlite3_exec(*db, "PRAGMA query_only=1;", NULL, NULL, NULL);
    }
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
modeldb_checkpoint_set(sqlite3 *db, int64_t position)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(db, "UPDATE checkpoint SET position = ? WHERE id = 1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, position);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    return rc;
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

void
modeldb_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
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
