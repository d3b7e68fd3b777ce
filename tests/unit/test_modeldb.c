/* Unit tests of common/models/modeldb: a subscriber's database checkpoints its WAL
 * in small bursts (docs/decisions.md, item 25), so the WAL file, which
 * SQLite reuses from its start after each complete checkpoint, never grows
 * much past the threshold. */
#include "modeldb.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static long long
file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

Test(modeldb, checkpoints_keep_the_wal_small)
{
    char dir[64], path[128], wal[136];
    scratch_make_file(dir, sizeof dir, "modeldb", "m.db", path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    sqlite3 *db = NULL;
    cr_assert_eq(modeldb_open(path, "CREATE TABLE t(x BLOB);", &db), SQLITE_OK);
    sqlite3_stmt *ps;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &ps, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(ps), SQLITE_ROW);
    long long frame = sqlite3_column_int64(ps, 0) + 24; /* a WAL frame: header + page */
    sqlite3_finalize(ps);
    sqlite3_stmt *ins;
    /* three quarters of a page: one page per row whatever the page size */
    char sql[64];
    snprintf(sql, sizeof sql, "INSERT INTO t VALUES (zeroblob(%lld))", (frame - 24) * 3 / 4);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &ins, NULL), SQLITE_OK);
    /* 2,000 commits of a page each (and the checkpoint row) through the
     * WAL, which stays near the 256-page threshold. */
    long long largest = 0;
    for (int i = 1; i <= 2000; i++) {
        cr_assert_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        cr_assert_eq(modeldb_checkpoint_set(db, NULL, i, ""), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        long long size = file_size(wal);
        if (size > largest)
            largest = size;
    }
    cr_expect_gt(largest, 0, "WAL mode: the commits went through %s", wal);
    cr_expect_leq(largest, 32 + 300 * frame, "WAL grew to %lld bytes (%lld frames)", largest,
                  (largest - 32) / frame);
    int64_t position = 0;
    cr_assert_eq(modeldb_checkpoint_get(db, &position), SQLITE_OK);
    cr_expect_eq(position, 2000);
    sqlite3_finalize(ins);
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
    modeldb_remove(path);
    rmdir(dir);
}

static bool
marked(const char *path)
{
    char mark[160];
    snprintf(mark, sizeof mark, "%s-unsynced", path);
    return access(mark, F_OK) == 0;
}

/* Only the connection that writes a model without fsyncs owns its marker:
 * a connection opened with NORMAL (a dump, a second reader) closing first
 * leaves it; the owner's clean close removes it. */
