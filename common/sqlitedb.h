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

#endif
