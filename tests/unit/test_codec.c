/* Unit tests of common/wire/codec: round trips of every encoder, and a strict,
 * crash-free decoder for truncated, random, hostile and mistyped input. */
#include "codec.h"
#include "msgtree.h"
#include "sample.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

static reject_code_t
decode(const void *buf, size_t len, command_t *cmd, field_errors_t *errs)
{
    char why[128] = "";
    reject_code_t rc = codec_decode_command(buf, len, cmd, errs, why, sizeof why);
    if (rc == REJ_MALFORMED)
        cr_assert_neq(why[0], '\0', "a malformed rejection says why");
    return rc;
}

/* Decodes into heap storage (command_t is large) and returns the code. */
static reject_code_t
decode_code(const void *buf, size_t len)
{
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t *errs = malloc(sizeof *errs);
    cr_assert(cmd && errs);
    reject_code_t rc = decode(buf, len, cmd, errs);
    free(cmd);
    free(errs);
    return rc;
}

static bool
has_error(const field_errors_t *errs, const char *field)
{
    for (int i = 0; i < errs->count; i++)
        if (strcmp(errs->items[i].field, field) == 0)
            return true;
    return false;
}

/* Packs a SellProduct map whose `data` has `extra` more entries the caller
 * writes afterwards (so tests can add one odd field). */
static void
pack_sell_head(msgpack_packer *pk, size_t extra)
{
    msgpack_pack_map(pk, 3);
    codec_pack_kv_str(pk, "type", "SellProduct");
    codec_pack_kv_str(pk, "command_id", "c-1");
    codec_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 3 + extra);
    codec_pack_kv_str(pk, "product_id", "p1");
    codec_pack_kv_int(pk, "quantity", 2);
    codec_pack_kv_str(pk, "order_id", "o-1");
}

/* xorshift64: deterministic pseudo-random bytes. */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- commands: round trip ------------------------------------------------ */

Test(codec, command_round_trip_every_type)
{
    command_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    field_errors_t errs;
    codec_writer_t w;
    codec_writer_init(&w);
    for (int seed = 0; seed < 6; seed++) {
        for (int t = 0; t < CMD__COUNT; t++) {
            sample_command(in, (command_type_t)t, seed);
            codec_writer_reset(&w);
            codec_pack_command(&w, in);
            reject_code_t rc = decode(w.buf.data, w.buf.size, out, &errs);
            cr_assert_eq(rc, REJ_NONE, "%s seed %d: rc %d (%s: %s)", command_spec(t)->name, seed,
                         rc, errs.count ? errs.items[0].field : "",
                         errs.count ? errs.items[0].message : "");
            cr_assert_eq(out->type, in->type);
            cr_assert_str_eq(out->command_id, in->command_id);
            cr_assert_str_eq(out->correlation_id, in->correlation_id);
            cr_assert_eq(out->has_expected_version, in->has_expected_version);
            cr_assert_eq(out->expected_version, in->expected_version);
            const command_spec_t *sp = command_spec(t);
            sample_assert_fields_eq(&in->data, &out->data, sp->required | sp->optional);
            cr_assert_eq(out->data.present, in->data.present);
        }
    }
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, command_optional_fields_get_defaults)
{
    command_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    field_errors_t errs;
    codec_writer_t w;
    codec_writer_init(&w);
    sample_command(in, CMD_CREATE_PRODUCT, 1);
    in->data.present &= ~FIELD_BIT(F_DESCRIPTION);
    codec_pack_command(&w, in);
    cr_assert_eq(decode(w.buf.data, w.buf.size, out, &errs), REJ_NONE);
    cr_assert(fields_has(&out->data, F_DESCRIPTION));
    cr_assert_str_eq(out->data.description, "");
    cr_assert_eq(fields_int(&out->data, F_STOCK), fields_int(&in->data, F_STOCK));
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, command_stream_names)
{
    command_t *c = malloc(sizeof *c);
    char s[STREAM_MAX + 1];
    sample_command(c, CMD_RENAME_SUPPLIER, 0);
    fields_set_str(&c->data, F_SUPPLIER_ID, "s1");
    command_stream(c, s);
    cr_assert_str_eq(s, "supplier-s1");
    sample_command(c, CMD_SELL_PRODUCT, 0);
    fields_set_str(&c->data, F_PRODUCT_ID, "p1");
    command_stream(c, s);
    cr_assert_str_eq(s, "product-p1");
    free(c);
}

/* ---- events: round trip -------------------------------------------------- */

Test(codec, event_round_trip_every_type)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    for (int t = 0; t < EV__COUNT; t++) {
        sample_event(in, (event_type_t)t, "product-p1", t + 1, t);
        in->env.position = 100 + t;
        codec_writer_reset(&w);
        codec_pack_event(&w, in);
        const char *why = NULL;
        cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), 0, "%s: %s",
                     event_spec(t)->name, why);
        sample_assert_envelope_eq(&in->env, &out->env);
        sample_assert_fields_eq(&in->data, &out->data, event_spec(t)->fields);
    }
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, event_raw_equals_event_and_round_trips)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t data, raw, whole;
    codec_writer_init(&data);
    codec_writer_init(&raw);
    codec_writer_init(&whole);
    for (int t = 0; t < EV__COUNT; t++) {
        sample_event(in, (event_type_t)t, "supplier-s9", 7, 40 + t);
        in->env.position = 5000 + t;
        codec_writer_reset(&data);
        codec_writer_reset(&raw);
        codec_writer_reset(&whole);
        codec_pack_event_data(&data, in->env.type, &in->data);
        codec_pack_event_raw(&raw, &in->env, data.buf.data, data.buf.size);
        codec_pack_event(&whole, in);
        cr_assert_eq(raw.buf.size, whole.buf.size);
        cr_assert(memcmp(raw.buf.data, whole.buf.data, raw.buf.size) == 0,
                  "raw and re-encoded events are byte-identical");
        const char *why = NULL;
        cr_assert_eq(codec_decode_event(raw.buf.data, raw.buf.size, out, &why), 0, "%s", why);
        sample_assert_envelope_eq(&in->env, &out->env);
        sample_assert_fields_eq(&in->data, &out->data, event_spec(t)->fields);

        /* the data map alone decodes through codec_decode_event_data */
        fields_t *fs = malloc(sizeof *fs);
        cr_assert_eq(codec_decode_event_data(in->env.type, in->env.schema, data.buf.data,
                                             data.buf.size, fs, &why),
                     0, "%s", why);
        sample_assert_fields_eq(&in->data, fs, event_spec(t)->fields);
        free(fs);
    }
    codec_writer_fini(&data);
    codec_writer_fini(&raw);
    codec_writer_fini(&whole);
    free(in);
    free(out);
}

