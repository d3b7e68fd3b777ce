/* rpc: see rpc.h. */
#include "rpc.h"

#include "log.h"
#include "security.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Command replies carry fields always: empty on a refusal. */
static const field_errors_t no_fields = {.count = 0};

/* Resets w and packs an error reply of code in p's shape. */
static void
rpc_pack_refusal(const rpc_proto_t *p, codec_writer_t *w, const char *code, const char *message)
{
    codec_writer_reset(w);
    codec_error_t e = {.code = code, .message = message};
    if (p->command_shape) {
        e.command_id = "";
        e.fields = &no_fields;
    }
    codec_pack_error(w, &e);
}

void
rpc_refuse(const rpc_proto_t *p, codec_writer_t *w, const char *message)
{
    rpc_pack_refusal(p, w, "malformed", message);
}

void
rpc_not_leader(const rpc_proto_t *p, codec_writer_t *w, const char *command_id, const char *what,
               const char *leader)
{
    char message[EPLIST_EP_MAX + 100];
    codec_not_leader_message(message, sizeof message, what, leader);
    codec_writer_reset(w);
    codec_error_t e = {.code = reject_code_name(REJ_NOT_LEADER),
                       .message = message,
                       .leader = leader ? leader : ""};
    if (p->command_shape) {
        e.command_id = command_id ? command_id : "";
        e.fields = &no_fields;
    }
    codec_pack_error(w, &e);
}

/* Whether the request's key may use route r; else packs `forbidden`. */
static bool
rpc_allowed(const rpc_proto_t *p, rpc_request_t *req, const rpc_route_t *r)
{
    if (!r->roles || !security_on())
        return true;
    const char *user =
        req->msg && req->msg->count > 0
            ? zmq_msg_gets(&req->msg->frames[req->msg->count - 1], "User-Id")
            : NULL;
    role_t role = security_role_of(user);
    if (role & r->roles)
        return true;
    char fp[16], why[200];
    key_fingerprint(user, fp, sizeof fp);
    if (role == ROLE_NONE)
        snprintf(why, sizeof why, "refused: key %s... is not on the allow-list", fp);
    else
        snprintf(why, sizeof why, "forbidden: role %s cannot %.*s", role_name(role),
                 (int)(req->type_len > 64 ? 64 : req->type_len), req->type);
    LOG_W(NULL, "%s (key %s...)", why, fp);
    rpc_pack_refusal(p, req->w, "forbidden", why);
    return false;
}

/* The type alone, for protocols that index no keys. */
static const codec_key_t rpc_type_key[1] = {CODEC_KEY("type")};

/* The envelope indexed with the cursor.  NULL or the refusal's reason. */
static const char *
rpc_decode_cursor(const rpc_proto_t *p, rpc_request_t *req)
{
    const char *why = NULL;
    mpread_t r;
    if (codec_reader_init(&r, req->body, req->len, &why) != 0)
        return why;
    req->map = r;
    const codec_key_t *keys = p->keys ? p->keys : rpc_type_key;
    int nkeys = p->keys ? p->nkeys : 1;
    int indexed = codec_map_index(&r, keys, nkeys, req->vals, &req->found, &req->unknown);
    if (indexed != 0)
        return indexed == -2   ? "map keys must be strings"
               : indexed == -3 ? CODEC_DUPLICATE_KEY
                               : (p->not_map ? p->not_map : "type must be a string");
    mpread_t type = req->vals[0];
    if (!(req->found & 1u) || mpread_str(&type, &req->type, &req->type_len) != 0 ||
        (p->type_max > 0 && req->type_len > p->type_max))
        return "type must be a string";
    return NULL;
}

int
rpc_decode(const rpc_proto_t *p, rpc_request_t *req, char *why, size_t why_cap)
{
    req->type = NULL;
    req->type_len = 0;
    mpread_init(&req->map, "", 0);
    req->found = 0;
    req->unknown = 0;
    if (req->len > CODEC_MAX_MESSAGE) {
        snprintf(why, why_cap, p->too_large, CODEC_MAX_MESSAGE, req->len);
        return -1;
    }
    const char *reason = rpc_decode_cursor(p, req);
    if (!reason && !utf8_valid(req->type, req->type_len))
        reason = "type must be UTF-8 without NUL";
    if (!reason)
        return 0;
    snprintf(why, why_cap, "%s", reason);
    return -1;
}

const rpc_route_t *
rpc_route_find(const rpc_route_t *routes, size_t n, const char *type, size_t len)
{
    const rpc_route_t *any = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *t = routes[i].type;
        if (t == RPC_ANY) {
            any = any ? any : &routes[i];
            continue;
        }
        if (strlen(t) == len && memcmp(t, type, len) == 0)
            return &routes[i]; /* with its length: "Status\0zz" is not Status */
    }
    return any;
}

/* Packs the refusal and warns about it. */
static int
rpc_refused(const rpc_proto_t *p, codec_writer_t *w, const char *why)
{
    if (p->log_refused)
        LOG_W(NULL, p->log_refused, why);
    rpc_refuse(p, w, why);
    return RPC_REFUSED;
}

int
rpc_handle(const rpc_endpoint_t *ep, void *arg, rpc_request_t *req)
{
    const rpc_proto_t *p = ep->proto;
    char why[160];
    int rc = RPC_UNKNOWN;
    codec_writer_reset(req->w);
    if (rpc_decode(p, req, why, sizeof why) != 0) {
        rc = rpc_refused(p, req->w, why);
    } else {
        const rpc_route_t *r = rpc_route_find(ep->routes, ep->n_routes, req->type, req->type_len);
        if (r)
            rc = rpc_allowed(p, req, r) ? r->handle(arg, req) : RPC_REFUSED;
        if (rc == RPC_UNKNOWN)
            rc = rpc_refused(p, req->w, p->unknown);
    }
    return rc;
}

int
rpc_serve(const rpc_endpoint_t *ep, void *router, void *arg, codec_writer_t *w)
{
    bus_msg_t m;
    if (bus_recv(router, &m, ZMQ_DONTWAIT) != 0)
        return RPC_IDLE;
    rpc_request_t req = {.msg = &m, .w = w};
    int rc;
    if (bus_split(&m, &req.n_env, &req.body, &req.len) != 0)
        rc = rpc_refused(ep->proto, w, ep->proto->bad_frames);
    else
        rc = rpc_handle(ep, arg, &req);
    if (rc == RPC_KEPT)
        return rc;
    if (bus_reply_to(router, &m, req.n_env, w->buf.data, w->buf.size) != 0 &&
        ep->proto->log_dropped)
        LOG_W(req.corr, ep->proto->log_dropped, zmq_strerror(errno));
    bus_msg_close(&m);
    return rc;
}

int
rpc_on_reload_keys(void *arg, rpc_request_t *req)
{
    (void)arg;
    char why[256];
    if (security_reload(why, sizeof why) != 0) {
        codec_pack_error(req->w, &(codec_error_t){.code = "unavailable", .message = why});
        return RPC_REPLY;
    }
    codec_map_open(req->w);
    codec_map_bool(req->w, "ok", true);
    codec_map_close(req->w);
    return RPC_REPLY;
}

const rpc_proto_t rpc_command_proto = {
    .keys = codec_command_keys,
    .nkeys = CODEC_COMMAND_NKEYS,
    .command_shape = true,
    .bad_frames = "expected one body frame after the routing envelope",
    .too_large = "message of %2$zu bytes exceeds the limit of %1$d",
    .not_map = "a command must be a map",
    .unknown = "unknown command type",
    .log_refused = "malformed request: %s",
    .log_dropped = "reply dropped: %s",
};
