/* salefold: see salefold.h.  Open addressing with linear probing over
 * twice as many slots as entries (so a probe ends at an empty slot soon),
 * keyed by strhash of the product id.  Entries are never removed one by
 * one, only all at once, so no tombstones are needed. */
#include "salefold.h"

#include "strhash.h"

#include <stdlib.h>
#include <string.h>

struct salefold {
    size_t cap;               /* entries at most */
    size_t mask;              /* slots - 1 (a power of two >= 2 * cap) */
    salefold_entry_t *entry;  /* cap entries, the first count in use */
    size_t count;
    uint32_t *slot;           /* per slot: entry index + 1, 0 empty */
};

salefold_t *
salefold_new(size_t cap)
{
    if (cap == 0 || cap > UINT32_MAX / 4)
        return NULL;
    size_t slots = 1;
    while (slots < 2 * cap)
        slots <<= 1;
    salefold_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->entry = calloc(cap, sizeof *f->entry);
    f->slot = calloc(slots, sizeof *f->slot);
    if (!f->entry || !f->slot) {
        salefold_destroy(&f);
        return NULL;
    }
    f->cap = cap;
    f->mask = slots - 1;
    return f;
}

void
salefold_destroy(salefold_t **fp)
{
    if (!fp || !*fp)
        return;
    free((*fp)->entry);
    free((*fp)->slot);
    free(*fp);
    *fp = NULL;
}

salefold_entry_t *
salefold_get(salefold_t *f, const char *product_id, bool create)
{
    size_t i = (size_t)strhash(product_id) & f->mask;
    for (; f->slot[i]; i = (i + 1) & f->mask) {
        salefold_entry_t *e = &f->entry[f->slot[i] - 1];
        if (strcmp(e->product_id, product_id) == 0)
            return e;
    }
    size_t len = strlen(product_id);
    if (!create || f->count == f->cap || len > ID_MAX)
        return NULL;
    salefold_entry_t *e = &f->entry[f->count];
    *e = (salefold_entry_t){0};
    memcpy(e->product_id, product_id, len + 1);
    f->slot[i] = (uint32_t)++f->count;
    return e;
}

size_t
salefold_count(const salefold_t *f)
{
    return f->count;
}

salefold_entry_t *
salefold_at(salefold_t *f, size_t i)
{
    return i < f->count ? &f->entry[i] : NULL;
}

void
salefold_clear(salefold_t *f)
{
    memset(f->slot, 0, (f->mask + 1) * sizeof *f->slot);
    f->count = 0;
}
