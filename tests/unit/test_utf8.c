/* test_utf8: the one UTF-8 decoder and validator.  The validator accepts
 * exactly well-formed text without NUL; the decoder agrees with the
 * code-point definition on every 1- to 3-byte sequence and on every 4-byte
 * one of each lead byte's second byte, and reports maximal ill-formed
 * subparts the way U+FFFD substitution counts them. */
#include "utf8.h"

#include <criterion/criterion.h>
#include <string.h>

#define U8(lit) utf8_valid((lit), sizeof(lit) - 1)

Test(utf8, valid_accepts_valid_text)
{
    cr_assert(U8(""));
    cr_assert(U8("plain ascii ~"));
    cr_assert(U8("caf\xc3\xa9"));                          /* U+00E9 */
    cr_assert(U8("\xc2\x80"));                             /* U+0080, smallest 2-byte */
    cr_assert(U8("\xdf\xbf"));                             /* U+07FF */
    cr_assert(U8("\xe0\xa0\x80"));                         /* U+0800, smallest 3-byte */
    cr_assert(U8("\xe2\x82\xac"));                         /* euro sign */
    cr_assert(U8("\xed\x9f\xbf"));                         /* U+D7FF, just below surrogates */
    cr_assert(U8("\xee\x80\x80"));                         /* U+E000, just above */
    cr_assert(U8("\xef\xbf\xbf"));                         /* U+FFFF */
    cr_assert(U8("\xf0\x90\x80\x80"));                     /* U+10000, smallest 4-byte */
    cr_assert(U8("\xf0\x9f\x94\xa8 hammer"));              /* U+1F528 */
    cr_assert(U8("\xf4\x8f\xbf\xbf"));                     /* U+10FFFF, the last code point */
    cr_assert(U8("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e")); /* three CJK ideographs */
}

Test(utf8, valid_rejects_overlongs)
{
    cr_assert_not(U8("\xc0\x80"));         /* overlong NUL */
    cr_assert_not(U8("\xc1\xbf"));         /* overlong U+007F */
    cr_assert_not(U8("\xe0\x80\x80"));     /* overlong NUL, 3 bytes */
    cr_assert_not(U8("\xe0\x9f\xbf"));     /* overlong U+07FF */
    cr_assert_not(U8("\xf0\x80\x80\x80")); /* overlong NUL, 4 bytes */
    cr_assert_not(U8("\xf0\x8f\xbf\xbf")); /* overlong U+FFFF */
}

Test(utf8, valid_rejects_surrogates)
{
    cr_assert_not(U8("\xed\xa0\x80"));             /* U+D800 */
    cr_assert_not(U8("\xed\xbf\xbf"));             /* U+DFFF */
    cr_assert_not(U8("\xed\xa0\xbd\xed\xb2\xa9")); /* a CESU-8 surrogate pair */
}

Test(utf8, valid_rejects_beyond_unicode)
{
    cr_assert_not(U8("\xf4\x90\x80\x80")); /* U+110000 */
    cr_assert_not(U8("\xf5\x80\x80\x80"));
    cr_assert_not(U8("\xf7\xbf\xbf\xbf"));
    cr_assert_not(U8("\xf8\x88\x80\x80\x80")); /* old 5-byte form */
    cr_assert_not(U8("\xfe"));
    cr_assert_not(U8("\xff"));
}

Test(utf8, valid_rejects_truncated_sequences_at_the_end)
{
    cr_assert_not(U8("abc\xc3"));
    cr_assert_not(U8("abc\xe2"));
    cr_assert_not(U8("abc\xe2\x82"));
    cr_assert_not(U8("abc\xf0"));
    cr_assert_not(U8("abc\xf0\x9f"));
    cr_assert_not(U8("abc\xf0\x9f\x94"));
    /* the length, not a NUL, ends the buffer: a valid sequence cut by len */
    const char euro[] = "\xe2\x82\xac";
    cr_assert(utf8_valid(euro, 3));
    cr_assert_not(utf8_valid(euro, 2));
    cr_assert_not(utf8_valid(euro, 1));
}

