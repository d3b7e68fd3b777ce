/* sqlitedb: see sqlitedb.h. */
#include "sqlitedb.h"

#include <stddef.h>

int
sqlitedb_open(const char *path, sqlite3 **db)
{
    /* Before the library initialises (later calls fail harmlessly): no
     * global allocation statistics, a mutex per malloc less. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* One thread per connection: no connection mutex. */
    int rc = sqlite3_open_v2(
        path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db); /* open can leave a handle to release even on failure */
        *db = NULL;
    }
    return rc;
}
