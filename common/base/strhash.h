/* strhash: the one string hash of the in-memory tables (the aggregate
 * cache, the event store's stream cache, the alert service's product
 * cache, the projector's sales fold).  Never stored: a table may change
 * it freely. */
#ifndef INV_STRHASH_H
#define INV_STRHASH_H

#include <stdint.h>

/* 64-bit FNV-1a of the NUL-terminated string s. */
uint64_t strhash(const char *s);

#endif
