/* codec: see codec.h. */
#include "codec.h"

#include "aggregate.h"

#include "mpread.h"
#include "strcopy.h"
#include "utf8.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- packing helpers ----------------------------------------------------- */

void
codec_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
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
    w->depth = 0;
}

void
codec_writer_reset(codec_writer_t *w)
{
    w->buf.size = 0;
    w->depth = 0;
}

void
codec_writer_fini(codec_writer_t *w)
{
    msgpack_sbuffer_destroy(&w->buf);
}

/* ---- maps that count their entries ---------------------------------------- */

void
codec_map_open(codec_writer_t *w)
{
    assert(w->depth < CODEC_MAP_DEPTH);
    w->map_at[w->depth] = w->buf.size;
    w->map_n[w->depth] = 0;
    w->depth++;
    msgpack_pack_map(&w->pk, 0); /* one byte, patched at close */
}

/* Replaces the one-byte header at `at` by the map16/map32 header of n
 * entries, moving the entries after it up. */
static void
codec_map_widen(codec_writer_t *w, size_t at, uint32_t n)
{
    unsigned char head[5];
    size_t len = n < 65536 ? 3 : 5;
    head[0] = n < 65536 ? 0xde : 0xdf;
    for (size_t i = 1; i < len; i++)
        head[i] = (unsigned char)(n >> (8 * (len - 1 - i)));
    size_t body = w->buf.size - at - 1;
    if (msgpack_sbuffer_write(&w->buf, (const char *)head, len - 1) != 0)
        return; /* out of memory: the message is broken, as a failed pack leaves it */
    memmove(w->buf.data + at + len, w->buf.data + at + 1, body);
    memcpy(w->buf.data + at, head, len);
}

void
codec_map_close(codec_writer_t *w)
{
    assert(w->depth > 0);
    w->depth--;
    size_t at = w->map_at[w->depth];
    uint32_t n = w->map_n[w->depth];
    if (at >= w->buf.size)
        return; /* the header itself could not be written */
    if (n < 16)
        w->buf.data[at] = (char)(0x80 | n);
    else
        codec_map_widen(w, at, n);
}

void
codec_map_key(codec_writer_t *w, const char *key)
{
    assert(w->depth > 0);
    w->map_n[w->depth - 1]++;
    codec_pack_cstr(&w->pk, key);
}

void
codec_map_str(codec_writer_t *w, const char *key, const char *value)
{
    codec_map_key(w, key);
    codec_pack_cstr(&w->pk, value);
}

void
codec_map_str_n(codec_writer_t *w, const char *key, const char *value, size_t len)
{
    codec_map_key(w, key);
    msgpack_pack_str(&w->pk, len);
    msgpack_pack_str_body(&w->pk, value, len);
}

void
codec_map_int(codec_writer_t *w, const char *key, int64_t value)
{
    codec_map_key(w, key);
    msgpack_pack_int64(&w->pk, value);
}

