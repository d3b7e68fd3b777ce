/* cli_watch: see cli_watch.h. */
#include "cli_watch.h"

#include "bus.h"
#include "cli_report.h"
#include "codec.h"
#include "jsonout.h"
#include "pretty.h"
#include "proc.h"
#include "topology.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void
cli_watch_usage(FILE *f)
{
    fprintf(f, "  %-18s %s\n", "watch events", "[--heartbeats] [--count N] [--for-ms N]");
    fprintf(f, "  %-18s %s\n", "",
            "no message for 3 s (heartbeats come twice a second): says so on stderr");
    fprintf(f, "  %-18s %s\n", "",
            "and keeps waiting; exits 1 if the relay is still silent when it ends");
    fprintf(f, "  %-18s %s\n", "watch alerts", "[--count N] [--for-ms N]");
}

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

void
cli_watch_format_alert(const mpread_t *al, char *buf, size_t cap)
{
    char at[40], kind[32], pid[80], name[256], stock[32], thr[32], pos[32], corr[80];
    field_text(al, "recorded_at", at, sizeof at);
    field_text(al, "kind", kind, sizeof kind);
    field_text(al, "product_id", pid, sizeof pid);
    field_text(al, "name", name, sizeof name);
    field_text(al, "stock", stock, sizeof stock);
    field_text(al, "threshold", thr, sizeof thr);
    field_text(al, "position", pos, sizeof pos);
    field_text(al, "correlation_id", corr, sizeof corr);
    snprintf(buf, cap, "%s  %-12s %s (%s)  stock %s, threshold %s  position %s  corr=%s", at, kind,
             pid, name, stock, thr, pos, corr);
}

#define WATCH_SILENCE_MS 3000 /* six heartbeats missed */

typedef struct {
    bool alerts;     /* watching the alert PUB, else events */
    bool heartbeats; /* show heartbeats too */
    int64_t count;   /* stop after this many printed lines; 0 = no limit */
    int64_t for_ms;  /* stop after this long; 0 = no limit */
} watch_t;

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
    } else {
        (w->alerts ? cli_watch_format_alert : cli_watch_format_event)(o, line, sizeof line);
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
        watch_print_one(w, opts, &r, is_hb);
        printed = 1;
    } else {
        mpread_array(&r, &n);
    }
    for (uint32_t i = 0; i < n && printed < room && mpread_item(&r, &el) == 0; i++, printed++)
        watch_print_one(w, opts, &el, false);
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
        int64_t wait = 200;
        if (end) {
            wait = end - proc_mono_ms();
            if (wait <= 0)
                break;
            if (wait > 200)
                wait = 200;
        }
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

int
cli_watch_run(void *zctx, const cli_opts_t *opts)
{
    static const arg_spec_t specs[] = {
        {.flag = "--count", .kind = ARG_INT},
        {.flag = "--for-ms", .kind = ARG_INT},
        {.flag = "--heartbeats", .kind = ARG_BOOL},
    };
    arg_val_t vals[3];
    const char *pos[1];
    int n_pos;
    char err[256];
    if (cli_args_parse("watch", specs, 3, opts->argc - 1, opts->argv + 1, vals, pos, 1, &n_pos, err,
                       sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    watch_t w = {false, vals[2].set, vals[0].num, vals[1].num};
    if (n_pos == 1 && strcmp(pos[0], "alerts") == 0)
        w.alerts = true;
    else if (n_pos != 1 || strcmp(pos[0], "events") != 0)
        return cli_report(opts->json, 1, "usage", "watch: expected 'events' or 'alerts'");
    if (w.count < 0 || w.for_ms < 0 || (w.alerts && w.heartbeats))
        return cli_report(opts->json, 1, "usage",
                          "watch: --count and --for-ms must be >= 0; --heartbeats is for events");
    return watch_loop(zctx, opts, &w);
}
