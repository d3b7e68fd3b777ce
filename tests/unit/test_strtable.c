/* test_strtable: the one string-keyed table.  A cache finds what it holds,
 * evicts the least recently used unpinned entry of a full set, never holds
 * another key's entry under a key; a map keeps insertion order, is full at
 * its capacity unless it grows, and keeps every entry (and its index)
 * through growth; keys that collide in a set or a probe are told apart. */
#include "strtable.h"

#include "strhash.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int value;
    char key[16];
} item_t;

/* A table of item_t: a cache of `ways`-way sets (ways > 0), or a map that
 * grows or not. */
static strtable_t *
table_new(size_t capacity, unsigned ways, bool grow)
{
    strtable_t *t = strtable_new(&(strtable_opts_t){
        STRTABLE_ENTRY(item_t, key), .capacity = capacity, .ways = ways, .grow = grow});
    cr_assert_not_null(t);
    return t;
}

static item_t *
put(strtable_t *t, const char *key, int value)
{
    bool added;
    item_t *e = strtable_put(t, key, &added);
    cr_assert_not_null(e, "%s", key);
    cr_assert(added, "%s was already there", key);
    cr_assert_str_eq(e->key, key);
    cr_assert_eq(e->value, 0, "a new entry starts zeroed");
    e->value = value;
    return e;
}

/* Puts p0..p<n-1>, pi with the value i + base. */
static void
put_keys(strtable_t *t, int n, int base)
{
    char key[16];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "p%d", i);
        put(t, key, i + base);
    }
}

Test(strtable, a_put_entry_is_found_again)
{
    strtable_t *tables[] = {table_new(64, 4, false), table_new(8, 0, false)};
    for (int k = 0; k < 2; k++) {
        strtable_t *t = tables[k];
        cr_assert_null(strtable_get(t, "a"));
        item_t *e = put(t, "a", 7);
        cr_assert_eq(strtable_get(t, "a"), e);
        bool added = true;
        cr_assert_eq(strtable_put(t, "a", &added), e);
        cr_assert_not(added);
        cr_assert_eq(e->value, 7, "putting a held key keeps its entry");
        cr_assert_null(strtable_get(t, "b"));
        cr_assert_eq(strtable_count(t), 1);
        strtable_destroy(&tables[k]);
        cr_assert_null(tables[k]);
        strtable_destroy(&tables[k]); /* NULL-safe */
    }
}

Test(strtable, a_key_too_long_for_the_entry_is_refused)
{
    strtable_t *t = table_new(8, 0, false);
    bool added;
    cr_assert_null(strtable_put(t, "0123456789abcdef", &added)); /* 16 bytes: no room for NUL */
    cr_assert_not_null(strtable_put(t, "0123456789abcde", &added));
    strtable_destroy(&t);
}

Test(strtable, a_full_set_evicts_its_least_recently_used_entry)
{
    strtable_t *t = table_new(4, 4, false); /* one set of four */
    cr_assert_eq(strtable_capacity(t), 4);
    put(t, "a", 1);
    put(t, "b", 2);
    put(t, "c", 3);
    put(t, "d", 4);
    cr_assert_not_null(strtable_get(t, "a")); /* b is now the oldest */
    put(t, "e", 5);
    cr_assert_null(strtable_get(t, "b"));
    cr_assert_eq(((item_t *)strtable_get(t, "a"))->value, 1);
    put(t, "f", 6); /* c is the oldest now */
    cr_assert_null(strtable_get(t, "c"));
    cr_assert_not_null(strtable_get(t, "d"));
    cr_assert_not_null(strtable_get(t, "e"));
    cr_assert_eq(strtable_count(t), 4);
    strtable_destroy(&t);
}

Test(strtable, a_removed_entry_frees_its_slot_first)
{
    strtable_t *t = table_new(4, 4, false);
    put(t, "a", 1);
    item_t *b = put(t, "b", 2);
    put(t, "c", 3);
    put(t, "d", 4);
    strtable_remove(t, b);
    cr_assert_null(strtable_get(t, "b"));
    cr_assert_eq(strtable_count(t), 3);
    cr_assert_eq(put(t, "e", 5), b, "the empty slot is taken before any eviction");
    cr_assert_not_null(strtable_get(t, "a"));
    strtable_destroy(&t);
}

