/* Unit tests of command-service/syncer (and common/files/walsync under it) on
 * real files: requests are reported done once an fdatasync covered them,
 * the descriptor polls readable when they are, a file that cannot be
 * synced is reported as an error and nothing after it counts as durable,
 * and a WAL that does not exist yet has nothing to sync. */
#include "scratch.h"
#include "syncer.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Waits up to 5 s for the syncer to report at least want, or an error.
 * Returns syncer_done's result, with *done set. */
static int
wait_done(syncer_t *s, uint64_t want, uint64_t *done)
{
    int rc = 0;
    *done = 0;
    for (int i = 0; i < 500; i++) {
        struct pollfd p = {syncer_fd(s), POLLIN, 0};
        poll(&p, 1, 10);
        rc = syncer_done(s, done);
        if (rc != 0 || *done >= want)
            return rc;
    }
    return rc;
}

Test(syncer, requests_are_done_after_an_fdatasync_of_the_file)
{
    char dir[64];
    scratch_make(dir, sizeof dir, "sync");
    char path[128];
    snprintf(path, sizeof path, "%s/events.db-wal", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    syncer_t *s = syncer_new(path, NULL);
    cr_assert_not_null(s);
    uint64_t done = 0;
    for (uint64_t seq = 1; seq <= 50; seq++) {
        cr_assert_eq(write(fd, "frame", 5), 5);
        syncer_request(s, seq);
    }
    cr_assert_eq(wait_done(s, 50, &done), 0);
    cr_assert_eq(done, 50);
    int64_t n = syncer_count(s);
    cr_assert(n >= 1 && n <= 50, "%lld fsyncs for 50 requests", (long long)n);
    /* nothing new requested: no more fsyncs, done stays */
    usleep(50000);
    cr_assert_eq(syncer_count(s), n);
    cr_assert_eq(syncer_done(s, &done), 0);
    cr_assert_eq(done, 50);
    syncer_destroy(&s);
    cr_assert_null(s);
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* fdatasync on /dev/null fails with EINVAL: the error is reported, and a
 * later request is never reported done. */
Test(syncer, a_failed_fdatasync_is_reported_and_nothing_after_it_is_done)
{
    syncer_t *s = syncer_new("/dev/null", NULL);
    cr_assert_not_null(s);
    syncer_request(s, 1);
    uint64_t done = 0;
    errno = 0;
    cr_assert_eq(wait_done(s, 1, &done), -1, "the failed fdatasync was not reported");
    cr_assert_neq(errno, 0);
    cr_assert_eq(done, 0);
    syncer_request(s, 2);
    usleep(50000);
    cr_assert_eq(syncer_done(s, &done), -1);
    cr_assert_eq(done, 0);
    syncer_destroy(&s);
}

/* Before a store is first written its WAL may not exist: nothing to sync. */
Test(syncer, a_missing_wal_has_nothing_to_sync)
{
    syncer_t *s = syncer_new("/tmp/inv-no-such-dir-for-syncer/events.db-wal", NULL);
    cr_assert_not_null(s);
    syncer_request(s, 7);
    uint64_t done = 0;
    cr_assert_eq(wait_done(s, 7, &done), 0);
    cr_assert_eq(done, 7);
    syncer_destroy(&s);
}