Test(codec, event_truncated_and_trailing_rejected)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    sample_event(in, EV_PRODUCT_CREATED, "product-p1", 1, 3);
    in->env.position = 1;
    codec_pack_event(&w, in);
    const char *why;
    for (size_t n = 0; n < w.buf.size; n++)
        cr_assert_eq(codec_decode_event(w.buf.data, n, out, &why), -1, "prefix %zu", n);
    msgpack_pack_nil(&w.pk);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);
    codec_writer_fini(&w);
    free(in);
    free(out);
}

/* ---- upcasting ----------------------------------------------------------- */

/* Packs a ProductCreated of `schema`, with or without low_stock_threshold. */
static void
pack_product_created(codec_writer_t *w, event_t *ev, int32_t schema, bool threshold)
{
    sample_event(ev, EV_PRODUCT_CREATED, "product-p1", 1, 2);
    ev->env.position = 1;
    ev->env.schema = schema;
    if (!threshold)
        ev->data.present &= ~FIELD_BIT(F_LOW_STOCK_THRESHOLD);
    codec_writer_t data;
    codec_writer_init(&data);
    codec_pack_event_data(&data, EV_PRODUCT_CREATED, &ev->data);
    codec_writer_reset(w);
    codec_pack_event_raw(w, &ev->env, data.buf.data, data.buf.size);
    codec_writer_fini(&data);
}

Test(codec, upcast_product_created_v1_gets_default_threshold)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    pack_product_created(&w, in, 1, false);
    const char *why = NULL;
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), 0, "%s", why);
    cr_assert_eq(out->env.schema, 1);
    cr_assert(fields_has(&out->data, F_LOW_STOCK_THRESHOLD));
    cr_assert_eq(fields_int(&out->data, F_LOW_STOCK_THRESHOLD), PRODUCT_V1_DEFAULT_THRESHOLD);
    cr_assert_eq(fields_int(&out->data, F_STOCK), fields_int(&in->data, F_STOCK));

    /* a v1 payload that does carry a threshold keeps it */
    pack_product_created(&w, in, 1, true);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), 0, "%s", why);
    cr_assert_eq(fields_int(&out->data, F_LOW_STOCK_THRESHOLD),
                 fields_int(&in->data, F_LOW_STOCK_THRESHOLD));
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, current_schema_without_threshold_rejected)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    pack_product_created(&w, in, 2, false);
    const char *why = NULL;
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, future_and_zero_schema_rejected)
{
    event_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    const char *why = NULL;
    pack_product_created(&w, in, 3, true);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);
    cr_assert_not_null(why);
    pack_product_created(&w, in, 0, true);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);
    /* schema 2 of a type whose current schema is 1 */
    sample_event(in, EV_PRODUCT_SOLD, "product-p1", 2, 1);
    in->env.schema = 2;
    codec_writer_reset(&w);
    codec_pack_event(&w, in);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);
    codec_writer_fini(&w);
    free(in);
    free(out);
}

Test(codec, event_unknown_type_and_wrong_types_rejected)
{
    event_t *out = malloc(sizeof *out);
    codec_writer_t w;
    codec_writer_init(&w);
    const char *why;
    /* envelope with an unknown type name */
    msgpack_pack_map(&w.pk, 10);
    codec_pack_kv_int(&w.pk, "position", 1);
    codec_pack_kv_str(&w.pk, "stream", "product-p1");
    codec_pack_kv_int(&w.pk, "version", 1);
    codec_pack_kv_str(&w.pk, "type", "ProductStolen");
    codec_pack_kv_int(&w.pk, "schema", 1);
    codec_pack_kv_str(&w.pk, "event_id", "e1");
    codec_pack_kv_str(&w.pk, "command_id", "c1");
    codec_pack_kv_str(&w.pk, "correlation_id", "");
    codec_pack_kv_int(&w.pk, "recorded_at", 1);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);

    /* position as a string */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 10);
    codec_pack_kv_str(&w.pk, "position", "1");
    codec_pack_kv_str(&w.pk, "stream", "product-p1");
    codec_pack_kv_int(&w.pk, "version", 1);
    codec_pack_kv_str(&w.pk, "type", "ProductViewed");
    codec_pack_kv_int(&w.pk, "schema", 1);
    codec_pack_kv_str(&w.pk, "event_id", "e1");
    codec_pack_kv_str(&w.pk, "command_id", "c1");
    codec_pack_kv_str(&w.pk, "correlation_id", "");
    codec_pack_kv_int(&w.pk, "recorded_at", 1);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), -1);

    /* the same with position an int decodes (control) */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 10);
    codec_pack_kv_int(&w.pk, "position", 1);
    codec_pack_kv_str(&w.pk, "stream", "product-p1");
    codec_pack_kv_int(&w.pk, "version", 1);
    codec_pack_kv_str(&w.pk, "type", "ProductViewed");
    codec_pack_kv_int(&w.pk, "schema", 1);
    codec_pack_kv_str(&w.pk, "event_id", "e1");
    codec_pack_kv_str(&w.pk, "command_id", "c1");
    codec_pack_kv_str(&w.pk, "correlation_id", "");
    codec_pack_kv_int(&w.pk, "recorded_at", 1);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, out, &why), 0, "%s", why);
    cr_assert_str_eq(out->data.product_id, "p1");
    codec_writer_fini(&w);
    free(out);
}

