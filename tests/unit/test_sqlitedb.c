/* Unit tests of common/files/sqlitedb: a read-write connection that creates its
 * file, and a failure that leaves nothing to close. */
#include "scratch.h"
#include "sqlitedb.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Test(sqlitedb, open_creates_a_writable_file)
{
    char dir[64];
    char path[128];
    scratch_make_file(dir, sizeof dir, "sqlitedb", "t.db", path, sizeof path);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlitedb_open(path, &db), SQLITE_OK);
    cr_assert_not_null(db);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_db_readonly(db, "main"), 0);
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
    cr_assert_eq(access(path, F_OK), 0);
    unlink(path);
    rmdir(dir);
}

Test(sqlitedb, failure_leaves_no_handle)
{
    sqlite3 *db = NULL;
    cr_assert_neq(sqlitedb_open("/nonexistent-inv-folder/t.db", &db), SQLITE_OK);
    cr_assert_null(db);
}
