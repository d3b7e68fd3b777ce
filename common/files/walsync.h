/* walsync: makes everything written so far to a SQLite write-ahead log
 * durable, through a file descriptor of its own.  An fdatasync covers
 * every frame any connection wrote before it, so a writer can commit with
 * synchronous=NORMAL (the frames reach the page cache, no fsync under the
 * write lock) and sync afterwards, on another thread or in another process:
 * nothing here touches a SQLite connection.
 * The WAL is opened at the first sync (a store that was never written may
 * have none yet: then there is nothing to sync), and its directory is
 * synced once after that open, so that a WAL created with synchronous=NORMAL
 * (which SQLite itself would sync only at a checkpoint) keeps its name after
 * a power loss.  One walsync_t belongs to one thread at a time. */
#ifndef INV_WALSYNC_H
#define INV_WALSYNC_H

#include <limits.h>

typedef struct {
    int fd; /* the WAL, read-only; -1 until the first sync finds it */
    char path[PATH_MAX];
} walsync_t;

/* Remembers the WAL's path (e.g. eventstore_wal_path); opens nothing yet.
 * 0, or -1 when the path does not fit. */
int walsync_init(walsync_t *w, const char *wal_path);
/* fdatasync of the WAL.  0 when everything written to it before the call is
 * durable (or there is no WAL file); -1 with errno when the kernel reported
 * an error: the frames may be lost, and retrying does not say otherwise. */
int walsync_sync(walsync_t *w);
/* Closes the descriptor.  Idempotent. */
void walsync_fini(walsync_t *w);

#endif
