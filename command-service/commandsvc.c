/* commandsvc: see commandsvc.h. */
#include "commandsvc.h"

#include "aggcache.h"
#include "aggstore.h"
#include "bus.h"
#include "fileid.h"
#include "log.h"
#include "proc.h"
#include "rpc.h"
#include "strcopy.h"
#include "syncer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A batch that takes this long (begin to commit) is logged: on a virtual
 * disk an fsync sometimes stalls for 100 ms (docs/decisions.md, item 13). */
#define SLOW_BATCH_US 100000
/* At a stop, how long the last batches may wait for their fsync. */
#define DRAIN_MS 10000
/* How often the store's file and WAL are checked for having been deleted
 * or replaced under the service (svc_check_store): two stat()s a second. */
#define STORE_CHECK_MS 1000
/* With a replicated log: how often the service asks who leads and, on a
 * standby, copies the log into events.db (at most REPLICA_PULL_MAX events
 * a tick, so that it keeps answering). */
#define REPLICA_TICK_MS 100
#define REPLICA_PULL_MAX 20000
/* An activation that keeps failing for one reason (a full disk, an
 * events.db that is not a prefix of the log) is tried every tick but
 * logged once, and again after this long if it lasts. */
#define ACTIVATE_LOG_MS 60000
/* svc_push's "the batch is answered already" (not an err_t). */
#define SVC_ANSWERED 1

typedef struct {
    bus_msg_t msg; /* the request, kept for its routing frames */
    int n_env;     /* routing frames to echo */
    command_t cmd;
    command_reply_t reply;
} pending_t;

/* A batch is filled, run in one transaction, then (with a syncer) waits
 * for the fsync that makes it durable before its replies go out.  The
 * ring holds the batch being filled and those waiting. */
#define BATCHES 3

typedef struct {
    pending_t *items; /* batch_max slots */
    int n;
    uint64_t seq;    /* the syncer request that covers it */
    int64_t through; /* highest committed position when it committed */
    bool committed;  /* false: rolled back, nothing to announce */
} batch_t;

struct commandsvc {
    eventstore_t *es;
    void *router;
    void *nudge;
    commandsvc_opts_t opts;
    aggcache_t *cache;
    batch_t ring[BATCHES];
    int oldest, waiting; /* the ring: committed batches not yet answered */
    uint64_t seq;        /* last syncer request */
    int64_t appended;    /* highest position appended in the open transaction */
    int64_t through;     /* highest committed position */
    int64_t durable;     /* highest position announced to the relay */
    event_t ev;          /* scratch for the event being appended */
    decision_t decision; /* scratch */
    codec_writer_t w;
    int64_t accepted, rejected, batches, unavailable;
    int64_t damaged_commands; /* commands failed on a damaged stream (svc_damaged) */
    int64_t loads;            /* aggregates loaded from the store: cache misses */
    fileid_t store_id;        /* events.db and its WAL as opened */
    bool store_id_taken;      /* store_id holds them (it could be taken at start) */
    const char *store_lost;   /* why the store is written no more (fileid_check), NULL: fine */
    int64_t store_check_ms;   /* monotonic time of the next check */
    /* metrics (opts.metrics; NULL when none): a reply counts once */
    metrics_counter_t *m_accepted, *m_duplicate;
    metrics_counter_t *m_rejected[REJ__COUNT]; /* by code; [REJ_NONE] unused */
    metrics_histogram_t *m_batch;              /* commands per batch */
    int64_t health_state;       /* told to the health: 0 fine, -1 store lost, else damaged at */
    bool active;                /* may write: no replica, or its node leads and events.db is
                                   at the log's head */
    int64_t replica_tick_ms;    /* monotonic time of the next replica_tick */
    char inactive_why[400];     /* why copying the log last failed, as logged; "" none */
    int64_t inactive_logged_ms; /* monotonic time it was logged */
};

/* The identity of events.db (the WAL's path less "-wal") and its WAL. */
static void
svc_take_store_id(commandsvc_t *s)
{
    const char *wal = eventstore_wal_path(s->es);
    char path[sizeof s->store_id.path];
    size_t n = wal ? strlen(wal) : 0;
    if (n > 4 && n - 4 < sizeof path) {
        memcpy(path, wal, n - 4);
        path[n - 4] = '\0';
        s->store_id_taken = fileid_take(&s->store_id, path) == 0;
    }
    if (!s->store_id_taken)
        LOG_W(NULL, "cannot take the event store's file identity: a deleted or replaced store"
                    " file will not be noticed");
}

