/* bus: see bus.h. */
#include "bus.h"

#include "eplist.h"

#include "security.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
bus_set(void *s, int opt, int value)
{
    zmq_setsockopt(s, opt, &value, sizeof value);
}

int64_t
bus_max_msg(int type)
{
    switch (type) {
    case ZMQ_ROUTER:
        return BUS_MAX_MSG;
    case ZMQ_DEALER:
    case ZMQ_REQ:
        return BUS_MAX_REPLY;
    case ZMQ_SUB:
    case ZMQ_XSUB:
        return BUS_MAX_PUBLISHED;
    case ZMQ_PUB:
    case ZMQ_XPUB:
        return BUS_MAX_SUBSCRIPTION;
    default: /* PULL (nudges), PUSH and anything else */
        return BUS_MAX_NUDGE;
    }
}

void *
bus_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        return NULL;
    bus_set(s, ZMQ_LINGER, 200);
    int hwm = (type == ZMQ_PUB || type == ZMQ_SUB) ? BUS_PUBSUB_HWM : BUS_HWM;
    bus_set(s, ZMQ_SNDHWM, hwm);
    bus_set(s, ZMQ_RCVHWM, hwm);
    int64_t max = bus_max_msg(type);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (type == ZMQ_ROUTER)
        bus_set(s, ZMQ_ROUTER_MANDATORY, 1);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    return s;
}

void *
bus_bind(void *ctx, int type, const char *endpoint)
{
    void *s = bus_socket(ctx, type);
    if (s && (security_apply_bind(s, endpoint) != 0 || zmq_bind(s, endpoint) != 0)) {
        int e = errno;
        zmq_close(s);
        errno = e;
        return NULL;
    }
    if (s)
        security_restrict_ipc(endpoint);
    return s;
}

void *
bus_connect(void *ctx, int type, const char *endpoint)
{
    void *s = bus_socket(ctx, type);
    if (s && (security_apply_connect(s, endpoint) != 0 || zmq_connect(s, endpoint) != 0)) {
        int e = errno;
        zmq_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

void *
bus_connect_list(void *ctx, int type, const char *list)
{
    eplist_t l;
    char why[200];
    if (!strchr(list, ','))
        return bus_connect(ctx, type, list);
    if (eplist_parse(&l, list, why, sizeof why) != 0) {
        errno = EINVAL;
        return NULL;
    }
    void *s = bus_socket(ctx, type);
    for (int i = 0; s && i < l.n; i++) {
        if (security_apply_connect(s, l.ep[i]) != 0 || zmq_connect(s, l.ep[i]) != 0) {
            int e = errno;
            zmq_close(s);
            errno = e;
            return NULL;
        }
    }
    return s;
}

void
bus_close(void **sock)
{
    if (sock && *sock) {
        zmq_close(*sock);
        *sock = NULL;
    }
}

int
bus_recv(void *sock, bus_msg_t *m, int flags)
{
    m->count = 0;
    m->overflow = false;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *f = m->count < BUS_MAX_FRAMES ? &m->frames[m->count] : &scratch;
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, m->count == 0 ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(f);
            bus_msg_close(m);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(f);
        if (f == &scratch) {
            zmq_msg_close(f);
            m->overflow = true;
        } else {
            m->count++;
        }
    }
    return 0;
}

void
bus_msg_close(bus_msg_t *m)
{
    for (int i = 0; i < m->count; i++)
        zmq_msg_close(&m->frames[i]);
    m->count = 0;
}

const void *
bus_body(const bus_msg_t *m, size_t *len)
{
    if (m->count == 0) {
        *len = 0;
        return "";
    }
    zmq_msg_t *f = (zmq_msg_t *)&m->frames[m->count - 1];
    *len = zmq_msg_size(f);
    return zmq_msg_data(f);
}

bool
bus_frame_is(const bus_msg_t *m, int i, const char *s)
{
    if (i >= m->count)
        return false;
    zmq_msg_t *f = (zmq_msg_t *)&m->frames[i];
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

int
bus_split(const bus_msg_t *m, int *n_envelope, const void **body, size_t *len)
{
    /* An empty frame after the identity is REQ's delimiter only when a body
     * follows it: from a DEALER, [identity, ""] is an empty request. */
    bool delimited = m->count >= 3 && zmq_msg_size((zmq_msg_t *)&m->frames[1]) == 0;
    *n_envelope = delimited ? 2 : 1;
    if (m->overflow || m->count != *n_envelope + 1) {
        *body = "";
        *len = 0;
        return -1;
    }
    *body = bus_body(m, len);
    return 0;
}

int
bus_reply(void *router, const bus_msg_t *req, const void *body, size_t len)
{
    return bus_reply_to(router, req, req->count - 1, body, len);
}

int
bus_reply_to(void *router, const bus_msg_t *req, int n_envelope, const void *body, size_t len)
{
    if (n_envelope > req->count)
        n_envelope = req->count;
    for (int i = 0; i < n_envelope; i++) {
        zmq_msg_t *f = (zmq_msg_t *)&req->frames[i];
        if (zmq_send(router, zmq_msg_data(f), zmq_msg_size(f), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return -1;
    }
    return zmq_send(router, body, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int
bus_send(void *sock, const char *topic, const void *body, size_t len, int flags)
{
    if (topic && zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE | flags) < 0)
        return -1;
    return zmq_send(sock, body, len, flags) < 0 ? -1 : 0;
}

int
bus_recv_body(void *sock, int flags, void **body, size_t *len)
{
    bus_msg_t m;
    if (bus_recv(sock, &m, flags) != 0)
        return -1;
    size_t n;
    const void *b = bus_body(&m, &n);
    *body = malloc(n ? n : 1);
    if (*body) {
        memcpy(*body, b, n);
        *len = n;
    }
    bus_msg_close(&m);
    if (!*body) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int
bus_request(void *dealer, const void *body, size_t len, int timeout_ms, void **reply,
            size_t *reply_len)
{
    if (zmq_send(dealer, body, len, 0) < 0)
        return -1;
    zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc <= 0) {
        if (rc == 0)
            errno = EAGAIN;
        return -1;
    }
    return bus_recv_body(dealer, 0, reply, reply_len);
}
