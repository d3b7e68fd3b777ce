/* aggcache: see aggcache.h.  Direct-mapped by FNV-1a of the stream name: a
 * collision evicts, and a miss only costs a replay from the store. */
#include "aggcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct aggcache {
    size_t mask;
    aggregate_t *slots;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

aggcache_t *
aggcache_new(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    aggcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(n, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void
aggcache_destroy(aggcache_t **cp)
{
    if (!cp || !*cp)
        return;
    free((*cp)->slots);
    free(*cp);
    *cp = NULL;
}

aggregate_t *
aggcache_get(aggcache_t *c, const char *stream)
{
    aggregate_t *a = &c->slots[fnv1a(stream) & c->mask];
    return (a->valid && strcmp(a->stream, stream) == 0) ? a : NULL;
}

aggregate_t *
aggcache_slot(aggcache_t *c, const char *stream)
{
    aggregate_t *a = &c->slots[fnv1a(stream) & c->mask];
    a->valid = false;
    strncpy(a->stream, stream, sizeof a->stream - 1);
    a->stream[sizeof a->stream - 1] = '\0';
    return a;
}

void
aggcache_clear(aggcache_t *c)
{
    for (size_t i = 0; i <= c->mask; i++)
        c->slots[i].valid = false;
}
