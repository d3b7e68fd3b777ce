/* scratch: a folder of its own under /tmp for a test's files, made in its
 * fixture's setup and removed, with everything in it, in its teardown. */
#ifndef INV_TEST_SCRATCH_H
#define INV_TEST_SCRATCH_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Makes /tmp/inv-<name>-XXXXXX into dir (size bytes). */
static inline void
scratch_make(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/inv-%s-XXXXXX", name);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

/* scratch_make, then the path of file inside the folder into path (psize
 * bytes): a test's one database file. */
static inline void
scratch_make_file(char *dir, size_t size, const char *name, const char *file, char *path,
                  size_t psize)
{
    scratch_make(dir, size, name);
    snprintf(path, psize, "%s/%s", dir, file);
}

static inline int
scratch_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything in it. */
static inline void
scratch_remove(const char *dir)
{
    cr_assert_eq(nftw(dir, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS), 0, "removing %s: %s", dir,
                 strerror(errno));
}

#endif
