/* client: see client.h. */
#include "client.h"

#include "eplist.h"
#include "security.h"

#include "bus.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

/* Sleeps ms milliseconds (an election's pause). */
static void
client_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether rc means "try the next endpoint": nobody answered there. */
static bool
client_rc_next(client_rc_t rc)
{
    return rc == CLIENT_TIMEOUT || rc == CLIENT_NO_SOCKET || rc == CLIENT_UNREACHABLE ||
           rc == CLIENT_LOST || rc == CLIENT_REFUSED || rc == CLIENT_CONNECT;
}

client_rc_t
client_call_list(void *zctx, const char *list, const void *body, size_t len, int timeout_ms,
                 client_reply_t *reply, char *answered, size_t cap, const char **why)
{
    eplist_t l;
    char bad[200], target[EPLIST_EP_MAX + 1], leader[EPLIST_EP_MAX + 1];
    *why = NULL;
    memset(reply, 0, sizeof *reply);
    snprintf(answered, cap, "%s", list);
    if (eplist_parse(&l, list, bad, sizeof bad) != 0) /* not a list: client_call says why */
        return client_call(zctx, list, body, len, timeout_ms, reply);
    int64_t end = proc_mono_ms() + timeout_ms;
    int pos = 0, untried = l.n, hops = 0, fails = 0;
    bool tried[EPLIST_MAX] = {false};
    client_rc_t last = CLIENT_TIMEOUT;
    snprintf(target, sizeof target, "%s", l.ep[0]);
    for (;;) {
        int64_t left = end - proc_mono_ms();
        if (left <= 0)
            return last;
        int at = eplist_find(&l, target);
        if (at >= 0) {
            pos = at;
            untried -= !tried[at];
            tried[at] = true;
        }
        int share = (int)(left / (untried + 1));
        snprintf(answered, cap, "%s", target);
        client_rc_t rc = client_call(zctx, target, body, len, share > 0 ? share : 1, reply);
        if (rc == CLIENT_OK) {
            int nl = codec_read_not_leader(&reply->body, leader, sizeof leader, why);
            if (nl == 0)
                return CLIENT_OK;
            client_reply_fini(reply);
            if (nl < 0)
                return CLIENT_BAD_LEADER;
            last = CLIENT_NO_LEADER;
            if (leader[0] && strcmp(leader, target) != 0 && hops++ < CLIENT_MAX_HOPS &&
                security_expect_like(leader, target) == 0) {
                snprintf(target, sizeof target, "%s", leader);
                continue;
            }
            left = end - proc_mono_ms(); /* an election: the next one, a moment later */
            client_sleep_ms(left < CLIENT_ELECTION_MS ? left : CLIENT_ELECTION_MS);
        } else if (!client_rc_next(rc) || l.n == 1) {
            return rc; /* one endpoint as before; interrupted; a reply that is not msgpack */
        } else {
            last = rc;
            if (++fails % l.n == 0) { /* a whole round unanswered: not a busy loop */
                left = end - proc_mono_ms();
                client_sleep_ms(left < CLIENT_ELECTION_MS ? left : CLIENT_ELECTION_MS);
            }
        }
        hops = 0;
        pos = (pos + 1) % l.n;
        snprintf(target, sizeof target, "%s", l.ep[pos]);
    }
}

client_rc_t
client_call_say(void *zctx, const char *daemon, const char *list, const void *body, size_t len,
                int timeout_ms, client_reply_t *reply, char *err, size_t cap)
{
    char answered[EPLIST_EP_MAX + 1];
    const char *why;
    size_t first = strcspn(list, ",");
    client_rc_t rc =
        client_call_list(zctx, list, body, len, timeout_ms, reply, answered, sizeof answered, &why);
    if (rc == CLIENT_OK) {
        if (strlen(answered) != first || strncmp(answered, list, first) != 0)
            fprintf(stderr, "invctl: %s answered at %s (not at %.*s, the first of the list)\n",
                    daemon, answered, (int)first, list);
        return rc;
    }
    int e = errno;
    const char *where = rc == CLIENT_NO_LEADER ? list : answered;
    client_describe(rc, daemon, where, timeout_ms, err, cap);
    if (rc == CLIENT_BAD_LEADER && why) {
        size_t n = strlen(err);
        snprintf(err + n, cap - n, " (%s)", why);
    }
    errno = e;
    return rc;
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
    case CLIENT_BAD_LEADER:
        snprintf(buf, cap,
                 "%s at %s answered not_leader with a leader that is not an endpoint; not "
                 "followed",
                 daemon, endpoint);
        break;
    case CLIENT_NO_LEADER:
        snprintf(buf, cap,
                 "no active %s among %s within %d ms (not_leader: an election in progress?)",
                 daemon, endpoint, timeout_ms);
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
    case CLIENT_BAD_LEADER:
    case CLIENT_NO_LEADER:
        return "not_leader";
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
