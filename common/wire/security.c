/* security: see security.h. */
#include "security.h"

#include "eplist.h"
#include "log.h"
#include "proc.h"
#include "strcopy.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_POLL_MS 200
#define EP_MAX 256

typedef struct {
    char endpoint[EP_MAX];
    char key[KEY_Z85_LEN + 1];
    char secret[KEY_Z85_LEN + 1]; /* "" unless this process binds it as that server */
} server_key_t;

typedef struct {
    char endpoint[EP_MAX];
    unsigned roles;
} requirement_t;

/* The process's security settings (see the header's Globals). */
static struct {
    bool on;
    char keys_dir[1024];
    keypair_t self;
    server_key_t servers[SECURITY_MAX_ENDPOINTS];
    int n_servers;
    requirement_t reqs[SECURITY_MAX_ENDPOINTS];
    int n_reqs;
    /* the ZAP handler (servers only) */
    void *zap;
    pthread_t zap_thread;
    bool zap_running;
    /* under mu */
    pthread_mutex_t mu;
    allowlist_t allow;
    uint64_t removals;
} sec = {.mu = PTHREAD_MUTEX_INITIALIZER};

bool
security_on(void)
{
    return sec.on;
}

/* Whether endpoint is one CURVE applies to. */
static bool
sec_secured(const char *endpoint)
{
    return sec.on && endpoint && strncmp(endpoint, "inproc://", 9) != 0;
}

static int
sec_load_self(const char *keys_dir, const char *key_path, char *why, size_t cap)
{
    strcopy(sec.keys_dir, sizeof sec.keys_dir, keys_dir);
    return keypair_read(key_path, &sec.self, why, cap);
}

/* ---- the ZAP handler ----------------------------------------------------- */

/* The handshake's answer for a CURVE client key (32 bytes) on domain. */
static const char *
zap_decide(const uint8_t *key, size_t len, const char *domain, const char *address,
           char user[KEY_Z85_LEN + 1])
{
    if (len != 32 || !zmq_z85_encode(user, key, 32))
        return "no CURVE key";
    pthread_mutex_lock(&sec.mu);
    role_t role = allowlist_role(&sec.allow, user);
    pthread_mutex_unlock(&sec.mu);
    const char *refusal = role == ROLE_NONE ? "key not on the allow-list" : NULL;
    for (int i = 0; !refusal && i < sec.n_reqs; i++)
        if (strcmp(sec.reqs[i].endpoint, domain) == 0 && !(sec.reqs[i].roles & role))
            refusal = "role not admitted on this endpoint";
    if (refusal) {
        char fp[16];
        key_fingerprint(user, fp, sizeof fp);
        LOG_W(NULL, "refused a connection to %s from %s: key %s...: %s", domain, address, fp,
              refusal);
    }
    return refusal;
}

