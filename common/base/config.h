/* config: settings from flags and environment variables, parsed once into a
 * daemon's own config struct through a table.  Precedence: flag, then
 * environment, then the default already in the struct.  Start-up fails naming
 * the bad key and value. */
#ifndef INV_CONFIG_H
#define INV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CONFIG_STR, CONFIG_INT } config_kind_t;

typedef struct {
    const char *flag; /* "--db" */
    const char *env;  /* "INV_EVENTS_DB", or NULL */
    config_kind_t kind;
    void *target;     /* const char ** for CONFIG_STR, int64_t * for CONFIG_INT */
    const char *help; /* one line for --help */
} config_option_t;

/* One row of a settings table, typed: the target must be a const char **
 * (CONFIG_STR_OPT) or an int64_t * (CONFIG_INT_OPT), checked at compile
 * time. */
#define CONFIG_STR_OPT(flag_, env_, target_, help_)                                                \
    {                                                                                              \
        .flag = (flag_), .env = (env_), .kind = CONFIG_STR,                                        \
        .target = (void *)(1 ? (target_) : (const char **)0), .help = (help_)                      \
    }
#define CONFIG_INT_OPT(flag_, env_, target_, help_)                                                \
    {                                                                                              \
        .flag = (flag_), .env = (env_), .kind = CONFIG_INT,                                        \
        .target = (1 ? (target_) : (int64_t *)0), .help = (help_)                                  \
    }

/* Applies environment then argv to the targets.  Returns 0 on success, 1 when
 * --help or --version was printed, -1 after printing the bad key/value to stderr.
 * String targets point into argv or the environment (never freed). */
int config_parse(const char *prog, const config_option_t *opts, size_t n, int argc, char **argv);

/* The settings every daemon has, after its own in --help. */
typedef struct {
    const char *log_level;  /* --log-level, INV_LOG_LEVEL: debug|info|warn|error */
    const char *log_format; /* --log-format, INV_LOG_FORMAT: text|json */
    const char *http;       /* --http, INV_HTTP_BIND: IPV4:PORT of /metrics and /healthz, "" off */
} config_daemon_t;

#define CONFIG_DAEMON_DEFAULTS {.log_level = "info", .log_format = "text", .http = ""}
#define CONFIG_DAEMON_OPTS 3 /* rows config_load adds to a daemon's table */
#define CONFIG_OPTS_MAX 32   /* a daemon's own rows, at most */

/* config_parse over the daemon's table (n <= CONFIG_OPTS_MAX) followed by
 * the rows of *daemon (filled with its defaults by the caller), then
 * log_init(log_name, the level) and the log format: every daemon's start.
 * 0, 1 when --help or --version was printed, -1 after saying on stderr
 * what was bad. */
int config_load(const char *prog, const char *log_name, const config_option_t *opts, size_t n,
                int argc, char **argv, config_daemon_t *daemon);

#endif
