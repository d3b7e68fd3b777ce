/* cli_audit: see cli_audit.h. */
#include "cli_audit.h"

#include "cli_report.h"
#include "client.h"
#include "jsonout.h"
#include "pretty.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>

#define TAIL_PAGE 100  /* SearchAudit's largest limit */
#define TAIL_FAILED -1 /* a request failed (and was reported) */
#define TAIL_SHAPE -2  /* a reply of another shape */

/* The last n items seen, as their msgpack bytes, in a ring. */
typedef struct {
    char **item;
    size_t *len;
    int64_t cap, seen; /* seen: items pushed; the ring holds min(seen, cap) */
} tail_ring_t;

static void
ring_clear(tail_ring_t *r)
{
    for (int64_t i = 0; i < r->cap; i++) {
        free(r->item[i]);
        r->item[i] = NULL;
    }
    r->seen = 0;
}

static int
ring_push(tail_ring_t *r, const mpread_t *item)
{
    mpread_t end = *item;
    if (mpread_skip(&end) != 0)
        return -1;
    size_t len = (size_t)(end.p - item->p);
    int64_t slot = r->seen % r->cap;
    char *copy = realloc(r->item[slot], len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, item->p, len);
    r->item[slot] = copy;
    r->len[slot] = len;
    r->seen++;
    return 0;
}

/* The request for the page after `after` (cursor: its storage). */
static void
tail_request(const cli_request_t *base, int64_t after, int limit, cli_request_t *req, char *cursor,
             size_t cap)
{
    *req = *base;
    snprintf(cursor, cap, "%lld", (long long)after);
    cli_request_add(req, "limit", ARG_INT, NULL, limit);
    if (after > 0)
        cli_request_add(req, "cursor", ARG_STR, cursor, 0);
}

/* The page after `after`: 0 with an ok reply, TAIL_FAILED when the request
 * failed (nothing to release): it is sent again through cli_request_run,
 * which reports it as for any query, and *code is that exit code. */
static int
tail_page(void *zctx, const cli_opts_t *opts, const cli_request_t *base, int64_t after, int limit,
          int timeout_ms, client_reply_t *reply, int *code)
{
    cli_request_t req;
    char cursor[24];
    tail_request(base, after, limit, &req, cursor, sizeof cursor);
    codec_writer_t w;
    codec_writer_init(&w);
    cli_request_pack(&req, &w);
    client_rc_t rc =
        client_call(zctx, opts->ep[base->ep], w.buf.data, w.buf.size, timeout_ms, reply);
    codec_writer_fini(&w);
    if (rc == CLIENT_OK && client_reply_ok(reply))
        return 0;
    if (rc == CLIENT_OK)
        client_reply_fini(reply);
    *code = cli_request_run(zctx, opts, &req, timeout_ms, NULL);
    return TAIL_FAILED;
}

/* Pushes the page's items at or below `upto`; sets *next (the cursor of
 * the next page, 0 at the end).  0, or TAIL_SHAPE. */
static int
tail_take(tail_ring_t *r, const client_reply_t *reply, int64_t upto, int64_t *next)
{
    mpread_t items, item, v;
    uint32_t n;
    int64_t pos = 0;
    *next = 0;
    if (mpread_find(&reply->body, "items", &items) != 0 || mpread_array(&items, &n) != 0)
        return TAIL_SHAPE;
    for (uint32_t i = 0; i < n && mpread_item(&items, &item) == 0; i++) {
        if (mpread_find(&item, "position", &v) != 0 || mpread_int(&v, &pos) != 0)
            return TAIL_SHAPE;
        if (pos > upto)
            return 0; /* appended since the start: left out, and the end */
        if (ring_push(r, &item) != 0)
            return TAIL_SHAPE;
    }
    bool more = mpread_find(&reply->body, "next_cursor", &v) == 0 && mpread_peek(&v) == MP_STR;
    *next = more && n > 0 ? pos : 0;
    return 0;
}

