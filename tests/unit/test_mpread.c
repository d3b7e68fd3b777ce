/* test_mpread: the msgpack cursor reads what msgpack-c writes, refuses
 * what does not fit, and accepts exactly the messages codec_parse accepts. */
#include "codec.h"
#include "msgtree.h"
#include "mpread.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

static msgpack_sbuffer buf;
static msgpack_packer pk;

static void
setup(void)
{
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
}

static void
teardown(void)
{
    msgpack_sbuffer_destroy(&buf);
}

TestSuite(mpread, .init = setup, .fini = teardown);

Test(mpread, reads_every_integer_width_msgpack_c_writes)
{
    const int64_t vals[] = {
        0,         1,  127, 128, 255,  256,  65535,  65536,  4294967295,    4294967296LL,
        INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, -2147483648LL, -2147483649LL,
        INT64_MIN};
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < n; i++)
        msgpack_pack_int64(&pk, vals[i]);
    msgpack_pack_uint64(&pk, 7); /* an unsigned format for a small value */
    msgpack_pack_int8(&pk, 5);   /* a signed format for a positive value */
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        cr_assert_eq(mpread_int(&r, &v), 0, "value %zu", i);
        cr_assert_eq(v, vals[i], "value %zu: %lld", i, (long long)v);
    }
    int64_t v;
    cr_assert_eq(mpread_int(&r, &v), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(mpread_int(&r, &v), 0);
    cr_assert_eq(v, 5);
    cr_assert(mpread_at_end(&r));
}

Test(mpread, an_unsigned_above_int64_is_refused_and_the_cursor_stays)
{
    msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    int64_t v = 42;
    cr_assert_eq(mpread_int(&r, &v), -1);
    cr_assert_eq(v, 42);
    cr_assert_eq((const char *)r.p, buf.data, "a failed read moves nothing");
    cr_assert_eq(mpread_skip(&r), 0, "but it is a value that skips");
    cr_assert(mpread_at_end(&r));
}

Test(mpread, strings_of_every_header_width)
{
    static char big[70000];
    memset(big, 'x', sizeof big);
    const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536, 70000};
    size_t n = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&pk, lens[i]);
        msgpack_pack_str_body(&pk, big, lens[i]);
    }
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        cr_assert_eq(mpread_peek(&r), MP_STR);
        cr_assert_eq(mpread_str(&r, &s, &len), 0, "length %zu", lens[i]);
        cr_assert_eq(len, lens[i]);
        cr_assert(len == 0 || s[0] == 'x');
    }
    cr_assert(mpread_at_end(&r));
}

Test(mpread, str_copy_refuses_what_does_not_fit_and_bin_is_not_a_string)
{
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "hello", 5);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "hi", 2);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    char small[5], fits[6];
    cr_assert_eq(mpread_str_copy(&r, small, sizeof small), -1);
    cr_assert_eq(mpread_str_copy(&r, fits, sizeof fits), 0);
    cr_assert_str_eq(fits, "hello");
    const char *s;
    size_t len;
    cr_assert_eq(mpread_peek(&r), MP_BIN);
    cr_assert_eq(mpread_str(&r, &s, &len), -1);
    cr_assert_eq(mpread_skip(&r), 0);
    cr_assert(mpread_at_end(&r));
}

Test(mpread, container_counts_must_fit_in_the_bytes_left)
{
    /* array32 of 2^32-1 elements in a 5-byte message */
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    /* map16 of 3 pairs with room for one */
    const uint8_t short_map[] = {0xde, 0x00, 0x03, 0xa1, 'a', 0x01};
    mpread_t r;
    uint32_t n;
    mpread_init(&r, huge_array, sizeof huge_array);
    cr_assert_eq(mpread_array(&r, &n), -1);
    cr_assert_eq(mpread_skip(&r), -1);
    mpread_init(&r, short_map, sizeof short_map);
    cr_assert_eq(mpread_map(&r, &n), -1);
    cr_assert_eq(mpread_skip(&r), -1);
}

