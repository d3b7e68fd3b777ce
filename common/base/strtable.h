/* strtable: the one in-memory table of the project, fixed-size entries keyed
 * by a string (the aggregate cache, the event store's stream cache, the
 * audit's head cache, the alert service's product cache, the projector's
 * sales fold).  The caller's entry struct holds its key in a char array;
 * the table owns the entries (one allocation at creation, none per lookup)
 * and keeps beside them, per slot, the key's strhash (compared before the
 * key) and its bookkeeping.  Two shapes, chosen at creation by `ways`:
 *
 *  - a cache (ways > 0): `capacity` entries (rounded up to a power of two
 *    of sets) in sets of `ways`, the set chosen by the low bits of the
 *    hash.  A new key takes the first empty entry of its set, else evicts
 *    the set's least recently used entry that is not pinned; a lookup that
 *    hits makes the entry the most recently used.  Entries never move.
 *  - a map (ways == 0): never evicts.  Open addressing with linear probing
 *    over a power of two of slots at least twice the capacity, so a probe
 *    ends soon at an empty slot; entries are kept densely in insertion
 *    order (strtable_at) and only removed all at once (strtable_clear), so
 *    no tombstones.  Full at `capacity`, unless `grow`: then the capacity
 *    doubles, and the entries move (their indexes do not).
 *
 * Ownership: a pointer to an entry is valid until the entry is evicted or
 * removed, the table cleared or destroyed, or (a growing map) until the
 * next strtable_put that adds. */
#ifndef INV_STRTABLE_H
#define INV_STRTABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strtable strtable_t;

typedef struct {
    size_t entry_size; /* bytes of one entry */
    size_t key_offset; /* offset of the entry's key, a char[key_size] */
    size_t key_size;   /* bytes of that array: keys are shorter */
    size_t capacity;   /* entries (a cache rounds it up to whole sets) */
    unsigned ways;     /* > 0: a cache with sets of `ways`; 0: a map */
    bool grow;         /* a map only: doubles instead of being full */
} strtable_opts_t;

/* The entry fields of strtable_opts_t for entries of type T keyed by its
 * char array member M: (strtable_opts_t){STRTABLE_ENTRY(T, M), ...}. */
#define STRTABLE_ENTRY(T, M)                                                                       \
    .entry_size = sizeof(T), .key_offset = offsetof(T, M), .key_size = sizeof(((T *)0)->M)

/* A table shaped by *opts.  NULL when out of memory or capacity is 0. */
strtable_t *strtable_new(const strtable_opts_t *opts);

/* Frees the table and its entries; NULL-safe, nulls the pointer. */
void strtable_destroy(strtable_t **t);

/* The entry of key, or NULL when it has none.  A cache hit becomes the
 * most recently used entry of its set. */
void *strtable_get(strtable_t *t, const char *key);

/* The entry of key: the one it has (*added false), else a new one, zeroed
 * but for the key (*added true).  NULL when the key is not shorter than
 * key_size, when a map is full (or cannot grow: out of memory) and when
 * every entry of a cache's set is pinned. */
void *strtable_put(strtable_t *t, const char *key, bool *added);

/* A cache only: forgets entry e (its slot is empty again). */
void strtable_remove(strtable_t *t, void *e);

/* A cache only: a pinned entry is never evicted (removed, cleared: yes). */
void strtable_pin(strtable_t *t, void *e, bool pinned);

/* Forgets every entry; keeps the memory. */
void strtable_clear(strtable_t *t);

/* Entries held, and entries the table can hold now. */
size_t strtable_count(const strtable_t *t);
size_t strtable_capacity(const strtable_t *t);

/* A map only: the i-th entry in insertion order (NULL when i >= count),
 * and the index of entry e. */
void *strtable_at(strtable_t *t, size_t i);
size_t strtable_index(const strtable_t *t, const void *e);

#endif