Test(strtable, a_pinned_entry_is_never_evicted)
{
    strtable_t *t = table_new(2, 2, false);
    item_t *a = put(t, "a", 1), *b = put(t, "b", 2);
    strtable_pin(t, a, true);
    strtable_pin(t, b, true);
    bool added;
    cr_assert_null(strtable_put(t, "c", &added), "every entry of the set is pinned");
    strtable_pin(t, a, false);
    put(t, "c", 3);
    cr_assert_null(strtable_get(t, "a"));
    cr_assert_not_null(strtable_get(t, "b"));
    strtable_destroy(&t);
}

Test(strtable, a_cache_never_holds_more_than_its_capacity_nor_a_wrong_entry)
{
    strtable_t *t = table_new(64, 16, false);
    put_keys(t, 1000, 1);
    char key[16];
    int held = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "p%d", i);
        item_t *e = strtable_get(t, key);
        if (e) {
            cr_assert_eq(e->value, i + 1, "%s holds another key's entry", key);
            held++;
        }
    }
    cr_assert_leq(held, 64);
    cr_assert_eq(strtable_count(t), (size_t)held);
    strtable_clear(t);
    cr_assert_eq(strtable_count(t), 0);
    cr_assert_null(strtable_get(t, "p999"));
    strtable_destroy(&t);
}

/* Two keys of the same set (a cache) or the same first slot (a map). */
static void
colliding_keys(size_t mask, char a[16], char b[16])
{
    snprintf(a, 16, "k0");
    for (int i = 1;; i++) {
        snprintf(b, 16, "k%d", i);
        if ((strhash(a) & mask) == (strhash(b) & mask))
            return;
    }
}

Test(strtable, colliding_keys_are_told_apart)
{
    char a[16], b[16];
    colliding_keys(63, a, b);
    strtable_t *cache = table_new(64 * 2, 2, false),
               *map = table_new(32, 0, false); /* both: 64 sets/slots */
    strtable_t *tables[] = {cache, map};
    for (int k = 0; k < 2; k++) {
        put(tables[k], a, 1);
        put(tables[k], b, 2);
        cr_assert_eq(((item_t *)strtable_get(tables[k], a))->value, 1);
        cr_assert_eq(((item_t *)strtable_get(tables[k], b))->value, 2);
    }
    strtable_destroy(&cache);
    strtable_destroy(&map);
}

Test(strtable, a_map_keeps_insertion_order_and_is_full_at_its_capacity)
{
    strtable_t *t = table_new(100, 0, false);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "p%d", 99 - i);
        put(t, key, i);
    }
    bool added;
    cr_assert_null(strtable_put(t, "one-more", &added));
    cr_assert_not_null(strtable_put(t, "p5", &added), "a held key is still found when full");
    for (size_t i = 0; i < 100; i++) {
        item_t *e = strtable_at(t, i);
        snprintf(key, sizeof key, "p%zu", 99 - i);
        cr_assert_str_eq(e->key, key);
        cr_assert_eq(strtable_index(t, e), i);
    }
    cr_assert_null(strtable_at(t, 100));
    strtable_clear(t);
    cr_assert_eq(strtable_count(t), 0);
    cr_assert_null(strtable_get(t, "p5"));
    put(t, "p5", 1);
    strtable_destroy(&t);
}

Test(strtable, a_growing_map_keeps_every_entry_and_its_index)
{
    strtable_t *t = table_new(4, 0, true);
    put_keys(t, 5000, 0);
    char key[16];
    cr_assert_eq(strtable_count(t), 5000);
    cr_assert_geq(strtable_capacity(t), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "p%d", i);
        item_t *e = strtable_get(t, key);
        cr_assert_not_null(e, "%s", key);
        cr_assert_eq(e->value, i);
        cr_assert_eq(strtable_index(t, e), (size_t)i);
    }
    strtable_destroy(&t);
}