/* The series of the command path, registered once at start. */
static void
svc_metrics_init(commandsvc_t *s, metrics_t *m)
{
    static const char help[] = "Commands answered: accepted, duplicate (answered from the first "
                               "result) or rejected with a code.";
    static const int64_t sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
    s->m_accepted = metrics_counter(m, "inv_commands", "result=\"accepted\",code=\"none\"", help);
    s->m_duplicate = metrics_counter(m, "inv_commands", "result=\"duplicate\",code=\"none\"", help);
    for (int c = REJ_NONE + 1; c < REJ__COUNT; c++) {
        char labels[96];
        snprintf(labels, sizeof labels, "result=\"rejected\",code=\"%s\"",
                 reject_code_name((reject_code_t)c));
        s->m_rejected[c] = metrics_counter(m, "inv_commands", labels, help);
    }
    s->m_batch = metrics_histogram(m, "inv_command_batch_size", "",
                                   "Commands per transaction (group commit).", sizes,
                                   (int)(sizeof sizes / sizeof sizes[0]), 1);
}

/* Counts one answer in the metrics. */
static void
svc_count(commandsvc_t *s, const command_reply_t *r)
{
    if (r->accepted)
        metrics_add(r->duplicate ? s->m_duplicate : s->m_accepted, 1);
    else if (r->error > REJ_NONE && r->error < REJ__COUNT)
        metrics_add(s->m_rejected[r->error], 1);
}

commandsvc_t *
commandsvc_new(eventstore_t *es, void *router, void *nudge, const commandsvc_opts_t *opts)
{
    commandsvc_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->es = es;
    s->router = router;
    s->nudge = nudge;
    s->opts = *opts;
    if (s->opts.batch_max <= 0)
        s->opts.batch_max = 256;
    s->cache = aggcache_new(s->opts.cache_slots > 0 ? (size_t)s->opts.cache_slots : 2048);
    bool ok = s->cache != NULL;
    for (int i = 0; i < BATCHES; i++) {
        s->ring[i].items = calloc((size_t)s->opts.batch_max, sizeof(pending_t));
        ok = ok && s->ring[i].items;
    }
    codec_writer_init(&s->w);
    /* the store's head: the first command's claim guesses the next position */
    int rc = ok ? eventstore_head(es, &s->through, NULL) : ERR_IO;
    if (!ok)
        LOG_E(NULL, "out of memory");
    else if (rc != ERR_OK)
        LOG_E(NULL, "cannot read the event store's head: %s", eventstore_errmsg(es));
    if (rc != ERR_OK)
        commandsvc_destroy(&s);
    else
        svc_take_store_id(s);
    if (s)
        s->active = s->opts.replica == NULL;
    if (s)
        svc_metrics_init(s, s->opts.metrics);
    return s;
}

void
commandsvc_destroy(commandsvc_t **sp)
{
    if (!sp || !*sp)
        return;
    commandsvc_t *s = *sp;
    aggcache_destroy(&s->cache);
    for (int i = 0; i < BATCHES; i++) {
        batch_t *b = &s->ring[i];
        for (int k = 0; b->items && k < b->n; k++)
            bus_msg_close(&b->items[k].msg); /* unanswered: a failed fsync */
        free(b->items);
    }
    codec_writer_fini(&s->w);
    free(s);
    *sp = NULL;
}

/* ---- replies ------------------------------------------------------------- */

static void
svc_send(commandsvc_t *s, const bus_msg_t *req, int n_env, const char *corr)
{
    if (bus_reply_to(s->router, req, n_env, s->w.buf.data, s->w.buf.size) != 0)
        LOG_W(corr, "reply dropped: %s", zmq_strerror(errno));
}

static void
svc_reply(commandsvc_t *s, pending_t *p)
{
    codec_writer_reset(&s->w);
    codec_pack_command_reply(&s->w, &p->reply);
    svc_send(s, &p->msg, p->n_env, p->cmd.correlation_id);
    svc_count(s, &p->reply);
    if (p->reply.accepted)
        s->accepted++;
    else
        s->rejected++;
}

static void
svc_reject(command_reply_t *r, reject_code_t code, const char *message)
{
    r->accepted = false;
    r->error = code;
    strcopy(r->message, sizeof r->message, message);
}

/* ---- aggregates ---------------------------------------------------------- */

/* The aggregate of stream from the cache or loaded from the store; NULL
 * with *err on a store error. */
