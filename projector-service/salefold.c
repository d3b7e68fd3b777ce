/* salefold: see salefold.h.  A strtable map: open addressing with linear
 * probing over at least twice as many slots as entries, entries in
 * insertion order, never removed one by one (no tombstones). */
#include "salefold.h"

#include "strtable.h"

#include <stdlib.h>

struct salefold {
    strtable_t *t; /* salefold_entry_t by product_id, at most cap */
};

salefold_t *
salefold_new(size_t cap)
{
    salefold_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->t = strtable_new(
        &(strtable_opts_t){STRTABLE_ENTRY(salefold_entry_t, product_id), .capacity = cap});
    if (!f->t)
        salefold_destroy(&f);
    return f;
}

void
salefold_destroy(salefold_t **fp)
{
    if (!fp || !*fp)
        return;
    strtable_destroy(&(*fp)->t);
    free(*fp);
    *fp = NULL;
}

salefold_entry_t *
salefold_get(salefold_t *f, const char *product_id, bool create)
{
    bool added;
    return create ? strtable_put(f->t, product_id, &added) : strtable_get(f->t, product_id);
}

size_t
salefold_count(const salefold_t *f)
{
    return strtable_count(f->t);
}

salefold_entry_t *
salefold_at(salefold_t *f, size_t i)
{
    return strtable_at(f->t, i);
}

void
salefold_clear(salefold_t *f)
{
    strtable_clear(f->t);
}
