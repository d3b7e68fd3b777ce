/* subscriber: see subscriber.h.
 *
 * State machine in one loop: poll the SUB socket, the control socket and
 * the catch-up sockets awaiting a reply; drain up to batch_max live
 * messages into one transaction; whenever the next expected position is
 * not what arrives (or a heartbeat shows a head beyond the checkpoint),
 * commit what we have and catch up through the catch-up endpoint, page by
 * page.  Nothing waits for the relay: a page requested and not answered yet
 * is a state of its own (pagefetch.h), left at once and polled for by the
 * loop, so control requests are answered within a loop turn whatever the
 * relay does (issue 24).
 *
 * The states of the live model (the flags that hold them in brackets) and
 * the functions that move between them; the decisions themselves are pure
 * functions in substate.h:
 *
 *                 subscriber_run
 *                       |
 *                       v          sub_verify: checkpoint event
 *   +----------> VERIFYING ------- is the store's ---------+
 *   |          [!verified]                                 |
 *   |               |                                      v
 *   |               | sub_verify: another          CATCHING UP <-----------+
 *   |               | history (sub_replace_live)  [head > checkpoint]      |
 *   |               v                                      |               |
 *   |           UNUSABLE  <---- sub_check_damage ----+     | sub_catch_up  | sub_drain_live:
 *   |          [unusable]       (a failed batch on   |     | reaches the   | a gap (position
 *   |               |            a damaged file)     |     | head (synced) | > next, or a head
 *   |               | sub_rebuild_begin              |     v               | above checkpoint)
 *   |               v                                +-- LIVE -------------+
 *   |          REBUILDING ---- sub_rebuild_swap -------> [verified,
 *   |    [rebuild_model(s->rebuild)]  (substate_swap_due)  head == checkpoint]
 *   |               |                                      |
 *   |               | rebuild_abandon: back to UNUSABLE,   | duplicates (position
 *   |               | retried after RETRY_BACKOFF_MS, or   | < next) are dropped,
 *   |               | to the live model that kept serving  | the state stays
 *   |                                                      |
 *   +---- sub_head_below (a store head below the ----------+
 *         checkpoint), sub_monitor_drain (the relay's
 *         event socket disconnected)
 *
 * REBUILDING is also entered from CATCHING UP or LIVE by {"type":"Rebuild"}
 * (sub_rebuild_start): the live model keeps being written while the new
 * generation is built beside it (rebuild.c), and the swap waits until both
 * reached the head.  UNUSABLE without rebuild support (a --mode once run)
 * stops the daemon instead (s->failed).
 *
 * VERIFYING, CATCHING UP and REBUILDING read pages through sub_fetch_page,
 * which never waits: a page not in yet returns SUB_WAIT and the state waits
 * for it (the live model's requests on s->fetch, with s->catching_up set
 * for the catch-up; the rebuild's on s->rebuild_fetch, so that neither
 * drops the other's request):
 *
 *   VERIFYING, CATCHING UP, REBUILDING
 *        |                       ^
 *        | sub_fetch_page: the   | the reply came (the loop polls its socket,
 *        | reply is not in yet   | pagefetch_update): the next turn applies it;
 *        v                       | or none came by cfg.catchup_timeout_ms (3 s):
 *   AWAITING A PAGE -------------+ the socket is replaced (a late reply is never
 *   [s->catching_up; pagefetch     received), RETRY_BACKOFF_MS of back-off, and
 *    IN FLIGHT]                    the page is asked for again (of the next
 *     |    ^                       catch-up endpoint when cfg.catchup_ep is a list)
 *     +----+ a not_leader reply (pagefetch.h): asked again of the leader at once
 *
 * Every state answers control requests at every turn, the first thing
 * after the poll; a catch-up turn is at most CATCHUP_PAGES_PER_TURN pages,
 * fewer when the next page's reply is not in. */
#include "subscriber.h"

#include "chain.h"
#include "fileid.h"
#include "log.h"
#include "modeldb.h"
#include "pagefetch.h"
#include "proc.h"
#include "rebuild.h"
#include "rpc.h"
#include "substate.h"
#include "strcopy.h"
#include "topology.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Default of cfg.catchup_timeout_ms: a catch-up reply is awaited this long;
 * the loop serves the control socket and the event socket meanwhile. */
#define CATCHUP_TIMEOUT_MS 3000
#define RETRY_BACKOFF_MS 500
#define CATCHUP_PAGES_PER_TURN 8
/* A once run commits once per turn too, so it takes longer turns: every
 * commit rewrites the pages the turn dirtied, and in a rebuild nearly every
 * product row is dirtied by every turn (8 -> 32 pages halved the bytes a
 * 1,000,000-event build writes, 247 -> 121 MB).  Control requests still get
 * an answer every ~0.2 s. */
#define CATCHUP_PAGES_PER_TURN_ONCE 32
/* Default of cfg.commit_linger_ms: a live batch stays open this long for
 * more events before it commits.  At high rates many events share one
 * commit (fewer index pages rewritten to the WAL), at low rates it adds at
 * most this much lag. */
#define COMMIT_LINGER_MS 3
/* How often the live model's file is checked (sub_check_file): deleted or
 * replaced under the daemon, or reported damaged by a reader. */
#define FILE_CHECK_MS 1000

struct subscriber {
    void *zctx;
    subscriber_config_t cfg;
    const subscriber_ops_t *ops;
    void *model;
    void *sub;              /* SUB on the relay */
    pagefetch_t *fetch;     /* the live model's catch-up and verify requests */
    pagefetch_t *rebuild_fetch; /* the rebuild's, on a socket of its own */
    int64_t heartbeat_taken_ms; /* monotonic time the last heartbeat's head was taken, 0 none */
    bool many_pubs;         /* events_ep is a list: a heartbeat's head below the checkpoint may be a
                               standby's that lags, not another store (sub_on_heartbeat) */
    void *control;          /* ROUTER bound by the daemon, may be NULL */
    subscriber_control_fn control_fn;
    void *control_arg;
    subscriber_status_t st;
    bool in_tx;          /* a batch transaction is open */
    int64_t tx_last;     /* position of the last event applied in the open batch */
    int64_t tx_recorded; /* its recorded_at */
    int64_t tx_count;
    int tx_pages;        /* catch-up pages applied into the open batch */
    char tx_event_id[EVENT_ID_MAX + 1]; /* event_id of the last event applied in the batch */
    bool verified;                      /* the model's checkpoint event is the store's (G15) */
    char fingerprint[EVENT_ID_MAX + 1]; /* the model's checkpoint event_id, while verifying */
    void *monitor;                      /* PAIR: disconnects of the SUB socket */
    int64_t tx_started_ms;              /* monotonic time the open batch began */
    int64_t retry_at_ms;                /* after a failure, no catch-up before this time */
    rebuild_t *rebuild;                 /* generations and rebuilds (rebuild.h), owned */
    bool synced;                        /* one catch-up reached the head */
    bool catching_up;                   /* a catch-up waits for its page's reply (s->fetch) */
    bool failed;                        /* stopping because the model cannot go on */
    event_t ev;                         /* scratch: decoded event (large, so not on the stack) */
    codec_writer_t w;
    /* The hash chain (common/store/chain.h): every event applied must link
     * to the hash of the one before it, kept with the checkpoint. */
    bool chain_loaded;                   /* cp_hash was read from the live model */
    bool cp_hash_known;                  /* false: a model without it; the next is taken */
    uint8_t cp_hash[CHAIN_HASH_LEN];     /* the checkpoint event's hash */
    bool tx_hash_known;
    uint8_t tx_hash[CHAIN_HASH_LEN];     /* the last applied event's hash, in the batch */
    sqlite3_stmt *hash_st;               /* modeldb_checkpoint_hash_set's, on the live model */
    fileid_t file_id;                   /* the live model's file and WAL, as opened */
    sqlite3 *file_db;                   /* the connection file_id was taken for, NULL: none */
    int64_t file_check_ms;              /* monotonic time of the next sub_check_file */
    char problem[160];                  /* why the live model was replaced, "" while fine */
    /* metrics (cfg.metrics; NULL when none), set from st once a loop turn
     * (sub_publish) and read by the HTTP thread */
    metrics_counter_t *m_applied, *m_rebuilds;
    metrics_gauge_t *m_checkpoint, *m_head, *m_applied_at; /* applied_at: recorded_at, us */
    metrics_gauge_t head_at;                               /* not exposed: head_recorded_at */
};