static aggregate_t *
svc_load(commandsvc_t *s, const char *stream, agg_kind_t kind, int *err)
{
    aggregate_t *a = aggcache_get(s->cache, stream);
    if (a && a->kind == kind)
        return a;
    a = aggcache_slot(s->cache, stream);
    a->kind = kind;
    s->loads++;
    *err = aggstore_load(s->es, a, true);
    if (*err != ERR_OK)
        return NULL;
    a->valid = true;
    return a;
}

/* ---- one command --------------------------------------------------------- */

/* Returns 1 when the command was answered from an earlier result;
 * otherwise its id is now claimed with the position its first event will
 * get (the next after s->appended), and svc_handle moves or releases the
 * claim.  The claim also sees commands accepted earlier in the open batch:
 * their rows are in the same transaction (a per-batch scan here cost 7 %
 * of the command-service's CPU at 256 commands a batch); claiming first
 * takes one descent of the commands index where a lookup and a later
 * insert took two (docs/decisions.md, item 45). */
static int
svc_idempotent(commandsvc_t *s, pending_t *p, int *err)
{
    int rc = eventstore_command_claim(s->es, p->cmd.command_id, s->appended + 1);
    if (rc == 1)
        return 0; /* claimed: a new command */
    if (rc == 0)  /* the id has a row: answer with its first result */
        rc = eventstore_command_find(s->es, p->cmd.command_id, &p->reply);
    if (rc != 1) {
        *err = rc < 0 ? rc : ERR_CORRUPT; /* 0: a row whose event is missing */
        return 0;
    }
    p->reply.duplicate = true;
    return 1;
}

static void
svc_decide(commandsvc_t *s, aggregate_t *a, const supplier_t *supplier, const command_t *cmd)
{
    aggregate_ops(a->kind)->decide(&a->u, supplier, cmd, &s->decision);
}

/* Appends the accepted decision for p; ERR_OK or a store error. */
static int
svc_append(commandsvc_t *s, pending_t *p, aggregate_t *a)
{
    event_t *ev = &s->ev;
    decision_event(&s->decision, a->stream, aggcache_version(a) + 1, ev);
    proc_random_hex(ev->env.event_id, EVENT_ID_MAX / 2);
    strcopy(ev->env.command_id, sizeof ev->env.command_id, p->cmd.command_id);
    strcopy(ev->env.correlation_id, sizeof ev->env.correlation_id,
            p->cmd.correlation_id[0] ? p->cmd.correlation_id : p->cmd.command_id);
    ev->env.recorded_at = proc_now_us();
    int rc = eventstore_append(s->es, ev);
    if (rc != ERR_OK)
        return rc;
    aggstore_fold(a, ev);
    if ((rc = aggstore_maybe_snapshot(s->es, a, s->opts.snapshot_every)) != ERR_OK)
        return rc;
    command_reply_t *r = &p->reply;
    r->accepted = true;
    strcopy(r->stream, sizeof r->stream, a->stream);
    r->version = ev->env.version;
    r->position = ev->env.position;
    int64_t claimed = s->appended + 1; /* svc_idempotent's guess */
    s->appended = ev->env.position;
    return r->position == claimed ? ERR_OK
                                  : eventstore_command_move(s->es, p->cmd.command_id, r->position);
}

/* A stream whose events fail the hash chain or do not decode (ERR_CORRUPT
 * from the load) fails its own command only: `unavailable`, naming the
 * position, and the batch goes on (the load wrote nothing).  Other errors
 * stay errors of the batch. */
static int
svc_damaged(commandsvc_t *s, pending_t *p, const char *stream, int err)
{
    if (err != ERR_CORRUPT)
        return err;
    char msg[sizeof p->reply.message];
    int64_t at = eventstore_damaged_at(s->es);
    snprintf(msg, sizeof msg,
             "%s cannot be loaded: the event store is damaged at position %lld (its hash chain"
             " breaks there or the event does not decode); restore it from a backup",
             stream, (long long)at);
    if (s->damaged_commands++ % 100 == 0)
        LOG_E(NULL, "command %s failed: %s (%lld commands so far)", p->cmd.command_id, msg,
              (long long)s->damaged_commands);
    svc_reject(&p->reply, REJ_UNAVAILABLE, msg);
    s->unavailable++;
    return ERR_OK;
}

/* Decides a new command and appends what it accepts.  Returns ERR_OK (the
 * reply is set, accepted or rejected) or a store error. */
