/* bench: see bench.h. */
#include "bench.h"

#include "bus.h"
#include "codec.h"
#include "eplist.h"
#include "proc.h"
#include "security.h"
#include "zipf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* How long an endpoint left for its silence is passed over (bench_next_ep). */
#define SILENT_SKIP_US 5000000

typedef struct {
    bool used;
    int64_t seq;         /* request number in the run */
    int64_t intended_us; /* when it should have been sent (open loop) or was */
    int64_t sent_us;
    int tries;
    codec_writer_t req; /* encoded request, kept for retries */
} slot_t;

typedef struct {
    void *sock;
    slot_t *slots; /* window entries */
    int *fifo;     /* slot order of sends (queries are answered in order) */
    int fifo_head, fifo_len;
    int inflight;
    int64_t next_intended_us;
} conn_t;

typedef struct {
    int64_t t_us;
    int64_t checkpoint;
} sample_t;

typedef struct {
    const bench_opts_t *o;
    bench_result_t *r;
    void *zctx;
    conn_t *conns;
    zipf_t *zipf;
    command_t cmd;        /* scratch */
    int64_t total_sent;   /* first sends, not retries */
    char run_tag_hex[17]; /* wall-clock microseconds at start, as 12 (or more) hex
                             digits: part of every command id */
    /* visibility */
    void *proj;
    bool proj_waiting;
    int64_t proj_sent_us;
    sample_t *samples;
    size_t n_samples, cap_samples;
    int64_t *ack_t, *ack_pos; /* ack time and position of each accepted command */
    size_t n_acks, cap_acks;
    int timer_fd;          /* open loop: fires at the next intended send time (-1: none) */
    int64_t last_reply_us; /* when the last reply arrived (or the load began) */
    int64_t load_start_us; /* when the load began (ack log times are from here) */
    bool stalled;          /* the load stopped: nothing answered for o->stall_ms */
    /* the command services (o->command_ep a list; one endpoint: a list of one) */
    eplist_t cmd_list;
    int cmd_at;                          /* the list's endpoint in use, or the last one */
    char cmd_ep[EPLIST_EP_MAX + 1];      /* in use: cmd_list's or a leader named outside it */
    int64_t move_at_us;                  /* an election: move to the next one then (0: none) */
    int64_t last_ack_us;                 /* the load's last final answer (or its start) */
    int64_t moved_us;                    /* the last move to another command endpoint (0: none) */
    int64_t silent_until_us[EPLIST_MAX]; /* left for its silence: not chosen again before */
} bench_t;

/* ---- requests ------------------------------------------------------------ */

/* Appends s to out (cap bytes, *n used), truncating as snprintf would. */
static void
put_str(char *out, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 1 < cap)
        out[(*n)++] = *s++;
    out[*n] = '\0';
}

/* Appends v in decimal, zero-padded to at least width digits.  The ids are
 * written by hand: snprintf and sscanf were a tenth of invbench's CPU,
 * which the daemons share. */
static void
put_dec(char *out, size_t cap, size_t *n, unsigned long long v, int width)
{
    char digits[24];
    int d = 0;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (d < width && d < (int)sizeof digits)
        digits[d++] = '0';
    while (d > 0 && *n + 1 < cap)
        out[(*n)++] = digits[--d];
    out[*n] = '\0';
}

static void
id_of(char *out, size_t cap, const char *prefix, const char *kind, size_t k)
{
    size_t n = 0;
    put_str(out, cap, &n, prefix);
    put_str(out, cap, &n, "-");
    put_str(out, cap, &n, kind);
    put_dec(out, cap, &n, k, 1);
}

static int
pick_kind(bench_t *b)
{
    int total = 0;
    for (int i = 0; i < 5; i++)
        total += b->o->mix[i];
    int x = (int)(zipf_uniform(b->zipf) * total);
    for (int i = 0; i < 5; i++) {
        if (x < b->o->mix[i])
            return i;
        x -= b->o->mix[i];
    }
    return 0;
}

