/* test_dqlite: three real store-node processes (libdqlite) on 127.0.0.1,
 * driven through the store's dqlite client: node 1 bootstraps, nodes 2
 * and 3 join one at a time as voters, rows written with parameters are
 * read back (over more than one page), the cluster lists three voters,
 * and after kill -9 of the leader the client finds the new one, where
 * every acknowledged row still is.  The nodes are --insecure: plain TCP
 * (test_dqlite_secure runs them through the CURVE tunnel). */
#include "dqclient.h"
#include "scratch.h"
#include "storenodes.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char dir[256];
static storenodes_t nodes;

static void
setup(void)
{
    static const char *const flags[] = {"--log-level", "warn", "--insecure", NULL};
    scratch_make(dir, sizeof dir, "dqlite");
    storenodes_init(&nodes, dir, flags, false);
}

static void
teardown(void)
{
    storenodes_fini(&nodes);
    scratch_remove(dir);
}

TestSuite(dqlite, .init = setup, .fini = teardown, .timeout = 120);

typedef struct {
    int64_t rows;
    int64_t sum;
    int bad;
} tally_t;

static void
tally_row(void *arg, const dqvalue_t *row, size_t ncols)
{
    tally_t *t = arg;
    t->rows++;
    if (ncols != 3 || row[0].type != DQ_INTEGER || row[1].type != DQ_TEXT)
        t->bad++;
    else
        t->sum += row[0].i;
}

static tally_t
read_all(dqclient_t *c)
{
    tally_t t = {.rows = 0};
    int rc = dqclient_query(c, "SELECT id, name, note FROM items WHERE id > ? ORDER BY id",
                            (dqvalue_t[]){dq_int(0)}, 1, tally_row, &t);
    cr_assert_eq(rc, DQ_OK, "query: %s", dqclient_errmsg(c));
    cr_assert_eq(t.bad, 0);
    cr_assert_gt(dqclient_pages(c), 1, "the rows came in one page");
    return t;
}

/* 200 rows one by one through a prepared statement, then 3000 in one
 * statement; returns the rows acknowledged. */
static int64_t
write_rows(dqclient_t *c)
{
    cr_assert_eq(dqclient_exec(c,
                               "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                               "note BLOB)",
                               NULL, 0, NULL, NULL),
                 DQ_OK, "create: %s", dqclient_errmsg(c));
    uint32_t st;
    cr_assert_eq(dqclient_prepare(c, "INSERT INTO items (id, name, note) VALUES (?, ?, ?)", &st),
                 DQ_OK, "%s", dqclient_errmsg(c));
    for (int64_t i = 1; i <= 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "item-%lld", (long long)i);
        dqvalue_t p[] = {dq_int(i), dq_text(name), i % 2 ? dq_null() : dq_blob("\0\1\2", 3)};
        int64_t last;
        uint64_t changes;
        cr_assert_eq(dqclient_exec_stmt(c, st, p, 3, &last, &changes), DQ_OK, "%s",
                     dqclient_errmsg(c));
        cr_assert(last == i && changes == 1);
    }
    cr_assert_eq(dqclient_finalize(c, st), DQ_OK);
    uint64_t changes;
    cr_assert_eq(dqclient_exec(c,
                               "WITH RECURSIVE n(x) AS (SELECT 201 UNION ALL SELECT x + 1 FROM n "
                               "WHERE x < ?) INSERT INTO items SELECT x, 'bulk-item-' || x, "
                               "NULL FROM n",
                               (dqvalue_t[]){dq_int(3200)}, 1, NULL, &changes),
                 DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_eq(changes, 3000);
    return 3200;
}

static void
check_voters(dqclient_t *c)
{
    dqnode_t members[8];
    size_t n;
    cr_assert_eq(dqclient_cluster(c, members, 8, &n), DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert_eq(n, STORENODES_N);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(members[i].role, DQ_VOTER, "node %llu", (unsigned long long)members[i].id);
}

Test(dqlite, three_voters_rows_and_failover)
{
    dqclient_t *c = storenodes_client(&nodes, NULL, NULL);
    cr_assert_str_eq(dqclient_leader(c), nodes.addrs[0]);
    for (int i = 1; i < STORENODES_N; i++)
        cr_assert_eq(dqclient_join(c, (uint64_t)i + 1, nodes.addrs[i]), DQ_OK, "join %d: %s", i + 1,
                     dqclient_errmsg(c));
    check_voters(c);
    cr_assert_eq(dqclient_open(c, "inv"), DQ_OK, "open: %s", dqclient_errmsg(c));
    int64_t acked = write_rows(c);
    tally_t t = read_all(c);
    cr_assert_eq(t.rows, acked);
    cr_assert_eq(t.sum, acked * (acked + 1) / 2);
    /* a tuple of more than 8 parameters (two words of type bytes) */
    tally_t w = {.rows = 0};
    dqvalue_t nine[9];
    for (int i = 0; i < 9; i++)
        nine[i] = dq_int(i + 1);
    cr_assert_eq(
        dqclient_query(c, "SELECT ?1+?2+?3+?4+?5+?6+?7+?8+?9, 'x', NULL", nine, 9, tally_row, &w),
        DQ_OK, "%s", dqclient_errmsg(c));
    cr_assert(w.rows == 1 && w.sum == 45 && w.bad == 0);
    /* a server's refusal is a FAILURE with its message, and the connection stays */
    cr_assert_eq(dqclient_exec(c, "INSERT INTO nowhere VALUES (1)", NULL, 0, NULL, NULL),
                 DQ_EFAILURE);
    cr_assert(strstr(dqclient_errmsg(c), "no such table"), "%s", dqclient_errmsg(c));

    int old = storenodes_index(&nodes, dqclient_leader(c));
    cr_assert_geq(old, 0);
    storenodes_stop(&nodes, old, SIGKILL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = dqclient_connect(c, 30000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(rc, DQ_OK, "reconnect: %s", dqclient_errmsg(c));
    cr_log_info("failover: new leader %s after %.0f ms", dqclient_leader(c),
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    cr_assert_neq(storenodes_index(&nodes, dqclient_leader(c)), old);
    t = read_all(c);
    cr_assert_eq(t.rows, acked);
    cr_assert_eq(t.sum, acked * (acked + 1) / 2);
    dqclient_destroy(&c);
    cr_assert_null(c);
}