static int64_t
sub_sample_lag_events(void *arg)
{
    subscriber_t *s = arg;
    return substate_lag_events(metrics_get(s->m_head), metrics_get(s->m_checkpoint));
}

static int64_t
sub_sample_lag_ms(void *arg)
{
    subscriber_t *s = arg;
    int64_t ms = substate_lag_ms(sub_sample_lag_events(s), metrics_get(&s->head_at),
                                 metrics_get(s->m_applied_at));
    return ms < 0 ? METRICS_UNKNOWN : ms;
}

/* The runtime's series, labelled with its name, registered once. */
static void
sub_metrics_init(subscriber_t *s, metrics_t *m)
{
    char l[64];
    snprintf(l, sizeof l, "subscriber=\"%s\"", s->cfg.name);
    s->m_applied = metrics_counter(m, "inv_events_applied", l, "Events applied to the live model.");
    s->m_rebuilds = metrics_counter(m, "inv_rebuilds", l, "Rebuilds swapped in since start.");
    s->m_checkpoint =
        metrics_gauge(m, "inv_subscriber_checkpoint", l, "Position of the last applied event.", 1);
    s->m_head = metrics_gauge(m, "inv_subscriber_head", l,
                              "Newest position of the store seen (heartbeat or event).", 1);
    s->m_applied_at = metrics_gauge(m, "inv_subscriber_last_applied_timestamp_seconds", l,
                                    "recorded_at of the last applied event (0: none since start).",
                                    1000000);
    metrics_sampled(m, "inv_subscriber_lag_events", l, "Head seen minus checkpoint.", 1,
                    sub_sample_lag_events, s);
    metrics_sampled(m, "inv_subscriber_lag_seconds", l,
                    "recorded_at of the head seen minus that of the last applied event "
                    "(NaN: behind, with nothing applied since start).",
                    1000, sub_sample_lag_ms, s);
}

/* What the HTTP thread reads: the positions, once a loop turn. */
static void
sub_publish(subscriber_t *s)
{
    metrics_beat(s->cfg.metrics);
    metrics_set(s->m_checkpoint, s->st.checkpoint);
    metrics_set(s->m_head, s->st.head);
    metrics_set(s->m_applied_at, s->st.applied_recorded_at);
    metrics_set(&s->head_at, s->st.head_recorded_at);
}

subscriber_t *
subscriber_new(void *zctx, const subscriber_config_t *cfg, const subscriber_ops_t *ops, void *model)
{
    subscriber_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->zctx = zctx;
    s->cfg = *cfg;
    if (s->cfg.batch_max <= 0)
        s->cfg.batch_max = 1000;
    if (s->cfg.catchup_page <= 0)
        s->cfg.catchup_page = 1000;
    if (s->cfg.commit_linger_ms <= 0)
        s->cfg.commit_linger_ms = COMMIT_LINGER_MS;
    if (s->cfg.commit_linger_ms > 10000)
        s->cfg.commit_linger_ms = 10000;
    if (s->cfg.catchup_timeout_ms <= 0)
        s->cfg.catchup_timeout_ms = CATCHUP_TIMEOUT_MS;
    s->ops = ops;
    s->model = model;
    s->rebuild = rebuild_new(ops, s->cfg.sync);
    if (!s->rebuild) {
        free(s);
        return NULL;
    }
    codec_writer_init(&s->w);
    sub_metrics_init(s, s->cfg.metrics);
    return s;
}

void
subscriber_destroy(subscriber_t **sp)
{
    if (!sp || !*sp)
        return;
    subscriber_t *s = *sp;
    sqlite3_finalize(s->hash_st);
    bus_close(&s->monitor);
    bus_close(&s->sub);
    pagefetch_destroy(&s->fetch);
    pagefetch_destroy(&s->rebuild_fetch);
    codec_writer_fini(&s->w);
    rebuild_destroy(&s->rebuild);
    free(s);
    *sp = NULL;
}

void
subscriber_set_control(subscriber_t *s, void *router, subscriber_control_fn fn, void *arg)
{
    s->control = router;
    s->control_fn = fn;
    s->control_arg = arg;
}

void
subscriber_status(const subscriber_t *s, subscriber_status_t *out)
{
    *out = s->st;
    out->rebuild_checkpoint = rebuild_checkpoint(s->rebuild);
}

void
subscriber_pack_status(const subscriber_t *s, codec_writer_t *w)
{
    const subscriber_status_t *st = &s->st;
    int64_t now = proc_now_us();
    int64_t lag_events = substate_lag_events(st->head, st->checkpoint);
    int64_t lag_ms = substate_lag_ms(lag_events, st->head_recorded_at, st->applied_recorded_at);
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_str(w, "service", s->cfg.name);
    codec_map_int(w, "checkpoint", st->checkpoint);
    codec_map_int(w, "head", st->head);
    codec_map_int(w, "lag_events", lag_events);
    codec_map_int(w, "lag_ms", lag_ms);
    codec_map_int(w, "heartbeat_age_ms", st->heartbeat_at ? (now - st->heartbeat_at) / 1000 : -1);
    codec_map_int(w, "applied", st->applied);
    codec_map_int(w, "duplicates", st->duplicates);
    codec_map_int(w, "gaps", st->gaps);
    codec_map_bool(w, "rebuilding", rebuild_model(s->rebuild) != NULL);
    codec_map_int(w, "rebuild_checkpoint", rebuild_checkpoint(s->rebuild));
    codec_map_int(w, "rebuilds", st->rebuilds);
    codec_map_int(w, "commits", st->commits);
    codec_map_bool(w, "model_unusable", st->unusable);
    codec_map_int(w, "chain_broken_at", st->chain_broken_at);
    codec_map_int(w, "store_damaged_at", st->store_damaged_at);
    codec_map_str(w, "model_problem", st->unusable ? s->problem : "");
    codec_map_close(w);
}

