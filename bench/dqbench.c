/* dqbench: rows per second into a dqlite cluster through the store's
 * client (common/store/dqclient.h), and the time to find a new leader.
 *   dqbench insert SEEDS N      N inserts, one transaction each, then
 *                               N inserts in transactions of 1000
 *   dqbench failover SEEDS      how long until a leader takes a write
 * SEEDS: HOST:PORT,...  (bench/dqlite-run starts three nodes and runs it)
 * With INV_KEYS_DIR set, the nodes are reached through the CURVE tunnel
 * (tunnel.h) with <keys>/operator.key, expecting <keys>/store.pub;
 * otherwise plain TCP (nodes started with --insecure). */
#include "dqclient.h"
#include "keyring.h"
#include "proc.h"
#include "security.h"
#include "tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int
die(dqclient_t *c, const char *what)
{
    fprintf(stderr, "dqbench: %s: %s\n", what, dqclient_errmsg(c));
    return 1;
}

/* n inserts through a prepared statement, batch of them per transaction. */
static int
insert(dqclient_t *c, int64_t first, int64_t n, int64_t batch, double *secs)
{
    uint32_t st;
    if (dqclient_prepare(c, "INSERT INTO b (id, v) VALUES (?, ?)", &st) != DQ_OK)
        return die(c, "prepare");
    int64_t t0 = proc_mono_us();
    for (int64_t i = 0; i < n; i += batch) {
        if (batch > 1 && dqclient_exec(c, "BEGIN", NULL, 0, NULL, NULL) != DQ_OK)
            return die(c, "begin");
        for (int64_t k = i; k < i + batch && k < n; k++) {
            dqvalue_t p[] = {dq_int(first + k), dq_text("a value of about forty bytes, say")};
            if (dqclient_exec_stmt(c, st, p, 2, NULL, NULL) != DQ_OK)
                return die(c, "insert");
        }
        if (batch > 1 && dqclient_exec(c, "COMMIT", NULL, 0, NULL, NULL) != DQ_OK)
            return die(c, "commit");
    }
    *secs = (double)(proc_mono_us() - t0) / 1e6;
    return dqclient_finalize(c, st) == DQ_OK ? 0 : die(c, "finalize");
}

/* The tunnel to secure nodes when INV_KEYS_DIR is set: 0, or -1 (told). */
static int
secure(void *zctx, tunnel_t **t)
{
    const char *dir = getenv("INV_KEYS_DIR");
    char key[1100], pub[1100], z85[KEY_Z85_LEN + 1], why[256];
    if (!dir || !*dir)
        return 0;
    snprintf(key, sizeof key, "%s/operator.key", dir);
    snprintf(pub, sizeof pub, "%s/store.pub", dir);
    if (security_client(dir, key, why, sizeof why) != 0 ||
        pubkey_read(pub, z85, why, sizeof why) != 0) {
        fprintf(stderr, "dqbench: %s\n", why);
        return -1;
    }
    *t = tunnel_new(zctx, &(tunnel_config_t){.server_key = z85});
    return *t ? 0 : -1;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "insert") == 0 && argc < 4)) {
        fprintf(stderr, "usage: dqbench insert SEEDS N | dqbench failover SEEDS\n");
        return 2;
    }
    const char *seeds[DQCLIENT_SEEDS_MAX];
    size_t ns = 0;
    for (char *save, *t = strtok_r(argv[2], ",", &save); t && ns < DQCLIENT_SEEDS_MAX;
         t = strtok_r(NULL, ",", &save))
        seeds[ns++] = t;
    dqclient_t *c = dqclient_new(seeds, ns, 5000);
    void *zctx = zmq_ctx_new();
    tunnel_t *tunnel = NULL;
    if (secure(zctx, &tunnel) != 0)
        return 1;
    if (tunnel)
        dqclient_set_dialer(c, tunnel_connect_func, tunnel);
    int64_t t0 = proc_mono_ms();
    int rc = 0;
    while (dqclient_connect(c, 30000) != DQ_OK || dqclient_open(c, "bench") != DQ_OK ||
           dqclient_exec(c, "CREATE TABLE IF NOT EXISTS b (id INTEGER PRIMARY KEY, v TEXT)", NULL,
                         0, NULL, NULL) != DQ_OK)
        if (proc_mono_ms() - t0 > 30000) {
            rc = die(c, "connect");
            break;
        }
    if (rc == 0 && strcmp(argv[1], "failover") == 0) {
        printf("leader %s took a write after %lld ms\n", dqclient_leader(c),
               (long long)(proc_mono_ms() - t0));
    } else if (rc == 0) {
        int64_t n = atoll(argv[3]);
        double s1 = 0, s1000 = 0;
        rc = insert(c, 1, n, 1, &s1);
        if (rc == 0)
            rc = insert(c, n + 1, n, 1000, &s1000);
        if (rc == 0)
            printf("leader %s: %lld rows: batch 1 %.0f rows/s, batch 1000 %.0f rows/s\n",
                   dqclient_leader(c), (long long)n, (double)n / s1, (double)n / s1000);
    }
    dqclient_destroy(&c);
    tunnel_destroy(&tunnel);
    zmq_ctx_term(zctx);
    security_stop();
    return rc;
}
