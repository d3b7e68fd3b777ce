/* aggcache: see aggcache.h.  Four-way set associative by FNV-1a of the
 * stream name with least-recently-used eviction inside a set: with a
 * direct-mapped cache two hot products that shared a slot evicted each
 * other on every command (a replay from the store each time). */
#include "aggcache.h"

#include "strhash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4 /* entries per set; a set evicts its least recently used */

struct aggcache {
    size_t set_mask;    /* sets - 1 (a power of two) */
    aggregate_t *slots; /* sets * WAYS, set i at slots[i * WAYS] */
    uint64_t *used;     /* per slot: tick of its last use, 0 never */
    uint64_t tick;
};

aggcache_t *
aggcache_new(size_t slots)
{
    size_t sets = 1;
    while (sets * WAYS < slots)
        sets <<= 1;
    aggcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(sets * WAYS, sizeof *c->slots);
    c->used = calloc(sets * WAYS, sizeof *c->used);
    if (!c->slots || !c->used) {
        free(c->slots);
        free(c->used);
        free(c);
        return NULL;
    }
    c->set_mask = sets - 1;
    return c;
}

void
aggcache_destroy(aggcache_t **cp)
{
    if (!cp || !*cp)
        return;
    free((*cp)->slots);
    free((*cp)->used);
    free(*cp);
    *cp = NULL;
}

static size_t
set_of(const aggcache_t *c, const char *stream)
{
    return (size_t)(strhash(stream) & c->set_mask) * WAYS;
}

aggregate_t *
aggcache_get(aggcache_t *c, const char *stream)
{
    size_t first = set_of(c, stream);
    for (size_t i = first; i < first + WAYS; i++) {
        aggregate_t *a = &c->slots[i];
        if (a->valid && strcmp(a->stream, stream) == 0) {
            c->used[i] = ++c->tick;
            return a;
        }
    }
    return NULL;
}

aggregate_t *
aggcache_slot(aggcache_t *c, const char *stream)
{
    size_t first = set_of(c, stream), victim = first;
    for (size_t i = first; i < first + WAYS; i++) {
        if (!c->slots[i].valid || strcmp(c->slots[i].stream, stream) == 0) {
            victim = i;
            break;
        }
        if (c->used[i] < c->used[victim])
            victim = i;
    }
    aggregate_t *a = &c->slots[victim];
    c->used[victim] = ++c->tick;
    a->valid = false;
    strncpy(a->stream, stream, sizeof a->stream - 1);
    a->stream[sizeof a->stream - 1] = '\0';
    return a;
}

void
aggcache_clear(aggcache_t *c)
{
    for (size_t i = 0; i < (c->set_mask + 1) * WAYS; i++)
        c->slots[i].valid = false;
}
