/* replica: the setting INV_STORE=dqlite:HOST:PORT,... (the rest of the
 * module runs against real store nodes: tests/netns/test_replicated.sh). */
#include "replica.h"

#include <criterion/criterion.h>
#include <string.h>

static int
parse(const char *s, char out[][64], size_t *n)
{
    char why[200];
    return replica_parse_store(s, out, 4, n, why, sizeof why);
}

Test(replica, a_store_names_its_nodes)
{
    char nodes[4][64];
    size_t n;
    cr_assert_eq(parse("dqlite:10.0.0.1:9001,10.0.0.2:9001,h3:1", nodes, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(nodes[0], "10.0.0.1:9001");
    cr_assert_str_eq(nodes[2], "h3:1");
    cr_assert_eq(parse("dqlite:h:1,", nodes, &n), 0, "a trailing comma is harmless");
    cr_assert_eq(n, 1);
}

Test(replica, bad_stores_are_refused)
{
    static const char *bad[] = {
        "", "events.db", "dqlite:", "dqlite:host", "dqlite::1", "dqlite:h:", "dqlite:h:1,,h:2",
        "dqlite:a:1,b:1,c:1,d:1,e:1", /* more than the 4 this caller has room for */
        "dqlite:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
    };
    char nodes[4][64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], nodes, &n), -1, "%s", bad[i]);
    cr_assert_eq(parse(NULL, nodes, &n), -1);
}
