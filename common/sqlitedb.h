/* sqlitedb: how this project opens a read-write SQLite connection, for the
 * two modules that own SQLite files (eventstore for events.db, modeldb for
 * every subscriber's model).  Each then sets its own busy handling and
 * pragmas.  Invariants:
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

#endif