/* ---- replies ------------------------------------------------------------- */

Test(codec, reply_accepted_round_trip)
{
    command_reply_t in, out;
    memset(&in, 0, sizeof in);
    in.accepted = true;
    snprintf(in.command_id, sizeof in.command_id, "c-42");
    snprintf(in.stream, sizeof in.stream, "product-p1");
    in.version = 7;
    in.position = 1234567890123LL;
    in.duplicate = true;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command_reply(&w, &in);
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert(out.accepted);
    cr_assert_eq(out.error, REJ_NONE);
    cr_assert_str_eq(out.command_id, "c-42");
    cr_assert_str_eq(out.stream, "product-p1");
    cr_assert_eq(out.version, 7);
    cr_assert_eq(out.position, 1234567890123LL);
    cr_assert(out.duplicate);
    codec_writer_fini(&w);
}

Test(codec, reply_rejected_with_fields_round_trip)
{
    command_reply_t in, out;
    memset(&in, 0, sizeof in);
    in.error = REJ_VALIDATION;
    snprintf(in.command_id, sizeof in.command_id, "c-1");
    snprintf(in.message, sizeof in.message, "two fields are wrong");
    field_errors_add(&in.fields, "rating", "must be 1..5");
    field_errors_add(&in.fields, "name", "must be valid UTF-8 without NUL");
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command_reply(&w, &in);
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert_not(out.accepted);
    cr_assert_eq(out.error, REJ_VALIDATION);
    cr_assert_str_eq(out.command_id, "c-1");
    cr_assert_str_eq(out.message, "two fields are wrong");
    cr_assert_eq(out.fields.count, 2);
    cr_assert_str_eq(out.fields.items[0].field, "rating");
    cr_assert_str_eq(out.fields.items[0].message, "must be 1..5");
    cr_assert_str_eq(out.fields.items[1].field, "name");

    /* every other rejection code survives the trip */
    for (int code = REJ_NOT_FOUND; code < REJ__COUNT; code++) {
        memset(&in, 0, sizeof in);
        in.error = (reject_code_t)code;
        codec_writer_reset(&w);
        codec_pack_command_reply(&w, &in);
        cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
        cr_assert_eq(out.error, code, "%s", reject_code_name(code));
        cr_assert_eq(out.fields.count, 0);
    }
    codec_writer_fini(&w);
}

Test(codec, reply_conflict_carries_current_version)
{
    command_reply_t in, out;
    memset(&in, 0, sizeof in);
    in.error = REJ_CONFLICT;
    in.version = 12;
    snprintf(in.command_id, sizeof in.command_id, "c-9");
    snprintf(in.message, sizeof in.message, "stream is at version 12");
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command_reply(&w, &in);
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert_eq(out.error, REJ_CONFLICT);
    cr_assert_eq(out.version, 12);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    int64_t cv = 0;
    const msgpack_object *o = codec_map_get(&u.data, "current_version");
    cr_assert_not_null(o);
    cr_assert_eq(codec_get_int(o, &cv), 0);
    cr_assert_eq(cv, 12);
    msgpack_unpacked_destroy(&u);
    codec_writer_fini(&w);
}

Test(codec, reply_garbage_rejected)
{
    command_reply_t out;
    static const uint8_t bad[][4] = {{0xc1}, {0x91, 0xc0}, {0x80}};
    cr_assert_eq(codec_decode_command_reply(bad[0], 1, &out), -1);
    cr_assert_eq(codec_decode_command_reply(bad[1], 2, &out), -1);
    cr_assert_eq(codec_decode_command_reply(bad[2], 1, &out), -1, "no ok key");
    cr_assert_eq(codec_decode_command_reply("", 0, &out), -1);
}

/* ---- truncated, random and hostile input --------------------------------- */

Test(codec, every_prefix_of_every_command_is_malformed)
{
    command_t *in = malloc(sizeof *in);
    codec_writer_t w;
    codec_writer_init(&w);
    for (int t = 0; t < CMD__COUNT; t++) {
        sample_command(in, (command_type_t)t, 6);
        codec_writer_reset(&w);
        codec_pack_command(&w, in);
        for (size_t n = 0; n < w.buf.size; n++)
            cr_assert_eq(decode_code(w.buf.data, n), REJ_MALFORMED, "%s prefix %zu of %zu",
                         command_spec(t)->name, n, w.buf.size);
        cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_NONE);
    }
    codec_writer_fini(&w);
    free(in);
}

Test(codec, random_buffers_never_decode_or_crash)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[512];
    event_t *ev = malloc(sizeof *ev);
    command_reply_t rep;
    for (int i = 0; i < 4000; i++) {
        size_t n = rng_next(&s) % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rng_next(&s);
        /* half of them start like a map, to get past the first check */
        if (i % 2 && n > 0)
            buf[0] = (uint8_t)(0x80 | (rng_next(&s) & 0x0f));
        reject_code_t rc = decode_code(buf, n);
        cr_assert(rc == REJ_MALFORMED || rc == REJ_VALIDATION, "buffer %d: rc %d", i, rc);
        const char *why;
        cr_assert_eq(codec_decode_event(buf, n, ev, &why), -1, "buffer %d", i);
        (void)codec_decode_command_reply(buf, n, &rep);
    }
    free(ev);
}

