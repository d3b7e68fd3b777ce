/* alertapi: see alertapi.h.  One table lists ListAlerts' parameters with
 * their msgpack type and a setter that checks the value. */
#include "alertapi.h"

#include "alerts.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A decoded ListAlerts: the query plus storage for its string. */
typedef struct {
    alerts_query_t q;
    char product_id[ID_MAX + 1];
} list_req_t;

typedef enum { P_STR, P_INT } param_kind_t;

/* Checks and stores one value of the right type; NULL or a field message. */
typedef const char *(*param_set_fn)(list_req_t *r, const msgpack_object *v);

typedef struct {
    const char *name;
    param_kind_t kind;
    param_set_fn set; /* NULL: accepted and ignored (the request type) */
} param_t;

static void
reply_error(codec_writer_t *w, const char *code, const char *message, const field_errors_t *errs) {
    msgpack_pack_map(&w->pk, errs ? 4 : 3);
    codec_pack_kv_bool(&w->pk, "ok", false);
    codec_pack_kv_str(&w->pk, "error", code);
    codec_pack_kv_str(&w->pk, "message", message);
    if (!errs) return;
    codec_pack_cstr(&w->pk, "fields");
    msgpack_pack_map(&w->pk, (size_t)errs->count);
    for (int i = 0; i < errs->count; i++)
        codec_pack_kv_str(&w->pk, errs->items[i].field, errs->items[i].message);
}

/* ---- parameter setters --------------------------------------------------- */

static const char *
set_product(list_req_t *r, const msgpack_object *v) {
    if (!message_id_valid(v->via.str.ptr, v->via.str.size))
        return "must be 1..64 bytes of [A-Za-z0-9_.:-]";
    memcpy(r->product_id, v->via.str.ptr, v->via.str.size);
    r->product_id[v->via.str.size] = '\0';
    r->q.product_id = r->product_id;
    return NULL;
}

static const char *
set_limit(list_req_t *r, const msgpack_object *v) {
    int64_t n;
    if (codec_get_int(v, &n) != 0 || n < 1 || n > ALERTS_LIMIT_MAX) return "must be 1..100";
    r->q.limit = (int)n;
    return NULL;
}

static const char *
set_cursor(list_req_t *r, const msgpack_object *v) {
    const char *s = v->via.str.ptr;
    size_t n = v->via.str.size;
    int64_t after = 0;
    if (n == 0 || n > 18) return "must be a next_cursor from an earlier reply";
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return "must be a next_cursor from an earlier reply";
        after = after * 10 + (s[i] - '0');
    }
    r->q.after = after;
    return NULL;
}

static const param_t list_params[] = {
    {"type", P_STR, NULL},
    {"product_id", P_STR, set_product},
    {"limit", P_INT, set_limit},
    {"cursor", P_STR, set_cursor},
};
#define N_LIST_PARAMS (sizeof list_params / sizeof list_params[0])

/* ---- parsing ------------------------------------------------------------- */

static int
param_find(const msgpack_object *k) {
    for (size_t i = 0; i < N_LIST_PARAMS; i++)
        if (strlen(list_params[i].name) == k->via.str.size &&
            memcmp(list_params[i].name, k->via.str.ptr, k->via.str.size) == 0)
            return (int)i;
    return -1;
}

