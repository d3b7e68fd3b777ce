/* subscriber: the runtime that projector, audit and alert share.
 *
 * Follows the relay's PUB socket and makes delivery exact (ARCHITECTURE.md
 * invariants 2 and 3):
 *  - on start it catches up from its checkpoint to the head through the
 *    catch-up endpoint, then follows live events;
 *  - an event at or below the checkpoint is a duplicate and is dropped;
 *  - an event above checkpoint + 1, or a heartbeat whose head is above the
 *    checkpoint, reveals a gap, filled from the catch-up endpoint;
 *  - events are applied in batches: ops->begin, ops->apply for each,
 *    ops->commit(checkpoint, event_id) writes the checkpoint in the same
 *    transaction;
 *  - an apply or commit failure rolls the batch back; the checkpoint does
 *    not move, so the events come again through catch-up;
 *  - before the first catch-up, and whenever the store's head is seen
 *    below the checkpoint, the model's checkpoint event (its event_id,
 *    written with every checkpoint) is compared with the store's event at
 *    that position;
 *  - a model whose file reports damage, in a batch or when its checkpoint
 *    is read at start, or whose checkpoint event is not the store's, is
 *    written no more: a rebuild from position 0 replaces it (as for
 *    Rebuild), retried until it is swapped in.
 * The runtime also answers {"type":"Status"} and {"type":"Rebuild"} on the
 * daemon's control ROUTER and hands every other request there to the
 * daemon's handler. */
#ifndef INV_SUBSCRIBER_H
#define INV_SUBSCRIBER_H

#include "bus.h"
#include "codec.h"
#include "message.h"
#include "metrics.h"
#include "modeldb.h"
#include "rpc.h"

#include <sqlite3.h>
#include <stdint.h>

typedef struct {
    int (*begin)(void *model);                    /* opens a transaction; 0 ok */
    int (*apply)(void *model, const event_t *ev); /* idempotent; 0 ok */
    /* writes the checkpoint and its event's id (modeldb_checkpoint_set), commits; 0 ok */
    int (*commit)(void *model, int64_t checkpoint, const char *event_id);
    void (*rollback)(void *model);
    int (*checkpoint)(void *model, int64_t *position);
    void (*committed)(void *model); /* optional: after each commit */
    sqlite3 *(*db)(void *model);    /* its modeldb connection (damage, messages, history) */
} subscriber_ops_t;

/* Where a factory with a finish() hook may build before finishing into
 * path: "<path>" SUBSCRIBER_BUILDING_SUFFIX.  The runtime deletes such files
 * (and their SQLite side files) left behind by a rebuild that did not
 * survive a crash. */
#define SUBSCRIBER_BUILDING_SUFFIX ".building"

/* How the runtime makes a fresh model for a rebuild.  open() returns a model
 * for a new file at path that prints and publishes nothing (a rebuild
 * replays history, it does not re-announce it); finish(), when set, is
 * called once the rebuild has caught up, before the swap: it takes the
 * model and returns the one to swap in, a file at path (a bulk build is
 * finished and reopened), or NULL when that failed (the model and its files
 * are gone then).  activate() turns printing and publishing on once the
 * rebuilt model has been swapped in. */
typedef struct {
    void *(*open)(void *arg, const char *path);
    void *(*finish)(void *arg, void *model, const char *path); /* optional */
    void (*activate)(void *arg, void *model);                  /* optional */
    void (*close)(void *arg, void *model);
    void *arg;
} subscriber_factory_t;

typedef struct {
    const char *name;       /* "projector", for logs and status */
    const char *events_ep;  /* relay PUB */
    const char *catchup_ep; /* relay catch-up ROUTER */
    int batch_max;          /* events per transaction, e.g. 1000 */
    int catchup_page;       /* events per catch-up request, e.g. 1000 */
    int commit_linger_ms;   /* a live batch waits this long for more events (0: 3) */
    int catchup_timeout_ms; /* a catch-up reply is awaited this long (0: 3000); the
                               control and event sockets are served meanwhile */
    bool once;              /* catch up to the head, then return from run */
    modeldb_sync_t sync;    /* applied to every model written (modeldb_set_sync) */
    metrics_t *metrics;     /* may be NULL: inv_events_applied_total, the lag, rebuilds and
                               the health (a problem while the live model is unusable) */
} subscriber_config_t;

