/* security: CURVE on every socket a process binds or connects, and ZeroMQ's
 * authentication protocol (ZAP, RFC 27) against the keyring's allow-list
 * (keyring.h; docs/protocol.md, section 13).
 *
 * A process sets it up once at start, before it creates a socket, and
 * bus_bind / bus_connect apply it to every tcp:// and ipc:// endpoint
 * (inproc:// stays plain):
 *  - a daemon (security_serve): its key pair from <keys>/<name>.key; a ZAP
 *    handler thread in its ZeroMQ context answers every handshake: a key
 *    not on the allow-list is refused (logged, rate-limited, with the
 *    peer's address); a socket bound with a role requirement
 *    (security_require: the nudge, the event feed) refuses keys outside
 *    it; the client's key becomes the connection's User-Id, and each
 *    request is checked against its route's roles with the allow-list as it
 *    is now (security_role_of), so a key removed by a reload loses its
 *    rights at its next request;
 *  - a client (security_client): its key pair and, per endpoint, the
 *    server's public key (security_expect_server).
 * Without set-up (unit tests, --insecure) sockets are plain and every
 * request is allowed.
 *
 * Globals: the settings are written once at start, before any socket and
 * any other thread exist, and only read afterwards; the allow-list and the
 * removal count are behind one mutex (the ZAP thread and the daemon's threads). */
#ifndef INV_SECURITY_H
#define INV_SECURITY_H

#include "config.h"
#include "keyring.h"

#include <stdbool.h>
#include <stdint.h>

#define SECURITY_MAX_ENDPOINTS 64 /* servers a process knows the keys of (lists: eplist.h) */

/* A daemon's start: with s->insecure (--insecure) a loud warning and
 * plain sockets; else security_serve in zctx with the keyring s->keys_dir
 * (--keys, or "keys" beside db) and the key pair `name`.  0, or -1 after
 * logging why. */
int security_start_daemon(void *zctx, const config_daemon_t *s, const char *name, const char *db);

/* Server side: loads <keys_dir>/<name>.key and <keys_dir>/allow, starts
 * the ZAP handler in zctx.  0, or -1 with the reason in why. */
int security_serve(void *zctx, const char *keys_dir, const char *name, char *why, size_t cap);
/* Client side: the key pair in key_path, public keys of servers read from
 * keys_dir as needed.  0, or -1 with the reason in why. */
int security_client(const char *keys_dir, const char *key_path, char *why, size_t cap);
/* The key pair this process connects with from now on (a test acting as
 * several clients); security must be on. */
void security_use_key(const keypair_t *k);
/* A client's keyring folder: dir when given, else
 * $XDG_CONFIG_HOME/inventory/keys, else ~/.config/inventory/keys. */
void security_keys_dir(const char *dir, char *out, size_t cap);
/* One server a client talks to: its endpoint (or a comma-separated list of
 * them, eplist.h) and the daemon serving it. */
typedef struct {
    const char *endpoint;
    const char *server; /* "relay", ... (keyring.h) */
} security_peer_t;
/* A client's whole set-up (invctl, invbench): security_client with the key
 * pair key_file (NULL: <keys>/operator.key) in the folder keys_dir (NULL:
 * security_keys_dir), then each peer's server key: server_key for all when
 * given, else <keys>/<server>.pub; a peer whose key file is missing is
 * skipped (refused only if used).  0, or -1 with why. */
int security_client_setup(const char *keys_dir, const char *key_file, const char *server_key,
                          const security_peer_t *peers, size_t n, char *why, size_t cap);
/* Stops the ZAP handler (before the context is terminated) and forgets
 * everything; NULL-safe, idempotent.  The daemon calls it after closing its
 * sockets. */
void security_stop(void);
/* Whether CURVE is on in this process. */
bool security_on(void);

/* The server at endpoint is daemon `name` (its key from <keys>/<name>.pub),
 * or has the given Z85 public key when key is not NULL.  0 or -1 (why). */
int security_expect_server(const char *endpoint, const char *name, const char *key, char *why,
                           size_t cap);
/* The same for every endpoint of a comma-separated list (eplist.h),
 * which must parse.  0 or -1 (why). */
int security_expect_servers(const char *list, const char *name, const char *key, char *why,
                            size_t cap);
/* The server at endpoint has the key of the one at known (the leader a
 * not_leader reply named is the same kind of daemon as the endpoint that
 * named it).  0 (also when security is off or endpoint is known already),
 * or -1 when known has no key or the table is full. */
int security_expect_like(const char *endpoint, const char *known);
/* A process that stands in for daemon `name` (a test's stand-in relay)
 * binds endpoint (already expected) with that daemon's key pair from the
 * keyring.  0 or -1 (why). */
int security_bind_as(const char *endpoint, const char *name, char *why, size_t cap);
/* The socket bound at endpoint admits only keys of these roles at the
 * handshake (0: any key on the list). */
void security_require(const char *endpoint, unsigned roles);

/* Applies CURVE to socket s before it binds / connects to endpoint: 0, or
 * -1 with errno (EACCES: no server key known for endpoint). */
int security_apply_bind(void *s, const char *endpoint);
int security_apply_connect(void *s, const char *endpoint);
/* A CURVE client with this process's key pair, expecting server_key (Z85)
 * whatever the endpoint (the tunnel's streams to store nodes, which share
 * one key pair): 0, or -1 with errno (EINVAL: a bad key; EACCES: security
 * is off, so there is no key pair). */
int security_apply_connect_key(void *s, const char *server_key);
/* The public key of daemon `name` from the keyring (<keys>/<name>.pub)
 * into out.  0, or -1 with why (security off: no keyring). */
int security_server_key(const char *name, char out[KEY_Z85_LEN + 1], char *why, size_t cap);
/* This process's public key (Z85), "" when security is off. */
const char *security_public_key(void);
/* ipc:// endpoints: the socket file of a bound endpoint made 0660. */
void security_restrict_ipc(const char *endpoint);

/* The role the allow-list gives the key (Z85) now; ROLE_OPERATOR when
 * security is off, ROLE_NONE for a NULL or unknown key. */
role_t security_role_of(const char *user_id);
/* Re-reads the allow-list (SIGHUP, ReloadKeys).  0, or -1 (why) keeping
 * the list in force. */
int security_reload(char *why, size_t cap);
/* How many times the allow-list lost a key since start: a socket that
 * cannot check per message (a PUB) rebinds when this moves, to drop the
 * connections of removed keys. */
uint64_t security_removals(void);
/* A socket that cannot check its peers per message (a PUB): when the
 * allow-list lost a key since *seen (security_removals), unbinds and binds
 * it again at its endpoint, which closes every connection made through it;
 * the subscribers that are still allowed reconnect on their own (and
 * repair the gap as after any drop), a removed key is refused at its new
 * handshake.  Returns true when it rebound; *seen moves on. */
bool security_drop_revoked(void *sock, uint64_t *seen);

#endif
