/* sqlitedb: how this project opens a SQLite connection, for the two modules
 * that own SQLite files (eventstore for events.db, modeldb for every
 * subscriber's model and the query service's read-only view of one), and
 * how it reads a file's schema version (PRAGMA user_version).  Each module
 * then sets its own busy handling and pragmas.  Invariants:
 *  - SQLite keeps no global allocation statistics (SQLITE_CONFIG_MEMSTATUS
 *    off, set before the library initialises: a mutex per malloc less);
 *  - a connection has no mutex (SQLITE_OPEN_NOMUTEX): it is used by one
 *    thread at a time. */
#ifndef INV_SQLITEDB_H
#define INV_SQLITEDB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* Opens path read-write, creating it.  Returns SQLITE_OK and *db, or an
 * SQLite code with *db NULL (nothing to close). */
int sqlitedb_open(const char *path, sqlite3 **db);
/* Opens an existing path read-only; same return as sqlitedb_open. */
int sqlitedb_open_readonly(const char *path, sqlite3 **db);

/* PRAGMA user_version of the open db in *version: SQLITE_OK or an SQLite
 * code (*version untouched). */
int sqlitedb_user_version(sqlite3 *db, int *version);
/* The user_version of the file at path, read through a read-only
 * connection that is closed again: 0 when there is no such file (or it is
 * empty), -1 when it cannot be read. */
int sqlitedb_file_version(const char *path);

/* Whether an SQLite result code says the file is damaged or not a
 * database (SQLITE_CORRUPT, SQLITE_NOTADB; extended codes too). */
bool sqlitedb_damage_code(int rc);
/* PRAGMA quick_check(1) of the file at path, through a read-only
 * connection closed again: 0 when it says ok, 1 when the file is damaged
 * (or not a database), -1 when it cannot tell (cannot open, busy).  why
 * gets the check's first finding or the error, on one line. */
int sqlitedb_quick_check(const char *path, char *why, size_t cap);

#endif
