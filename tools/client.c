/* client: see client.h. */
#include "client.h"

#include "security.h"

#include "bus.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An ipc endpoint whose socket file does not exist: no daemon bound it. */
static bool
client_ipc_missing(const char *endpoint)
{
    struct stat sb;
    return strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '@' &&
           stat(endpoint + 6, &sb) != 0 && errno == ENOENT;
}

/* A DEALER with a monitor (a PAIR at *mon) reporting connects and failed
 * connect attempts, connected to endpoint.  NULL with errno on failure. */
static void *
client_dealer(void *zctx, const char *endpoint, int timeout_ms, void **mon)
{
    char name[64];
    void *dealer = bus_socket(zctx, ZMQ_DEALER);
    int linger = 0, connect_ms = timeout_ms < CLIENT_CONNECT_MS ? timeout_ms : CLIENT_CONNECT_MS;
    *mon = NULL;
    if (!dealer)
        return NULL;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(dealer, ZMQ_CONNECT_TIMEOUT, &connect_ms, sizeof connect_ms);
    snprintf(name, sizeof name, "inproc://client-monitor-%p", dealer);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(dealer, name, events) == 0 &&
        (*mon = zmq_socket(zctx, ZMQ_PAIR)) != NULL) {
        zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(*mon, name) != 0)
            bus_close(mon);
    }
    if (security_apply_connect(dealer, endpoint) != 0 || zmq_connect(dealer, endpoint) != 0) {
        int e = errno;
        bus_close(mon);
        bus_close(&dealer);
        errno = e;
    }
    return dealer;
}

/* Reads one monitor event: its number (ZMQ_EVENT_*), 0 when unreadable. */
static int
client_monitor_event(void *mon)
{
    bus_msg_t m;
    uint16_t event = 0;
    if (bus_recv(mon, &m, ZMQ_DONTWAIT) != 0)
        return 0;
    if (m.count >= 1 && zmq_msg_size(&m.frames[0]) >= sizeof event)
        memcpy(&event, zmq_msg_data(&m.frames[0]), sizeof event);
    bus_msg_close(&m);
    return event;
}

/* Receives the waiting reply: its body into *data (malloc'ed). */
static client_rc_t
client_take(void *dealer, void **data, size_t *n)
{
    bus_msg_t m;
    if (bus_recv(dealer, &m, ZMQ_DONTWAIT) != 0)
        return CLIENT_CONNECT;
    const void *body = bus_body(&m, n);
    *data = malloc(*n ? *n : 1);
    if (*data)
        memcpy(*data, body, *n);
    bus_msg_close(&m);
    return *data ? CLIENT_OK : CLIENT_CONNECT;
}