Test(codec, mutated_commands_never_crash)
{
    uint64_t s = 12345;
    command_t *in = malloc(sizeof *in);
    codec_writer_t w;
    codec_writer_init(&w);
    uint8_t *buf = malloc(4096);
    for (int i = 0; i < 3000; i++) {
        sample_command(in, (command_type_t)(i % CMD__COUNT), i);
        codec_writer_reset(&w);
        codec_pack_command(&w, in);
        cr_assert(w.buf.size <= 4096);
        memcpy(buf, w.buf.data, w.buf.size);
        int flips = 1 + (int)(rng_next(&s) % 4);
        for (int k = 0; k < flips; k++)
            buf[rng_next(&s) % w.buf.size] = (uint8_t)rng_next(&s);
        reject_code_t rc = decode_code(buf, w.buf.size);
        cr_assert(rc == REJ_NONE || rc == REJ_MALFORMED || rc == REJ_VALIDATION);
    }
    free(buf);
    codec_writer_fini(&w);
    free(in);
}

Test(codec, hostile_container_counts)
{
    /* map32 claiming 2^32-1 entries, in 5 bytes */
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(decode_code(map32, sizeof map32), REJ_MALFORMED);
    /* array32 likewise */
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    cr_assert_eq(decode_code(arr32, sizeof arr32), REJ_MALFORMED);
    /* str32 claiming 4 GB, as a key and as a value */
    static const uint8_t str32[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 't', 'y'};
    cr_assert_eq(decode_code(str32, sizeof str32), REJ_MALFORMED);
    static const uint8_t str32v[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(decode_code(str32v, sizeof str32v), REJ_MALFORMED);
    /* bin32 and ext32 claiming 4 GB */
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    cr_assert_eq(decode_code(bin32, sizeof bin32), REJ_MALFORMED);
    static const uint8_t ext32[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    cr_assert_eq(decode_code(ext32, sizeof ext32), REJ_MALFORMED);
    /* map16 of 0xffff entries inside a valid-looking command */
    static const uint8_t map16[] = {0x81, 0xa4, 'd', 'a', 't', 'a', 0xde, 0xff, 0xff};
    cr_assert_eq(decode_code(map16, sizeof map16), REJ_MALFORMED);
    event_t *ev = malloc(sizeof *ev);
    const char *why;
    cr_assert_eq(codec_decode_event(map32, sizeof map32, ev, &why), -1);
    cr_assert_eq(codec_decode_event(str32v, sizeof str32v, ev, &why), -1);
    free(ev);
}

Test(codec, deep_nesting_rejected)
{
    enum { DEPTH = 10000 };
    uint8_t *buf = malloc(DEPTH + 64);
    /* 10000 levels of fixarray, alone */
    memset(buf, 0x91, DEPTH);
    buf[DEPTH] = 0xc0;
    cr_assert_eq(decode_code(buf, DEPTH + 1), REJ_MALFORMED);
    event_t *ev = malloc(sizeof *ev);
    const char *why;
    cr_assert_eq(codec_decode_event(buf, DEPTH + 1, ev, &why), -1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(buf, DEPTH + 1, &u, &why), -1);
    msgpack_unpacked_destroy(&u);

    /* and as the value of `data` in an otherwise valid command */
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "SellProduct");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    memcpy(buf, w.buf.data, w.buf.size);
    size_t head = w.buf.size;
    memset(buf + head, 0x91, DEPTH);
    buf[head + DEPTH] = 0xc0;
    cr_assert_eq(decode_code(buf, head + DEPTH + 1), REJ_MALFORMED);
    codec_writer_fini(&w);
    free(ev);
    free(buf);
}

Test(codec, reserved_byte_c1_rejected)
{
    static const uint8_t alone[] = {0xc1};
    cr_assert_eq(decode_code(alone, 1), REJ_MALFORMED);
    static const uint8_t in_map[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xc1};
    cr_assert_eq(decode_code(in_map, sizeof in_map), REJ_MALFORMED);
}

Test(codec, trailing_bytes_rejected)
{
    codec_writer_t w;
    codec_writer_init(&w);
    pack_sell_head(&w.pk, 0);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_NONE);
    msgpack_pack_nil(&w.pk);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_reset(&w);
    pack_sell_head(&w.pk, 0);
    pack_sell_head(&w.pk, 0); /* two whole maps */
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, non_string_keys_rejected)
{
    codec_writer_t w;
    codec_writer_init(&w);
    /* at the root */
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    msgpack_pack_int(&w.pk, 7);
    msgpack_pack_int(&w.pk, 7);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* inside data */
    codec_writer_reset(&w);
    pack_sell_head(&w.pk, 1);
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* a bin key that spells a field name */
    codec_writer_reset(&w);
    pack_sell_head(&w.pk, 1);
    msgpack_pack_bin(&w.pk, 6);
    msgpack_pack_bin_body(&w.pk, "rating", 6);
    msgpack_pack_int(&w.pk, 2);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, ext_types_rejected)
{
    codec_writer_t w;
    codec_writer_init(&w);
    /* a whole message that is an ext */
    msgpack_pack_ext(&w.pk, 4, 1);
    msgpack_pack_ext_body(&w.pk, "abcd", 4);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* an int field holding an ext (a timestamp, say) */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "SellProduct");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_cstr(&w.pk, "quantity");
    msgpack_pack_ext(&w.pk, 8, -1);
    msgpack_pack_ext_body(&w.pk, "\0\0\0\0\0\0\0\1", 8);
    codec_pack_kv_str(&w.pk, "order_id", "o-1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* a string field holding an ext */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_cstr(&w.pk, "type");
    msgpack_pack_ext(&w.pk, 1, 5);
    msgpack_pack_ext_body(&w.pk, "x", 1);
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 0);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, empty_and_non_map_rejected)
{
    cr_assert_eq(decode_code("", 0), REJ_MALFORMED);
    static const uint8_t nil[] = {0xc0}, arr[] = {0x90}, str[] = {0xa1, 'x'}, emptymap[] = {0x80};
    cr_assert_eq(decode_code(nil, 1), REJ_MALFORMED);
    cr_assert_eq(decode_code(arr, 1), REJ_MALFORMED);
    cr_assert_eq(decode_code(str, 2), REJ_MALFORMED);
    cr_assert_eq(decode_code(emptymap, 1), REJ_MALFORMED);
}

