/* syncer: see syncer.h. */
#include "syncer.h"

#include "proc.h"
#include "walsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct syncer {
    walsync_t wal;
    proc_worker_t w;               /* w.mu guards what follows */
    int efd;                       /* eventfd: the main thread polls it */
    uint64_t requested;            /* under mu */
    uint64_t done;                 /* under mu */
    int error;                     /* under mu: errno of the first failed fdatasync */
    int64_t count;                 /* under mu */
    metrics_histogram_t *fsync_us; /* borrowed, may be NULL: each fdatasync's time */
};

static void
syncer_signal(syncer_t *s)
{
    uint64_t one = 1;
    ssize_t n;
    while ((n = write(s->efd, &one, sizeof one)) < 0 && errno == EINTR)
        ;
    (void)n; /* EAGAIN: the counter is already non-zero, readable anyway */
}

/* Waits for a request beyond done, syncs, publishes; until stopped with
 * nothing left to sync or after the first error. */
static void *
syncer_main(void *arg)
{
    syncer_t *s = arg;
    pthread_mutex_lock(&s->w.mu);
    for (;;) {
        while (!s->w.stop && s->requested == s->done)
            pthread_cond_wait(&s->w.wake, &s->w.mu);
        if (s->requested == s->done)
            break;
        uint64_t target = s->requested;
        pthread_mutex_unlock(&s->w.mu);
        int64_t started = proc_mono_us();
        int rc = walsync_sync(&s->wal);
        int err = errno;
        metrics_observe(s->fsync_us, proc_mono_us() - started);
        pthread_mutex_lock(&s->w.mu);
        s->count++;
        if (rc != 0)
            s->error = err ? err : EIO;
        else
            s->done = target;
        syncer_signal(s);
        if (rc != 0)
            break;
    }
    pthread_mutex_unlock(&s->w.mu);
    return NULL;
}

syncer_t *
syncer_new(const char *wal_path, metrics_histogram_t *fsync_us)
{
    syncer_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fsync_us = fsync_us;
    if (walsync_init(&s->wal, wal_path) != 0) {
        free(s);
        errno = ENAMETOOLONG;
        return NULL;
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = s->efd < 0 ? errno : proc_worker_start(&s->w, syncer_main, s);
    if (rc != 0) {
        if (s->efd >= 0)
            close(s->efd);
        free(s);
        errno = rc;
        return NULL;
    }
    return s;
}

void
syncer_destroy(syncer_t **sp)
{
    if (!sp || !*sp)
        return;
    syncer_t *s = *sp;
    proc_worker_stop(&s->w);
    close(s->efd);
    walsync_fini(&s->wal);
    free(s);
    *sp = NULL;
}

void
syncer_request(syncer_t *s, uint64_t seq)
{
    pthread_mutex_lock(&s->w.mu);
    if (seq > s->requested) {
        s->requested = seq;
        pthread_cond_signal(&s->w.wake);
    }
    pthread_mutex_unlock(&s->w.mu);
}

int
syncer_fd(const syncer_t *s)
{
    return s->efd;
}

int
syncer_done(syncer_t *s, uint64_t *done)
{
    uint64_t n;
    while (read(s->efd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&s->w.mu);
    *done = s->done;
    int err = s->error;
    pthread_mutex_unlock(&s->w.mu);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int64_t
syncer_count(syncer_t *s)
{
    pthread_mutex_lock(&s->w.mu);
    int64_t n = s->count;
    pthread_mutex_unlock(&s->w.mu);
    return n;
}