void
codec_map_bool(codec_writer_t *w, const char *key, bool value)
{
    codec_map_key(w, key);
    if (value)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

void
codec_map_fields(codec_writer_t *w, const codec_field_t *fields, size_t n, const void *obj)
{
    const char *base = obj;
    for (size_t i = 0; i < n; i++) {
        const void *m = base + fields[i].offset;
        switch (fields[i].kind) {
        case CODEC_FIELD_TEXT:
            codec_map_str(w, fields[i].key, m);
            break;
        case CODEC_FIELD_INT:
            codec_map_int(w, fields[i].key, *(const int64_t *)m);
            break;
        case CODEC_FIELD_BOOL:
            codec_map_bool(w, fields[i].key, *(const bool *)m);
            break;
        }
    }
}

void
codec_map_nil(codec_writer_t *w, const char *key)
{
    codec_map_key(w, key);
    msgpack_pack_nil(&w->pk);
}

void
codec_map_merge(codec_writer_t *w, const codec_writer_t *from)
{
    assert(w->depth > 0 && from->depth == 1);
    size_t at = from->map_at[0] + 1;
    if (at > from->buf.size)
        return;
    codec_pack_raw(&w->pk, from->buf.data + at, from->buf.size - at);
    w->map_n[w->depth - 1] += from->map_n[0];
}

/* ---- fields -------------------------------------------------------------- */

static void
codec_pack_fields(codec_writer_t *w, const fields_t *fs, uint32_t which)
{
    codec_map_open(w);
    for (int f = 0; f < F__COUNT; f++) {
        if (!(which & fs->present & FIELD_BIT(f)))
            continue;
        if (fields_spec(f)->kind == FK_INT)
            codec_map_int(w, fields_spec(f)->name, fs->num[f]);
        else
            codec_map_str(w, fields_spec(f)->name, fields_cstr(fs, f));
    }
    codec_map_close(w);
}

/* ---- cursor decoding (mpread.h) ------------------------------------------ */

int
codec_reader_init(mpread_t *r, const void *buf, size_t len, const char **why)
{
    if (len == 0) {
        *why = "empty message";
        return -1;
    }
    if (!mpread_well_formed(buf, len)) {
        *why = "not a single well-formed msgpack object";
        return -1;
    }
    mpread_init(r, buf, len);
    return 0;
}

int
codec_reader_check(mpread_t *r, const void *buf, size_t len, const char **why)
{
    if (codec_reader_init(r, buf, len, why) != 0)
        return -1;
    mpread_t all = *r;
    if (mpread_skip(&all) != 0) {
        *why = "map keys must be strings, nesting at most 32 deep";
        return -1;
    }
    return 0;
}

/* The index in keys[] of the key s (n bytes), trying keys[hint] first: our
 * own encoders write the keys in the order of keys[]. */
static int
codec_key_find(const codec_key_t *keys, int nkeys, const char *s, size_t n, uint32_t hint)
{
    if (hint < (uint32_t)nkeys && keys[hint].len == n && memcmp(keys[hint].name, s, n) == 0)
        return (int)hint;
    for (int k = 0; k < nkeys; k++)
        if (keys[k].len == n && memcmp(keys[k].name, s, n) == 0)
            return k;
    return -1;
}

/* Reads the map at r, noting in vals[k] where the value of keys[k] begins;
 * bit k of *found says that keys[k] was there, and *unknown counts the
 * other keys.  -1 when r holds no map, -2 when a key (at any depth) is not
 * a string, -3 when a key of keys[] is given twice. */
int
codec_map_index(mpread_t *r, const codec_key_t *keys, int nkeys, mpread_t *vals, uint32_t *found,
                int *unknown)
{
    uint32_t n;
    *found = 0;
    *unknown = 0;
    if (mpread_map(r, &n) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (mpread_str(r, &s, &len) != 0)
            return -2;
        int k = codec_key_find(keys, nkeys, s, len, i);
        if (k < 0) {
            (*unknown)++;
        } else {
            if (*found & (1u << k))
                return -3; /* a key given twice: which one counts is for no reader to guess */
            vals[k] = *r;
            *found |= 1u << k;
        }
        if (mpread_skip(r) != 0)
            return -2;
    }
    return 0;
}

/* Copies a field name for an error message, non-printable bytes as '?'. */
static void
codec_field_name(char *name, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    memcpy(name, s, n);
    name[n] = '\0';
    for (size_t j = 0; j < n; j++)
        if ((unsigned char)name[j] < 0x20 || (unsigned char)name[j] >= 0x7f)
            name[j] = '?';
}

/* Reads one field's value at r into fs.  -1 with why on a wrong type;
 * a broken rule sets *msg instead. */
static int
codec_read_field(mpread_t *r, int f, fields_t *fs, const char **msg, const char **why)
{
    if (fields_spec(f)->kind == FK_INT) {
        int64_t val;
        if (mpread_int(r, &val) != 0) {
            *why = "wrong type: an integer field holds something else";
            return -1;
        }
        if (!(*msg = fields_check_int(f, val)))
            fields_set_int(fs, f, val);
        return 0;
    }
    const char *s;
    size_t n;
    if (mpread_str(r, &s, &n) != 0) {
        *why = "wrong type: a string field holds something else";
        return -1;
    }
    if (!(*msg = fields_check_str(f, s, n))) {
        memcpy(fields_str(fs, f), s, n);
        fields_str(fs, f)[n] = '\0';
        fs->present |= FIELD_BIT(f);
    }
    return 0;
}

/* Reads a data map into fields.  Wrong shapes return -1 with why (the
 * caller says malformed); rule violations go to errs (NULL: treat as -1). */
static int
codec_read_fields(mpread_t *r, fields_t *fs, field_errors_t *errs, const char **why)
{
    uint32_t n;
    if (mpread_map(r, &n) != 0) {
        *why = "data must be a map";
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        if (mpread_str(r, &k, &klen) != 0) {
            *why = "data keys must be strings";
            return -1;
        }
        int f = fields_lookup(k, klen);
        const char *msg = NULL;
        if (f < 0) {
            if (!errs) {
                *why = "unknown field in data";
                return -1;
            }
            char name[32];
            codec_field_name(name, sizeof name, k, klen);
            field_errors_add(errs, name, "is not a known field");
            if (mpread_skip(r) != 0) {
                *why = "map keys must be strings";
                return -1;
            }
            continue;
        }
        if (fs->present & FIELD_BIT(f)) {
            *why = CODEC_DUPLICATE_KEY;
            return -1;
        }
        if (codec_read_field(r, f, fs, &msg, why) != 0)
            return -1;
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

enum { CK_TYPE, CK_COMMAND_ID, CK_CORRELATION_ID, CK_EXPECTED_VERSION, CK_DATA, CK__COUNT };
_Static_assert(CK__COUNT == CODEC_COMMAND_NKEYS && CK_TYPE == 0, "codec.h names the keys");
const codec_key_t codec_command_keys[CODEC_COMMAND_NKEYS] = {
    CODEC_KEY("type"), CODEC_KEY("command_id"), CODEC_KEY("correlation_id"),
    CODEC_KEY("expected_version"), CODEC_KEY("data")};

/* An id of the envelope (command_id, correlation_id) into out, or a
 * validation error naming it in errs.  -1 when it is not a string. */
static int
codec_read_id(mpread_t *v, const char *name, char *out, field_errors_t *errs)
{
    const char *s;
    size_t n;
    if (mpread_str(v, &s, &n) != 0)
        return -1;
    if (message_id_valid(s, n)) {
        memcpy(out, s, n);
        out[n] = '\0';
    } else {
        field_errors_add(errs, name, "must be 1..64 bytes of [A-Za-z0-9_.:-]");
    }
    return 0;
}

/* The envelope's ids and expected version, from the values codec_map_index
 * found; a reason when one has the wrong type (malformed), the values that
 * break a rule in errs (validation). */
static const char *
codec_command_envelope(mpread_t *v, uint32_t found, int unknown, command_t *cmd,
                       field_errors_t *errs)
{
    if (unknown > 0)
        return "unknown key in command";
    if (!(found & (1u << CK_COMMAND_ID)) ||
        codec_read_id(&v[CK_COMMAND_ID], "command_id", cmd->command_id, errs) != 0)
        return "command_id must be a string";
    if ((found & (1u << CK_CORRELATION_ID)) && !mpread_nil(&v[CK_CORRELATION_ID]) &&
        codec_read_id(&v[CK_CORRELATION_ID], "correlation_id", cmd->correlation_id, errs) != 0)
        return "correlation_id must be a string";
    if ((found & (1u << CK_EXPECTED_VERSION)) && !mpread_nil(&v[CK_EXPECTED_VERSION])) {
        if (mpread_int(&v[CK_EXPECTED_VERSION], &cmd->expected_version) != 0)
            return "expected_version must be an integer";
        if (cmd->expected_version < 0)
            field_errors_add(errs, "expected_version", "must be >= 0");
        cmd->has_expected_version = true;
    }
    return NULL;
}

_Static_assert(offsetof(command_t, data) + sizeof(fields_t) == sizeof(command_t),
               "codec_decode_command clears command_t up to data, then data");

/* The command's type from its envelope, or a reason. */
static const char *
codec_command_type(mpread_t *v, uint32_t found, command_t *cmd)
{
    const char *s;
    size_t n;
    if (!(found & (1u << CK_TYPE)) || mpread_str(&v[CK_TYPE], &s, &n) != 0)
        return "type must be a string";
    int type = command_type_lookup(s, n);
    if (type < 0)
        return "unknown command type";
    cmd->type = (command_type_t)type;
    return NULL;
}

/* Decodes what follows the type: the envelope, then the data.  cmd and
 * errs are cleared by the caller. */
static reject_code_t
codec_command_rest(mpread_t *v, uint32_t found, int unknown, command_t *cmd, field_errors_t *errs,
                   char *why, size_t why_cap)
{
    const char *reason = NULL;
    reject_code_t rc = REJ_MALFORMED;
    if ((reason = codec_command_envelope(v, found, unknown, cmd, errs)) != NULL)
        goto out;
    if (!(found & (1u << CK_DATA))) {
        reason = "data must be a map";
        goto out;
    }
    if (codec_read_fields(&v[CK_DATA], &cmd->data, errs, &reason) != 0)
        goto out;
    command_check_fields(cmd, errs);
    rc = errs->count ? REJ_VALIDATION : REJ_NONE;
out:
    if (rc == REJ_MALFORMED)
        strcopy(why, why_cap, reason ? reason : "malformed");
    return rc;
}

static void
codec_command_clear(command_t *cmd, field_errors_t *errs)
{
    memset(cmd, 0, offsetof(command_t, data));
    fields_clear(&cmd->data);
    errs->count = 0;
}

reject_code_t
codec_decode_command_at(command_type_t type, mpread_t *vals, uint32_t found, int unknown,
                        command_t *cmd, field_errors_t *errs, char *why, size_t why_cap)
{
    codec_command_clear(cmd, errs);
    cmd->type = type;
    return codec_command_rest(vals, found, unknown, cmd, errs, why, why_cap);
}

reject_code_t
codec_decode_command(const void *buf, size_t len, command_t *cmd, field_errors_t *errs, char *why,
                     size_t why_cap)
{
    codec_command_clear(cmd, errs);
    if (len > CODEC_MAX_MESSAGE) {
        snprintf(why, why_cap, "message of %zu bytes exceeds the limit of %d", len,
                 CODEC_MAX_MESSAGE);
        return REJ_MALFORMED;
    }
    mpread_t r, v[CK__COUNT];
    uint32_t found;
    int unknown;
    const char *reason = NULL;
    if (codec_reader_init(&r, buf, len, &reason) != 0)
        goto malformed;
    int indexed = codec_map_index(&r, codec_command_keys, CK__COUNT, v, &found, &unknown);
    if (indexed != 0) {
        reason = indexed == -1   ? "a command must be a map"
                 : indexed == -3 ? CODEC_DUPLICATE_KEY
                                 : "map keys must be strings";
        goto malformed;
    }
    if ((reason = codec_command_type(v, found, cmd)) != NULL)
        goto malformed;
    return codec_command_rest(v, found, unknown, cmd, errs, why, why_cap);
malformed:
    strcopy(why, why_cap, reason);
    return REJ_MALFORMED;
}

void
codec_pack_command(codec_writer_t *w, const command_t *cmd)
{
    codec_map_open(w);
    codec_map_str(w, "type", command_spec(cmd->type)->name);
    codec_map_str(w, "command_id", cmd->command_id);
    if (cmd->correlation_id[0])
        codec_map_str(w, "correlation_id", cmd->correlation_id);
    if (cmd->has_expected_version)
        codec_map_int(w, "expected_version", cmd->expected_version);
    codec_map_key(w, "data");
    codec_pack_fields(w, &cmd->data, UINT32_MAX);
    codec_map_close(w);
}

/* ---- events -------------------------------------------------------------- */

void
codec_pack_event_data(codec_writer_t *w, event_type_t type, const fields_t *data)
{
    codec_pack_fields(w, data, event_spec(type)->fields);
}

/* Reads an event's data map at r, upcasting old schemas.  0 or -1 with why. */
static int
codec_read_event_data(event_type_t type, int32_t schema, mpread_t *r, fields_t *out,
                      const char **why)
{
    fields_clear(out);
    if (schema < 1 || schema > event_spec(type)->schema) {
        *why = "unsupported event schema";
        return -1;
    }
    if (codec_read_fields(r, out, NULL, why) != 0)
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

int
codec_decode_event_data(event_type_t type, int32_t schema, const void *buf, size_t len,
                        fields_t *out, const char **why)
{
    mpread_t r;
    if (codec_reader_init(&r, buf, len, why) != 0)
        return -1;
    return codec_read_event_data(type, schema, &r, out, why);
}

/* Opens the event's map and writes the envelope, up to the key "data". */
static void
codec_pack_envelope(codec_writer_t *w, const envelope_t *env)
{
    codec_map_open(w);
    codec_map_int(w, "position", env->position);
    codec_map_str(w, "stream", env->stream);
    codec_map_int(w, "version", env->version);
    codec_map_str(w, "type", event_spec(env->type)->name);
    codec_map_int(w, "schema", env->schema);
    codec_map_str(w, "event_id", env->event_id);
    codec_map_str(w, "command_id", env->command_id);
    codec_map_str(w, "correlation_id", env->correlation_id);
    codec_map_int(w, "recorded_at", env->recorded_at);
    codec_map_key(w, "hash");
    msgpack_pack_bin(&w->pk, sizeof env->hash);
    msgpack_pack_bin_body(&w->pk, env->hash, sizeof env->hash);
    codec_map_key(w, "data");
}

void
codec_pack_event_raw(codec_writer_t *w, const envelope_t *env, const void *data, size_t data_len)
{
    codec_pack_envelope(w, env);
    codec_pack_raw(&w->pk, data, data_len);
    codec_map_close(w);
}

void
codec_pack_event(codec_writer_t *w, const event_t *ev)
{
    codec_pack_envelope(w, &ev->env);
    codec_pack_event_data(w, ev->env.type, &ev->data);
    codec_map_close(w);
}

enum {
    EK_POSITION,
    EK_STREAM,
    EK_VERSION,
    EK_TYPE,
    EK_SCHEMA,
    EK_EVENT_ID,
    EK_COMMAND_ID,
    EK_CORRELATION_ID,
    EK_RECORDED_AT,
    EK_HASH, /* optional here; the subscribers' chain check requires it */
    EK_DATA,
    EK__COUNT
};
/* In the order of codec_pack_envelope. */
static const codec_key_t event_keys[EK__COUNT] = {
    CODEC_KEY("position"),   CODEC_KEY("stream"),         CODEC_KEY("version"),
    CODEC_KEY("type"),       CODEC_KEY("schema"),         CODEC_KEY("event_id"),
    CODEC_KEY("command_id"), CODEC_KEY("correlation_id"), CODEC_KEY("recorded_at"),
    CODEC_KEY("hash"),       CODEC_KEY("data")};

/* The event's hash: a bin of exactly 32 bytes.  0 or -1. */
static int
codec_read_hash(mpread_t *r, uint8_t *hash, size_t len)
{
    mpread_t at = *r;
    if (mpread_peek(r) != MP_BIN || mpread_skip(&at) != 0 || (size_t)(at.p - r->p) != len + 2 ||
        r->p[0] != 0xc4 || r->p[1] != len)
        return -1;
    memcpy(hash, r->p + 2, len);
    *r = at;
    return 0;
}

/* Copies the string at r into buf (cap bytes with the NUL): -1 when it is
 * not a string, does not fit or holds a NUL (which would cut the C string
 * short).  The envelope's strings are then held to the id alphabet or an
 * exact name, which says more than UTF-8 validity and costs one pass.  An
 * envelope id (is_id) is "" or 1..64 bytes of the id alphabet, as a
 * command's ids (checked on the bytes before the copy: one pass). */
static int
codec_envelope_str(mpread_t *r, char *buf, size_t cap, bool is_id)
{
    mpread_t at = *r;
    const char *s;
    size_t n;
    if (mpread_str(&at, &s, &n) != 0 || n >= cap)
        return -1;
    if (is_id ? n > 0 && !message_id_valid(s, n) : memchr(s, '\0', n) != NULL)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *r = at;
    return 0;
}

/* Reads the value of envelope key k at r into e.  0 or -1. */
static int
codec_read_envelope_key(mpread_t *r, int k, envelope_t *e, int64_t *schema, char *type,
                        size_t type_cap)
{
    switch (k) {
    case EK_POSITION:
        return mpread_int(r, &e->position);
    case EK_STREAM:
        return codec_envelope_str(r, e->stream, sizeof e->stream, false);
    case EK_VERSION:
        return mpread_int(r, &e->version);
    case EK_TYPE:
        return codec_envelope_str(r, type, type_cap, false);
    case EK_SCHEMA:
        return mpread_int(r, schema);
    case EK_EVENT_ID:
        return codec_envelope_str(r, e->event_id, sizeof e->event_id, true);
    case EK_COMMAND_ID:
        return codec_envelope_str(r, e->command_id, sizeof e->command_id, true);
    case EK_CORRELATION_ID:
        return codec_envelope_str(r, e->correlation_id, sizeof e->correlation_id, true);
    case EK_RECORDED_AT:
        return mpread_int(r, &e->recorded_at);
    case EK_HASH:
        return codec_read_hash(r, e->hash, sizeof e->hash);
    default:
        return -1;
    }
}

/* Sets e's type and schema from what the envelope held, once its stream is
 * known to be of a known kind with an id of the id alphabet (the ids were
 * checked as they were read: codec_envelope_str), as a command's strings
 * are: no control or bidi character reaches a log line or a read model
 * from the bus.  0 or -1. */
static int
codec_event_kind(envelope_t *e, const char *type, int64_t schema, const char **why)
{
    agg_kind_t kind;
    if (!aggregate_stream_kind(e->stream, &kind)) {
        *why = "event envelope holds a stream or id that breaks the command rules";
        return -1;
    }
    int t = event_type_lookup(type, strlen(type));
    if (t < 0 || schema < 1 || schema > INT32_MAX) {
        *why = "unknown event type or schema";
        return -1;
    }
    e->type = (event_type_t)t;
    e->schema = (int32_t)schema;
    return 0;
}

/* One pass over the event's map: envelope values as they come, the data
 * map as soon as the envelope is complete (our encoder writes it last), or
 * from where it was when it came earlier.  A repeated key is an error. */
int
codec_read_event(mpread_t *r, event_t *ev, const char **why)
{
    envelope_t *e = &ev->env;
    memset(e, 0, sizeof *e);
    ev->raw_data = NULL;
    ev->raw_len = 0;
    const uint32_t envelope = ((1u << EK__COUNT) - 1) & ~(1u << EK_DATA) & ~(1u << EK_HASH);
    uint32_t n, found = 0;
    int64_t schema = 0;
    char type[40] = "";
    mpread_t data = *r;
    bool data_read = false;
    *why = "event envelope is incomplete or mistyped";
    if (mpread_map(r, &n) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        size_t klen;
        if (mpread_str(r, &key, &klen) != 0) {
            *why = "map keys must be strings";
            return -1;
        }
        int k = codec_key_find(event_keys, EK__COUNT, key, klen, i);
        if (k >= 0 && (found & (1u << k))) {
            *why = CODEC_DUPLICATE_KEY;
            return -1;
        }
        if (k >= 0)
            found |= 1u << k;
        if (k == EK_DATA && (found & envelope) == envelope) {
            ev->raw_data = r->p;
            if (codec_event_kind(e, type, schema, why) != 0 ||
                codec_read_event_data(e->type, e->schema, r, &ev->data, why) != 0)
                return -1;
            ev->raw_len = (size_t)(r->p - (const uint8_t *)ev->raw_data);
            data_read = true;
            continue;
        }
        if (k == EK_DATA)
            data = *r;
        if (k < 0 || k == EK_DATA) {
            if (mpread_skip(r) != 0) {
                *why = "map keys must be strings";
                return -1;
            }
        } else if (codec_read_envelope_key(r, k, e, &schema, type, sizeof type) != 0) {
            return -1;
        }
    }
    if ((found & envelope) != envelope)
        return -1;
    if (data_read)
        return 0;
    if (!(found & (1u << EK_DATA))) {
        *why = "event has no data";
        return -1;
    }
    if (codec_event_kind(e, type, schema, why) != 0)
        return -1;
    ev->raw_data = data.p;
    if (codec_read_event_data(e->type, e->schema, &data, &ev->data, why) != 0)
        return -1;
    ev->raw_len = (size_t)(data.p - (const uint8_t *)ev->raw_data);
    return 0;
}

int
codec_decode_event(const void *buf, size_t len, event_t *ev, const char **why)
{
    mpread_t r;
    if (codec_reader_init(&r, buf, len, why) != 0)
        return -1;
    return codec_read_event(&r, ev, why);
}

/* ---- replies ------------------------------------------------------------- */

void
codec_pack_field_errors(codec_writer_t *w, const field_errors_t *errs)
{
    codec_map_open(w);
    for (int i = 0; i < errs->count; i++)
        codec_map_str(w, errs->items[i].field, errs->items[i].message);
    codec_map_close(w);
}

void
codec_pack_status_wait(codec_writer_t *w, int64_t min_position, int64_t wait_ms)
{
    codec_map_open(w);
    codec_map_str(w, "type", "Status");
    codec_map_int(w, "min_position", min_position);
    codec_map_int(w, "wait_ms", wait_ms);
    codec_map_close(w);
}

/* An accepted reply's entries after "ok". */
static const codec_field_t reply_fields[] = {
    CODEC_FIELD(TEXT, command_reply_t, command_id), CODEC_FIELD(TEXT, command_reply_t, stream),
    CODEC_FIELD(INT, command_reply_t, version),     CODEC_FIELD(INT, command_reply_t, position),
    CODEC_FIELD(BOOL, command_reply_t, duplicate)};

void
codec_pack_command_reply(codec_writer_t *w, const command_reply_t *r)
{
    if (!r->accepted) {
        codec_error_t e = {.code = reject_code_name(r->error),
                           .message = r->message,
                           .command_id = r->command_id,
                           .current_version = r->error == REJ_CONFLICT ? &r->version : NULL,
                           .fields = &r->fields,
                           .leader = r->error == REJ_NOT_LEADER ? r->leader : NULL};
        codec_pack_error(w, &e);
        return;
    }
    codec_map_open(w);
    codec_map_bool(w, "ok", true);
    codec_map_fields(w, reply_fields, sizeof reply_fields / sizeof reply_fields[0], r);
    codec_map_close(w);
}

void
codec_pack_error(codec_writer_t *w, const codec_error_t *e)
{
    codec_map_open(w);
    codec_map_bool(w, "ok", false);
    if (e->command_id)
        codec_map_str(w, "command_id", e->command_id);
    codec_map_str(w, "error", e->code);
    codec_map_str(w, "message", e->message);
    if (e->current_version)
        codec_map_int(w, "current_version", *e->current_version);
    if (e->leader)
        codec_map_str(w, "leader", e->leader);
    if (e->fields) {
        codec_map_key(w, "fields");
        codec_pack_field_errors(w, e->fields);
    }
    codec_map_close(w);
}

void
codec_not_leader_message(char *buf, size_t cap, const char *what, const char *leader)
{
    if (leader && *leader)
        snprintf(buf, cap, "not leader: the active %.40s is at %.190s", what, leader);
    else
        snprintf(buf, cap, "not leader: no active %.40s is known yet (election in progress)", what);
}

void
command_reply_not_leader(command_reply_t *r, const char *command_id, const char *leader)
{
    command_reply_clear(r);
    r->error = REJ_NOT_LEADER;
    snprintf(r->command_id, sizeof r->command_id, "%s", command_id ? command_id : "");
    snprintf(r->leader, sizeof r->leader, "%s", leader ? leader : "");
    codec_not_leader_message(r->message, sizeof r->message, "command service", r->leader);
}

/* The value at v as a leader: "" or a valid endpoint.  0 or -1 (why). */
static int
codec_read_leader(mpread_t *v, char *leader, size_t cap, const char **why)
{
    const char *s;
    size_t n;
    leader[0] = '\0';
    if (mpread_str(v, &s, &n) != 0)
        *why = "its leader is not a string";
    else if (n > EPLIST_EP_MAX || n >= cap)
        *why = "its leader is too long to be an endpoint";
    else if (n > 0 && !eplist_valid(s, n))
        *why = "its leader is not an endpoint";
    else {
        memcpy(leader, s, n);
        leader[n] = '\0';
        return 0;
    }
    return -1;
}

int
codec_read_not_leader(const mpread_t *body, char *leader, size_t cap, const char **why)
{
    mpread_t v;
    bool ok = true;
    const char *s;
    size_t n;
    leader[0] = '\0';
    if (mpread_find(body, "ok", &v) != 0 || mpread_bool(&v, &ok) != 0 || ok ||
        mpread_find(body, "error", &v) != 0 || mpread_str(&v, &s, &n) != 0 ||
        n != sizeof "not_leader" - 1 || memcmp(s, "not_leader", n) != 0)
        return 0;
    if (mpread_find(body, "leader", &v) != 0) {
        *why = "a not_leader reply without its leader";
        return -1;
    }
    return codec_read_leader(&v, leader, cap, why) == 0 ? 1 : -1;
}

static reject_code_t
codec_reject_lookup(const char *name)
{
    for (int i = 1; i < REJ__COUNT; i++)
        if (strcmp(reject_code_name(i), name) == 0)
            return (reject_code_t)i;
    return REJ_MALFORMED;
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
    r->leader[0] = '\0';
}

static void
codec_read_reply_fields(mpread_t *v, field_errors_t *fe)
{
    uint32_t n;
    if (mpread_map(v, &n) != 0)
        return;
    for (uint32_t i = 0; i < n && fe->count < FIELD_ERRORS_MAX; i++) {
        if (mpread_str_copy(v, fe->items[fe->count].field, sizeof fe->items[0].field) == 0 &&
            mpread_str_copy(v, fe->items[fe->count].message, sizeof fe->items[0].message) == 0)
            fe->count++;
        else
            return;
    }
}

enum {
    RK_OK,
    RK_COMMAND_ID,
    RK_STREAM,
    RK_VERSION,
    RK_POSITION,
    RK_DUPLICATE,
    RK_ERROR,
    RK_MESSAGE,
    RK_CURRENT_VERSION,
    RK_FIELDS,
    RK_LEADER,
    RK__COUNT
};
/* In the order of codec_pack_command_reply (accepted; then rejected). */
static const codec_key_t reply_keys[RK__COUNT] = {
    CODEC_KEY("ok"),      CODEC_KEY("command_id"), CODEC_KEY("stream"),
    CODEC_KEY("version"), CODEC_KEY("position"),   CODEC_KEY("duplicate"),
    CODEC_KEY("error"),   CODEC_KEY("message"),    CODEC_KEY("current_version"),
    CODEC_KEY("fields"),  CODEC_KEY("leader")};

int
codec_decode_command_reply(const void *buf, size_t len, command_reply_t *r)
{
    command_reply_clear(r);
    mpread_t rd, v[RK__COUNT];
    uint32_t found;
    int unknown;
    const char *why;
    if (codec_reader_init(&rd, buf, len, &why) != 0 ||
        codec_map_index(&rd, reply_keys, RK__COUNT, v, &found, &unknown) != 0 ||
        !(found & (1u << RK_OK)) || mpread_bool(&v[RK_OK], &r->accepted) != 0)
        return -1;
        /* The rest is best effort, as before: a missing or mistyped value
         * leaves its member as command_reply_clear set it. */
#define HAS(k) (found & (1u << (k)))
    if (HAS(RK_COMMAND_ID))
        mpread_str_copy(&v[RK_COMMAND_ID], r->command_id, sizeof r->command_id);
    if (r->accepted) {
        if (HAS(RK_STREAM))
            mpread_str_copy(&v[RK_STREAM], r->stream, sizeof r->stream);
        if (HAS(RK_VERSION))
            mpread_int(&v[RK_VERSION], &r->version);
        if (HAS(RK_POSITION))
            mpread_int(&v[RK_POSITION], &r->position);
        if (HAS(RK_DUPLICATE))
            mpread_bool(&v[RK_DUPLICATE], &r->duplicate);
        return 0;
    }
    char err[32] = "";
    if (HAS(RK_ERROR))
        mpread_str_copy(&v[RK_ERROR], err, sizeof err);
    r->error = codec_reject_lookup(err);
    if (HAS(RK_MESSAGE))
        mpread_str_copy(&v[RK_MESSAGE], r->message, sizeof r->message);
    if (HAS(RK_CURRENT_VERSION))
        mpread_int(&v[RK_CURRENT_VERSION], &r->version);
    if (HAS(RK_FIELDS))
        codec_read_reply_fields(&v[RK_FIELDS], &r->fields);
    if (r->error == REJ_NOT_LEADER &&
        (!HAS(RK_LEADER) || codec_read_leader(&v[RK_LEADER], r->leader, sizeof r->leader, &why)))
        return -1; /* strict: a client must not follow it */
#undef HAS
    return 0;
}
