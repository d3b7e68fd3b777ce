/* headcache: the audit's stream heads in memory for the open batch, so an
 * event does not run a statement to learn and move its stream's head.
 *
 * A bounded, set-associative cache (least recently used evicted inside a
 * set) of stream -> (head, rows).  An entry changed in the open batch is
 * dirty: it is never evicted, and the caller writes the dirty entries
 * before its commit (headcache_dirty) and then calls headcache_clean.  A
 * stream whose set holds only dirty entries gets no entry (headcache_add
 * returns NULL) and the caller writes it through instead.  After a rollback
 * the caller must headcache_clear().  Pure memory, no I/O: a strtable cache
 * whose dirty entries are pinned. */
#ifndef INV_HEADCACHE_H
#define INV_HEADCACHE_H

#include "message.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char stream[STREAM_MAX + 1];
    int64_t head; /* the stream's largest position */
    int64_t rows; /* its rows (auditchain's mark clock) */
    int64_t sid;  /* the caller's id of the stream */
    bool valid;
    bool dirty;
} headcache_entry_t;

typedef struct headcache headcache_t;

/* A cache of `sets` (rounded up to a power of two) x HEADCACHE_WAYS
 * entries.  NULL when out of memory. */
#define HEADCACHE_WAYS 4
headcache_t *headcache_new(size_t sets);

/* Frees; NULL-safe, nulls the pointer. */
void headcache_destroy(headcache_t **cache);

/* The entry of stream, or NULL on a miss. */
headcache_entry_t *headcache_find(headcache_t *cache, const char *stream);

/* A new entry for stream (not valid until the caller fills head and rows
 * and sets valid), evicting the least recently used clean entry of its
 * set; NULL when every entry of the set is dirty. */
headcache_entry_t *headcache_add(headcache_t *cache, const char *stream);

/* Marks e changed in the open batch. */
void headcache_mark_dirty(headcache_t *cache, headcache_entry_t *e);

/* The dirty entries: *n of them at the returned array. */
headcache_entry_t *const *headcache_dirty(const headcache_t *cache, size_t *n);

/* Every dirty entry is clean again (they were written). */
void headcache_clean(headcache_t *cache);

/* Forgets every entry. */
void headcache_clear(headcache_t *cache);

#endif
