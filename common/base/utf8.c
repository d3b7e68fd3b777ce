/* utf8: see utf8.h.  The lead byte gives the length and the range of the
 * second byte, which is what rules out overlongs (E0, F0), surrogates (ED)
 * and code points above U+10FFFF (F4); later bytes are any continuation. */
#include "utf8.h"

int
utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF; /* range of the second byte */
    int need;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2, *cp = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3, *cp = b & 0x0Fu;
        lo = b == 0xE0 ? 0xA0 : lo;
        hi = b == 0xED ? 0x9F : hi;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4, *cp = b & 0x07u;
        lo = b == 0xF0 ? 0x90 : lo;
        hi = b == 0xF4 ? 0x8F : hi;
    } else {
        return -1;
    }
    for (int k = 1; k < need; k++) {
        if ((size_t)k >= avail || s[k] < lo || s[k] > hi)
            return -k;
        *cp = (*cp << 6) | (s[k] & 0x3Fu);
        lo = 0x80, hi = 0xBF;
    }
    return need;
}

bool
utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        if (s[i] == 0)
            return false;
        int n = s[i] < 0x80 ? 1 : utf8_decode(s + i, len - i, &cp);
        if (n < 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

bool
utf8_unsafe_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}
