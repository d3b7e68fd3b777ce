/* pagefetch: see pagefetch.h. */
#include "pagefetch.h"

#include "bus.h"
#include "codec.h"
#include "eplist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PF_IDLE, PF_IN_FLIGHT, PF_READY, PF_TIMED_OUT } pf_state_t;

struct pagefetch {
    void *zctx;
    eplist_t list;  /* the relays' catch-up endpoints; one when not a list */
    int cur;        /* the one asked now */
    int hops;       /* not_leader replies since the last page: at most list.n in a row */
    int limit;      /* events per page asked for */
    int timeout_ms; /* a reply is awaited this long */
    void *dealer;   /* NULL after a failed connect: made again at the next ask */
    pf_state_t state;
    int64_t after;       /* the page asked for (not IDLE) */
    int64_t deadline_ms; /* IN_FLIGHT: monotonic time it is given up */
    void *reply;         /* READY: the reply's body, malloc'ed */
    size_t len;          /* its bytes */
    codec_writer_t w;    /* the request */
};

/* A new socket: what was in flight on the old one is never received. */
static void
pf_replace_socket(pagefetch_t *f)
{
    bus_close(&f->dealer);
    f->dealer = bus_connect(f->zctx, ZMQ_DEALER, f->list.ep[f->cur]);
}

/* Moves to endpoint i of the list, on a new socket. */
static void
pf_move(pagefetch_t *f, int i)
{
    if (i == f->cur && f->dealer)
        return;
    f->cur = i;
    pf_replace_socket(f);
}

pagefetch_t *
pagefetch_new(void *zctx, const char *endpoint, int limit, int timeout_ms)
{
    pagefetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    *f = (pagefetch_t){.zctx = zctx, .limit = limit, .timeout_ms = timeout_ms};
    char why[200];
    if (eplist_parse(&f->list, endpoint, why, sizeof why) != 0) {
        if (strchr(endpoint, ',') || strlen(endpoint) > EPLIST_EP_MAX) {
            free(f);
            errno = EINVAL;
            return NULL;
        }
        f->list.n = 1; /* not one we know: bus_connect decides, as before lists */
        snprintf(f->list.ep[0], sizeof f->list.ep[0], "%s", endpoint);
    }
    pf_replace_socket(f);
    if (!f->dealer) {
        int e = errno;
        free(f);
        errno = e;
        return NULL;
    }
    codec_writer_init(&f->w);
    return f;
}

/* Back to IDLE, the held reply freed (the socket is the caller's concern). */
static void
pf_forget(pagefetch_t *f)
{
    free(f->reply);
    f->reply = NULL;
    f->len = 0;
    f->state = PF_IDLE;
}

void
pagefetch_destroy(pagefetch_t **fp)
{
    if (!fp || !*fp)
        return;
    pagefetch_t *f = *fp;
    pf_forget(f);
    bus_close(&f->dealer);
    codec_writer_fini(&f->w);
    free(f);
    *fp = NULL;
}

void
pagefetch_reset(pagefetch_t *f)
{
    pf_forget(f);
    pf_replace_socket(f);
}

/* Sends the request packed in f->w on the current endpoint: IN FLIGHT, or
 * -1 with the socket replaced. */
static int
pf_send(pagefetch_t *f, int64_t now_ms)
{
    if (!f->dealer || zmq_send(f->dealer, f->w.buf.data, f->w.buf.size, ZMQ_DONTWAIT) < 0) {
        pf_replace_socket(f);
        return -1;
    }
    f->state = PF_IN_FLIGHT;
    f->deadline_ms = now_ms + f->timeout_ms;
    return 0;
}

int
pagefetch_ask(pagefetch_t *f, int64_t after, int64_t now_ms)
{
    if ((f->state == PF_IN_FLIGHT || f->state == PF_READY) && f->after == after)
        return 0;
    if (f->state == PF_IN_FLIGHT || !f->dealer)
        pf_replace_socket(f);
    pf_forget(f);
    codec_writer_reset(&f->w);
    codec_map_open(&f->w);
    codec_map_str(&f->w, "type", "ReadEvents");
    codec_map_int(&f->w, "after", after);
    codec_map_int(&f->w, "limit", f->limit);
    codec_map_close(&f->w);
    f->after = after;
    return pf_send(f, now_ms);
}