static void
build_command(bench_t *b, int conn, int slot, int64_t seq, codec_writer_t *w)
{
    command_t *c = &b->cmd;
    memset(c, 0, sizeof *c);
    /* prefix.TAG.seq.conn.slot: TAG is the run's start time, so a later run
     * with the same prefix never repeats an earlier run's ids (they would be
     * answered as duplicates); seq counts every command of the run, so ids
     * sort by time across all connections, as UUIDv7s from many clients do
     * (one insertion point in the idempotency index, not one per
     * connection); --random-ids 1 puts a random TAG on every command
     * instead. */
    char tag[17];
    if (b->o->random_ids)
        proc_random_hex(tag, 8);
    char *id = c->command_id;
    size_t n = 0, cap = sizeof c->command_id;
    put_str(id, cap, &n, b->o->prefix);
    put_str(id, cap, &n, ".");
    put_str(id, cap, &n, b->o->random_ids ? tag : b->run_tag_hex);
    put_str(id, cap, &n, ".");
    put_dec(id, cap, &n, (unsigned long long)seq, 12);
    put_str(id, cap, &n, ".");
    put_dec(id, cap, &n, (unsigned long long)conn, 1);
    put_str(id, cap, &n, ".");
    put_dec(id, cap, &n, (unsigned long long)slot, 1);
    char pid[ID_MAX + 1];
    id_of(pid, sizeof pid, b->o->prefix, "p", zipf_next(b->zipf));
    fields_set_str(&c->data, F_PRODUCT_ID, pid);
    int kind = pick_kind(b);
    static const command_type_t types[5] = {CMD_SELL_PRODUCT, CMD_RECORD_PRODUCT_VIEW,
                                            CMD_UPDATE_STOCK, CMD_CHANGE_PRICE, CMD_SUBMIT_REVIEW};
    c->type = types[kind];
    if (kind == 0) {
        fields_set_int(&c->data, F_QUANTITY, 1);
        fields_set_str(&c->data, F_ORDER_ID, c->command_id);
    } else if (kind == 2) {
        fields_set_int(&c->data, F_NEW_STOCK, b->o->restock);
    } else if (kind == 3) {
        fields_set_int(&c->data, F_PRICE_CENTS, 100 + (int64_t)(zipf_uniform(b->zipf) * 100000));
    } else if (kind == 4) {
        fields_set_str(&c->data, F_REVIEW_ID, c->command_id);
        fields_set_str(&c->data, F_CUSTOMER_ID, "bench");
        fields_set_int(&c->data, F_RATING, 1 + (int64_t)(zipf_uniform(b->zipf) * 5));
        fields_set_str(&c->data, F_COMMENT, "");
    }
    codec_writer_reset(w);
    codec_pack_command(w, c);
}

static void
build_query(bench_t *b, codec_writer_t *w)
{
    char pid[ID_MAX + 1];
    id_of(pid, sizeof pid, b->o->prefix, "p", zipf_next(b->zipf));
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_str(w, "type", "GetProductDetail");
    codec_map_str(w, "product_id", pid);
    codec_map_close(w);
}

/* ---- sending and receiving ----------------------------------------------- */

static int
free_slot(const conn_t *c, int window)
{
    for (int i = 0; i < window; i++)
        if (!c->slots[i].used)
            return i;
    return -1;
}

static void
send_slot(bench_t *b, conn_t *c, slot_t *s)
{
    s->sent_us = proc_mono_us();
    s->tries++;
    if (zmq_send(c->sock, s->req.buf.data, s->req.buf.size, ZMQ_DONTWAIT) < 0)
        b->r->errors++;
}

static void
send_new(bench_t *b, int ci, int64_t intended)
{
    conn_t *c = &b->conns[ci];
    int si = free_slot(c, b->o->window);
    slot_t *s = &c->slots[si];
    s->used = true;
    s->seq = b->total_sent; /* unique in the run: see build_command */
    s->intended_us = intended;
    s->tries = 0;
    if (b->o->mode == BENCH_COMMANDS)
        build_command(b, ci, si, s->seq, &s->req);
    else
        build_query(b, &s->req);
    c->fifo[(c->fifo_head + c->fifo_len++) % b->o->window] = si;
    c->inflight++;
    b->total_sent++;
    b->r->sent++;
    send_slot(b, c, s);
}

static void
remember_ack(bench_t *b, int64_t t, int64_t position)
{
    if (b->n_acks == b->cap_acks) {
        size_t cap = b->cap_acks ? b->cap_acks * 2 : 65536;
        int64_t *t2 = realloc(b->ack_t, cap * sizeof *t2);
        int64_t *p2 = t2 ? realloc(b->ack_pos, cap * sizeof *p2) : NULL;
        if (!t2 || !p2) {
            b->ack_t = t2 ? t2 : b->ack_t;
            return;
        }
        b->ack_t = t2;
        b->ack_pos = p2;
        b->cap_acks = cap;
    }
    b->ack_t[b->n_acks] = t;
    b->ack_pos[b->n_acks++] = position;
    if (position > b->r->max_position)
        b->r->max_position = position;
}