/* ---- wrong types --------------------------------------------------------- */

Test(codec, price_cents_as_string_is_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ChangePrice");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_str(&w.pk, "price_cents", "12");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* a float is not an integer either */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ChangePrice");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_cstr(&w.pk, "price_cents");
    msgpack_pack_double(&w.pk, 12.0);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* and a uint64 beyond int64 */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ChangePrice");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_cstr(&w.pk, "price_cents");
    msgpack_pack_uint64(&w.pk, UINT64_MAX);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, product_id_as_int_is_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_int(&w.pk, "product_id", 42);
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, data_as_array_is_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_array(&w.pk, 1);
    codec_pack_cstr(&w.pk, "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* and data absent */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, type_as_int_is_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_int(&w.pk, "type", 5);
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, envelope_wrong_types_are_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    /* command_id as int */
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_int(&w.pk, "command_id", 1);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* expected_version as string */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_kv_str(&w.pk, "expected_version", "3");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* an unknown key at the root */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_kv_str(&w.pk, "colour", "red");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

Test(codec, unknown_command_type_is_malformed)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "StealProduct");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    /* an event name is not a command */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ProductSold");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode_code(w.buf.data, w.buf.size), REJ_MALFORMED);
    codec_writer_fini(&w);
}

/* ---- validation ---------------------------------------------------------- */

Test(codec, unknown_data_field_is_validation_naming_it)
{
    codec_writer_t w;
    codec_writer_init(&w);
    pack_sell_head(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "colour", "red");
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t errs;
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "colour"));
    cr_assert_str_eq(cmd->command_id, "c-1", "command_id is kept on rejection");
    /* a known field that this command does not take */
    codec_writer_reset(&w);
    pack_sell_head(&w.pk, 1);
    codec_pack_kv_int(&w.pk, "rating", 3);
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "rating"));
    free(cmd);
    codec_writer_fini(&w);
}

Test(codec, missing_required_field_is_validation_naming_it)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "SellProduct");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "quantity", 2);
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t errs;
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert_eq(errs.count, 1);
    cr_assert_str_eq(errs.items[0].field, "order_id");
    free(cmd);
    codec_writer_fini(&w);
}

Test(codec, field_rules_are_validation)
{
    codec_writer_t w;
    codec_writer_init(&w);
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t errs;
    /* quantity 0 */
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "SellProduct");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "quantity", 0);
    codec_pack_kv_str(&w.pk, "order_id", "o1");
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "quantity"));
    /* rating 6, negative price, expected_version -1 */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "SubmitReview");
    codec_pack_kv_str(&w.pk, "command_id", "c-2");
    codec_pack_kv_int(&w.pk, "expected_version", -1);
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_str(&w.pk, "review_id", "r1");
    codec_pack_kv_str(&w.pk, "customer_id", "u1");
    codec_pack_kv_int(&w.pk, "rating", 6);
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "rating"));
    cr_assert(has_error(&errs, "expected_version"));
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "ChangePrice");
    codec_pack_kv_str(&w.pk, "command_id", "c-3");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_int(&w.pk, "price_cents", -1);
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "price_cents"));
    free(cmd);
    codec_writer_fini(&w);
}

/* A RegisterSupplier whose name is the given bytes. */
static reject_code_t
register_with_name(const char *name, size_t len, field_errors_t *errs)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RegisterSupplier");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "supplier_id", "s1");
    codec_pack_cstr(&w.pk, "name");
    msgpack_pack_str(&w.pk, len);
    msgpack_pack_str_body(&w.pk, name, len);
    command_t *cmd = malloc(sizeof *cmd);
    reject_code_t rc = decode(w.buf.data, w.buf.size, cmd, errs);
    if (rc == REJ_NONE)
        cr_assert_eq(memcmp(cmd->data.name, name, len), 0);
    free(cmd);
    codec_writer_fini(&w);
    return rc;
}

Test(codec, invalid_utf8_and_nul_in_name_are_validation)
{
    field_errors_t errs;
    cr_assert_eq(register_with_name("Acme \xc3\xa9", 7, &errs), REJ_NONE);
    cr_assert_eq(register_with_name("Acme \xff", 6, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "name"));
    cr_assert_eq(register_with_name("Acme \xc3", 6, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "name"));
    cr_assert_eq(register_with_name("Ac\0me", 5, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "name"));
    cr_assert_eq(register_with_name("", 0, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "name"));
    char big[NAME_MAX_BYTES + 1];
    memset(big, 'n', sizeof big);
    cr_assert_eq(register_with_name(big, NAME_MAX_BYTES, &errs), REJ_NONE);
    cr_assert_eq(register_with_name(big, NAME_MAX_BYTES + 1, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "name"));
}

Test(codec, id_with_space_is_validation)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p 1");
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t errs;
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "product_id"));
    /* and in the command id and correlation id */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_str(&w.pk, "type", "RecordProductView");
    codec_pack_kv_str(&w.pk, "command_id", "c 1");
    codec_pack_kv_str(&w.pk, "correlation_id", "corr 1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, &errs), REJ_VALIDATION);
    cr_assert(has_error(&errs, "command_id"));
    cr_assert(has_error(&errs, "correlation_id"));
    free(cmd);
    codec_writer_fini(&w);
}

