/* cli: see cli.h. */
#include "cli.h"

#include "eplist.h"
#include "topology.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *flag;
    const char *env;
    const char *fallback;
    const char *daemon;
} endpoints[CLI_EP__COUNT] = {
    [CLI_EP_COMMAND] = {"--command-ep", "INV_COMMAND_EP", EP_COMMAND, "command-service"},
    [CLI_EP_QUERY] = {"--query-ep", "INV_QUERY_EP", EP_QUERY, "query-service"},
    [CLI_EP_AUDIT] = {"--audit-ep", "INV_AUDIT_EP", EP_AUDIT, "audit-service"},
    [CLI_EP_ALERTS] = {"--alerts-ep", "INV_ALERTS_EP", EP_ALERTS, "alert-service (PUB)"},
    [CLI_EP_ALERT_API] = {"--alert-api-ep", "INV_ALERT_API_EP", EP_ALERT_API, "alert-service"},
    [CLI_EP_PROJECTOR] = {"--projector-ep", "INV_PROJECTOR_EP", EP_PROJECTOR, "projector-service"},
    [CLI_EP_RELAY] = {"--relay-ep", "INV_RELAY_EP", EP_CATCHUP, "outbox-relay"},
    [CLI_EP_EVENTS] = {"--events-ep", "INV_EVENTS_EP", EP_EVENTS, "outbox-relay (PUB)"},
};

const char *
cli_ep_daemon(cli_ep_t ep)
{
    return endpoints[ep].daemon;
}

const char *
cli_ep_env(cli_ep_t ep)
{
    return endpoints[ep].env;
}

const char *
cli_ep_flag(cli_ep_t ep)
{
    return endpoints[ep].flag;
}

int
cli_parse_int(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return -1;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static int
read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Parses the optional zone suffix: "", "Z", "+HH:MM", "-HHMM".  Offset in
 * seconds east of UTC. */
static int
parse_zone(const char *p, long *offset_s)
{
    *offset_s = 0;
    if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
        return 0;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
    if (read_digits(&p, 2, &hh) != 0)
        return -1;
    if (*p == ':')
        p++;
    if (*p && read_digits(&p, 2, &mm) != 0)
        return -1;
    if (*p || hh > 23 || mm > 59)
        return -1;
    *offset_s = sign * (hh * 3600L + mm * 60L);
    return 0;
}

int
cli_parse_time(const char *s, int64_t *out_us)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0;
    long frac_us = 0, offset_s;
    const char *p = s;
    if (!s || read_digits(&p, 4, &y) != 0 || *p++ != '-' || read_digits(&p, 2, &mo) != 0 ||
        *p++ != '-' || read_digits(&p, 2, &d) != 0)
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (read_digits(&p, 2, &h) != 0 || *p++ != ':' || read_digits(&p, 2, &mi) != 0)
            return -1;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec) != 0)
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                int digits = 0;
                while (isdigit((unsigned char)*p)) {
                    if (digits++ < 6)
                        frac_us = frac_us * 10 + (*p - '0');
                    p++;
                }
                if (digits == 0)
                    return -1;
                for (; digits < 6; digits++)
                    frac_us *= 10;
            }
        }
    }
    if (parse_zone(p, &offset_s) != 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* rejects 2026-02-30 */
        return -1;
    *out_us = ((int64_t)t - offset_s) * 1000000 + frac_us;
    return 0;
}

void
cli_format_time(int64_t us, char *buf, size_t cap)
{
    int64_t secs = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "%lld", (long long)us);
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06lldZ", date, (long long)rem);
}

/* ---- global options ------------------------------------------------------ */

typedef enum {
    G_EP,
    G_JSON,
    G_TIMEOUT,
    G_CORR,
    G_CMDID,
    G_EXPECTED,
    G_WAIT,
    G_HELP,
    G_VERSION,
    G_COLOR,
    G_KEYS,
    G_KEY,
    G_SERVER_KEY,
    G_INSECURE
} gopt_t;

/* Splits "--flag=value" into the flag's length and the value. */
static size_t
flag_len(const char *arg, const char **inline_value)
{
    const char *eq = strchr(arg, '=');
    *inline_value = eq ? eq + 1 : NULL;
    return eq ? (size_t)(eq - arg) : strlen(arg);
}

