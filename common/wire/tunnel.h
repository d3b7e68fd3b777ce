/* tunnel: byte streams carried over CURVE-secured ZeroMQ, so that a program
 * speaking plain TCP (dqlite's Raft and client protocol) crosses the
 * network encrypted and authenticated by the keyring's allow-list (issue
 * 26; docs/decisions.md, item 59; docs/protocol.md, section 13).
 *
 * Server side (tunnel_new with a bind endpoint): one ROUTER bound through
 * the security layer (CURVE, ZAP, the allow-list, the endpoint's role
 * requirement) at tcp://HOST:PORT; each peer that OPENs gets a fresh
 * connection to the local stream socket `target` (dqlite's abstract unix
 * socket), and bytes are copied both ways.  Client side (tunnel_dial): one
 * DEALER per stream, a CURVE client expecting server_key, bridged to one
 * end of a socketpair handed to the caller.
 *
 * Each message is one ZeroMQ frame (after the routing id on the ROUTER):
 * a type byte, then its payload (tunnel_frame_decode):
 *   'O' OPEN    client -> server, no payload: connect me to the target
 *   'A' ACCEPT  server -> client, no payload: connected
 *   'D' DATA    1..TUNNEL_CHUNK bytes of the stream
 *   'K' CREDIT  uint32 big-endian: bytes of DATA written to the local end
 *   'P' PING    no payload: sent after TUNNEL_PING_MS of silence
 *   'C' CLOSE   no payload: the stream is over (EOF, error, refusal)
 * Invariants:
 *  - a stream is one ZeroMQ connection: the DEALER never reconnects
 *    (ZMQ_RECONNECT_IVL -1), and the ROUTER knows a stream by the routing
 *    id ZeroMQ gave that connection; a stream is never spliced onto another
 *    (a frame from an id the server does not know is answered CLOSE);
 *  - flow control by credit: a side sends at most TUNNEL_WINDOW bytes of
 *    DATA the peer has not credited, and stops reading its local fd until
 *    it has; so each stream buffers at most TUNNEL_WINDOW bytes per
 *    direction, and a peer that sends beyond it is closed;
 *  - a server stream whose peer's key left the allow-list (or its role) at
 *    a reload is closed at the next tick;
 *  - a stream whose peer is silent for TUNNEL_DEAD_MS, whose ZeroMQ
 *    connection drops (client: the socket monitor), or whose local fd
 *    reaches EOF or an error is closed at both ends: the local fd is
 *    closed, a CLOSE goes to the peer;
 *  - any frame that does not decode, or comes out of turn, closes its
 *    stream (with a rate-limited warning); it never stops the tunnel.
 *
 * States of a stream: (client) DIALING --ACCEPT--> OPEN; DIALING --CLOSE,
 * a failed handshake, a drop, the dial deadline--> freed, the dial fails;
 * (server) OPEN from the peer's OPEN; OPEN --CLOSE, EOF, error, silence,
 * a bad frame--> freed.
 *
 * Threads: one thread per tunnel owns every ZeroMQ socket and fd of it and
 * runs one zmq_poll over them; tunnel_dial may be called from any thread
 * (dqlite calls its connect function from libuv's worker threads). */
#ifndef INV_TUNNEL_H
#define INV_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#define TUNNEL_CHUNK (64 * 1024)   /* bytes of DATA per frame, at most */
#define TUNNEL_WINDOW (4 * 1024 * 1024) /* uncredited bytes per stream and direction */
#define TUNNEL_MAX_STREAMS 64      /* streams per tunnel (both sides), default */
#define TUNNEL_PING_MS 250         /* silence after which a side pings */
#define TUNNEL_DEAD_MS 1000        /* silence after which a stream is closed */
/* tunnel_dial's deadline, default: a peer behind a partition answers
 * nothing, and a dial blocks its caller (dqlite's Raft connects through
 * it: 2 s per attempt held elections back by seconds; Raft retries a
 * connection itself) */