void
subscriber_set_factory(subscriber_t *s, const subscriber_factory_t *factory, const char *live_path)
{
    rebuild_set_factory(s->rebuild, factory, live_path);
}

/* ---- batches ------------------------------------------------------------- */

static void sub_rebuild_begin(subscriber_t *s);

/* The live model cannot go on (why): it is written no more, and a rebuild
 * from the log replaces it (sub_rebuild_step swaps it in at the head,
 * whatever the live checkpoint).  Without rebuild support (a --mode once
 * build) the daemon stops instead. */
static void
sub_replace_live(subscriber_t *s, const char *why)
{
    if (s->st.unusable)
        return;
    s->st.unusable = true;
    snprintf(s->problem, sizeof s->problem, "%s", why);
    char health[200];
    snprintf(health, sizeof health, "the %s model %s; a rebuild replaces it", s->cfg.name, why);
    metrics_set_problem(s->cfg.metrics, health);
    if (!rebuild_can(s->rebuild)) {
        LOG_E(NULL, "the %s model %s, and this run cannot rebuild it: stopping", s->cfg.name, why);
        s->failed = true;
        proc_request_stop();
        return;
    }
    LOG_E(NULL, "the %s model %s: it is written no more, and a rebuild from the event log "
                "replaces it",
          s->cfg.name, why);
    if (!rebuild_model(s->rebuild))
        sub_rebuild_begin(s);
}

/* After a failure of the live model: a damaged file is replaced (G14). */
static void
sub_check_damage(subscriber_t *s)
{
    if (modeldb_damaged(s->ops->db(s->model)))
        sub_replace_live(s, "has a damaged file");
}

static void sub_abort_batch(subscriber_t *s, const char *why);

/* Once a second: is the live model's file still the one the daemon
 * writes, and has no reader reported it damaged (modeldb_report_damage)?
 * A file deleted or replaced under the daemon (its writes would go to a
 * file nobody reads), or a damaged one, is replaced by a rebuild into a new
 * generation (G14): models are disposable.  Two or three stat()s. */
static void
sub_check_file(subscriber_t *s)
{
    int64_t now = proc_mono_ms();
    if (!s->model || s->st.unusable || now < s->file_check_ms)
        return;
    s->file_check_ms = now + FILE_CHECK_MS;
    sqlite3 *db = s->ops->db(s->model);
    if (!db)
        return;
    if (db != s->file_db) { /* first check, or a new generation swapped in */
        const char *name = sqlite3_db_filename(db, "main");
        s->file_db = name && name[0] && fileid_take(&s->file_id, name) == 0 ? db : NULL;
        if (!s->file_db)
            return;
    }
    const char *what = fileid_check(&s->file_id);
    if (!what && modeldb_damage_reported(s->file_id.path))
        what = "was reported damaged by a reader (SQLITE_CORRUPT)";
    if (!what)
        return;
    char why[160];
    snprintf(why, sizeof why, "file %.80s: %s", s->file_id.path, what);
    sub_abort_batch(s, why);
    sub_replace_live(s, why);
}

static void
sub_abort_batch(subscriber_t *s, const char *why)
{
    if (!s->in_tx)
        return;
    s->ops->rollback(s->model);
    s->in_tx = false;
    s->tx_count = 0;
    s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
    LOG_W(NULL, "batch rolled back (%s); checkpoint stays at %lld", why,
          (long long)s->st.checkpoint);
    sub_check_damage(s);
}

/* Commits the open batch, moving the checkpoint.  0 or -1 (rolled back). */
static int
sub_commit_batch(subscriber_t *s)
{
    if (!s->in_tx)
        return 0;
    if ((s->tx_hash_known &&
         modeldb_checkpoint_hash_set(s->ops->db(s->model), &s->hash_st, s->tx_hash,
                                     CHAIN_HASH_LEN) != SQLITE_OK) ||
        s->ops->commit(s->model, s->tx_last, s->tx_event_id) != 0) {
        sub_abort_batch(s, "commit failed");
        return -1;
    }
    memcpy(s->cp_hash, s->tx_hash, CHAIN_HASH_LEN);
    s->cp_hash_known = s->tx_hash_known;
    s->in_tx = false;
    s->st.checkpoint = s->tx_last;
    s->st.applied_recorded_at = s->tx_recorded;
    s->st.applied += s->tx_count;
    s->st.commits++;
    metrics_add(s->m_applied, s->tx_count);
    s->tx_count = 0;
    if (s->st.head < s->st.checkpoint)
        s->st.head = s->st.checkpoint;
    if (s->ops->committed)
        s->ops->committed(s->model);
    return 0;
}

/* The position the next applied event must have. */
static int64_t
sub_next(const subscriber_t *s)
{
    return (s->in_tx ? s->tx_last : s->st.checkpoint) + 1;
}

/* The checkpoint event's hash, read from the live model once (again after
 * a swap): the genesis at checkpoint 0; a model without one (written
 * before the chain, or by a rebuild) takes the next event's as it comes. */
static void
sub_chain_load(subscriber_t *s)
{
    if (s->chain_loaded)
        return;
    bool known = s->st.checkpoint == 0;
    memset(s->cp_hash, 0, CHAIN_HASH_LEN);
    if (!known && modeldb_checkpoint_hash_get(s->ops->db(s->model), s->cp_hash, CHAIN_HASH_LEN,
                                              &known) != SQLITE_OK)
        return; /* tried again at the next event */
    if (!known)
        LOG_I(NULL, "the %s model has no chain hash at its checkpoint %lld: the next event's is "
                    "taken as it comes, once",
              s->cfg.name, (long long)s->st.checkpoint);
    s->cp_hash_known = known;
    s->chain_loaded = true;
}

/* Whether ev links to the hash of the event before it (the batch's last,
 * or the checkpoint's): recomputed from its bytes as they came.  A
 * mismatch (changed bytes on the way, or a damaged store served anyway) is
 * not applied: logged once per position and put in Status. */
