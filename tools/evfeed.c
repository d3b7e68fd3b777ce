/* evfeed: see evfeed.h. */
#include "evfeed.h"

#include "bus.h"
#include "client.h"
#include "codec.h"
#include "proc.h"
#include "subscriber.h"
#include "topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define EVFEED_PAGE 1000          /* events per ReadEvents page (the relay's most) */
#define EVFEED_CATCHUP_GAP_MS 200 /* heartbeats start at most five catch-ups a second */

/* Events still to hand out from one page or one message. */
typedef struct {
    mpread_t cur; /* the array (or, single, the event itself) */
    uint32_t left;
    bool single; /* an `event` message: cur is the map */
} batch_t;

struct evfeed {
    void *zctx;
    void *sub;
    const char *relay_ep;
    int timeout_ms;
    int64_t last;       /* last position handed out */
    int64_t start_head; /* the head of the first page */
    bool catching_up;   /* read the relay before the SUB */
    int64_t catchup_ms; /* when the relay was last read (proc_mono_ms) */
    client_reply_t page;
    batch_t from_page;
    bus_msg_t msg;
    bool has_msg;
    batch_t from_msg;
};

/* Reads the page after f->last into f->page.  0, or -1 with err. */
static int
evfeed_fetch(evfeed_t *f, int64_t *head, char *err, size_t cap)
{
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", "ReadEvents");
    codec_map_int(&w, "after", f->last);
    codec_map_int(&w, "limit", EVFEED_PAGE);
    codec_map_close(&w);
    client_reply_fini(&f->page);
    f->from_page.left = 0;
    client_rc_t rc = client_call_say(f->zctx, "outbox-relay", f->relay_ep, w.buf.data, w.buf.size,
                                     f->timeout_ms, &f->page, err, cap);
    codec_writer_fini(&w);
    f->catchup_ms = proc_mono_ms();
    if (rc != CLIENT_OK)
        return -1;
    int64_t damaged;
    const char *why;
    if (subscriber_read_page(f->page.data, f->page.len, f->last, head, &f->from_page.cur,
                             &f->from_page.left, &damaged, &why) != 0) {
        snprintf(err, cap, "outbox-relay at %s: unexpected ReadEvents reply: %s", f->relay_ep, why);
        return -1;
    }
    f->from_page.single = false;
    return 0;
}

evfeed_t *
evfeed_new(void *zctx, const char *events_ep, const char *relay_ep, int64_t after, int timeout_ms,
           char *err, size_t cap)
{
    evfeed_t *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    *f = (evfeed_t){.zctx = zctx,
                    .relay_ep = relay_ep,
                    .timeout_ms = timeout_ms,
                    .last = after,
                    .catching_up = true};
    f->sub = bus_connect_list(zctx, ZMQ_SUB, events_ep); /* first: nothing falls between */
    if (!f->sub) {
        snprintf(err, cap, "cannot connect to %s: %s", events_ep, zmq_strerror(errno));
        evfeed_destroy(&f);
        return NULL;
    }
    if (evfeed_fetch(f, &f->start_head, err, cap) != 0)
        evfeed_destroy(&f);
    return f;
}

void
evfeed_destroy(evfeed_t **fp)
{
    evfeed_t *f = *fp;
    if (!f)
        return;
    client_reply_fini(&f->page);
    if (f->has_msg)
        bus_msg_close(&f->msg);
    bus_close(&f->sub);
    free(f);
    *fp = NULL;
}

/* The next event of a batch and its position; false when none is left. */
static bool
batch_take(batch_t *b, mpread_t *ev, int64_t *pos)
{
    while (b->left > 0) {
        b->left--;
        if (b->single)
            *ev = b->cur;
        else if (mpread_item(&b->cur, ev) != 0)
            break;
        mpread_t v;
        if (mpread_find(ev, "position", &v) == 0 && mpread_int(&v, pos) == 0)
            return true; /* else not an event: skipped */
    }
    b->left = 0;
    return false;
}

/* Takes a received message as the live batch; false for anything else
 * (a heartbeat may start a catch-up). */
static bool
evfeed_take_msg(evfeed_t *f)
{
    bool single = bus_frame_is(&f->msg, 0, TOPIC_EVENT);
    bool hb = bus_frame_is(&f->msg, 0, TOPIC_HEARTBEAT);
    size_t len;
    const void *body = bus_body(&f->msg, &len);
    const char *why;
    mpread_t r;
    if (f->msg.count != 2 || codec_reader_check(&r, body, len, &why) != 0)
        return false;
    int64_t head, at;
    if (hb && subscriber_read_heartbeat(body, len, &head, &at) == 0 && head > f->last &&
        proc_mono_ms() - f->catchup_ms >= EVFEED_CATCHUP_GAP_MS)
        f->catching_up = true;
    if (!single && !bus_frame_is(&f->msg, 0, TOPIC_EVENTS))
        return false;
    f->from_msg = (batch_t){.cur = r, .left = 1, .single = single};
    return single || mpread_array(&f->from_msg.cur, &f->from_msg.left) == 0;
}

/* Waits up to wait_ms for a live message.  True when one is held. */
static bool
evfeed_recv(evfeed_t *f, int wait_ms)
{
    if (f->has_msg)
        bus_msg_close(&f->msg);
    f->has_msg = false;
    f->from_msg.left = 0;
    zmq_pollitem_t item = {f->sub, 0, ZMQ_POLLIN, 0};
    if (bus_recv(f->sub, &f->msg, ZMQ_DONTWAIT) != 0 &&
        (zmq_poll(&item, 1, wait_ms) <= 0 || bus_recv(f->sub, &f->msg, ZMQ_DONTWAIT) != 0))
        return false;
    f->has_msg = true;
    return evfeed_take_msg(f);
}

/* A position from the page (catching up) or the SUB: 1 hand it out, 0
 * drop it (already handed out), -1 a gap (read the relay first). */
static int
evfeed_place(evfeed_t *f, int64_t pos, bool from_page)
{
    if (pos <= f->last)
        return 0;
    if (pos != f->last + 1 && !from_page)
        return -1;
    f->last = pos;
    return 1;
}

int
evfeed_next(evfeed_t *f, int wait_ms, mpread_t *ev, char *err, size_t cap)
{
    int64_t end = proc_mono_ms() + wait_ms, pos, head;
    for (;;) {
        while (batch_take(&f->from_page, ev, &pos))
            if (evfeed_place(f, pos, true) == 1)
                return 1;
        if (f->catching_up) {
            if (evfeed_fetch(f, &head, err, cap) != 0)
                return -1;
            f->catching_up = f->from_page.left > 0; /* an empty page: at the head */
            continue;
        }
        while (batch_take(&f->from_msg, ev, &pos)) {
            int placed = evfeed_place(f, pos, false);
            if (placed == 1)
                return 1;
            if (placed < 0) {
                f->catching_up = true; /* the relay has what the SUB lost */
                f->from_msg.left = 0;
            }
        }
        int64_t left = end - proc_mono_ms();
        if (f->catching_up)
            continue;
        if (left <= 0 || proc_stopping())
            return 0;
        evfeed_recv(f, (int)left);
    }
}

int64_t
evfeed_position(const evfeed_t *f)
{
    return f->last;
}

int64_t
evfeed_start_head(const evfeed_t *f)
{
    return f->start_head;
}
