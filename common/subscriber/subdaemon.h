/* subdaemon: the skeleton that the projector, audit and alert daemons
 * share around the subscriber runtime (subscriber.h): one settings table
 * (model file, relay endpoints, control ROUTER, log level, mode, commit
 * linger, sync) and the ZeroMQ context, sockets and runtime with their
 * teardown in reverse.  What differs per daemon (the model and its ops
 * table, its control handler, extra sockets such as the alert PUB, the
 * projector's bulk build) stays in the daemon's main.c.
 *
 * Invariants:
 *  - the flags, their order in --help and the shared help texts are fixed
 *    here, so the daemons cannot drift apart; a daemon names only its
 *    environment variables, its own help lines and its extra options (and
 *    the projector, whose settings are older, its texts for three flags and
 *    its linger default);
 *  - sockets bound through subdaemon_bind are closed in reverse order of
 *    binding, after the runtime is destroyed and before the context ends. */
#ifndef INV_SUBDAEMON_H
#define INV_SUBDAEMON_H

#include "config.h"
#include "httpserv.h"
#include "subscriber.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SUBDAEMON_EXTRA_MAX 4   /* daemon-specific options */
#define SUBDAEMON_SOCKETS_MAX 4 /* sockets bound through subdaemon_bind */

/* The settings, filled by subdaemon_settings. */
typedef struct {
    const char *db;             /* model file */
    const char *events_ep;      /* relay PUB, connected */
    const char *catchup_ep;     /* relay catch-up ROUTER, connected */
    const char *bind;           /* our control ROUTER, bound */
    config_daemon_t daemon;     /* log level and format, --http */
    const char *mode;           /* "run", "once" (catch up, exit) or "dump" */
    const char *sync;           /* the model's fsyncs: "off" or "normal" (modeldb.h) */
    modeldb_sync_t sync_policy; /* set from sync */
    int64_t linger_ms;          /* a live batch waits this long for more events */
    const char *name;           /* set from the spec: log tag and runtime name */
    int batch_max;              /* set from the spec and mode: events per transaction */
    bool once;                  /* set from mode: catch up silently, then exit */
    bool dump;                  /* set from mode: print the canonical dump, exit */
} subdaemon_config_t;

/* One daemon-specific setting of a shared flag. */
typedef struct {
    const char *dflt; /* default value */
    const char *env;  /* environment variable */
    const char *help; /* --help line */
} subdaemon_setting_t;

/* What a daemon names in its own way.  Strings are literals (they must
 * outlive the process's logging). */
typedef struct {
    const char *name;             /* "audit": the log tag and the runtime's name */
    const char *prog;             /* "audit-service": the --help usage line */
    subdaemon_setting_t db;       /* --db */
    subdaemon_setting_t bind;     /* --bind */
    const char *linger_env;       /* environment variable of --commit-linger-ms */
    const config_option_t *extra; /* listed between --catchup and --bind */
    size_t n_extra;               /* 0..SUBDAEMON_EXTRA_MAX */
    /* Where a daemon's settings predate the shared ones (the projector's):
     * NULL or 0 takes the shared help line or default. */
    const char *events_help; /* --events */
    const char *mode_help;   /* --mode */
    const char *linger_help; /* --commit-linger-ms */
    int64_t linger_ms;       /* --commit-linger-ms default (0: 50) */
    int once_batch_max;      /* events per transaction with --mode once (0: 5000) */
} subdaemon_spec_t;

/* Fills cfg with the defaults (spec's, the relay's endpoints of topology.h,
 * "info", "run", 50 ms unless the spec says otherwise), parses flags and
 * environment over them (config.h precedence), sets cfg->once, cfg->dump
 * (from cfg->mode: any other mode runs), cfg->batch_max and
 * cfg->sync_policy, and starts the log tagged spec->name.  Returns 0 to
 * run, 1 after --help, -1 after printing the bad setting to stderr.  cfg's
 * strings point into argv or the environment. */
