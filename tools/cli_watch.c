/* cli_watch: see cli_watch.h. */
#include "cli_watch.h"

#include "bus.h"
#include "cli_color.h"
#include "cli_report.h"
#include "codec.h"
#include "evfeed.h"
#include "jsonout.h"
#include "pretty.h"
#include "proc.h"
#include "stockwatch.h"
#include "topology.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Text of a field for a line: string as is, scalar via pretty, "-" if absent. */
static void
field_text(const mpread_t *map, const char *key, char *buf, size_t cap)
{
    mpread_t v;
    if (mpread_find(map, key, &v) != 0) {
        snprintf(buf, cap, "-");
        return;
    }
    pretty_scalar(&v, key, strlen(key), true, buf, cap);
}

void
cli_watch_format_event(const mpread_t *ev, char *buf, size_t cap)
{
    char pos[32], at[40], stream[128], ver[32], type[64], corr[80], data[1024] = "";
    field_text(ev, "position", pos, sizeof pos);
    field_text(ev, "recorded_at", at, sizeof at);
    field_text(ev, "stream", stream, sizeof stream);
    field_text(ev, "version", ver, sizeof ver);
    field_text(ev, "type", type, sizeof type);
    field_text(ev, "correlation_id", corr, sizeof corr);
    mpread_t d;
    if (mpread_find(ev, "data", &d) == 0)
        pretty_inline(&d, data, sizeof data);
    snprintf(buf, cap, "%6s  %s  %s@%s  %s  corr=%s%s%s", pos, at, stream, ver, type,
             corr[0] ? corr : "-", data[0] ? "  " : "", data);
}

/* The printed label of an alert kind ("LOW STOCK") and its colour; the
 * escaped kind itself, uncoloured, when it is no kind we know. */
static const char *
alert_label(const mpread_t *al, char *buf, size_t cap, const char **color)
{
    static const char *const colors[STOCKWATCH__KINDS] = {
        [STOCKWATCH_LOW_STOCK] = CLI_COLOR_YELLOW,
        [STOCKWATCH_OUT_OF_STOCK] = CLI_COLOR_RED,
        [STOCKWATCH_CLEARED] = CLI_COLOR_GREEN,
    };
    mpread_t v;
    const char *s;
    size_t n;
    char kind[32];
    *color = NULL;
    if (mpread_find(al, "kind", &v) == 0 && mpread_str(&v, &s, &n) == 0 && n < sizeof kind) {
        memcpy(kind, s, n);
        kind[n] = '\0';
        int k = stockwatch_kind_lookup(kind);
        if (k > 0 && k < STOCKWATCH__KINDS) {
            *color = colors[k];
            return stockwatch_kind_label((stockwatch_kind_t)k);
        }
    }
    field_text(al, "kind", buf, cap);
    return buf;
}

void
cli_watch_format_alert(const mpread_t *al, bool color, char *buf, size_t cap)
{
    char at[40], kind[32], pid[80], name[256], stock[32], thr[32], pos[32], corr[80];
    const char *sgr;
    const char *label = alert_label(al, kind, sizeof kind, &sgr);
    field_text(al, "recorded_at", at, sizeof at);
    field_text(al, "product_id", pid, sizeof pid);
    field_text(al, "name", name, sizeof name);
    field_text(al, "stock", stock, sizeof stock);
    field_text(al, "threshold", thr, sizeof thr);
    field_text(al, "position", pos, sizeof pos);
    field_text(al, "correlation_id", corr, sizeof corr);
    bool on = color && sgr;
    int pad = 12 - (int)strlen(label);
    snprintf(buf, cap, "%s  %s%s%s%*s %s (%s)  stock %s, threshold %s  position %s  corr=%s", at,
             on ? sgr : "", label, on ? CLI_COLOR_RESET : "", pad > 0 ? pad : 0, "", pid, name,
             stock, thr, pos, corr);
}

#define WATCH_SILENCE_MS 3000 /* six heartbeats missed */

typedef struct {
    bool alerts;       /* watching the alert PUB, else events */
    bool heartbeats;   /* show heartbeats too */
    int64_t count;     /* stop after this many printed lines; 0 = no limit */
    int64_t for_ms;    /* stop after this long; 0 = no limit */
    bool from_set;     /* --from: catch up from the store first */
    int64_t after;     /* with from_set: the position before the first wanted */
    bool exit_at_head; /* stop at the head the relay reported at start */
    const char *stream, *type, *correlation; /* event filters, or NULL */
} watch_t;

/* True when want is NULL or the map's string at key is exactly want. */
static bool
field_is(const mpread_t *m, const char *key, const char *want)
{
    mpread_t v;
    const char *s;
    size_t n;
    if (!want)
        return true;
    return mpread_find(m, key, &v) == 0 && mpread_str(&v, &s, &n) == 0 && n == strlen(want) &&
           memcmp(s, want, n) == 0;
}

