/* storespec: INV_STORE's "dqlite:HOST:PORT,..." and invctl's bare
 * --store HOST:PORT,... parsed once; bad members named in the error. */
#include "storespec.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(storespec, dqlite_members_in_order)
{
    storespec_t s;
    char err[128];
    cr_assert_eq(
        storespec_parse("dqlite:10.0.0.1:9001,node-b:9002,[::1]:9003", false, &s, err, sizeof err),
        0, "%s", err);
    cr_assert_eq(s.kind, STORESPEC_DQLITE);
    cr_assert_eq(s.nseeds, 3);
    cr_assert_str_eq(s.seeds[0], "10.0.0.1:9001");
    cr_assert_str_eq(s.seeds[1], "node-b:9002");
    cr_assert_str_eq(s.seedv[2], "[::1]:9003");
}

Test(storespec, other_text_is_local_unless_bare)
{
    storespec_t s;
    char err[128];
    cr_assert_eq(storespec_parse("data/events.db", false, &s, err, sizeof err), 0);
    cr_assert_eq(s.kind, STORESPEC_LOCAL);
    cr_assert_eq(s.nseeds, 0);
    cr_assert_eq(storespec_parse("127.0.0.1:9001", true, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.kind, STORESPEC_DQLITE);
    cr_assert_eq(s.nseeds, 1);
    cr_assert_eq(storespec_parse("dqlite:127.0.0.1:9001", true, &s, err, sizeof err), 0);
    cr_assert_str_eq(s.seeds[0], "127.0.0.1:9001");
    cr_assert_neq(storespec_parse("data/events.db", true, &s, err, sizeof err), 0);
    cr_assert_eq(storespec_parse("dqlite:h:1,", false, &s, err, sizeof err), 0,
                 "a trailing comma is harmless");
    cr_assert_eq(s.nseeds, 1);
}

Test(storespec, bad_members_rejected)
{
    static const char *const bad[] = {
        "",
        "dqlite:",
        "dqlite:host",
        "dqlite:host:",
        "dqlite::9001",
        "dqlite:h:0",
        "dqlite:h:65536",
        "dqlite:h:90x1",
        "dqlite:a:1,,b:2",
        "dqlite:a:1,,",
        "dqlite:a b:1",
        "dqlite:a-very-long-host-name-that-goes-on-and-on-past-sixty-four-bytes.example:1",
    };
    storespec_t s;
    char err[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_neq(storespec_parse(bad[i], false, &s, err, sizeof err), 0, "'%s'", bad[i]);
        cr_assert_neq(err[0], '\0');
    }
    cr_assert_neq(storespec_parse(NULL, false, &s, err, sizeof err), 0);
}

Test(storespec, at_most_sixteen_members)
{
    char text[1024] = "dqlite:";
    for (int i = 0; i < DQCLIENT_SEEDS_MAX; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%sh%d:9001", i ? "," : "", i);
    storespec_t s;
    char err[128];
    cr_assert_eq(storespec_parse(text, false, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.nseeds, DQCLIENT_SEEDS_MAX);
    strcat(text, ",one-more:9001");
    cr_assert_neq(storespec_parse(text, false, &s, err, sizeof err), 0);
    cr_assert(strstr(err, "more than"), "%s", err);
}
