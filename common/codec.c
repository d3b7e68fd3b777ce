/* codec: see codec.h. */
#include "codec.h"

#include "strcopy.h"

#include <stdio.h>
#include <stddef.h>
#include <string.h>

/* ---- structural pre-check ------------------------------------------------ */

/* Reads a big-endian unsigned of n bytes at p. */
static uint64_t
be_read(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walks the bytes once and checks that every container's count fits in the
 * bytes that remain (each element takes at least one byte).  This bounds
 * msgpack-c's allocations by the message size. */
static int
codec_shape_ok(const uint8_t *p, size_t len)
{
    size_t i = 0;
    uint64_t pending = 1; /* items still to read */
    while (pending > 0) {
        if (i >= len || pending > len - i)
            return -1;
        uint8_t c = p[i++];
        pending--;
        uint64_t skip = 0, add = 0;
        int nb = 0;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool */
        } else if (c >= 0x80 && c <= 0x8f) {
            add = 2u * (c & 0x0f);
        } else if (c >= 0x90 && c <= 0x9f) {
            add = c & 0x0f;
        } else if (c >= 0xa0 && c <= 0xbf) {
            skip = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4:
            case 0xd9:
                nb = 1;
                break; /* bin8, str8 */
            case 0xc5:
            case 0xda:
                nb = 2;
                break; /* bin16, str16 */
            case 0xc6:
            case 0xdb:
                nb = 4;
                break; /* bin32, str32 */
            case 0xc7:
                nb = 1;
                skip = 1;
                break; /* ext8 (+type) */
            case 0xc8:
                nb = 2;
                skip = 1;
                break;
            case 0xc9:
                nb = 4;
                skip = 1;
                break;
            case 0xca:
                skip = 4;
                break;
            case 0xcb:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; /* fixext 1..16 (+type) */
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xde:
                nb = 2;
                break; /* array16, map16 */
            case 0xdd:
            case 0xdf:
                nb = 4;
                break; /* array32, map32 */
            default:
                return -1; /* 0xc1 */
            }
            if (nb) {
                if (len - i < (size_t)nb)
                    return -1;
                uint64_t n = be_read(p + i, nb);
                i += (size_t)nb;
                if (c == 0xdc || c == 0xdd)
                    add = n;
                else if (c == 0xde || c == 0xdf)
                    add = 2 * n;
                else
                    skip += n;
            }
        }
        if (skip > len - i)
            return -1;
        i += (size_t)skip;
        pending += add;
    }
    return i == len ? 0 : -1;
}

/* True when every map key in o (at any depth) is a string, as codec.h
 * promises.  Depth is bounded by msgpack-c's own nesting limit. */
static bool
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

int
codec_parse(const void *buf, size_t len, msgpack_unpacked *out, const char **why)
{
    if (len == 0) {
        *why = "empty message";
        return -1;
    }
    if (codec_shape_ok(buf, len) != 0) {
        *why = "not a single well-formed msgpack object";
        return -1;
    }
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

/* ---- typed access -------------------------------------------------------- */

const msgpack_object *
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

int
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

int
codec_get_str(const msgpack_object *o, const char **s, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

int
codec_get_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = o->via.boolean;
    return 0;
}

int
codec_copy_str(const msgpack_object *o, char *buf, size_t cap)
{
    const char *s;
    size_t n;
    if (codec_get_str(o, &s, &n) != 0 || n >= cap)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* ---- packing helpers ----------------------------------------------------- */

void
codec_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void
codec_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    codec_pack_cstr(pk, key);
    codec_pack_cstr(pk, value);
}

void
codec_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    codec_pack_cstr(pk, key);
    msgpack_pack_int64(pk, value);
}

