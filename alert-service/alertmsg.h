/* alertmsg: one alert as a value, and its two renderings: the printed line
 * a person watches and the msgpack body published on the alert PUB socket
 * (with its strict decoder, for subscribers such as `invctl watch`).
 *
 * Invariants: pure (no I/O, no clock: the time printed is the event's
 * recorded_at); a printed line is always exactly one line (names and ids are
 * escaped: control characters, quotes, invalid UTF-8, U+2028/U+2029);
 * alertmsg_decode(alertmsg_pack(a)) == a. */
#ifndef INV_ALERTMSG_H
#define INV_ALERTMSG_H

#include "codec.h"
#include "fields.h"
#include "stockwatch.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define ALERTMSG_LINE_MAX 1536 /* longest line: 200-byte name escaped 4x, ids, numbers */

typedef struct {
    stockwatch_kind_t kind; /* never STOCKWATCH_NONE */
    char product_id[ID_MAX + 1];
    char name[NAME_MAX_BYTES + 1];   /* product name when the alert was raised */
    int64_t stock;                   /* units after the event, >= 0 */
    int64_t threshold;               /* the product's low_stock_threshold */
    int64_t position;                /* position of the event that raised it */
    int64_t recorded_at;             /* that event's time, us since the epoch, UTC */
    char correlation_id[ID_MAX + 1]; /* that event's correlation id, "" when none */
} alertmsg_t;

/* Writes the printed line (no newline) into out, e.g.
 * 2026-11-23T15:11:24.123Z LOW STOCK p1 "Widget" stock 3 < threshold 10 (position 17, corr abc)
 * Always NUL-terminated; returns the length. */
size_t alertmsg_line(const alertmsg_t *a, char *out, size_t cap);

/* Packs the published body {kind, product_id, name, stock, threshold,
 * position, recorded_at, correlation_id}. */
void alertmsg_pack(codec_writer_t *w, const alertmsg_t *a);
/* Strict decoder of that body: one map, every key present once with its
 * type (strings UTF-8 without NUL), no other key, a known kind.  0, or -1
 * with a static reason in *why. */
int alertmsg_decode(const void *buf, size_t len, alertmsg_t *a, const char **why);
/* The same for the map at the cursor (an item of a ListAlerts reply), which
 * it moves past on success. */
int alertmsg_read(mpread_t *r, alertmsg_t *a, const char **why);

/* Escapes s[0..len) for one printed line (as audit-service's
 * change_escape): \" \\ \n \r \t \xHH for other control and invalid bytes,
 * \uHHHH for C1 controls and U+2028/U+2029.  Returns the length. */
size_t alertmsg_escape(const char *s, size_t len, char *out, size_t cap);

#endif
