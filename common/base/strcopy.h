/* strcopy: the bounded copy of a NUL-terminated string into a fixed
 * buffer, for the hot paths that used snprintf(dst, cap, "%s", src): the
 * same result (truncated to cap - 1 bytes, always terminated) without
 * the format machinery, which was ~4 % of the command-service's CPU and
 * ~10 % of the relay's (docs/decisions.md, item 39). */
#ifndef INV_STRCOPY_H
#define INV_STRCOPY_H

#include <stddef.h>

/* Copies src (NULL: the empty string) into dst of cap bytes (cap > 0),
 * truncated to cap - 1 bytes and terminated.  Returns the length copied. */
size_t strcopy(char *dst, size_t cap, const char *src);

#endif
