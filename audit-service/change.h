/* change: what one event changed, as one short human line, and the text
 * helpers that keep every printed audit line a single line.
 *
 * Invariants:
 *  - pure: no I/O, no clock, no allocation; the same event always gives the
 *    same text (a rebuilt audit model compares equal byte for byte);
 *  - the output never contains a control character, a raw quote inside a
 *    quoted value, an invalid UTF-8 byte or a Unicode line separator: all
 *    are escaped (\n, \t, \", \\, \xHH, \u2028), so one event is one line;
 *  - the output is always NUL-terminated; when it does not fit it is cut at
 *    a whole escape or character and ends in "...". */
#ifndef INV_CHANGE_H
#define INV_CHANGE_H

#include "message.h"

#include <stddef.h>
#include <stdint.h>

/* Enough for the longest description: a 500-byte reason escaped 4x. */
#define CHANGE_MAX 2304
/* An int64_t in decimal, sign and NUL included. */
#define CHANGE_INT_MAX 24
/* "2026-11-23T15:11:24.123Z"; sized for any int the compiler can imagine. */
#define CHANGE_TIME_MAX 96

/* Writes what `ev` changed into out (cap >= 4 bytes), e.g. "stock 12 -> 3",
 * "created \"Widget\" price 1999 stock 40 threshold 10".  Returns the length
 * written (excluding the NUL).  ev must have a valid type. */
size_t change_describe(const event_t *ev, char *out, size_t cap);

/* Escapes s[0..len) for a single printed line into out (cap >= 4): quotes
 * and backslashes are backslashed, control bytes become \n \r \t or \xHH,
 * invalid UTF-8 bytes \xHH, C1 controls, U+2028/U+2029 and the bidi
 * controls (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069) \uHHHH;
 * valid UTF-8 otherwise passes through.  Returns the length written. */
size_t change_escape(const char *s, size_t len, char *out, size_t cap);

/* Writes v in decimal ("%" PRId64) into out; returns the length. */
size_t change_format_int(int64_t v, char out[CHANGE_INT_MAX]);

/* Formats microseconds since the epoch (UTC) as ISO 8601 with milliseconds,
 * "2026-11-23T15:11:24.123Z" (rounded down, negative values too).  Returns
 * out. */
char *change_iso_time(int64_t us, char out[CHANGE_TIME_MAX]);

#endif
