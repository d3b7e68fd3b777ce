/* client: one request, one reply, with a deadline.  A fresh DEALER per call
 * (so a late reply to a timed-out request can never be mistaken for the
 * answer to the next one), never a hang.  Errors are printed by the caller
 * from client_describe().
 *
 * A daemon that is not running is reported at once, not at the deadline
 * (ZeroMQ connects lazily and retries for ever, so a send alone says
 * nothing):
 *  - ipc://PATH whose file does not exist (stat): CLIENT_NO_SOCKET before
 *    any socket is made (the daemon unlinks it when it stops);
 *  - nothing accepts the connection (tcp port closed, a stale ipc file):
 *    a socket monitor on the DEALER sees ZMQ_EVENT_CONNECT_RETRIED, which
 *    libzmq emits after each refused attempt (ECONNREFUSED), within
 *    milliseconds on loopback: CLIENT_UNREACHABLE, or CLIENT_LOST when it
 *    had connected and the peer went away before replying;
 *  - a host that does not answer SYNs: ZMQ_CONNECT_TIMEOUT ends the attempt
 *    after CLIENT_CONNECT_MS (or the deadline when shorter) and the retry
 *    is reported as above.
 * A daemon that refuses the CURVE handshake (security.h: the client's key
 * is not on its allow-list, or the client has another server key for it)
 * is reported from the monitor's handshake events at once:
 * CLIENT_REFUSED.  A daemon that accepts but does not answer (stopped with
 * SIGSTOP, busy) costs the whole deadline: CLIENT_TIMEOUT. */
#ifndef INV_CLIENT_H
#define INV_CLIENT_H

#include "codec.h"

#include <stddef.h>

typedef enum {
    CLIENT_OK = 0,
    CLIENT_TIMEOUT = -1,     /* no reply within the deadline */
    CLIENT_CONNECT = -2,     /* bad endpoint or socket error */
    CLIENT_BAD_REPLY = -3,   /* the reply is not one msgpack object */
    CLIENT_INTERRUPTED = -4, /* SIGINT/SIGTERM while waiting */
    CLIENT_NO_SOCKET = -5,   /* ipc endpoint without its socket file */
    CLIENT_UNREACHABLE = -6, /* a connect attempt was refused */
    CLIENT_LOST = -7,        /* connected, then the peer went away */
    CLIENT_REFUSED = -8,     /* the CURVE handshake failed: key not allowed, wrong server key */
    CLIENT_BAD_LEADER = -9,  /* a not_leader reply whose leader is not "" or an endpoint */
    CLIENT_NO_LEADER = -10   /* only not_leader replies until the deadline: no active daemon */
} client_rc_t;

#define CLIENT_CONNECT_MS 1000 /* one TCP connect attempt at most */

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

/* A request to one of a list of daemons of one kind, only one of which is
 * active (issue 26: a replicated store; docs/protocol.md, section 2,
 * not_leader).  list is comma-separated (eplist.h); one endpoint is
 * client_call, its failures reported at once as before, except that a
 * not_leader reply is followed as below; a text that is no list at all is
 * client_call's to refuse.  The same body (the same command_id) is sent
 *  - to the endpoint a not_leader reply names (in the list or not: it passed
 *    eplist_valid, and with CURVE on it gets the key of the endpoint that
 *    named it), at most CLIENT_MAX_HOPS times in a row;
 *  - after a not_leader naming no leader (an election), CLIENT_ELECTION_MS
 *    later, to the next endpoint of the list;
 *  - after no reply, a refused or lost connection or a refused handshake,
 *    to the next endpoint of the list at once.
 * Each endpoint of the list not tried yet gets an equal share of what is
 * left of timeout_ms, so a silent one cannot use up the deadline; the last
 * one tried gets all that is left.  Returns what client_call returns for the
 * reply that ended it (not a not_leader), CLIENT_BAD_LEADER (a hostile or
 * broken server: nothing followed; *why says what), CLIENT_NO_LEADER, or
 * the last failure when the deadline passed.  answered (cap bytes) receives
 * the endpoint that answered, or the last one tried. */
#define CLIENT_MAX_HOPS 8
#define CLIENT_ELECTION_MS 100
client_rc_t client_call_list(void *zctx, const char *list, const void *body, size_t len,
                             int timeout_ms, client_reply_t *reply, char *answered, size_t cap,
                             const char **why);

/* client_call_list as invctl uses it: one note on stderr, "invctl:
 * <daemon> answered at X (not at Y, the first of the list)", when another
 * endpoint than the list's first answered (never on stdout: --json output
 * is unchanged); on failure err receives client_describe's sentence for
 * the endpoint tried last (with the reason of a CLIENT_BAD_LEADER). */
client_rc_t client_call_say(void *zctx, const char *daemon, const char *list, const void *body,
                            size_t len, int timeout_ms, client_reply_t *reply, char *err,
                            size_t cap);

/* "no reply from query-service at tcp://... within 5000 ms (is it running?)" */
void client_describe(client_rc_t rc, const char *daemon, const char *endpoint, int timeout_ms,
                     char *buf, size_t cap);

/* The JSON error code of a failure: "timeout", "unreachable",
 * "connection_lost", "bad_reply", "interrupted", "refused", "connection",
 * "not_leader" (CLIENT_BAD_LEADER and CLIENT_NO_LEADER). */
const char *client_code(client_rc_t rc);

/* The reply's "ok" field; false when absent or not a bool. */
bool client_reply_ok(const client_reply_t *reply);
/* The reply's string field, or "" (never NULL); copied into buf. */
const char *client_reply_str(const client_reply_t *reply, const char *key, char *buf, size_t cap);

#endif
