/* subdaemon: see subdaemon.h. */
#include "subdaemon.h"

#include "eplist.h"

#include "bus.h"
#include "log.h"
#include "modeldb.h"
#include "modellock.h"
#include "proc.h"
#include "topology.h"

#include <assert.h>
#include <string.h>

/* A help line of the spec's, or the shared one. */
static const char *
subdaemon_help(const char *own, const char *shared)
{
    return own ? own : shared;
}

/* The seven shared options, three before the daemon's extras, four after
 * (config_load adds the log's and --http). */
#define SUBDAEMON_OPTS_MAX (7 + SUBDAEMON_EXTRA_MAX)

/* Fills opts in --help order; returns how many. */
static size_t
subdaemon_options(config_option_t *opts, subdaemon_config_t *cfg, const subdaemon_spec_t *spec)
{
    size_t n = 0;
    opts[n++] = (config_option_t)CONFIG_STR_OPT("--db", spec->db.env, &cfg->db, spec->db.help);
    opts[n++] = (config_option_t)CONFIG_STR_OPT(
        "--events", "INV_EVENTS_EP", &cfg->events_ep,
        subdaemon_help(spec->events_help, "relay event PUB endpoint (a comma-separated list: every "
                                          "relay of a replicated store)"));
    opts[n++] = (config_option_t)CONFIG_STR_OPT(
        "--catchup", "INV_CATCHUP_EP", &cfg->catchup_ep,
        "relay catch-up endpoint (a comma-separated list: the one that leads is followed)");
    for (size_t i = 0; i < spec->n_extra; i++)
        opts[n++] = spec->extra[i];
    opts[n++] =
        (config_option_t)CONFIG_STR_OPT("--bind", spec->bind.env, &cfg->bind, spec->bind.help);
    opts[n++] = (config_option_t)CONFIG_STR_OPT(
        "--mode", "INV_MODE", &cfg->mode,
        subdaemon_help(spec->mode_help, "run | once (catch up silently, exit) | dump (print the "
                                        "canonical dump of --db)"));
    opts[n++] = (config_option_t)CONFIG_INT_OPT(
        "--commit-linger-ms", spec->linger_env, &cfg->linger_ms,
        subdaemon_help(spec->linger_help, "a live batch waits this long for more events before "
                                          "it commits and prints"));
    opts[n++] =
        (config_option_t)CONFIG_STR_OPT("--sync", "INV_MODEL_SYNC", &cfg->sync, MODELDB_SYNC_HELP);
    return n;
}

/* The relay endpoints may be lists (eplist.h: the relays of a replicated
 * store); a list with a bad element is refused at start, naming it. */
static int
subdaemon_check_lists(const subdaemon_config_t *cfg)
{
    const struct {
        const char *key, *value;
    } lists[] = {{"INV_EVENTS_EP/--events", cfg->events_ep},
                 {"INV_CATCHUP_EP/--catchup", cfg->catchup_ep}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        eplist_t l;
        char why[200];
        if (strchr(lists[i].value, ',') && eplist_parse(&l, lists[i].value, why, sizeof why) != 0) {
            fprintf(stderr, "bad setting %s=%s: %s\n", lists[i].key, lists[i].value, why);
            return -1;
        }
    }
    return 0;
}

int
subdaemon_settings(subdaemon_config_t *cfg, const subdaemon_spec_t *spec, int argc, char **argv)
{
    assert(spec->n_extra <= SUBDAEMON_EXTRA_MAX);
    *cfg = (subdaemon_config_t){.db = spec->db.dflt,
                                .events_ep = EP_EVENTS,
                                .catchup_ep = EP_CATCHUP,
                                .bind = spec->bind.dflt,
                                .daemon = CONFIG_DAEMON_DEFAULTS,
                                .mode = "run",
                                .linger_ms = spec->linger_ms > 0 ? spec->linger_ms : 50,
                                .sync = "off"};
    config_option_t opts[SUBDAEMON_OPTS_MAX];
    size_t n = subdaemon_options(opts, cfg, spec);
    int rc = config_load(spec->prog, spec->name, opts, n, argc, argv, &cfg->daemon);
    if (rc == 0 && modeldb_parse_sync(cfg->sync, &cfg->sync_policy) != 0) {
        fprintf(stderr, "bad setting INV_MODEL_SYNC/--sync=%s: off or normal\n", cfg->sync);
        rc = -1;
    }
    rc = rc == 0 ? subdaemon_check_lists(cfg) : rc;
    if (rc == 0) {
        cfg->name = spec->name;
        cfg->once = strcmp(cfg->mode, "once") == 0;
        cfg->dump = strcmp(cfg->mode, "dump") == 0;
        cfg->batch_max = cfg->once && spec->once_batch_max > 0 ? spec->once_batch_max : 5000;
    }
    return rc;
}

