/* cli: invctl's global options and the small parsers every subcommand
 * shares (flags tables, strict integers, ISO times).
 *
 * Global options may appear before or after the subcommand: cli_parse()
 * takes them out of argv and leaves the subcommand's own words, in order, in
 * opts->argv[0..argc).  Endpoints come from the flag, then the INV_*_EP
 * environment variable, then common/base/topology.h.  The command, relay
 * and events endpoints may be comma-separated lists (the daemons of a
 * replicated store, eplist.h): every element is checked here.  Pure code apart from
 * getenv(): no sockets, no printing (errors go into a caller's buffer). */
#ifndef INV_CLI_H
#define INV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_DEFAULT_TIMEOUT_MS 5000
#define CLI_MAX_WAIT_MS 5000 /* the largest wait_ms the query service honours */
/* Exit codes besides 0 ok, 1 usage or connection, 2 rejected or error reply
 * (not_found included), 3 accepted but not seen applied (--wait). */
#define CLI_EXIT_STALE 4 /* a read did not reach --min-position within --wait-ms */

/* The daemons invctl talks to, one endpoint each. */
typedef enum {
    CLI_EP_COMMAND,
    CLI_EP_QUERY,
    CLI_EP_AUDIT,
    CLI_EP_ALERTS,    /* alert PUB */
    CLI_EP_ALERT_API, /* alert ROUTER */
    CLI_EP_PROJECTOR,
    CLI_EP_RELAY,  /* catch-up ROUTER */
    CLI_EP_EVENTS, /* event PUB */
    CLI_EP__COUNT
} cli_ep_t;

typedef struct {
    const char *ep[CLI_EP__COUNT]; /* endpoint strings (argv, environment or static) */
    bool json;                     /* --json: replies as JSON on stdout */
    int timeout_ms;                /* --timeout-ms, > 0 */
    bool timeout_set;              /* given explicitly (rebuild uses a longer default) */
    const char *correlation_id;    /* --correlation-id, or NULL */
    const char *command_id;        /* --command-id, or NULL (random) */
    bool has_expected_version;
    int64_t expected_version; /* --expected-version, >= 0 */
    bool wait;                /* --wait: wait for the query service after a command */
    const char *color;        /* --color: "auto" (default), "always" or "never" */
    bool help;                /* --help / -h seen */
    bool version;             /* --version seen */
    const char *keys_dir;     /* --keys, INV_KEYS_DIR, or NULL (the config folder's) */
    const char *key_file;     /* --key, INV_KEY, or NULL (<keys>/operator.key) */
    const char *server_key;   /* --server-key, INV_SERVER_KEY: every server's Z85 key */
    bool insecure;            /* --insecure, INV_INSECURE=1: plain sockets */
    int argc;                 /* subcommand words left after the global options */
    char **argv;              /* points into the caller's argv (compacted in place) */
} cli_opts_t;

/* Parses argv[1..argc) into opts.  Global options are removed; everything
 * else keeps its order in opts->argv (which reuses the argv array, so argv is
 * reordered).  Returns 0, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, cli_opts_t *opts, char *err, size_t err_cap);

/* Name and flag of an endpoint ("command-service", "--command-ep"). */
const char *cli_ep_daemon(cli_ep_t ep);
const char *cli_ep_flag(cli_ep_t ep);
const char *cli_ep_env(cli_ep_t ep); /* "INV_COMMAND_EP" */

/* Strict base-10 int64: optional '-', digits only, no overflow.  0 or -1. */
int cli_parse_int(const char *s, int64_t *out);

/* ISO-8601 UTC time to microseconds since the epoch: "2026-11-23",
 * "2026-11-23T15:11", "2026-11-23T15:11:24.5Z", "...+01:00".  0 or -1. */
int cli_parse_time(const char *s, int64_t *out_us);
/* Formats microseconds as "2026-11-23T15:11:24.123456Z" into buf (>= 32). */
void cli_format_time(int64_t us, char *buf, size_t cap);

/* One flag of a subcommand. */
typedef enum { ARG_STR, ARG_INT, ARG_BOOL, ARG_TIME } arg_kind_t;

typedef struct {
    const char *flag; /* "--price" */
    arg_kind_t kind;
} arg_spec_t;

typedef struct {
    bool set;
    const char *str; /* ARG_STR and the raw text of the others */
    int64_t num;     /* ARG_INT, ARG_TIME (microseconds) */
} arg_val_t;

#define CLI_MAX_POSITIONAL 4

/* Parses a subcommand's words (argv[0] is the first word after the
 * subcommand name) against specs; vals[i] receives specs[i].  Accepts
 * "--flag value" and "--flag=value"; "--" ends the flags.  At most max_pos
 * positional words go into pos.  Returns 0, or -1 with "sub: reason" in err
 * (unknown flag, missing value, bad integer, too many arguments, repeated
 * flag). */
int cli_args_parse(const char *sub, const arg_spec_t *specs, size_t n, int argc, char **argv,
                   arg_val_t *vals, const char **pos, int max_pos, int *n_pos, char *err,
                   size_t err_cap);

#endif