void
codec_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    codec_pack_cstr(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void
codec_pack_raw(msgpack_packer *pk, const void *bytes, size_t len)
{
    pk->callback(pk->data, bytes, len);
}

void
codec_writer_init(codec_writer_t *w)
{
    msgpack_sbuffer_init(&w->buf);
    msgpack_packer_init(&w->pk, &w->buf, msgpack_sbuffer_write);
}

void
codec_writer_reset(codec_writer_t *w)
{
    w->buf.size = 0;
}

void
codec_writer_fini(codec_writer_t *w)
{
    msgpack_sbuffer_destroy(&w->buf);
}

/* ---- fields -------------------------------------------------------------- */

static int
popcount32(uint32_t v)
{
    return __builtin_popcount(v);
}

static void
codec_pack_fields(msgpack_packer *pk, const fields_t *fs, uint32_t which)
{
    msgpack_pack_map(pk, (size_t)popcount32(which & fs->present));
    for (int f = 0; f < F__COUNT; f++) {
        if (!(which & fs->present & FIELD_BIT(f)))
            continue;
        if (fields_spec(f)->kind == FK_INT)
            codec_pack_kv_int(pk, fields_spec(f)->name, fs->num[f]);
        else
            codec_pack_kv_str(pk, fields_spec(f)->name, fields_cstr(fs, f));
    }
}

/* Decodes a data map into fields.  Wrong shapes return -1 with why (the
 * caller says malformed); rule violations go to errs (NULL: treat as -1). */
static int
codec_decode_fields(const msgpack_object *map, fields_t *fs, field_errors_t *errs, const char **why)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        *why = "data must be a map";
        return -1;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            *why = "data keys must be strings";
            return -1;
        }
        int f = fields_lookup(k->via.str.ptr, k->via.str.size);
        if (f < 0) {
            if (!errs) {
                *why = "unknown field in data";
                return -1;
            }
            char name[32];
            size_t n = k->via.str.size < sizeof name - 1 ? k->via.str.size : sizeof name - 1;
            memcpy(name, k->via.str.ptr, n);
            name[n] = '\0';
            for (size_t j = 0; j < n; j++)
                if ((unsigned char)name[j] < 0x20 || (unsigned char)name[j] >= 0x7f)
                    name[j] = '?';
            field_errors_add(errs, name, "is not a known field");
            continue;
        }
        const char *msg;
        if (fields_spec(f)->kind == FK_INT) {
            int64_t val;
            if (codec_get_int(v, &val) != 0) {
                *why = "wrong type: an integer field holds something else";
                return -1;
            }
            msg = fields_check_int(f, val);
            if (!msg)
                fields_set_int(fs, f, val);
        } else {
            const char *s;
            size_t n;
            if (codec_get_str(v, &s, &n) != 0) {
                *why = "wrong type: a string field holds something else";
                return -1;
            }
            msg = fields_check_str(f, s, n);
            if (!msg) {
                memcpy(fields_str(fs, f), s, n);
                fields_str(fs, f)[n] = '\0';
                fs->present |= FIELD_BIT(f);
            }
        }
        if (msg) {
            if (!errs) {
                *why = "a field breaks its rules";
                return -1;
            }
            field_errors_add(errs, fields_spec(f)->name, msg);
        }
    }
    return 0;
}

/* ---- commands ------------------------------------------------------------ */

static const char *
codec_command_envelope(const msgpack_object *root, command_t *cmd, field_errors_t *errs)
{
    const msgpack_object *o;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return "keys must be strings";
        static const char *const known[] = {"type", "command_id", "correlation_id",
                                            "expected_version", "data"};
        bool ok = false;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            if (k->via.str.size == strlen(known[j]) &&
                memcmp(k->via.str.ptr, known[j], k->via.str.size) == 0)
                ok = true;
        if (!ok)
            return "unknown key in command";
    }
    const char *s;
    size_t n;
    if (!(o = codec_map_get(root, "command_id")) || codec_get_str(o, &s, &n) != 0)
        return "command_id must be a string";
    if (message_id_valid(s, n)) {
        memcpy(cmd->command_id, s, n);
        cmd->command_id[n] = '\0';
    } else {
        field_errors_add(errs, "command_id", "must be 1..64 bytes of [A-Za-z0-9_.:-]");
    }
    if ((o = codec_map_get(root, "correlation_id")) && o->type != MSGPACK_OBJECT_NIL) {
        if (codec_get_str(o, &s, &n) != 0)
            return "correlation_id must be a string";
        if (message_id_valid(s, n)) {
            memcpy(cmd->correlation_id, s, n);
            cmd->correlation_id[n] = '\0';
        } else {
            field_errors_add(errs, "correlation_id", "must be 1..64 bytes of [A-Za-z0-9_.:-]");
        }
    }
    if ((o = codec_map_get(root, "expected_version")) && o->type != MSGPACK_OBJECT_NIL) {
        if (codec_get_int(o, &cmd->expected_version) != 0)
            return "expected_version must be an integer";
        if (cmd->expected_version < 0)
            field_errors_add(errs, "expected_version", "must be >= 0");
        cmd->has_expected_version = true;
    }
    return NULL;
}