Test(mpread, nil_bool_float_and_ext_read_or_skip)
{
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_float(&pk, 2.5f);
    msgpack_pack_ext(&pk, 4, 1);
    msgpack_pack_ext_body(&pk, "abcd", 4);
    msgpack_pack_ext(&pk, 3, 2);
    msgpack_pack_ext_body(&pk, "abc", 3);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    bool b;
    int64_t v;
    cr_assert_eq(mpread_int(&r, &v), -1);
    cr_assert(mpread_nil(&r));
    cr_assert_not(mpread_nil(&r));
    cr_assert_eq(mpread_bool(&r, &b), 0);
    cr_assert(b);
    cr_assert_eq(mpread_bool(&r, &b), 0);
    cr_assert_not(b);
    cr_assert_eq(mpread_peek(&r), MP_FLOAT);
    cr_assert_eq(mpread_int(&r, &v), -1);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(mpread_skip(&r), 0, "value %d", i);
    cr_assert(mpread_at_end(&r));
    cr_assert_eq(mpread_peek(&r), MP_NONE);
}

/* A nested object: {"a": [1, {"b": "c"}, [[]]], "d": nil} */
static void
pack_nested(void)
{
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_str_with_body(&pk, "c", 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "d", 1);
    msgpack_pack_nil(&pk);
}

Test(mpread, skip_passes_a_whole_nested_value_and_no_prefix_of_it)
{
    pack_nested();
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    cr_assert_eq(mpread_skip(&r), 0);
    cr_assert(mpread_at_end(&r));
    for (size_t cut = 0; cut < buf.size; cut++) {
        mpread_init(&r, buf.data, cut);
        cr_assert_eq(mpread_skip(&r), -1, "a prefix of %zu bytes", cut);
        cr_assert_eq((const char *)r.p, buf.data, "the cursor stays");
    }
}

Test(mpread, skip_refuses_a_map_key_that_is_not_a_string_at_any_depth)
{
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 7); /* an integer key */
    msgpack_pack_int(&pk, 8);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    cr_assert_eq(mpread_skip(&r), -1);
}

Test(mpread, nesting_deeper_than_the_limit_is_refused)
{
    for (int i = 0; i < MPREAD_MAX_DEPTH; i++)
        msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    cr_assert_eq(mpread_skip(&r), 0, "%d levels", MPREAD_MAX_DEPTH);
    msgpack_sbuffer_clear(&buf);
    for (int i = 0; i < MPREAD_MAX_DEPTH + 1; i++)
        msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    mpread_init(&r, buf.data, buf.size);
    cr_assert_eq(mpread_skip(&r), -1, "%d levels", MPREAD_MAX_DEPTH + 1);
}

/* xorshift64: a fixed sequence, so a failure repeats. */
static uint64_t
next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(mpread, accepts_exactly_the_messages_codec_parse_accepts)
{
    /* Random short messages drawn mostly from msgpack's type bytes, so that
     * many of them parse: the structural check must agree with msgpack-c's
     * own unpacker, and whole-message acceptance by the cursor (skip, then
     * nothing left) with codec_parse, on every one. */
    static const uint8_t pieces[] = {0x00, 0x7f, 0x81, 0x82, 0x91, 0x92, 0x93, 0xa1, 0xa2,
                                     0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcc, 0xcd, 0xd0,
                                     0xd4, 0xd9, 0xdc, 0xde, 0xe0, 0xff, 'a',  0x01};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        uint8_t msg[12];
        size_t len = 1 + next_random(&seed) % sizeof msg;
        for (size_t j = 0; j < len; j++)
            msg[j] = pieces[next_random(&seed) % sizeof pieces];
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        bool unpacks =
            msgpack_unpack_next(&u, (const char *)msg, len, &off) == MSGPACK_UNPACK_SUCCESS &&
            off == len;
        cr_assert_eq(mpread_well_formed(msg, len), unpacks,
                     "message %d (%zu bytes): well formed %d, msgpack-c %d", i, len, !unpacks,
                     unpacks);
        msgpack_unpacked_destroy(&u);
        msgpack_unpacked_init(&u);
        const char *why;
        bool tree = codec_parse(msg, len, &u, &why) == 0;
        msgpack_unpacked_destroy(&u);
        mpread_t r;
        mpread_init(&r, msg, len);
        bool cursor = mpread_skip(&r) == 0 && mpread_at_end(&r);
        cr_assert_eq(cursor, tree, "message %d (%zu bytes): cursor %d, codec_parse %d", i, len,
                     cursor, tree);
        cr_assert_eq(codec_reader_check(&r, msg, len, &why) == 0, tree,
                     "message %d: codec_reader_check and codec_parse disagree", i);
        accepted += tree;
    }
    cr_assert_gt(accepted, 1000, "the draw makes valid messages too (%d)", accepted);
}

