/* change: see change.h.  A bounded string builder underneath: every piece is
 * appended whole or not at all, so truncation never splits an escape or a
 * UTF-8 character. */
#include "change.h"

#include "utf8.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ELLIPSIS "..."

typedef struct {
    char *buf;  /* caller's buffer, always NUL-terminated */
    size_t cap; /* bytes in buf, >= 4 */
    size_t len; /* bytes used, excluding the NUL */
    bool full;  /* a piece did not fit; "..." was written; nothing more goes in */
} sb_t;

static void
sb_init(sb_t *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->full = false;
    buf[0] = '\0';
}

/* Appends n bytes as one unit; keeps room for the ellipsis. */
static void
sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->full)
        return;
    if (b->len + n + sizeof ELLIPSIS > b->cap) {
        b->full = true;
        s = ELLIPSIS;
        n = sizeof ELLIPSIS - 1;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void
sb_str(sb_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void
sb_int(sb_t *b, int64_t v)
{
    char tmp[CHANGE_INT_MAX];
    sb_put(b, tmp, change_format_int(v, tmp));
}

/* One ASCII byte, escaped when it could break the line or the quoting. */
static void
sb_escape_ascii(sb_t *b, unsigned char c)
{
    static const char *const named[128] = {
        ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t", ['"'] = "\\\"", ['\\'] = "\\\\"};
    char tmp[8];
    if (named[c])
        sb_str(b, named[c]);
    else if (c < 0x20 || c == 0x7f)
        sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c));
    else
        sb_put(b, (const char *)&c, 1);
}

/* True for the bytes that pass through sb_escape unchanged on their own. */
static bool
plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Unicode's Bidi_Control characters: the embeddings and overrides
 * (U+202A..U+202E), the isolates (U+2066..U+2069) and the marks (U+061C,
 * U+200E, U+200F), which would reorder what a terminal shows of the line. */
static bool
bidi_control(uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c ||
           cp == 0x200e || cp == 0x200f;
}

static void
sb_escape(sb_t *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char tmp[12];
    for (size_t i = 0; i < len && !b->full;) {
        size_t run = 0;
        while (i + run < len && plain_ascii(p[i + run]))
            run++;
        if (run > 1 && b->len + run + sizeof ELLIPSIS <= b->cap) {
            sb_put(b, s + i, run); /* what `run` one-byte pieces would have written */
            i += run;
            continue;
        }
        uint32_t cp = 0;
        int n = p[i] < 0x80 ? 1 : utf8_decode(p + i, len - i, &cp);
        if (p[i] < 0x80)
            sb_escape_ascii(b, p[i]);
        else if (n < 0)
            sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", p[i]));
        else if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || bidi_control(cp))
            sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04" PRIx32, cp));
        else
            sb_put(b, s + i, (size_t)n);
        i += n > 0 ? (size_t)n : 1;
    }
}

static void
sb_quoted(sb_t *b, const char *s)
{
    sb_put(b, "\"", 1);
    sb_escape(b, s, strlen(s));
    sb_put(b, "\"", 1);
}

/* ---- one describer per event type ---------------------------------------- */

typedef void (*describe_fn)(sb_t *b, const fields_t *d);

static void
describe_supplier_registered(sb_t *b, const fields_t *d)
{
    sb_str(b, "registered ");
    sb_quoted(b, d->name);
}

static void
describe_supplier_renamed(sb_t *b, const fields_t *d)
{
    sb_str(b, "name ");
    sb_quoted(b, d->old_name);
    sb_str(b, " -> ");
    sb_quoted(b, d->new_name);
}

static void
describe_product_created(sb_t *b, const fields_t *d)
{
    sb_str(b, "created ");
    sb_quoted(b, d->name);
    sb_str(b, " price ");
    sb_int(b, d->num[F_PRICE_CENTS]);
    sb_str(b, " stock ");
    sb_int(b, d->num[F_STOCK]);
    sb_str(b, " threshold ");
    sb_int(b, d->num[F_LOW_STOCK_THRESHOLD]);
}

static void
describe_price_changed(sb_t *b, const fields_t *d)
{
    sb_str(b, "price ");
    sb_int(b, d->num[F_OLD_PRICE_CENTS]);
    sb_str(b, " -> ");
    sb_int(b, d->num[F_NEW_PRICE_CENTS]);
}

static void
describe_stock_updated(sb_t *b, const fields_t *d)
{
    sb_str(b, "stock ");
    sb_int(b, d->num[F_OLD_STOCK]);
    sb_str(b, " -> ");
    sb_int(b, d->num[F_NEW_STOCK]);
}

static void
describe_product_sold(sb_t *b, const fields_t *d)
{
    sb_str(b, "sold ");
    sb_int(b, d->num[F_QUANTITY]);
    sb_str(b, " (order ");
    sb_escape(b, d->order_id, strlen(d->order_id));
    sb_str(b, ") ");
    describe_stock_updated(b, d);
}

static void
describe_product_viewed(sb_t *b, const fields_t *d)
{
    (void)d;
    sb_str(b, "viewed");
}

static void
describe_review_submitted(sb_t *b, const fields_t *d)
{
    sb_str(b, "review ");
    sb_escape(b, d->review_id, strlen(d->review_id));
    sb_str(b, " rating ");
    sb_int(b, d->num[F_RATING]);
}

static void
describe_product_discontinued(sb_t *b, const fields_t *d)
{
    sb_str(b, "discontinued");
    if (d->reason[0]) {
        sb_str(b, ": ");
        sb_escape(b, d->reason, strlen(d->reason));
    }
}

static const describe_fn describers[EV__COUNT] = {
    [EV_SUPPLIER_REGISTERED] = describe_supplier_registered,
    [EV_SUPPLIER_RENAMED] = describe_supplier_renamed,
    [EV_PRODUCT_CREATED] = describe_product_created,
    [EV_PRICE_CHANGED] = describe_price_changed,
    [EV_STOCK_UPDATED] = describe_stock_updated,
    [EV_PRODUCT_SOLD] = describe_product_sold,
    [EV_PRODUCT_VIEWED] = describe_product_viewed,
    [EV_REVIEW_SUBMITTED] = describe_review_submitted,
    [EV_PRODUCT_DISCONTINUED] = describe_product_discontinued,
};

/* ---- public -------------------------------------------------------------- */

size_t
change_format_int(int64_t v, char out[CHANGE_INT_MAX])
{
    char tmp[CHANGE_INT_MAX];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

size_t
change_describe(const event_t *ev, char *out, size_t cap)
{
    sb_t b;
    sb_init(&b, out, cap);
    if ((unsigned)ev->env.type < EV__COUNT && describers[ev->env.type])
        describers[ev->env.type](&b, &ev->data);
    else
        sb_str(&b, "unknown event");
    return b.len;
}

size_t
change_escape(const char *s, size_t len, char *out, size_t cap)
{
    sb_t b;
    sb_init(&b, out, cap);
    sb_escape(&b, s, len);
    return b.len;
}

char *
change_iso_time(int64_t us, char out[CHANGE_TIME_MAX])
{
    int64_t secs = us / 1000000;
    int64_t rem = us % 1000000;
    if (rem < 0) {
        secs -= 1;
        rem += 1000000;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, CHANGE_TIME_MAX, "@%" PRId64 "us", us);
        return out;
    }
    snprintf(out, CHANGE_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000));
    return out;
}
