/* alerts: the alert read model in its own SQLite file (the only
 * alert-service module that talks to SQLite): the stock state of every
 * product and every alert raised, by the rule of stockwatch.h.
 *
 * Invariants:
 *  - tables products(product_id, name, stock, threshold, level,
 *    discontinued, position) and alerts(position PRIMARY KEY, kind,
 *    product_id, name, stock, threshold, recorded_at, correlation_id): one
 *    event raises at most one alert, keyed by the event's position;
 *  - re-applying an event changes nothing: a product row remembers the last
 *    position applied to it and skips anything at or below, and alerts are
 *    INSERT OR IGNORE on the position;
 *  - the checkpoint moves in the same transaction as the rows it covers;
 *  - an alert is printed and published only after its batch committed:
 *    apply queues it, `committed` prints (flushed) and publishes the queue,
 *    `rollback` drops it, so a rolled-back batch shows nothing;
 *  - stored values come from the events only (no wall clock), so a rebuild
 *    dumps byte-identical (alerts_dump).
 * Events for a product never created here (impossible in a sound log) are
 * skipped rather than failing the batch forever. */
#ifndef INV_ALERTS_H
#define INV_ALERTS_H

#include "alertmsg.h"
#include "stockwatch.h"
#include "subscriber.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ALERTS_LIMIT_DEFAULT 20
#define ALERTS_LIMIT_MAX 100

typedef struct alerts alerts_t;

/* ListAlerts filters. */
typedef struct {
    const char *product_id; /* only this product's alerts, or NULL for all */
    int limit;              /* 1..ALERTS_LIMIT_MAX */
    int64_t after;          /* cursor: only positions > after; 0 from the start */
} alerts_query_t;

/* Called once per alert found, in position order; valid during the call. */
typedef void (*alerts_row_fn)(void *arg, const alertmsg_t *alert);

/* The subscriber runtime's view (common/subscriber/subscriber.h); the model pointer
 * must be an alerts_t *. */
extern const subscriber_ops_t alerts_ops;

/* Opens (creating) the model at path.  Committed alerts are printed to out
 * (NULL: not printed).  NULL on failure with a static reason in *why. */
alerts_t *alerts_open(const char *path, FILE *out, const char **why);
/* Opens the existing model at path read-only, for alerts_dump only
 * (--mode dump): nothing is created.  NULL with *why set. */
alerts_t *alerts_open_dump(const char *path, const char **why);
/* Changes where committed alerts are printed (NULL: nowhere), e.g. for a
 * model rebuilt silently and then swapped in.  Not owned. */
void alerts_set_output(alerts_t *model, FILE *out);
/* The PUB socket committed alerts are published on as [TOPIC_ALERT, body]
 * (NULL, the default: not published).  Not owned. */
void alerts_set_publisher(alerts_t *model, void *pub);
/* Closes and frees; NULL-safe, nulls the pointer. */
void alerts_close(alerts_t **model);

/* The live model of a daemon, where it prints and publishes; Rebuild
 * replaces model. */
typedef struct {
    alerts_t *model; /* the model serving ListAlerts; NULL only mid-swap */
    FILE *out;       /* where the live model prints (stdout) */
    void *pub;       /* where it publishes (the alert PUB socket) */
} alerts_live_t;

/* The factory the runtime uses for Rebuild (subscriber_set_factory): open
 * makes a silent model (no printing, no publishing: a rebuild replays
 * history, it does not re-announce it) on the new generation file, activate
 * (after the swap) makes it live->model and turns printing and publishing
 * on, close closes one and clears live->model when it was that one.  live
 * must outlive the runtime. */
subscriber_factory_t alerts_factory(alerts_live_t *live);

/* The last applied position.  0 or -1. */
int alerts_checkpoint(alerts_t *model, int64_t *position);
/* The stored stock state of a product: 1 found, 0 unknown, -1 error. */
int alerts_product(alerts_t *model, const char *product_id, stockwatch_state_t *st);
/* Alerts published since open that the socket refused (never blocks). */
int64_t alerts_publish_errors(const alerts_t *model);

/* Calls fn for up to q->limit alerts in position order; *more says whether
 * more match after the last one given.  Rows given, or -1. */
int alerts_list(alerts_t *model, const alerts_query_t *q, alerts_row_fn fn, void *arg, bool *more);

/* Canonical dump: checkpoint, products by id, alerts by position, one line
 * each, strings escaped.  0 or -1. */
int alerts_dump(alerts_t *model, FILE *out);

#endif