Test(modeldb, only_the_unsynced_writer_removes_the_marker)
{
    char dir[64], path[128];
    scratch_make_file(dir, sizeof dir, "modeldb", "m.db", path, sizeof path);
    sqlite3 *writer = NULL, *other = NULL;
    cr_assert_eq(modeldb_open(path, "CREATE TABLE t(x);", &writer), SQLITE_OK);
    cr_assert(!marked(path), "a model opens with its fsyncs");
    cr_assert_eq(modeldb_set_sync(writer, MODELDB_SYNC_OFF), SQLITE_OK);
    cr_assert(marked(path), "an unsynced model is marked");
    cr_assert_eq(sqlite3_exec(writer, "INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);

    cr_assert_eq(modeldb_open(path, NULL, &other), SQLITE_OK);
    cr_assert_eq(modeldb_set_sync(other, MODELDB_SYNC_NORMAL), SQLITE_OK);
    cr_assert_eq(modeldb_close(&other), 0);
    cr_assert_null(other);
    cr_assert(marked(path), "a connection with fsyncs left the writer's marker alone");

    cr_assert_eq(modeldb_close(&writer), 0);
    cr_assert(!marked(path), "the writer's clean close removed its marker");
    modeldb_remove(path);
    rmdir(dir);
}

Test(modeldb, the_checkpoint_event_is_kept_and_added_to_older_models)
{
    char dir[64], path[128];
    scratch_make_file(dir, sizeof dir, "modeldb", "m.db", path, sizeof path);
    /* a model written before the column: the checkpoint row without it */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE checkpoint(id INTEGER PRIMARY KEY CHECK (id = 1),"
                              " position INTEGER NOT NULL);"
                              "INSERT INTO checkpoint VALUES (1, 42);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    db = NULL;
    cr_assert_eq(modeldb_open(path, NULL, &db), SQLITE_OK);
    char id[64];
    int64_t position = 0;
    cr_assert_eq(modeldb_checkpoint_get(db, &position), SQLITE_OK);
    cr_assert_eq(position, 42);
    cr_assert_eq(modeldb_checkpoint_event_get(db, id, sizeof id), SQLITE_OK);
    cr_assert_str_eq(id, "", "an older model has no checkpoint event yet");
    /* set with the checkpoint in one transaction; a rollback takes it back */
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(modeldb_begin(db), SQLITE_OK);
        cr_assert_eq(modeldb_checkpoint_set(db, NULL, 43 + round, round ? "e-rolled-back" : "e-43"),
                     SQLITE_OK);
        if (round)
            modeldb_rollback(db);
        else
            cr_assert_eq(modeldb_commit(db), SQLITE_OK);
    }
    cr_assert_eq(modeldb_close(&db), 0);
    cr_assert_eq(modeldb_open(path, NULL, &db), SQLITE_OK);
    cr_assert_eq(modeldb_checkpoint_get(db, &position), SQLITE_OK);
    cr_assert_eq(position, 43);
    cr_assert_eq(modeldb_checkpoint_event_get(db, id, sizeof id), SQLITE_OK);
    cr_assert_str_eq(id, "e-43");
    cr_assert_eq(modeldb_close(&db), 0);
    modeldb_remove(path);
    rmdir(dir);
}

Test(modeldb, the_sync_setting_is_off_or_normal)
{
    modeldb_sync_t policy = MODELDB_SYNC_OFF;
    cr_assert_eq(modeldb_parse_sync("normal", &policy), 0);
    cr_assert_eq(policy, MODELDB_SYNC_NORMAL);
    cr_assert_eq(modeldb_parse_sync("off", &policy), 0);
    cr_assert_eq(policy, MODELDB_SYNC_OFF);
    cr_assert_eq(modeldb_parse_sync("sometimes", &policy), -1);
    cr_assert_eq(policy, MODELDB_SYNC_OFF, "unchanged");
}

/* A bulk build never fsyncs before it is adopted: the policy leaves it
 * alone, so no marker is left beside its temporary name. */
Test(modeldb, a_bulk_build_keeps_no_marker)
{
    char dir[64], path[128];
    scratch_make_file(dir, sizeof dir, "modeldb", "m.db.building", path, sizeof path);
    sqlite3 *db = NULL;
    cr_assert_eq(modeldb_open_bulk(path, "CREATE TABLE t(x);", &db), SQLITE_OK);
    cr_assert_eq(modeldb_set_sync(db, MODELDB_SYNC_OFF), SQLITE_OK);
    cr_assert(!marked(path));
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
    modeldb_remove(path);
    rmdir(dir);
}

/* Overwrites the first bytes of page 3 of path (4096-byte pages): table t,
 * after the checkpoint table. */
static void
damage_page_3(const char *path)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 2 * 4096, SEEK_SET), 0);
    for (int i = 0; i < 64; i++)
        fputc(0xEE, f);
    fclose(f);
}

/* A rollback clears sqlite3_errcode; the connection that reported damage
 * still says so, and only that connection. */
Test(modeldb, a_damage_report_outlives_the_rollback_on_its_connection_only)
{
    char dir[64], path[128];
    scratch_make_file(dir, sizeof dir, "modeldb", "m.db", path, sizeof path);
    sqlite3 *db = NULL, *other = NULL;
    cr_assert_eq(modeldb_open(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", &db),
                 SQLITE_OK);
    cr_assert_eq(modeldb_close(&db), 0);
    damage_page_3(path);
    cr_assert_eq(modeldb_open(path, NULL, &db), SQLITE_OK);
    cr_assert_eq(modeldb_open(path, NULL, &other), SQLITE_OK);
    cr_assert_eq(modeldb_begin(other), SQLITE_OK);
    modeldb_rollback(other);
    cr_assert_not(modeldb_damaged(other));
    cr_assert_eq(modeldb_begin(db), SQLITE_OK);
    cr_assert_neq(sqlite3_exec(db, "UPDATE t SET x = 2", NULL, NULL, NULL), SQLITE_OK);
    cr_assert(modeldb_damaged(db), "%s", sqlite3_errmsg(db));
    modeldb_rollback(db);
    cr_assert_eq(sqlite3_errcode(db), SQLITE_OK, "the rollback cleared the code");
    cr_assert(modeldb_damaged(db), "remembered across the rollback");
    cr_assert_not(modeldb_damaged(other), "another connection is not marked");
    cr_assert_not(modeldb_damaged(NULL));
    sqlite3_close(db);
    sqlite3_close(other);
    modeldb_remove(path);
    rmdir(dir);
}
