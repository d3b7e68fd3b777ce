/* tunnel: see tunnel.h.  The thread's loop (tunnel_main): take the dials
 * queued by other threads, build one zmq_poll set (the wake-up pipe, the
 * ROUTER, each stream's fd, DEALER and monitor), handle what is ready,
 * then the timers (pings, silent peers, dial deadlines).  Per stream, the
 * same code moves bytes whichever side it is on; only how a frame reaches
 * the peer differs (the ROUTER with a routing id, or the stream's DEALER). */
#include "tunnel.h"

#include "bus.h"
#include "log.h"
#include "proc.h"
#include "security.h"
#include "strcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#define ID_MAX 256     /* a ZeroMQ routing id's bytes, at most */
#define POLL_MS 50     /* the loop's tick: timers are checked at least this often */
#define HB_IVL_MS 250  /* ZMTP heartbeats: a dead TCP peer is dropped ... */
#define HB_TTL_MS 1000 /* ... after this much silence */
#define MON_EVENTS                                                                                 \
    (ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |            \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* A tunnel_dial waiting for its stream (on the dialer's stack). */
typedef struct dial {
    char endpoint[TUNNEL_ADDR_MAX + 8]; /* tcp://HOST:PORT */
    int fd;                             /* the tunnel's end of the socketpair */
    bool done;                          /* under mu: answered */
    int err;                            /* under mu: 0, or the errno of the failure */
    struct dial *next;                  /* the queue, under mu */
} dial_t;

typedef enum { FREE = 0, DIALING, OPEN } sstate_t;

typedef struct {
    sstate_t state;
    int fd;                     /* the local end (non-blocking), -1 when FREE */
    void *dealer;               /* client: this stream's DEALER; server: NULL (the ROUTER) */
    void *mon;                  /* client: the DEALER's monitor (PAIR) */
    uint8_t id[ID_MAX];         /* server: the peer's routing id */
    size_t id_len;              /* its bytes */
    char user[KEY_Z85_LEN + 1]; /* server: the peer's CURVE key (Z85), \"\" when plain */
    dial_t *dial;               /* client, DIALING: the dialer to answer */
    uint8_t *buf;               /* bytes from the peer not yet written to fd (TUNNEL_WINDOW) */
    size_t off, len;            /* the pending bytes: buf[off..off+len) */
    size_t unacked;             /* DATA bytes sent, not credited yet (<= TUNNEL_WINDOW) */
    size_t consumed;            /* bytes written to fd, not credited to the peer yet */
    int64_t heard_ms;           /* the last frame from the peer (CLOCK_MONOTONIC) */
    int64_t sent_ms;            /* the last frame to the peer */
    int64_t deadline_ms;        /* DIALING: when the dial fails */
} stream_t;

struct tunnel {
    void *zctx;
    void *router; /* server: bound at bind, or NULL */
    char bind[TUNNEL_ADDR_MAX + 8];
    char target[TUNNEL_ADDR_MAX];
    char server_key[KEY_Z85_LEN + 1]; /* "" : plain */
    unsigned roles;                   /* server: the roles admitted, 0: any key listed */
    uint64_t removals;                /* server: security_removals() when last checked */
    int max_streams;
    int dial_ms;
    stream_t *streams; /* [max_streams] */
    uint8_t *chunk;    /* 1 + TUNNEL_CHUNK: a DATA frame being built */
    int wake[2];       /* a pipe: a dial queued, or stop */
    unsigned seq;      /* monitor endpoints' numbers */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a dial answered */
    dial_t *queue;     /* under mu */
    bool stop;         /* under mu */
    int n_open;        /* under mu: streams not FREE */
    /* under mu: peers whose last dial timed out, and until when a dial to
     * them fails at once (dial_silent) */
    struct {
        char address[TUNNEL_ADDR_MAX];
        int64_t until_ms;
    } silent[TUNNEL_SILENT_PEERS];
};

/* ---- frames --------------------------------------------------------------- */

int
tunnel_frame_decode(const uint8_t *p, size_t n, tunnel_frame_t *out)
{
    if (n == 0)
        return -1;
    *out = (tunnel_frame_t){.type = (tunnel_type_t)p[0]};
    switch (p[0]) {
    case TUNNEL_OPEN:
    case TUNNEL_ACCEPT:
    case TUNNEL_PING:
    case TUNNEL_CLOSE:
        return n == 1 ? 0 : -1;
    case TUNNEL_DATA:
        out->data = p + 1;
        out->len = n - 1;
        return n >= 2 && n - 1 <= TUNNEL_CHUNK ? 0 : -1;
    case TUNNEL_CREDIT:
        if (n != 5)
            return -1;
        out->credit = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        return out->credit >= 1 && out->credit <= TUNNEL_WINDOW ? 0 : -1;
    default:
        return -1;
    }
}

size_t
tunnel_frame_encode(tunnel_type_t type, uint32_t credit, uint8_t out[5])
{
    out[0] = (uint8_t)type;
    if (type != TUNNEL_CREDIT)
        return 1;
    out[1] = (uint8_t)(credit >> 24);
    out[2] = (uint8_t)(credit >> 16);
    out[3] = (uint8_t)(credit >> 8);
    out[4] = (uint8_t)credit;
    return 5;
}

/* ---- sending to the peer --------------------------------------------------- */

/* Sends one frame of n bytes to the stream's peer: 0, or -1 (the peer is
 * gone or not reading: the caller closes the stream). */
static int
peer_send(tunnel_t *t, stream_t *s, const void *p, size_t n)
{
    void *sock = s->dealer ? s->dealer : t->router;
    if (!s->dealer && zmq_send(sock, s->id, s->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send(sock, p, n, ZMQ_DONTWAIT) < 0)
        return -1;
    s->sent_ms = proc_mono_ms();
    return 0;
}

static int
peer_control(tunnel_t *t, stream_t *s, tunnel_type_t type, uint32_t credit)
{
    uint8_t f[5];
    return peer_send(t, s, f, tunnel_frame_encode(type, credit, f));
}

/* ---- streams ---------------------------------------------------------------- */

static void
answer_dial(tunnel_t *t, dial_t *d, int err)
{
    pthread_mutex_lock(&t->mu);
    d->err = err;
    d->done = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Frees s: a CLOSE to the peer when tell, the fd and sockets closed, a
 * waiting dialer answered err. */
static void
stream_close(tunnel_t *t, stream_t *s, bool tell, int err)
{
    if (s->state == FREE)
        return;
    if (tell)
        peer_control(t, s, TUNNEL_CLOSE, 0);
    if (s->dial)
        answer_dial(t, s->dial, err ? err : ECONNREFUSED);
    if (s->fd >= 0)
        close(s->fd);
    if (s->dealer)
        zmq_socket_monitor(s->dealer, NULL, 0); /* first: libzmq sends monitor events
                                                 * blocking, and the I/O thread would hang
                                                 * on a PAIR whose reader is gone */
    if (s->mon)
        zmq_close(s->mon);
    if (s->dealer)
        zmq_close(s->dealer);
    free(s->buf);
    *s = (stream_t){.state = FREE, .fd = -1};
    pthread_mutex_lock(&t->mu);
    t->n_open--;
    pthread_mutex_unlock(&t->mu);
}

static stream_t *
stream_take(tunnel_t *t, int fd)
{
    for (int i = 0; i < t->max_streams; i++) {
        stream_t *s = &t->streams[i];
        if (s->state != FREE)
            continue;
        s->buf = malloc(TUNNEL_WINDOW);
        if (!s->buf)
            return NULL;
        s->fd = fd;
        s->heard_ms = s->sent_ms = proc_mono_ms();
        pthread_mutex_lock(&t->mu);
        t->n_open++;
        pthread_mutex_unlock(&t->mu);
        return s;
    }
    return NULL;
}

static stream_t *
stream_by_id(tunnel_t *t, const void *id, size_t len)
{
    for (int i = 0; i < t->max_streams; i++) {
        stream_t *s = &t->streams[i];
        if (s->state != FREE && !s->dealer && s->id_len == len && memcmp(s->id, id, len) == 0)
            return s;
    }
    return NULL;
}

/* Writes what is pending to the local fd; credits the peer as bytes go.
 * 0, or -1 when the fd failed (the caller closes the stream). */
static int
stream_flush(tunnel_t *t, stream_t *s)
{
    while (s->len > 0) {
        ssize_t k = send(s->fd, s->buf + s->off, s->len, MSG_NOSIGNAL);
        if (k < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        s->off += (size_t)k;
        s->len -= (size_t)k;
        s->consumed += (size_t)k;
    }
    s->off = 0;
    if (s->consumed >= TUNNEL_WINDOW / 4) {
        if (peer_control(t, s, TUNNEL_CREDIT, (uint32_t)s->consumed) != 0)
            return -1;
        s->consumed = 0;
    }
    return 0;
}

/* DATA from the peer: appended to what is pending, then written.  A peer
 * beyond its window is a protocol violation: -1. */
static int
stream_data(tunnel_t *t, stream_t *s, const uint8_t *p, size_t n)
{
    if (s->len + n > TUNNEL_WINDOW)
        return -1;
    if (s->off + s->len + n > TUNNEL_WINDOW) {
        memmove(s->buf, s->buf + s->off, s->len);
        s->off = 0;
    }
    memcpy(s->buf + s->off + s->len, p, n);
    s->len += n;
    return stream_flush(t, s);
}

/* One frame from the stream's peer.  -1: close the stream (why says why,
 * NULL for an orderly CLOSE). */
static int
stream_frame(tunnel_t *t, stream_t *s, const uint8_t *p, size_t n, const char **why)
{
    tunnel_frame_t f;
    *why = "a malformed frame";
    if (tunnel_frame_decode(p, n, &f) != 0)
        return -1;
    s->heard_ms = proc_mono_ms();
    *why = "a frame out of turn";
    switch (f.type) {
    case TUNNEL_ACCEPT:
        if (s->state != DIALING)
            return -1;
        s->state = OPEN;
        answer_dial(t, s->dial, 0);
        s->dial = NULL;
        return 0;
    case TUNNEL_DATA:
        *why = "DATA beyond the window, or the local end failed";
        return s->state == OPEN ? stream_data(t, s, f.data, f.len) : -1;
    case TUNNEL_CREDIT:
        *why = "a CREDIT beyond what was sent";
        if (s->state != OPEN || f.credit > s->unacked)
            return -1;
        s->unacked -= f.credit;
        return 0;
    case TUNNEL_PING:
        return 0;
    case TUNNEL_CLOSE:
        *why = NULL;
        return -1;
    default: /* OPEN on an open stream */
        return -1;
    }
}

/* The local fd is readable: one chunk to the peer as DATA; EOF or an
 * error closes the stream (-1). */
static int
stream_read(tunnel_t *t, stream_t *s)
{
    size_t room = TUNNEL_WINDOW - s->unacked;
    if (room > TUNNEL_CHUNK)
        room = TUNNEL_CHUNK;
    ssize_t k = recv(s->fd, t->chunk + 1, room, 0);
    if (k < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (k == 0)
        return -1;
    t->chunk[0] = TUNNEL_DATA;
    if (peer_send(t, s, t->chunk, (size_t)k + 1) != 0)
        return -1;
    s->unacked += (size_t)k;
    return 0;
}

static void
close_for(tunnel_t *t, stream_t *s, const char *why)
{
    if (why)
        LOG_W(NULL, "tunnel %s: a stream closed: %s", t->bind[0] ? t->bind : "client", why);
    stream_close(t, s, true, 0);
}

/* ---- the client side ----------------------------------------------------- */

static void
set_int(void *s, int opt, int v)
{
    zmq_setsockopt(s, opt, &v, sizeof v);
}

/* The options of every tunnel socket: no reconnection (a stream is one
 * connection), ZMTP heartbeats, frames no larger than a DATA frame, no
 * high-water mark (the credits bound what is queued). */
static void
tunnel_socket_options(void *s)
{
    int64_t max = 1 + TUNNEL_CHUNK + BUS_MIN_MSG;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    set_int(s, ZMQ_SNDHWM, 0);
    set_int(s, ZMQ_RCVHWM, 0);
    set_int(s, ZMQ_RECONNECT_IVL, -1);
    set_int(s, ZMQ_HEARTBEAT_IVL, HB_IVL_MS);
    set_int(s, ZMQ_HEARTBEAT_TIMEOUT, HB_TTL_MS);
    set_int(s, ZMQ_HEARTBEAT_TTL, HB_TTL_MS);
}

/* Starts the stream of a queued dial: a DEALER with its monitor, connecting,
 * its OPEN queued.  On failure the dial is answered. */
static void
dial_start(tunnel_t *t, dial_t *d)
{
    stream_t *s = stream_take(t, d->fd);
    if (!s) {
        close(d->fd);
        answer_dial(t, d, EMFILE);
        return;
    }
    s->state = DIALING;
    s->dial = d;
    s->deadline_ms = proc_mono_ms() + t->dial_ms;
    char mon[96];
    snprintf(mon, sizeof mon, "inproc://tunnel-%p-%u", (void *)t, t->seq++);
    s->dealer = bus_socket(t->zctx, ZMQ_DEALER);
    int ok = s->dealer != NULL;
    if (ok) {
        tunnel_socket_options(s->dealer);
        ok = (!t->server_key[0] || security_apply_connect_key(s->dealer, t->server_key) == 0) &&
             zmq_socket_monitor(s->dealer, mon, MON_EVENTS) == 0;
    }
    if (ok) {
        s->mon = zmq_socket(t->zctx, ZMQ_PAIR);
        ok = s->mon && zmq_connect(s->mon, mon) == 0 && zmq_connect(s->dealer, d->endpoint) == 0;
    }
    if (!ok || peer_control(t, s, TUNNEL_OPEN, 0) != 0) {
        int err = errno ? errno : ECONNREFUSED;
        stream_close(t, s, false, err == EAGAIN ? ECONNREFUSED : err);
    }
}

/* An event of a stream's monitor: a drop or a failed handshake closes it. */
static void
monitor_event(tunnel_t *t, stream_t *s)
{
    bus_msg_t m;
    if (bus_recv(s->mon, &m, ZMQ_DONTWAIT) != 0)
        return;
    uint16_t ev = 0;
    if (m.count >= 1 && zmq_msg_size(&m.frames[0]) >= 2)
        memcpy(&ev, zmq_msg_data(&m.frames[0]), 2);
    bus_msg_close(&m);
    if (ev & MON_EVENTS)
        stream_close(t, s, false, ECONNREFUSED);
}

static void
dealer_frames(tunnel_t *t, stream_t *s)
{
    for (int i = 0; i < 64 && s->state != FREE; i++) {
        bus_msg_t m;
        if (bus_recv(s->dealer, &m, ZMQ_DONTWAIT) != 0)
            return;
        const char *why = "more than one frame";
        int rc = -1;
        if (m.count == 1 && !m.overflow)
            rc = stream_frame(t, s, zmq_msg_data(&m.frames[0]), zmq_msg_size(&m.frames[0]), &why);
        bus_msg_close(&m);
        if (rc != 0)
            close_for(t, s, why);
    }
}

/* ---- the server side ----------------------------------------------------- */

/* A fresh non-blocking connection to the target ("@name" or a path), or -1. */
static int
target_connect(const char *target)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(target);
    if (n == 0 || n >= sizeof a.sun_path)
        return -1;
    memcpy(a.sun_path, target, n);
    if (target[0] == '@')
        a.sun_path[0] = '\0'; /* abstract: the name's bytes, no terminator */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, len) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A peer's OPEN (the message open): a stream to the target, ACCEPT; or
 * CLOSE. */
static void
router_open(tunnel_t *t, const void *id, size_t id_len, zmq_msg_t *open)
{
    int fd = target_connect(t->target);
    stream_t *s = fd >= 0 && id_len <= ID_MAX ? stream_take(t, fd) : NULL;
    if (!s) {
        if (fd >= 0)
            close(fd);
        LOG_W(NULL, "tunnel %s: refused a stream: %s", t->bind,
              fd < 0 ? "the local target does not answer" : "too many streams");
        zmq_send(t->router, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(t->router, "C", 1, ZMQ_DONTWAIT);
        return;
    }
    s->state = OPEN;
    memcpy(s->id, id, id_len);
    s->id_len = id_len;
    const char *user = zmq_msg_gets(open, "User-Id");
    strcopy(s->user, sizeof s->user, user ? user : "");
    if (peer_control(t, s, TUNNEL_ACCEPT, 0) != 0)
        stream_close(t, s, false, 0);
}

static void
router_frames(tunnel_t *t)
{
    for (int i = 0; i < 256; i++) {
        bus_msg_t m;
        if (bus_recv(t->router, &m, ZMQ_DONTWAIT) != 0)
            return;
        const void *id = m.count >= 1 ? zmq_msg_data(&m.frames[0]) : "";
        size_t id_len = m.count >= 1 ? zmq_msg_size(&m.frames[0]) : 0;
        stream_t *s = stream_by_id(t, id, id_len);
        const uint8_t *p = m.count == 2 ? zmq_msg_data(&m.frames[1]) : NULL;
        size_t n = m.count == 2 ? zmq_msg_size(&m.frames[1]) : 0;
        const char *why = "not [routing id, frame]";
        if (!p || m.overflow) {
            if (s)
                close_for(t, s, why);
        } else if (s) {
            if (stream_frame(t, s, p, n, &why) != 0)
                close_for(t, s, why);
        } else if (n == 1 && p[0] == TUNNEL_OPEN) {
            router_open(t, id, id_len, &m.frames[1]);
        } else if (!(n == 1 && p[0] == TUNNEL_CLOSE)) {
            /* an unknown stream (closed here, or never opened): it ends */
            zmq_send(t->router, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(t->router, "C", 1, ZMQ_DONTWAIT);
        }
        bus_msg_close(&m);
    }
}

/* ---- the thread --------------------------------------------------------------- */

/* Streams of the poll set, at most 3 items each after the pipe and ROUTER. */
typedef struct {
    zmq_pollitem_t items[2 + 3 * 1024];
    stream_t *owner[2 + 3 * 1024];
    int n;
} pollset_t;

static void
poll_add(pollset_t *ps, void *sock, int fd, short events, stream_t *owner)
{
    ps->items[ps->n] = (zmq_pollitem_t){.socket = sock, .fd = fd, .events = events};
    ps->owner[ps->n++] = owner;
}

static void
poll_build(tunnel_t *t, pollset_t *ps)
{
    ps->n = 0;
    poll_add(ps, NULL, t->wake[0], ZMQ_POLLIN, NULL);
    if (t->router)
        poll_add(ps, t->router, 0, ZMQ_POLLIN, NULL);
    for (int i = 0; i < t->max_streams; i++) {
        stream_t *s = &t->streams[i];
        if (s->state == FREE)
            continue;
        short ev = (short)((s->state == OPEN && s->unacked < TUNNEL_WINDOW ? ZMQ_POLLIN : 0) |
                           (s->len > 0 ? ZMQ_POLLOUT : 0));
        if (ev)
            poll_add(ps, NULL, s->fd, ev, s);
        if (s->dealer)
            poll_add(ps, s->dealer, 0, ZMQ_POLLIN, s);
        if (s->mon)
            poll_add(ps, s->mon, 0, ZMQ_POLLIN, s);
    }
}

static void
poll_handle(tunnel_t *t, pollset_t *ps)
{
    for (int i = 0; i < ps->n; i++) {
        zmq_pollitem_t *it = &ps->items[i];
        stream_t *s = ps->owner[i];
        if (!it->revents || (s && s->state == FREE))
            continue;
        if (!s && it->socket) {
            router_frames(t);
        } else if (!s) {
            char b[64];
            while (read(t->wake[0], b, sizeof b) > 0) {
            }
        } else if (it->socket) {
            if (it->socket == s->dealer)
                dealer_frames(t, s);
            else if (it->socket == s->mon)
                monitor_event(t, s);
        } else if (it->fd != s->fd) {
            continue; /* the slot was freed and taken again in this turn */
        } else if (((it->revents & ZMQ_POLLOUT) && stream_flush(t, s) != 0) ||
                   ((it->revents & (ZMQ_POLLIN | ZMQ_POLLERR)) && stream_read(t, s) != 0)) {
            stream_close(t, s, true, 0);
        }
    }
}

/* After a reload that removed keys: the server's streams whose key has
 * lost its right to be here are closed (the handshake admitted them). */
static void
drop_revoked(tunnel_t *t)
{
    uint64_t now = security_removals();
    if (!t->router || now == t->removals)
        return;
    t->removals = now;
    for (int i = 0; i < t->max_streams; i++) {
        stream_t *s = &t->streams[i];
        role_t role = s->state == OPEN && s->user[0] ? security_role_of(s->user) : ROLE_OPERATOR;
        if (role == ROLE_NONE || (t->roles && !(role & t->roles)))
            close_for(t, s, "its key is no longer allowed");
    }
}

/* Pings, silent peers, dial deadlines, revoked keys. */
static void
timers(tunnel_t *t)
{
    drop_revoked(t);
    int64_t now = proc_mono_ms();
    for (int i = 0; i < t->max_streams; i++) {
        stream_t *s = &t->streams[i];
        if (s->state == DIALING && now >= s->deadline_ms)
            stream_close(t, s, false, ETIMEDOUT);
        else if (s->state == OPEN && now - s->heard_ms >= TUNNEL_DEAD_MS)
            close_for(t, s, "the peer is silent");
        else if (s->state == OPEN && now - s->sent_ms >= TUNNEL_PING_MS &&
                 peer_control(t, s, TUNNEL_PING, 0) != 0)
            stream_close(t, s, false, 0);
    }
}

/* The dials queued since the last turn, or NULL; *stop set when stopping. */
static dial_t *
take_queue(tunnel_t *t, bool *stop)
{
    pthread_mutex_lock(&t->mu);
    dial_t *q = t->queue;
    t->queue = NULL;
    *stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return q;
}

static void *
tunnel_main(void *arg)
{
    tunnel_t *t = arg;
    pollset_t *ps = malloc(sizeof *ps);
    bool stop = ps == NULL;
    while (!stop) {
        for (dial_t *d = take_queue(t, &stop), *next; d; d = next) {
            next = d->next;
            if (stop) {
                close(d->fd);
                answer_dial(t, d, ESHUTDOWN);
            } else {
                dial_start(t, d);
            }
        }
        if (stop)
            break;
        poll_build(t, ps);
        if (zmq_poll(ps->items, ps->n, POLL_MS) > 0)
            poll_handle(t, ps);
        timers(t);
    }
    for (int i = 0; i < t->max_streams; i++)
        stream_close(t, &t->streams[i], true, ESHUTDOWN);
    for (dial_t *d = take_queue(t, &stop), *next; d; d = next) {
        next = d->next;
        close(d->fd);
        answer_dial(t, d, ESHUTDOWN);
    }
    free(ps);
    return NULL;
}

/* ---- the API ------------------------------------------------------------------ */

static void
tunnel_free(tunnel_t *t)
{
    bus_close(&t->router);
    if (t->wake[0] >= 0)
        close(t->wake[0]);
    if (t->wake[1] >= 0)
        close(t->wake[1]);
    free(t->streams);
    free(t->chunk);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

/* The server's ROUTER at t->bind, with the security layer's CURVE. */
static int
tunnel_bind(tunnel_t *t)
{
    t->router = bus_socket(t->zctx, ZMQ_ROUTER);
    if (!t->router)
        return -1;
    tunnel_socket_options(t->router);
    if (t->roles)
        security_require(t->bind, t->roles);
    if (security_apply_bind(t->router, t->bind) != 0 || zmq_bind(t->router, t->bind) != 0) {
        int e = errno;
        bus_close(&t->router);
        errno = e;
        return -1;
    }
    return 0;
}

tunnel_t *
tunnel_new(void *zctx, const tunnel_config_t *cfg)
{
    if (!zctx || !cfg ||
        (cfg->bind && (!cfg->target || strlen(cfg->target) >= TUNNEL_ADDR_MAX ||
                       strlen(cfg->bind) >= TUNNEL_ADDR_MAX)) ||
        (cfg->server_key && !key_z85_valid(cfg->server_key)) || cfg->max_streams < 0 ||
        cfg->max_streams > 1024 || cfg->dial_ms < 0) {
        errno = EINVAL;
        return NULL;
    }
    tunnel_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->zctx = zctx;
    t->wake[0] = t->wake[1] = -1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->max_streams = cfg->max_streams ? cfg->max_streams : TUNNEL_MAX_STREAMS;
    t->roles = cfg->roles;
    t->removals = security_removals();
    t->dial_ms = cfg->dial_ms ? cfg->dial_ms : TUNNEL_DIAL_MS;
    strcopy(t->bind, sizeof t->bind, cfg->bind ? cfg->bind : "");
    strcopy(t->target, sizeof t->target, cfg->target ? cfg->target : "");
    strcopy(t->server_key, sizeof t->server_key, cfg->server_key ? cfg->server_key : "");
    t->streams = calloc((size_t)t->max_streams, sizeof *t->streams);
    t->chunk = malloc(1 + TUNNEL_CHUNK);
    int ok = t->streams && t->chunk && pipe2(t->wake, O_NONBLOCK | O_CLOEXEC) == 0 &&
             (!cfg->bind || tunnel_bind(t) == 0);
    for (int i = 0; ok && i < t->max_streams; i++)
        t->streams[i].fd = -1;
    if (!ok || pthread_create(&t->thread, NULL, tunnel_main, t) != 0) {
        int e = errno;
        tunnel_free(t);
        errno = e ? e : ENOMEM;
        return NULL;
    }
    return t;
}

static void
wake(tunnel_t *t)
{
    ssize_t k = write(t->wake[1], "x", 1);
    (void)k; /* a full pipe already wakes the thread */
}

void
tunnel_destroy(tunnel_t **tp)
{
    if (!tp || !*tp)
        return;
    tunnel_t *t = *tp;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_mutex_unlock(&t->mu);
    wake(t);
    pthread_join(t->thread, NULL);
    tunnel_free(t);
    *tp = NULL;
}

/* A peer that let a dial time out (a partition: nothing answers) is not
 * dialled again for dial_ms: dqlite's Raft dials on libuv's few pool
 * threads, and dials waiting out their deadline one after another held
 * the disk writes of an election back by seconds.  Under mu. */
static int
silent_slot(const tunnel_t *t, const char *address)
{
    for (int i = 0; i < TUNNEL_SILENT_PEERS; i++)
        if (strcmp(t->silent[i].address, address) == 0)
            return i;
    return -1;
}

static bool
silent_now(const tunnel_t *t, const char *address)
{
    int i = silent_slot(t, address);
    return i >= 0 && t->silent[i].until_ms > proc_mono_ms();
}

/* After a dial: a timeout marks the peer silent, anything else clears it. */
static void
silent_note(tunnel_t *t, const char *address, int err)
{
    int64_t now = proc_mono_ms();
    int i = silent_slot(t, address);
    for (int k = 0; i < 0 && err == ETIMEDOUT && k < TUNNEL_SILENT_PEERS; k++)
        if (t->silent[k].until_ms <= now)
            i = k; /* a free or expired slot */
    if (i < 0)
        return;
    strcopy(t->silent[i].address, TUNNEL_ADDR_MAX, address);
    t->silent[i].until_ms = err == ETIMEDOUT ? now + t->dial_ms : 0;
}

int
tunnel_dial(tunnel_t *t, const char *address, int *fd)
{
    dial_t d = {.fd = -1};
    const char *colon = address ? strrchr(address, ':') : NULL;
    if (!t || !fd || !colon || colon == address || !colon[1] ||
        strlen(address) >= TUNNEL_ADDR_MAX) {
        errno = EINVAL;
        return -1;
    }
    snprintf(d.endpoint, sizeof d.endpoint, "tcp://%s", address);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return -1;
    fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
    d.fd = pair[1];
    pthread_mutex_lock(&t->mu);
    if (t->stop || silent_now(t, address)) {
        int err = t->stop ? ESHUTDOWN : ETIMEDOUT;
        pthread_mutex_unlock(&t->mu);
        close(pair[0]);
        close(pair[1]);
        errno = err;
        return -1;
    }
    d.next = t->queue;
    t->queue = &d;
    pthread_mutex_unlock(&t->mu);
    wake(t);
    pthread_mutex_lock(&t->mu);
    while (!d.done)
        pthread_cond_wait(&t->cv, &t->mu);
    silent_note(t, address, d.err);
    pthread_mutex_unlock(&t->mu);
    if (d.err) {
        close(pair[0]);
        errno = d.err;
        return -1;
    }
    *fd = pair[0];
    return 0;
}

int
tunnel_connect_func(void *arg, const char *address, int *fd)
{
    return tunnel_dial(arg, address, fd) == 0 ? 0 : 1;
}

int
tunnel_streams(tunnel_t *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->n_open;
    pthread_mutex_unlock(&t->mu);
    return n;
}
