/* fileid: notices a database file or its WAL unlinked or replaced under a
 * running process (issue 23, item 12).  The identity of a file is its
 * device and inode, taken by name when the file is opened; a later check
 * by name that finds no file, or another inode, means the process writes
 * to a file nobody will ever read again (a deleted WAL: what is committed
 * there is lost at the next crash; a restart would read the database
 * without it).  SQLite keeps a WAL in place while any connection is open,
 * so a WAL that vanishes under an open connection was deleted by someone
 * else.  A check is two stat() calls: the callers run it about once a
 * second, not per command. */
#ifndef INV_FILEID_H
#define INV_FILEID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char path[4096]; /* the database file, as it was opened (symlinks resolved) */
    dev_t dev;       /* its device and inode at fileid_take */
    ino_t ino;
    bool wal_known; /* the WAL's identity was taken (it existed then) */
    dev_t wal_dev;
    ino_t wal_ino;
} fileid_t;

/* Takes the identity of path and of "<path>-wal" (if it exists yet).  0,
 * or -1 with errno (path cannot be stat()ed, or is too long). */
int fileid_take(fileid_t *id, const char *path);

/* Checks both again.  NULL when they are the files taken (a WAL that
 * appeared since is taken now); otherwise what happened, for a log line:
 * "the database file was deleted", "... replaced", "the WAL was deleted",
 * "... replaced" (static text). */
const char *fileid_check(fileid_t *id);

#endif
