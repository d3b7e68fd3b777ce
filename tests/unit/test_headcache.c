/* The audit's head cache: a filled entry is found with its values, a full
 * set evicts its least recently used clean entry, never a dirty one (a set
 * of dirty entries has no room: NULL), the dirty list holds each changed
 * entry once until clean, and clear forgets everything. */
#include "headcache.h"

#include <criterion/criterion.h>
#include <stdio.h>

static headcache_entry_t *
fill(headcache_t *c, const char *stream, int64_t head)
{
    headcache_entry_t *e = headcache_add(c, stream);
    cr_assert_not_null(e, "%s", stream);
    e->head = head;
    e->rows = head * 2;
    e->sid = head + 100;
    e->valid = true;
    return e;
}

Test(headcache, a_filled_entry_is_found_with_its_values)
{
    headcache_t *c = headcache_new(64);
    cr_assert_null(headcache_find(c, "product-a"));
    headcache_entry_t *e = fill(c, "product-a", 7);
    cr_assert_eq(headcache_find(c, "product-a"), e, "the entry filled is the one found");
    cr_assert_str_eq(e->stream, "product-a");
    cr_assert_eq(e->head, 7);
    cr_assert_eq(e->rows, 14);
    cr_assert_eq(e->sid, 107);
    cr_assert_null(headcache_find(c, "product-b"));
    headcache_destroy(&c);
    cr_assert_null(c);
    headcache_destroy(&c); /* NULL-safe */
}

Test(headcache, a_full_set_evicts_its_least_recently_used_clean_entry)
{
    headcache_t *c = headcache_new(1); /* one set: every stream shares it */
    char name[32];
    for (int i = 0; i < HEADCACHE_WAYS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        fill(c, name, i + 1);
    }
    cr_assert_not_null(headcache_find(c, "s0")); /* s0 used: s1 is the oldest */
    fill(c, "new", 50);
    cr_assert_null(headcache_find(c, "s1"));
    cr_assert_not_null(headcache_find(c, "s0"));
    cr_assert_not_null(headcache_find(c, "new"));
    headcache_destroy(&c);
}

Test(headcache, dirty_entries_stay_until_clean)
{
    headcache_t *c = headcache_new(1);
    char name[32];
    for (int i = 0; i < HEADCACHE_WAYS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        headcache_entry_t *e = fill(c, name, i + 1);
        if (i > 0)
            headcache_mark_dirty(c, e);
    }
    headcache_mark_dirty(c, headcache_find(c, "s2")); /* twice: listed once */
    for (int i = 0; i < 10; i++)
        cr_assert_not_null(headcache_find(c, "s1")); /* s0, clean, is the only victim */
    fill(c, "n1", 60);
    cr_assert_null(headcache_find(c, "s0"));
    headcache_mark_dirty(c, headcache_find(c, "n1"));
    cr_assert_null(headcache_add(c, "n2"), "a set of dirty entries has no room");
    size_t n = 0;
    headcache_entry_t *const *dirty = headcache_dirty(c, &n);
    cr_assert_eq(n, HEADCACHE_WAYS);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += dirty[i]->head;
    cr_assert_eq(sum, 2 + 3 + 4 + 60);
    for (int i = 1; i < HEADCACHE_WAYS; i++) { /* still there, values kept */
        snprintf(name, sizeof name, "s%d", i);
        cr_assert_eq(headcache_find(c, name)->head, i + 1);
    }
    headcache_clean(c);
    headcache_dirty(c, &n);
    cr_assert_eq(n, 0);
    cr_assert_not_null(headcache_add(c, "n2"), "clean entries make room again");
    headcache_destroy(&c);
}

Test(headcache, clear_forgets_everything)
{
    headcache_t *c = headcache_new(16);
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "s%d", i);
        headcache_mark_dirty(c, fill(c, name, i + 1));
    }
    headcache_clear(c);
    size_t n = 1;
    headcache_dirty(c, &n);
    cr_assert_eq(n, 0);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "s%d", i);
        cr_assert_null(headcache_find(c, name));
    }
    headcache_destroy(&c);
}
