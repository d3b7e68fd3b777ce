/* walsync: see walsync.h. */
#include "walsync.h"

#include "fsyncpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
walsync_init(walsync_t *w, const char *wal_path)
{
    w->fd = -1;
    int n = snprintf(w->path, sizeof w->path, "%s", wal_path);
    return n > 0 && (size_t)n < sizeof w->path ? 0 : -1;
}

/* Opens the WAL once it exists.  1 when open, 0 when there is none, -1. */
static int
walsync_open(walsync_t *w)
{
    if (w->fd >= 0)
        return 1;
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (fsync_folder_of(w->path) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    w->fd = fd;
    return 1;
}

int
walsync_sync(walsync_t *w)
{
    int rc = walsync_open(w);
    if (rc <= 0)
        return rc;
    while ((rc = fdatasync(w->fd)) != 0 && errno == EINTR)
        ;
    return rc;
}

void
walsync_fini(walsync_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}