/* Whether an event passes --stream, --type and --correlation. */
static bool
watch_wants(const watch_t *w, const mpread_t *ev)
{
    return field_is(ev, "stream", w->stream) && field_is(ev, "type", w->type) &&
           field_is(ev, "correlation_id", w->correlation);
}

/* Prints one event, alert or heartbeat map as a line (or as JSON). */
static void
watch_print_one(const watch_t *w, const cli_opts_t *opts, const mpread_t *o, bool is_hb)
{
    char line[2048];
    if (opts->json)
        jsonout_write(stdout, o);
    else if (is_hb) {
        pretty_inline(o, line, sizeof line);
        printf("heartbeat  %s", line);
    } else if (w->alerts) {
        cli_watch_format_alert(o, cli_color_stdout(), line, sizeof line);
        fputs(line, stdout);
    } else {
        cli_watch_format_event(o, line, sizeof line);
        fputs(line, stdout);
    }
    fputc('\n', stdout);
}

/* Prints what a received message holds if it is wanted, at most `room`
 * lines (an `events` batch holds many events); returns the lines printed. */
static int64_t
watch_print(const watch_t *w, const cli_opts_t *opts, const bus_msg_t *m, int64_t room)
{
    bool is_hb = bus_frame_is(m, 0, TOPIC_HEARTBEAT);
    bool is_batch = !w->alerts && bus_frame_is(m, 0, TOPIC_EVENTS);
    const char *want = w->alerts ? TOPIC_ALERT : TOPIC_EVENT;
    if (m->count != 2 ||
        (!bus_frame_is(m, 0, want) && !is_batch && !(is_hb && !w->alerts && w->heartbeats)))
        return 0;
    size_t len;
    const void *body = bus_body(m, &len);
    mpread_t r, el;
    uint32_t n = 0;
    const char *why = "not an array";
    if (codec_reader_check(&r, body, len, &why) != 0 || (is_batch && mpread_peek(&r) != MP_ARRAY)) {
        fprintf(stderr, "invctl: undecodable %s message: %s\n", is_batch ? TOPIC_EVENTS : want,
                why);
        return 0;
    }
    int64_t printed = 0;
    if (!is_batch) {
        if (is_hb || w->alerts || watch_wants(w, &r)) {
            watch_print_one(w, opts, &r, is_hb);
            printed = 1;
        }
    } else {
        mpread_array(&r, &n);
    }
    for (uint32_t i = 0; i < n && printed < room && mpread_item(&r, &el) == 0; i++) {
        if (!watch_wants(w, &el))
            continue;
        watch_print_one(w, opts, &el, false);
        printed++;
    }
    fflush(stdout);
    return printed;
}

/* Says on stderr when the relay has sent nothing for WATCH_SILENCE_MS
 * (again every WATCH_SILENCE_MS) and when it is heard again.  True while
 * it is silent.  heard: the last message's time (the start at first). */
static bool
watch_silence(const cli_opts_t *opts, int64_t heard, int64_t *said)
{
    int64_t now = proc_mono_ms(), quiet = now - heard;
    if (quiet < WATCH_SILENCE_MS) {
        if (*said) {
            fprintf(stderr, "invctl: the relay at %s is heard again\n", opts->ep[CLI_EP_EVENTS]);
            *said = 0;
        }
        return false;
    }
    if (now - *said >= WATCH_SILENCE_MS) {
        fprintf(stderr, "invctl: no heartbeat from the relay at %s for %lld s (is it running?)\n",
                opts->ep[CLI_EP_EVENTS], (long long)(quiet / 1000));
        *said = now;
    }
    return true;
}

/* How long the next wait may be: 200 ms, less before `end` (0: none), 0
 * when end has passed. */
static int64_t
watch_wait(int64_t end)
{
    if (!end)
        return 200;
    int64_t wait = end - proc_mono_ms();
    return wait <= 0 ? 0 : wait > 200 ? 200 : wait;
}

/* watch events --from: the store from w->after on through the relay, then
 * live (evfeed), filtered; stops at the start's head with --exit-at-head. */
static int
watch_from(void *zctx, const cli_opts_t *opts, const watch_t *w)
{
    char err[512];
    evfeed_t *f = evfeed_new(zctx, opts->ep[CLI_EP_EVENTS], opts->ep[CLI_EP_RELAY], w->after,
                             opts->timeout_ms, err, sizeof err);
    if (!f)
        return cli_report(opts->json, 1, "connection", "watch: %s", err);
    int64_t head = evfeed_start_head(f), printed = 0;
    int64_t end = w->for_ms > 0 ? proc_mono_ms() + w->for_ms : 0;
    int rc = 0;
    while (!proc_stopping() && (w->count == 0 || printed < w->count)) {
        int64_t wait = watch_wait(end);
        if ((w->exit_at_head && evfeed_position(f) >= head) || wait == 0)
            break;
        mpread_t ev;
        int got = evfeed_next(f, (int)wait, &ev, err, sizeof err);
        if (got < 0) {
            rc = cli_report(opts->json, 1, "connection", "watch: %s", err);
            break;
        }
        if (got == 1 && watch_wants(w, &ev)) {
            watch_print_one(w, opts, &ev, false);
            fflush(stdout);
            printed++;
        }
    }
    evfeed_destroy(&f);
    return rc;
}

