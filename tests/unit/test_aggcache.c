/* The aggregate cache: hits return the entry that was filled, it never holds
 * more than its capacity, a full set evicts its least recently used entry
 * (not a hot one), and clear forgets everything. */
#include "aggcache.h"

#include <criterion/criterion.h>
#include <stdio.h>

static aggregate_t *
fill(aggcache_t *c, const char *stream, int64_t version)
{
    aggregate_t *a = aggcache_slot(c, stream);
    a->kind = AGG_PRODUCT;
    product_init(&a->u.product);
    a->u.product.version = version;
    a->valid = true;
    return a;
}

static void
name(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "product-p%d", i);
}

Test(aggcache, a_filled_entry_is_found_with_its_state)
{
    aggcache_t *c = aggcache_new(64);
    cr_assert_null(aggcache_get(c, "product-a"));
    fill(c, "product-a", 7);
    aggregate_t *a = aggcache_get(c, "product-a");
    cr_assert_not_null(a);
    cr_assert_eq(aggcache_version(a), 7);
    cr_assert_null(aggcache_get(c, "product-b"));
    aggcache_destroy(&c);
    cr_assert_null(c);
}

Test(aggcache, never_holds_more_than_its_capacity)
{
    aggcache_t *c = aggcache_new(64);
    char s[32];
    for (int i = 0; i < 1000; i++) {
        name(s, sizeof s, i);
        fill(c, s, i + 1);
    }
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        name(s, sizeof s, i);
        aggregate_t *a = aggcache_get(c, s);
        if (a) {
            cr_assert_eq(aggcache_version(a), i + 1, "entry %s holds another stream's state", s);
            found++;
        }
    }
    cr_assert_leq(found, 64);
    cr_assert_geq(found, 16, "a cache of 64 kept only %d of the last entries", found);
    aggcache_destroy(&c);
}

/* A cache of 16 slots is one set of 16 ways: once it is full, every new
 * stream evicts one, and the one used just before must survive. */
Test(aggcache, a_full_set_evicts_the_least_recently_used)
{
    aggcache_t *c = aggcache_new(16); /* one set of sixteen */
    char s[32];
    for (int i = 0; i < 16; i++) {
        name(s, sizeof s, i);
        fill(c, s, i + 1);
    }
    for (int round = 0; round < 40; round++) {
        cr_assert_not_null(aggcache_get(c, "product-p0"), "round %d: the hot entry was evicted",
                           round);
        name(s, sizeof s, 100 + round);
        fill(c, s, 1);
    }
    int kept = 0;
    for (int i = 0; i < 16; i++) {
        name(s, sizeof s, i);
        kept += aggcache_get(c, s) != NULL;
    }
    cr_assert_eq(kept, 1, "only the hot one of the first 16 should be left, %d are", kept);
    aggcache_destroy(&c);
}

Test(aggcache, clear_forgets_every_entry)
{
    aggcache_t *c = aggcache_new(16);
    fill(c, "product-a", 1);
    fill(c, "supplier-s", 2);
    aggcache_clear(c);
    cr_assert_null(aggcache_get(c, "product-a"));
    cr_assert_null(aggcache_get(c, "supplier-s"));
    aggcache_destroy(&c);
}