static bool
sub_chain_follows(subscriber_t *s, const event_t *ev)
{
    sub_chain_load(s);
    if (!s->chain_loaded)
        return false;
    const uint8_t *prev = s->in_tx ? s->tx_hash : s->cp_hash;
    bool known = s->in_tx ? s->tx_hash_known : s->cp_hash_known;
    const char *type = event_spec(ev->env.type)->name;
    chain_event_t cev = {ev->env.stream, strlen(ev->env.stream), ev->env.version, type,
                         strlen(type),   ev->raw_data,           ev->raw_len,     ev->env.recorded_at};
    if (ev->raw_data && (!known || chain_check(prev, &cev, ev->env.hash)))
        return true;
    if (s->st.chain_broken_at != ev->env.position)
        LOG_E(ev->env.correlation_id,
              "position %lld does not follow the hash chain (its bytes changed on the way or "
              "the event store is damaged there): not applied; the %s model stays at %lld",
              (long long)ev->env.position, s->cfg.name, (long long)s->st.checkpoint);
    s->st.chain_broken_at = ev->env.position;
    s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
    return false;
}

/* Applies ev, which must be sub_next(s), inside the batch. 0 or -1. */
static int
sub_apply(subscriber_t *s, const event_t *ev)
{
    if (s->st.unusable)
        return -1; /* written no more: a rebuild replaces it */
    if (!sub_chain_follows(s, ev))
        return -1;
    if (!s->in_tx) {
        if (s->ops->begin(s->model) != 0) {
            s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
            LOG_W(NULL, "cannot begin a transaction; will retry");
            return -1;
        }
        s->in_tx = true;
        s->tx_count = 0;
        s->tx_pages = 0;
        s->tx_started_ms = proc_mono_ms();
        memcpy(s->tx_hash, s->cp_hash, CHAIN_HASH_LEN);
        s->tx_hash_known = s->cp_hash_known;
    }
    if (s->ops->apply(s->model, ev) != 0) {
        LOG_E(ev->env.correlation_id, "applying position %lld (%s) failed: %s",
              (long long)ev->env.position, event_spec(ev->env.type)->name,
              sqlite3_errmsg(s->ops->db(s->model)));
        sub_abort_batch(s, "apply failed");
        return -1;
    }
    s->tx_last = ev->env.position;
    memcpy(s->tx_hash, ev->env.hash, CHAIN_HASH_LEN);
    s->tx_hash_known = true;
    if (s->st.chain_broken_at && ev->env.position >= s->st.chain_broken_at)
        s->st.chain_broken_at = 0; /* the event came intact after all */
    s->tx_recorded = ev->env.recorded_at;
    strcopy(s->tx_event_id, sizeof s->tx_event_id, ev->env.event_id);
    s->tx_count++;
    if (s->tx_count >= s->cfg.batch_max)
        return sub_commit_batch(s);
    return 0;
}

/* ---- catch-up ------------------------------------------------------------ */

/* A catch-up page: its events at a cursor, and how many there are. */
typedef struct {
    mpread_t events;
    uint32_t n;
} sub_page_t;

/* Applies one page of catch-up events; returns how many were applied, or -1. */
static int
sub_apply_page(subscriber_t *s, sub_page_t *page)
{
    int applied = 0;
    for (uint32_t i = 0; i < page->n; i++) {
        const char *why;
        if (codec_read_event(&page->events, &s->ev, &why) != 0) {
            LOG_E(NULL, "catch-up event does not decode (%s); stopping here", why);
            sub_abort_batch(s, "undecodable event");
            return -1;
        }
        int64_t pos = s->ev.env.position;
        substate_page_t what = substate_on_page_event(pos, sub_next(s));
        if (what == SUBSTATE_PAGE_SKIP)
            continue;
        if (what == SUBSTATE_PAGE_OUT_OF_ORDER) {
            LOG_E(NULL, "catch-up returned position %lld, expected %lld", (long long)pos,
                  (long long)sub_next(s));
            sub_abort_batch(s, "catch-up out of order");
            return -1;
        }
        if (sub_apply(s, &s->ev) != 0)
            return -1;
        applied++;
    }
    return applied; /* the batch stays open: sub_catch_up commits once per turn */
}

typedef int (*page_fn)(subscriber_t *s, sub_page_t *page);

/* What sub_fetch_page returns while the reply is not in yet: the request
 * stays outstanding, and the loop polls for it (pagefetch.h). */
#define SUB_WAIT (-2)

/* Position of the last event in a page, or -1 (decoded into s->ev). */
static int64_t
sub_page_last(subscriber_t *s, const sub_page_t *page)
{
    mpread_t r = page->events;
    const char *why;
    if (page->n == 0)
        return -1;
    for (uint32_t i = 0; i + 1 < page->n; i++)
        if (mpread_skip(&r) != 0)
            return -1;
    return codec_read_event(&r, &s->ev, &why) == 0 ? s->ev.env.position : -1;
}

enum { PK_HEAD, PK_AFTER, PK_EVENTS, PK_DAMAGED, PK__COUNT };
static const codec_key_t page_keys[PK__COUNT] = {CODEC_KEY("head"), CODEC_KEY("after"),
                                                 CODEC_KEY("events"), CODEC_KEY("damaged_at")};

/* Reads the ReadEvents reply to the request for the page after `after`:
 * its head and its page of events.  0, or -1 with why. */
static int
sub_read_page(const void *reply, size_t len, int64_t after, int64_t *head, sub_page_t *page,
              int64_t *damaged_at, const char **why)
{
    mpread_t r, v[PK__COUNT];
    uint32_t found;
    int unknown;
    int64_t answered;
    if (codec_reader_init(&r, reply, len, why) != 0)
        return -1;
    if (codec_map_index(&r, page_keys, PK__COUNT, v, &found, &unknown) != 0 ||
        (found & ((1u << PK_DAMAGED) - 1)) != (1u << PK_DAMAGED) - 1 || mpread_int(&v[PK_HEAD], head) != 0 ||
        mpread_int(&v[PK_AFTER], &answered) != 0 || mpread_array(&v[PK_EVENTS], &page->n) != 0) {
        *why = "not a map of head, after and an events array";
        return -1;
    }
    if (answered != after) {
        *why = "an answer to another request";
        return -1;
    }
    *damaged_at = 0;
    if ((found & (1u << PK_DAMAGED)) && mpread_int(&v[PK_DAMAGED], damaged_at) != 0) {
        *why = "damaged_at is not an integer";
        return -1;
    }
    page->events = v[PK_EVENTS];
    return 0;
}

int
subscriber_read_page(const void *reply, size_t len, int64_t after, int64_t *head, mpread_t *events,
                     uint32_t *n, int64_t *damaged_at, const char **why)
{
    sub_page_t page;
    if (sub_read_page(reply, len, after, head, &page, damaged_at, why) != 0)
        return -1;
    *events = page.events;
    *n = page.n;
    return 0;
}

/* A store's head never goes down: one below the checkpoint says the store
 * behind the endpoints may not be the one the model was built from (a
 * restore from an older backup): the next catch-up checks first.  A
 * heartbeat can also say so harmlessly, when a catch-up served events the
 * relay had not published yet; the check then passes, hence no warning. */
static void
sub_head_below(subscriber_t *s, int64_t head)
{
    if (!substate_head_below(head, s->st.checkpoint, s->verified, s->st.unusable))
        return;
    LOG_D(NULL, "the store's head %lld is below the checkpoint %lld: checking the model against "
                "the store",
          (long long)head, (long long)s->st.checkpoint);
    s->verified = false;
}

