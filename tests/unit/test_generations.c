/* Unit tests of the generation names of rebuilds (common/subscriber/rebuild.h,
 * issue 23 item 14): names never repeat, whatever the clock says, and a swap
 * never deletes the model it has just made live.  The models are files in
 * a temporary folder, written by a fake factory. */
#include "rebuild.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A model is its file; its checkpoint does not matter to a swap. */
typedef struct {
    char path[PATH_MAX];
} gen_model_t;

static int gen_closed;

static int
gen_checkpoint(void *model, int64_t *position)
{
    (void)model;
    *position = 0;
    return 0;
}

static sqlite3 *
gen_db(void *model)
{
    (void)model;
    return NULL;
}

static const subscriber_ops_t gen_ops = {.checkpoint = gen_checkpoint, .db = gen_db};

/* Creates the file anew, as a factory's open does (SQLite would write its
 * schema into it). */
static void *
gen_open(void *arg, const char *path)
{
    (void)arg;
    gen_model_t *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    snprintf(m->path, sizeof m->path, "%s", path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("model", f);
    fclose(f);
    return m;
}

static void
gen_close(void *arg, void *model)
{
    (void)arg;
    if (model)
        gen_closed++;
    free(model);
}

static bool
gen_live_exists(const char *live_path)
{
    struct stat sb;
    return stat(live_path, &sb) == 0; /* follows the symlink */
}

Test(generations, the_rule_moves_above_the_last_whatever_the_clock)
{
    cr_assert_eq(rebuild_generation_next(1000, 0), 1000);
    cr_assert_eq(rebuild_generation_next(1000, 999), 1000);
    cr_assert_eq(rebuild_generation_next(1000, 1000), 1001, "a stopped clock");
    cr_assert_eq(rebuild_generation_next(500, 1000), 1001, "a clock stepped back");
    cr_assert_eq(rebuild_generation_next(0, 0), 1);
    cr_assert_eq(rebuild_generation_next(-5, 0), 1);
}

Test(generations, two_rebuilds_at_the_same_clock_value_keep_the_live_model)
{
    char dir[64], live_path[PATH_MAX];
    scratch_make_file(dir, sizeof dir, "generations", "model.db", live_path, sizeof live_path);
    void *live = gen_open(NULL, live_path);
    subscriber_factory_t factory = {.open = gen_open, .close = gen_close};
    rebuild_t *r = rebuild_new(&gen_ops, MODELDB_SYNC_NORMAL);
    rebuild_set_factory(r, &factory, live_path);

    const int64_t stopped = 1765000000000000; /* the clock never moves */
    char first[PATH_MAX];
    cr_assert_null(rebuild_open_at(r, 0, stopped));
    snprintf(first, sizeof first, "%s", rebuild_path(r));
    cr_assert_eq(rebuild_swap(r, &live), 0);
    cr_assert(gen_live_exists(live_path));

    cr_assert_null(rebuild_open_at(r, 0, stopped));
    cr_assert_eq(rebuild_swap(r, &live), 0);
    cr_assert(gen_live_exists(live_path), "the live model is still there after the second swap");
    cr_assert_str_neq(rebuild_path(r), first, "a second generation name");
    cr_assert_str_eq(((gen_model_t *)live)->path, rebuild_path(r));
    struct stat sb;
    cr_assert_neq(stat(first, &sb), 0, "the previous generation is deleted");

    /* a new process (no memory of the last generation) with the clock
     * stepped back: still a new name, above the live one */
    rebuild_destroy(&r);
    r = rebuild_new(&gen_ops, MODELDB_SYNC_NORMAL);
    rebuild_set_factory(r, &factory, live_path);
    char second[PATH_MAX];
    snprintf(second, sizeof second, "%s", ((gen_model_t *)live)->path);
    cr_assert_null(rebuild_open_at(r, 0, stopped - 5000000));
    cr_assert_str_neq(rebuild_path(r), second);
    cr_assert_gt(strcmp(rebuild_path(r), second), 0, "names keep sorting by age");
    cr_assert_eq(rebuild_swap(r, &live), 0);
    cr_assert(gen_live_exists(live_path));

    gen_close(NULL, live);
    rebuild_destroy(&r);
    scratch_remove(dir);
}
