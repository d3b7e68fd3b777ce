/* aggstore: see aggstore.h.  The snapshot encoding is a msgpack map of the
 * aggregate's fields, described once by its kind's table (aggregate.c). */
#include "aggstore.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void
snap_pack(codec_writer_t *w, const void *base, const aggregate_ops_t *o)
{
    const aggregate_field_t *f = o->fields;
    codec_map_open(w);
    for (size_t i = 0; i < o->n_fields; i++) {
        const char *p = (const char *)base + f[i].offset;
        if (f[i].kind == AGG_FIELD_STR)
            codec_map_str(w, f[i].key, p);
        else if (f[i].kind == AGG_FIELD_INT)
            codec_map_int(w, f[i].key, *(const int64_t *)p);
        else
            codec_map_bool(w, f[i].key, *(const bool *)p);
    }
    codec_map_close(w);
}

/* Reads the snapshot map at r: every field of the kind's table once, with
 * its type (unknown keys are skipped).  0 or -1. */
static int
snap_unpack(mpread_t *r, void *base, const aggregate_ops_t *ops)
{
    const aggregate_field_t *f = ops->fields;
    codec_key_t keys[32];
    mpread_t v[32];
    uint32_t found;
    int unknown;
    assert(ops->n_fields <= 32);
    for (size_t i = 0; i < ops->n_fields; i++)
        keys[i] = (codec_key_t){f[i].key, strlen(f[i].key)};
    if (codec_map_index(r, keys, (int)ops->n_fields, v, &found, &unknown) != 0)
        return -1;
    for (size_t i = 0; i < ops->n_fields; i++) {
        char *p = (char *)base + f[i].offset;
        if (!(found & (1u << i)))
            return -1;
        int rc = f[i].kind == AGG_FIELD_STR   ? mpread_str_copy(&v[i], p, f[i].size)
                 : f[i].kind == AGG_FIELD_INT ? mpread_int(&v[i], (int64_t *)p)
                                              : mpread_bool(&v[i], (bool *)p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void
aggstore_pack_product(codec_writer_t *w, const product_t *p)
{
    snap_pack(w, p, aggregate_ops(AGG_PRODUCT));
}

void
aggstore_pack(codec_writer_t *w, const aggregate_t *a)
{
    snap_pack(w, &a->u, aggregate_ops(a->kind));
}

int
aggstore_unpack(aggregate_t *a, const void *bytes, size_t len)
{
    mpread_t r;
    const char *why;
    if (codec_reader_init(&r, bytes, len, &why) != 0)
        return -1;
    return snap_unpack(&r, &a->u, aggregate_ops(a->kind));
}

void
aggstore_fold(aggregate_t *a, const event_t *ev)
{
    aggregate_ops(a->kind)->apply(&a->u, ev);
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
    aggregate_ops(a->kind)->init(&a->u);
}

/* Applies the stored snapshot if there is a usable one; ERR_OK either way
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
        rc = ERR_OK;
    }
    free(state);
    return rc;
}

int
aggstore_load(eventstore_t *es, aggregate_t *a, bool use_snapshots)
{
    agg_reset(a);
    int rc = use_snapshots ? load_snapshot(es, a) : ERR_OK;
    if (rc != ERR_OK)
        return rc;
    return eventstore_load_stream(es, a->stream, aggcache_version(a), 0, fold_cb, a);
}

int
aggstore_maybe_snapshot(eventstore_t *es, const aggregate_t *a, int64_t every)
{
    int64_t v = aggcache_version(a);
    if (every <= 0 || v == 0 || v % every != 0)
        return ERR_OK;
    codec_writer_t w;
    codec_writer_init(&w);
    aggstore_pack(&w, a);
    int rc = eventstore_snapshot_save(es, a->stream, v, AGGSTORE_SNAPSHOT_SCHEMA, w.buf.data,
                                      w.buf.size);
    codec_writer_fini(&w);
    return rc;
}
