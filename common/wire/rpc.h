/* rpc: the one request/reply dispatcher behind every ROUTER (command,
 * catch-up, query, audit, alert and projector endpoints; docs/protocol.md,
 * sections 1 and 2).
 *
 * rpc_serve receives one message (routing frames, then one body frame),
 * decodes the request's envelope once, the way the endpoint's protocol
 * defines it (rpc_proto_t), looks its type up in the endpoint's const route
 * table (rpc_route_t) and runs the handler, which answers into the reply
 * writer.  What is refused on the way (a wrong frame count; a body over
 * 64 KiB, not one msgpack map, with non-string keys or a key of the
 * endpoint's given twice; a type missing, not a
 * string, holds a NUL or invalid UTF-8, or that no route takes) gets one
 * `malformed` reply in the
 * endpoint's shape and wording, packed by codec_pack_error like every
 * error reply.
 *
 *   received --bus_split--> body --rpc_decode--> type --rpc_route_find--> handler
 *      |  wrong frames          |  refused            |  no route / RPC_UNKNOWN
 *      +------------------------+---------------------+--> rpc_refuse --> reply
 *
 * Invariants: every message received gets exactly one reply, unless its
 * handler keeps it (RPC_KEPT) to answer later (the command batch, parked
 * queries); the envelope is decoded once with the cursor (mpread.h) and
 * handlers read what was decoded (the indexed values, or the body map
 * walked pair by pair); no tree is built and nothing is allocated per
 * message. */
#ifndef INV_RPC_H
#define INV_RPC_H

#include "bus.h"
#include "codec.h"
#include "keyring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_KEYS_MAX 10 /* keys a cursor protocol indexes */

/* How an endpoint's protocol frames, decodes and refuses a request. */
typedef struct {
    /* The body's map is indexed once with the cursor against
     * keys[0..nkeys) (keys[0] is "type", nkeys <= RPC_KEYS_MAX; NULL: the
     * type alone) and handlers read req->vals, or walk req->map; a key of
     * keys[] given twice is refused (CODEC_DUPLICATE_KEY). */
    const codec_key_t *keys;
    int nkeys;
    /* > 0: a type of more than type_max bytes is "type must be a string"
     * (it did not fit the buffer the daemon copied it into). */
    size_t type_max;
    /* Refusals are shaped as command replies: command_id "" (not read
     * yet) and fields {} (section 4.4). */
    bool command_shape;
    /* The endpoint's wording of its refusals. */
    const char *bad_frames; /* neither [identity, body] nor [identity, "", body] */
    const char *too_large;  /* a printf format given the limit (int) then the size (size_t) */
    const char *not_map;    /* NULL: a body that is not a map just has no type */
    const char *unknown;    /* a type no route takes */
    /* Warnings, each given one %s (NULL: none): a refusal and its reason;
     * a reply the ROUTER could not send and zmq_strerror. */
    const char *log_refused;
    const char *log_dropped;
} rpc_proto_t;

/* The command ROUTER's protocol (docs/protocol.md, sections 4 and 11):
 * the command keys indexed by the cursor, refusals shaped as command
 * replies.  The command-service serves it; the fuzz harness of commands
 * feeds it. */
extern const rpc_proto_t rpc_command_proto;

/* One request while it is handled. */
typedef struct {
    bus_msg_t *msg;              /* the received message, routing frames first (NULL in tests) */
    int n_env;                   /* routing frames to echo */
    const void *body;            /* the body frame */
    size_t len;                  /* its bytes */
    const char *type;            /* the request type, not NUL-terminated; valid during the call */
    size_t type_len;             /* its bytes */
    mpread_t map;                /* the body, a map (mpread_map then its pairs) */
    mpread_t vals[RPC_KEYS_MAX]; /* where the value of keys[k] begins */
    uint32_t found;              /* bit k says keys[k] was there */
    int unknown;                 /* keys not in the table */
    codec_writer_t *w;           /* the reply, reset: RPC_REPLY sends what is packed here */
    const char *corr;            /* set by a handler: warnings about this request name it */
} rpc_request_t;

/* What a handler returns. */
enum {
    RPC_REPLY = 0,   /* send req->w now */
    RPC_KEPT = 1,    /* the handler took req->msg (its frames) and answers later */
    RPC_UNKNOWN = 2, /* not a type it takes after all: refused with proto->unknown */
    RPC_REFUSED = 3, /* (rpc_serve, rpc_handle) refused before or instead of a handler */
    RPC_IDLE = -1    /* (rpc_serve) nothing was waiting */
};

typedef int (*rpc_handle_fn)(void *arg, rpc_request_t *req);

/* One request type.  A named route takes exactly its name, compared with
 * the request type's length (a type holding a NUL or invalid UTF-8 was
 * refused by rpc_decode); a route of type RPC_ANY takes every type no
 * named route takes (its handler may return RPC_UNKNOWN). */
#define RPC_ANY NULL
typedef struct {
    const char *type;
    rpc_handle_fn handle;
    /* The roles that may send it (keyring.h, ROLES_*; 0: everyone).  With
     * security on (security.h), a request whose key has none of them is
     * answered `forbidden` before the handler runs. */
    unsigned roles;
} rpc_route_t;

/* An endpoint: its protocol and its route table. */
typedef struct {
    const rpc_proto_t *proto;
    const rpc_route_t *routes;
    size_t n_routes;
} rpc_endpoint_t;

/* Decodes req->body (req->len bytes) as p defines the envelope: sets
 * req->type, req->map, req->vals, found and unknown.  0, or -1 with the
 * refusal's message in why. */
int rpc_decode(const rpc_proto_t *p, rpc_request_t *req, char *why, size_t why_cap);

/* The route of type (len bytes): the first named so (see rpc_route_t),
 * else the first RPC_ANY, else NULL. */
const rpc_route_t *rpc_route_find(const rpc_route_t *routes, size_t n, const char *type,
                                  size_t len);

/* Resets w and packs p's `malformed` refusal with message. */
void rpc_refuse(const rpc_proto_t *p, codec_writer_t *w, const char *message);

/* Resets w and packs the `not_leader` refusal (docs/protocol.md, section 2)
 * in p's shape: {ok: false, error: "not_leader", message, leader}, and for
 * the command shape command_id (NULL: "") and fields {}.  what names the
 * daemon in the message ("command service", "outbox relay");
 * leader is the active one's endpoint, "" while none is known.  A standby's
 * route handler calls it and returns RPC_REPLY; so can a route table's
 * RPC_ANY catch-all that stands before every route of a standby. */
void rpc_not_leader(const rpc_proto_t *p, codec_writer_t *w, const char *command_id,
                    const char *what, const char *leader);

/* Decodes a body already split from its frames (req->msg, n_env, body,
 * len and w set) and runs its route, or packs the refusal into req->w.
 * Returns what the handler returned (RPC_REPLY, RPC_KEPT) or RPC_REFUSED. */
int rpc_handle(const rpc_endpoint_t *ep, void *arg, rpc_request_t *req);

/* The route handler of ReloadKeys on every daemon (operators): re-reads
 * the allow-list (security_reload) and answers {ok, keys} or an error. */
int rpc_on_reload_keys(void *arg, rpc_request_t *req);

/* Receives one message on router without waiting, handles it (arg goes to
 * the handler, w is the reply scratch) and sends the reply unless the
 * handler kept the message.  Returns RPC_IDLE when nothing was waiting,
 * else what rpc_handle returned. */
int rpc_serve(const rpc_endpoint_t *ep, void *router, void *arg, codec_writer_t *w);

#endif