static bool
flag_is(const char *arg, size_t len, const char *flag)
{
    return strlen(flag) == len && memcmp(arg, flag, len) == 0;
}

/* Finds the global option `arg` names; -1 when it is not one. */
static int
global_lookup(const char *arg, size_t len, int *ep_index)
{
    static const struct {
        const char *flag;
        gopt_t opt;
    } table[] = {
        {"--json", G_JSON},
        {"--timeout-ms", G_TIMEOUT},
        {"--correlation-id", G_CORR},
        {"--command-id", G_CMDID},
        {"--expected-version", G_EXPECTED},
        {"--wait", G_WAIT},
        {"--help", G_HELP},
        {"-h", G_HELP},
        {"--version", G_VERSION},
        {"--color", G_COLOR},
        {"--keys", G_KEYS},
        {"--key", G_KEY},
        {"--server-key", G_SERVER_KEY},
        {"--insecure", G_INSECURE},
    };
    for (int i = 0; i < CLI_EP__COUNT; i++) {
        if (flag_is(arg, len, endpoints[i].flag)) {
            *ep_index = i;
            return G_EP;
        }
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (flag_is(arg, len, table[i].flag))
            return (int)table[i].opt;
    }
    return -1;
}

static int
global_apply(cli_opts_t *o, gopt_t opt, int ep, const char *flag, const char *v, char *err,
             size_t cap)
{
    int64_t n;
    switch (opt) {
    case G_EP:
        o->ep[ep] = v;
        return 0;
    case G_TIMEOUT:
        if (cli_parse_int(v, &n) != 0 || n <= 0 || n > INT_MAX) {
            snprintf(err, cap, "%s: expected a positive integer, got '%s'", flag, v);
            return -1;
        }
        o->timeout_ms = (int)n;
        o->timeout_set = true;
        return 0;
    case G_EXPECTED:
        if (cli_parse_int(v, &n) != 0 || n < 0) {
            snprintf(err, cap, "%s: expected an integer >= 0, got '%s'", flag, v);
            return -1;
        }
        o->has_expected_version = true;
        o->expected_version = n;
        return 0;
    case G_CORR:
        o->correlation_id = v;
        return 0;
    case G_CMDID:
        o->command_id = v;
        return 0;
    case G_COLOR:
        if (strcmp(v, "auto") != 0 && strcmp(v, "always") != 0 && strcmp(v, "never") != 0) {
            snprintf(err, cap, "%s: expected auto, always or never, got '%s'", flag, v);
            return -1;
        }
        o->color = v;
        return 0;
    case G_KEYS:
        o->keys_dir = v;
        return 0;
    case G_KEY:
        o->key_file = v;
        return 0;
    case G_SERVER_KEY:
        o->server_key = v;
        return 0;
    default:
        return 0;
    }
}

static void
opts_defaults(cli_opts_t *o, char **argv)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < CLI_EP__COUNT; i++) {
        const char *env = getenv(endpoints[i].env);
        o->ep[i] = env && *env ? env : endpoints[i].fallback;
    }
    o->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    o->color = "auto";
    o->argv = argv + 1;
    const char *keys = getenv("INV_KEYS_DIR"), *key = getenv("INV_KEY");
    const char *server = getenv("INV_SERVER_KEY"), *insecure = getenv("INV_INSECURE");
    o->keys_dir = keys && *keys ? keys : NULL;
    o->key_file = key && *key ? key : NULL;
    o->server_key = server && *server ? server : NULL;
    o->insecure = insecure && *insecure && strcmp(insecure, "0") != 0;
}

/* The endpoints that may be lists of a replicated store's daemons
 * (client.h, client_call_list): each element must be an endpoint. */
static int
cli_check_lists(const cli_opts_t *o, char *err, size_t cap)
{
    static const cli_ep_t lists[] = {CLI_EP_COMMAND, CLI_EP_RELAY, CLI_EP_EVENTS};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        eplist_t l;
        char why[200];
        const char *v = o->ep[lists[i]];
        if (strchr(v, ',') && eplist_parse(&l, v, why, sizeof why) != 0) {
            snprintf(err, cap, "%s (or %s): %s", endpoints[lists[i]].flag, endpoints[lists[i]].env,
                     why);
            return -1;
        }
    }
    return 0;
}

