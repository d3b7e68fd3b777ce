/* Unit tests of common/store/checkpointer on a real event store: the
 * thread copies what the writer leaves in the WAL into the database file
 * (the writer never checkpoints itself here), it stops at once when told
 * however long its period, and a store it cannot open is an error. */
#include "checkpointer.h"
#include "eventstore.h"
#include "proc.h"
#include "sample.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static void
make_dir(void)
{
    scratch_make_file(dir, sizeof dir, "ckpt", "events.db", path, sizeof path);
}

static void
remove_dir(void)
{
    scratch_remove(dir);
}

static int64_t
file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Appends n events to stream in transactions of ten. */
static void
append_events(eventstore_t *es, const char *stream, int n)
{
    event_t *ev = malloc(sizeof *ev);
    for (int v = 1; v <= n; v++) {
        if (v % 10 == 1)
            cr_assert_eq(eventstore_begin(es), ERR_OK);
        sample_event(ev, EV_PRODUCT_VIEWED, stream, v, v);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        if (v % 10 == 0 || v == n)
            cr_assert_eq(eventstore_commit(es), ERR_OK);
    }
    free(ev);
}

Test(checkpointer, copies_the_wal_into_the_database_file, .init = make_dir, .fini = remove_dir)
{
    /* the writer's own automatic checkpoint is out of reach: only the
     * thread can grow the database file */
    eventstore_options_t writer_opts = {false, 5000, 0, 1000000};
    eventstore_t *es = NULL;
    cr_assert_eq(eventstore_open(path, &writer_opts, &es), ERR_OK);
    append_events(es, "product-p1", 500);
    int64_t before = file_size(path);
    cr_assert_gt(file_size(path), 0);
    usleep(100000);
    cr_assert_eq(file_size(path), before, "something else checkpointed the WAL");

    checkpointer_t *c = checkpointer_new(path, 20, 0);
    cr_assert_not_null(c);
    int64_t deadline = proc_mono_ms() + 5000;
    while (file_size(path) == before && proc_mono_ms() < deadline)
        usleep(10000);
    cr_assert_gt(file_size(path), before, "no checkpoint in 5 s with a period of 20 ms");

    /* more events while it runs reach the file as well */
    int64_t first = file_size(path);
    append_events(es, "product-p2", 500);
    deadline = proc_mono_ms() + 5000;
    while (file_size(path) == first && proc_mono_ms() < deadline)
        usleep(10000);
    cr_assert_gt(file_size(path), first, "the second batch of events was not checkpointed");
    checkpointer_destroy(&c);
    cr_assert_null(c);
    checkpointer_destroy(&c); /* NULL-safe */
    int64_t head = 0;
    cr_assert_eq(eventstore_head(es, &head, NULL), ERR_OK);
    cr_assert_eq(head, 1000);
    eventstore_close(&es);
}

Test(checkpointer, stops_at_once_whatever_its_period, .init = make_dir, .fini = remove_dir)
{
    eventstore_t *es = NULL;
    cr_assert_eq(eventstore_open(path, NULL, &es), ERR_OK);
    checkpointer_t *c = checkpointer_new(path, 3600 * 1000, 0);
    cr_assert_not_null(c);
    int64_t t0 = proc_mono_ms();
    checkpointer_destroy(&c);
    /* a bound on a hang, not a speed: the thread waits on a condition
     * variable that the stop signals */
    cr_assert_lt(proc_mono_ms() - t0, 2000, "stopping took %lld ms",
                 (long long)(proc_mono_ms() - t0));
    eventstore_close(&es);
}

Test(checkpointer, a_store_it_cannot_open_is_an_error, .init = make_dir, .fini = remove_dir)
{
    char missing[192];
    snprintf(missing, sizeof missing, "%s/no-such-dir/events.db", dir);
    cr_assert_null(checkpointer_new(missing, 20, 0));
}
