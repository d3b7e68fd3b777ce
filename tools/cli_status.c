/* cli_status: see cli_status.h. */
#include "cli_status.h"

#include "bus.h"
#include "client.h"
#include "codec.h"
#include "cli_queries.h"
#include "cli_report.h"
#include "eplist.h"
#include "jsonout.h"
#include "jsonstr.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The daemons by name, once for status and rebuild: each is accepted
 * singular or plural. */
static const struct {
    const char *name;  /* as the table prints it */
    const char *other; /* the other spelling accepted */
    cli_ep_t ep;
    bool rebuilds; /* answers Rebuild */
} daemons[] = {
    {"command", "commands", CLI_EP_COMMAND, false},
    {"relay", "relays", CLI_EP_RELAY, false},
    {"projector", "projectors", CLI_EP_PROJECTOR, true},
    {"query", "queries", CLI_EP_QUERY, false},
    {"audit", "audits", CLI_EP_AUDIT, true},
    {"alert", "alerts", CLI_EP_ALERT_API, true},
};
#define N_DAEMONS (sizeof daemons / sizeof daemons[0])

/* One line of the table: a daemon at one endpoint (a daemon given a list
 * of endpoints, eplist.h, has one row per endpoint). */
typedef struct {
    size_t d;                  /* index in daemons[] */
    char ep[EPLIST_EP_MAX + 1]; /* the endpoint (the setting as given when it is not a list) */
    int of;                    /* endpoints of this daemon: > 1 for a list */
} status_target_t;
#define STATUS_ROWS_MAX (N_DAEMONS * EPLIST_MAX)

/* The rows of the selected daemons into t; how many. */
static size_t
status_targets(const cli_opts_t *opts, const bool *selected, status_target_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (!selected[i])
            continue;
        const char *v = opts->ep[daemons[i].ep];
        eplist_t l;
        char why[200];
        if (!strchr(v, ',') || eplist_parse(&l, v, why, sizeof why) != 0) {
            t[n] = (status_target_t){.d = i, .of = 1};
            snprintf(t[n++].ep, sizeof t[0].ep, "%s", v);
            continue;
        }
        for (int k = 0; k < l.n; k++) {
            t[n] = (status_target_t){.d = i, .of = l.n};
            snprintf(t[n++].ep, sizeof t[0].ep, "%s", l.ep[k]);
        }
    }
    return n;
}

/* The index of the daemon called name, or -1. */
static int
daemon_find(const char *name)
{
    for (size_t i = 0; i < N_DAEMONS; i++)
        if (strcmp(name, daemons[i].name) == 0 || strcmp(name, daemons[i].other) == 0)
            return (int)i;
    return -1;
}

static const char *const col_keys[ST__COUNT][5] = {
    [ST_CHECKPOINT] = {"checkpoint", "position"},
    [ST_HEAD] = {"head", "head_position"},
    [ST_LAG_EVENTS] = {"lag_events", "lag"},
    [ST_LAG_MS] = {"lag_ms"},
    [ST_HEARTBEAT_AGE] = {"heartbeat_age_ms", "last_heartbeat_age_ms", "heartbeat_ms"},
    [ST_BACKLOG] = {"outbox_backlog", "backlog", "outbox_pending", "outbox"},
    [ST_UNPUBLISHED] = {"unpublished"},
};

/* An int under one of keys in map, or one map below it. */
static bool
find_int(const mpread_t *map, const char *const *keys, int depth, int64_t *out)
{
    mpread_t r, v;
    uint32_t n;
    for (int k = 0; k < 5 && keys[k]; k++)
        if (mpread_find(map, keys[k], &v) == 0 && mpread_int(&v, out) == 0)
            return true;
    r = *map;
    if (depth == 0 || mpread_map(&r, &n) != 0)
        return false;
    for (uint32_t i = 0; i < n && mpread_pair(&r, NULL, &v) == 0; i++)
        if (mpread_peek(&v) == MP_MAP && find_int(&v, keys, depth - 1, out))
            return true;
    return false;
}

