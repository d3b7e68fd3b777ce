/* params: see params.h. */
#include "params.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int
params_find(const param_t *table, size_t n, const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == k->via.str.size &&
            memcmp(table[i].name, k->via.str.ptr, k->via.str.size) == 0)
            return (int)i;
    return -1;
}

static bool
params_type_ok(param_kind_t kind, const msgpack_object *v)
{
    if (kind == PARAM_STR)
        return v->type == MSGPACK_OBJECT_STR;
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

int
params_parse(const msgpack_object *req, const param_t *table, size_t n, void *target,
             field_errors_t *errs, const char **why, char *why_buf, size_t why_cap)
{
    uint32_t seen = 0;
    if (req->type != MSGPACK_OBJECT_MAP) {
        *why = "a request must be a map";
        return -1;
    }
    for (uint32_t i = 0; i < req->via.map.size; i++) {
        const msgpack_object *v = &req->via.map.ptr[i].val;
        int p = params_find(table, n, &req->via.map.ptr[i].key);
        if (p < 0) {
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
        if (v->type == MSGPACK_OBJECT_NIL || !pm->set)
            continue; /* nil means absent */
        if (!params_type_ok(pm->kind, v)) {
            snprintf(why_buf, why_cap, "%s must be %s", pm->name,
                     pm->kind == PARAM_STR ? "a string" : "an integer");
            *why = why_buf;
            return -1;
        }
        const char *msg = pm->set(target, v);
        if (msg)
            field_errors_add(errs, pm->name, msg);
    }
    return 0;
}

const char *
params_cursor(const msgpack_object *v, int64_t *after)
{
    const char *s = v->via.str.ptr;
    size_t n = v->via.str.size;
    int64_t x = 0;
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
params_limit(const msgpack_object *v, int max, int *limit)
{
    int64_t n;
    if (codec_get_int(v, &n) != 0 || n < 1 || n > max)
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
