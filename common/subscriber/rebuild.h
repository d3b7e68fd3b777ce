/* rebuild: a subscriber's generations and rebuilds (subscriber.h,
 * subscriber_set_factory): the model being built from position 0 beside
 * the live one, its generation file, and the swap that makes it live.
 *
 * Files: the live model is reached through live_path, at first a plain
 * file, after the first swap a symlink to the current generation,
 * "<live_path>.<16 digits>" (the rebuild's start time in microseconds,
 * zero-padded, or one above the previous generation when the clock is not
 * past it: names never repeat), each generation with its own WAL files.
 *
 * Invariants:
 *  - at most one rebuild runs; its model is written by rebuild_apply_page
 *    only, one page per transaction, positions rebuild_checkpoint + 1, +2...;
 *  - live_path names a complete model at every instant: a swap renames a
 *    new symlink over it ("<live_path>.link"), then deletes the previous
 *    generation (its readers keep their open files until they reopen);
 *  - generation files that live_path does not point at are leftovers of a
 *    rebuild the daemon did not survive, deleted by rebuild_set_factory;
 *  - the network is the subscriber's: this module is handed pages. */
#ifndef INV_REBUILD_H
#define INV_REBUILD_H

#include "mpread.h"
#include "subscriber.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rebuild rebuild_t;

/* An empty rebuild support (no factory: rebuild_can says false) for models
 * of ops (which must outlive r), written with sync (modeldb_set_sync).
 * NULL on allocation failure. */
rebuild_t *rebuild_new(const subscriber_ops_t *ops, modeldb_sync_t sync);
/* Frees *r (NULL-safe, nulls it).  A rebuild still running is the
 * caller's to abandon first. */
void rebuild_destroy(rebuild_t **r);

/* Copies factory and keeps live_path (which must outlive r); with
 * factory->open set, deletes the generation files beside live_path that
 * it does not point at (logged). */
void rebuild_set_factory(rebuild_t *r, const subscriber_factory_t *factory, const char *live_path);

bool rebuild_can(const rebuild_t *r);           /* a factory with open() is set */
void *rebuild_model(const rebuild_t *r);        /* the model being built, NULL when none */
int64_t rebuild_checkpoint(const rebuild_t *r); /* the last position applied to it */
const char *rebuild_path(const rebuild_t *r);   /* its generation file */

/* Opens a new generation and starts building it from position 0 (head is
 * for the log line).  NULL, or why not (nothing started). */
const char *rebuild_open(rebuild_t *r, int64_t head);
/* rebuild_open with the wall clock's value now_us passed in (tests): the
 * generation's number is rebuild_generation_next(now_us, the highest of
 * the live generation's and the last one this r opened), moved up past
 * any file that has it already. */
const char *rebuild_open_at(rebuild_t *r, int64_t head, int64_t now_us);
/* The rule for a generation's number, pure: now_us (at least 1) unless a
 * clock that stopped or stepped back puts it at or below last, then
 * last + 1.  Names stay unique without the clock and keep sorting by age. */
int64_t rebuild_generation_next(int64_t now_us, int64_t last);

/* Applies n events read from events (positions rebuild_checkpoint + 1
 * onwards; ev is scratch) in one transaction of the model being built,
 * committing the checkpoint.  Returns how many were applied (0 for an empty
 * page), or -1 (rolled back; nothing moved). */
int rebuild_apply_page(rebuild_t *r, mpread_t *events, uint32_t n, event_t *ev);

/* Counts a page that could not be fetched or applied; after every 20 the
 * rebuild is abandoned.  True when it was. */
bool rebuild_page_failed(rebuild_t *r);

/* Closes and deletes the model being built (logged with why); the live
 * model stays. */
void rebuild_abandon(rebuild_t *r, const char *why);

/* The swap, once the rebuild has caught up: finishes the rebuilt model
 * (factory.finish), closes *live, points live_path at the new generation,
 * activates it, stores it in *live and deletes the previous generation.
 *  0: swapped; *live is the rebuilt model, at rebuild_checkpoint.
 * -1: finishing failed; the rebuild is gone, *live untouched.
 * -2: the symlink could not be renamed: *live is closed and NULL, and the
 *     process is asked to stop (proc_request_stop) rather than guess. */
int rebuild_swap(rebuild_t *r, void **live);

#endif