int
subdaemon_begin(subdaemon_config_t *cfg, const subdaemon_spec_t *spec, int argc, char **argv,
                int *lock, int *status)
{
    *lock = -1;
    int rc = subdaemon_settings(cfg, spec, argc, argv);
    if (rc != 0) {
        *status = rc > 0 ? 0 : 2;
        return -1;
    }
    proc_install_signals();
    if (!cfg->dump && (*lock = modellock_take(cfg->db)) < 0) {
        *status = 1;
        return -1;
    }
    return 0;
}

FILE *
subdaemon_output(const subdaemon_config_t *cfg)
{
    return cfg->once || cfg->dump ? NULL : stdout;
}

void *
subdaemon_open_model(const subdaemon_config_t *cfg, subdaemon_open_fn open, void *arg,
                     const char **why)
{
    if (!cfg->dump && cfg->sync_policy == MODELDB_SYNC_OFF)
        modeldb_discard_torn(cfg->db);
    void *model = open(arg, cfg, why);
    if (!model && !cfg->dump && modeldb_discard_if_damaged(cfg->db) == 1)
        model = open(arg, cfg, why);
    return model;
}

int
subdaemon_init(subdaemon_t *d, const subdaemon_config_t *cfg)
{
    memset(d, 0, sizeof *d);
    d->zctx = zmq_ctx_new();
    char why[512];
    if (!d->zctx || security_start_daemon(d->zctx, &cfg->daemon, cfg->name, cfg->db) != 0)
        return -1;
    if (security_expect_servers(cfg->events_ep, "relay", NULL, why, sizeof why) != 0 ||
        security_expect_servers(cfg->catchup_ep, "relay", NULL, why, sizeof why) != 0) {
        LOG_E(NULL, "%s", why);
        return -1;
    }
    return 0;
}

void *
subdaemon_bind(subdaemon_t *d, int type, const char *endpoint)
{
    assert(d->n_sockets < SUBDAEMON_SOCKETS_MAX);
    void *sock = bus_bind(d->zctx, type, endpoint);
    if (sock)
        d->sockets[d->n_sockets++] = sock;
    return sock;
}

int
subdaemon_start(subdaemon_t *d, const subdaemon_config_t *cfg, const subdaemon_model_t *m)
{
    void *control = subdaemon_bind(d, ZMQ_ROUTER, cfg->bind);
    if (!control)
        return -1;
    d->metrics = metrics_new(cfg->name);
    metrics_sampled(d->metrics, "inv_wal_bytes", "", "Size of the model's WAL.", 1,
                    metrics_wal_bytes, (void *)cfg->db);
    const subscriber_config_t sc = {.name = cfg->name,
                                    .events_ep = cfg->events_ep,
                                    .catchup_ep = cfg->catchup_ep,
                                    .batch_max = cfg->batch_max,
                                    .catchup_page = 1000,
                                    .commit_linger_ms = (int)cfg->linger_ms,
                                    .once = cfg->once,
                                    .sync = cfg->sync_policy,
                                    .metrics = d->metrics};
    d->sub = subscriber_new(d->zctx, &sc, m->ops, m->model);
    if (!d->sub || httpserv_open(cfg->once ? "" : cfg->daemon.http, d->metrics, &d->http) != 0)
        return -1;
    subscriber_set_control(d->sub, control, m->control, m->control_arg);
    if (m->factory)
        subscriber_set_factory(d->sub, m->factory, cfg->db);
    return 0;
}

int
subdaemon_run(subdaemon_t *d)
{
    return subscriber_run(d->sub) == 0 ? 0 : 1;
}

void
subdaemon_status(const subdaemon_t *d, subscriber_status_t *out)
{
    subscriber_status(d->sub, out);
}

void
subdaemon_fini(subdaemon_t *d)
{
    httpserv_stop(&d->http);
    subscriber_destroy(&d->sub);
    metrics_destroy(&d->metrics);
    while (d->n_sockets > 0)
        bus_close(&d->sockets[--d->n_sockets]);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    d->zctx = NULL;
    security_stop();
}
