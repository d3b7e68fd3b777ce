/* jsonstr: the one JSON string writer (invctl's JSON output, the daemons'
 * JSON log lines).  Quotes, backslashes and control characters are escaped
 * (\n, \t, \u001f, ...); invalid UTF-8 (overlongs, surrogates, truncated or
 * stray bytes, code points past U+10FFFF) becomes \ufffd, one per maximal
 * invalid subsequence as Unicode recommends; DEL, C1 controls, U+2028/9
 * and the bidirectional controls are escaped (\u009b, \u202e). */
#ifndef INV_JSONSTR_H
#define INV_JSONSTR_H

#include <stddef.h>
#include <stdio.h>

/* Writes s[0..len) to f as one JSON string literal, quotes included. */
void jsonstr_write(FILE *f, const char *s, size_t len);

#endif
