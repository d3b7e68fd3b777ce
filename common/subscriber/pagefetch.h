/* pagefetch: a subscriber's ReadEvents requests to the relay's catch-up
 * endpoint, one at a time, awaited by the subscriber's poll loop instead of
 * a blocking wait (issue 24: a wait of up to 3 s for a relay that was
 * stopped or gone left the daemon's control socket unanswered).
 *
 * A request is named by its `after` (the page of events after that
 * position) and has a deadline, timeout_ms after it was sent:
 *
 *            pagefetch_ask, pagefetch_take              its reply comes
 *   IDLE ------------------------------------> IN FLIGHT ---------------> READY
 *    ^ ^ ^                                      |     (pagefetch_update)   | |
 *    | | |    the deadline passes, no reply     |                          | |
 *    | | |    (pagefetch_update; the socket     v                          | |
 *    | | |    is replaced, the next endpoint)  TIMED OUT                   | |
 *    | | +---- pagefetch_take: FAILED ---------+                           | |
 *    | +------ pagefetch_take: the reply, to the caller -------------------+ |
 *    +-------- the deadline passes (pagefetch_update): dropped --------------+
 *
 * Asking for another page drops what is held or in flight: a request in
 * flight goes with its socket, replaced by a new DEALER.
 *
 * Invariants:
 *  - a reply is handed out only to a take of the `after` it was asked for,
 *    once, and only before its request's deadline (a reply held longer may
 *    name an old head: the page is asked for again);
 *  - the reply to a dropped or timed-out request is never received: its
 *    socket is closed (the relay's ROUTER drops a reply to a peer that is
 *    gone), however late it comes;
 *  - at most one reply is held, and the socket is polled only while a reply
 *    is awaited, so a reply nobody has taken yet never wakes a loop twice;
 *  - nothing here blocks: sends and receives are ZMQ_DONTWAIT. */
#ifndef INV_PAGEFETCH_H
#define INV_PAGEFETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct pagefetch pagefetch_t;

/* A DEALER connected to endpoint for pages of at most `limit` events, each
 * reply awaited at most timeout_ms.  endpoint may be a comma-separated list
 * of the catch-up endpoints of a replicated store's relays (eplist.h; it is
 * copied): one is asked at a time, the first at start; a request not
 * answered by its deadline moves to the next one (its TIMED OUT is on the
 * old one); a `not_leader` reply (docs/protocol.md, section 2) moves the
 * request at once to the leader it names when that is in the list, else to
 * the next one, and is never handed out; one naming no leader (an election)
 * or a leader that is not an endpoint, or as many in a row as the list has
 * endpoints, end the request as if it timed out, on the next endpoint.
 * NULL (errno set; EINVAL: a list with a bad element) when the socket
 * cannot be made or connected. */
pagefetch_t *pagefetch_new(void *zctx, const char *endpoint, int limit, int timeout_ms);
/* Closes the socket and frees a reply still held.  NULL-safe, nulls *f. */
void pagefetch_destroy(pagefetch_t **f);

/* Sends the request for the page after `after` (its deadline: now_ms +
 * timeout_ms) unless that one is in flight or answered already; anything
 * else in flight or held is dropped first.  0, or -1 when it could not be
 * sent (the socket is replaced; ask again later). */
int pagefetch_ask(pagefetch_t *f, int64_t after, int64_t now_ms);

typedef enum {
    PAGEFETCH_READY,   /* *reply (malloc'ed, the caller frees it) and *len */
    PAGEFETCH_WAITING, /* in flight: poll pagefetch_socket, take it again */
    PAGEFETCH_FAILED,  /* not sent, or not answered by its deadline; the caller
                          backs off before it asks again */
} pagefetch_result_t;

/* The reply to the request for the page after `after`, asked for now
 * (pagefetch_ask) when it was not. */
pagefetch_result_t pagefetch_take(pagefetch_t *f, int64_t after, int64_t now_ms, void **reply,
                                  size_t *len);

/* Drops whatever is in flight or held, with the socket (a reply that could
 * not be used: anything else the relay sent on it goes too). */
void pagefetch_reset(pagefetch_t *f);

/* The endpoint asked now (of the list), for the logs. */
const char *pagefetch_endpoint(const pagefetch_t *f);

/* The loop's side: the socket to poll for ZMQ_POLLIN while a reply is
 * awaited, else NULL; how long the loop may sleep before the deadline
 * (0 once it passed), -1 when no reply is awaited; and, after each poll,
 * pagefetch_update: receives a reply that came, or gives up on one whose
 * deadline passed.  NULL-safe. */
void *pagefetch_socket(const pagefetch_t *f);
int64_t pagefetch_wait_ms(const pagefetch_t *f, int64_t now_ms);
void pagefetch_update(pagefetch_t *f, int64_t now_ms);

#endif
