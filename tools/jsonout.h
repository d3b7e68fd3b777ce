/* jsonout: msgpack values as JSON text, exactly.
 *  - strings (jsonstr.h): quotes, backslashes and control characters escaped (\n, \t,
 *    \u001f, ...); invalid UTF-8 (overlongs, surrogates, truncated or stray
 *    bytes, code points past U+10FFFF) becomes \ufffd, one per maximal
 *    invalid subsequence as Unicode recommends; DEL, C1 controls, U+2028/9
 *    and the bidirectional controls escaped (\u009b, \u202e);
 *  - integers: printed exactly (all of uint64 and int64), never via double;
 *  - floats: shortest round-trip form; NaN and infinities become null;
 *  - bin: base64 string; ext: {"ext": type, "base64": "..."};
 *  - map keys that are not strings are written as the JSON text of the key
 *    inside a string ({"1": ...}).
 * Output is compact, one value, no trailing newline. */
#ifndef INV_JSONOUT_H
#define INV_JSONOUT_H

#include "mpread.h"

#include <stddef.h>
#include <stdio.h>

/* Writes the value at v as JSON to f (v does not move; bytes that end or
 * break early end in null). */
void jsonout_write(FILE *f, const mpread_t *v);
/* The value at v as a malloc'ed NUL-terminated JSON string (caller frees);
 * NULL on ENOMEM. */
char *jsonout_string(const mpread_t *v);
/* Checks buf as codec_reader_check does and writes its value as JSON plus a
 * newline.  Returns 0, or -1 (nothing written) when buf is not exactly one
 * msgpack value with string keys. */
int jsonout_print_msgpack(FILE *f, const void *buf, size_t len);

#endif