Test(codec, oversize_is_malformed)
{
    /* a well-formed command just over the limit, whose only fault is size */
    codec_writer_t w;
    codec_writer_init(&w);
    size_t n = CODEC_MAX_MESSAGE;
    char *name = malloc(n);
    memset(name, 'a', n);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_kv_str(&w.pk, "type", "RegisterSupplier");
    codec_pack_kv_str(&w.pk, "command_id", "c-1");
    codec_pack_cstr(&w.pk, "data");
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "supplier_id", "s1");
    codec_pack_cstr(&w.pk, "name");
    msgpack_pack_str(&w.pk, n);
    msgpack_pack_str_body(&w.pk, name, n);
    cr_assert_gt(w.buf.size, (size_t)CODEC_MAX_MESSAGE);
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t errs;
    char why[128] = "";
    cr_assert_eq(codec_decode_command(w.buf.data, w.buf.size, cmd, &errs, why, sizeof why),
                 REJ_MALFORMED);
    cr_assert_neq(why[0], '\0');
    cr_assert_eq(errs.count, 0);
    free(cmd);
    free(name);
    codec_writer_fini(&w);
}

/* ---- helpers of the codec itself ----------------------------------------- */

Test(codec, typed_getters)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 4);
    codec_pack_kv_int(&w.pk, "neg", -5);
    codec_pack_kv_str(&w.pk, "s", "hello");
    codec_pack_kv_bool(&w.pk, "b", true);
    codec_pack_cstr(&w.pk, "big");
    msgpack_pack_uint64(&w.pk, (uint64_t)INT64_MAX + 1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    int64_t v;
    bool b;
    char small[3], buf[16];
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "neg"), &v), 0);
    cr_assert_eq(v, -5);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "big"), &v), -1);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "s"), &v), -1);
    cr_assert_eq(codec_get_bool(codec_map_get(&u.data, "b"), &b), 0);
    cr_assert(b);
    cr_assert_eq(codec_get_bool(codec_map_get(&u.data, "neg"), &b), -1);
    cr_assert_eq(codec_copy_str(codec_map_get(&u.data, "s"), small, sizeof small), -1);
    cr_assert_eq(codec_copy_str(codec_map_get(&u.data, "s"), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "hello");
    cr_assert_null(codec_map_get(&u.data, "absent"));
    cr_assert_null(codec_map_get(codec_map_get(&u.data, "s"), "x"));
    msgpack_unpacked_destroy(&u);
    codec_writer_fini(&w);
}

Test(codec, parse_requires_string_keys_at_any_depth)
{
    /* codec.h promises "keys are strings" for everything codec_parse accepts,
     * so that every daemon refuses {"type": "Status", 1: 2} alike */
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_unpacked u;
    const char *why = NULL;
    msgpack_pack_map(&w.pk, 2);
    codec_pack_kv_str(&w.pk, "type", "Status");
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), -1);
    cr_assert_not_null(why);
    msgpack_unpacked_destroy(&u);
    /* nested in a map inside an array */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_cstr(&w.pk, "events");
    msgpack_pack_array(&w.pk, 2);
    msgpack_pack_map(&w.pk, 0);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_nil(&w.pk);
    msgpack_pack_int(&w.pk, 2);
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), -1);
    msgpack_unpacked_destroy(&u);
    /* string keys at every depth are fine */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_cstr(&w.pk, "events");
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_int(&w.pk, "position", 3);
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    msgpack_unpacked_destroy(&u);
    codec_writer_fini(&w);
}

/* ---- the map writer: counts its own entries, bytes as msgpack-c's -------- */

/* n entries "k<i>": i, written by the writer (counted) and by hand. */
static void
map_of_n(codec_writer_t *counted, codec_writer_t *by_hand, uint32_t n)
{
    codec_map_open(counted);
    msgpack_pack_map(&by_hand->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%u", i);
        codec_map_int(counted, key, i);
        codec_pack_kv_int(&by_hand->pk, key, i);
    }
    codec_map_close(counted);
}

static void
assert_same_bytes(const codec_writer_t *a, const codec_writer_t *b)
{
    cr_assert_eq(a->buf.size, b->buf.size);
    cr_assert_eq(memcmp(a->buf.data, b->buf.data, a->buf.size), 0);
    cr_assert_eq(a->depth, 0);
}

Test(codec, map_writer_header_sizes_match_msgpack_c)
{
    static const uint32_t sizes[] = {0, 1, 15, 16, 17, 255, 256, 65535, 65536, 70000};
    codec_writer_t a, b;
    codec_writer_init(&a);
    codec_writer_init(&b);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        codec_writer_reset(&a);
        codec_writer_reset(&b);
        msgpack_pack_str(&a.pk, 3); /* bytes before the map stay put */
        msgpack_pack_str_body(&a.pk, "pre", 3);
        msgpack_pack_str(&b.pk, 3);
        msgpack_pack_str_body(&b.pk, "pre", 3);
        map_of_n(&a, &b, sizes[k]);
        assert_same_bytes(&a, &b);
    }
    codec_writer_fini(&a);
    codec_writer_fini(&b);
}

Test(codec, map_writer_nests_and_widens_inner_and_outer_maps)
{
    codec_writer_t a, b;
    codec_writer_init(&a);
    codec_writer_init(&b);
    /* {first: 1, inner: {17 entries}, small: {2 entries}, k0.. k15 (16)} */
    codec_map_open(&a);
    msgpack_pack_map(&b.pk, 19);
    codec_map_int(&a, "first", 1);
    codec_pack_kv_int(&b.pk, "first", 1);
    codec_map_key(&a, "inner");
    codec_pack_cstr(&b.pk, "inner");
    map_of_n(&a, &b, 17);
    codec_map_key(&a, "small");
    codec_pack_cstr(&b.pk, "small");
    map_of_n(&a, &b, 2);
    for (int i = 0; i < 16; i++) {
        char key[8];
        snprintf(key, sizeof key, "x%d", i);
        codec_map_str(&a, key, "v");
        codec_pack_kv_str(&b.pk, key, "v");
    }
    codec_map_close(&a);
    assert_same_bytes(&a, &b);
    cr_assert(mpread_well_formed(a.buf.data, a.buf.size));
    codec_writer_fini(&a);
    codec_writer_fini(&b);
}

