/* aggcache: see aggcache.h.  Set associative by FNV-1a of the stream
 * name with least-recently-used eviction inside a set: with a
 * direct-mapped cache two hot products that shared a slot evicted each
 * other on every command (a replay from the store each time).  Sixteen
 * ways, matched by the stored hash before the name: with four, 10,000
 * products Zipf-chosen from 16,384 slots missed on 1.8 % of commands
 * (the `loads` of the status), and a miss replays up to a snapshot
 * interval of events, ~100 us (docs/performance.md, item 32). */
#include "aggcache.h"

#include "strhash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 16 /* entries per set; a set evicts its least recently used */

struct aggcache {
    size_t set_mask;    /* sets - 1 (a power of two) */
    aggregate_t *slots; /* sets * WAYS, set i at slots[i * WAYS] */
    uint64_t *hash;     /* per slot: strhash of its stream */
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
    c->hash = calloc(sets * WAYS, sizeof *c->hash);
    c->used = calloc(sets * WAYS, sizeof *c->used);
    if (!c->slots || !c->hash || !c->used) {
        free(c->slots);
        free(c->hash);
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
    free((*cp)->hash);
    free((*cp)->used);
    free(*cp);
    *cp = NULL;
}

/* The slot of stream in its set, or SIZE_MAX with *first at the set. */
static size_t
slot_of(const aggcache_t *c, const char *stream, uint64_t h, size_t *first)
{
    *first = (size_t)(h & c->set_mask) * WAYS;
    for (size_t i = *first; i < *first + WAYS; i++)
        if (c->hash[i] == h && c->slots[i].valid && strcmp(c->slots[i].stream, stream) == 0)
            return i;
    return SIZE_MAX;
}

aggregate_t *
aggcache_get(aggcache_t *c, const char *stream)
{
    size_t first, i = slot_of(c, stream, strhash(stream), &first);
    if (i == SIZE_MAX)
        return NULL;
    c->used[i] = ++c->tick;
    return &c->slots[i];
}

aggregate_t *
aggcache_slot(aggcache_t *c, const char *stream)
{
    uint64_t h = strhash(stream);
    size_t first, victim = slot_of(c, stream, h, &first);
    if (victim == SIZE_MAX) {
        victim = first; /* an empty slot, else the least recently used */
        for (size_t i = first; i < first + WAYS; i++) {
            if (!c->slots[i].valid) {
                victim = i;
                break;
            }
            if (c->used[i] < c->used[victim])
                victim = i;
        }
    }
    aggregate_t *a = &c->slots[victim];
    c->hash[victim] = h;
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
