/* commandsvc: see commandsvc.h. */
#include "commandsvc.h"

#include "aggcache.h"
#include "aggstore.h"
#include "bus.h"
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A batch that takes this long (begin to commit) is logged: on a virtual
 * disk an fsync sometimes stalls for 100 ms (docs/performance.md). */
#define SLOW_BATCH_US 100000

typedef struct {
    bus_msg_t msg; /* the request, kept for its routing frames */
    int n_env;     /* routing frames to echo */
    command_t cmd;
    command_reply_t reply;
} pending_t;

struct commandsvc {
    eventstore_t *es;
    void *router;
    void *nudge;
    commandsvc_opts_t opts;
    aggcache_t *cache;
    pending_t *pending; /* batch_max slots */
    int n_pending;
    event_t ev;          /* scratch for the event being appended */
    decision_t decision; /* scratch */
    codec_writer_t w;
    int64_t accepted, rejected, batches, unavailable;
    int64_t loads; /* aggregates loaded from the store: cache misses */
};

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
    s->pending = calloc((size_t)s->opts.batch_max, sizeof *s->pending);
    codec_writer_init(&s->w);
    if (!s->cache || !s->pending)
        commandsvc_destroy(&s);
    return s;
}

void
commandsvc_destroy(commandsvc_t **sp)
{
    if (!sp || !*sp)
        return;
    commandsvc_t *s = *sp;
    aggcache_destroy(&s->cache);
    free(s->pending);
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
    codec_pack_command_reply(&s->w.pk, &p->reply);
    svc_send(s, &p->msg, p->n_env, p->cmd.correlation_id);
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
    snprintf(r->message, sizeof r->message, "%s", message);
}

static void
svc_reply_status(commandsvc_t *s, const bus_msg_t *req, int n_env)
{
    int64_t head = 0, backlog = 0;
    int rc = eventstore_head(s->es, &head, NULL);
    if (rc == ES_OK)
        rc = eventstore_outbox_backlog(s->es, &backlog);
    codec_writer_reset(&s->w);
    msgpack_pack_map(&s->w.pk, 9);
    codec_pack_kv_bool(&s->w.pk, "ok", rc == ES_OK);
    codec_pack_kv_str(&s->w.pk, "service", "command");
    codec_pack_kv_int(&s->w.pk, "head", head);
    codec_pack_kv_int(&s->w.pk, "outbox_backlog", backlog);
    codec_pack_kv_int(&s->w.pk, "accepted", s->accepted);
    codec_pack_kv_int(&s->w.pk, "rejected", s->rejected);
    codec_pack_kv_int(&s->w.pk, "unavailable", s->unavailable);
    codec_pack_kv_int(&s->w.pk, "batches", s->batches);
    codec_pack_kv_int(&s->w.pk, "loads", s->loads);
    svc_send(s, req, n_env, NULL);
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
    if (*err != ES_OK)
        return NULL;
    a->valid = true;
    return a;
}

/* ---- one command --------------------------------------------------------- */

/* Returns 1 when the command was answered from an earlier result.  The
 * lookup also sees commands accepted earlier in the open batch: their rows
 * are in the same transaction (a per-batch scan here cost 7 % of the
 * command-service's CPU at 256 commands a batch). */
static int
svc_idempotent(commandsvc_t *s, pending_t *p, int *err)
{
    int rc = eventstore_command_find(s->es, p->cmd.command_id, &p->reply);
    if (rc < 0) {
        *err = rc;
        return 0;
    }
    if (rc == 1)
        p->reply.duplicate = true;
    return rc;
}

static void
svc_decide(commandsvc_t *s, aggregate_t *a, const supplier_t *supplier, const command_t *cmd)
{
    if (a->kind == AGG_SUPPLIER)
        supplier_decide(&a->u.supplier, cmd, &s->decision);
    else
        product_decide(&a->u.product, supplier, cmd, &s->decision);
}