static void
finish_slot(bench_t *b, conn_t *c, int si)
{
    c->slots[si].used = false;
    c->inflight--;
    if (c->fifo_len > 0 && c->fifo[c->fifo_head] == si) {
        c->fifo_head = (c->fifo_head + 1) % b->o->window;
        c->fifo_len--;
    } else { /* out of order: remove it from the middle */
        for (int k = 0; k < c->fifo_len; k++) {
            int idx = (c->fifo_head + k) % b->o->window;
            if (c->fifo[idx] == si) {
                for (int j = k; j + 1 < c->fifo_len; j++)
                    c->fifo[(c->fifo_head + j) % b->o->window] =
                        c->fifo[(c->fifo_head + j + 1) % b->o->window];
                c->fifo_len--;
                break;
            }
        }
    }
}

/* ---- following the leader ------------------------------------------------ */

static int
inflight_total_of(const bench_t *b)
{
    int n = 0;
    for (int i = 0; i < b->o->connections; i++)
        n += b->conns[i].inflight;
    return n;
}

/* Moves every connection to ep (a leader named by not_leader, or the next
 * endpoint of the list) and sends what was outstanding again, with the same
 * command ids: the old sockets go, with any late reply on them. */
static void
bench_move(bench_t *b, const char *ep)
{
    int at = eplist_find(&b->cmd_list, ep);
    if (at < 0 && security_expect_like(ep, b->cmd_ep) != 0) {
        fprintf(stderr, "invbench: no CURVE key for %s: staying at %s\n", ep, b->cmd_ep);
        return;
    }
    if (at >= 0)
        b->cmd_at = at;
    snprintf(b->cmd_ep, sizeof b->cmd_ep, "%s", ep);
    b->move_at_us = 0;
    b->r->failovers++;
    b->moved_us = proc_mono_us(); /* the new one gets failover_ms to answer (the stall
                                     check still counts from the last reply) */
    for (int i = 0; i < b->o->connections; i++) {
        conn_t *c = &b->conns[i];
        bus_close(&c->sock);
        c->sock = bus_connect(b->zctx, ZMQ_DEALER, b->cmd_ep);
        for (int k = 0; c->sock && k < b->o->window; k++) {
            if (!c->slots[k].used)
                continue;
            b->r->retries++;
            send_slot(b, c, &c->slots[k]);
        }
    }
}

/* The next endpoint of the list after the one in use, passing over those
 * left for their silence in the last SILENT_SKIP_US (a dead host's: an
 * election is answered "no leader" by the living ones, and going round to
 * the dead one again cost a whole failover_ms); the next one when every
 * other one is skipped. */
static const char *
bench_next_ep(const bench_t *b)
{
    int64_t t = proc_mono_us();
    for (int k = 1; k < b->cmd_list.n; k++) {
        int i = (b->cmd_at + k) % b->cmd_list.n;
        if (t >= b->silent_until_us[i])
            return b->cmd_list.ep[i];
    }
    return b->cmd_list.ep[(b->cmd_at + 1) % b->cmd_list.n];
}

/* A not_leader reply: to the leader it names (a valid endpoint: the decoder
 * checked it), or, naming none (an election), to the next endpoint 100 ms
 * from now. */
static void
bench_not_leader(bench_t *b, const char *leader)
{
    if (leader[0] && strcmp(leader, b->cmd_ep) != 0)
        bench_move(b, leader);
    else if (!b->move_at_us)
        b->move_at_us = proc_mono_us() + 100000;
}

/* A pending election's move, or silence for failover_ms with requests out:
 * the next endpoint of the list. */
static void
bench_failover_step(bench_t *b, int64_t t)
{
    if (b->o->mode != BENCH_COMMANDS)
        return;
    if (b->move_at_us && t >= b->move_at_us)
        bench_move(b, bench_next_ep(b));
    else if (b->cmd_list.n > 1 && b->o->failover_ms > 0 && inflight_total_of(b) > 0 &&
             t - (b->moved_us > b->last_reply_us ? b->moved_us : b->last_reply_us) >
                 b->o->failover_ms * 1000) {
        if (eplist_find(&b->cmd_list, b->cmd_ep) == b->cmd_at)
            b->silent_until_us[b->cmd_at] = t + SILENT_SKIP_US;
        bench_move(b, bench_next_ep(b));
    }
}

