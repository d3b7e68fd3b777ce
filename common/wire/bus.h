/* bus: the ZeroMQ helpers every process shares.  Sockets come out with the
 * options chosen on purpose (ARCHITECTURE.md invariant 4):
 *  - ROUTER: ROUTER_MANDATORY (an unroutable reply is an error, not a silent
 *    drop), high-water marks of BUS_HWM, MAXMSGSIZE of BUS_MAX_MSG;
 *  - PUB/SUB: high-water marks of BUS_PUBSUB_HWM messages, deliberately
 *    small: a subscriber that falls that far behind loses live messages and
 *    repairs the gap through catch-up, instead of buffering tens of MiB in
 *    both processes (issue 5, S7).  The relay's messages are batches of up
 *    to 16 KiB, so 500 of them hold at most ~8 MiB per subscriber, what
 *    20,000 single events held before (docs/decisions.md, item 31);
 *  - every socket that receives: a ZMQ_MAXMSGSIZE above the largest message
 *    it legitimately receives (bus_max_msg; docs/protocol.md, section 2).  A
 *    bigger one makes ZeroMQ drop the connection before it buffers a byte
 *    of it: a 16 MiB subscription sent to a PUB grew the relay to 1.6 GB
 *    (libzmq keeps a trie node per byte of a subscription) and stalled it
 *    for seconds (issue 23, item 1);
 *  - every socket: LINGER of 200 ms so shutdown never hangs. */
#ifndef INV_BUS_H
#define INV_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define BUS_MAX_FRAMES 8
#define BUS_HWM 100000
#define BUS_PUBSUB_HWM 500
/* Maximum message sizes per socket type (what one peer can make us hold in
 * one message); each is well above the largest legitimate message:
 *  - ROUTER, requests: bodies are at most 64 KiB (CODEC_MAX_MESSAGE); those
 *    up to BUS_MAX_MSG are read and answered `malformed`;
 *  - DEALER, replies: the largest are ReadEvents/ReadStream pages, 1000
 *    events of at most ~5.3 KiB each (every text field at its limit), so
 *    about 5.3 MiB;
 *  - SUB, published messages: an `events` batch is at most ~16 KiB plus one
 *    event (relay.c, BATCH_BYTES), heartbeats and alerts under 1 KiB;
 *  - PUB/XPUB, subscriptions: one byte plus a topic prefix; our topics are
 *    at most 9 bytes and subscribers subscribe to "" (everything);
 *  - PULL, nudges: one msgpack integer, at most 9 bytes;
 *  - PUSH never receives; it gets the smallest limit;
 *  - and never below BUS_MIN_MSG: the limit applies to the CURVE handshake's
 *    commands too (its INITIATE, with the client's vouch and metadata, is
 *    about 300 bytes); at 256 bytes every CURVE subscriber of a PUB and the
 *    nudging PUSH were dropped in the handshake. */
#define BUS_MAX_MSG (1024 * 1024)
#define BUS_MAX_REPLY (16 * 1024 * 1024)
#define BUS_MAX_PUBLISHED (1024 * 1024)
#define BUS_MIN_MSG 1024
#define BUS_MAX_SUBSCRIPTION BUS_MIN_MSG
#define BUS_MAX_NUDGE BUS_MIN_MSG

/* The ZMQ_MAXMSGSIZE every socket of `type` gets (above). */
int64_t bus_max_msg(int type);

/* One received multipart message.  Frames beyond BUS_MAX_FRAMES are read and
 * dropped (overflow is set). */
typedef struct {
    int count;
    bool overflow;
    zmq_msg_t frames[BUS_MAX_FRAMES];
} bus_msg_t;

/* Creates a socket of `type` with the options above and binds or connects it
 * to `endpoint`.  Returns NULL (errno set) on failure. */
void *bus_bind(void *ctx, int type, const char *endpoint);
/* The same socket, neither bound nor connected (to set more options or a
 * monitor first).  NULL (errno set) on failure. */
void *bus_socket(void *ctx, int type);
void *bus_connect(void *ctx, int type, const char *endpoint);
/* The same socket connected to every endpoint of a comma-separated list
 * (eplist.h; one endpoint: bus_connect), each with its own CURVE server
 * key: a SUB given the PUBs of every relay of a replicated store receives
 * from all of them (fair-queued; the subscriber drops what it has by
 * position).  NULL (errno set; EINVAL: not a valid list) on failure. */
void *bus_connect_list(void *ctx, int type, const char *list);
/* Closes *sock if not NULL and nulls it. */
void bus_close(void **sock);

/* Receives one whole message.  flags: 0 or ZMQ_DONTWAIT.  Returns 0, or -1
 * with errno (EAGAIN, EINTR, ETERM); on -1 nothing needs closing. */
int bus_recv(void *sock, bus_msg_t *m, int flags);
void bus_msg_close(bus_msg_t *m);
/* Receives one whole message and hands out a copy of its body: *body
 * malloc'ed (the caller frees it), *len its bytes.  flags as bus_recv.
 * Returns 0, or -1 with errno (EAGAIN, EINTR, ETERM, ENOMEM); nothing is
 * held then. */
int bus_recv_body(void *sock, int flags, void **body, size_t *len);
/* The last frame (the body) of a received message. */
const void *bus_body(const bus_msg_t *m, size_t *len);
/* The i-th frame as text compared to s (topic checks). */
bool bus_frame_is(const bus_msg_t *m, int i, const char *s);

/* Splits a message received on a ROUTER into its routing envelope and body.
 * Accepted shapes: [identity, body] (DEALER) and [identity, "", body] (REQ).
 * Returns 0 with *n_envelope and the body, or -1 for any other shape, with
 * *n_envelope still set so that a `malformed` reply can be routed back. */
int bus_split(const bus_msg_t *m, int *n_envelope, const void **body, size_t *len);
/* Sends the first n_envelope frames of `req` followed by body, on a ROUTER.
 * Returns 0, or -1 with errno as bus_reply. */
int bus_reply_to(void *router, const bus_msg_t *req, int n_envelope, const void *body, size_t len);
/* Sends the routing envelope of `req` (every frame but the last) followed by
 * body, on a ROUTER.  Returns 0, or -1 with errno (EHOSTUNREACH when the peer
 * is gone, EAGAIN when it is past its high-water mark). */
int bus_reply(void *router, const bus_msg_t *req, const void *body, size_t len);
/* Sends [topic, body] (PUB) or [body] when topic is NULL.  flags as zmq_send. */
int bus_send(void *sock, const char *topic, const void *body, size_t len, int flags);

/* Client side: sends body on a DEALER and waits up to timeout_ms for one
 * reply.  On 0, *reply is malloc'ed (caller frees) and *reply_len set.
 * Returns -1 with errno EAGAIN on time-out (the caller should recreate the
 * socket before reusing it, since a late reply may still arrive). */
int bus_request(void *dealer, const void *body, size_t len, int timeout_ms, void **reply,
                size_t *reply_len);

#endif