/* Appends the accepted decision for p; ES_OK or a store error. */
static int
svc_append(commandsvc_t *s, pending_t *p, aggregate_t *a)
{
    event_t *ev = &s->ev;
    memset(&ev->env, 0, sizeof ev->env);
    snprintf(ev->env.stream, sizeof ev->env.stream, "%s", a->stream);
    ev->env.version = aggcache_version(a) + 1;
    ev->env.type = s->decision.type;
    ev->env.schema = event_spec(s->decision.type)->schema;
    proc_random_hex(ev->env.event_id, EVENT_ID_MAX / 2);
    snprintf(ev->env.command_id, sizeof ev->env.command_id, "%s", p->cmd.command_id);
    snprintf(ev->env.correlation_id, sizeof ev->env.correlation_id, "%s",
             p->cmd.correlation_id[0] ? p->cmd.correlation_id : p->cmd.command_id);
    ev->env.recorded_at = proc_now_us();
    fields_copy(&ev->data, &s->decision.data);
    int rc = eventstore_append(s->es, ev);
    if (rc != ES_OK)
        return rc;
    aggstore_fold(a, ev);
    if ((rc = aggstore_maybe_snapshot(s->es, a, s->opts.snapshot_every)) != ES_OK)
        return rc;
    command_reply_t *r = &p->reply;
    r->accepted = true;
    snprintf(r->stream, sizeof r->stream, "%s", a->stream);
    r->version = ev->env.version;
    r->position = ev->env.position;
    return eventstore_command_save(s->es, r);
}

/* Handles one command inside the open transaction.  Returns ES_OK (the reply
 * is set, accepted or rejected) or a store error that aborts the batch. */
static int
svc_handle(commandsvc_t *s, pending_t *p)
{
    int err = ES_OK;
    if (svc_idempotent(s, p, &err) || err != ES_OK)
        return err;
    char stream[STREAM_MAX + 1];
    command_stream(&p->cmd, stream);
    bool is_supplier = command_spec(p->cmd.type)->supplier_stream;
    supplier_t supplier;
    supplier_init(&supplier);
    if (p->cmd.type == CMD_CREATE_PRODUCT) {
        char sstream[STREAM_MAX + 1];
        snprintf(sstream, sizeof sstream, "supplier-%s", p->cmd.data.supplier_id);
        aggregate_t *sa = svc_load(s, sstream, AGG_SUPPLIER, &err);
        if (!sa)
            return err;
        supplier = sa->u.supplier;
    }
    aggregate_t *a = svc_load(s, stream, is_supplier ? AGG_SUPPLIER : AGG_PRODUCT, &err);
    if (!a)
        return err;
    command_reply_t *r = &p->reply;
    if (p->cmd.has_expected_version && p->cmd.expected_version != aggcache_version(a)) {
        char msg[128];
        snprintf(msg, sizeof msg, "expected version %lld but %s is at %lld",
                 (long long)p->cmd.expected_version, stream, (long long)aggcache_version(a));
        svc_reject(r, REJ_CONFLICT, msg);
        r->version = aggcache_version(a);
        return ES_OK;
    }
    svc_decide(s, a, &supplier, &p->cmd);
    if (s->decision.code != REJ_NONE) {
        svc_reject(r, s->decision.code, s->decision.message);
        r->fields = s->decision.fields;
        return ES_OK;
    }
    return svc_append(s, p, a);
}

/* ---- batches ------------------------------------------------------------- */

static void
svc_fail_batch(commandsvc_t *s, int err)
{
    eventstore_rollback(s->es);
    aggcache_clear(s->cache);
    LOG_W(NULL, "batch of %d commands not committed: %s (%s)", s->n_pending,
          err == ES_BUSY ? "database busy" : "store error", eventstore_errmsg(s->es));
    for (int i = 0; i < s->n_pending; i++) {
        command_reply_t *r = &s->pending[i].reply;
        command_reply_clear(r);
        snprintf(r->command_id, sizeof r->command_id, "%s", s->pending[i].cmd.command_id);
        svc_reject(r, REJ_UNAVAILABLE, "the event store could not commit; nothing was appended");
    }
    s->unavailable += s->n_pending;
}

