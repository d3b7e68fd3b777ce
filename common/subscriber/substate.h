/* substate: the subscriber's decisions (subscriber.c's state diagram) as
 * pure functions of its positions and flags, so that they can be tested
 * without a daemon, a relay or a model (tests/unit/test_subscriber.c).
 *
 * Terms: `next` is the position the next applied event must have (the
 * checkpoint + 1, or the open batch's last position + 1); `head` the newest
 * position the store is known to have; `verified` says the model's
 * checkpoint event was found to be the store's; `unusable` that the live
 * model is written no more (a rebuild replaces it).
 *
 * Header-only, static inline: substate_on_event runs for every live event,
 * and the hot path must not pay a call into another object for it. */
#ifndef INV_SUBSTATE_H
#define INV_SUBSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* What a live event at position pos calls for. */
typedef enum {
    SUBSTATE_APPLY,     /* pos == next: apply it in the batch */
    SUBSTATE_DUPLICATE, /* pos < next: already applied, dropped and counted */
    SUBSTATE_CATCH_UP,  /* pos > next (a gap), or the model is not verified
                           yet: the catch-up checks it and fetches */
    SUBSTATE_IGNORE,    /* the model is unusable: the rebuild reads the log */
} substate_event_t;

static inline substate_event_t
substate_on_event(int64_t pos, int64_t next, bool verified, bool unusable)
{
    if (unusable)
        return SUBSTATE_IGNORE;
    if (!verified)
        return SUBSTATE_CATCH_UP;
    if (pos < next)
        return SUBSTATE_DUPLICATE;
    return pos > next ? SUBSTATE_CATCH_UP : SUBSTATE_APPLY;
}

/* What an event at position pos in a catch-up page calls for. */
typedef enum {
    SUBSTATE_PAGE_APPLY,        /* pos == next */
    SUBSTATE_PAGE_SKIP,         /* pos < next: applied already (live, meanwhile) */
    SUBSTATE_PAGE_OUT_OF_ORDER, /* pos > next: the page is refused, rolled back */
} substate_page_t;

static inline substate_page_t
substate_on_page_event(int64_t pos, int64_t next)
{
    if (pos < next)
        return SUBSTATE_PAGE_SKIP;
    return pos == next ? SUBSTATE_PAGE_APPLY : SUBSTATE_PAGE_OUT_OF_ORDER;
}

/* Whether the live model is behind the store: a catch-up is due. */
static inline bool
substate_behind(int64_t head, int64_t next)
{
    return head > next - 1;
}

/* Whether a store head seen below the checkpoint (heartbeat or catch-up
 * reply) makes a verified, usable model verify again: a store's head never
 * goes down, so the store behind the endpoints may be another one. */
static inline bool
substate_head_below(int64_t head, int64_t checkpoint, bool verified, bool unusable)
{
    return head < checkpoint && verified && !unusable;
}

/* The head to keep after a catch-up reply for the page after `after` with
 * n events and head page_head.  Heads only rise, but for one case: the
 * relay says it has nothing after `after` and its head is at most that;
 * then a higher head taken from a stray message on the bus was wrong
 * (kept, it would make every turn a catch-up). */
static inline int64_t
substate_page_head(int64_t known, int64_t page_head, uint32_t n, int64_t after)
{
    return page_head > known || (n == 0 && page_head <= after) ? page_head : known;
}

/* The history check of a model at checkpoint whose checkpoint event is
 * fingerprint, against the store's event at that position. */
typedef enum {
    SUBSTATE_SAME_HISTORY,  /* the store holds the model's event: go on */
    SUBSTATE_NO_EVENT,      /* the store has no event there: rebuild */
    SUBSTATE_OTHER_HISTORY, /* the store holds another event there: rebuild */
} substate_history_t;

/* stored_pos and stored_id describe the first event of the store's page
 * after checkpoint - 1 (has_event false when there is none). */
static inline substate_history_t
substate_history(int64_t checkpoint, const char *fingerprint, bool has_event, int64_t stored_pos,
                 const char *stored_id)
{
    if (!has_event || stored_pos != checkpoint)
        return SUBSTATE_NO_EVENT;
    return strcmp(stored_id, fingerprint) == 0 ? SUBSTATE_SAME_HISTORY : SUBSTATE_OTHER_HISTORY;
}

/* Whether a model needs the history check at all: one with a checkpoint
 * event (models written before event ids were kept have "", and are
 * trusted). */
static inline bool
substate_needs_check(int64_t checkpoint, const char *fingerprint)
{
    return checkpoint > 0 && fingerprint[0] != '\0';
}

/* Whether a rebuild at position rebuilt may be swapped in: it has reached
 * the live checkpoint and the head, and the live model has caught up (or
 * is unusable, then its checkpoint does not matter). */
static inline bool
substate_swap_due(int64_t rebuilt, int64_t checkpoint, int64_t head, bool unusable)
{
    bool live_done = unusable || checkpoint >= head;
    return rebuilt >= checkpoint && rebuilt >= head && live_done;
}

/* The lag a subscriber reports (Status, /metrics): events between the
 * head seen and the checkpoint, and the time between their recorded_at
 * (us; 0: unknown): in ms, 0 when caught up, -1 when behind with nothing
 * applied since start (the checkpoint's time is not known). */
static inline int64_t
substate_lag_events(int64_t head, int64_t checkpoint)
{
    return head > checkpoint ? head - checkpoint : 0;
}

static inline int64_t
substate_lag_ms(int64_t lag_events, int64_t head_recorded_at, int64_t applied_recorded_at)
{
    if (lag_events > 0 && applied_recorded_at == 0)
        return -1;
    if (lag_events > 0 && head_recorded_at > applied_recorded_at)
        return (head_recorded_at - applied_recorded_at) / 1000;
    return 0;
}

#endif