/* Reads one ZAP request and answers it (RFC 27). */
static void
zap_answer(void *rep)
{
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t scratch, *m = n < 8 ? &f[n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, rep, 0) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &scratch)
            zmq_msg_close(m);
        else
            n++;
    }
    char domain[EP_MAX] = "", address[128] = "", user[KEY_Z85_LEN + 1] = "";
    const char *refusal = "malformed ZAP request";
    if (n >= 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0) {
        snprintf(domain, sizeof domain, "%.*s", (int)zmq_msg_size(&f[2]),
                 (const char *)zmq_msg_data(&f[2]));
        snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&f[3]),
                 (const char *)zmq_msg_data(&f[3]));
        refusal = zap_decide(zmq_msg_data(&f[6]), zmq_msg_size(&f[6]), domain, address, user);
    }
    const char *id = n >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t id_len = n >= 2 ? zmq_msg_size(&f[1]) : 0;
    zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(rep, id, id_len, ZMQ_SNDMORE);
    zmq_send(rep, refusal ? "400" : "200", 3, ZMQ_SNDMORE);
    zmq_send(rep, refusal ? refusal : "OK", strlen(refusal ? refusal : "OK"), ZMQ_SNDMORE);
    zmq_send(rep, refusal ? "" : user, refusal ? 0 : strlen(user), ZMQ_SNDMORE);
    zmq_send(rep, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* The thread: answers handshakes, reloads on SIGHUP, ends with the context. */
static void *
zap_main(void *arg)
{
    (void)arg;
    zmq_pollitem_t item = {.socket = sec.zap, .events = ZMQ_POLLIN};
    for (;;) {
        int rc = zmq_poll(&item, 1, ZAP_POLL_MS);
        if (rc < 0 && errno == ETERM)
            break;
        if (proc_take_reload()) {
            char why[256];
            if (security_reload(why, sizeof why) != 0)
                LOG_E(NULL, "SIGHUP: the allow-list was not reloaded: %s", why);
        }
        if (rc > 0)
            zap_answer(sec.zap);
    }
    zmq_close(sec.zap);
    sec.zap = NULL;
    return NULL;
}

int
security_serve(void *zctx, const char *keys_dir, const char *name, char *why, size_t cap)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.key", keys_dir, name);
    if (sec_load_self(keys_dir, path, why, cap) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/allow", keys_dir);
    allowlist_t allow;
    if (allowlist_load(path, &allow, why, cap) != 0)
        return -1;
    int linger = 0;
    void *rep = zmq_socket(zctx, ZMQ_REP);
    if (!rep || zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(rep, ZAP_ENDPOINT) != 0) {
        snprintf(why, cap, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        if (rep)
            zmq_close(rep);
        allowlist_fini(&allow);
        return -1;
    }
    sec.allow = allow;
    sec.zap = rep;
    sec.on = true;
    if (pthread_create(&sec.zap_thread, NULL, zap_main, NULL) != 0) {
        snprintf(why, cap, "cannot start the ZAP thread");
        zmq_close(rep);
        security_stop();
        return -1;
    }
    sec.zap_running = true;
    LOG_I(NULL, "CURVE on: key %s/%s.key, %zu keys on the allow-list", keys_dir, name, allow.n);
    return 0;
}

int
security_start_daemon(void *zctx, const config_daemon_t *s, const char *name, const char *db)
{
    if (s->insecure) {
        LOG_W(NULL, "INSECURE: --insecure / INV_INSECURE=1: no CURVE, no keys: anyone who can "
                    "reach an endpoint may send anything; for development only");
        return 0;
    }
    char dir[1024], why[512];
    if (s->keys_dir && s->keys_dir[0]) {
        strcopy(dir, sizeof dir, s->keys_dir);
    } else {
        const char *slash = strrchr(db, '/');
        snprintf(dir, sizeof dir, "%.*skeys", slash ? (int)(slash - db + 1) : 0, db);
    }
    if (security_serve(zctx, dir, name, why, sizeof why) == 0)
        return 0;
    LOG_E(NULL,
          "cannot start with CURVE: %s (create the keyring with `invctl keygen --init %s`, "
          "or start with --insecure for development)",
          why, dir);
    return -1;
}

int
security_client(const char *keys_dir, const char *key_path, char *why, size_t cap)
{
    if (sec_load_self(keys_dir, key_path, why, cap) != 0)
        return -1;
    sec.on = true;
    return 0;
}

void
security_use_key(const keypair_t *k)
{
    sec.self = *k;
}

void
security_keys_dir(const char *dir, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(out, cap, "%s", dir);
    else if (xdg && *xdg)
        snprintf(out, cap, "%s/inventory/keys", xdg);
    else
        snprintf(out, cap, "%s/.config/inventory/keys", home && *home ? home : ".");
}

int
security_client_setup(const char *keys_dir, const char *key_file, const char *server_key,
                      const security_peer_t *peers, size_t n, char *why, size_t cap)
{
    char dir[1024], key[1100];
    security_keys_dir(keys_dir, dir, sizeof dir);
    snprintf(key, sizeof key, "%s", key_file ? key_file : "");
    if (!key_file)
        snprintf(key, sizeof key, "%s/operator.key", dir);
    if (security_client(dir, key, why, cap) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((strchr(peers[i].endpoint, ',')
                 ? security_expect_servers(peers[i].endpoint, peers[i].server, server_key, why, cap)
                 : security_expect_server(peers[i].endpoint, peers[i].server, server_key, why,
                                          cap)) != 0 &&
            server_key)
            return -1;
    return 0;
}

void
security_stop(void)
{
    if (sec.zap_running)
        pthread_join(sec.zap_thread, NULL); /* it ends with the context */
    pthread_mutex_lock(&sec.mu);
    allowlist_fini(&sec.allow);
    pthread_mutex_unlock(&sec.mu);
    sec.on = false;
    sec.zap_running = false;
    sec.n_servers = 0;
    sec.n_reqs = 0;
    sec.removals = 0;
}

/* ---- endpoints ----------------------------------------------------------- */

int
security_expect_server(const char *endpoint, const char *name, const char *key, char *why,
                       size_t cap)
{
    if (!sec.on)
        return 0;
    if (sec.n_servers == SECURITY_MAX_ENDPOINTS || strlen(endpoint) >= EP_MAX) {
        snprintf(why, cap, "too many or too long endpoints");
        return -1;
    }
    server_key_t *s = &sec.servers[sec.n_servers];
    *s = (server_key_t){0};
    strcopy(s->endpoint, sizeof s->endpoint, endpoint);
    if (key) {
        if (!key_z85_valid(key)) {
            snprintf(why, cap, "server key for %s is not a 40-character Z85 key", endpoint);
            return -1;
        }
        strcopy(s->key, sizeof s->key, key);
    } else {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.pub", sec.keys_dir, name);
        if (pubkey_read(path, s->key, why, cap) != 0)
            return -1;
    }
    sec.n_servers++;
    return 0;
}

int
security_expect_servers(const char *list, const char *name, const char *key, char *why, size_t cap)
{
    eplist_t l;
    if (!sec.on)
        return 0;
    if (eplist_parse(&l, list, why, cap) != 0)
        return -1;
    for (int i = 0; i < l.n; i++)
        if (security_expect_server(l.ep[i], name, key, why, cap) != 0)
            return -1;
    return 0;
}

int
security_expect_like(const char *endpoint, const char *known)
{
    const server_key_t *like = NULL;
    if (!sec.on)
        return 0;
    for (int i = 0; i < sec.n_servers; i++) {
        if (strcmp(sec.servers[i].endpoint, endpoint) == 0)
            return 0;
        if (!like && strcmp(sec.servers[i].endpoint, known) == 0)
            like = &sec.servers[i];
    }
    if (!like || sec.n_servers == SECURITY_MAX_ENDPOINTS || strlen(endpoint) >= EP_MAX)
        return -1;
    server_key_t *s = &sec.servers[sec.n_servers++];
    *s = (server_key_t){0};
    strcopy(s->endpoint, sizeof s->endpoint, endpoint);
    strcopy(s->key, sizeof s->key, like->key);
    return 0;
}

int
security_bind_as(const char *endpoint, const char *name, char *why, size_t cap)
{
    if (!sec.on)
        return 0;
    char path[2048];
    keypair_t k;
    snprintf(path, sizeof path, "%s/%s.key", sec.keys_dir, name);
    if (keypair_read(path, &k, why, cap) != 0)
        return -1;
    for (int i = 0; i < sec.n_servers; i++)
        if (strcmp(sec.servers[i].endpoint, endpoint) == 0) {
            strcopy(sec.servers[i].secret, sizeof sec.servers[i].secret, k.secret_z85);
            return 0;
        }
    snprintf(why, cap, "no server expected at %s", endpoint);
    return -1;
}

void
security_require(const char *endpoint, unsigned roles)
{
    if (sec.n_reqs < SECURITY_MAX_ENDPOINTS && strlen(endpoint) < EP_MAX) {
        requirement_t *r = &sec.reqs[sec.n_reqs++];
        strcopy(r->endpoint, sizeof r->endpoint, endpoint);
        r->roles = roles;
    }
}

static int
sec_set(void *s, int opt, const void *v, size_t len)
{
    return zmq_setsockopt(s, opt, v, len);
}

int
security_apply_bind(void *s, const char *endpoint)
{
    if (!sec_secured(endpoint))
        return 0;
    int one = 1;
    if (strlen(endpoint) >= EP_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    const char *secret = sec.self.secret_z85;
    for (int i = 0; i < sec.n_servers; i++)
        if (sec.servers[i].secret[0] && strcmp(sec.servers[i].endpoint, endpoint) == 0)
            secret = sec.servers[i].secret;
    return sec_set(s, ZMQ_CURVE_SERVER, &one, sizeof one) == 0 &&
                   sec_set(s, ZMQ_CURVE_SECRETKEY, secret, KEY_Z85_LEN) == 0 &&
                   sec_set(s, ZMQ_ZAP_DOMAIN, endpoint, strlen(endpoint)) == 0
               ? 0
               : -1;
}

int
security_apply_connect(void *s, const char *endpoint)
{
    if (!sec_secured(endpoint))
        return 0;
    for (int i = 0; i < sec.n_servers; i++) {
        if (strcmp(sec.servers[i].endpoint, endpoint) != 0)
            continue;
        return sec_set(s, ZMQ_CURVE_SERVERKEY, sec.servers[i].key, KEY_Z85_LEN) == 0 &&
                       sec_set(s, ZMQ_CURVE_PUBLICKEY, sec.self.public_z85, KEY_Z85_LEN) == 0 &&
                       sec_set(s, ZMQ_CURVE_SECRETKEY, sec.self.secret_z85, KEY_Z85_LEN) == 0
                   ? 0
                   : -1;
    }
    errno = EACCES;
    return -1;
}

int
security_apply_connect_key(void *s, const char *server_key)
{
    if (!sec.on) {
        errno = EACCES;
        return -1;
    }
    if (!server_key || !key_z85_valid(server_key)) {
        errno = EINVAL;
        return -1;
    }
    return sec_set(s, ZMQ_CURVE_SERVERKEY, server_key, KEY_Z85_LEN) == 0 &&
                   sec_set(s, ZMQ_CURVE_PUBLICKEY, sec.self.public_z85, KEY_Z85_LEN) == 0 &&
                   sec_set(s, ZMQ_CURVE_SECRETKEY, sec.self.secret_z85, KEY_Z85_LEN) == 0
               ? 0
               : -1;
}

int
security_server_key(const char *name, char out[KEY_Z85_LEN + 1], char *why, size_t cap)
{
    if (!sec.on) {
        snprintf(why, cap, "security is off in this process");
        return -1;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.pub", sec.keys_dir, name);
    return pubkey_read(path, out, why, cap);
}

const char *
security_public_key(void)
{
    return sec.on ? sec.self.public_z85 : "";
}

void
security_restrict_ipc(const char *endpoint)
{
    if (endpoint && strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '@')
        chmod(endpoint + 6, 0660);
}

/* ---- roles --------------------------------------------------------------- */

role_t
security_role_of(const char *user_id)
{
    if (!sec.on)
        return ROLE_OPERATOR;
    if (!user_id)
        return ROLE_NONE;
    pthread_mutex_lock(&sec.mu);
    role_t role = allowlist_role(&sec.allow, user_id);
    pthread_mutex_unlock(&sec.mu);
    return role;
}

/* Keys of old that new lacks or gives fewer rights. */
static size_t
sec_lost(const allowlist_t *old, const allowlist_t *new)
{
    size_t lost = 0;
    for (size_t i = 0; i < old->n; i++) {
        role_t now = allowlist_role(new, old->entries[i].key);
        lost += now != old->entries[i].role;
    }
    return lost;
}

int
security_reload(char *why, size_t cap)
{
    if (!sec.on || !sec.zap_running) {
        snprintf(why, cap, "security is off in this process");
        return -1;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/allow", sec.keys_dir);
    allowlist_t fresh;
    if (allowlist_load(path, &fresh, why, cap) != 0)
        return -1;
    pthread_mutex_lock(&sec.mu);
    size_t lost = sec_lost(&sec.allow, &fresh);
    allowlist_fini(&sec.allow);
    sec.allow = fresh;
    sec.removals += lost;
    pthread_mutex_unlock(&sec.mu);
    LOG_I(NULL, "allow-list reloaded from %s: %zu keys, %zu removed or changed", path, fresh.n,
          lost);
    return 0;
}

uint64_t
security_removals(void)
{
    pthread_mutex_lock(&sec.mu);
    uint64_t n = sec.removals;
    pthread_mutex_unlock(&sec.mu);
    return n;
}

bool
security_drop_revoked(void *sock, uint64_t *seen)
{
    if (!sec.on)
        return false;
    uint64_t now = security_removals();
    if (now == *seen)
        return false;
    *seen = now;
    char ep[EP_MAX];
    size_t len = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len) != 0 || zmq_unbind(sock, ep) != 0) {
        LOG_E(NULL, "cannot drop the subscriptions of removed keys: %s", zmq_strerror(errno));
        return false;
    }
    int rc = -1;
    for (int i = 0; i < 50 && (rc = zmq_bind(sock, ep)) != 0 && errno == EADDRINUSE; i++)
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL); /* the old listener
                                                                        * closes in ZeroMQ's
                                                                        * I/O thread */
    if (rc != 0)
        LOG_E(NULL, "cannot bind %s again after dropping its connections: %s", ep,
              zmq_strerror(errno));
    else
        LOG_I(NULL,
              "%s: every connection dropped and the endpoint bound again, so that a removed "
              "key's subscription ends",
              ep);
    return rc == 0;
}
