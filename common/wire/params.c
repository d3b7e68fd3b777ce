/* params: see params.h. */
#include "params.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int
params_find(const param_t *table, size_t n, const char *k, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && memcmp(table[i].name, k, len) == 0)
            return (int)i;
    return -1;
}

static bool
params_type_ok(param_kind_t kind, const mpread_t *v)
{
    return mpread_peek(v) == (kind == PARAM_STR ? MP_STR : MP_INT);
}

void
params_str(mpread_t *v, const char **s, size_t *len)
{
    if (mpread_str(v, s, len) != 0) {
        *s = "";
        *len = 0;
    }
}

int
params_parse(const mpread_t *req, const param_t *table, size_t n, void *target,
             field_errors_t *errs, const char **why, char *why_buf, size_t why_cap)
{
    uint32_t seen = 0, pairs;
    mpread_t m = *req;
    if (mpread_map(&m, &pairs) != 0) {
        *why = "a request must be a map";
        return -1;
    }
    for (uint32_t i = 0; i < pairs; i++) {
        const char *k;
        size_t klen;
        int p = mpread_str(&m, &k, &klen) == 0 ? params_find(table, n, k, klen) : -1;
        mpread_t v = m;
        if (p < 0 || mpread_skip(&m) != 0) {
            *why = "keys must be strings naming known parameters (see the protocol)";
            return -1;
        }
        const param_t *pm = &table[p];
        if (seen & (1u << p)) {
            snprintf(why_buf, why_cap, "%s is given twice", pm->name);
            *why = why_buf;
            return -1;
        }
        seen |= 1u << p;
        if (mpread_nil(&v) || !pm->set)
            continue; /* nil means absent */
        if (!params_type_ok(pm->kind, &v)) {
            snprintf(why_buf, why_cap, "%s must be %s", pm->name,
                     pm->kind == PARAM_STR ? "a string" : "an integer");
            *why = why_buf;
            return -1;
        }
        const char *msg = pm->set(target, &v);
        if (msg)
            field_errors_add(errs, pm->name, msg);
    }
    return 0;
}

const char *
params_cursor(mpread_t *v, int64_t *after)
{
    const char *s;
    size_t n;
    int64_t x = 0;
    params_str(v, &s, &n);
    if (n == 0 || n > 18)
        return "must be a next_cursor from an earlier reply";
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "must be a next_cursor from an earlier reply";
        x = x * 10 + (s[i] - '0');
    }
    *after = x;
    return NULL;
}

const char *
params_limit(mpread_t *v, int max, int *limit)
{
    int64_t n;
    if (mpread_int(v, &n) != 0 || n < 1 || n > max)
        return "must be 1..100";
    *limit = (int)n;
    return NULL;
}

void
params_reply_error(codec_writer_t *w, const char *code, const char *message,
                   const field_errors_t *errs)
{
    codec_pack_error(w, &(codec_error_t){.code = code, .message = message, .fields = errs});
}

void
params_page_init(params_page_t *pg)
{
    codec_writer_init(&pg->items);
    pg->count = 0;
    pg->last = 0;
}

void
params_page_fini(params_page_t *pg)
{
    codec_writer_fini(&pg->items);
}

void
params_page_added(params_page_t *pg, int64_t position)
{
    pg->count++;
    pg->last = position;
}

void
params_reply_page(codec_writer_t *w, bool ok, int64_t position, const params_page_t *pg, bool more,
                  const char *unavailable)
{
    if (!ok) {
        params_reply_error(w, "unavailable", unavailable, NULL);
        return;
    }
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_int(w, "position", position);
    codec_map_key(w, "items");
    msgpack_pack_array(&w->pk, (size_t)pg->count);
    codec_pack_raw(&w->pk, pg->items.buf.data, pg->items.buf.size);
    if (more) {
        char cursor[24];
        snprintf(cursor, sizeof cursor, "%" PRId64, pg->last);
        codec_map_str(w, "next_cursor", cursor);
    } else {
        codec_map_nil(w, "next_cursor");
    }
    codec_map_close(w);
}
