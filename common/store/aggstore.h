/* aggstore: loading aggregates from the event store and keeping their
 * snapshots.  Loading = the latest snapshot (if its encoding is current) +
 * the events after it; the result equals a full replay (tests/unit/
 * test_aggstore.c checks this on random histories).  Snapshots are written
 * in the same transaction as the event that reaches a multiple of `every`. */
#ifndef INV_AGGSTORE_H
#define INV_AGGSTORE_H

#include "aggcache.h"
#include "eventstore.h"

#define AGGSTORE_SNAPSHOT_SCHEMA 1 /* bump when the snapshot encoding changes */

/* Fills *a (kind and stream already set by the caller) from the store.
 * use_snapshots=false forces a full replay.  ERR_OK or an err_t. */
int aggstore_load(eventstore_t *es, aggregate_t *a, bool use_snapshots);
/* Folds one event into the aggregate. */
void aggstore_fold(aggregate_t *a, const event_t *ev);
/* Saves a snapshot when the aggregate's version is a multiple of every
 * (every <= 0: never).  Inside the open transaction. */
int aggstore_maybe_snapshot(eventstore_t *es, const aggregate_t *a, int64_t every);

/* The snapshot encoding of an aggregate's state; of a product's, also
 * used to show it (ProductAsOf). */
void aggstore_pack(codec_writer_t *w, const aggregate_t *a);
void aggstore_pack_product(codec_writer_t *w, const product_t *p);
/* 0, or -1 when the bytes are not a snapshot of this encoding. */
int aggstore_unpack(aggregate_t *a, const void *bytes, size_t len);

#endif