/* Reads ".seq.conn.slot" at the end of a command id.  0 or -1. */
static int
parse_id_tail(const char *p, long long *seq, int *conn, int *slot)
{
    char *end;
    if (*p != '.')
        return -1;
    *seq = strtoll(p + 1, &end, 10);
    if (end == p + 1 || *end != '.')
        return -1;
    p = end;
    long v = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != '.' || v < INT_MIN || v > INT_MAX)
        return -1;
    *conn = (int)v;
    p = end;
    v = strtol(p + 1, &end, 10);
    if (end == p + 1 || v < INT_MIN || v > INT_MAX)
        return -1;
    *slot = (int)v;
    return 0;
}

static void
on_command_reply(bench_t *b, conn_t *c, const void *body, size_t len)
{
    command_reply_t r;
    int conn, slot;
    long long seq;
    const char *dot = NULL;
    if (codec_decode_command_reply(body, len, &r) != 0) {
        b->r->errors++; /* a not_leader with a leader that is not an endpoint included */
        return;
    }
    if (!r.accepted && r.error == REJ_NOT_LEADER) {
        bench_not_leader(b, r.leader);
        return; /* the request stays outstanding: sent again where the leader is */
    }
    size_t plen = strlen(b->o->prefix);
    if (strncmp(r.command_id, b->o->prefix, plen) == 0)
        dot = strchr(r.command_id + plen + 1, '.'); /* after ".TAG" */
    if (!dot || parse_id_tail(dot, &seq, &conn, &slot) != 0 || slot < 0 || slot >= b->o->window ||
        !c->slots[slot].used || c->slots[slot].seq != seq)
        return; /* a late reply to a request already answered */
    int64_t t = proc_mono_us();
    int64_t latency = t - c->slots[slot].intended_us;
    histogram_record(&b->r->latency, latency);
    if (t - b->last_ack_us > b->r->max_ack_gap_us)
        b->r->max_ack_gap_us = t - b->last_ack_us;
    b->last_ack_us = t;
    if (r.accepted) {
        b->r->acked++;
        remember_ack(b, t, r.position);
    } else {
        b->r->rejected++;
        b->r->rejected_by_code[r.error & 15]++;
    }
    if (b->o->ack_log)
        fprintf(b->o->ack_log, "%s %s %lld %lld %lld\n", r.command_id,
                r.accepted ? "accepted" : reject_code_name(r.error),
                (long long)(r.accepted ? r.position : 0),
                (long long)(c->slots[slot].intended_us - b->load_start_us), (long long)latency);
    finish_slot(b, c, slot);
}

/* Points v at the value of key in a reply map.  0, or -1 when the reply is
 * not one msgpack value with string keys or has no such key. */
static int
reply_find(const void *body, size_t len, const char *key, mpread_t *v)
{
    mpread_t r;
    const char *why;
    if (codec_reader_check(&r, body, len, &why) != 0)
        return -1;
    return mpread_find(&r, key, v);
}

static void
on_query_reply(bench_t *b, conn_t *c, const void *body, size_t len)
{
    if (c->fifo_len == 0)
        return;
    int si = c->fifo[c->fifo_head];
    bool ok = false;
    mpread_t v;
    if (reply_find(body, len, "ok", &v) == 0)
        mpread_bool(&v, &ok);
    histogram_record(&b->r->latency, proc_mono_us() - c->slots[si].intended_us);
    if (ok)
        b->r->acked++;
    else
        b->r->rejected++;
    finish_slot(b, c, si);
}

static void
drain_conn(bench_t *b, conn_t *c)
{
    bus_msg_t m;
    while (bus_recv(c->sock, &m, ZMQ_DONTWAIT) == 0) {
        size_t len;
        const void *body = bus_body(&m, &len);
        b->last_reply_us = proc_mono_us();
        if (b->o->mode == BENCH_COMMANDS)
            on_command_reply(b, c, body, len);
        else
            on_query_reply(b, c, body, len);
        bus_msg_close(&m);
    }
}

static void
retry_stale(bench_t *b, conn_t *c, int64_t t)
{
    if (b->o->retry_ms <= 0)
        return;
    for (int i = 0; i < b->o->window; i++) {
        slot_t *s = &c->slots[i];
        if (s->used && t - s->sent_us > b->o->retry_ms * 1000) {
            b->r->retries++;
            send_slot(b, c, s);
        }
    }
}

