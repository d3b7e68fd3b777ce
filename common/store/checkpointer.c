/* checkpointer: see checkpointer.h. */
#include "checkpointer.h"

#include "eventstore.h"
#include "fileid.h"
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct checkpointer {
    eventstore_t *es; /* the thread's own connection */
    int period_ms, restart_frames;
    proc_worker_t w;    /* w.mu guards what follows */
    es_wal_state_t wal; /* under mu: as the last checkpoint left it */
    /* the thread's own: */
    int64_t failures;   /* checkpoints failed in a row */
    int64_t held_since; /* ms (monotonic) since the WAL has not been restarted; 0: it was */
    bool held_logged;
    fileid_t store_id; /* events.db and its WAL as opened (G22) */
    bool store_id_taken;
    bool store_lost; /* one of them was deleted or replaced: no more checkpoints */
    bool lost_seen;  /* under mu: store_lost, for checkpointer_seen */
};

/* The monotonic time period_ms from now, for pthread_cond_timedwait. */
static struct timespec
cp_deadline(int period_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += period_ms / 1000;
    t.tv_nsec += (long)(period_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Notes whether the WAL is held: at restart_frames or more and not all
 * copied (a RESTART that got through has copied all, and the next commit
 * writes the WAL from its start); logs it once it has been so for
 * CHECKPOINT_HELD_WARN_MS, and when it is over. */
static void
cp_watch_held(checkpointer_t *c, es_wal_state_t wal)
{
    bool held =
        c->restart_frames > 0 && wal.frames >= c->restart_frames && wal.backfilled < wal.frames;
    int64_t now = proc_mono_ms();
    if (!held) {
        if (c->held_logged)
            LOG_I(NULL, "the WAL was restarted again after %lld s",
                  (long long)((now - c->held_since) / 1000));
        c->held_since = 0;
        c->held_logged = false;
        return;
    }
    if (c->held_since == 0)
        c->held_since = now;
    if (!c->held_logged && now - c->held_since >= CHECKPOINT_HELD_WARN_MS) {
        c->held_logged = true;
        LOG_W(NULL,
              "the WAL has not been restarted for %lld s: %d frames (%d MiB), %d of them not yet "
              "in the database file; a reader keeps an old snapshot open (an sqlite3 shell in "
              "a transaction?)",
              (long long)((now - c->held_since) / 1000), wal.frames, wal.frames / 256,
              wal.frames - wal.backfilled);
    }
}

/* One checkpoint; logs the first failure of a run of them and the
 * recovery, not every one (a full disk fails them five times a second). */
/* Whether events.db or its WAL was deleted or replaced since the open
 * (G22, issue 23 item 12): a checkpoint would then copy frames of a WAL
 * that is no longer the store's into the database file, over what a
 * restarted command-service writes.  The process is asked to stop (the
 * relay: a new one opens the files the path names).  One stat or two. */
static bool
cp_store_lost(checkpointer_t *c)
{
    if (c->store_lost || !c->store_id_taken)
        return c->store_lost;
    const char *what = fileid_check(&c->store_id);
    if (!what)
        return false;
    c->store_lost = true;
    pthread_mutex_lock(&c->w.mu);
    c->lost_seen = true;
    pthread_mutex_unlock(&c->w.mu);
    LOG_E(NULL,
          "event store %s: %s under the running relay: no more checkpoints, stopping (start"
          " it again once the store is restored)",
          c->store_id.path, what);
    proc_request_stop();
    return true;
}

static void
cp_run(checkpointer_t *c)
{
    if (cp_store_lost(c))
        return;
    es_wal_state_t wal;
    int rc = eventstore_checkpoint(c->es, c->restart_frames, &wal);
    bool first_failure = rc != ERR_OK && c->failures == 0;
    bool recovered = rc == ERR_OK && c->failures > 0;
    c->failures = rc == ERR_OK ? 0 : c->failures + 1;
    if (first_failure)
        LOG_W(NULL, "WAL checkpoint failed (%s); retrying every %d ms", eventstore_errmsg(c->es),
              c->period_ms);
    else if (recovered)
        LOG_I(NULL, "WAL checkpoints work again");
    if (rc != ERR_OK)
        return;
    pthread_mutex_lock(&c->w.mu);
    c->wal = wal;
    pthread_mutex_unlock(&c->w.mu);
    cp_watch_held(c, wal);
}

static void *
cp_main(void *arg)
{
    checkpointer_t *c = arg;
    pthread_mutex_lock(&c->w.mu);
    while (!c->w.stop) {
        struct timespec until = cp_deadline(c->period_ms);
        while (!c->w.stop && pthread_cond_timedwait(&c->w.wake, &c->w.mu, &until) != ETIMEDOUT)
            ;
        if (c->w.stop)
            break;
        pthread_mutex_unlock(&c->w.mu);
        cp_run(c);
        pthread_mutex_lock(&c->w.mu);
    }
    pthread_mutex_unlock(&c->w.mu);
    return NULL;
}

checkpointer_t *
checkpointer_new(const char *db_path, int period_ms, int restart_frames)
{
    checkpointer_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->period_ms = period_ms > 0 ? period_ms : 200;
    c->restart_frames = restart_frames;
    /* synchronous=NORMAL: a checkpoint syncs the WAL before and the
     * database file after whatever this is; nothing else is written here */
    eventstore_options_t eo = {false, 5000, 0, 0};
    if (eventstore_open(db_path, &eo, &c->es) != ERR_OK) {
        free(c);
        return NULL;
    }
    const char *wal = eventstore_wal_path(c->es); /* "<the store's real path>-wal" */
    size_t n = wal ? strlen(wal) : 0;
    if (n > 4 && n - 4 < sizeof c->store_id.path) {
        char path[sizeof c->store_id.path];
        memcpy(path, wal, n - 4);
        path[n - 4] = '\0';
        c->store_id_taken = fileid_take(&c->store_id, path) == 0;
    }
    if (proc_worker_start(&c->w, cp_main, c) != 0) {
        eventstore_close(&c->es);
        free(c);
        return NULL;
    }
    return c;
}

void
checkpointer_destroy(checkpointer_t **cp)
{
    if (!cp || !*cp)
        return;
    checkpointer_t *c = *cp;
    proc_worker_stop(&c->w);
    eventstore_close(&c->es);
    free(c);
    *cp = NULL;
}

checkpointer_seen_t
checkpointer_seen(checkpointer_t *c)
{
    pthread_mutex_lock(&c->w.mu);
    checkpointer_seen_t seen = {.wal = c->wal, .store_lost = c->lost_seen};
    pthread_mutex_unlock(&c->w.mu);
    return seen;
}