void
cli_status_extract(const mpread_t *reply, status_row_t *row)
{
    memset(row, 0, sizeof *row);
    for (int c = 0; c < ST__COUNT; c++)
        row->has[c] = find_int(reply, col_keys[c], 1, &row->val[c]);
    /* a hostile reply's head and checkpoint can be any int64: a difference
     * that does not fit is left out, not wrapped */
    if (!row->has[ST_LAG_EVENTS] && row->has[ST_HEAD] && row->has[ST_CHECKPOINT])
        row->has[ST_LAG_EVENTS] = !__builtin_sub_overflow(
            row->val[ST_HEAD], row->val[ST_CHECKPOINT], &row->val[ST_LAG_EVENTS]);
}

/* Sends Status to every row's endpoint at once and collects the replies
 * until all answered or the deadline passed. */
static void
status_collect(void *zctx, int timeout_ms, const status_target_t *t, size_t n_rows,
               client_reply_t *replies, bool *answered)
{
    void *socks[STATUS_ROWS_MAX] = {0};
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", "Status");
    codec_map_close(&w);
    for (size_t i = 0; i < n_rows; i++) {
        answered[i] = false;
        if (!(socks[i] = bus_connect(zctx, ZMQ_DEALER, t[i].ep)))
            continue;
        if (zmq_send(socks[i], w.buf.data, w.buf.size, ZMQ_DONTWAIT) < 0)
            bus_close(&socks[i]);
    }
    codec_writer_fini(&w);
    int64_t end = proc_mono_ms() + timeout_ms;
    for (;;) {
        zmq_pollitem_t items[STATUS_ROWS_MAX];
        size_t idx[STATUS_ROWS_MAX], n = 0;
        for (size_t i = 0; i < n_rows; i++)
            if (socks[i] && !answered[i]) {
                items[n] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
                idx[n++] = i;
            }
        int64_t left = end - proc_mono_ms();
        if (n == 0 || left <= 0 || proc_stopping())
            break;
        if (zmq_poll(items, (int)n, (long)left) <= 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!(items[j].revents & ZMQ_POLLIN))
                continue;
            bus_msg_t m;
            if (bus_recv(socks[idx[j]], &m, 0) != 0)
                continue;
            size_t len;
            const void *body = bus_body(&m, &len);
            client_reply_t *r = &replies[idx[j]];
            const char *why;
            r->data = malloc(len ? len : 1);
            if (r->data) {
                memcpy(r->data, body, len);
                r->len = len;
                if (codec_reader_check(&r->body, r->data, len, &why) == 0)
                    answered[idx[j]] = true;
                else
                    client_reply_fini(r);
            }
            bus_msg_close(&m);
        }
    }
    for (size_t i = 0; i < n_rows; i++) {
        int zero = 0;
        if (socks[i])
            zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof zero);
        bus_close(&socks[i]);
    }
}

/* {"command": <reply or null>, ...}; a daemon given a list of endpoints:
 * [{"endpoint": EP, "status": <reply or null>}, ...] in list order. */
static void
status_print_json(const client_reply_t *replies, const bool *answered, const status_target_t *t,
                  size_t n_rows)
{
    fputc('{', stdout);
    for (size_t i = 0; i < n_rows; i++) {
        bool list = t[i].of > 1, first_of = i == 0 || t[i - 1].d != t[i].d;
        if (first_of)
            printf("%s\"%s\":%s", i ? "," : "", daemons[t[i].d].name, list ? "[" : "");
        if (list) {
            printf("%s{\"endpoint\":", first_of ? "" : ",");
            jsonstr_write(stdout, t[i].ep, strlen(t[i].ep));
            fputs(",\"status\":", stdout);
        }
        if (answered[i])
            jsonout_write(stdout, &replies[i].body);
        else
            fputs("null", stdout);
        if (list)
            fputs(i + 1 == n_rows || t[i + 1].d != t[i].d ? "}]" : "}", stdout);
    }
    fputs("}\n", stdout);
}

