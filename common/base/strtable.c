/* strtable: see strtable.h.  The per-slot bookkeeping lives in arrays of
 * its own beside the entries, so a probe reads a few contiguous hashes and
 * touches an entry only when its hash matches (the aggregate cache scans
 * sixteen ways on every command).
 *
 * A cache: slot i holds entry i; used[i] is the tick of its last use, 0
 * for an empty slot.  A map: slot i names entry index[i] - 1, 0 for an
 * empty slot; entries [0, count) are in use, in insertion order. */
#include "strtable.h"

#include "strhash.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

struct strtable {
    strtable_opts_t o;
    size_t slots;    /* a power of two */
    size_t mask;     /* a cache: sets - 1; a map: slots - 1 */
    size_t cap;      /* entries allocated: a cache, slots; a map, slots / 2 */
    size_t count;    /* entries held */
    char *entries;   /* cap entries of o.entry_size bytes */
    uint64_t *hash;  /* per slot: strhash of its key */
    uint64_t *used;  /* a cache: per slot, tick of its last use, 0 empty */
    uint8_t *pinned; /* a cache: per slot, never evicted when set */
    uint32_t *index; /* a map: per slot, entry index + 1, 0 empty */
    uint64_t tick;   /* a cache: the use clock */
};

static char *
entry_at(const strtable_t *t, size_t i)
{
    return t->entries + i * t->o.entry_size;
}

static const char *
key_at(const strtable_t *t, size_t i)
{
    return entry_at(t, i) + t->o.key_offset;
}

static size_t
slots_for(size_t n)
{
    size_t slots = 1;
    while (slots < n)
        slots <<= 1;
    return slots;
}

/* The slot arrays for t->slots slots; 0 or -1. */
static int
alloc_slots(strtable_t *t)
{
    t->hash = calloc(t->slots, sizeof *t->hash);
    if (t->o.ways) {
        t->used = calloc(t->slots, sizeof *t->used);
        t->pinned = calloc(t->slots, sizeof *t->pinned);
        return t->hash && t->used && t->pinned ? 0 : -1;
    }
    t->index = calloc(t->slots, sizeof *t->index);
    return t->hash && t->index ? 0 : -1;
}

strtable_t *
strtable_new(const strtable_opts_t *o)
{
    if (o->capacity == 0 || o->capacity > UINT32_MAX / 4 || o->key_size == 0 ||
        o->key_offset + o->key_size > o->entry_size)
        return NULL;
    strtable_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->o = *o;
    if (o->ways) {
        size_t sets = slots_for((o->capacity + o->ways - 1) / o->ways);
        t->slots = t->cap = sets * o->ways;
        t->mask = sets - 1;
    } else {
        t->slots = slots_for(2 * o->capacity);
        t->cap = o->capacity;
        t->mask = t->slots - 1;
    }
    t->entries = calloc(t->cap, o->entry_size);
    if (!t->entries || alloc_slots(t) != 0)
        strtable_destroy(&t);
    return t;
}

void
strtable_destroy(strtable_t **tp)
{
    if (!tp || !*tp)
        return;
    strtable_t *t = *tp;
    free(t->entries);
    free(t->hash);
    free(t->used);
    free(t->pinned);
    free(t->index);
    free(t);
    *tp = NULL;
}

/* ---- the cache ----------------------------------------------------------- */

/* The slot of key in its set, or NONE with *first at the set. */
static size_t
cache_find(const strtable_t *t, const char *key, uint64_t h, size_t *first)
{
    *first = (size_t)(h & t->mask) * t->o.ways;
    for (size_t i = *first; i < *first + t->o.ways; i++)
        if (t->hash[i] == h && t->used[i] && strcmp(key_at(t, i), key) == 0)
            return i;
    return NONE;
}

/* The slot a new key of the set at `first` takes: the first empty one,
 * else the least recently used unpinned one; NONE when all are pinned. */
static size_t
cache_victim(const strtable_t *t, size_t first)
{
    size_t victim = NONE;
    for (size_t i = first; i < first + t->o.ways; i++) {
        if (!t->used[i])
            return i;
        if (!t->pinned[i] && (victim == NONE || t->used[i] < t->used[victim]))
            victim = i;
    }
    return victim;
}

static void *
cache_put(strtable_t *t, const char *key, uint64_t h, bool *added)
{
    size_t first, i = cache_find(t, key, h, &first);
    *added = i == NONE;
    if (*added) {
        if (strlen(key) >= t->o.key_size || (i = cache_victim(t, first)) == NONE)
            return NULL;
        t->count += !t->used[i];
        memset(entry_at(t, i), 0, t->o.entry_size);
        strcpy(entry_at(t, i) + t->o.key_offset, key);
        t->hash[i] = h;
        t->pinned[i] = 0;
    }
    t->used[i] = ++t->tick;
    return entry_at(t, i);
}