static int
watch_loop(void *zctx, const cli_opts_t *opts, const watch_t *w)
{
    cli_ep_t ep = w->alerts ? CLI_EP_ALERTS : CLI_EP_EVENTS;
    void *sub = bus_connect(zctx, ZMQ_SUB, opts->ep[ep]);
    if (!sub)
        return cli_report(opts->json, 1, "connection", "cannot connect to %s: %s", opts->ep[ep],
                          zmq_strerror(errno));
    int64_t printed = 0, end = w->for_ms > 0 ? proc_mono_ms() + w->for_ms : 0;
    int64_t heard = proc_mono_ms(), said = 0;
    bool silent = false;
    while (!proc_stopping() && (w->count == 0 || printed < w->count)) {
        if (!w->alerts) /* the alert PUB sends no heartbeats */
            silent = watch_silence(opts, heard, &said);
        int64_t wait = watch_wait(end);
        if (wait == 0)
            break;
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)wait) <= 0)
            continue; /* time-out or EINTR: the loop condition decides */
        bus_msg_t m;
        while (bus_recv(sub, &m, ZMQ_DONTWAIT) == 0) {
            heard = proc_mono_ms();
            printed += watch_print(w, opts, &m, w->count ? w->count - printed : INT64_MAX);
            bus_msg_close(&m);
            if (w->count && printed >= w->count)
                break;
        }
    }
    bus_close(&sub);
    if (silent && opts->json) /* the stderr lines said it; stdout gets its object */
        return cli_report(true, 1, "timeout",
                          "no heartbeat from the relay at %s when the watch ended",
                          opts->ep[CLI_EP_EVENTS]);
    return silent ? 1 : 0;
}

/* --from POSITION|beginning into w->after: the first position wanted is
 * POSITION (inclusive, as kcat -o), beginning and 0 are position 1. */
static int
watch_parse_from(const cli_opts_t *opts, const arg_val_t *v, watch_t *w)
{
    int64_t n = 0;
    if (!v->set)
        return 0;
    if (strcmp(v->str, "beginning") != 0 && (cli_parse_int(v->str, &n) != 0 || n < 0))
        return cli_report(opts->json, -1, "usage",
                          "watch: --from expects a position >= 0 or 'beginning', got '%s'", v->str);
    w->from_set = true;
    w->after = n > 0 ? n - 1 : 0;
    return 0;
}

/* The combinations that make no sense, with their reason; NULL when fine. */
static const char *
watch_refusal(const watch_t *w)
{
    if (w->count < 0 || w->for_ms < 0)
        return "--count and --for-ms must be >= 0";
    if (w->alerts && (w->heartbeats || w->from_set || w->exit_at_head || w->stream || w->type ||
                      w->correlation))
        return "--heartbeats, --from, --exit-at-head, --stream, --type and --correlation are "
               "for events";
    if (w->exit_at_head && !w->from_set)
        return "--exit-at-head needs --from (the head is the relay's at the start)";
    if (w->heartbeats && w->from_set)
        return "--heartbeats is for a live watch, without --from";
    return NULL;
}

int
cli_watch_run(void *zctx, const cli_opts_t *opts)
{
    static const arg_spec_t specs[] = {
        {.flag = "--count", .kind = ARG_INT},       {.flag = "--for-ms", .kind = ARG_INT},
        {.flag = "--heartbeats", .kind = ARG_BOOL}, {.flag = "--from", .kind = ARG_STR},
        {.flag = "--stream", .kind = ARG_STR},      {.flag = "--type", .kind = ARG_STR},
        {.flag = "--correlation", .kind = ARG_STR}, {.flag = "--exit-at-head", .kind = ARG_BOOL},
    };
    enum { N_SPECS = sizeof specs / sizeof specs[0] };
    arg_val_t vals[N_SPECS];
    const char *pos[1];
    int n_pos;
    char err[256];
    if (cli_args_parse("watch", specs, N_SPECS, opts->argc - 1, opts->argv + 1, vals, pos, 1,
                       &n_pos, err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    watch_t w = {.heartbeats = vals[2].set, .count = vals[0].num, .for_ms = vals[1].num,
                 .stream = vals[4].str, .type = vals[5].str, .correlation = vals[6].str,
                 .exit_at_head = vals[7].set};
    if (n_pos == 1 && strcmp(pos[0], "alerts") == 0)
        w.alerts = true;
    else if (n_pos != 1 || strcmp(pos[0], "events") != 0)
        return cli_report(opts->json, 1, "usage", "watch: expected 'events' or 'alerts'");
    if (watch_parse_from(opts, &vals[3], &w) != 0)
        return 1;
    const char *refusal = watch_refusal(&w);
    if (refusal)
        return cli_report(opts->json, 1, "usage", "watch: %s", refusal);
    return w.from_set ? watch_from(zctx, opts, &w) : watch_loop(zctx, opts, &w);
}
