/* sqlitedb: see sqlitedb.h. */
#include "sqlitedb.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
sdb_open(const char *path, int flags, sqlite3 **db)
{
    /* Before the library initialises (later calls fail harmlessly): no
     * global allocation statistics, a mutex per malloc less. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* One thread per connection: no connection mutex (in the query service
     * the mutex cost ~6 % of its CPU, docs/decisions.md item 28). */
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db); /* open can leave a handle to release even on failure */
        *db = NULL;
    }
    return rc;
}

int
sqlitedb_open(const char *path, sqlite3 **db)
{
    return sdb_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, db);
}

int
sqlitedb_open_readonly(const char *path, sqlite3 **db)
{
    return sdb_open(path, SQLITE_OPEN_READONLY, db);
}

int
sqlitedb_user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int
sqlitedb_file_version(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    sqlite3 *db = NULL;
    int version = -1;
    if (sqlitedb_open_readonly(path, &db) != SQLITE_OK ||
        sqlitedb_user_version(db, &version) != SQLITE_OK)
        version = -1;
    sqlite3_close(db);
    return version;
}

bool
sqlitedb_damage_code(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

int
sqlitedb_quick_check(const char *path, char *why, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlitedb_open_readonly(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(why, cap, "%s", text ? (const char *)text : "?");
        rc = text && strcmp((const char *)text, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
    } else {
        snprintf(why, cap, "%s", sqlite3_errstr(rc));
    }
    for (char *p = why; *p; p++) /* one log line */
        if (*p == '\n')
            *p = ' ';
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : sqlitedb_damage_code(rc) ? 1 : -1;
}