/* Gets the page after `after` through f (asked for already when it was
 * prefetched; another request outstanding there is dropped) and hands its
 * events to fn; when the page is full, the next page is requested before
 * fn runs, so the relay reads while we apply.  Never waits: returns
 * SUB_WAIT while the reply is not in, what fn returns (events applied, 0 at
 * the head), or -1 on failure (no reply by the deadline included). */
static int
sub_fetch_page(subscriber_t *s, pagefetch_t *f, int64_t after, page_fn fn)
{
    void *reply = NULL;
    size_t len = 0;
    pagefetch_result_t got = pagefetch_take(f, after, proc_mono_ms(), &reply, &len);
    if (got == PAGEFETCH_WAITING)
        return SUB_WAIT;
    if (got == PAGEFETCH_FAILED) {
        LOG_W(NULL, "catch-up endpoint %s did not answer (or is not the leader); will retry%s",
              s->cfg.catchup_ep, strchr(s->cfg.catchup_ep, ',') ? " on the next one" : "");
        return -1;
    }
    const char *why;
    int rc = -1;
    int64_t head = 0;
    sub_page_t page;
    int64_t damaged_at = 0;
    if (sub_read_page(reply, len, after, &head, &page, &damaged_at, &why) == 0) {
        if (damaged_at != s->st.store_damaged_at && damaged_at > 0)
            LOG_E(NULL, "the relay reports the event store damaged at position %lld: nothing "
                        "from it on is served; the %s model stays at %lld",
                  (long long)damaged_at, s->cfg.name, (long long)s->st.checkpoint);
        s->st.store_damaged_at = damaged_at;
        /* heads only rise, but for one case (substate.h) */
        s->st.head = substate_page_head(s->st.head, head, page.n, after);
        sub_head_below(s, head);
        int64_t last = sub_page_last(s, &page);
        if (page.n >= (uint32_t)s->cfg.catchup_page && last > after)
            pagefetch_ask(f, last, proc_mono_ms()); /* a failure shows at its take */
        rc = fn(s, &page);
    } else {
        LOG_W(NULL, "catch-up reply unusable (%s)", why);
        pagefetch_reset(f); /* drops anything else the relay sent on that socket */
    }
    free(reply);
    return rc;
}

/* page_fn of sub_verify: 0 when the page starts with the model's checkpoint
 * event, 1 when the store holds another event there or none. */
static int
sub_verify_page(subscriber_t *s, sub_page_t *page)
{
    const char *why;
    bool has_event = page->n > 0 && codec_read_event(&page->events, &s->ev, &why) == 0;
    if (!has_event && s->st.store_damaged_at > 0 && s->st.store_damaged_at <= s->st.checkpoint)
        return -1; /* not served past the damage: not settled, the model stays (no rebuild) */
    substate_history_t h = substate_history(s->st.checkpoint, s->fingerprint, has_event,
                                            s->ev.env.position, s->ev.env.event_id);
    if (h == SUBSTATE_NO_EVENT) {
        LOG_E(NULL, "the event store has no event at the %s model's checkpoint %lld (head %lld)",
              s->cfg.name, (long long)s->st.checkpoint, (long long)s->st.head);
        return 1;
    }
    if (h == SUBSTATE_OTHER_HISTORY) {
        LOG_E(NULL, "position %lld is event %s in the event store, %s in the %s model",
              (long long)s->st.checkpoint, s->ev.env.event_id, s->fingerprint, s->cfg.name);
        return 1;
    }
    return 0;
}

/* Whether the model was built from the store's history: its checkpoint
 * event must be the store's event at that position (a store restored from
 * an older backup, or another store behind the same endpoints, is caught
 * here before anything is applied).  A model that does not match is
 * replaced by a rebuild.  0 when the catch-up may go on, -1 when it was not
 * settled (the reply is not in yet, or retried later) or the model is
 * being replaced. */
static int
sub_verify(subscriber_t *s)
{
    if (s->verified)
        return 0;
    if (s->st.checkpoint > 0 && !s->in_tx) {
        if (modeldb_checkpoint_event_get(s->ops->db(s->model), s->fingerprint,
                                         sizeof s->fingerprint) != SQLITE_OK)
            return -1;
        int rc = substate_needs_check(s->st.checkpoint, s->fingerprint)
                     ? sub_fetch_page(s, s->fetch, s->st.checkpoint - 1, sub_verify_page)
                     : 0;
        if (rc == SUB_WAIT)
            return -1;
        if (rc < 0) {
            s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
            return -1;
        }
        if (rc > 0) {
            s->verified = true;
            sub_replace_live(s, "was built from another history than the event store's");
            return -1;
        }
    }
    s->verified = true;
    return 0;
}

/* Commits the open batch, then pages until the checkpoint reaches the head
 * known at the time, or until a page's reply is not in yet: the next call
 * goes on from there, into the same batch (held open while its catch-up
 * waits, unless the model must be verified first).  The batch commits
 * every `turn` pages, at the head and on failure (then with the retry timer
 * set), and a call applies at most `turn` pages: the loop keeps answering
 * control requests while a long catch-up is under way. */
static void
sub_catch_up(subscriber_t *s, const char *reason)
{
    bool held = s->catching_up && s->verified;
    s->catching_up = false; /* from here on its batch commits as a live one would */
    if (proc_mono_ms() < s->retry_at_ms || s->st.unusable)
        return;
    if ((!held && sub_commit_batch(s) != 0) || sub_verify(s) != 0)
        return;
    int64_t from = s->st.checkpoint;
    int turn = s->cfg.once ? CATCHUP_PAGES_PER_TURN_ONCE : CATCHUP_PAGES_PER_TURN;
    for (int pages = 0; pages < turn && !proc_stopping(); pages++) {
        int n = sub_fetch_page(s, s->fetch, sub_next(s) - 1, sub_apply_page);
        if (n == SUB_WAIT) {
            s->catching_up = true; /* the loop polls for the reply, then calls again */
            break;
        }
        if (n < 0) {
            s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
            break;
        }
        if (s->in_tx && ++s->tx_pages >= turn && sub_commit_batch(s) != 0) {
            s->synced = false;
            break;
        }
        if (n == 0 || sub_next(s) - 1 >= s->st.head) {
            s->synced = true;
            break;
        }
    }
    if (!s->catching_up && sub_commit_batch(s) != 0)
        s->synced = false;
    if (s->st.checkpoint != from)
        LOG_I(NULL, "caught up (%s): %lld events, checkpoint %lld -> %lld, head %lld", reason,
              (long long)(s->st.checkpoint - from), (long long)from, (long long)s->st.checkpoint,
              (long long)s->st.head);
}

/* ---- rebuild (the files and the swap: rebuild.c) ------------------------- */