static void
svc_run_batch(commandsvc_t *s)
{
    int64_t started = proc_mono_us();
    int err = eventstore_begin(s->es);
    for (int i = 0; i < s->n_pending && err == ES_OK; i++)
        err = svc_handle(s, &s->pending[i]);
    if (err == ES_OK)
        err = eventstore_commit(s->es);
    int64_t took_us = proc_mono_us() - started;
    if (took_us >= SLOW_BATCH_US)
        LOG_W(NULL, "slow batch: %d commands took %lld ms (lock wait, fsync or a disk stall)",
              s->n_pending, (long long)(took_us / 1000));
    if (err != ES_OK)
        svc_fail_batch(s, err);
    s->batches++;
    for (int i = 0; i < s->n_pending; i++) {
        pending_t *p = &s->pending[i];
        LOG_D(p->cmd.correlation_id, "%s %s -> %s", command_spec(p->cmd.type)->name,
              p->cmd.command_id, p->reply.accepted ? "accepted" : reject_code_name(p->reply.error));
        svc_reply(s, p);
        bus_msg_close(&p->msg);
    }
    if (err == ES_OK && s->nudge)
        zmq_send(s->nudge, "", 0, ZMQ_DONTWAIT);
    s->n_pending = 0;
}

/* Decodes one received request; answers it at once unless it is a command to
 * run in the batch.  Takes ownership of *m either way. */
static void
svc_on_request(commandsvc_t *s, bus_msg_t *m)
{
    pending_t *p = &s->pending[s->n_pending];
    const void *body;
    size_t len;
    p->msg = *m;
    command_reply_clear(&p->reply);
    field_errors_t errs;
    char why[160];
    reject_code_t rc;
    if (bus_split(&p->msg, &p->n_env, &body, &len) != 0) {
        memset(&p->cmd, 0, sizeof p->cmd);
        snprintf(why, sizeof why, "expected one body frame after the routing envelope");
        rc = REJ_MALFORMED;
    } else {
        rc = codec_decode_command(body, len, &p->cmd, &errs, why, sizeof why);
    }
    if (rc == REJ_MALFORMED && strcmp(why, "unknown command type") == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        const char *w;
        char type[16];
        const msgpack_object *t;
        bool status = codec_parse(body, len, &u, &w) == 0 && (t = codec_map_get(&u.data, "type")) &&
                      codec_copy_str(t, type, sizeof type) == 0 && strcmp(type, "Status") == 0;
        msgpack_unpacked_destroy(&u);
        if (status) {
            svc_reply_status(s, &p->msg, p->n_env);
            bus_msg_close(&p->msg);
            return;
        }
    }
    snprintf(p->reply.command_id, sizeof p->reply.command_id, "%s", p->cmd.command_id);
    if (rc == REJ_NONE) {
        s->n_pending++;
        return;
    }
    if (rc == REJ_VALIDATION)
        snprintf(why, sizeof why, "invalid %s: %s%s", errs.items[0].field, errs.items[0].message,
                 errs.count > 1 ? " (and more, see fields)" : "");
    svc_reject(&p->reply, rc, why);
    p->reply.fields = errs;
    if (rc == REJ_MALFORMED) {
        LOG_W(p->cmd.correlation_id, "malformed request: %s", why);
        memset(&p->reply.fields, 0, sizeof p->reply.fields);
    }
    svc_reply(s, p);
    bus_msg_close(&p->msg);
}

int
commandsvc_run(commandsvc_t *s)
{
    while (!proc_stopping()) {
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, 200);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        while (s->n_pending < s->opts.batch_max) {
            bus_msg_t m;
            if (bus_recv(s->router, &m, ZMQ_DONTWAIT) != 0)
                break;
            svc_on_request(s, &m);
        }
        if (s->n_pending > 0)
            svc_run_batch(s);
    }
    return 0;
}