/* WAL frames not yet in the event store's file past which the relay's row
 * says so: 64 MiB of 4 KiB pages, four times what the relay restarts the
 * WAL at, which a busy system passes only for moments. */
#define WAL_BEHIND_NOTE_FRAMES 16384

/* at in percent of head, 0..100 (100 when there is no head). */
static int
percent_of(int64_t at, int64_t head)
{
    return head <= 0 || at >= head ? 100 : at <= 0 ? 0 : (int)((double)at * 100.0 / (double)head);
}

/* A rebuild's progress in percent of the head (rebuild_checkpoint, head),
 * or -1 when the reply does not say. */
static int
rebuild_percent(const mpread_t *reply)
{
    int64_t at = -1, head = -1;
    mpread_t v;
    if (mpread_find(reply, "rebuild_checkpoint", &v) != 0 || mpread_int(&v, &at) != 0 ||
        mpread_find(reply, "head", &v) != 0 || mpread_int(&v, &head) != 0 || at < 0 || head <= 0)
        return -1;
    return percent_of(at, head);
}

const char *
cli_status_note(const mpread_t *reply)
{
    bool unusable = false, rebuilding = false;
    int64_t frames = 0, backfilled = 0;
    mpread_t v;
    if (mpread_find(reply, "model_unusable", &v) == 0)
        mpread_bool(&v, &unusable);
    if (mpread_find(reply, "rebuilding", &v) == 0)
        mpread_bool(&v, &rebuilding);
    if (mpread_find(reply, "wal_frames", &v) == 0)
        mpread_int(&v, &frames);
    if (mpread_find(reply, "wal_backfilled", &v) == 0)
        mpread_int(&v, &backfilled);
    int64_t behind;
    if (!__builtin_sub_overflow(frames, backfilled, &behind) && behind >= WAL_BEHIND_NOTE_FRAMES)
        return "WAL 64+ MiB not checkpointed (a reader holds an old snapshot?)";
    if (!rebuilding && !unusable)
        return "";
    static char note[96];
    int pct = rebuilding ? rebuild_percent(reply) : -1;
    snprintf(note, sizeof note, "%s%s", unusable ? "MODEL UNUSABLE, rebuilding" : "rebuilding",
             pct < 0 ? "" : " ");
    if (pct >= 0)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%d%%", pct);
    return note;
}

const char *
cli_status_role(const mpread_t *reply)
{
    static const char *const roles[] = {"active", "standby", "single"};
    const char *s;
    size_t n;
    mpread_t v;
    if (mpread_find(reply, "role", &v) != 0 || mpread_str(&v, &s, &n) != 0)
        return "";
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i]) == n && memcmp(roles[i], s, n) == 0)
            return roles[i];
    return "role?"; /* a server's word we do not print */
}

static void
status_print_table(const client_reply_t *replies, const bool *answered, const status_target_t *t,
                   size_t n_rows)
{
    static const char *const heads[ST__COUNT] = {"checkpoint", "head",      "lag_ev",     "lag_ms",
                                                 "hb_age_ms",  "in_outbox", "unpublished"};
    printf("%-10s %-7s", "daemon", "answers");
    for (int c = 0; c < ST__COUNT; c++)
        printf(" %10s", heads[c]);
    printf("  %s\n", "endpoint");
    for (size_t i = 0; i < n_rows; i++) {
        status_row_t row = {0};
        if (answered[i])
            cli_status_extract(&replies[i].body, &row);
        printf("%-10s %-7s", daemons[t[i].d].name, answered[i] ? "yes" : "NO");
        for (int c = 0; c < ST__COUNT; c++) {
            if (row.has[c] && c == ST_HEARTBEAT_AGE && row.val[c] < 0)
                printf(" %10s", "never");
            else if (row.has[c])
                printf(" %10lld", (long long)row.val[c]);
            else
                printf(" %10s", "-");
        }
        const char *note = answered[i] ? cli_status_note(&replies[i].body) : "";
        const char *role = answered[i] ? cli_status_role(&replies[i].body) : "";
        printf("  %s%s%s%s%s\n", t[i].ep, role[0] ? "  " : "", role,
               note[0] ? "  " : "", note);
    }
}