int subdaemon_settings(subdaemon_config_t *cfg, const subdaemon_spec_t *spec, int argc,
                       char **argv);

/* The start of a subscriber daemon's main: subdaemon_settings, the signal
 * handlers (proc.h), then outside dump mode the model's lock (one writer
 * per model, modellock.h), left in *lock (-1 when none) for the caller to
 * release at exit.  Returns 0 to go on; otherwise -1 with *status the exit
 * status of main: 0 after --help, 2 after a bad setting, 1 when the lock is
 * held. */
int subdaemon_begin(subdaemon_config_t *cfg, const subdaemon_spec_t *spec, int argc, char **argv,
                    int *lock, int *status);

/* Where the live model prints: stdout when running; NULL for once (a
 * catch-up replays history, it does not re-announce it) and dump (stdout
 * carries the dump). */
FILE *subdaemon_output(const subdaemon_config_t *cfg);

/* Opens a daemon's model at cfg->db for cfg's mode (read-only for dump);
 * NULL with *why on failure. */
typedef void *(*subdaemon_open_fn)(void *arg, const subdaemon_config_t *cfg, const char **why);

/* Opens the model with open(arg, cfg, why); outside dump mode it first
 * discards a file that a system crash may have torn when
 * cfg->sync_policy is OFF (modeldb_discard_torn, G12), and when the open
 * fails and quick_check finds the file damaged, removes it
 * (modeldb_discard_if_damaged) and opens it anew, to be rebuilt from the
 * log (G14).  The model, or NULL with *why. */
void *subdaemon_open_model(const subdaemon_config_t *cfg, subdaemon_open_fn open, void *arg,
                           const char **why);

/* What a daemon plugs into the runtime; all of it must outlive the runtime. */
typedef struct {
    const subscriber_ops_t *ops;         /* the model's side of the runtime */
    void *model;                         /* the live model, not owned */
    subscriber_control_fn control;       /* requests other than Status, Rebuild */
    void *control_arg;                   /* given to control */
    const subscriber_factory_t *factory; /* models for Rebuild, beside cfg->db;
                                            NULL: Rebuild is refused */
} subdaemon_model_t;

/* A daemon's context, sockets and runtime: an embedded value, fields
 * private to subdaemon.c. */
typedef struct {
    void *zctx;                           /* owned, terminated last */
    void *sockets[SUBDAEMON_SOCKETS_MAX]; /* bound here, owned */
    int n_sockets;
    subscriber_t *sub; /* owned; NULL until subdaemon_start succeeds */
    metrics_t *metrics; /* owned: the runtime's series, the model's WAL size */
    httpserv_t *http;   /* owned; NULL without --http */
} subdaemon_t;

/* Creates the ZeroMQ context.  Pair with subdaemon_fini. */
void subdaemon_init(subdaemon_t *d);
/* Binds a socket that d owns from now on.  NULL (errno set) on failure. */
void *subdaemon_bind(subdaemon_t *d, int type, const char *endpoint);
/* Binds the control ROUTER at cfg->bind and creates the runtime over
 * m->model, following cfg's relay endpoints (cfg->batch_max events per
 * transaction, catch-up pages of 1000, cfg->sync_policy for every model
 * written), with its metrics served on cfg->daemon.http when set.  cfg
 * and m must outlive d.  Returns 0, or -1 (errno from the bind, or the
 * bad --http printed) with nothing started; the caller logs. */
int subdaemon_start(subdaemon_t *d, const subdaemon_config_t *cfg, const subdaemon_model_t *m);
/* Runs the runtime until stopped (or caught up, with once).  0 on a clean
 * stop, 1 when the model could not even report its checkpoint. */
int subdaemon_run(subdaemon_t *d);
/* The runtime's counters (subscriber_status); d must have started. */
void subdaemon_status(const subdaemon_t *d, subscriber_status_t *out);
/* Destroys the runtime, closes the sockets in reverse order of binding and
 * terminates the context.  The model is the caller's to close after. */
void subdaemon_fini(subdaemon_t *d);

#endif