/* page_fn of a rebuild step: the page into the model being rebuilt. */
static int
sub_rebuild_page(subscriber_t *s, sub_page_t *page)
{
    return rebuild_apply_page(s->rebuild, &page->events, page->n, &s->ev);
}

/* Commits the live batch, then swaps the rebuilt model in. */
static void
sub_rebuild_swap(subscriber_t *s)
{
    if (sub_commit_batch(s) != 0)
        return;
    sqlite3_finalize(s->hash_st); /* of the model that goes */
    s->hash_st = NULL;
    s->file_db = NULL; /* the next sub_check_file takes the new file's identity (a new
                          connection may even have the old one's address) */
    if (rebuild_swap(s->rebuild, &s->model) != 0)
        return;
    s->chain_loaded = false;
    s->st.checkpoint = rebuild_checkpoint(s->rebuild);
    s->st.rebuilds++;
    metrics_add(s->m_rebuilds, 1);
    if (s->st.unusable)
        metrics_set_problem(s->cfg.metrics, NULL);
    s->st.unusable = false;
    s->verified = true; /* built from this store */
}

/* One step of a running rebuild: a page, or the swap once it has caught up
 * with the live model. */
static void
sub_rebuild_step(subscriber_t *s)
{
    int64_t at = rebuild_checkpoint(s->rebuild);
    if (substate_swap_due(at, s->st.checkpoint, s->st.head, s->st.unusable)) {
        sub_rebuild_swap(s);
        return;
    }
    if (proc_mono_ms() < s->retry_at_ms)
        return;
    int rc = sub_fetch_page(s, s->rebuild_fetch, at, sub_rebuild_page);
    if (rc < 0 && rc != SUB_WAIT) {
        s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
        rebuild_page_failed(s->rebuild);
    }
}

/* Opens a new generation and starts building it; NULL, or why not. */
static const char *
sub_rebuild_open(subscriber_t *s)
{
    return rebuild_open(s->rebuild, s->st.head);
}

/* The rebuild that replaces a damaged model; tried again later on failure. */
static void
sub_rebuild_begin(subscriber_t *s)
{
    const char *problem = sub_rebuild_open(s);
    if (problem) {
        LOG_E(NULL, "cannot start the rebuild (%s); trying again", problem);
        s->retry_at_ms = proc_mono_ms() + RETRY_BACKOFF_MS;
    }
}

/* {"type":"Rebuild"}: starts one and packs the reply. */
static void
sub_rebuild_start(subscriber_t *s, codec_writer_t *w)
{
    const char *problem = sub_rebuild_open(s);
    if (problem) {
        codec_pack_error(w, &(codec_error_t){.code = "unavailable", .message = problem});
        return;
    }
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_str(w, "path", rebuild_path(s->rebuild));
    codec_map_int(w, "target_position", s->st.head);
    codec_map_close(w);
}

/* ---- live messages ------------------------------------------------------- */

/* Watches the SUB socket for disconnects: a relay that went away may come
 * back on another store (a restore, then new commands written past the
 * checkpoint before it published anything), so after one nothing new is
 * applied until the model has been checked against the store (G15).  0 or
 * -1. */
static int
sub_monitor_open(subscriber_t *s)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://subscriber-monitor-%p", (void *)s);
    if (zmq_socket_monitor(s->sub, ep, ZMQ_EVENT_DISCONNECTED) != 0)
        return -1;
    s->monitor = zmq_socket(s->zctx, ZMQ_PAIR);
    return s->monitor && zmq_connect(s->monitor, ep) == 0 ? 0 : -1;
}

/* Reads the monitor's events (two frames each: event number and value,
 * then the endpoint); a disconnect makes the next catch-up check first. */
static void
sub_monitor_drain(subscriber_t *s)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (!s->monitor || zmq_msg_recv(&m, s->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&m) >= sizeof event)
            memcpy(&event, zmq_msg_data(&m), sizeof event);
        while (zmq_msg_more(&m) && zmq_msg_recv(&m, s->monitor, ZMQ_DONTWAIT) >= 0)
            ;
        zmq_msg_close(&m);
        if (event == ZMQ_EVENT_DISCONNECTED && s->verified && !s->st.unusable) {
            LOG_I(NULL, "the relay's event socket disconnected: the model is checked against the "
                        "store before anything new is applied");
            s->verified = false;
        }
    }
}

/* A heartbeat's keys: read with the cursor, so that a large hostile one
 * costs no more memory than its own frame (msgpack-c's zone took ~25x). */
/* The relay sends one every 500 ms; the head of at most one per
 * SUB_HEARTBEAT_MIN_MS is taken, so a flood announcing a head the catch-up
 * does not have makes a catch-up that often, not on every loop turn. */
#define SUB_HEARTBEAT_MIN_MS 200
static const codec_key_t heartbeat_keys[] = {CODEC_KEY("head"), CODEC_KEY("head_recorded_at")};

int
subscriber_read_heartbeat(const void *body, size_t len, int64_t *head, int64_t *recorded_at)
{
    const char *why;
    mpread_t r, v[2];
    uint32_t found = 0;
    int unknown;
    *head = 0;
    *recorded_at = 0;
    if (codec_reader_init(&r, body, len, &why) != 0 ||
        codec_map_index(&r, heartbeat_keys, 2, v, &found, &unknown) != 0 || !(found & 1u) ||
        mpread_int(&v[0], head) != 0)
        return -1;
    if (found & 2u)
        mpread_int(&v[1], recorded_at);
    return 0;
}

static void
sub_on_heartbeat(subscriber_t *s, const void *body, size_t len)
{
    int64_t head = 0, rec = 0;
    if (subscriber_read_heartbeat(body, len, &head, &rec) == 0) {
        int64_t now_ms = proc_mono_ms();
        if (s->heartbeat_taken_ms && now_ms - s->heartbeat_taken_ms < SUB_HEARTBEAT_MIN_MS)
            return; /* a flood: the head of one in SUB_HEARTBEAT_MIN_MS is enough */
        s->heartbeat_taken_ms = now_ms;
        s->st.heartbeat_at = proc_now_us();
        if (head >= s->st.head) {
            s->st.head = head;
            if (rec)
                s->st.head_recorded_at = rec;
        }
        if (!s->many_pubs) /* with several relays, only catch-up replies (the leader's) say so */
            sub_head_below(s, head);
    } else {
        LOG_W(NULL, "heartbeat does not decode; ignored");
    }
}

/* Handles one live event decoded into s->ev; returns true when a gap was
 * seen. */
static bool
sub_on_decoded(subscriber_t *s)
{
    int64_t pos = s->ev.env.position;
    if (pos > s->st.head) {
        s->st.head = pos;
        s->st.head_recorded_at = s->ev.env.recorded_at;
    }
    switch (substate_on_event(pos, sub_next(s), s->verified, s->st.unusable)) {
    case SUBSTATE_IGNORE:
        return false; /* the rebuild reads the log */
    case SUBSTATE_DUPLICATE:
        s->st.duplicates++;
        return false;
    case SUBSTATE_CATCH_UP:
        return true; /* a gap, or the catch-up verifies first */
    case SUBSTATE_APPLY:
        break;
    }
    return sub_apply(s, &s->ev) != 0;
}

