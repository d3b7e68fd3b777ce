/* query-service: answers the read-side queries of DOMAIN.md from the
 * projector's read.db, opened read-only (docs/protocol.md, section 8).
 *
 * The read database may not exist yet or may be swapped by a rebuild; the
 * query engine reopens it as needed and answers `unavailable` meanwhile.
 * Requests that wait for a min_position are parked, never blocking other
 * clients (server.h).  This file only wires the pieces together. */
#include "bus.h"
#include "config.h"
#include "httpserv.h"
#include "log.h"
#include "proc.h"
#include "queries.h"
#include "server.h"
#include "topology.h"

#include <errno.h>
#include <stdio.h>

typedef struct {
    const char *db;         /* read database path (the projector's) */
    const char *bind;       /* our ROUTER endpoint (bind) */
    config_daemon_t daemon; /* log level and format, --http */
} query_config_t;

static int
load_config(query_config_t *cfg, int argc, char **argv)
{
    const config_option_t opts[] = {
        CONFIG_STR_OPT("--db", "INV_READ_DB", &cfg->db, "read model database (read-only)"),
        CONFIG_STR_OPT("--bind", "INV_QUERY_BIND", &cfg->bind, "query ROUTER endpoint"),
    };
    return config_load("query-service", "query", opts, sizeof opts / sizeof opts[0], argc, argv,
                       &cfg->daemon);
}

int
main(int argc, char **argv)
{
    query_config_t cfg = {"read.db", EP_QUERY, CONFIG_DAEMON_DEFAULTS};
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    proc_install_signals();

    queries_t *queries = queries_new(cfg.db);
    metrics_t *metrics = metrics_new("query");
    httpserv_t *http = NULL;
    void *zctx = zmq_ctx_new();
    void *router = bus_bind(zctx, ZMQ_ROUTER, cfg.bind);
    server_t *server = router && queries ? server_new(router, queries, metrics) : NULL;
    if (server && httpserv_open(cfg.daemon.http, metrics, &http) != 0) {
        rc = 2;
    } else if (!server) {
        LOG_E(NULL, "cannot start on %s: %s", cfg.bind,
              router ? "out of memory" : zmq_strerror(errno));
        rc = 1;
    } else {
        if (queries_refresh(queries) != 0)
            LOG_W(NULL, "%s; answering unavailable until it appears",
                  queries_unavailable_reason(queries));
        LOG_I(NULL, "query service on %s, read model %s", cfg.bind, cfg.db);
        rc = server_run(server) == 0 ? 0 : 1;
    }

    httpserv_stop(&http);
    server_destroy(&server);
    bus_close(&router);
    zmq_ctx_term(zctx);
    queries_destroy(&queries);
    metrics_destroy(&metrics);
    LOG_I(NULL, "query service stopped");
    return rc;
}