Test(codec, map_writer_every_entry_kind_and_merge)
{
    codec_writer_t a, b, part;
    codec_writer_init(&a);
    codec_writer_init(&b);
    codec_writer_init(&part);
    codec_map_open(&part); /* entries packed before the reply's first ones are known */
    for (int i = 0; i < 14; i++)
        codec_map_int(&part, "p", i);
    codec_map_open(&a);
    codec_map_str(&a, "s", "text");
    codec_map_str_n(&a, "n", "abc", 2);
    codec_map_int(&a, "i", -5);
    codec_map_bool(&a, "t", true);
    codec_map_bool(&a, "f", false);
    codec_map_nil(&a, "z");
    codec_map_merge(&a, &part);
    codec_map_close(&a);
    msgpack_pack_map(&b.pk, 20);
    codec_pack_kv_str(&b.pk, "s", "text");
    codec_pack_kv_str(&b.pk, "n", "ab");
    codec_pack_kv_int(&b.pk, "i", -5);
    codec_pack_kv_bool(&b.pk, "t", true);
    codec_pack_kv_bool(&b.pk, "f", false);
    codec_pack_cstr(&b.pk, "z");
    msgpack_pack_nil(&b.pk);
    for (int i = 0; i < 14; i++)
        codec_pack_kv_int(&b.pk, "p", i);
    assert_same_bytes(&a, &b);
    codec_writer_fini(&a);
    codec_writer_fini(&b);
    codec_writer_fini(&part);
}

/* The encoders as they were written with hand-counted headers: the
 * counting writer must give the same bytes. */
static void
old_pack_fields(msgpack_packer *pk, const fields_t *fs, uint32_t which)
{
    msgpack_pack_map(pk, (size_t)__builtin_popcount(which & fs->present));
    for (int f = 0; f < F__COUNT; f++) {
        if (!(which & fs->present & FIELD_BIT(f)))
            continue;
        if (fields_spec(f)->kind == FK_INT)
            codec_pack_kv_int(pk, fields_spec(f)->name, fs->num[f]);
        else
            codec_pack_kv_str(pk, fields_spec(f)->name, fields_cstr(fs, f));
    }
}

static void
old_pack_command(msgpack_packer *pk, const command_t *cmd)
{
    msgpack_pack_map(pk, 3 + (cmd->correlation_id[0] != '\0') + cmd->has_expected_version);
    codec_pack_kv_str(pk, "type", command_spec(cmd->type)->name);
    codec_pack_kv_str(pk, "command_id", cmd->command_id);
    if (cmd->correlation_id[0])
        codec_pack_kv_str(pk, "correlation_id", cmd->correlation_id);
    if (cmd->has_expected_version)
        codec_pack_kv_int(pk, "expected_version", cmd->expected_version);
    codec_pack_cstr(pk, "data");
    old_pack_fields(pk, &cmd->data, UINT32_MAX);
}

static void
old_pack_event(msgpack_packer *pk, const event_t *ev)
{
    const envelope_t *env = &ev->env;
    msgpack_pack_map(pk, 11);
    codec_pack_kv_int(pk, "position", env->position);
    codec_pack_kv_str(pk, "stream", env->stream);
    codec_pack_kv_int(pk, "version", env->version);
    codec_pack_kv_str(pk, "type", event_spec(env->type)->name);
    codec_pack_kv_int(pk, "schema", env->schema);
    codec_pack_kv_str(pk, "event_id", env->event_id);
    codec_pack_kv_str(pk, "command_id", env->command_id);
    codec_pack_kv_str(pk, "correlation_id", env->correlation_id);
    codec_pack_kv_int(pk, "recorded_at", env->recorded_at);
    codec_pack_cstr(pk, "hash"); /* the hash chain's key (issue 23) */
    msgpack_pack_bin(pk, sizeof env->hash);
    msgpack_pack_bin_body(pk, env->hash, sizeof env->hash);
    codec_pack_cstr(pk, "data");
    old_pack_fields(pk, &ev->data, event_spec(env->type)->fields);
}

static void
old_pack_command_reply(msgpack_packer *pk, const command_reply_t *r)
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
    bool conflict = r->error == REJ_CONFLICT, not_leader = r->error == REJ_NOT_LEADER;
    msgpack_pack_map(pk, 5 + conflict + not_leader);
    codec_pack_kv_bool(pk, "ok", false);
    codec_pack_kv_str(pk, "command_id", r->command_id);
    codec_pack_kv_str(pk, "error", reject_code_name(r->error));
    codec_pack_kv_str(pk, "message", r->message);
    if (conflict)
        codec_pack_kv_int(pk, "current_version", r->version);
    if (not_leader)
        codec_pack_kv_str(pk, "leader", r->leader);
    codec_pack_cstr(pk, "fields");
    msgpack_pack_map(pk, (size_t)r->fields.count);
    for (int i = 0; i < r->fields.count; i++)
        codec_pack_kv_str(pk, r->fields.items[i].field, r->fields.items[i].message);
}

