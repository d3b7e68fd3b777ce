/* fileid: see fileid.h. */
#include "fileid.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* "<path>-wal" into out; false when it does not fit. */
static bool
fid_wal_path(const fileid_t *id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s-wal", id->path);
    return n > 0 && (size_t)n < cap;
}

/* Takes the WAL's identity if it exists. */
static void
fid_take_wal(fileid_t *id)
{
    char wal[sizeof id->path + 8];
    struct stat sb;
    if (fid_wal_path(id, wal, sizeof wal) && stat(wal, &sb) == 0) {
        id->wal_known = true;
        id->wal_dev = sb.st_dev;
        id->wal_ino = sb.st_ino;
    }
}

int
fileid_take(fileid_t *id, const char *path)
{
    int n = snprintf(id->path, sizeof id->path, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof id->path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    id->wal_known = false;
    fid_take_wal(id);
    return 0;
}

const char *
fileid_check(fileid_t *id)
{
    struct stat sb;
    if (stat(id->path, &sb) != 0)
        return "the database file was deleted";
    if (sb.st_dev != id->dev || sb.st_ino != id->ino)
        return "the database file was replaced by another file";
    if (!id->wal_known) {
        fid_take_wal(id);
        return NULL;
    }
    char wal[sizeof id->path + 8];
    if (!fid_wal_path(id, wal, sizeof wal) || stat(wal, &sb) != 0)
        return "its WAL was deleted";
    if (sb.st_dev != id->wal_dev || sb.st_ino != id->wal_ino)
        return "its WAL was replaced by another file";
    return NULL;
}
