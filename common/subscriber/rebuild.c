/* rebuild: see rebuild.h.
 *
 * A rebuild's life: rebuild_open (a new generation file, its model from
 * the factory) -> rebuild_apply_page, page after page, as the subscriber
 * fetches them -> rebuild_swap once the subscriber finds it caught up, or
 * rebuild_abandon (stopping, 20 failed pages) or a finish that failed. */
#include "rebuild.h"

#include "log.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A generation file is "<live_path>.<GENERATION_DIGITS digits>" (the time
 * of its rebuild's start in microseconds, zero-padded, or above the last
 * generation when the clock says otherwise: rebuild_generation_next); these
 * are the side files SQLite and the bulk build put beside it. */
#define GENERATION_DIGITS 16
#define BUILDING SUBSCRIBER_BUILDING_SUFFIX
static const char *const generation_suffixes[] = {
    "",       "-wal",          "-shm",          "-journal",          "-unsynced",
    BUILDING, BUILDING "-wal", BUILDING "-shm", BUILDING "-journal", MODELDB_DAMAGED_SUFFIX};
#undef BUILDING

/* A rebuild is abandoned at every FAILED_PAGES_MAX-th page that failed. */
#define FAILED_PAGES_MAX 20

struct rebuild {
    const subscriber_ops_t *ops;  /* the models' side, not owned */
    modeldb_sync_t sync;          /* applied to each model as it opens and finishes */
    subscriber_factory_t factory; /* factory.open NULL when absent */
    const char *live_path;        /* the live model's name, not owned */
    void *model;                  /* the model being rebuilt, NULL when none */
    int64_t checkpoint;           /* its last applied position */
    int64_t failures;             /* pages that failed during this rebuild */
    int64_t generation;           /* number of the last generation this process opened, 0: none */
    char path[PATH_MAX];          /* its generation file */
};

rebuild_t *
rebuild_new(const subscriber_ops_t *ops, modeldb_sync_t sync)
{
    rebuild_t *r = calloc(1, sizeof *r);
    if (r) {
        r->ops = ops;
        r->sync = sync;
    }
    return r;
}

void
rebuild_destroy(rebuild_t **rp)
{
    if (!rp || !*rp)
        return;
    free(*rp);
    *rp = NULL;
}