/* Waits for the reply on dealer, or a failed connect attempt on mon. */
static client_rc_t
client_wait(void *dealer, void *mon, int timeout_ms, void **data, size_t *n)
{
    int64_t end = proc_mono_ms() + timeout_ms;
    bool connected = false, handshaken = false;
    for (;;) {
        zmq_pollitem_t items[2] = {{dealer, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int64_t left = end - proc_mono_ms();
        if (left <= 0)
            return CLIENT_TIMEOUT;
        int rc = zmq_poll(items, mon ? 2 : 1, (long)left);
        if (rc < 0)
            return errno == EINTR ? CLIENT_INTERRUPTED : CLIENT_CONNECT;
        if (items[0].revents & ZMQ_POLLIN)
            return client_take(dealer, data, n);
        if (!mon || !(items[1].revents & ZMQ_POLLIN))
            continue;
        int event = client_monitor_event(mon);
        if (event == ZMQ_EVENT_CONNECTED)
            connected = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            handshaken = true;
        else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
            return CLIENT_REFUSED;
        else if (event == ZMQ_EVENT_CONNECT_RETRIED)
            return !connected                     ? CLIENT_UNREACHABLE
                   : security_on() && !handshaken ? CLIENT_REFUSED
                                                  : CLIENT_LOST;
    }
}

client_rc_t
client_call(void *zctx, const char *endpoint, const void *body, size_t len, int timeout_ms,
            client_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    if (client_ipc_missing(endpoint))
        return CLIENT_NO_SOCKET;
    void *mon, *dealer = client_dealer(zctx, endpoint, timeout_ms, &mon);
    if (!dealer)
        return CLIENT_CONNECT;
    void *data = NULL;
    size_t n = 0;
    /* not connected yet, the DEALER queues the request (ZMQ_IMMEDIATE off) */
    client_rc_t rc = zmq_send(dealer, body, len, ZMQ_DONTWAIT) < 0
                         ? CLIENT_CONNECT
                         : client_wait(dealer, mon, timeout_ms, &data, &n);
    int e = errno;
    bus_close(&mon);
    bus_close(&dealer);
    errno = e;
    if (rc != CLIENT_OK)
        return rc;
    const char *why;
    if (codec_reader_check(&reply->body, data, n, &why) != 0) {
        free(data);
        return CLIENT_BAD_REPLY;
    }
    reply->data = data;
    reply->len = n;
    return CLIENT_OK;
}

void
client_reply_fini(client_reply_t *reply)
{
    if (!reply->data)
        return;
    free(reply->data);
    reply->data = NULL;
}

void
client_describe(client_rc_t rc, const char *daemon, const char *endpoint, int timeout_ms, char *buf,
                size_t cap)
{
    switch (rc) {
    case CLIENT_TIMEOUT:
        snprintf(buf, cap, "no reply from %s at %s within %d ms (is it running?)", daemon, endpoint,
                 timeout_ms);
        break;
    case CLIENT_NO_SOCKET:
        snprintf(buf, cap, "%s is not running: no socket file at %s", daemon, endpoint);
        break;
    case CLIENT_UNREACHABLE:
        snprintf(buf, cap, "%s is not running: nothing accepts connections at %s", daemon,
                 endpoint);
        break;
    case CLIENT_LOST:
        snprintf(buf, cap,
                 "lost the connection to %s at %s before its reply (the request may have been "
                 "handled)",
                 daemon, endpoint);
        break;
    case CLIENT_CONNECT:
        snprintf(buf, cap, "cannot talk to %s at %s: %s", daemon, endpoint, zmq_strerror(errno));
        break;
    case CLIENT_BAD_REPLY:
        snprintf(buf, cap, "%s at %s sent a reply that is not one msgpack value", daemon, endpoint);
        break;
    case CLIENT_INTERRUPTED:
        snprintf(buf, cap, "interrupted while waiting for %s", daemon);
        break;
    case CLIENT_REFUSED:
        snprintf(buf, cap,
                 "refused: your key is not allowed on %s at %s, or it is not the server whose "
                 "key invctl has (--key, --keys, --server-key; docs/protocol.md, section 13)",
                 daemon, endpoint);
        break;
    default:
        snprintf(buf, cap, "ok");
    }
}

const char *
client_code(client_rc_t rc)
{
    switch (rc) {
    case CLIENT_TIMEOUT:
        return "timeout";
    case CLIENT_NO_SOCKET:
    case CLIENT_UNREACHABLE:
        return "unreachable";
    case CLIENT_LOST:
        return "connection_lost";
    case CLIENT_BAD_REPLY:
        return "bad_reply";
    case CLIENT_INTERRUPTED:
        return "interrupted";
    case CLIENT_REFUSED:
        return "refused";
    default:
        return "connection";
    }
}

bool
client_reply_ok(const client_reply_t *reply)
{
    bool ok = false;
    mpread_t v;
    if (mpread_find(&reply->body, "ok", &v) != 0 || mpread_bool(&v, &ok) != 0)
        return false;
    return ok;
}

const char *
client_reply_str(const client_reply_t *reply, const char *key, char *buf, size_t cap)
{
    mpread_t v;
    const char *s;
    size_t n;
    buf[0] = '\0';
    if (mpread_find(&reply->body, key, &v) == 0 && mpread_str(&v, &s, &n) == 0)
        snprintf(buf, cap, "%.*s", (int)n, s);
    return buf;
}
