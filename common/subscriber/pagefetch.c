/* pagefetch: see pagefetch.h. */
#include "pagefetch.h"

#include "bus.h"
#include "codec.h"

#include <errno.h>
#include <stdlib.h>

typedef enum { PF_IDLE, PF_IN_FLIGHT, PF_READY, PF_TIMED_OUT } pf_state_t;

struct pagefetch {
    void *zctx;
    const char *endpoint;
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
    f->dealer = bus_connect(f->zctx, ZMQ_DEALER, f->endpoint);
}

pagefetch_t *
pagefetch_new(void *zctx, const char *endpoint, int limit, int timeout_ms)
{
    pagefetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    *f =
        (pagefetch_t){.zctx = zctx, .endpoint = endpoint, .limit = limit, .timeout_ms = timeout_ms};
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
    if (!f->dealer || zmq_send(f->dealer, f->w.buf.data, f->w.buf.size, ZMQ_DONTWAIT) < 0) {
        pf_replace_socket(f);
        return -1;
    }
    f->state = PF_IN_FLIGHT;
    f->after = after;
    f->deadline_ms = now_ms + f->timeout_ms;
    return 0;
}

/* Receives the reply in flight if it came.  0 when it did (READY). */
static int
pf_receive(pagefetch_t *f)
{
    if (bus_recv_body(f->dealer, ZMQ_DONTWAIT, &f->reply, &f->len) == 0) {
        f->state = PF_READY;
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
    if (f->state == PF_IN_FLIGHT && pf_receive(f) != 0 && now_ms >= f->deadline_ms) {
        pf_replace_socket(f); /* its reply, should it come, is never received */
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
