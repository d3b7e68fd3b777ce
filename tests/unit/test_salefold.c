/* test_salefold: the projector's per-product fold of a batch's sales. */
#include "salefold.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

Test(salefold, an_entry_is_found_again_and_starts_zeroed)
{
    salefold_t *f = salefold_new(8);
    cr_assert_not_null(f);
    cr_assert_null(salefold_get(f, "p1", false));
    salefold_entry_t *e = salefold_get(f, "p1", true);
    cr_assert_not_null(e);
    cr_assert_str_eq(e->product_id, "p1");
    cr_assert(!e->known && !e->pending && e->units == 0 && e->version == 0);
    e->units = 7;
    cr_assert_eq(salefold_get(f, "p1", false), e);
    cr_assert_eq(salefold_get(f, "p1", true), e);
    cr_assert_eq(salefold_count(f), 1);
    salefold_destroy(&f);
    cr_assert_null(f);
}

Test(salefold, entries_come_back_in_insertion_order)
{
    salefold_t *f = salefold_new(100);
    char id[16];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "p%d", 99 - i);
        cr_assert_not_null(salefold_get(f, id, true));
    }
    cr_assert_eq(salefold_count(f), 100);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "p%d", 99 - i);
        cr_assert_str_eq(salefold_at(f, (size_t)i)->product_id, id);
        cr_assert_eq(salefold_get(f, id, false), salefold_at(f, (size_t)i));
    }
    cr_assert_null(salefold_at(f, 100));
    salefold_destroy(&f);
}

Test(salefold, a_full_table_refuses_new_ids_until_cleared)
{
    salefold_t *f = salefold_new(3);
    cr_assert_not_null(salefold_get(f, "a", true));
    cr_assert_not_null(salefold_get(f, "b", true));
    cr_assert_not_null(salefold_get(f, "c", true));
    cr_assert_null(salefold_get(f, "d", true));
    cr_assert_not_null(salefold_get(f, "b", true), "a held id is still found");
    salefold_clear(f);
    cr_assert_eq(salefold_count(f), 0);
    cr_assert_null(salefold_get(f, "a", false));
    salefold_entry_t *d = salefold_get(f, "d", true);
    cr_assert_not_null(d);
    cr_assert_eq(d->units, 0);
    salefold_destroy(&f);
}

Test(salefold, ids_longer_than_id_max_are_refused)
{
    salefold_t *f = salefold_new(4);
    char id[ID_MAX + 2];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    cr_assert_null(salefold_get(f, id, true));
    id[ID_MAX] = '\0';
    cr_assert_not_null(salefold_get(f, id, true));
    cr_assert_null(salefold_new(0));
    salefold_destroy(&f);
}