#define TUNNEL_DIAL_MS 500
#define TUNNEL_ADDR_MAX 200        /* HOST:PORT, and a target */
#define TUNNEL_SILENT_PEERS 16     /* peers remembered as silent (tunnel_dial) */

typedef struct tunnel tunnel_t;

typedef struct {
    const char *bind;       /* server: tcp://HOST:PORT to serve, NULL: a client only */
    const char *target;     /* server: "@name" (abstract unix socket) or a socket path */
    const char *server_key; /* client: the servers' CURVE public key (Z85), NULL: plain */
    unsigned roles;         /* server: the roles admitted (keyring.h ROLES_*), 0: any key listed */
    int max_streams;        /* 0: TUNNEL_MAX_STREAMS */
    int dial_ms;            /* 0: TUNNEL_DIAL_MS */
} tunnel_config_t;

/* A tunnel in the ZeroMQ context zctx (the one whose ZAP handler answers
 * the bind's handshakes, security.h), its thread started; binds cfg->bind
 * when given (with CURVE when security is on, admitting cfg->roles: call
 * it at start, before other threads, as security_require).  When the
 * allow-list loses keys (a reload), the server closes the streams whose
 * key no longer has one of the roles.  The strings are copied.  NULL with
 * errno (EINVAL: a bad argument; a bind's error). */
tunnel_t *tunnel_new(void *zctx, const tunnel_config_t *cfg);

/* Stops the thread, closes every stream and socket (a CLOSE to each
 * peer); NULL-safe, idempotent, nulls *t.  Before zmq_ctx_term. */
void tunnel_destroy(tunnel_t **t);

/* A stream to the tunnel server at address (HOST:PORT, its endpoint
 * tcp://HOST:PORT): blocks until the server ACCEPTed, then *fd is one end
 * of a socketpair (AF_UNIX, blocking, the caller owns it) whose other end
 * the tunnel's thread bridges.  0, or -1 with errno: EINVAL (address),
 * EMFILE (max_streams reached), ECONNREFUSED (refused, a failed
 * handshake or the connection dropped), ETIMEDOUT (no ACCEPT by the dial
 * deadline; also at once for dial_ms after a dial to the same address
 * timed out: a silent peer is not waited for twice), ESHUTDOWN
 * (stopping).  Thread-safe. */
int tunnel_dial(tunnel_t *t, const char *address, int *fd);

/* tunnel_dial with dqlite's connect-function signature
 * (dqlite_node_set_connect_func, dqclient_set_dialer): arg is the
 * tunnel_t.  0, or 1 (dqlite's DQLITE_ERROR) with errno. */
int tunnel_connect_func(void *arg, const char *address, int *fd);

/* Streams open now (both sides); for tests and status. */
int tunnel_streams(tunnel_t *t);

/* ---- the frames (pure; exposed for tests) ---- */

typedef enum {
    TUNNEL_OPEN = 'O',
    TUNNEL_ACCEPT = 'A',
    TUNNEL_DATA = 'D',
    TUNNEL_CREDIT = 'K',
    TUNNEL_PING = 'P',
    TUNNEL_CLOSE = 'C',
} tunnel_type_t;

typedef struct {
    tunnel_type_t type;
    const uint8_t *data; /* DATA: the payload, inside the frame */
    size_t len;          /* DATA: its bytes */
    uint32_t credit;     /* CREDIT: bytes credited, 1..TUNNEL_WINDOW */
} tunnel_frame_t;

/* Decodes one frame of n bytes at p: 0, or -1 when it is not one of the
 * frames above (an unknown type, a wrong length, DATA of 0 or more than
 * TUNNEL_CHUNK bytes, a CREDIT of 0 or more than TUNNEL_WINDOW). */
int tunnel_frame_decode(const uint8_t *p, size_t n, tunnel_frame_t *out);
/* Encodes a frame without DATA payload into out[5]: its length. */
size_t tunnel_frame_encode(tunnel_type_t type, uint32_t credit, uint8_t out[5]);

#endif