/* Handles one live `event` message; returns true when a gap was seen. */
static bool
sub_on_event(subscriber_t *s, const void *body, size_t len)
{
    const char *why;
    if (codec_decode_event(body, len, &s->ev, &why) != 0) {
        LOG_E(NULL, "event on the bus does not decode (%s); checkpoint not advanced", why);
        return true; /* whatever it was, catch-up will fetch it again from the store */
    }
    return sub_on_decoded(s);
}

/* Handles one live `events` message (an array of events in position
 * order); returns true when a gap was seen.  What follows a gap in the
 * batch is left to the catch-up that the gap starts. */
static bool
sub_on_events(subscriber_t *s, const void *body, size_t len)
{
    mpread_t r;
    uint32_t n = 0;
    const char *why = "not an array";
    bool gap = false;
    if (codec_reader_init(&r, body, len, &why) != 0 || mpread_array(&r, &n) != 0) {
        LOG_E(NULL, "event batch on the bus does not decode (%s); checkpoint not advanced", why);
        gap = true;
    }
    for (uint32_t i = 0; !gap && i < n; i++) {
        if (codec_read_event(&r, &s->ev, &why) != 0) {
            LOG_E(NULL, "event %u of a batch on the bus does not decode (%s)", i, why);
            gap = true;
        } else {
            gap = sub_on_decoded(s);
        }
    }
    return gap;
}

/* Drains up to batch_max live messages; returns true when a catch-up is due. */
static bool
sub_drain_live(subscriber_t *s)
{
    bool gap = false;
    for (int i = 0; i < s->cfg.batch_max && !gap; i++) {
        sub_monitor_drain(s); /* a message after a disconnect may be another store's */
        bus_msg_t m;
        if (bus_recv(s->sub, &m, ZMQ_DONTWAIT) != 0)
            break;
        size_t len;
        const void *body = bus_body(&m, &len);
        if (m.count == 2 && bus_frame_is(&m, 0, TOPIC_EVENT))
            gap = sub_on_event(s, body, len);
        else if (m.count == 2 && bus_frame_is(&m, 0, TOPIC_EVENTS))
            gap = sub_on_events(s, body, len);
        else if (m.count == 2 && bus_frame_is(&m, 0, TOPIC_HEARTBEAT))
            sub_on_heartbeat(s, body, len);
        else
            LOG_W(NULL, "unexpected message of %d frames on the event bus", m.count);
        bus_msg_close(&m);
    }
    return gap || substate_behind(s->st.head, sub_next(s));
}

/* ---- control ------------------------------------------------------------- */

#define SUB_TYPE_MAX 63 /* bytes of a control request's type */

static int
sub_on_status(void *arg, rpc_request_t *req)
{
    subscriber_pack_status(arg, req->w);
    return RPC_REPLY;
}

static int
sub_on_rebuild(void *arg, rpc_request_t *req)
{
    sub_rebuild_start(arg, req->w);
    return RPC_REPLY;
}

/* Every other type goes to the daemon's handler, which may not know it. */
static int
sub_on_other(void *arg, rpc_request_t *req)
{
    subscriber_t *s = arg;
    char type[SUB_TYPE_MAX + 1];
    memcpy(type, req->type, req->type_len); /* type_len <= SUB_TYPE_MAX */
    type[req->type_len] = '\0';
    if (!s->control_fn || s->control_fn(s->control_arg, type, &req->map, req->w) != 0)
        return RPC_UNKNOWN;
    return RPC_REPLY;
}

/* The control ROUTER (docs/protocol.md, sections 11 and 12). */
static const rpc_proto_t sub_control_proto = {
    .type_max = SUB_TYPE_MAX,
    .bad_frames = "expected one body frame after the routing envelope",
    .too_large = "message exceeds 64 KiB",
    .unknown = "unknown request type",
    .log_dropped = "control reply dropped: %s",
};
static const rpc_route_t sub_control_routes[] = {
    {.type = "Status", .handle = sub_on_status, .roles = ROLES_STATUS},
    {.type = "Rebuild", .handle = sub_on_rebuild, .roles = ROLES_OPERATE},
    {.type = "ReloadKeys", .handle = rpc_on_reload_keys, .roles = ROLES_OPERATE},
    {.type = RPC_ANY, .handle = sub_on_other, .roles = ROLES_READ},
};
static const rpc_endpoint_t sub_control_endpoint = {
    &sub_control_proto, sub_control_routes,
    sizeof sub_control_routes / sizeof sub_control_routes[0]};

/* Answers one control request, if one is waiting. */
static void
sub_on_control(subscriber_t *s)
{
    rpc_serve(&sub_control_endpoint, s->control, s, &s->w);
}

int
subscriber_handle_control(subscriber_t *s, rpc_request_t *req)
{
    return rpc_handle(&sub_control_endpoint, s, req);
}

/* ---- loop ---------------------------------------------------------------- */

/* While a live batch lingers the event socket is not polled: events wait in
 * its queue and are drained at the batch's commit time, or every
 * LINGER_DRAIN_MS of a longer linger (so a batch still ends at batch_max
 * and the queue stays far below the high-water marks), so a stream of small
 * publishes wakes this thread once per batch instead of once per message
 * (at 5,000 commands/s most of a subscriber's CPU was wake-ups). */
#define LINGER_DRAIN_MS 10
static bool
sub_lingering(const subscriber_t *s)
{
    return s->in_tx && !s->catching_up && !rebuild_model(s->rebuild) && !s->cfg.once;
}

/* Whether the loop waits for something: a catch-up reply in flight, or the
 * end of a back-off. */
static bool
sub_awaiting(const subscriber_t *s, int64_t now)
{
    return pagefetch_socket(s->fetch) || pagefetch_socket(s->rebuild_fetch) ||
           now < s->retry_at_ms;
}

/* The sooner of a wait t and `left` (ms, -1: nothing to wait for). */
static int64_t
sub_sooner(int64_t t, int64_t left)
{
    return left >= 0 && left < t ? left : t;
}

/* How long the loop may sleep: not past an open batch's commit time, a
 * catch-up reply's deadline or the end of a back-off; not at all while a
 * rebuild or a once run has work that waits for nothing. */
static long
sub_poll_timeout(const subscriber_t *s)
{
    int64_t now = proc_mono_ms();
    int64_t t = 200;
    if (s->in_tx && !s->catching_up) { /* a catch-up's batch waits for its page */
        t = s->tx_started_ms + s->cfg.commit_linger_ms - now;
        if (t > LINGER_DRAIN_MS && sub_lingering(s))
            t = LINGER_DRAIN_MS;
    }
    if ((rebuild_model(s->rebuild) || s->cfg.once) && !sub_awaiting(s, now))
        t = 0;
    t = sub_sooner(t, pagefetch_wait_ms(s->fetch, now));
    t = sub_sooner(t, pagefetch_wait_ms(s->rebuild_fetch, now));
    t = sub_sooner(t, now < s->retry_at_ms ? s->retry_at_ms - now : -1);
    return t > 0 ? (long)t : 0;
}

