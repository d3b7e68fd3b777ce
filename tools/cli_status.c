/* cli_status: see cli_status.h. */
#include "cli_status.h"

#include "bus.h"
#include "client.h"
#include "codec.h"
#include "cli_queries.h"
#include "jsonout.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    cli_ep_t ep;
} daemons[] = {
    {"command", CLI_EP_COMMAND}, {"relay", CLI_EP_RELAY}, {"projector", CLI_EP_PROJECTOR},
    {"query", CLI_EP_QUERY},     {"audit", CLI_EP_AUDIT}, {"alert", CLI_EP_ALERT_API},
};
#define N_DAEMONS (sizeof daemons / sizeof daemons[0])

static const char *const col_keys[ST__COUNT][5] = {
    [ST_CHECKPOINT] = {"checkpoint", "position"},
    [ST_HEAD] = {"head", "head_position"},
    [ST_LAG_EVENTS] = {"lag_events", "lag"},
    [ST_LAG_MS] = {"lag_ms"},
    [ST_HEARTBEAT_AGE] = {"heartbeat_age_ms", "last_heartbeat_age_ms", "heartbeat_ms"},
    [ST_BACKLOG] = {"outbox_backlog", "backlog", "outbox_pending", "outbox"},
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
        row->has[ST_LAG_EVENTS] = !__builtin_sub_overflow(row->val[ST_HEAD], row->val[ST_CHECKPOINT],
                                                          &row->val[ST_LAG_EVENTS]);
}

/* Sends Status to every selected daemon at once and collects the replies
 * until all answered or the deadline passed. */
static void
status_collect(void *zctx, const cli_opts_t *opts, int timeout_ms, const bool *selected,
               client_reply_t *replies, bool *answered)
{
    void *socks[N_DAEMONS] = {0};
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", "Status");
    codec_map_close(&w);
    for (size_t i = 0; i < N_DAEMONS; i++) {
        answered[i] = false;
        if (!selected[i] || !(socks[i] = bus_connect(zctx, ZMQ_DEALER, opts->ep[daemons[i].ep])))
            continue;
        if (zmq_send(socks[i], w.buf.data, w.buf.size, ZMQ_DONTWAIT) < 0)
            bus_close(&socks[i]);
    }
    codec_writer_fini(&w);
    int64_t end = proc_mono_ms() + timeout_ms;
    for (;;) {
        zmq_pollitem_t items[N_DAEMONS];
        size_t idx[N_DAEMONS], n = 0;
        for (size_t i = 0; i < N_DAEMONS; i++)
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
    for (size_t i = 0; i < N_DAEMONS; i++) {
        int zero = 0;
        if (socks[i])
            zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof zero);
        bus_close(&socks[i]);
    }
}

static void
status_print_json(const client_reply_t *replies, const bool *answered, const bool *selected)
{
    bool first = true;
    fputc('{', stdout);
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (!selected[i])
            continue;
        printf("%s\"%s\":", first ? "" : ",", daemons[i].name);
        first = false;
        if (answered[i])
            jsonout_write(stdout, &replies[i].body);
        else
            fputs("null", stdout);
    }
    fputs("}\n", stdout);
}

/* WAL frames not yet in the event store's file past which the relay's row
 * says so: 64 MiB of 4 KiB pages, four times what the relay restarts the
 * WAL at, which a busy system passes only for moments. */
#define WAL_BEHIND_NOTE_FRAMES 16384

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
    return unusable ? "MODEL UNUSABLE, rebuilding" : rebuilding ? "rebuilding" : "";
}

static void
status_print_table(const cli_opts_t *opts, const client_reply_t *replies, const bool *answered,
                   const bool *selected)
{
    static const char *const heads[ST__COUNT] = {"checkpoint", "head",      "lag_ev",
                                                 "lag_ms",     "hb_age_ms", "outbox"};
    printf("%-10s %-7s", "daemon", "answers");
    for (int c = 0; c < ST__COUNT; c++)
        printf(" %10s", heads[c]);
    printf("  %s\n", "endpoint");
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (!selected[i])
            continue;
        status_row_t row = {0};
        if (answered[i])
            cli_status_extract(&replies[i].body, &row);
        printf("%-10s %-7s", daemons[i].name, answered[i] ? "yes" : "NO");
        for (int c = 0; c < ST__COUNT; c++) {
            if (row.has[c] && c == ST_HEARTBEAT_AGE && row.val[c] < 0)
                printf(" %10s", "never");
            else if (row.has[c])
                printf(" %10lld", (long long)row.val[c]);
            else
                printf(" %10s", "-");
        }
        const char *note = answered[i] ? cli_status_note(&replies[i].body) : "";
        printf("  %s%s%s\n", opts->ep[daemons[i].ep], note[0] ? "  " : "", note);
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
                       err, sizeof err) != 0) {
        fprintf(stderr, "invctl: %s\n", err);
        return 1;
    }
    bool selected[N_DAEMONS], answered[N_DAEMONS], any = false;
    for (size_t i = 0; i < N_DAEMONS; i++)
        any |= selected[i] = !val.set || strcmp(val.str, daemons[i].name) == 0;
    if (!any) {
        fprintf(stderr, "invctl: status: unknown daemon '%s'\n", val.str);
        return 1;
    }
    client_reply_t replies[N_DAEMONS];
    memset(replies, 0, sizeof replies);
    int timeout = opts->timeout_set ? opts->timeout_ms : CLI_STATUS_TIMEOUT_MS;
    status_collect(zctx, opts, timeout, selected, replies, answered);
    if (opts->json)
        status_print_json(replies, answered, selected);
    else
        status_print_table(opts, replies, answered, selected);
    fflush(stdout);
    int rc = 0;
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (selected[i] && !answered[i])
            rc = 1;
        client_reply_fini(&replies[i]);
    }
    return rc;
}

int
cli_rebuild_run(void *zctx, const cli_opts_t *opts)
{
    static const struct {
        const char *name;
        cli_ep_t ep;
    } targets[] = {
        {"projector", CLI_EP_PROJECTOR}, {"audit", CLI_EP_AUDIT}, {"alerts", CLI_EP_ALERT_API}};
    const char *pos[1];
    int n_pos;
    char err[256];
    if (cli_args_parse("rebuild", NULL, 0, opts->argc - 1, opts->argv + 1, NULL, pos, 1, &n_pos,
                       err, sizeof err) != 0) {
        fprintf(stderr, "invctl: %s\n", err);
        return 1;
    }
    for (size_t i = 0; n_pos == 1 && i < sizeof targets / sizeof targets[0]; i++) {
        if (strcmp(pos[0], targets[i].name) != 0)
            continue;
        cli_request_t req = {.ep = targets[i].ep, .type = "Rebuild"};
        /* A rebuild replays the whole store: give it longer than a query. */
        return cli_request_run(zctx, opts, &req, opts->timeout_set ? opts->timeout_ms : 120000,
                               NULL);
    }
    fprintf(stderr, "invctl: rebuild: expected projector, audit or alerts\n");
    return 1;
}