typedef struct {
    int64_t checkpoint;          /* last applied position */
    int64_t head;                /* newest head seen (heartbeat or event) */
    int64_t head_recorded_at;    /* recorded_at of the head event (us), 0 unknown */
    int64_t applied_recorded_at; /* recorded_at of the last applied event (us) */
    int64_t heartbeat_at;        /* wall clock of the last heartbeat (us), 0 never */
    int64_t applied;             /* events applied since start */
    int64_t duplicates;          /* events dropped as at or below the checkpoint */
    int64_t gaps;                /* catch-ups started because of a gap */
    bool rebuilding;             /* a rebuild is in progress */
    bool unusable;               /* the live model is damaged or of another history: a
                                    rebuild replaces it */
    int64_t rebuild_checkpoint;  /* its position so far */
    int64_t rebuilds;            /* rebuilds swapped in since start */
    int64_t commits;             /* transactions committed since start */
    int64_t chain_broken_at;     /* an event whose hash did not follow the checkpoint's was
                                    refused at this position (not applied), 0: none */
    int64_t store_damaged_at;    /* the relay reports the store damaged from here, 0: none */
} subscriber_status_t;

/* A request on the control socket other than Status.  `type` is the request
 * type; the handler packs one reply map into w and returns 0, or returns -1
 * to have the runtime reply malformed "unknown request type". */
typedef int (*subscriber_control_fn)(void *arg, const char *type, const mpread_t *req,
                                     codec_writer_t *w);

typedef struct subscriber subscriber_t;

/* Creates the runtime; nothing connects until subscriber_run.  The config
 * strings must outlive the runtime.  NULL on allocation failure. */
subscriber_t *subscriber_new(void *zctx, const subscriber_config_t *cfg,
                             const subscriber_ops_t *ops, void *model);
void subscriber_destroy(subscriber_t **sub);

/* The daemon's control ROUTER (bound by the daemon), served by the loop. */
void subscriber_set_control(subscriber_t *sub, void *router, subscriber_control_fn fn, void *arg);
/* Enables {"type":"Rebuild"}: a fresh model is built from position 0 in a
 * new file beside live_path (<live_path>.<generation>) while the live one
 * keeps serving; when it has caught up it is swapped in atomically by
 * renaming a symlink over live_path (each generation keeps its own WAL
 * files), and the old generation is deleted.  Readers that reopen
 * live_path see the new model.  Generation files that are not live_path's
 * target (a rebuild the daemon did not survive) are deleted here, at start.
 * live_path must outlive the runtime. */
void subscriber_set_factory(subscriber_t *sub, const subscriber_factory_t *factory,
                            const char *live_path);

/* Runs until proc_stopping() (or, with cfg.once, until caught up).  Returns 0 on a clean stop, -1
 * when the model could not even report its checkpoint. */
int subscriber_run(subscriber_t *sub);

void subscriber_status(const subscriber_t *sub, subscriber_status_t *out);
/* Packs the Status reply map (ok, service, checkpoint, head, lag_events,
 * lag_ms, heartbeat_age_ms, applied, duplicates, gaps, rebuilding,
 * rebuild_checkpoint, rebuilds, commits, model_unusable). */
void subscriber_pack_status(const subscriber_t *sub, codec_writer_t *w);

/* The decoders of what the runtime receives, for tests/fuzz:
 *  - a ReadEvents reply to the request for the page after `after`: its
 *    head, a cursor at its n events (read each with codec_read_event) and
 *    the damaged position it reports (0: none); 0, or -1 with why;
 *  - a heartbeat body: its head and head_recorded_at (0 when absent); 0,
 *    or -1 when it does not decode;
 *  - one control request split from its frames (req as rpc_handle takes
 *    it), answered as the control ROUTER answers it; what rpc_handle
 *    returns. */
int subscriber_read_page(const void *reply, size_t len, int64_t after, int64_t *head,
                         mpread_t *events, uint32_t *n, int64_t *damaged_at, const char **why);
int subscriber_read_heartbeat(const void *body, size_t len, int64_t *head, int64_t *recorded_at);
int subscriber_handle_control(subscriber_t *sub, rpc_request_t *req);

#endif