static int
svc_handle_new(commandsvc_t *s, pending_t *p)
{
    int err = ERR_OK;
    char stream[STREAM_MAX + 1];
    command_stream(&p->cmd, stream);
    agg_kind_t kind = command_spec(p->cmd.type)->aggregate;
    supplier_t supplier;
    supplier_init(&supplier);
    if (p->cmd.type == CMD_CREATE_PRODUCT) {
        char sstream[STREAM_MAX + 1];
        aggregate_stream(AGG_SUPPLIER, p->cmd.data.supplier_id, sstream);
        aggregate_t *sa = svc_load(s, sstream, AGG_SUPPLIER, &err);
        if (!sa)
            return svc_damaged(s, p, sstream, err);
        supplier = sa->u.supplier;
    }
    aggregate_t *a = svc_load(s, stream, kind, &err);
    if (!a)
        return svc_damaged(s, p, stream, err);
    command_reply_t *r = &p->reply;
    if (p->cmd.has_expected_version && p->cmd.expected_version != aggcache_version(a)) {
        char msg[128];
        snprintf(msg, sizeof msg, "expected version %lld but %s is at %lld",
                 (long long)p->cmd.expected_version, stream, (long long)aggcache_version(a));
        svc_reject(r, REJ_CONFLICT, msg);
        r->version = aggcache_version(a);
        return ERR_OK;
    }
    svc_decide(s, a, &supplier, &p->cmd);
    if (s->decision.code != REJ_NONE) {
        svc_reject(r, s->decision.code, s->decision.message);
        r->fields = s->decision.fields;
        return ERR_OK;
    }
    return svc_append(s, p, a);
}

/* Handles one command inside the open transaction.  Returns ERR_OK (the reply
 * is set, accepted or rejected) or a store error that aborts the batch. */
static int
svc_handle(commandsvc_t *s, pending_t *p)
{
    int err = ERR_OK;
    if (svc_idempotent(s, p, &err) || err != ERR_OK)
        return err;
    if ((err = svc_handle_new(s, p)) != ERR_OK)
        return err;
    return p->reply.accepted ? ERR_OK : eventstore_command_release(s->es, p->cmd.command_id);
}

/* ---- batches ------------------------------------------------------------- */

static batch_t *
svc_filling(commandsvc_t *s)
{
    return &s->ring[(s->oldest + s->waiting) % BATCHES];
}

/* Answers every command of the batch with `message` (code) without a
 * write: a standby's batch, a failed batch, or a replicated batch whose
 * outcome is not known (the transaction is rolled back first). */
static void
svc_answer_all(commandsvc_t *s, batch_t *b, reject_code_t code, const char *message)
{
    for (int i = 0; i < b->n; i++) {
        command_reply_t *r = &b->items[i].reply;
        command_reply_clear(r);
        strcopy(r->command_id, sizeof r->command_id, b->items[i].cmd.command_id);
        svc_reject(r, code, message);
    }
    s->unavailable += b->n;
    b->committed = false;
    b->through = s->through;
    s->batches++;
}

/* A batch whose events.db transaction failed: rolled back, and every
 * command answered unavailable with `message`, which says what became of
 * the batch. */
static void
svc_fail_batch(commandsvc_t *s, batch_t *b, int err, const char *message)
{
    eventstore_rollback(s->es);
    aggcache_clear(s->cache);
    LOG_W(NULL, "batch of %d commands not committed: %s (SQLite: %s)", b->n, err_strerror(err),
          eventstore_errmsg(s->es));
    svc_answer_all(s, b, REJ_UNAVAILABLE, message);
}

/* Answers every command of the batch unavailable without a write: the
 * store's file or WAL was deleted or replaced (svc_check_store). */
static void
svc_refuse_batch(commandsvc_t *s, batch_t *b)
{
    svc_answer_all(s, b, REJ_UNAVAILABLE,
                   "the event store's file or WAL was deleted or replaced under the command "
                   "service; nothing was appended (an operator must restore the store and "
                   "restart it)");
}

/* A standby's batch: every command goes to the active service. */
static void
svc_redirect_batch(commandsvc_t *s, batch_t *b)
{
    const char *at = replica_leader_endpoint(s->opts.replica);
    for (int i = 0; i < b->n; i++)
        command_reply_not_leader(&b->items[i].reply, b->items[i].cmd.command_id, at);
    b->committed = false;
    b->through = s->through;
    s->batches++;
}

/* Writes the batch's events to the replicated log, inside the open
 * transaction.  ERR_OK when the log has them (commit events.db now);
 * otherwise the batch is answered here and SVC_ANSWERED returned.  Either
 * failure ends this activation: a pull decides what events.db must hold. */