/* The file name part of path (after its last '/'). */
static const char *
rebuild_base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The folder path is in, into dir: "." when path names none. */
static void
rebuild_folder_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* True when name is a generation file of base or one of its side files.
 * Anything else (an operator's "read.db.1718400000" or "read.db.bak") is
 * not. */
static bool
rebuild_is_generation(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || name[n] != '.')
        return false;
    const char *p = name + n + 1;
    for (int i = 0; i < GENERATION_DIGITS; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    p += GENERATION_DIGITS;
    for (size_t i = 0; i < sizeof generation_suffixes / sizeof generation_suffixes[0]; i++)
        if (strcmp(p, generation_suffixes[i]) == 0)
            return true;
    return false;
}

/* Side files of live_path itself that a crash during a swap can leave once
 * live_path is a symlink (SQLite follows it, so they are never in use):
 * the first generation's WAL files and the half-made link. */
static void
rebuild_remove_swap_leftovers(const char *live_path)
{
    const char *suffixes[] = {"-wal",      "-shm",  "-journal",
                              "-unsynced", ".link", MODELDB_DAMAGED_SUFFIX};
    char path[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (snprintf(path, sizeof path, "%s%s", live_path, suffixes[i]) < (int)sizeof path &&
            unlink(path) == 0)
            LOG_W(NULL, "removed %s, left by a swap that did not finish", path);
}

/* Deletes what rebuilds that never finished left beside live_path (the
 * daemon was killed during one): every generation file and side file that
 * is not the one live_path points at. */
static void
rebuild_remove_stale_generations(const char *live_path)
{
    char dir[PATH_MAX], target[PATH_MAX], path[2 * PATH_MAX];
    rebuild_folder_of(live_path, dir, sizeof dir);
    const char *base = rebuild_base_of(live_path);
    ssize_t n = readlink(live_path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    if (n > 0)
        rebuild_remove_swap_leftovers(live_path);
    const char *live = rebuild_base_of(target);
    size_t live_len = strlen(live);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool current = live_len > 0 && strncmp(e->d_name, live, live_len) == 0 &&
                       (e->d_name[live_len] == '\0' || e->d_name[live_len] == '-');
        if (current || !rebuild_is_generation(e->d_name, base))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            LOG_W(NULL, "removed %s, left by a rebuild that did not finish", path);
    }
    closedir(d);
}

void
rebuild_set_factory(rebuild_t *r, const subscriber_factory_t *factory, const char *live_path)
{
    r->factory = *factory;
    r->live_path = live_path;
    if (factory->open)
        rebuild_remove_stale_generations(live_path);
}

bool
rebuild_can(const rebuild_t *r)
{
    return r->factory.open != NULL;
}

void *
rebuild_model(const rebuild_t *r)
{
    return r->model;
}

int64_t
rebuild_checkpoint(const rebuild_t *r)
{
    return r->checkpoint;
}

const char *
rebuild_path(const rebuild_t *r)
{
    return r->path;
}

/* model with the sync policy applied (a bulk build's is left as it is), or
 * NULL (model closed) when that failed or model is NULL. */
static void *
rebuild_synced(rebuild_t *r, void *model)
{
    if (model && modeldb_set_sync(r->ops->db(model), r->sync) != SQLITE_OK) {
        r->factory.close(r->factory.arg, model);
        model = NULL;
    }
    return model;
}

int64_t
rebuild_generation_next(int64_t now_us, int64_t last)
{
    if (now_us < 1)
        now_us = 1;
    return now_us > last ? now_us : last + 1;
}

/* The number of the generation live_path points at, 0 when it is a plain
 * file (or its target is not a generation). */
static int64_t
rebuild_live_generation(const char *live_path)
{
    char target[PATH_MAX];
    ssize_t n = readlink(live_path, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    const char *dot = strrchr(target, '.');
    if (!dot || strlen(dot + 1) != GENERATION_DIGITS)
        return 0;
    char *end = NULL;
    long long g = strtoll(dot + 1, &end, 10);
    return end && *end == '\0' && g > 0 ? (int64_t)g : 0;
}

/* Whether path or its bulk build's file exists (a name taken). */
static bool
rebuild_name_taken(const char *path)
{
    char building[PATH_MAX + 16];
    struct stat sb;
    snprintf(building, sizeof building, "%s%s", path, SUBSCRIBER_BUILDING_SUFFIX);
    return lstat(path, &sb) == 0 || lstat(building, &sb) == 0;
}

/* A generation name no file has, above the live one and the last one this
 * process opened, whatever the clock says (issue 23, item 14: a stopped
 * clock gave a second rebuild the first one's name, and the swap then
 * deleted the live model). */
static void
rebuild_name_generation(rebuild_t *r, int64_t now_us)
{
    int64_t last = rebuild_live_generation(r->live_path);
    if (r->generation > last)
        last = r->generation;
    int64_t g = rebuild_generation_next(now_us, last);
    for (;; g++) {
        snprintf(r->path, sizeof r->path, "%s.%0*lld", r->live_path, GENERATION_DIGITS,
                 (long long)g);
        if (!rebuild_name_taken(r->path))
            break;
    }
    r->generation = g;
}

const char *
rebuild_open_at(rebuild_t *r, int64_t head, int64_t now_us)
{
    if (!r->factory.open)
        return "this daemon cannot rebuild";
    if (r->model)
        return "a rebuild is already running";
    rebuild_name_generation(r, now_us);
    r->model = rebuild_synced(r, r->factory.open(r->factory.arg, r->path));
    if (!r->model)
        return "cannot create the rebuild file";
    r->checkpoint = 0;
    r->failures = 0;
    LOG_I(NULL, "rebuild started into %s (head %lld)", r->path, (long long)head);
    return NULL;
}

const char *
rebuild_open(rebuild_t *r, int64_t head)
{
    return rebuild_open_at(r, head, proc_now_us());
}

int
rebuild_apply_page(rebuild_t *r, mpread_t *events, uint32_t n, event_t *ev)
{
    const subscriber_ops_t *ops = r->ops;
    void *rm = r->model;
    int applied = 0;
    if (n == 0)
        return 0;
    if (ops->begin(rm) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *why;
        if (codec_read_event(events, ev, &why) != 0 ||
            ev->env.position != r->checkpoint + applied + 1 || ops->apply(rm, ev) != 0) {
            ops->rollback(rm);
            return -1;
        }
        applied++;
    }
    if (ops->commit(rm, r->checkpoint + applied, ev->env.event_id) != 0)
        return -1;
    r->checkpoint += applied;
    if (ops->committed)
        ops->committed(rm);
    return applied;
}

bool
rebuild_page_failed(rebuild_t *r)
{
    if (++r->failures % FAILED_PAGES_MAX != 0)
        return false;
    rebuild_abandon(r, "catch-up keeps failing");
    return true;
}

void
rebuild_abandon(rebuild_t *r, const char *why)
{
    LOG_E(NULL, "rebuild abandoned (%s); the live model stays", why);
    r->factory.close(r->factory.arg, r->model);
    r->model = NULL;
    unlink(r->path);
}

/* Points live_path at the rebuilt generation: a symlink renamed over it. */
static int
rebuild_swap_files(rebuild_t *r, char *old_target, size_t cap)
{
    ssize_t n = readlink(r->live_path, old_target, cap - 1);
    old_target[n > 0 ? n : 0] = '\0';
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.link", r->live_path);
    unlink(tmp);
    if (symlink(rebuild_base_of(r->path), tmp) != 0 || rename(tmp, r->live_path) != 0)
        return -1;
    return 0;
}

/* Unlinks a generation that is no longer live: its WAL and shared-memory
 * files, and the file itself unless the symlink has taken its name.  A
 * reader that still has them open keeps reading them until it reopens. */
static void
rebuild_remove_generation(const char *path, bool main_file)
{
    const char *suffixes[] = {"-wal", "-shm", "-unsynced", MODELDB_DAMAGED_SUFFIX, ""};
    char f[PATH_MAX + 16];
    for (int i = 0; i < (main_file ? 5 : 4); i++)
        if (snprintf(f, sizeof f, "%s%s", path, suffixes[i]) < (int)sizeof f)
            unlink(f);
}

/* Deletes the generation that was live before the swap: old_target is
 * where live_path pointed ("" when it was the first, live_path itself). */
static void
rebuild_remove_previous(const rebuild_t *r, const char *old_target)
{
    if (!old_target[0]) { /* the first generation was live_path itself */
        rebuild_remove_generation(r->live_path, false);
        return;
    }
    if (strcmp(rebuild_base_of(old_target), rebuild_base_of(r->path)) == 0) {
        LOG_E(NULL, "the previous generation has the new one's name (%s): kept it", r->path);
        return; /* never the file just made live */
    }
    /* the previous generation, relative to live_path's folder */
    char dir[PATH_MAX], old[2 * PATH_MAX];
    rebuild_folder_of(r->live_path, dir, sizeof dir);
    if (snprintf(old, sizeof old, "%s%s%s", old_target[0] == '/' ? "" : dir,
                 old_target[0] == '/' ? "" : "/", old_target) < (int)sizeof old)
        rebuild_remove_generation(old, true);
}

int
rebuild_swap(rebuild_t *r, void **live)
{
    if (r->factory.finish) {
        r->model = rebuild_synced(r, r->factory.finish(r->factory.arg, r->model, r->path));
        if (!r->model) {
            LOG_E(NULL, "rebuild abandoned (cannot finish %s); the live model stays", r->path);
            unlink(r->path);
            return -1;
        }
    }
    char old_target[PATH_MAX];
    r->factory.close(r->factory.arg, *live);
    *live = NULL;
    if (rebuild_swap_files(r, old_target, sizeof old_target) != 0) {
        LOG_E(NULL, "cannot swap %s in: %s", r->path, strerror(errno));
        proc_request_stop(); /* the live model is closed: stop rather than guess */
        return -2;
    }
    *live = r->model;
    r->model = NULL;
    if (r->factory.activate)
        r->factory.activate(r->factory.arg, *live);
    rebuild_remove_previous(r, old_target);
    LOG_I(NULL, "rebuild swapped in at position %lld (%s)", (long long)r->checkpoint, r->path);
    return 0;
}