/* ---- the map ------------------------------------------------------------- */

/* The slot of key, or the empty slot where it would go (*found false). */
static size_t
map_find(const strtable_t *t, const char *key, uint64_t h, bool *found)
{
    size_t i = (size_t)h & t->mask;
    for (; t->index[i]; i = (i + 1) & t->mask) {
        if (t->hash[i] == h && strcmp(key_at(t, t->index[i] - 1), key) == 0) {
            *found = true;
            return i;
        }
    }
    *found = false;
    return i;
}

/* Doubles a growing map: entries keep their indexes.  0 or -1. */
static int
map_grow(strtable_t *t)
{
    if (t->cap > UINT32_MAX / 4)
        return -1;
    strtable_t n = *t;
    n.slots = t->slots * 2;
    n.mask = n.slots - 1;
    n.cap = t->cap * 2;
    if (alloc_slots(&n) != 0) {
        free(n.hash);
        free(n.index);
        return -1;
    }
    char *entries = realloc(t->entries, n.cap * t->o.entry_size);
    if (!entries) {
        free(n.hash);
        free(n.index);
        return -1;
    }
    n.entries = entries;
    for (size_t i = 0; i < t->slots; i++) {
        if (!t->index[i])
            continue;
        size_t j = (size_t)t->hash[i] & n.mask;
        while (n.index[j])
            j = (j + 1) & n.mask;
        n.hash[j] = t->hash[i];
        n.index[j] = t->index[i];
    }
    free(t->hash);
    free(t->index);
    *t = n;
    return 0;
}

static void *
map_put(strtable_t *t, const char *key, uint64_t h, bool *added)
{
    bool found;
    size_t i = map_find(t, key, h, &found);
    *added = !found;
    if (found)
        return entry_at(t, t->index[i] - 1);
    if (strlen(key) >= t->o.key_size)
        return NULL;
    if (t->count == t->cap) {
        if (!t->o.grow || map_grow(t) != 0)
            return NULL;
        i = map_find(t, key, h, &found);
    }
    char *e = entry_at(t, t->count);
    memset(e, 0, t->o.entry_size);
    strcpy(e + t->o.key_offset, key);
    t->hash[i] = h;
    t->index[i] = (uint32_t)++t->count;
    return e;
}

/* ---- both ---------------------------------------------------------------- */

void *
strtable_get(strtable_t *t, const char *key)
{
    uint64_t h = strhash(key);
    if (t->o.ways) {
        size_t first, i = cache_find(t, key, h, &first);
        if (i == NONE)
            return NULL;
        t->used[i] = ++t->tick;
        return entry_at(t, i);
    }
    bool found;
    size_t i = map_find(t, key, h, &found);
    return found ? entry_at(t, t->index[i] - 1) : NULL;
}

void *
strtable_put(strtable_t *t, const char *key, bool *added)
{
    uint64_t h = strhash(key);
    return t->o.ways ? cache_put(t, key, h, added) : map_put(t, key, h, added);
}

size_t
strtable_index(const strtable_t *t, const void *e)
{
    assert((const char *)e >= t->entries && (const char *)e < entry_at(t, t->cap));
    return (size_t)((const char *)e - t->entries) / t->o.entry_size;
}

void
strtable_remove(strtable_t *t, void *e)
{
    assert(t->o.ways);
    size_t i = strtable_index(t, e);
    t->count -= t->used[i] != 0;
    t->used[i] = 0;
    t->pinned[i] = 0;
}

void
strtable_pin(strtable_t *t, void *e, bool pinned)
{
    assert(t->o.ways);
    t->pinned[strtable_index(t, e)] = pinned;
}

void
strtable_clear(strtable_t *t)
{
    if (t->o.ways) {
        memset(t->used, 0, t->slots * sizeof *t->used);
        memset(t->pinned, 0, t->slots * sizeof *t->pinned);
    } else {
        memset(t->index, 0, t->slots * sizeof *t->index);
    }
    t->count = 0;
}

size_t
strtable_count(const strtable_t *t)
{
    return t->count;
}

size_t
strtable_capacity(const strtable_t *t)
{
    return t->cap;
}

void *
strtable_at(strtable_t *t, size_t i)
{
    assert(!t->o.ways);
    return i < t->count ? entry_at(t, i) : NULL;
}