static int
svc_push(commandsvc_t *s, batch_t *b)
{
    replica_outcome_t o = replica_push(s->opts.replica, s->es, s->through, s->appended);
    if (o == REPLICA_COMMITTED)
        return ERR_OK;
    eventstore_rollback(s->es);
    aggcache_clear(s->cache);
    s->active = false;
    s->replica_tick_ms = 0;
    LOG_W(NULL,
          "batch of %d commands %s the replicated log (%s): standby until its node leads again",
          b->n, o == REPLICA_UNKNOWN ? "may or may not be in" : "was not written to",
          replica_errmsg(s->opts.replica));
    if (o == REPLICA_UNKNOWN)
        svc_answer_all(s, b, REJ_UNAVAILABLE,
                       "the store's leader was lost during the commit and its outcome is not known"
                       " yet: retry with the same command_id (a committed command is answered as a"
                       " duplicate)");
    else
        svc_redirect_batch(s, b);
    return SVC_ANSWERED;
}

/* The replicated log took the batch but events.db could not commit it
 * (a full disk on this host): the commands are durable, so the replies
 * must not say "nothing was appended"; this host goes standby, and the
 * next pull copies the batch in (a retry is then a duplicate). */
static void
svc_fail_copy(commandsvc_t *s, batch_t *b, int err)
{
    svc_fail_batch(s, b, err,
                   "the replicated log has the batch, but this host could not record it: retry"
                   " with the same command_id (answered as a duplicate once a host has copied"
                   " it)");
    s->active = false;
    s->replica_tick_ms = 0;
    LOG_E(NULL, "that batch is in the replicated log: standby until events.db has copied it in");
}

/* Runs the batch in one transaction.  Its replies are set, not sent. */
static void
svc_run_batch(commandsvc_t *s, batch_t *b)
{
    if (s->store_lost) {
        svc_refuse_batch(s, b);
        return;
    }
    if (!s->active) {
        svc_redirect_batch(s, b);
        return;
    }
    int64_t started = proc_mono_us();
    s->appended = s->through;
    int err = eventstore_begin(s->es);
    for (int i = 0; i < b->n && err == ERR_OK; i++)
        err = svc_handle(s, &b->items[i]);
    /* The replicated log has the batch's events; a batch that appended
     * none (every command rejected or a duplicate) put nothing there. */
    bool pushed = false;
    if (err == ERR_OK && s->opts.replica)
        pushed = (err = svc_push(s, b)) == ERR_OK && s->appended > s->through;
    if (err == ERR_OK)
        err = eventstore_commit(s->es);
    int64_t took_us = proc_mono_us() - started;
    if (took_us >= SLOW_BATCH_US)
        LOG_W(NULL, "slow batch: %d commands took %lld ms (lock wait, fsync or a disk stall)", b->n,
              (long long)(took_us / 1000));
    if (err == SVC_ANSWERED)
        return; /* svc_push answered it */
    if (err != ERR_OK) {
        if (pushed)
            svc_fail_copy(s, b, err);
        else
            svc_fail_batch(s, b, err, "the event store could not commit; nothing was appended");
        return;
    }
    b->committed = true;
    s->through = s->appended;
    b->through = s->through;
    s->batches++;
}

/* Tells the relay that everything through s->durable may be published. */
static void
svc_nudge(commandsvc_t *s)
{
    if (!s->nudge)
        return;
    codec_writer_reset(&s->w);
    msgpack_pack_int64(&s->w.pk, s->durable);
    zmq_send(s->nudge, s->w.buf.data, s->w.buf.size, ZMQ_DONTWAIT);
}

/* Moves s->durable over a batch that is durable now; true when it moved. */
static bool
svc_durable(commandsvc_t *s, const batch_t *b)
{
    if (!b->committed || b->through <= s->durable)
        return false;
    s->durable = b->through;
    return true;
}

/* Sends the batch's replies; it is durable (or failed: nothing to wait for),
 * and the relay has been told (svc_nudge), so a client that reads its
 * stream from the relay after the reply finds its event there. */
static void
svc_answer(commandsvc_t *s, batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        pending_t *p = &b->items[i];
        LOG_D(p->cmd.correlation_id, "%s %s -> %s", command_spec(p->cmd.type)->name,
              p->cmd.command_id, p->reply.accepted ? "accepted" : reject_code_name(p->reply.error));
        svc_reply(s, p);
        bus_msg_close(&p->msg);
    }
    b->n = 0;
}

/* Answers the waiting batches the syncer has made durable.  0, or -1 when
 * an fsync failed: then nothing waiting can be answered truthfully. */