int
cli_status_run(void *zctx, const cli_opts_t *opts)
{
    static const arg_spec_t specs[] = {
        {.flag = "--daemon", .kind = ARG_STR},
    };
    arg_val_t val;
    const char *pos[1];
    int n_pos;
    char err[256];
    if (cli_args_parse("status", specs, 1, opts->argc - 1, opts->argv + 1, &val, pos, 0, &n_pos,
                       err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    bool selected[N_DAEMONS], answered[STATUS_ROWS_MAX];
    int only = val.set ? daemon_find(val.str) : -1;
    if (val.set && only < 0)
        return cli_report(opts->json, 1, "usage", "status: unknown daemon '%s'", val.str);
    for (size_t i = 0; i < N_DAEMONS; i++)
        selected[i] = only < 0 || (int)i == only;
    static status_target_t t[STATUS_ROWS_MAX];
    size_t n_rows = status_targets(opts, selected, t);
    client_reply_t replies[STATUS_ROWS_MAX];
    memset(replies, 0, sizeof replies);
    int timeout = opts->timeout_set ? opts->timeout_ms : CLI_STATUS_TIMEOUT_MS;
    status_collect(zctx, timeout, t, n_rows, replies, answered);
    if (opts->json)
        status_print_json(replies, answered, t, n_rows);
    else
        status_print_table(replies, answered, t, n_rows);
    fflush(stdout);
    int rc = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (!answered[i])
            rc = 1;
        client_reply_fini(&replies[i]);
    }
    return rc;
}

/* The numbers a --wait follows in the daemon's Status; false when it did
 * not answer (reported). */
typedef struct {
    bool rebuilding;
    int64_t at, head, rebuilds;
} rebuild_state_t;

static bool
rebuild_poll(void *zctx, const cli_opts_t *opts, cli_ep_t ep, rebuild_state_t *st)
{
    client_reply_t reply;
    cli_request_t req = {.ep = ep, .type = "Status"};
    if (cli_request_call(zctx, opts, &req, opts->timeout_ms, &reply) != 0)
        return false;
    mpread_t v;
    *st = (rebuild_state_t){0};
    if (mpread_find(&reply.body, "rebuilding", &v) == 0)
        mpread_bool(&v, &st->rebuilding);
    if (mpread_find(&reply.body, "rebuild_checkpoint", &v) == 0)
        mpread_int(&v, &st->at);
    if (mpread_find(&reply.body, "head", &v) == 0)
        mpread_int(&v, &st->head);
    if (mpread_find(&reply.body, "rebuilds", &v) == 0)
        mpread_int(&v, &st->rebuilds);
    client_reply_fini(&reply);
    return true;
}

/* One progress line: "rebuilding projector: position 12000 of 20000
 * (60%), 5000 events/s, ETA 2 s"; on a terminal rewritten in place, else a
 * line each REBUILD_LINE_MS.  In doubles: a hostile reply's int64s cannot
 * overflow anything. */
static void
rebuild_progress(const char *name, const rebuild_state_t *st, int64_t elapsed_ms, bool tty)
{
    /* a rebuild starts from position 0 */
    double rate = elapsed_ms > 0 ? (double)st->at * 1000.0 / (double)elapsed_ms : 0;
    double left = (double)st->head - (double)st->at;
    char eta[48] = "?";
    if (rate >= 1 && left >= 0 && left / rate < 1e9)
        snprintf(eta, sizeof eta, "%.0f s", left / rate);
    fprintf(stderr, "%srebuilding %s: position %lld of %lld (%d%%), %.0f events/s, ETA %s%s",
            tty ? "\r" : "", name, (long long)st->at, (long long)st->head,
            percent_of(st->at, st->head), rate > 0 && rate < 1e12 ? rate : 0, eta,
            tty ? "\033[K" : "\n");
    fflush(stderr);
}

#define REBUILD_POLL_MS 200
#define REBUILD_LINE_MS 2000

/* Follows the rebuild until the daemon swapped a new model in (its
 * `rebuilds` passed `before`).  0; 1 when the daemon stopped answering; 2
 * when it stopped rebuilding without a swap. */
static int
rebuild_wait(void *zctx, const cli_opts_t *opts, int d, int64_t before)
{
    bool tty = isatty(STDERR_FILENO);
    int64_t start = proc_mono_ms(), last_line = -REBUILD_LINE_MS;
    rebuild_state_t st;
    while (!proc_stopping()) {
        if (!rebuild_poll(zctx, opts, daemons[d].ep, &st))
            return 1;
        if (st.rebuilds > before) {
            if (tty)
                fputs("\r\033[K", stderr);
            fprintf(
                opts->json ? stderr : stdout, /* --json: stdout holds the reply alone */
                "%s rebuilt: the new model is in use (rebuilt through position %lld in %.1f s)\n",
                daemons[d].name, (long long)st.at, (double)(proc_mono_ms() - start) / 1000.0);
            return 0;
        }
        if (!st.rebuilding)
            return cli_report(opts->json, 2, "rebuild_failed",
                              "%s stopped rebuilding without swapping a new model in (see its log)",
                              daemons[d].name);
        int64_t now = proc_mono_ms();
        if (tty || now - last_line >= REBUILD_LINE_MS) {
            rebuild_progress(daemons[d].name, &st, now - start, tty);
            last_line = now;
        }
        zmq_poll(NULL, 0, REBUILD_POLL_MS); /* a sleep that a signal ends */
    }
    return cli_report(opts->json, 1, "interrupted", "interrupted while waiting for the rebuild");
}

int
cli_reload_keys_run(void *zctx, const cli_opts_t *opts)
{
    const char *pos[1];
    int n_pos, worst = 0;
    char err[256];
    if (cli_args_parse("reload-keys", NULL, 0, opts->argc - 1, opts->argv + 1, NULL, pos, 1, &n_pos,
                       err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    int only = n_pos == 1 ? daemon_find(pos[0]) : -1;
    if (n_pos == 1 && only < 0)
        return cli_report(opts->json, 1, "usage", "reload-keys: no daemon called %s", pos[0]);
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (only >= 0 && (int)i != only)
            continue;
        cli_request_t req = {.ep = daemons[i].ep, .type = "ReloadKeys"};
        int rc = cli_request_run(zctx, opts, &req, opts->timeout_ms, NULL);
        worst = rc > worst ? rc : worst;
    }
    return worst;
}

int
cli_rebuild_run(void *zctx, const cli_opts_t *opts)
{
    static const arg_spec_t specs[] = {{.flag = "--wait", .kind = ARG_BOOL}};
    arg_val_t wait;
    const char *pos[1];
    int n_pos;
    char err[256];
    if (cli_args_parse("rebuild", specs, 1, opts->argc - 1, opts->argv + 1, &wait, pos, 1, &n_pos,
                       err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    int d = n_pos == 1 ? daemon_find(pos[0]) : -1;
    if (d < 0 || !daemons[d].rebuilds)
        return cli_report(opts->json, 1, "usage",
                          "rebuild: expected projector, audit or alert (or projectors, audits, "
                          "alerts)");
    rebuild_state_t st = {0};
    bool follow = wait.set || opts->wait;
    if (follow && !rebuild_poll(zctx, opts, daemons[d].ep, &st))
        return 1;
    /* Rebuild answers at once (the model is built behind it): the usual
     * deadline, so that a daemon that is down is reported as such. */
    cli_request_t req = {.ep = daemons[d].ep, .type = "Rebuild"};
    int rc = cli_request_run(zctx, opts, &req, opts->timeout_ms, NULL);
    return rc == 0 && follow ? rebuild_wait(zctx, opts, d, st.rebuilds) : rc;
}