_Static_assert(offsetof(command_t, data) + sizeof(fields_t) == sizeof(command_t),
               "codec_decode_command clears command_t up to data, then data");

reject_code_t
codec_decode_command(const void *buf, size_t len, command_t *cmd, field_errors_t *errs, char *why,
                     size_t why_cap)
{
    memset(cmd, 0, offsetof(command_t, data));
    fields_clear(&cmd->data);
    errs->count = 0;
    if (len > CODEC_MAX_MESSAGE) {
        snprintf(why, why_cap, "message of %zu bytes exceeds the limit of %d", len,
                 CODEC_MAX_MESSAGE);
        return REJ_MALFORMED;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *reason = NULL;
    reject_code_t rc = REJ_MALFORMED;
    if (codec_parse(buf, len, &u, &reason) != 0)
        goto out;
    const msgpack_object *root = &u.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        reason = "a command must be a map";
        goto out;
    }
    const msgpack_object *t = codec_map_get(root, "type");
    const char *s;
    size_t n;
    if (!t || codec_get_str(t, &s, &n) != 0) {
        reason = "type must be a string";
        goto out;
    }
    int type = command_type_lookup(s, n);
    if (type < 0) {
        reason = "unknown command type";
        goto out;
    }
    cmd->type = (command_type_t)type;
    if ((reason = codec_command_envelope(root, cmd, errs)) != NULL)
        goto out;
    const msgpack_object *data = codec_map_get(root, "data");
    if (!data) {
        reason = "data must be a map";
        goto out;
    }
    if (codec_decode_fields(data, &cmd->data, errs, &reason) != 0)
        goto out;
    command_check_fields(cmd, errs);
    rc = errs->count ? REJ_VALIDATION : REJ_NONE;
out:
    if (rc == REJ_MALFORMED)
        strcopy(why, why_cap, reason ? reason : "malformed");
    msgpack_unpacked_destroy(&u);
    return rc;
}

void
codec_pack_command(msgpack_packer *pk, const command_t *cmd)
{
    size_t n = 3 + (cmd->correlation_id[0] != '\0') + cmd->has_expected_version;
    msgpack_pack_map(pk, n);
    codec_pack_kv_str(pk, "type", command_spec(cmd->type)->name);
    codec_pack_kv_str(pk, "command_id", cmd->command_id);
    if (cmd->correlation_id[0])
        codec_pack_kv_str(pk, "correlation_id", cmd->correlation_id);
    if (cmd->has_expected_version)
        codec_pack_kv_int(pk, "expected_version", cmd->expected_version);
    codec_pack_cstr(pk, "data");
    codec_pack_fields(pk, &cmd->data, UINT32_MAX);
}

/* ---- events -------------------------------------------------------------- */

void
codec_pack_event_data(msgpack_packer *pk, event_type_t type, const fields_t *data)
{
    codec_pack_fields(pk, data, event_spec(type)->fields);
}

int
codec_decode_event_data(event_type_t type, int32_t schema, const msgpack_object *map, fields_t *out,
                        const char **why)
{
    fields_clear(out);
    if (schema < 1 || schema > event_spec(type)->schema) {
        *why = "unsupported event schema";
        return -1;
    }
    if (codec_decode_fields(map, out, NULL, why) != 0)
        return -1;
    /* Upcasters: one line per historical change of a payload. */
    if (type == EV_PRODUCT_CREATED && schema == 1 && !fields_has(out, F_LOW_STOCK_THRESHOLD))
        fields_set_int(out, F_LOW_STOCK_THRESHOLD, PRODUCT_V1_DEFAULT_THRESHOLD);
    if ((out->present & event_spec(type)->fields) != event_spec(type)->fields) {
        *why = "event data lacks a field of its type";
        return -1;
    }
    return 0;
}