Test(codec, encoders_bytes_unchanged_by_the_counting_writer)
{
    command_t *cmd = malloc(sizeof *cmd);
    event_t *ev = malloc(sizeof *ev);
    cr_assert(cmd && ev);
    codec_writer_t a, b;
    codec_writer_init(&a);
    codec_writer_init(&b);
    for (int seed = 0; seed < 6; seed++) {
        for (int t = 0; t < CMD__COUNT; t++) {
            sample_command(cmd, (command_type_t)t, seed);
            cmd->has_expected_version = seed & 1;
            cmd->expected_version = seed;
            if (seed & 2)
                cmd->correlation_id[0] = '\0';
            codec_writer_reset(&a);
            codec_writer_reset(&b);
            codec_pack_command(&a, cmd);
            old_pack_command(&b.pk, cmd);
            assert_same_bytes(&a, &b);
        }
        for (int t = 0; t < EV__COUNT; t++) {
            sample_event(ev, (event_type_t)t, "product-p1", seed + 1, seed);
            codec_writer_reset(&a);
            codec_writer_reset(&b);
            codec_pack_event(&a, ev);
            old_pack_event(&b.pk, ev);
            assert_same_bytes(&a, &b);
        }
    }
    command_reply_t r;
    for (int code = REJ_NONE; code < REJ__COUNT; code++) {
        for (int nf = 0; nf <= 17; nf += 17) {
            memset(&r, 0, sizeof r);
            r.accepted = code == REJ_NONE;
            r.error = (reject_code_t)code;
            r.version = 12;
            snprintf(r.command_id, sizeof r.command_id, "c-%d", code);
            for (int i = 0; i < nf && i < FIELD_ERRORS_MAX; i++)
                field_errors_add(&r.fields, "f", "is wrong");
            codec_writer_reset(&a);
            codec_writer_reset(&b);
            codec_pack_command_reply(&a, &r);
            old_pack_command_reply(&b.pk, &r);
            assert_same_bytes(&a, &b);
        }
    }
    codec_writer_fini(&a);
    codec_writer_fini(&b);
    free(cmd);
    free(ev);
}

/* ---- issue 23: duplicate keys, and envelope strings on the bus ---------- */

/* A SellProduct with `dup` written twice: "type", "command_id" (top level)
 * or "quantity" (inside data). */
static void
pack_sell_dup(codec_writer_t *w, const char *dup)
{
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_str(w, "type", "SellProduct");
    codec_map_str(w, "command_id", "c-1");
    if (strcmp(dup, "type") == 0)
        codec_map_str(w, "type", "SellProduct");
    if (strcmp(dup, "command_id") == 0)
        codec_map_str(w, "command_id", "c-2");
    codec_map_key(w, "data");
    codec_map_open(w);
    codec_map_str(w, "product_id", "p1");
    codec_map_int(w, "quantity", 2);
    codec_map_str(w, "order_id", "o-1");
    if (strcmp(dup, "quantity") == 0)
        codec_map_int(w, "quantity", 3);
    codec_map_close(w);
    codec_map_close(w);
}

/* Issue 23, item 4: the first value counted at the top level, the last
 * inside data. */
Test(codec, duplicate_keys_in_a_command_are_malformed)
{
    static const char *dups[] = {"type", "command_id", "quantity"};
    codec_writer_t w;
    codec_writer_init(&w);
    command_t *cmd = malloc(sizeof *cmd);
    field_errors_t *errs = malloc(sizeof *errs);
    pack_sell_dup(&w, "");
    cr_assert_eq(decode(w.buf.data, w.buf.size, cmd, errs), REJ_NONE);
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        pack_sell_dup(&w, dups[i]);
        char why[128] = "";
        cr_assert_eq(codec_decode_command(w.buf.data, w.buf.size, cmd, errs, why, sizeof why),
                     REJ_MALFORMED, "%s twice", dups[i]);
        cr_assert_str_eq(why, CODEC_DUPLICATE_KEY);
    }
    free(cmd);
    free(errs);
    codec_writer_fini(&w);
}

/* An event on the bus whose envelope key `key` holds value (len bytes),
 * or, when twice, holds its usual value and comes again. */
static void
pack_event_with(codec_writer_t *w, const char *key, const char *value, size_t len, bool twice)
{
    static const char *keys[] = {"stream", "type", "event_id", "command_id", "correlation_id"};
    static const char *usual[] = {"product-p1", "ProductViewed", "e1", "c1", "k1"};
    codec_writer_reset(w);
    codec_map_open(w);
    codec_map_int(w, "position", 1);
    codec_map_int(w, "version", 1);
    codec_map_int(w, "schema", 1);
    codec_map_int(w, "recorded_at", 1);
    for (int k = 0; k < 5; k++) {
        bool this = strcmp(keys[k], key) == 0;
        if (this && !twice)
            codec_map_str_n(w, keys[k], value, len);
        else
            codec_map_str(w, keys[k], usual[k]);
        if (this && twice)
            codec_map_str(w, keys[k], usual[k]);
    }
    codec_map_key(w, "data");
    codec_map_open(w);
    codec_map_str(w, "product_id", "p1");
    codec_map_close(w);
    codec_map_close(w);
}

/* Issue 23, item 6: envelope strings are checked like command strings (a
 * newline or a bidi control reached the logs), and a key twice is an error. */
Test(codec, envelope_strings_follow_the_command_rules)
{
    static const struct {
        const char *key, *value;
        size_t len;
    } bad[] = {
        {"stream", "product-p1\0zz", 13},
        {"stream", "product-p1\nX", 12},
        {"stream", "nowhere-p1", 10},
        {"type", "ProductViewed\0zz", 16},
        {"event_id", "e1\n", 3},
        {"command_id",
         "c\xe2\x80\xae"
         "1",
         5},
        {"correlation_id", "k\xff", 2},
        {"correlation_id", "k 1", 3},
    };
    event_t *ev = malloc(sizeof *ev);
    codec_writer_t w;
    codec_writer_init(&w);
    const char *why;
    pack_event_with(&w, "", "", 0, false);
    cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, ev, &why), 0, "%s", why);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pack_event_with(&w, bad[i].key, bad[i].value, bad[i].len, false);
        cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, ev, &why), -1, "case %zu", i);
    }
    static const char *keys[] = {"stream", "type", "event_id", "command_id", "correlation_id"};
    for (size_t k = 0; k < 5; k++) {
        pack_event_with(&w, keys[k], NULL, 0, true);
        cr_assert_eq(codec_decode_event(w.buf.data, w.buf.size, ev, &why), -1, "%s twice", keys[k]);
        cr_assert_str_eq(why, CODEC_DUPLICATE_KEY);
    }
    codec_writer_fini(&w);
    free(ev);
}
