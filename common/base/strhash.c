/* strhash: see strhash.h. */
#include "strhash.h"

uint64_t
strhash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* the FNV offset basis */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull; /* the FNV prime */
    }
    return h;
}