/* ---- visibility ---------------------------------------------------------- */

static void
proj_poll(bench_t *b, int64_t t)
{
    if (!b->proj)
        return;
    bus_msg_t m;
    while (bus_recv(b->proj, &m, ZMQ_DONTWAIT) == 0) {
        size_t len;
        const void *body = bus_body(&m, &len);
        mpread_t v;
        int64_t cp;
        if (reply_find(body, len, "checkpoint", &v) == 0 && mpread_int(&v, &cp) == 0) {
            if (b->n_samples == b->cap_samples) {
                size_t cap = b->cap_samples ? b->cap_samples * 2 : 4096;
                sample_t *s2 = realloc(b->samples, cap * sizeof *s2);
                if (s2) {
                    b->samples = s2;
                    b->cap_samples = cap;
                }
            }
            if (b->n_samples < b->cap_samples)
                b->samples[b->n_samples++] = (sample_t){proc_mono_us(), cp};
        }
        bus_msg_close(&m);
        b->proj_waiting = false;
    }
    if (b->proj_waiting && t - b->proj_sent_us > 1000000)
        b->proj_waiting = false; /* lost: ask again */
    if (!b->proj_waiting && t - b->proj_sent_us >= 1000) {
        static const char status[] = "\x81\xa4type\xa6Status";
        zmq_send(b->proj, status, sizeof status - 1, ZMQ_DONTWAIT);
        b->proj_waiting = true;
        b->proj_sent_us = t;
    }
}

