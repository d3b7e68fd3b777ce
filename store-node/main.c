/* store-node: one node of the dqlite cluster that will hold the replicated
 * event store (issue 26).  Node 1 bootstraps a cluster of itself on its
 * first start; any other node waits to be added by a client talking to
 * the leader (ADD, then ASSIGN voter: dqclient_join), which it does itself
 * when given --join, or an operator does with `invctl store join ID
 * ADDRESS`.  Its data (the Raft log, snapshots) is in --dir.
 *
 * Clients and the other nodes reach it with dqlite's wire protocol at
 * --address.  Secure (the default): the node listens only on an abstract
 * unix socket of this process, and the tunnel (tunnel.h) serves
 * tcp://--address with CURVE, admitting the allow-list's daemon and
 * operator keys; the node's own Raft connections go out through the
 * tunnel too (dqlite's connect function).  --insecure: plain TCP at
 * --address, as dqlite does by itself. */
#include "config.h"
#include "dqclient.h"
#include "keyring.h"
#include "log.h"
#include "proc.h"
#include "security.h"
#include "tunnel.h"

#include <unistd.h>
#include <zmq.h>

#include <dqlite.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Raft's snapshots (dqlite's own: every 1024 entries, 8192 kept after).
 * A follower behind by more than the entries kept gets a snapshot; one
 * behind by fewer gets every entry since, and raft 0.15 re-sends all of
 * them each heartbeat until the first answer: a restarted follower 1,800
 * entries (23 MB) behind took over 13 s to catch up through the tunnel,
 * and a partition of the leader meanwhile left no quorum for 5.4 s.  With
 * 512 kept it is sent a snapshot (docs/decisions.md, item 61). */
#define SNAPSHOT_THRESHOLD 512
#define SNAPSHOT_TRAILING 512

typedef struct {
    int64_t id;
    const char *address;
    const char *dir;
    const char *join;
    int64_t latency_ms;
    int64_t snapshot_threshold; /* Raft entries between snapshots */
    int64_t snapshot_trailing;  /* Raft entries kept after one */
    config_daemon_t daemon;
} settings_t;

/* Reads flags and environment over the defaults already in s, then checks
 * them: 0, 1 after --help or --version, -1 after saying what is bad. */
static int
settings_read(settings_t *s, int argc, char **argv)
{
    const config_option_t opts[] = {
        CONFIG_INT_OPT("--id", "INV_NODE_ID", &s->id, "node id (1 bootstraps the cluster)"),
        CONFIG_STR_OPT("--address", "INV_NODE_ADDRESS", &s->address, "HOST:PORT to serve on"),
        CONFIG_STR_OPT("--dir", "INV_NODE_DIR", &s->dir, "data folder (Raft log, snapshots)"),
        CONFIG_STR_OPT("--join", "INV_NODE_JOIN", &s->join, "HOST:PORT,...: join as a voter"),
        CONFIG_INT_OPT("--latency-ms", "INV_NODE_LATENCY_MS", &s->latency_ms, "one-way latency ms"),
        CONFIG_INT_OPT("--snapshot-threshold", "INV_NODE_SNAPSHOT_THRESHOLD",
                       &s->snapshot_threshold, "Raft entries between snapshots"),
        CONFIG_INT_OPT("--snapshot-trailing", "INV_NODE_SNAPSHOT_TRAILING", &s->snapshot_trailing,
                       "Raft entries kept after a snapshot"),
    };
    int rc = config_load("store-node", "store-node", opts, sizeof opts / sizeof opts[0], argc, argv,
                         &s->daemon);
    if (rc != 0)
        return rc;
    if (s->id < 1 || s->latency_ms < 0 || s->latency_ms > 3600000) {
        fprintf(stderr, "bad setting: id %lld, latency-ms %lld\n", (long long)s->id,
                (long long)s->latency_ms);
        return -1;
    }
    if (s->snapshot_threshold < 1 || s->snapshot_trailing < 4 ||
        s->snapshot_trailing < s->snapshot_threshold || s->snapshot_trailing > UINT32_MAX) {
        fprintf(stderr,
                "bad setting: snapshot-threshold %lld, snapshot-trailing %lld (threshold >= 1, "
                "trailing >= 4 and >= threshold)\n",
                (long long)s->snapshot_threshold, (long long)s->snapshot_trailing);
        return -1;
    }
    return 0;
}

/* Joins the cluster of the members listed in join (comma-separated):
 * retried for 30 s, since the leader may be starting too. */