int
cli_parse(int argc, char **argv, cli_opts_t *o, char *err, size_t cap)
{
    opts_defaults(o, argv);
    int k = 0;
    bool rest = false; /* after "--" nothing is a global option */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int ep = 0, opt = -1;
        if (!rest && strcmp(arg, "--") == 0)
            rest = true;
        size_t len = flag_len(arg, &v);
        if (!rest && arg[0] == '-')
            opt = global_lookup(arg, len, &ep);
        if (opt < 0) {
            o->argv[k++] = argv[i];
            continue;
        }
        bool boolean = opt == G_JSON || opt == G_WAIT || opt == G_HELP || opt == G_VERSION ||
                       opt == G_INSECURE;
        if (boolean) {
            if (v) {
                snprintf(err, cap, "%.*s takes no value", (int)len, arg);
                return -1;
            }
            o->json |= opt == G_JSON;
            o->wait |= opt == G_WAIT;
            o->help |= opt == G_HELP;
            o->version |= opt == G_VERSION;
            o->insecure |= opt == G_INSECURE;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, cap, "%s needs a value", arg);
                return -1;
            }
            v = argv[++i];
        }
        char flag[64];
        snprintf(flag, sizeof flag, "%.*s", (int)len, arg);
        if (global_apply(o, (gopt_t)opt, ep, flag, v, err, cap) != 0)
            return -1;
    }
    o->argc = k;
    return cli_check_lists(o, err, cap);
}

/* ---- subcommand flags ---------------------------------------------------- */

static int
arg_convert(const char *sub, const arg_spec_t *sp, const char *v, arg_val_t *val, char *err,
            size_t cap)
{
    val->set = true;
    val->str = v;
    if (sp->kind == ARG_INT && cli_parse_int(v, &val->num) != 0) {
        snprintf(err, cap, "%s: %s expects an integer, got '%s'", sub, sp->flag, v);
        return -1;
    }
    if (sp->kind == ARG_TIME && cli_parse_int(v, &val->num) != 0 &&
        cli_parse_time(v, &val->num) != 0) {
        snprintf(err, cap, "%s: %s expects an ISO-8601 time (2026-11-23T15:11:24Z), got '%s'", sub,
                 sp->flag, v);
        return -1;
    }
    return 0;
}

int
cli_args_parse(const char *sub, const arg_spec_t *specs, size_t n, int argc, char **argv,
               arg_val_t *vals, const char **pos, int max_pos, int *n_pos, char *err, size_t cap)
{
    if (n)
        memset(vals, 0, n * sizeof *vals);
    *n_pos = 0;
    bool rest = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!rest && strcmp(arg, "--") == 0) {
            rest = true;
            continue;
        }
        if (rest || arg[0] != '-' || arg[1] == '\0' || cli_parse_int(arg, &(int64_t){0}) == 0) {
            if (*n_pos >= max_pos) {
                snprintf(err, cap, "%s: unexpected argument '%s'", sub, arg);
                return -1;
            }
            pos[(*n_pos)++] = arg;
            continue;
        }
        size_t len = flag_len(arg, &v), j;
        for (j = 0; j < n && !flag_is(arg, len, specs[j].flag); j++)
            ;
        if (j == n) {
            snprintf(err, cap, "%s: unknown option '%.*s' (see invctl help)", sub, (int)len, arg);
            return -1;
        }
        if (vals[j].set) {
            snprintf(err, cap, "%s: %s given twice", sub, specs[j].flag);
            return -1;
        }
        if (specs[j].kind == ARG_BOOL) {
            if (v) {
                snprintf(err, cap, "%s: %s takes no value", sub, specs[j].flag);
                return -1;
            }
            vals[j].set = true;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, cap, "%s: %s needs a value", sub, specs[j].flag);
                return -1;
            }
            v = argv[++i];
        }
        if (arg_convert(sub, &specs[j], v, &vals[j], err, cap) != 0)
            return -1;
    }
    return 0;
}
