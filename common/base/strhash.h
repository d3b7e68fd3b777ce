/* strhash: the one string hash, that of strtable (the in-memory tables).
 * Never stored: the table may change it freely. */
#ifndef INV_STRHASH_H
#define INV_STRHASH_H

#include <stdint.h>

/* 64-bit FNV-1a of the NUL-terminated string s. */
uint64_t strhash(const char *s);

#endif
