/* config: see config.h. */
#include "config.h"
#include "log.h"
#include "version.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
config_set(const config_option_t *o, const char *key, const char *value)
{
    if (o->kind == CONFIG_STR) {
        *(const char **)o->target = value;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end != '\0') {
        fprintf(stderr, "bad setting %s=%s: not an integer\n", key, value);
        return -1;
    }
    *(int64_t *)o->target = (int64_t)v;
    return 0;
}

static void
config_usage(const char *prog, const config_option_t *opts, size_t n)
{
    fprintf(stderr, "usage: %s [options]\n", prog);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "  %-22s %-26s %s\n", opts[i].flag, opts[i].env ? opts[i].env : "",
                opts[i].help);
    }
}

static const config_option_t *
config_find(const config_option_t *opts, size_t n, const char *flag, size_t flag_len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].flag) == flag_len && strncmp(opts[i].flag, flag, flag_len) == 0)
            return &opts[i];
    }
    return NULL;
}

int
config_parse(const char *prog, const config_option_t *opts, size_t n, int argc, char **argv)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && *v && config_set(&opts[i], opts[i].env, v) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(prog, opts, n);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", prog, INV_VERSION);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        const config_option_t *o = config_find(opts, n, arg, flen);
        if (!o) {
            fprintf(stderr, "unknown option %s (try --help)\n", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            fprintf(stderr, "option %s needs a value\n", arg);
            return -1;
        }
        if (config_set(o, o->flag, value) != 0)
            return -1;
    }
    return 0;
}

int
config_load(const char *prog, const char *log_name, const config_option_t *opts, size_t n, int argc,
            char **argv, config_daemon_t *daemon)
{
    config_option_t all[CONFIG_OPTS_MAX + CONFIG_DAEMON_OPTS];
    if (n > CONFIG_OPTS_MAX)
        return -1;
    memcpy(all, opts, n * sizeof opts[0]);
    all[n++] = (config_option_t)CONFIG_STR_OPT("--log-level", "INV_LOG_LEVEL", &daemon->log_level,
                                               "debug|info|warn|error");
    all[n++] = (config_option_t)CONFIG_STR_OPT("--log-format", "INV_LOG_FORMAT",
                                               &daemon->log_format, "text|json");
    all[n++] =
        (config_option_t)CONFIG_STR_OPT("--http", "INV_HTTP_BIND", &daemon->http,
                                        "IPV4:PORT serving /metrics and /healthz (\"\": none)");
    int rc = config_parse(prog, all, n, argc, argv);
    if (rc != 0)
        return rc;
    log_level_t level;
    log_format_t format;
    if (log_level_parse(daemon->log_level, &level) != 0) {
        fprintf(stderr, "bad setting INV_LOG_LEVEL=%s: not a log level\n", daemon->log_level);
        return -1;
    }
    if (log_format_parse(daemon->log_format, &format) != 0) {
        fprintf(stderr, "bad setting INV_LOG_FORMAT=%s: text or json\n", daemon->log_format);
        return -1;
    }
    log_init(log_name, level);
    log_set_format(format);
    return 0;
}
