/* utf8: the one UTF-8 decoder and validator (the field rules, the audit's
 * change text, the alert lines, invctl's JSON and tables).  Well-formed
 * means Unicode's table 3-7: no overlong forms, no surrogates, nothing
 * above U+10FFFF, no truncated sequence. */
#ifndef INV_UTF8_H
#define INV_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The character at s (avail >= 1 bytes): its length (1..4) with its code
 * point in *cp when the bytes are well formed; otherwise minus the length
 * (1..3) of its maximal ill-formed subpart, the bytes to skip as one error
 * (Unicode's "substitution of maximal subparts" with U+FFFD). */
int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp);

/* True when s[0..len) is well-formed UTF-8 and holds no NUL. */
bool utf8_valid(const char *s, size_t len);

/* C0 and C1 controls, DEL, U+2028/U+2029 and the bidirectional controls
 * (U+061C, U+200E/F, U+202A..E, U+2066..9): what a terminal could act on,
 * escaped in JSON (jsonstr.h) and replaced in invctl's tables. */
bool utf8_unsafe_cp(uint32_t cp);

/* True for a continuation byte (10xxxxxx), one that starts no character. */
static inline bool
utf8_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

#endif
