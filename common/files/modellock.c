/* modellock: see modellock.h. */
#include "modellock.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCK_SUFFIX "-lock"

/* The pid written in the lock file fd, as text in out ("?" if none). */
static void
ml_holder(int fd, char *out, size_t cap)
{
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (!out[0])
        snprintf(out, cap, "?");
}

/* Replaces the lock file's content with this process's pid. */
static void
ml_note_holder(int fd)
{
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        LOG_W(NULL, "cannot write the holder's pid into the model lock: %s", strerror(errno));
}

int
modellock_take(const char *db_path)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s" LOCK_SUFFIX, db_path) >= (int)sizeof path) {
        LOG_E(NULL, "%s: path too long for its lock file", db_path);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        LOG_E(NULL, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[32];
        ml_holder(fd, holder, sizeof holder);
        close(fd);
        if (err == EWOULDBLOCK)
            LOG_E(NULL,
                  "%s is written by another process (pid %s holds %s): stop it first, or give "
                  "this one another --db",
                  db_path, holder, path);
        else
            LOG_E(NULL, "cannot lock %s: %s", path, strerror(err));
        return -1;
    }
    ml_note_holder(fd);
    return fd;
}

void
modellock_release(int *fd)
{
    if (!fd || *fd < 0)
        return;
    close(*fd); /* closing the only descriptor releases the flock */
    *fd = -1;
}