static int
svc_release(commandsvc_t *s)
{
    uint64_t done = 0;
    if (syncer_done(s->opts.syncer, &done) != 0) {
        LOG_E(NULL,
              "fsync of the event store's WAL failed (%s): stopping without answering "
              "%d batches; their commands are retried with the same ids",
              strerror(errno), s->waiting);
        return -1;
    }
    bool moved = false;
    int ready = 0;
    while (ready < s->waiting && s->ring[(s->oldest + ready) % BATCHES].seq <= done) {
        moved |= svc_durable(s, &s->ring[(s->oldest + ready) % BATCHES]);
        ready++;
    }
    if (moved)
        svc_nudge(s); /* before the replies */
    for (; ready > 0; ready--) {
        svc_answer(s, &s->ring[s->oldest]);
        s->oldest = (s->oldest + 1) % BATCHES;
        s->waiting--;
    }
    return 0;
}

/* Queues the batch just run behind its fsync, or answers it at once
 * without a syncer (--sync normal: no fsync before a reply). */
static void
svc_finish_batch(commandsvc_t *s, batch_t *b)
{
    if (!s->opts.syncer) {
        if (svc_durable(s, b))
            svc_nudge(s); /* before the replies */
        svc_answer(s, b);
        return;
    }
    b->seq = ++s->seq;
    s->waiting++;
    syncer_request(s->opts.syncer, b->seq);
}

/* ---- requests ------------------------------------------------------------ */

/* "single" (events.db alone), "active" or "standby" (a replicated log). */
static const char *
svc_role(const commandsvc_t *s)
{
    return !s->opts.replica ? "single" : s->active ? "active" : "standby";
}

/* {"type":"Status"}: answered at once. */
static int
svc_on_status(void *arg, rpc_request_t *req)
{
    commandsvc_t *s = arg;
    codec_writer_t *w = req->w;
    int64_t head = 0, backlog = 0;
    int rc = eventstore_head(s->es, &head, NULL);
    if (rc == ERR_OK)
        rc = eventstore_outbox_backlog(s->es, &backlog);
    codec_map_open(w);
    codec_map_bool(w, "ok", rc == ERR_OK);
    codec_map_str(w, "service", "command");
    codec_map_str(w, "role", svc_role(s));
    codec_map_int(w, "store_damaged_at", eventstore_damaged_at(s->es));
    codec_map_bool(w, "store_unusable", s->store_lost != NULL);
    codec_map_int(w, "head", head);
    codec_map_int(w, "outbox_backlog", backlog);
    codec_map_int(w, "accepted", s->accepted);
    codec_map_int(w, "rejected", s->rejected);
    codec_map_int(w, "unavailable", s->unavailable);
    codec_map_int(w, "batches", s->batches);
    codec_map_int(w, "loads", s->loads);
    codec_map_int(w, "durable", s->durable);
    codec_map_int(w, "syncs", s->opts.syncer ? syncer_count(s->opts.syncer) : 0);
    codec_map_close(w);
    return RPC_REPLY;
}

/* Packs the rejection of a command that did not decode (rc malformed or
 * validation, why and errs as codec_decode_command_at left them). */
static void
svc_refuse(commandsvc_t *s, pending_t *p, reject_code_t rc, const field_errors_t *errs, char *why,
           size_t why_cap, codec_writer_t *w)
{
    if (rc == REJ_VALIDATION)
        snprintf(why, why_cap, "invalid %s: %s%s", errs->items[0].field, errs->items[0].message,
                 errs->count > 1 ? " (and more, see fields)" : "");
    svc_reject(&p->reply, rc, why);
    p->reply.fields = *errs;
    if (rc == REJ_MALFORMED) {
        LOG_W(p->cmd.correlation_id, "malformed request: %s", why);
        memset(&p->reply.fields, 0, sizeof p->reply.fields);
    }
    codec_pack_command_reply(w, &p->reply);
    svc_count(s, &p->reply);
    s->rejected++;
}

/* Every other type is a command (domain/message.c names the nine): decoded
 * from the envelope the dispatcher indexed into the next slot of the batch
 * being filled, which keeps the message; one that does not decode is
 * answered at once. */
static int
svc_on_command(void *arg, rpc_request_t *req)
{
    commandsvc_t *s = arg;
    int type = command_type_lookup(req->type, req->type_len);
    if (type < 0)
        return RPC_UNKNOWN;
    batch_t *b = svc_filling(s);
    pending_t *p = &b->items[b->n];
    command_reply_clear(&p->reply);
    field_errors_t errs;
    char why[160];
    reject_code_t rc = codec_decode_command_at((command_type_t)type, req->vals, req->found,
                                               req->unknown, &p->cmd, &errs, why, sizeof why);
    strcopy(p->reply.command_id, sizeof p->reply.command_id, p->cmd.command_id);
    if (rc != REJ_NONE) {
        svc_refuse(s, p, rc, &errs, why, sizeof why, req->w);
        req->corr = p->cmd.correlation_id;
        return RPC_REPLY;
    }
    p->msg = *req->msg; /* the frames move into the batch */
    p->n_env = req->n_env;
    b->n++;
    return RPC_KEPT;
}

