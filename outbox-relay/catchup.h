/* catchup: the read-only requests served from the event store side on the
 * relay's ROUTER: ReadEvents (catch-up for subscribers), ReadStream
 * (history), ProductAsOf (state at a past position or time, rebuilt by
 * folding the stream with the pure aggregate) and Status.  Nothing here
 * writes.  Every event read is checked against the hash chain by the store
 * (eventstore.h); a damaged one ends what is served before it, and the
 * relay (relay.c) stops serving from it on. */
#ifndef INV_CATCHUP_H
#define INV_CATCHUP_H

#include "codec.h"
#include "eventstore.h"
#include "rpc.h"

#define CATCHUP_PAGE_MAX 1000

/* Extra numbers the relay adds to its Status reply. */
typedef struct {
    int64_t published_through; /* every event <= this has been published */
    int64_t durable_through;   /* every event <= this is on disk; none above is served */
    int64_t self_syncs;        /* fsyncs of the WAL by the relay itself */
    int64_t published;         /* events published since start */
    int64_t heartbeats;        /* heartbeats sent since start */
    es_wal_state_t wal;        /* the WAL as the last checkpoint left it */
    int64_t chain_through;     /* the hash chain is verified through this position */
    int64_t damaged_at;        /* first position whose hash does not follow, 0: none;
                                  nothing from it on is published or served */
    const char *role;          /* "single", "active" or "standby" (replicated log) */
    const char *leader;        /* NULL, or on a standby the active relay's catch-up endpoint
                                  ("" unknown): ReadEvents, ReadStream and ProductAsOf
                                  are answered not_leader, naming it */
} catchup_relay_stats_t;

/* The highest position that may be served: the durable one, held below
 * the first damaged position. */
int64_t catchup_servable(const catchup_relay_stats_t *stats);

/* Answers one request waiting on the relay's ROUTER through the dispatcher
 * (common/wire/rpc.h), w the reply scratch: exactly one reply map.
 * Returns RPC_IDLE when nothing was waiting. */
int catchup_serve(void *router, eventstore_t *es, const catchup_relay_stats_t *stats,
                  codec_writer_t *w);

/* Answers one request already split from its frames (req as rpc_handle
 * takes it: body, len and w set; msg may be NULL), as catchup_serve does
 * (tests/fuzz).  Returns what rpc_handle returns. */
int catchup_handle(eventstore_t *es, const catchup_relay_stats_t *stats, rpc_request_t *req);

#endif
