/* pretty: a generic, readable rendering of any reply, for people.
 *  - scalars: "key: value" lines with the keys aligned;
 *  - money (*_cents ints): "1999 (19.99)"; times (*_at, *_us, ts ints):
 *    "1763910684123456 (2025-11-23T15:11:24.123456Z)";
 *  - lists of flat records (maps whose values are scalars or small maps):
 *    one aligned row each under a header; in cells money shows as 19.99 and
 *    times as ISO-8601, a nested map as "k=v k=v";
 *  - anything else: indented blocks;
 *  - nothing from a reply reaches the terminal raw: in every string printed
 *    (values, keys, column headings) C0 and C1 control characters, DEL,
 *    invalid UTF-8, U+2028/U+2029 and the bidirectional controls are shown
 *    as '?' (pretty_text); ext and bin values as "<ext T, N bytes>" and
 *    "<N bytes>"; nil as "-".
 * Knows no reply shape: new fields show up without a code change.
 * Values are given as cursors (mpread_t) at them, over bytes checked by
 * codec_reader_check; the cursors do not move. */
#ifndef INV_PRETTY_H
#define INV_PRETTY_H

#include "mpread.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Prints a reply map (its "ok" is left out: the caller reports failures). */
void pretty_print(FILE *f, const mpread_t *o);

/* One scalar as text into buf, as a table cell (cell=true) or a value.
 * key (may be NULL) selects money and time forms. */
void pretty_scalar(const mpread_t *o, const char *key, size_t key_len, bool cell, char *buf,
                   size_t cap);

/* Copies the n bytes of str into buf (NUL-terminated, cut to cap) with
 * every character a terminal could act on (utf8_unsafe_cp, utf8.h) and every
 * invalid UTF-8 subsequence replaced by '?'.  Returns the length written.
 * Every string invctl prints from a reply goes through it. */
size_t pretty_text(const char *str, size_t n, char *buf, size_t cap);

/* Formats cents as "19.99" / "-0.05". */
void pretty_money(int64_t cents, char *buf, size_t cap);

/* A flat one-line rendering of a map: "k=v k=v" (nested maps in {});
 * money in units under its key without "_cents" (price=19.99). */
void pretty_inline(const mpread_t *o, char *buf, size_t cap);

#endif