static int
join_cluster(const settings_t *s, tunnel_t *tunnel)
{
    char list[1024];
    const char *seeds[DQCLIENT_SEEDS_MAX];
    size_t n = 0;
    snprintf(list, sizeof list, "%s", s->join);
    for (char *save, *t = strtok_r(list, ",", &save); t && n < DQCLIENT_SEEDS_MAX;
         t = strtok_r(NULL, ",", &save))
        seeds[n++] = t;
    dqclient_t *c = dqclient_new(seeds, n, 5000);
    if (c && tunnel)
        dqclient_set_dialer(c, tunnel_connect_func, tunnel);
    int rc = c ? DQ_ENOLEADER : DQ_EINVAL;
    int64_t until = proc_mono_ms() + 30000;
    while (c && rc != DQ_OK && !proc_stopping() && proc_mono_ms() < until) {
        rc = dqclient_connect(c, 1000);
        if (rc == DQ_OK)
            rc = dqclient_join(c, (uint64_t)s->id, s->address);
    }
    if (rc != DQ_OK)
        LOG_E(NULL, "cannot join %s: %s", s->join, c ? dqclient_errmsg(c) : "bad --join");
    dqclient_destroy(&c);
    return rc;
}

/* Secure: the tunnel serving tcp://address to the node's abstract socket
 * `bind` (unique to this process), and dialing the other nodes with the
 * store key pair.  Insecure: no tunnel, the node binds address itself.
 * 0, or -1 after logging why. */
static int
open_tunnel(void *zctx, const settings_t *s, tunnel_t **tunnel, char *bind, size_t cap)
{
    snprintf(bind, cap, "%s", s->address);
    if (!security_on())
        return 0;
    char endpoint[TUNNEL_ADDR_MAX + 8];
    snprintf(endpoint, sizeof endpoint, "tcp://%s", s->address);
    snprintf(bind, cap, "@inv-store-node-%lld-%ld", (long long)s->id, (long)getpid());
    tunnel_config_t tc = {.bind = endpoint,
                          .target = bind,
                          .server_key = security_public_key(),
                          .roles = ROLES_STORE};
    *tunnel = tunnel_new(zctx, &tc);
    if (!*tunnel)
        LOG_E(NULL, "cannot serve the tunnel at %s: %s", endpoint, zmq_strerror(errno));
    return *tunnel ? 0 : -1;
}

static void
wait_for_stop(void)
{
    struct timespec t = {.tv_nsec = 100 * 1000000};
    while (!proc_stopping())
        nanosleep(&t, NULL);
}

int
main(int argc, char **argv)
{
    /* dqlite's Raft dials its peers (through the tunnel) and writes its
     * log on libuv's thread pool, 4 threads unless told: a peer behind a
     * partition kept them dialling while the election's writes waited. */
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    settings_t cfg = {.id = 1,
                      .address = "127.0.0.1:9001",
                      .dir = "dqlite-data",
                      .join = "",
                      .snapshot_threshold = SNAPSHOT_THRESHOLD,
                      .snapshot_trailing = SNAPSHOT_TRAILING,
                      .daemon = CONFIG_DAEMON_DEFAULTS};
    int rc = settings_read(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    proc_install_signals(); /* and SIGPIPE ignored: a peer's reset must not kill the node */
    if (mkdir(cfg.dir, 0700) != 0 && errno != EEXIST) {
        LOG_E(NULL, "cannot create %s: %s", cfg.dir, strerror(errno));
        return 1;
    }
    void *zctx = zmq_ctx_new();
    tunnel_t *tunnel = NULL;
    char bind[TUNNEL_ADDR_MAX];
    if (!zctx || security_start_daemon(zctx, &cfg.daemon, "store", cfg.dir) != 0 ||
        open_tunnel(zctx, &cfg, &tunnel, bind, sizeof bind) != 0) {
        zmq_ctx_term(zctx);
        security_stop();
        return 1;
    }
    dqlite_node *node = NULL;
    rc = dqlite_node_create((dqlite_node_id)cfg.id, cfg.address, cfg.dir, &node);
    if (rc == 0)
        rc = dqlite_node_set_bind_address(node, bind);
    if (rc == 0 && tunnel)
        rc = dqlite_node_set_connect_func(node, tunnel_connect_func, tunnel);
    if (rc == 0 && cfg.latency_ms > 0)
        rc = dqlite_node_set_network_latency_ms(node, (unsigned)cfg.latency_ms);
    if (rc == 0)
        rc = dqlite_node_set_snapshot_params(node, (unsigned)cfg.snapshot_threshold,
                                             (unsigned)cfg.snapshot_trailing);
    if (rc == 0)
        rc = dqlite_node_start(node);
    if (rc != 0) {
        LOG_E(NULL, "cannot start node %lld on %s: %s (%d)", (long long)cfg.id, cfg.address,
              node ? dqlite_node_errmsg(node) : "no memory", rc);
        dqlite_node_destroy(node);
        node = NULL;
        rc = DQ_EINVAL;
    } else {
        LOG_I(NULL, "store-node %lld on %s (%s), data in %s", (long long)cfg.id, cfg.address,
              tunnel ? "through the CURVE tunnel" : "plain TCP", cfg.dir);
        rc = cfg.join[0] ? join_cluster(&cfg, tunnel) : DQ_OK;
        if (rc == DQ_OK)
            wait_for_stop();
        LOG_I(NULL, "store-node stopping");
        dqlite_node_stop(node);
        dqlite_node_destroy(node);
    }
    tunnel_destroy(&tunnel);
    zmq_ctx_term(zctx);
    security_stop();
    return rc == DQ_OK ? 0 : 1;
}