static void
codec_pack_envelope(msgpack_packer *pk, const envelope_t *env)
{
    msgpack_pack_map(pk, 10);
    codec_pack_kv_int(pk, "position", env->position);
    codec_pack_kv_str(pk, "stream", env->stream);
    codec_pack_kv_int(pk, "version", env->version);
    codec_pack_kv_str(pk, "type", event_spec(env->type)->name);
    codec_pack_kv_int(pk, "schema", env->schema);
    codec_pack_kv_str(pk, "event_id", env->event_id);
    codec_pack_kv_str(pk, "command_id", env->command_id);
    codec_pack_kv_str(pk, "correlation_id", env->correlation_id);
    codec_pack_kv_int(pk, "recorded_at", env->recorded_at);
    codec_pack_cstr(pk, "data");
}

void
codec_pack_event_raw(msgpack_packer *pk, const envelope_t *env, const void *data, size_t data_len)
{
    codec_pack_envelope(pk, env);
    codec_pack_raw(pk, data, data_len);
}

void
codec_pack_event(msgpack_packer *pk, const event_t *ev)
{
    codec_pack_envelope(pk, &ev->env);
    codec_pack_event_data(pk, ev->env.type, &ev->data);
}

/* codec_map_get, trying entry `hint` first: our own encoder writes the
 * envelope keys in a fixed order, so the hint is almost always right. */
static const msgpack_object *
codec_map_get_hinted(const msgpack_object *o, const char *key, uint32_t hint)
{
    if (hint < o->via.map.size) {
        const msgpack_object *k = &o->via.map.ptr[hint].key;
        size_t klen = strlen(key);
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &o->via.map.ptr[hint].val;
    }
    return codec_map_get(o, key);
}

static int
codec_get_int_key(const msgpack_object *o, const char *key, uint32_t hint, int64_t *out)
{
    const msgpack_object *v = codec_map_get_hinted(o, key, hint);
    return v ? codec_get_int(v, out) : -1;
}

static int
codec_copy_key(const msgpack_object *o, const char *key, uint32_t hint, char *buf, size_t cap)
{
    const msgpack_object *v = codec_map_get_hinted(o, key, hint);
    return v ? codec_copy_str(v, buf, cap) : -1;
}

int
codec_decode_event_obj(const msgpack_object *o, event_t *ev, const char **why)
{
    envelope_t *e = &ev->env;
    memset(e, 0, sizeof *e);
    int64_t schema;
    char type[40];
    /* hints: the order of codec_pack_envelope */
    if (o->type != MSGPACK_OBJECT_MAP || codec_get_int_key(o, "position", 0, &e->position) ||
        codec_copy_key(o, "stream", 1, e->stream, sizeof e->stream) ||
        codec_get_int_key(o, "version", 2, &e->version) ||
        codec_copy_key(o, "type", 3, type, sizeof type) ||
        codec_get_int_key(o, "schema", 4, &schema) ||
        codec_copy_key(o, "event_id", 5, e->event_id, sizeof e->event_id) ||
        codec_copy_key(o, "command_id", 6, e->command_id, sizeof e->command_id) ||
        codec_copy_key(o, "correlation_id", 7, e->correlation_id, sizeof e->correlation_id) ||
        codec_get_int_key(o, "recorded_at", 8, &e->recorded_at)) {
        *why = "event envelope is incomplete or mistyped";
        return -1;
    }
    int t = event_type_lookup(type, strlen(type));
    if (t < 0 || schema < 1 || schema > INT32_MAX) {
        *why = "unknown event type or schema";
        return -1;
    }
    e->type = (event_type_t)t;
    e->schema = (int32_t)schema;
    const msgpack_object *data = codec_map_get_hinted(o, "data", 9);
    if (!data) {
        *why = "event has no data";
        return -1;
    }
    return codec_decode_event_data(e->type, e->schema, data, &ev->data, why);
}

