/* client: see client.h. */
#include "client.h"

#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

client_rc_t
client_call(void *zctx, const char *endpoint, const void *body, size_t len, int timeout_ms,
            client_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    void *dealer = bus_connect(zctx, ZMQ_DEALER, endpoint);
    if (!dealer)
        return CLIENT_CONNECT;
    /* Do not queue the request forever when the peer is absent: a send to a
     * DEALER with no connection blocks, so make it fail at the deadline. */
    zmq_setsockopt(dealer, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    void *data = NULL;
    size_t n = 0;
    int rc = bus_request(dealer, body, len, timeout_ms, &data, &n);
    int e = errno;
    bus_close(&dealer);
    errno = e;
    if (rc != 0)
        return e == EINTR ? CLIENT_INTERRUPTED : e == EAGAIN ? CLIENT_TIMEOUT : CLIENT_CONNECT;
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
    case CLIENT_CONNECT:
        snprintf(buf, cap, "cannot talk to %s at %s: %s", daemon, endpoint, zmq_strerror(errno));
        break;
    case CLIENT_BAD_REPLY:
        snprintf(buf, cap, "%s at %s sent a reply that is not one msgpack value", daemon, endpoint);
        break;
    case CLIENT_INTERRUPTED:
        snprintf(buf, cap, "interrupted while waiting for %s", daemon);
        break;
    default:
        snprintf(buf, cap, "ok");
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
