/* syncmark: see syncmark.h. */
#include "syncmark.h"

#include "fsyncpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define MARK_SUFFIX "-unsynced"
#define BOOT_ID_MAX 64

static int
sm_path(const char *db_path, char *out, size_t cap)
{
    return snprintf(out, cap, "%s" MARK_SUFFIX, db_path) < (int)cap ? 0 : -1;
}

/* Reads the first line of path into out, without its newline. */
static int
sm_read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\n")] = '\0';
    return out[0] ? 0 : -1;
}

int
syncmark_boot_id(char *out, size_t cap)
{
    return sm_read_line(BOOT_ID_PATH, out, cap);
}

bool
syncmark_present(const char *db_path)
{
    char mark[PATH_MAX];
    return sm_path(db_path, mark, sizeof mark) == 0 && access(mark, F_OK) == 0;
}

bool
syncmark_stale(const char *db_path)
{
    char mark[PATH_MAX], written[BOOT_ID_MAX], now[BOOT_ID_MAX];
    if (!syncmark_present(db_path))
        return false;
    if (sm_path(db_path, mark, sizeof mark) != 0 ||
        sm_read_line(mark, written, sizeof written) != 0 || syncmark_boot_id(now, sizeof now) != 0)
        return true;
    return strcmp(written, now) != 0;
}

int
syncmark_set(const char *db_path)
{
    char mark[PATH_MAX], id[BOOT_ID_MAX];
    if (sm_path(db_path, mark, sizeof mark) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (syncmark_boot_id(id, sizeof id) != 0)
        return -1;
    int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(id);
    id[len++] = '\n';
    bool ok = write(fd, id, len) == (ssize_t)len && fsync(fd) == 0;
    int err = errno;
    close(fd);
    if (!ok) {
        errno = err;
        return -1;
    }
    return fsync_folder_of(mark);
}

int
syncmark_clear(const char *db_path)
{
    char mark[PATH_MAX];
    if (sm_path(db_path, mark, sizeof mark) != 0)
        return -1;
    if (unlink(mark) != 0)
        return errno == ENOENT ? 0 : -1;
    return fsync_folder_of(mark);
}
