/* client: one request, one reply, with a deadline.  A fresh DEALER per call
 * (so a late reply to a timed-out request can never be mistaken for the
 * answer to the next one); an unreachable daemon costs exactly timeout_ms,
 * never a hang.  Errors are printed by the caller from client_strerror(). */
#ifndef INV_CLIENT_H
#define INV_CLIENT_H

#include "codec.h"

#include <stddef.h>

typedef enum {
    CLIENT_OK = 0,
    CLIENT_TIMEOUT = -1,    /* no reply within the deadline */
    CLIENT_CONNECT = -2,    /* bad endpoint or socket error */
    CLIENT_BAD_REPLY = -3,  /* the reply is not one msgpack object */
    CLIENT_INTERRUPTED = -4 /* SIGINT/SIGTERM while waiting */
} client_rc_t;

typedef struct {
    void *data; /* malloc'ed reply body */
    size_t len;
    mpread_t body; /* a cursor at the reply's value in data, checked by codec_reader_check */
} client_reply_t;

/* Sends body to endpoint and waits up to timeout_ms.  On CLIENT_OK, reply is
 * filled and must be released with client_reply_fini(); on error nothing
 * needs releasing. */
client_rc_t client_call(void *zctx, const char *endpoint, const void *body, size_t len,
                        int timeout_ms, client_reply_t *reply);
void client_reply_fini(client_reply_t *reply);

/* "no reply from query-service at tcp://... within 5000 ms (is it running?)" */
void client_describe(client_rc_t rc, const char *daemon, const char *endpoint, int timeout_ms,
                     char *buf, size_t cap);

/* The reply's "ok" field; false when absent or not a bool. */
bool client_reply_ok(const client_reply_t *reply);
/* The reply's string field, or "" (never NULL); copied into buf. */
const char *client_reply_str(const client_reply_t *reply, const char *key, char *buf, size_t cap);

#endif