/* Reads the matches after `after` up to `upto` into the ring.  0,
 * TAIL_FAILED (*code set) or TAIL_SHAPE. */
static int
tail_window(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
            tail_ring_t *r, int64_t after, int64_t upto, int *code)
{
    ring_clear(r);
    while (!proc_stopping()) {
        client_reply_t reply;
        int64_t next;
        if (tail_page(zctx, opts, req, after, TAIL_PAGE, timeout_ms, &reply, code) != 0)
            return TAIL_FAILED;
        int rc = tail_take(r, &reply, upto, &next);
        client_reply_fini(&reply);
        if (rc != 0 || next <= after) /* the end (or a cursor that does not move) */
            return rc;
        after = next;
    }
    return 0;
}

/* Prints {ok, position, items} from the ring, oldest first. */
static void
tail_print(const cli_opts_t *opts, const tail_ring_t *r, int64_t position,
           void (*print)(FILE *f, const mpread_t *reply))
{
    int64_t count = r->seen < r->cap ? r->seen : r->cap;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_bool(&w, "ok", true);
    codec_map_int(&w, "position", position);
    codec_map_key(&w, "items");
    msgpack_pack_array(&w.pk, (size_t)count);
    for (int64_t i = r->seen - count; i < r->seen; i++)
        codec_pack_raw(&w.pk, r->item[i % r->cap], r->len[i % r->cap]);
    codec_map_nil(&w, "next_cursor");
    codec_map_close(&w);
    mpread_t body;
    mpread_init(&body, w.buf.data, w.buf.size);
    if (opts->json) {
        jsonout_write(stdout, &body);
        fputc('\n', stdout);
    } else {
        (print ? print : pretty_print)(stdout, &body);
    }
    fflush(stdout);
    codec_writer_fini(&w);
}

static bool
has_filter(const cli_request_t *req)
{
    for (int i = 0; i < req->n; i++)
        if (strcmp(req->kv[i].key, "min_position") != 0 && strcmp(req->kv[i].key, "wait_ms") != 0)
            return true;
    return false;
}

/* Fills the ring with the last r->cap matches at or below head: windows
 * after head - width for width = n, 4n, 16n... (one window without a
 * filter).  0, TAIL_FAILED (*code set) or TAIL_SHAPE. */
static int
tail_collect(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
             tail_ring_t *r, int64_t head, int *code)
{
    for (int64_t width = r->cap;; width = width > head / 4 ? head : width * 4) {
        int64_t after = head > width ? head - width : 0;
        int rc = tail_window(zctx, opts, req, timeout_ms, r, after, head, code);
        if (rc != 0 || r->seen >= r->cap || after == 0 || !has_filter(req))
            return rc;
    }
}

int
cli_audit_tail(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int64_t n,
               int timeout_ms, void (*print)(FILE *f, const mpread_t *reply))
{
    client_reply_t first;
    int64_t head = 0;
    int code = 0;
    if (tail_page(zctx, opts, req, 0, 1, timeout_ms, &first, &code) != 0)
        return code;
    mpread_t v;
    bool shaped = mpread_find(&first.body, "position", &v) == 0 && mpread_int(&v, &head) == 0;
    client_reply_fini(&first);
    tail_ring_t r = {calloc((size_t)n, sizeof(char *)), calloc((size_t)n, sizeof(size_t)), n, 0};
    int rc = !shaped ? TAIL_SHAPE : r.item && r.len ? 0 : TAIL_FAILED;
    if (rc == TAIL_FAILED)
        code = cli_report(opts->json, 1, "connection", "audit: out of memory");
    if (rc == 0)
        rc = tail_collect(zctx, opts, req, timeout_ms, &r, head, &code);
    if (rc == 0)
        tail_print(opts, &r, head, print);
    else if (rc == TAIL_SHAPE)
        code =
            cli_report(opts->json, 2, "bad_reply", "audit: a SearchAudit reply of another shape");
    if (r.item)
        ring_clear(&r);
    free(r.item);
    free(r.len);
    return code;
}