/* The command ROUTER (rpc_command_proto): Status is a type like any other. */
static const rpc_route_t svc_routes[] = {
    {.type = "Status", .handle = svc_on_status, .roles = ROLES_STATUS},
    {.type = "ReloadKeys", .handle = rpc_on_reload_keys, .roles = ROLES_OPERATE},
    {.type = RPC_ANY, .handle = svc_on_command, .roles = ROLES_WRITE},
};
static const rpc_endpoint_t svc_endpoint = {&rpc_command_proto, svc_routes,
                                            sizeof svc_routes / sizeof svc_routes[0]};

/* Takes what the ROUTER holds, up to a batch, and runs it. */
static void
svc_take_batch(commandsvc_t *s)
{
    batch_t *b = svc_filling(s);
    while (b->n < s->opts.batch_max) {
        int rc = rpc_serve(&svc_endpoint, s->router, s, &s->w);
        if (rc == RPC_IDLE)
            break;
        if (rc == RPC_REFUSED) {
            metrics_add(s->m_rejected[REJ_MALFORMED], 1);
            s->rejected++;
        }
    }
    if (b->n > 0) {
        metrics_observe(s->m_batch, b->n);
        svc_run_batch(s, b);
        svc_finish_batch(s, b);
    }
}

/* At shutdown: answers what the syncer still makes durable, for up to
 * DRAIN_MS (a disk that hangs longer leaves the rest unanswered: their
 * clients retry by command id). */
static void
svc_drain(commandsvc_t *s)
{
    int64_t deadline = proc_mono_ms() + DRAIN_MS;
    while (s->waiting > 0) {
        if (proc_mono_ms() >= deadline) {
            LOG_E(NULL, "stopping with %d batches still waiting for an fsync", s->waiting);
            return;
        }
        zmq_pollitem_t item = {NULL, syncer_fd(s->opts.syncer), ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) < 0 && errno != EINTR)
            return;
        if (svc_release(s) != 0)
            return;
    }
}

/* Once a second: is events.db (or its WAL) still the file this service
 * writes?  One deleted or replaced under it is written no more: every
 * command is answered unavailable from then on (svc_refuse_batch), and
 * what was committed into a deleted WAL is checkpointed into events.db
 * (the WAL is still open here), so that it is not lost at the next crash
 * and a restart does not read the old WAL index over a new WAL (which
 * made "file is not a database" of the store).  Never recreated. */
static void
svc_check_store(commandsvc_t *s)
{
    int64_t now = proc_mono_ms();
    if (!s->store_id_taken || s->store_lost || now < s->store_check_ms)
        return;
    s->store_check_ms = now + STORE_CHECK_MS;
    s->store_lost = fileid_check(&s->store_id);
    if (!s->store_lost)
        return;
    LOG_E(NULL,
          "event store %s: %s under the running command service: refusing every command"
          " (unavailable) from now on; restore the store and restart",
          s->store_id.path, s->store_lost);
    es_wal_state_t wal = {0};
    int rc = ERR_BUSY;
    for (int i = 0; i < 50; i++) { /* up to ~1 s for readers to move on */
        rc = eventstore_checkpoint(s->es, 1, &wal);
        if (rc == ERR_OK && wal.backfilled >= wal.frames)
            break;
        usleep(20000);
    }
    if (rc == ERR_OK && wal.backfilled >= wal.frames)
        LOG_E(NULL,
              "event store %s: everything committed (head %lld) was checkpointed from the"
              " open WAL into the database file",
              s->store_id.path, (long long)s->through);
    else
        LOG_E(NULL,
              "event store %s: could not checkpoint the open WAL into the database file"
              " (%s, %d of %d frames): events after the file's last checkpoint may be lost",
              s->store_id.path, err_strerror(rc), wal.backfilled, wal.frames);
}

/* The health (metrics.h): a turn of the loop, and a store written no more
 * or found damaged, told when that changes. */