int
codec_decode_event(const void *buf, size_t len, event_t *ev, const char **why)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = codec_parse(buf, len, &u, why);
    if (rc == 0)
        rc = codec_decode_event_obj(&u.data, ev, why);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* ---- replies ------------------------------------------------------------- */

void
codec_pack_command_reply(msgpack_packer *pk, const command_reply_t *r)
{
    if (r->accepted) {
        msgpack_pack_map(pk, 6);
        codec_pack_kv_bool(pk, "ok", true);
        codec_pack_kv_str(pk, "command_id", r->command_id);
        codec_pack_kv_str(pk, "stream", r->stream);
        codec_pack_kv_int(pk, "version", r->version);
        codec_pack_kv_int(pk, "position", r->position);
        codec_pack_kv_bool(pk, "duplicate", r->duplicate);
        return;
    }
    bool conflict = r->error == REJ_CONFLICT;
    msgpack_pack_map(pk, 5 + conflict);
    codec_pack_kv_bool(pk, "ok", false);
    codec_pack_kv_str(pk, "command_id", r->command_id);
    codec_pack_kv_str(pk, "error", reject_code_name(r->error));
    codec_pack_kv_str(pk, "message", r->message);
    if (conflict)
        codec_pack_kv_int(pk, "current_version", r->version);
    codec_pack_cstr(pk, "fields");
    msgpack_pack_map(pk, (size_t)r->fields.count);
    for (int i = 0; i < r->fields.count; i++)
        codec_pack_kv_str(pk, r->fields.items[i].field, r->fields.items[i].message);
}

static reject_code_t
codec_reject_lookup(const char *name)
{
    for (int i = 1; i < REJ__COUNT; i++)
        if (strcmp(reject_code_name(i), name) == 0)
            return (reject_code_t)i;
    return REJ_MALFORMED;
}

static void
codec_decode_reply_fields(const msgpack_object *o, field_errors_t *fe)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < o->via.map.size && fe->count < FIELD_ERRORS_MAX; i++) {
        if (codec_copy_str(&o->via.map.ptr[i].key, fe->items[fe->count].field,
                           sizeof fe->items[0].field) == 0 &&
            codec_copy_str(&o->via.map.ptr[i].val, fe->items[fe->count].message,
                           sizeof fe->items[0].message) == 0)
            fe->count++;
    }
}

void
command_reply_clear(command_reply_t *r)
{
    r->accepted = false;
    r->error = REJ_NONE;
    r->command_id[0] = r->stream[0] = r->message[0] = '\0';
    r->version = r->position = 0;
    r->duplicate = false;
    r->fields.count = 0;
}

int
codec_decode_command_reply(const void *buf, size_t len, command_reply_t *r)
{
    command_reply_clear(r);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    int rc = -1;
    if (codec_parse(buf, len, &u, &why) != 0)
        goto out;
    const msgpack_object *o = &u.data, *v;
    if (!(v = codec_map_get(o, "ok")) || codec_get_bool(v, &r->accepted) != 0)
        goto out;
    /* hints: the order of codec_pack_command_reply */
    codec_copy_key(o, "command_id", 1, r->command_id, sizeof r->command_id);
    if (r->accepted) {
        codec_copy_key(o, "stream", 2, r->stream, sizeof r->stream);
        codec_get_int_key(o, "version", 3, &r->version);
        codec_get_int_key(o, "position", 4, &r->position);
        if ((v = codec_map_get(o, "duplicate")))
            codec_get_bool(v, &r->duplicate);
    } else {
        char err[32] = "";
        codec_copy_key(o, "error", 2, err, sizeof err);
        r->error = codec_reject_lookup(err);
        codec_copy_key(o, "message", 3, r->message, sizeof r->message);
        codec_get_int_key(o, "current_version", 4, &r->version);
        codec_decode_reply_fields(codec_map_get(o, "fields"), &r->fields);
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}
