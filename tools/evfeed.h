/* evfeed: the events from a position on, each exactly once and in position
 * order, as a subscriber reads them: it subscribes to the event PUB first,
 * then reads the store through the relay's catch-up endpoint (ReadEvents
 * pages, docs/protocol.md section 7) up to the head, then takes the live
 * events.  The switch-over is by position: what the SUB delivers at or
 * below the last position handed out is dropped (a duplicate), a position
 * beyond the next one is a gap, closed by reading the relay again; so is
 * a heartbeat whose head is above the last position (at most five
 * catch-ups a second).
 *
 *   catching up --(empty page: at the head)--> live
 *   live --(gap, or heartbeat head above the last position)--> catching up
 *
 * Trusts no server: a page must answer the request (subscriber_read_page),
 * an event without an integer position is skipped, positions never go
 * back, and what it keeps is one page (<= BUS_MAX_REPLY) and one message. */
#ifndef INV_EVFEED_H
#define INV_EVFEED_H

#include "mpread.h"

#include <stddef.h>
#include <stdint.h>

typedef struct evfeed evfeed_t;

/* Subscribes to events_ep, then asks relay_ep for the first page after
 * `after` (each request waits up to timeout_ms).  NULL with a one-line
 * reason in err when a socket fails or the relay does not answer. */
evfeed_t *evfeed_new(void *zctx, const char *events_ep, const char *relay_ep, int64_t after,
                     int timeout_ms, char *err, size_t cap);
/* Closes the sockets and frees; NULL-safe, nulls *f. */
void evfeed_destroy(evfeed_t **f);

/* The next event, waiting up to wait_ms: 1 with *ev a cursor at its map
 * (valid until the next call), 0 when none came in time (or a signal), -1
 * with a reason in err (the relay stopped answering, or answered wrongly). */
int evfeed_next(evfeed_t *f, int wait_ms, mpread_t *ev, char *err, size_t cap);

/* The position of the last event handed out (`after` before the first). */
int64_t evfeed_position(const evfeed_t *f);
/* The head the relay reported in its first reply. */
int64_t evfeed_start_head(const evfeed_t *f);

#endif
