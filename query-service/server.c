/* server: see server.h.  Parked requests keep their routing frames (moved
 * out of the received message) and the decoded request; nothing is
 * re-parsed when they are answered. */
#include "server.h"

#include "bus.h"
#include "log.h"
#include "proc.h"
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bus_msg_t msg;       /* routing frames + body, moved from the socket */
    int n_env;           /* routing frames in msg (bus_split) */
    request_t req;       /* decoded request */
    int64_t deadline_ms; /* proc_mono_ms() after which we answer anyway */
} pending_t;

struct server {
    void *router;       /* bound ROUTER (not owned) */
    queries_t *queries; /* not owned */
    codec_writer_t w;   /* reply scratch */
    request_t req;      /* the request being decoded (its correlation id names warnings) */
    pending_t **pending;
    int n_pending;
    int cap_pending;
    int64_t checked_ms; /* last pending re-check (mono ms) */
    metrics_t *metrics; /* borrowed, may be NULL */
    int64_t health_ms;  /* mono ms of the next health check */
};

server_t *
server_new(void *router, queries_t *queries, metrics_t *metrics)
{
    server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->metrics = metrics;
    s->router = router;
    s->queries = queries;
    codec_writer_init(&s->w);
    return s;
}

static void
pending_destroy(pending_t *p)
{
    bus_msg_close(&p->msg);
    free(p);
}

void
server_destroy(server_t **sp)
{
    if (!sp || !*sp)
        return;
    server_t *s = *sp;
    for (int i = 0; i < s->n_pending; i++)
        pending_destroy(s->pending[i]);
    free(s->pending);
    codec_writer_fini(&s->w);
    free(s);
    *sp = NULL;
}

int
server_pending(const server_t *s)
{
    return s->n_pending;
}

/* Sends the reply in s->w to the sender of m (n_env routing frames). */
static void
server_send(server_t *s, const bus_msg_t *m, int n_env, const char *corr)
{
    if (bus_reply_to(s->router, m, n_env, s->w.buf.data, s->w.buf.size) != 0)
        LOG_W(corr, "reply dropped: %s", zmq_strerror(errno));
}

static void
server_answer(server_t *s, const bus_msg_t *m, int n_env, const request_t *req)
{
    codec_writer_reset(&s->w);
    queries_execute(s->queries, req, &s->w);
    server_send(s, m, n_env, req->correlation_id);
}

/* True when req asks to wait and the read model is not there yet. */
static bool
server_must_wait(server_t *s, const request_t *req)
{
    int64_t pos;
    if (req->min_position <= 0 || req->wait_ms <= 0)
        return false;
    return queries_position(s->queries, &pos) != 0 || pos < req->min_position;
}

/* Parks m (its frames move into the list).  -1 when the list is full. */
static int
server_park(server_t *s, bus_msg_t *m, int n_env, const request_t *req)
{
    if (s->n_pending >= SERVER_PENDING_MAX)
        return -1;
    if (s->n_pending == s->cap_pending) {
        int cap = s->cap_pending ? 2 * s->cap_pending : 64;
        pending_t **grown = realloc(s->pending, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        s->pending = grown;
        s->cap_pending = cap;
    }
    pending_t *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->n_env = n_env;
    p->msg.count = m->count;
    p->msg.overflow = false;
    for (int i = 0; i < m->count; i++) {
        zmq_msg_init(&p->msg.frames[i]);
        zmq_msg_move(&p->msg.frames[i], &m->frames[i]);
    }
    p->req = *req;
    p->deadline_ms = proc_mono_ms() + req->wait_ms;
    s->pending[s->n_pending++] = p;
    return 0;
}

static void
server_reply_error(codec_writer_t *w, const request_error_t *err)
{
    codec_writer_reset(w);
    request_pack_error(w, err);
}

/* Every type: the query table (queries.c) says which exist, and
 * request_decode refuses the others.  Answers at once, or parks the
 * request (its frames move into the pending list) until its position. */
static int
server_on_request(void *arg, rpc_request_t *rq)
{
    server_t *s = arg;
    request_t *req = &s->req;
    request_error_t err;
    if (request_decode(rq, req, &err) != 0) {
        LOG_W(NULL, "bad request (%s): %s", err.code, err.message);
        server_reply_error(rq->w, &err);
        return RPC_REPLY;
    }
    if (!server_must_wait(s, req)) {
        queries_execute(s->queries, req, rq->w);
        rq->corr = req->correlation_id;
        return RPC_REPLY;
    }
    if (server_park(s, rq->msg, rq->n_env, req) != 0) {
        request_error_t full = {"unavailable", "", "too many requests waiting"};
        server_reply_error(rq->w, &full);
        return RPC_REPLY;
    }
    return RPC_KEPT;
}

static const rpc_route_t server_routes[] = {
    {.type = RPC_ANY, .handle = server_on_request},
};
static const rpc_endpoint_t server_endpoint = {&request_proto, server_routes,
                                               sizeof server_routes / sizeof server_routes[0]};

/* Serves up to SERVER_DRAIN_MAX messages without blocking. */
static void
server_drain(server_t *s)
{
    queries_begin_batch(s->queries);
    for (int i = 0; i < SERVER_DRAIN_MAX; i++)
        if (rpc_serve(&server_endpoint, s->router, s, &s->w) == RPC_IDLE)
            break;
    queries_end_batch(s->queries);
}

/* Answers the parked requests whose position was reached or whose time ran
 * out (all of them when `all`). */
static void
server_check_pending(server_t *s, bool all)
{
    int64_t now = proc_mono_ms();
    if (!all && now - s->checked_ms < SERVER_PENDING_TICK_MS)
        return;
    s->checked_ms = now;
    int64_t pos = -1;
    if (queries_position(s->queries, &pos) != 0)
        pos = -1;
    for (int i = 0; i < s->n_pending;) {
        pending_t *p = s->pending[i];
        if (!all && pos < p->req.min_position && now < p->deadline_ms) {
            i++;
            continue;
        }
        server_answer(s, &p->msg, p->n_env, &p->req);
        pending_destroy(p);
        s->pending[i] = s->pending[--s->n_pending];
    }
}

/* The health (metrics.h): a turn of the loop, and once a second whether
 * the read model can be read (a stat; it reopens a swapped file). */
static void
server_health(server_t *s)
{
    metrics_beat(s->metrics);
    int64_t now = proc_mono_ms();
    if (!s->metrics || now < s->health_ms)
        return;
    s->health_ms = now + 1000;
    bool unavailable = queries_refresh(s->queries) != 0;
    char why[200];
    snprintf(why, sizeof why, "read model unavailable: %s",
             unavailable ? queries_unavailable_reason(s->queries) : "");
    metrics_set_problem(s->metrics, unavailable ? why : NULL);
}

int
server_run(server_t *s)
{
    int rc = 0;
    while (!proc_stopping()) {
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        long timeout = s->n_pending ? SERVER_PENDING_TICK_MS : SERVER_IDLE_TICK_MS;
        int n = zmq_poll(&item, 1, timeout);
        if (n < 0 && errno != EINTR) {
            LOG_E(NULL, "poll failed: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if (n > 0 && (item.revents & ZMQ_POLLIN))
            server_drain(s);
        if (s->n_pending)
            server_check_pending(s, false);
        server_health(s);
    }
    server_check_pending(s, true);
    return rc;
}