/* For each ack: the first sample at or after it whose checkpoint covers it. */
static void
compute_visibility(bench_t *b)
{
    histogram_init(&b->r->visibility);
    for (size_t i = 0; i < b->n_acks; i++) {
        size_t lo = 0, hi = b->n_samples;
        while (lo < hi) { /* checkpoints only grow: first sample with cp >= pos */
            size_t mid = (lo + hi) / 2;
            if (b->samples[mid].checkpoint < b->ack_pos[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == b->n_samples)
            continue;
        int64_t seen = b->samples[lo].t_us;
        histogram_record(&b->r->visibility, seen > b->ack_t[i] ? seen - b->ack_t[i] : 0);
        b->r->visibility_samples++;
    }
}

/* ---- phases -------------------------------------------------------------- */

static int
inflight_total(const bench_t *b)
{
    return inflight_total_of(b);
}

/* Sets b->stalled when requests wait and nothing was answered for
 * o->stall_ms (a daemon that is down, a wrong endpoint): the run then
 * fails instead of waiting forever.  Says so once. */
static bool
load_stalled(bench_t *b, int64_t t)
{
    if (!b->stalled && inflight_total(b) > 0 && t - b->last_reply_us > b->o->stall_ms * 1000) {
        fprintf(stderr, "invbench: no reply for %lld ms with %d requests in flight; stopping\n",
                (long long)b->o->stall_ms, inflight_total(b));
        b->stalled = true;
    }
    return b->stalled;
}

static bool
load_done(bench_t *b, int64_t start, int64_t t)
{
    if (b->o->count > 0 && b->total_sent >= b->o->count)
        return true;
    return b->o->duration_ms > 0 && t - start >= b->o->duration_ms * 1000;
}

static void
poll_all(bench_t *b, long timeout_ms)
{
    zmq_pollitem_t items[66];
    int n = 0;
    for (int i = 0; i < b->o->connections && n < 64; i++)
        items[n++] = (zmq_pollitem_t){b->conns[i].sock, 0, ZMQ_POLLIN, 0};
    if (b->proj)
        items[n++] = (zmq_pollitem_t){b->proj, 0, ZMQ_POLLIN, 0};
    int timer = b->timer_fd >= 0 ? n : -1;
    if (timer >= 0)
        items[n++] = (zmq_pollitem_t){NULL, b->timer_fd, ZMQ_POLLIN, 0};
    uint64_t expirations;
    if (zmq_poll(items, n, timeout_ms) > 0 && timer >= 0 && (items[timer].revents & ZMQ_POLLIN) &&
        read(b->timer_fd, &expirations, sizeof expirations) != sizeof expirations)
        fprintf(stderr, "invbench: cannot clear the send timer: %s\n", strerror(errno));
    for (int i = 0; i < b->o->connections; i++)
        drain_conn(b, &b->conns[i]);
}

/* Arms the timer for the earliest intended send time of any connection, so
 * an open-loop send leaves at its microsecond, not at the next 1 ms poll
 * tick (that slack would be counted as latency). */
static void
arm_next_send(bench_t *b)
{
    if (b->timer_fd < 0)
        return;
    int64_t next = INT64_MAX;
    for (int i = 0; i < b->o->connections; i++)
        if (b->conns[i].inflight < b->o->window && b->conns[i].next_intended_us < next)
            next = b->conns[i].next_intended_us;
    if (next == INT64_MAX)
        return;
    struct itimerspec its = {{0, 0}, {next / 1000000, (next % 1000000) * 1000}};
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
run_load(bench_t *b)
{
    int64_t start = proc_mono_us();
    b->last_reply_us = start;
    b->load_start_us = start;
    b->last_ack_us = start;
    double interval = b->o->rate > 0 ? 1e6 * b->o->connections / b->o->rate : 0;
    if (interval > 0)
        b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    for (int i = 0; i < b->o->connections; i++)
        b->conns[i].next_intended_us = start + (int64_t)(interval * i / b->o->connections);
    for (;;) {
        int64_t t = proc_mono_us();
        bool done = load_done(b, start, t) || proc_stopping() || load_stalled(b, t);
        if (done)
            break;
        for (int i = 0; i < b->o->connections; i++) {
            conn_t *c = &b->conns[i];
            while (c->inflight < b->o->window && !load_done(b, start, t)) {
                if (interval > 0 && c->next_intended_us > t)
                    break;
                send_new(b, i, interval > 0 ? c->next_intended_us : t);
                c->next_intended_us += (int64_t)interval;
            }
            retry_stale(b, c, t);
        }
        bench_failover_step(b, t);
        proj_poll(b, t);
        arm_next_send(b);
        poll_all(b, interval > 0 || b->proj ? 1 : 100);
    }
    b->r->elapsed_us = proc_mono_us() - start;
    if (b->timer_fd >= 0) {
        close(b->timer_fd);
        b->timer_fd = -1;
    }
    int64_t deadline = proc_mono_us() + 10000000;
    for (;;) { /* answers still in flight */
        int64_t t = proc_mono_us();
        if (inflight_total(b) == 0 || t > deadline || proc_stopping() || load_stalled(b, t))
            break;
        for (int i = 0; i < b->o->connections; i++)
            retry_stale(b, &b->conns[i], t);
        bench_failover_step(b, t);
        proj_poll(b, t);
        poll_all(b, 1);
    }
    for (int i = 0; i < b->o->connections; i++)
        b->r->timeouts += b->conns[i].inflight;
    /* commands never answered: the time since the last answer is a gap too
     * (a failover that never came ended the load without another answer) */
    int64_t t = proc_mono_us();
    if (inflight_total(b) > 0 && t - b->last_ack_us > b->r->max_ack_gap_us)
        b->r->max_ack_gap_us = t - b->last_ack_us;
}

/* One Status field of the daemon at ep, or -1; with standby_too false,
 * -1 also from a standby (its Status says nothing of what is published). */
static int64_t
status_int_of(void *zctx, const char *ep, const char *key, bool standby_too)
{
    static const char status[] = "\x81\xa4type\xa6Status";
    void *s = bus_connect(zctx, ZMQ_DEALER, ep);
    void *reply = NULL;
    size_t len = 0;
    int64_t v = -1;
    if (s && bus_request(s, status, sizeof status - 1, 1000, &reply, &len) == 0) {
        mpread_t o;
        const char *role = "";
        size_t rlen = 0;
        bool standby = reply_find(reply, len, "role", &o) == 0 &&
                       mpread_str(&o, &role, &rlen) == 0 && rlen == 7 &&
                       memcmp(role, "standby", 7) == 0;
        if ((standby_too || !standby) && reply_find(reply, len, key, &o) == 0)
            mpread_int(&o, &v);
    }
    free(reply);
    bus_close(&s);
    return v;
}

/* One Status field of a daemon, or -1.  eps may be a list (a replicated
 * store's relays): the first that is not a standby answers. */
static int64_t
status_int(void *zctx, const char *eps, const char *key)
{
    eplist_t l;
    char why[256];
    if (eplist_parse(&l, eps, why, sizeof why) != 0)
        return -1;
    if (l.n == 1)
        return status_int_of(zctx, l.ep[0], key, true);
    for (int i = 0; i < l.n; i++) {
        int64_t v = status_int_of(zctx, l.ep[i], key, false);
        if (v >= 0)
            return v;
    }
    return -1;
}

/* Polls a daemon's Status until its checkpoint reaches position. */
static bool
wait_caught_up(void *zctx, const char *ep, int64_t position, int64_t deadline_us)
{
    if (!ep || !*ep)
        return true;
    while (proc_mono_us() < deadline_us && !proc_stopping()) {
        if (status_int(zctx, ep, "checkpoint") >= position)
            return true;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static int
run_wait(bench_t *b)
{
    int64_t start = proc_mono_us(), deadline = start + b->o->duration_ms * 1000;
    while (status_int(b->zctx, b->o->relay_ep, "outbox_backlog") != 0 &&
           proc_mono_us() < deadline) {
        struct timespec ts = {0, 10000000}; /* the relay is still publishing its backlog */
        nanosleep(&ts, NULL);
    }
    int64_t head = status_int(b->zctx, b->o->relay_ep, "head");
    if (head < 0) {
        fprintf(stderr, "invbench: the relay at %s did not answer\n", b->o->relay_ep);
        return -1;
    }
    bool ok = wait_caught_up(b->zctx, b->o->projector_ep, head, deadline) &&
              wait_caught_up(b->zctx, b->o->audit_ep, head, deadline) &&
              wait_caught_up(b->zctx, b->o->alert_ep, head, deadline);
    b->r->max_position = head;
    b->r->catchup_ms = ok ? (proc_mono_us() - start) / 1000 : -1;
    b->r->elapsed_us = proc_mono_us() - start;
    return 0;
}

/* One setup command (w) on the first connection, following not_leader and,
 * with a list, moving on after a second of silence, for 10 s at most.  0
 * with its reply in r, or -1. */
static int
setup_request(bench_t *b, codec_writer_t *w, command_reply_t *r)
{
    int64_t end = proc_mono_us() + 10000000;
    while (proc_mono_us() < end && !proc_stopping()) {
        void *reply = NULL;
        size_t len;
        int wait_ms = b->cmd_list.n > 1 ? 1000 : 10000;
        int rc = bus_request(b->conns[0].sock, w->buf.data, w->buf.size, wait_ms, &reply, &len);
        int bad = rc == 0 ? codec_decode_command_reply(reply, len, r) : 0;
        free(reply);
        if (rc == 0 && bad)
            return -1;
        if (rc == 0 && (r->accepted || r->error != REJ_NOT_LEADER))
            return 0;
        if (rc == 0 && r->leader[0] && strcmp(r->leader, b->cmd_ep) != 0) {
            bench_move(b, r->leader);
            continue;
        }
        if (rc == 0) { /* an election */
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
        if (rc == 0 || b->cmd_list.n > 1)
            bench_move(b, bench_next_ep(b)); /* a new socket: a late reply cannot be taken */
        else
            return -1;
    }
    return -1;
}

static int
run_setup(bench_t *b)
{
    codec_writer_t w;
    codec_writer_init(&w);
    int rc = 0;
    for (int k = -1; k < b->o->products && rc == 0; k++) {
        command_t *cmd = &b->cmd;
        memset(cmd, 0, sizeof *cmd);
        char sid[ID_MAX + 1];
        id_of(sid, sizeof sid, b->o->prefix, "s", 0);
        fields_set_str(&cmd->data, F_SUPPLIER_ID, sid);
        if (k < 0) {
            cmd->type = CMD_REGISTER_SUPPLIER;
            fields_set_str(&cmd->data, F_NAME, "Bench Supplies");
            snprintf(cmd->command_id, sizeof cmd->command_id, "%s-setup-s", b->o->prefix);
        } else {
            cmd->type = CMD_CREATE_PRODUCT;
            char pid[ID_MAX + 1];
            id_of(pid, sizeof pid, b->o->prefix, "p", (size_t)k);
            fields_set_str(&cmd->data, F_PRODUCT_ID, pid);
            fields_set_str(&cmd->data, F_SKU, pid);
            fields_set_str(&cmd->data, F_NAME, "Bench product");
            fields_set_str(&cmd->data, F_DESCRIPTION, "made by invbench");
            fields_set_int(&cmd->data, F_PRICE_CENTS, 1999);
            fields_set_int(&cmd->data, F_COST_PRICE_CENTS, 999);
            fields_set_int(&cmd->data, F_STOCK, b->o->initial_stock);
            fields_set_int(&cmd->data, F_LOW_STOCK_THRESHOLD, 10);
            snprintf(cmd->command_id, sizeof cmd->command_id, "%s-setup-%d", b->o->prefix, k);
        }
        codec_writer_reset(&w);
        codec_pack_command(&w, cmd);
        command_reply_t r;
        if (setup_request(b, &w, &r) != 0 || (!r.accepted && r.error != REJ_ALREADY_EXISTS)) {
            fprintf(stderr, "invbench: setup command %s failed\n", cmd->command_id);
            rc = -1;
        }
    }
    codec_writer_fini(&w);
    return rc;
}

static int
bench_open(bench_t *b)
{
    const bench_opts_t *o = b->o;
    b->zctx = zmq_ctx_new();
    b->zipf = zipf_new((size_t)o->products, o->zipf_s, o->seed);
    b->conns = calloc((size_t)o->connections, sizeof *b->conns);
    if (!b->zipf || !b->conns)
        return -1;
    const char *ep = o->mode == BENCH_COMMANDS ? o->command_ep : o->query_ep;
    char why[200];
    if (o->mode == BENCH_COMMANDS) {
        if (eplist_parse(&b->cmd_list, o->command_ep, why, sizeof why) != 0) {
            fprintf(stderr, "invbench: --command-ep: %s\n", why);
            return -1;
        }
        snprintf(b->cmd_ep, sizeof b->cmd_ep, "%s", b->cmd_list.ep[0]);
        ep = b->cmd_ep;
    }
    for (int i = 0; i < o->connections; i++) {
        conn_t *c = &b->conns[i];
        c->sock = bus_connect(b->zctx, ZMQ_DEALER, ep);
        c->slots = calloc((size_t)o->window, sizeof *c->slots);
        c->fifo = calloc((size_t)o->window, sizeof *c->fifo);
        if (!c->sock || !c->slots || !c->fifo)
            return -1;
        for (int k = 0; k < o->window; k++)
            codec_writer_init(&c->slots[k].req);
    }
    if (o->projector_ep && *o->projector_ep)
        b->proj = bus_connect(b->zctx, ZMQ_DEALER, o->projector_ep);
    return 0;
}

static void
bench_close(bench_t *b)
{
    for (int i = 0; b->conns && i < b->o->connections; i++) {
        conn_t *c = &b->conns[i];
        for (int k = 0; c->slots && k < b->o->window; k++)
            codec_writer_fini(&c->slots[k].req);
        free(c->slots);
        free(c->fifo);
        bus_close(&c->sock);
    }
    free(b->conns);
    bus_close(&b->proj);
    zipf_destroy(&b->zipf);
    free(b->samples);
    free(b->ack_t);
    free(b->ack_pos);
    if (b->zctx)
        zmq_ctx_term(b->zctx);
}

int
bench_run(const bench_opts_t *o, bench_result_t *r)
{
    memset(r, 0, sizeof *r);
    histogram_init(&r->latency);
    histogram_init(&r->visibility);
    bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->o = o;
    b->r = r;
    b->timer_fd = -1;
    snprintf(b->run_tag_hex, sizeof b->run_tag_hex, "%012llx", (unsigned long long)proc_now_us());
    int rc = bench_open(b);
    if (rc == 0 && o->mode == BENCH_WAIT) {
        rc = run_wait(b);
        bench_close(b);
        free(b);
        return rc;
    }
    if (rc == 0 && o->setup && o->mode == BENCH_COMMANDS)
        rc = run_setup(b);
    if (rc == 0) {
        run_load(b);
        if (b->stalled)
            rc = -1;
    }
    if (rc == 0) {
        int64_t end = proc_mono_us(), deadline = end + 10000000;
        bool ok = wait_caught_up(b->zctx, o->projector_ep, r->max_position, deadline) &&
                  wait_caught_up(b->zctx, o->audit_ep, r->max_position, deadline) &&
                  wait_caught_up(b->zctx, o->alert_ep, r->max_position, deadline);
        r->catchup_ms = ok ? (proc_mono_us() - end) / 1000 : -1;
        for (int i = 0; i < 50 && b->proj; i++) { /* final samples for the last acks */
            proj_poll(b, proc_mono_us());
            poll_all(b, 2);
        }
        compute_visibility(b);
    }
    bench_close(b);
    free(b);
    return rc;
}