Test(utf8, valid_rejects_bad_continuations_and_nul)
{
    cr_assert_not(U8("\x80")); /* lone continuation */
    cr_assert_not(U8("a\xbf"));
    cr_assert_not(U8("\xc3\x28")); /* continuation missing */
    cr_assert_not(U8("\xe2\x28\xa1"));
    cr_assert_not(U8("\xe2\x82\x28"));
    cr_assert_not(U8("\xf0\x9f\x94\x28"));
    cr_assert_not(U8("\xc3\xa9\xa9")); /* one continuation too many */
    cr_assert_not(utf8_valid("a\0b", 3));
    cr_assert_not(utf8_valid("\0", 1));
}

/* ---- utf8_decode --------------------------------------------------------- */

/* The definition by code point: the length of the well-formed sequence at
 * p (n bytes) and its code point, 0 when it is not one. */
static int
by_code_point(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t need;
    uint32_t min;
    if (p[0] < 0x80)
        return *cp = p[0], 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        need = 1, min = 0x80, *cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        need = 2, min = 0x800, *cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        need = 3, min = 0x10000, *cp = p[0] & 0x07u;
    else
        return 0;
    if (n < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[k] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return (int)need + 1;
}

static void
agree(const unsigned char *p, size_t n)
{
    uint32_t want = 0, got = 0;
    int w = by_code_point(p, n, &want), g = utf8_decode(p, n, &got);
    if (w > 0) {
        cr_assert_eq(g, w, "%02x %02x %02x %02x (%zu)", p[0], p[1], p[2], p[3], n);
        cr_assert_eq(got, want);
    } else {
        cr_assert_lt(g, 0, "%02x %02x %02x %02x (%zu)", p[0], p[1], p[2], p[3], n);
        cr_assert_geq(g, -3);
    }
}

Test(utf8, decode_agrees_with_the_code_point_definition)
{
    unsigned char p[4] = {0};
    for (unsigned a = 0; a < 256; a++) {
        p[0] = (unsigned char)a;
        agree(p, 1);
        for (unsigned b = 0; b < 256; b++) {
            p[1] = (unsigned char)b;
            agree(p, 2);
            for (unsigned c = 0x70; c < 0xd0; c++) { /* around the continuations */
                p[2] = (unsigned char)c;
                agree(p, 3);
                static const unsigned char fourth[] = {0x7f, 0x80, 0xbf, 0xc0};
                for (size_t d = 0; a >= 0xf0 && d < sizeof fourth; d++) {
                    p[3] = fourth[d];
                    agree(p, 4);
                }
            }
        }
    }
}

Test(utf8, decode_skips_maximal_ill_formed_subparts)
{
    uint32_t cp;
    const unsigned char *s;
    s = (const unsigned char *)"\xff";
    cr_assert_eq(utf8_decode(s, 1, &cp), -1);
    s = (const unsigned char *)"\x80";
    cr_assert_eq(utf8_decode(s, 1, &cp), -1); /* a lone continuation */
    s = (const unsigned char *)"\xe0\x80\x80";
    cr_assert_eq(utf8_decode(s, 3, &cp), -1); /* overlong: E0 alone */
    s = (const unsigned char *)"\xed\xa0\x80";
    cr_assert_eq(utf8_decode(s, 3, &cp), -1); /* a surrogate: ED alone */
    s = (const unsigned char *)"\xe2\x82\x28";
    cr_assert_eq(utf8_decode(s, 3, &cp), -2);
    s = (const unsigned char *)"\xf0\x9f\x94";
    cr_assert_eq(utf8_decode(s, 3, &cp), -3); /* truncated by the length */
    s = (const unsigned char *)"\xf0\x9f\x94\xa8";
    cr_assert_eq(utf8_decode(s, 4, &cp), 4);
    cr_assert_eq(cp, 0x1F528);
    s = (const unsigned char *)"A";
    cr_assert_eq(utf8_decode(s, 1, &cp), 1);
    cr_assert_eq(cp, 'A');
}

Test(utf8, continuation_bytes_are_10xxxxxx)
{
    cr_assert(utf8_continuation(0x80));
    cr_assert(utf8_continuation(0xbf));
    cr_assert_not(utf8_continuation(0x7f));
    cr_assert_not(utf8_continuation(0xc0));
    cr_assert_not(utf8_continuation('a'));
}