/* A reply of not_leader (docs/protocol.md, section 2) from the endpoint
 * asked: the request goes at once to the leader it names when that is one
 * of the list, else to the next one; a not_leader naming no leader (an
 * election), a leader that is not an endpoint, or list.n of them in a row
 * end the request as TIMED OUT on the next endpoint (the caller backs off
 * and asks again).  True when the reply was one (it is freed). */
static bool
pf_not_leader(pagefetch_t *f, int64_t now_ms)
{
    mpread_t r;
    const char *why;
    char leader[EPLIST_EP_MAX + 1];
    if (codec_reader_check(&r, f->reply, f->len, &why) != 0)
        return false; /* the caller says it is unusable */
    int nl = codec_read_not_leader(&r, leader, sizeof leader, &why);
    if (nl == 0)
        return false;
    pf_forget(f);
    int at = nl > 0 && leader[0] ? eplist_find(&f->list, leader) : -1;
    pf_move(f, at >= 0 && at != f->cur ? at : (f->cur + 1) % f->list.n);
    if (nl < 0 || !leader[0] || ++f->hops >= f->list.n || pf_send(f, now_ms) != 0)
        f->state = PF_TIMED_OUT;
    return true;
}

/* Receives the reply in flight if it came.  0 when it did (READY, or
 * TIMED OUT / IN FLIGHT again elsewhere after a not_leader). */
static int
pf_receive(pagefetch_t *f, int64_t now_ms)
{
    if (bus_recv_body(f->dealer, ZMQ_DONTWAIT, &f->reply, &f->len) == 0) {
        f->state = PF_READY;
        if (!pf_not_leader(f, now_ms))
            f->hops = 0;
        return 0;
    }
    if (errno != ENOMEM)
        return -1;
    pagefetch_reset(f); /* no memory for it: as if it never came */
    f->state = PF_TIMED_OUT;
    return 0;
}

void
pagefetch_update(pagefetch_t *f, int64_t now_ms)
{
    if (!f)
        return;
    if (f->state == PF_IN_FLIGHT && pf_receive(f, now_ms) != 0 && now_ms >= f->deadline_ms) {
        /* its reply, should it come, is never received; the next one is asked next */
        f->cur = (f->cur + 1) % f->list.n;
        pf_replace_socket(f);
        f->state = PF_TIMED_OUT;
    } else if (f->state == PF_READY && now_ms >= f->deadline_ms) {
        pf_forget(f); /* came or was held past the deadline: asked again when wanted */
    }
}

pagefetch_result_t
pagefetch_take(pagefetch_t *f, int64_t after, int64_t now_ms, void **reply, size_t *len)
{
    pagefetch_update(f, now_ms);
    if (f->state == PF_TIMED_OUT && f->after == after) {
        f->state = PF_IDLE;
        return PAGEFETCH_FAILED;
    }
    if (pagefetch_ask(f, after, now_ms) != 0)
        return PAGEFETCH_FAILED;
    if (f->state != PF_READY)
        return PAGEFETCH_WAITING;
    *reply = f->reply;
    *len = f->len;
    f->reply = NULL; /* the caller's now */
    pf_forget(f);
    return PAGEFETCH_READY;
}

const char *
pagefetch_endpoint(const pagefetch_t *f)
{
    return f->list.ep[f->cur];
}

void *
pagefetch_socket(const pagefetch_t *f)
{
    return f && f->state == PF_IN_FLIGHT ? f->dealer : NULL;
}

int64_t
pagefetch_wait_ms(const pagefetch_t *f, int64_t now_ms)
{
    if (!f || f->state != PF_IN_FLIGHT)
        return -1;
    return f->deadline_ms > now_ms ? f->deadline_ms - now_ms : 0;
}
