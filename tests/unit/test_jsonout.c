/* jsonout: msgpack -> JSON, exactly (escaping, UTF-8 repair, big ints). */
#include "jsonout.h"
#include "msgtree.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Packs with `fill`, converts to JSON, compares. */
typedef void (*fill_fn)(msgpack_packer *pk);

static void
expect_json(fill_fn fill, const char *want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fill(&pk);
    cr_assert(mpread_well_formed(sb.data, sb.size));
    mpread_t r;
    mpread_init(&r, sb.data, sb.size);
    char *got = jsonout_string(&r);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    free(got);
    msgpack_sbuffer_destroy(&sb);
}

static void
pack_raw_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

#define STR(pk, lit) pack_raw_str((pk), (lit), sizeof(lit) - 1)

static void
fill_escapes(msgpack_packer *pk)
{
    STR(pk, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f");
}
Test(jsonout, escapes_quotes_backslashes_and_controls)
{
    expect_json(fill_escapes, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\"");
}

static void
fill_nul(msgpack_packer *pk)
{
    STR(pk, "a\0b");
}
Test(jsonout, embedded_nul_is_escaped)
{
    expect_json(fill_nul, "\"a\\u0000b\"");
}

static void
fill_utf8_ok(msgpack_packer *pk)
{
    STR(pk, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}
Test(jsonout, valid_utf8_passes_through)
{
    expect_json(fill_utf8_ok, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void
fill_bad1(msgpack_packer *pk)
{
    STR(pk, "x\xffy");
}
static void
fill_bad2(msgpack_packer *pk)
{
    STR(pk, "\xc3\x28");
}
static void
fill_overlong(msgpack_packer *pk)
{
    STR(pk, "\xc0\xaf");
}
static void
fill_surrogate(msgpack_packer *pk)
{
    STR(pk, "\xed\xa0\x80");
}
static void
fill_truncated(msgpack_packer *pk)
{
    STR(pk, "ab\xe2\x82");
}
static void
fill_too_big(msgpack_packer *pk)
{
    STR(pk, "\xf4\x90\x80\x80");
}
Test(jsonout, invalid_utf8_becomes_replacement_characters)
{
    expect_json(fill_bad1, "\"x\\ufffdy\"");
    expect_json(fill_bad2, "\"\\ufffd(\"");
    expect_json(fill_overlong, "\"\\ufffd\\ufffd\"");
    expect_json(fill_surrogate, "\"\\ufffd\\ufffd\\ufffd\"");
    expect_json(fill_truncated, "\"ab\\ufffd\"");
    expect_json(fill_too_big, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void
fill_u2028(msgpack_packer *pk)
{
    STR(pk, "a\xe2\x80\xa8"
            "b");
}
Test(jsonout, line_separator_is_escaped)
{
    expect_json(fill_u2028, "\"a\\u2028b\"");
}

static void
fill_nested(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    STR(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, -2);
    msgpack_pack_map(pk, 1);
    STR(pk, "b");
    msgpack_pack_nil(pk);
    STR(pk, "c");
    msgpack_pack_true(pk);
    STR(pk, "d");
    msgpack_pack_array(pk, 0);
    STR(pk, "e");
    msgpack_pack_map(pk, 0);
}
Test(jsonout, nested_maps_and_arrays)
{
    expect_json(fill_nested, "{\"a\":[1,-2,{\"b\":null}],\"c\":true,\"d\":[],\"e\":{}}");
}

static void
fill_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_int64(pk, INT64_MAX);
    msgpack_pack_int64(pk, 9007199254740993LL); /* 2^53 + 1: a double would lose it */
}
Test(jsonout, big_integers_are_exact)
{
    expect_json(fill_big, "[18446744073709551615,-9223372036854775808,9223372036854775807,"
                          "9007199254740993]");
}

static void
fill_floats(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_double(pk, 0.1);
    msgpack_pack_double(pk, 1.5);
    msgpack_pack_double(pk, 0.0 / 0.0);
    msgpack_pack_double(pk, 1e300 * 1e300);
    msgpack_pack_float(pk, 0.1f);
}
Test(jsonout, floats_shortest_and_non_finite_as_null)
{
    expect_json(fill_floats, "[0.1,1.5,null,null,0.1]");
}

static void
fill_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_bin(pk, 4);
    msgpack_pack_bin_body(pk, "\x00\x01\x02\x03", 4);
    msgpack_pack_bin(pk, 3);
    msgpack_pack_bin_body(pk, "Man", 3);
    msgpack_pack_bin(pk, 0);
}
Test(jsonout, binary_as_base64)
{
    expect_json(fill_bin, "[\"AAECAw==\",\"TWFu\",\"\"]");
}

static void
fill_keys(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    msgpack_pack_int64(pk, 1);
    STR(pk, "one");
    msgpack_pack_true(pk);
    STR(pk, "t");
    STR(pk, "k\"q");
    msgpack_pack_int64(pk, 0);
}
Test(jsonout, non_string_keys_become_strings)
{
    expect_json(fill_keys, "{\"1\":\"one\",\"true\":\"t\",\"k\\\"q\":0}");
}

Test(jsonout, print_rejects_trailing_bytes)
{
    char buf[] = {(char)0x01, (char)0x02};
    FILE *f = fopen("/dev/null", "w");
    cr_assert_not_null(f);
    cr_expect_eq(jsonout_print_msgpack(f, buf, 2), -1);
    cr_expect_eq(jsonout_print_msgpack(f, buf, 1), 0);
    fclose(f);
}

Test(jsonout, print_refuses_what_codec_parse_refuses)
{
    /* {1: 2}: a key that is not a string; 33 nested arrays */
    char intkey[] = {(char)0x81, 0x01, 0x02};
    char deep[34];
    memset(deep, 0x91, 33);
    deep[33] = (char)0xc0;
    FILE *f = fopen("/dev/null", "w");
    cr_assert_not_null(f);
    cr_expect_eq(jsonout_print_msgpack(f, intkey, sizeof intkey), -1);
    cr_expect_eq(jsonout_print_msgpack(f, deep, sizeof deep), -1);
    cr_expect_eq(jsonout_print_msgpack(f, deep + 1, sizeof deep - 1), 0);
    fclose(f);
}

Test(jsonout, broken_bytes_end_in_null_without_reading_past_them)
{
    char trunc[] = {(char)0x92, 0x01}; /* an array of 2 with 1 element */
    mpread_t r;
    mpread_init(&r, trunc, sizeof trunc);
    char *got = jsonout_string(&r);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, "null");
    free(got);
}

/* Valid JSON either way, but raw they act on a terminal (C1 CSI) or reorder
 * what it shows (bidi controls): escaped like the C0 controls. */
static void
fill_c1_and_bidi(msgpack_packer *pk)
{
    STR(pk, "a\xc2\x9b" "31m\xc2\x85z\xe2\x80\xae" "exe\xe2\x81\xa6\xd8\x9c\xc2\xa0");
}
Test(jsonout, c1_controls_and_bidi_controls_are_escaped)
{
    expect_json(fill_c1_and_bidi, "\"a\\u009b31m\\u0085z\\u202eexe\\u2066\\u061c\xc2\xa0\"");
}

static void
fill_ext_everywhere(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    STR(pk, "x");
    msgpack_pack_array(pk, 2);
    msgpack_pack_ext(pk, 2, -3);
    msgpack_pack_ext_body(pk, "\x1b]", 2);
    msgpack_pack_map(pk, 1);
    STR(pk, "\x1b[31m");
    msgpack_pack_ext(pk, 0, 9);
}
Test(jsonout, ext_values_and_escaped_keys)
{
    expect_json(fill_ext_everywhere,
                "{\"x\":[{\"ext\":-3,\"base64\":\"G10=\"},{\"\\u001b[31m\":{\"ext\":9,\"base64\":\"\"}}]}");
}
