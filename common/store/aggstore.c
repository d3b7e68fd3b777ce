/* aggstore: see aggstore.h.  The snapshot encoding is a msgpack map of the
 * aggregate's fields, described once by the tables below. */
#include "aggstore.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SF_BOOL, SF_INT, SF_STR } snap_kind_t;
typedef struct {
    const char *key;
    snap_kind_t kind;
    size_t offset;
    size_t size; /* string buffer size */
} snap_field_t;

#define SNAP_STR(T, m)                                                                             \
    {                                                                                              \
#m, SF_STR, offsetof(T, m), sizeof(((T *)0)->m)                                            \
    }
#define SNAP_INT(T, m)                                                                             \
    {                                                                                              \
#m, SF_INT, offsetof(T, m), 0                                                              \
    }
#define SNAP_BOOL(T, m)                                                                            \
    {                                                                                              \
#m, SF_BOOL, offsetof(T, m), 0                                                             \
    }

static const snap_field_t product_fields[] = {
    SNAP_BOOL(product_t, exists),
    SNAP_INT(product_t, version),
    SNAP_STR(product_t, product_id),
    SNAP_STR(product_t, sku),
    SNAP_STR(product_t, name),
    SNAP_STR(product_t, supplier_id),
    SNAP_STR(product_t, supplier_name),
    SNAP_INT(product_t, price_cents),
    SNAP_INT(product_t, cost_price_cents),
    SNAP_INT(product_t, stock),
    SNAP_INT(product_t, low_stock_threshold),
    SNAP_BOOL(product_t, discontinued),
    SNAP_INT(product_t, units_sold),
    SNAP_INT(product_t, view_count),
    SNAP_INT(product_t, review_count),
    SNAP_INT(product_t, rating_sum),
};

static const snap_field_t supplier_fields[] = {
    SNAP_BOOL(supplier_t, exists),
    SNAP_INT(supplier_t, version),
    SNAP_STR(supplier_t, supplier_id),
    SNAP_STR(supplier_t, name),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void
snap_pack(codec_writer_t *w, const void *base, const snap_field_t *f, size_t n)
{
    codec_map_open(w);
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + f[i].offset;
        if (f[i].kind == SF_STR)
            codec_map_str(w, f[i].key, p);
        else if (f[i].kind == SF_INT)
            codec_map_int(w, f[i].key, *(const int64_t *)p);
        else
            codec_map_bool(w, f[i].key, *(const bool *)p);
    }
    codec_map_close(w);
}

static int
snap_unpack(const msgpack_object *o, void *base, const snap_field_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)base + f[i].offset;
        const msgpack_object *v = codec_map_get(o, f[i].key);
        if (!v)
            return -1;
        int rc = f[i].kind == SF_STR   ? codec_copy_str(v, p, f[i].size)
                 : f[i].kind == SF_INT ? codec_get_int(v, (int64_t *)p)
                                       : codec_get_bool(v, (bool *)p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void
aggstore_pack_product(codec_writer_t *w, const product_t *p)
{
    snap_pack(w, p, product_fields, COUNT(product_fields));
}

void
aggstore_pack_supplier(codec_writer_t *w, const supplier_t *s)
{
    snap_pack(w, s, supplier_fields, COUNT(supplier_fields));
}

int
aggstore_unpack(aggregate_t *a, const void *bytes, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    int rc = codec_parse(bytes, len, &u, &why);
    if (rc == 0 && a->kind == AGG_PRODUCT)
        rc = snap_unpack(&u.data, &a->u.product, product_fields, COUNT(product_fields));
    else if (rc == 0)
        rc = snap_unpack(&u.data, &a->u.supplier, supplier_fields, COUNT(supplier_fields));
    msgpack_unpacked_destroy(&u);
    return rc;
}

void
aggstore_fold(aggregate_t *a, const event_t *ev)
{
    if (a->kind == AGG_PRODUCT)
        product_apply(&a->u.product, ev);
    else
        supplier_apply(&a->u.supplier, ev);
}

static int
fold_cb(const event_t *ev, void *arg)
{
    aggstore_fold(arg, ev);
    return 0;
}

static void
agg_reset(aggregate_t *a)
{
    if (a->kind == AGG_PRODUCT)
        product_init(&a->u.product);
    else
        supplier_init(&a->u.supplier);
}

/* Applies the stored snapshot if there is a usable one; ES_OK either way
 * unless the store failed. */
static int
load_snapshot(eventstore_t *es, aggregate_t *a)
{
    int64_t version;
    int32_t schema;
    void *state = NULL;
    size_t len;
    int rc = eventstore_snapshot_load(es, a->stream, &version, &schema, &state, &len);
    if (rc == 1) {
        if (schema != AGGSTORE_SNAPSHOT_SCHEMA || aggstore_unpack(a, state, len) != 0 ||
            aggcache_version(a) != version)
            agg_reset(a); /* an old or damaged snapshot: replay everything */
        rc = ES_OK;
    }
    free(state);
    return rc;
}

int
aggstore_load(eventstore_t *es, aggregate_t *a, bool use_snapshots)
{
    agg_reset(a);
    int rc = use_snapshots ? load_snapshot(es, a) : ES_OK;
    if (rc != ES_OK)
        return rc;
    return eventstore_load_stream(es, a->stream, aggcache_version(a), 0, fold_cb, a);
}

int
aggstore_maybe_snapshot(eventstore_t *es, const aggregate_t *a, int64_t every)
{
    int64_t v = aggcache_version(a);
    if (every <= 0 || v == 0 || v % every != 0)
        return ES_OK;
    codec_writer_t w;
    codec_writer_init(&w);
    if (a->kind == AGG_PRODUCT)
        aggstore_pack_product(&w, &a->u.product);
    else
        aggstore_pack_supplier(&w, &a->u.supplier);
    int rc = eventstore_snapshot_save(es, a->stream, v, AGGSTORE_SNAPSHOT_SCHEMA, w.buf.data,
                                      w.buf.size);
    codec_writer_fini(&w);
    return rc;
}