Test(mpread, codec_reader_check_and_codec_parse_agree_on_nesting)
{
    for (int depth = MPREAD_MAX_DEPTH - 2; depth <= MPREAD_MAX_DEPTH + 2; depth++) {
        for (int map = 0; map < 2; map++) {
            msgpack_sbuffer_clear(&buf);
            for (int i = 0; i < depth; i++) {
                if (map) {
                    msgpack_pack_map(&pk, 1);
                    msgpack_pack_str(&pk, 1);
                    msgpack_pack_str_body(&pk, "k", 1);
                } else {
                    msgpack_pack_array(&pk, 1);
                }
            }
            msgpack_pack_nil(&pk);
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            const char *why;
            bool tree = codec_parse(buf.data, buf.size, &u, &why) == 0;
            msgpack_unpacked_destroy(&u);
            mpread_t r;
            cr_assert_eq(codec_reader_check(&r, buf.data, buf.size, &why) == 0, tree,
                         "depth %d (%s)", depth, map ? "maps" : "arrays");
        }
    }
}

Test(mpread, value_reads_every_kind_as_msgpack_c_unpacks_it)
{
    msgpack_pack_array(&pk, 12);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int8(&pk, 7); /* a signed encoding of a positive value */
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, -0.1);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "hi", 2);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "\x00\x01\x02", 3);
    msgpack_pack_ext(&pk, 2, 9);
    msgpack_pack_ext_body(&pk, "ab", 2);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "k", 1);
    msgpack_pack_array(&pk, 0);
    mpread_t r;
    mpval_t v;
    mpread_init(&r, buf.data, buf.size);
    cr_assert_eq(mpread_value(&r, &v), 0);
    cr_assert(v.type == MP_ARRAY && v.len == 12);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_NIL);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_BOOL && v.b);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_INT && v.neg && v.i == -5);
    cr_assert(mpread_value(&r, &v) == 0 && v.neg && v.i == INT64_MIN);
    cr_assert(mpread_value(&r, &v) == 0 && !v.neg && v.u == UINT64_MAX);
    cr_assert(mpread_value(&r, &v) == 0 && !v.neg && v.u == 7 && v.i == 7);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_FLOAT && v.f32 && v.f == 1.5);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_FLOAT && !v.f32 && v.f == -0.1);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_STR && v.len == 2);
    cr_assert_eq(memcmp(v.s, "hi", 2), 0);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_BIN && v.len == 3 && v.s[2] == 2);
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_EXT && v.ext == 9 && v.len == 2);
    cr_assert_eq(memcmp(v.s, "ab", 2), 0);
    mpread_t map = r, val;
    cr_assert(mpread_value(&r, &v) == 0 && v.type == MP_MAP && v.len == 1);
    cr_assert_eq(mpread_find(&map, "k", &val), 0);
    cr_assert_eq(mpread_peek(&val), MP_ARRAY);
    cr_assert_eq(mpread_find(&map, "x", &val), -1);
    mpread_t key;
    cr_assert_eq(mpread_pair(&r, &key, &val), 0);
    cr_assert(mpread_at_end(&r));
    /* truncated: refused, the cursor stays */
    mpread_init(&r, buf.data, 2);
    cr_assert(mpread_value(&r, &v) == -1 && r.p == (const uint8_t *)buf.data);
}

/* Issue 23, item 2: a copy into a C string cut "p1\0junk" to "p1". */
Test(mpread, str_copy_refuses_a_nul_and_invalid_utf8)
{
    msgpack_pack_str_with_body(&pk, "p1\0\xff junk", 9);
    msgpack_pack_str_with_body(&pk, "p\xc0\xaf", 3);
    msgpack_pack_str_with_body(&pk, "caf\xc3\xa9", 5);
    mpread_t r;
    mpread_init(&r, buf.data, buf.size);
    char out[16];
    cr_assert_eq(mpread_str_copy(&r, out, sizeof out), -1);
    cr_assert_eq(mpread_skip(&r), 0, "the cursor stays on the refused string");
    cr_assert_eq(mpread_str_copy(&r, out, sizeof out), -1);
    cr_assert_eq(mpread_skip(&r), 0);
    cr_assert_eq(mpread_str_copy(&r, out, sizeof out), 0);
    cr_assert_str_eq(out, "caf\xc3\xa9");
    cr_assert(mpread_at_end(&r));
}
