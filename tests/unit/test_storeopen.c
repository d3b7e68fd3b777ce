/* Unit tests of opening the event store (common/store/eventstore.h,
 * eventstore_open_why; issue 23 item 9): an open of a current store writes
 * nothing, so it works on a full disk, and an open that fails says why.
 * The full disk is a 1 MiB tmpfs filled to the last byte: mounting needs
 * root, the tests skip elsewhere. */
#include "eventstore.h"
#include "sample.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static char mnt[64];
static char path[128];

static void
setup(void)
{
    scratch_make_file(mnt, sizeof mnt, "storeopen", "events.db", path, sizeof path);
}

static void
teardown(void)
{
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
}

TestSuite(storeopen, .init = setup, .fini = teardown);

static void
mount_small_disk(void)
{
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
        cr_skip_test("cannot mount a tmpfs here (%s): this test needs root", strerror(errno));
}

/* Writes zeros to a new file until the disk is full. */
static void
fill_disk(void)
{
    char filler[160];
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    static char zeros[4096];
    while (write(fd, zeros, sizeof zeros) > 0)
        ;
    cr_assert_eq(errno, ENOSPC);
    /* the last partial page too */
    while (write(fd, zeros, 1) > 0)
        ;
    close(fd);
}

static void
append_some(eventstore_t *es, int n)
{
    for (int i = 1; i <= n; i++) {
        event_t *ev = malloc(sizeof *ev);
        sample_event(ev, EV_PRODUCT_VIEWED, "product-p1", i, i);
        cr_assert_eq(eventstore_begin(es), ERR_OK);
        cr_assert_eq(eventstore_append(es, ev), ERR_OK);
        cr_assert_eq(eventstore_commit(es), ERR_OK);
        free(ev);
    }
}

Test(storeopen, a_current_store_opens_on_a_full_disk)
{
    mount_small_disk();
    eventstore_options_t opts = {false, 1000, 0, 0};
    eventstore_t *es = NULL;
    cr_assert_eq(eventstore_open(path, &opts, &es), ERR_OK);
    append_some(es, 5);
    /* a reader keeps the WAL and its index, as a relay that is still
     * running (or a killed daemon's files) does */
    sqlite3 *reader = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(reader, "SELECT count(*) FROM events", NULL, NULL, NULL), SQLITE_OK);
    eventstore_close(&es);
    fill_disk();

    char why[256];
    int rc = eventstore_open_why(path, &opts, &es, why, sizeof why);
    cr_assert_eq(rc, ERR_OK, "the restart on a full disk failed: %s", why);
    cr_assert_str_empty(why);
    int64_t head = 0, at = 0;
    cr_assert_eq(eventstore_head(es, &head, &at), ERR_OK);
    cr_assert_eq(head, 5, "everything is readable");
    eventstore_close(&es);
    sqlite3_close(reader);
}

Test(storeopen, an_open_that_cannot_proceed_says_why)
{
    /* not a database */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("this is no SQLite database, but it is long enough to have a header.............."
          "................................................................................",
          f);
    fclose(f);
    eventstore_t *es = NULL;
    char why[256];
    cr_assert_neq(eventstore_open_why(path, NULL, &es, why, sizeof why), ERR_OK);
    cr_assert_null(es);
    cr_assert(strstr(why, "not a database"), "why: %s", why);

    /* a folder that does not exist */
    char missing[200];
    snprintf(missing, sizeof missing, "%s/no/such/folder/events.db", mnt);
    cr_assert_neq(eventstore_open_why(missing, NULL, &es, why, sizeof why), ERR_OK);
    cr_assert(strstr(why, "unable to open"), "why: %s", why);
    unlink(path);

    /* a new store on a full disk */
    mount_small_disk();
    fill_disk();
    cr_assert_neq(eventstore_open_why(path, NULL, &es, why, sizeof why), ERR_OK);
    cr_assert(strstr(why, "full") || strstr(why, "No space"), "why: %s", why);
}
