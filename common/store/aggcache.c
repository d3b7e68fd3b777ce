/* aggcache: see aggcache.h.  A strtable cache: set associative by the stream
 * name with least-recently-used eviction inside a set: with a
 * direct-mapped cache two hot products that shared a slot evicted each
 * other on every command (a replay from the store each time).  Sixteen
 * ways, matched by the stored hash before the name: with four, 10,000
 * products Zipf-chosen from 16,384 slots missed on 1.8 % of commands
 * (the `loads` of the status), and a miss replays up to a snapshot
 * interval of events, ~100 us (docs/decisions.md, item 32). */
#include "aggcache.h"

#include "strtable.h"

#include <assert.h>
#include <stdlib.h>

#define WAYS 16 /* entries per set; a set evicts its least recently used */

struct aggcache {
    strtable_t *t; /* aggregate_t entries keyed by stream */
};

aggcache_t *
aggcache_new(size_t slots)
{
    aggcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = strtable_new(&(strtable_opts_t){STRTABLE_ENTRY(aggregate_t, stream),
                                           .capacity = slots ? slots : 1, .ways = WAYS});
    if (!c->t)
        aggcache_destroy(&c);
    return c;
}

void
aggcache_destroy(aggcache_t **cp)
{
    if (!cp || !*cp)
        return;
    strtable_destroy(&(*cp)->t);
    free(*cp);
    *cp = NULL;
}

aggregate_t *
aggcache_get(aggcache_t *c, const char *stream)
{
    aggregate_t *a = strtable_get(c->t, stream);
    return a && a->valid ? a : NULL;
}

aggregate_t *
aggcache_slot(aggcache_t *c, const char *stream)
{
    bool added;
    aggregate_t *a = strtable_put(c->t, stream, &added);
    assert(a); /* streams fit (STREAM_MAX) and nothing is pinned */
    a->valid = false;
    return a;
}

void
aggcache_clear(aggcache_t *c)
{
    strtable_clear(c->t);
}