static bool
param_type_ok(param_kind_t kind, const msgpack_object *v) {
    if (kind == P_STR) return v->type == MSGPACK_OBJECT_STR;
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* Decodes req into r.  Returns 0, or -1 with a malformed reason in why
 * (static or in why_buf); validation messages go to errs. */
static int
list_parse(const msgpack_object *req, list_req_t *r, field_errors_t *errs, const char **why,
           char *why_buf, size_t why_cap) {
    uint32_t seen = 0;
    if (req->type != MSGPACK_OBJECT_MAP) {
        *why = "a request must be a map";
        return -1;
    }
    for (uint32_t i = 0; i < req->via.map.size; i++) {
        const msgpack_object *k = &req->via.map.ptr[i].key;
        const msgpack_object *v = &req->via.map.ptr[i].val;
        int p = k->type == MSGPACK_OBJECT_STR ? param_find(k) : -1;
        if (p < 0) {
            *why = "keys must be strings naming known parameters (see the protocol)";
            return -1;
        }
        const param_t *pm = &list_params[p];
        if (seen & (1u << p)) {
            snprintf(why_buf, why_cap, "%s is given twice", pm->name);
            *why = why_buf;
            return -1;
        }
        seen |= 1u << p;
        if (v->type == MSGPACK_OBJECT_NIL || !pm->set) continue; /* nil means absent */
        if (!param_type_ok(pm->kind, v)) {
            snprintf(why_buf, why_cap, "%s must be %s", pm->name,
                     pm->kind == P_STR ? "a string" : "an integer");
            *why = why_buf;
            return -1;
        }
        const char *msg = pm->set(r, v);
        if (msg) field_errors_add(errs, pm->name, msg);
    }
    return 0;
}

/* ---- ListAlerts ---------------------------------------------------------- */

typedef struct {
    codec_writer_t items; /* packed item maps */
    int count;            /* maps packed */
    int64_t last;         /* position of the last one: the next cursor */
} items_t;

static void
pack_alert(void *arg, const alertmsg_t *a) {
    items_t *it = arg;
    alertmsg_pack(&it->items.pk, a);
    it->count++;
    it->last = a->position;
}

/* Runs the query and packs {ok, position, items, next_cursor}. */
static void
list_reply(alerts_t *model, const alerts_query_t *q, codec_writer_t *w) {
    items_t it = {.count = 0};
    codec_writer_init(&it.items);
    int64_t checkpoint = 0;
    bool more = false;
    if (alerts_checkpoint(model, &checkpoint) != 0 ||
        alerts_list(model, q, pack_alert, &it, &more) < 0) {
        reply_error(w, "unavailable", "the alerts database could not be read", NULL);
        codec_writer_fini(&it.items);
        return;
    }
    msgpack_pack_map(&w->pk, 4);
    codec_pack_kv_bool(&w->pk, "ok", true);
    codec_pack_kv_int(&w->pk, "position", checkpoint);
    codec_pack_cstr(&w->pk, "items");
    msgpack_pack_array(&w->pk, (size_t)it.count);
    codec_pack_raw(&w->pk, it.items.buf.data, it.items.buf.size);
    codec_pack_cstr(&w->pk, "next_cursor");
    if (more) {
        char cursor[24];
        snprintf(cursor, sizeof cursor, "%" PRId64, it.last);
        codec_pack_cstr(&w->pk, cursor);
    } else {
        msgpack_pack_nil(&w->pk);
    }
    codec_writer_fini(&it.items);
}

static int
list_alerts(alerts_t *model, const msgpack_object *req, codec_writer_t *w) {
    list_req_t r;
    memset(&r, 0, sizeof r);
    r.q.limit = ALERTS_LIMIT_DEFAULT;
    field_errors_t errs = {.count = 0};
    const char *why = NULL;
    char why_buf[96];
    if (list_parse(req, &r, &errs, &why, why_buf, sizeof why_buf) != 0)
        reply_error(w, "malformed", why, NULL);
    else if (errs.count > 0)
        reply_error(w, "validation", "invalid ListAlerts parameters", &errs);
    else
        list_reply(model, &r.q, w);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct {
    const char *type;
    int (*handle)(alerts_t *model, const msgpack_object *req, codec_writer_t *w);
} handlers[] = {
    {"ListAlerts", list_alerts},
};

int
alertapi_handle(void *arg, const char *type, const msgpack_object *req, codec_writer_t *w) {
    alerts_t *model = *(alerts_t **)arg;
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strcmp(type, handlers[i].type) != 0) continue;
        if (!model)
            reply_error(w, "unavailable", "the alerts model is being swapped", NULL);
        else
            handlers[i].handle(model, req, w);
        return 0;
    }
    return -1;
}