static void
svc_health(commandsvc_t *s)
{
    metrics_beat(s->opts.metrics);
    int64_t state = s->store_lost ? -1 : eventstore_damaged_at(s->es); /* 0: fine */
    if (state == s->health_state)
        return;
    s->health_state = state;
    char why[256];
    if (state < 0)
        snprintf(why, sizeof why, "event store %.100s: %.80s; restore it and restart",
                 s->store_id.path, s->store_lost);
    else
        snprintf(why, sizeof why, "event store damaged at position %lld; restore it from a backup",
                 (long long)state);
    metrics_set_problem(s->opts.metrics, state != 0 ? why : NULL);
}

/* Logs why copying the log failed (what: "cannot become active" or "as
 * a standby, cannot copy the log"): once for each reason, and again every
 * ACTIVATE_LOG_MS while it lasts (it is tried every tick). */
static void
svc_copy_failed(commandsvc_t *s, const char *what, int rc)
{
    char why[sizeof s->inactive_why];
    snprintf(why, sizeof why, "%s: %s (%s)", what, err_strerror(rc),
             replica_errmsg(s->opts.replica));
    int64_t now = proc_mono_ms();
    if (strcmp(why, s->inactive_why) == 0 && now - s->inactive_logged_ms < ACTIVATE_LOG_MS)
        return;
    LOG_E(NULL, "%s; retrying every %d ms (logged again in %d s if it lasts)", why, REPLICA_TICK_MS,
          ACTIVATE_LOG_MS / 1000);
    strcopy(s->inactive_why, sizeof s->inactive_why, why);
    s->inactive_logged_ms = now;
}

/* Its node leads: events.db is brought to the log's head (seeding an
 * empty log from it first), the aggregates are read again, and the
 * service writes.  False when events.db cannot follow the log. */
static bool
svc_activate(commandsvc_t *s)
{
    replica_t *r = s->opts.replica;
    int64_t n = 0, copied = 0;
    int rc = replica_seed(r, s->es, &n);
    do
        rc = rc == ERR_OK ? replica_pull(r, s->es, 1000000, &n) : rc;
    while (rc == ERR_OK && n > 0 && (copied += n) > 0 && !proc_stopping());
    if (rc == ERR_OK)
        rc = eventstore_head(s->es, &s->through, NULL);
    if (rc != ERR_OK) {
        svc_copy_failed(s, "cannot become active", rc);
        return false;
    }
    s->inactive_why[0] = '\0';
    aggcache_clear(s->cache);
    s->durable = s->through;
    svc_nudge(s);
    LOG_I(NULL, "active: the log's head is %lld (%lld events copied first)", (long long)s->through,
          (long long)copied);
    return true;
}

/* With a replicated log, every REPLICA_TICK_MS: who leads; a standby
 * copies what the active service wrote. */
static void
svc_replica_tick(commandsvc_t *s)
{
    int64_t now = proc_mono_ms();
    if (!s->opts.replica || now < s->replica_tick_ms)
        return;
    s->replica_tick_ms = now + REPLICA_TICK_MS;
    replica_role_t role = replica_refresh(s->opts.replica);
    if (role == REPLICA_LEADER && !s->active)
        s->active = svc_activate(s);
    else if (role != REPLICA_LEADER && s->active) {
        s->active = false;
        LOG_W(NULL, "standby: this host's store node no longer leads");
    }
    int64_t copied = 0;
    if (role != REPLICA_STANDBY)
        return;
    int rc = replica_pull(s->opts.replica, s->es, REPLICA_PULL_MAX, &copied);
    if (rc == ERR_OK && copied > 0)
        eventstore_head(s->es, &s->through, NULL);
    if (rc == ERR_OK)
        s->inactive_why[0] = '\0';
    else if (!replica_connected(s->opts.replica))
        s->replica_tick_ms = now; /* the leader went silent: ask this host's node again now */
    else /* events.db refused the copy (a full disk), or is not a prefix of the log */
        svc_copy_failed(s, "as a standby, cannot copy the log", rc);
}

int
commandsvc_run(commandsvc_t *s)
{
    while (!proc_stopping()) {
        svc_replica_tick(s);
        svc_check_store(s);
        svc_health(s);
        bool room = s->waiting < BATCHES;
        zmq_pollitem_t items[2] = {
            {s->router, 0, room ? ZMQ_POLLIN : 0, 0},
            {NULL, s->opts.syncer ? syncer_fd(s->opts.syncer) : -1, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, s->opts.syncer ? 2 : 1, s->opts.replica ? REPLICA_TICK_MS : 200);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        if ((items[1].revents & ZMQ_POLLIN) && svc_release(s) != 0)
            return 1;
        if (items[0].revents & ZMQ_POLLIN)
            svc_take_batch(s);
    }
    if (s->opts.syncer)
        svc_drain(s);
    return 0;
}