/* The catch-up sockets awaiting a reply, as poll items; how many (0..2). */
static int
sub_fetch_items(const subscriber_t *s, zmq_pollitem_t *items)
{
    int n = 0;
    void *sock = pagefetch_socket(s->fetch);
    if (sock)
        items[n++] = (zmq_pollitem_t){sock, 0, ZMQ_POLLIN, 0};
    if ((sock = pagefetch_socket(s->rebuild_fetch)))
        items[n++] = (zmq_pollitem_t){sock, 0, ZMQ_POLLIN, 0};
    return n;
}

/* One turn of the loop after its poll (rc; events_in: the event socket was
 * readable): live events, catch-up, the batch's commit time, the rebuild. */
static void
sub_turn(subscriber_t *s, int rc, bool events_in)
{
    int64_t now = proc_mono_ms();
    pagefetch_update(s->fetch, now);
    pagefetch_update(s->rebuild_fetch, now);
    sub_check_file(s);
    sub_monitor_drain(s);
    bool due = s->in_tx && !s->catching_up && now - s->tx_started_ms >= s->cfg.commit_linger_ms;
    bool live = due || events_in || (rc == 0 && sub_lingering(s));
    if (live && sub_drain_live(s)) {
        if (!s->catching_up)
            s->st.gaps++; /* a catch-up that waits for its page is not started again */
        sub_catch_up(s, "gap");
    } else if (substate_behind(s->st.head, sub_next(s)) || (s->cfg.once && !s->synced) ||
               s->catching_up)
        sub_catch_up(s, "behind head");
    else if (!s->verified)
        sub_catch_up(s, "check");
    if (due)
        sub_commit_batch(s);
    if (rebuild_model(s->rebuild) && s->model)
        sub_rebuild_step(s);
    else if (s->st.unusable && !rebuild_model(s->rebuild) && proc_mono_ms() >= s->retry_at_ms)
        sub_rebuild_begin(s); /* the last attempt failed or was abandoned */
}

/* The event socket and its monitor, and the catch-up requests (the
 * rebuild's on a socket of its own, so that neither drops the other's
 * request).  0 or -1 (logged). */
static int
sub_connect(subscriber_t *s)
{
    const subscriber_config_t *c = &s->cfg;
    s->sub = bus_connect_list(s->zctx, ZMQ_SUB, c->events_ep);
    s->many_pubs = strchr(c->events_ep, ',') != NULL;
    s->fetch = pagefetch_new(s->zctx, c->catchup_ep, c->catchup_page, c->catchup_timeout_ms);
    s->rebuild_fetch =
        pagefetch_new(s->zctx, c->catchup_ep, c->catchup_page, c->catchup_timeout_ms);
    if (!s->sub || !s->fetch || !s->rebuild_fetch) {
        LOG_E(NULL, "cannot connect to %s / %s", c->events_ep, c->catchup_ep);
        return -1;
    }
    if (sub_monitor_open(s) != 0)
        LOG_W(NULL, "cannot watch the event socket (%s): a relay restarted on another store is "
                    "noticed only by its head",
              zmq_strerror(errno));
    return 0;
}

/* At start: PRAGMA quick_check of the live model (damage inside its
 * pages that its own writes may never touch, but queries read: issue 23
 * item 10).  A damaged one is replaced by a rebuild, as in G14. */
static void
sub_check_at_start(subscriber_t *s)
{
    sqlite3 *db = s->ops->db(s->model);
    if (!db || s->st.unusable)
        return;
    char why[192];
    int64_t t0 = proc_mono_us();
    int damaged = modeldb_quick_check(db, why, sizeof why);
    int64_t took_ms = (proc_mono_us() - t0) / 1000;
    if (damaged == 1) {
        LOG_E(NULL, "the %s model failed PRAGMA quick_check at start (%lld ms): %s", s->cfg.name,
              (long long)took_ms, why);
        sub_replace_live(s, "has a damaged file");
    } else if (damaged < 0) {
        LOG_W(NULL, "cannot check the %s model at start (%s)", s->cfg.name, why);
    } else if (took_ms >= 100) {
        LOG_I(NULL, "the %s model passed its check at start (%lld ms)", s->cfg.name,
              (long long)took_ms);
    }
}

int
subscriber_run(subscriber_t *s)
{
    if (modeldb_set_sync(s->ops->db(s->model), s->cfg.sync) != SQLITE_OK) {
        LOG_E(NULL, "cannot turn the model's fsyncs off: %s", sqlite3_errmsg(s->ops->db(s->model)));
        return -1;
    }
    if (s->ops->checkpoint(s->model, &s->st.checkpoint) != 0) {
        LOG_E(NULL, "cannot read the checkpoint");
        if (!modeldb_damaged(s->ops->db(s->model)))
            return -1;
        s->st.checkpoint = 0;
        sub_replace_live(s, "has a damaged file"); /* its rebuild starts at once */
        if (s->failed)
            return -1;
    }
    sub_check_at_start(s);
    if (s->failed)
        return -1;
    if (sub_connect(s) != 0)
        return -1;
    LOG_I(NULL, "%s starting at checkpoint %lld; following %s, catch-up %s", s->cfg.name,
          (long long)s->st.checkpoint, s->cfg.events_ep, s->cfg.catchup_ep);
    sub_catch_up(s, "start");
    while (!proc_stopping() && !(s->cfg.once && s->synced && s->st.checkpoint >= s->st.head)) {
        zmq_pollitem_t items[4];
        int n = 0, ic = -1;
        items[n++] = (zmq_pollitem_t){s->sub, 0, sub_lingering(s) ? 0 : ZMQ_POLLIN, 0};
        if (s->control) {
            ic = n;
            items[n++] = (zmq_pollitem_t){s->control, 0, ZMQ_POLLIN, 0};
        }
        n += sub_fetch_items(s, items + n);
        int rc = zmq_poll(items, n, sub_poll_timeout(s));
        if (rc < 0 && errno != EINTR)
            break;
        if (ic >= 0 && (items[ic].revents & ZMQ_POLLIN))
            sub_on_control(s); /* first: a request waits for nothing else */
        sub_turn(s, rc, rc > 0 && (items[0].revents & ZMQ_POLLIN));
        sub_publish(s);
    }
    if (rebuild_model(s->rebuild))
        rebuild_abandon(s->rebuild, "stopping");
    sub_commit_batch(s);
    sqlite3_finalize(s->hash_st); /* the daemon closes (or finishes) the model next */
    s->hash_st = NULL;
    LOG_I(NULL, "%s stopping at checkpoint %lld", s->cfg.name, (long long)s->st.checkpoint);
    return s->failed ? -1 : 0;
}
