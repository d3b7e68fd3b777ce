/* headcache: see headcache.h. */
#include "headcache.h"

#include "strcopy.h"
#include "strhash.h"

#include <stdlib.h>
#include <string.h>

struct headcache {
    headcache_entry_t *entries; /* sets x HEADCACHE_WAYS */
    size_t sets;                /* a power of two */
    uint64_t tick;              /* use clock for the LRU choice */
    headcache_entry_t **dirty;  /* the dirty entries, each once */
    size_t n_dirty;
};

headcache_t *
headcache_new(size_t sets)
{
    size_t n = 1;
    while (n < sets)
        n <<= 1;
    headcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sets = n;
    c->entries = calloc(n * HEADCACHE_WAYS, sizeof *c->entries);
    c->dirty = calloc(n * HEADCACHE_WAYS, sizeof *c->dirty);
    if (!c->entries || !c->dirty) {
        headcache_free(&c);
        return NULL;
    }
    return c;
}

void
headcache_free(headcache_t **cp)
{
    if (!cp || !*cp)
        return;
    free((*cp)->entries);
    free((*cp)->dirty);
    free(*cp);
    *cp = NULL;
}

static headcache_entry_t *
headcache_set(headcache_t *c, uint64_t hash)
{
    return &c->entries[(hash & (c->sets - 1)) * HEADCACHE_WAYS];
}

headcache_entry_t *
headcache_find(headcache_t *c, const char *stream)
{
    uint64_t hash = strhash(stream);
    headcache_entry_t *set = headcache_set(c, hash);
    for (int w = 0; w < HEADCACHE_WAYS; w++) {
        headcache_entry_t *e = &set[w];
        if (e->valid && e->hash == hash && strcmp(e->stream, stream) == 0) {
            e->used = ++c->tick;
            return e;
        }
    }
    return NULL;
}

headcache_entry_t *
headcache_add(headcache_t *c, const char *stream)
{
    uint64_t hash = strhash(stream);
    headcache_entry_t *set = headcache_set(c, hash), *victim = NULL;
    for (int w = 0; w < HEADCACHE_WAYS; w++) {
        headcache_entry_t *e = &set[w];
        if (!e->valid) {
            victim = e;
            break;
        }
        if (!e->dirty && (!victim || e->used < victim->used))
            victim = e;
    }
    if (!victim)
        return NULL;
    memset(victim, 0, sizeof *victim);
    strcopy(victim->stream, sizeof victim->stream, stream);
    victim->hash = hash;
    victim->used = ++c->tick;
    return victim;
}

void
headcache_mark_dirty(headcache_t *c, headcache_entry_t *e)
{
    if (e->dirty)
        return;
    e->dirty = true;
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
    for (size_t i = 0; i < c->n_dirty; i++)
        c->dirty[i]->dirty = false;
    c->n_dirty = 0;
}

void
headcache_clear(headcache_t *c)
{
    memset(c->entries, 0, c->sets * HEADCACHE_WAYS * sizeof *c->entries);
    c->n_dirty = 0;
}
