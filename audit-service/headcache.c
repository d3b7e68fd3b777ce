/* headcache: see headcache.h. */
#include "headcache.h"

#include "strtable.h"

#include <stdlib.h>

struct headcache {
    strtable_t *t;             /* headcache_entry_t by stream, dirty ones pinned */
    headcache_entry_t **dirty; /* the dirty entries, each once */
    size_t n_dirty;
};

headcache_t *
headcache_new(size_t sets)
{
    headcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = strtable_new(&(strtable_opts_t){STRTABLE_ENTRY(headcache_entry_t, stream),
                                           .capacity = (sets ? sets : 1) * HEADCACHE_WAYS,
                                           .ways = HEADCACHE_WAYS});
    c->dirty = c->t ? calloc(strtable_capacity(c->t), sizeof *c->dirty) : NULL;
    if (!c->dirty)
        headcache_destroy(&c);
    return c;
}

void
headcache_destroy(headcache_t **cp)
{
    if (!cp || !*cp)
        return;
    strtable_destroy(&(*cp)->t);
    free((*cp)->dirty);
    free(*cp);
    *cp = NULL;
}

headcache_entry_t *
headcache_find(headcache_t *c, const char *stream)
{
    headcache_entry_t *e = strtable_get(c->t, stream);
    return e && e->valid ? e : NULL;
}

headcache_entry_t *
headcache_add(headcache_t *c, const char *stream)
{
    bool added;
    return strtable_put(c->t, stream, &added);
}

void
headcache_mark_dirty(headcache_t *c, headcache_entry_t *e)
{
    if (e->dirty)
        return;
    e->dirty = true;
    strtable_pin(c->t, e, true);
    c->dirty[c->n_dirty++] = e; /* at most every entry once */
}

headcache_entry_t *const *
headcache_dirty(const headcache_t *c, size_t *n)
{
    *n = c->n_dirty;
    return c->dirty;
}

void
headcache_clean(headcache_t *c)
{
    for (size_t i = 0; i < c->n_dirty; i++) {
        c->dirty[i]->dirty = false;
        strtable_pin(c->t, c->dirty[i], false);
    }
    c->n_dirty = 0;
}

void
headcache_clear(headcache_t *c)
{
    strtable_clear(c->t);
    c->n_dirty = 0;
}
