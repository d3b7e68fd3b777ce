/* aggcache: a bounded, set-associative (LRU) cache of aggregate states by stream, so
 * that a hot product is not replayed from the store on every command.
 * Invariant: an entry equals the fold of every event of its stream that the
 * command-service's own connection can see (committed, or appended in the
 * open transaction).  After a rollback the caller must aggcache_clear().
 * A pointer from aggcache_get/aggcache_slot is valid until the next call that
 * may evict (aggcache_slot, aggcache_clear). */
#ifndef INV_AGGCACHE_H
#define INV_AGGCACHE_H

#include "aggregate.h"

#include <stddef.h>

typedef struct {
    bool valid;
    agg_kind_t kind; /* of u: aggregate_ops(kind) */
    char stream[STREAM_MAX + 1];
    aggregate_state_t u;
} aggregate_t;

typedef struct aggcache aggcache_t;

/* `slots` entries (rounded up to a power of two).  NULL on allocation failure. */
aggcache_t *aggcache_new(size_t slots);
void aggcache_destroy(aggcache_t **c);
/* The cached aggregate of stream, or NULL on a miss. */
aggregate_t *aggcache_get(aggcache_t *c, const char *stream);
/* The slot for stream, evicting whatever held it; the caller fills it and
 * sets valid. */
aggregate_t *aggcache_slot(aggcache_t *c, const char *stream);
void aggcache_clear(aggcache_t *c);

/* The stream version an aggregate has folded. */
static inline int64_t
aggcache_version(const aggregate_t *a)
{
    return aggregate_ops(a->kind)->version(&a->u);
}

#endif
