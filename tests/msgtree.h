/* msgtree: msgpack-c's object tree, for tests only.  The daemons read
 * every message with the mpread cursor (common/wire/mpread.h) and write
 * maps with the counting writer (codec_map_*); the tests keep these to
 * build messages by hand (codec_pack_kv_*, after msgpack_pack_map) and to
 * inspect replies (codec_parse, codec_map_get, codec_get_*), so that what
 * they check is read by another reader than the one under test. */
#ifndef INV_TEST_MSGTREE_H
#define INV_TEST_MSGTREE_H

#include "codec.h"
#include "utf8.h"

#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

/* Parses buf into out (msgpack_unpacked_init'ed by the caller, who
 * destroys it): accepted exactly when codec_reader_check accepts buf.
 * 0, or -1 with *why. */
/* True when every map key in o (at any depth) is a string, as codec.h
 * promises.  Depth is bounded by msgpack-c's own nesting limit. */
static inline bool
codec_keys_ok(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!codec_keys_ok(&o->via.array.ptr[i]))
                return false;
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
                !codec_keys_ok(&o->via.map.ptr[i].val))
                return false;
    }
    return true;
}

static inline int
codec_parse(const void *buf, size_t len, msgpack_unpacked *out, const char **why)
{
    mpread_t shape; /* the cursor decoders' checks first: they bound the allocations below */
    if (codec_reader_init(&shape, buf, len, why) != 0)
        return -1;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(out, buf, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        *why = "not decodable as msgpack";
        return -1;
    }
    if (!codec_keys_ok(&out->data)) {
        *why = "map keys must be strings";
        return -1;
    }
    return 0;
}

/* The value of key in map (its first occurrence); NULL when map is not a
 * map or lacks key. */
static inline const msgpack_object *
codec_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Typed reads: 0, or -1 on a wrong type (or out of int64 range). */
static inline int
codec_get_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -1;
}

static inline int
codec_get_str(const msgpack_object *o, const char **s, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

static inline int
codec_get_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = o->via.boolean;
    return 0;
}

/* A string copied into buf, NUL-terminated; -1 on a wrong type, when it
 * does not fit, or holds a NUL or invalid UTF-8. */
static inline int
codec_copy_str(const msgpack_object *o, char *buf, size_t cap)
{
    const char *s;
    size_t n;
    if (codec_get_str(o, &s, &n) != 0 || n >= cap || !utf8_valid(s, n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* Entries of a map whose header the caller wrote with msgpack_pack_map(n). */
static inline void
codec_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    codec_pack_cstr(pk, key);
    codec_pack_cstr(pk, value);
}

static inline void
codec_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    codec_pack_cstr(pk, key);
    msgpack_pack_int64(pk, value);
}

static inline void
codec_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    codec_pack_cstr(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

#endif
