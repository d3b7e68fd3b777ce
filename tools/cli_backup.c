/* cli_backup: see cli_backup.h. */
#include "cli_backup.h"
#include "cli_report.h"

#include "fsyncpath.h"
#include "sqlitedb.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies src into the new file tmp in one step (one read transaction on
 * src).  SQLITE_OK, or the error with *why set. */
static int
backup_copy(const char *src, const char *tmp, const char **why)
{
    sqlite3 *from = NULL, *to = NULL;
    int rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(from, 5000);
        sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
        if (!b) {
            rc = sqlite3_errcode(to);
        } else {
            rc = sqlite3_backup_step(b, -1);
            int fin = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? fin : rc;
        }
    }
    *why = sqlite3_errstr(rc);
    sqlite3_close(from);
    sqlite3_close(to);
    return rc;
}

/* The copy's quick_check (0 when ok, why set otherwise), and the event
 * store's head if it is one (-1 otherwise). */
static int
backup_verify(const char *path, int64_t *head, char *why, size_t cap)
{
    *head = -1;
    if (sqlitedb_quick_check(path, why, cap) != 0)
        return -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlitedb_open_readonly(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT coalesce(max(position), 0) FROM events", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *head = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

/* Removes the empty -wal and the -shm that the read-only check left
 * beside path (a -wal with frames in it stays). */
static void
backup_tidy(const char *path)
{
    char f[4200];
    struct stat sb;
    snprintf(f, sizeof f, "%s-wal", path);
    if (stat(f, &sb) == 0 && sb.st_size > 0)
        return;
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", path);
    unlink(f);
}

static void
backup_remove(const char *tmp)
{
    const char *suffixes[] = {"", "-journal", "-wal", "-shm"};
    char f[4200];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(f, sizeof f, "%s%s", tmp, suffixes[i]);
        unlink(f);
    }
}

int
cli_backup_run(void *zctx, const cli_opts_t *opts)
{
    (void)zctx;
    if (opts->argc != 3) {
        return cli_report(opts->json, 1, "usage", "usage: invctl backup DB FILE");
    }
    const char *src = opts->argv[1], *dst = opts->argv[2];
    struct stat sb;
    if (stat(src, &sb) != 0) {
        return cli_report(opts->json, 1, "backup_failed", "backup: %s: %s", src, strerror(errno));
    }
    if (lstat(dst, &sb) == 0 || errno != ENOENT) {
        return cli_report(opts->json, 1, "backup_failed", "backup: %s exists; choose a new name",
                          dst);
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", dst) >= (int)sizeof tmp) {
        return cli_report(opts->json, 1, "backup_failed", "backup: %s: name too long", dst);
    }
    backup_remove(tmp); /* what an interrupted backup left */
    const char *why = NULL;
    char check[256];
    int64_t head = -1;
    if (backup_copy(src, tmp, &why) != SQLITE_OK) {
        backup_remove(tmp);
        return cli_report(opts->json, 1, "backup_failed", "backup of %s failed: %s", src, why);
    }
    if (backup_verify(tmp, &head, check, sizeof check) != 0) {
        backup_remove(tmp);
        return cli_report(opts->json, 1, "backup_failed", "the copy of %s does not check out: %s",
                          src, check);
    }
    backup_tidy(tmp);
    if (fsync_file(tmp) != 0 || rename(tmp, dst) != 0 || fsync_folder_of(dst) != 0) {
        backup_remove(tmp);
        return cli_report(opts->json, 1, "backup_failed", "backup: cannot put %s in place: %s", dst,
                          strerror(errno));
    }
    if (head >= 0)
        printf("backed up %s to %s: events 1..%lld\n", src, dst, (long long)head);
    else
        printf("backed up %s to %s\n", src, dst);
    return 0;
}
