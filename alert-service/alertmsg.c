/* alertmsg: see alertmsg.h.
 * The escaping and the ISO time repeat audit-service/change.c on purpose:
 * daemons do not link each other's code; both belong in common/ later
 * (the UTF-8 decoding already is: common/base/utf8). */
#include "alertmsg.h"

#include "utf8.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIME_MAX 96 /* snprintf bound the compiler accepts for any struct tm */

/* ---- escaping ------------------------------------------------------------ */

/* The escape for one unit starting at p, into tmp; returns the bytes to
 * copy (tmp or p itself through *src) and sets *adv to the input used. */
static size_t
escape_unit(const unsigned char *p, size_t n, char tmp[12], const char **src, size_t *adv)
{
    static const char *const named[128] = {
        ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t", ['"'] = "\\\"", ['\\'] = "\\\\"};
    uint32_t cp = 0;
    *src = tmp;
    *adv = 1;
    if (p[0] < 0x80 && named[p[0]]) {
        *src = named[p[0]];
        return strlen(*src);
    }
    if (p[0] < 0x20 || p[0] == 0x7f)
        return (size_t)snprintf(tmp, 12, "\\x%02x", p[0]);
    if (p[0] < 0x80) {
        *src = (const char *)p;
        return 1;
    }
    int len = utf8_decode(p, n, &cp);
    if (len < 0)
        return (size_t)snprintf(tmp, 12, "\\x%02x", p[0]);
    *adv = (size_t)len;
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029)
        return (size_t)snprintf(tmp, 12, "\\u%04" PRIx32, cp);
    *src = (const char *)p;
    return (size_t)len;
}

size_t
alertmsg_escape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    char tmp[12];
    for (size_t i = 0; i < len;) {
        const char *src;
        size_t adv;
        size_t n = escape_unit((const unsigned char *)s + i, len - i, tmp, &src, &adv);
        if (o + n + 4 > cap) { /* room for "..." and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, src, n);
        o += n;
        i += adv;
    }
    out[o] = '\0';
    return o;
}

static char *
iso_time(int64_t us, char out[TIME_MAX])
{
    int64_t secs = us / 1000000, rem = us % 1000000;
    if (rem < 0)
        secs -= 1, rem += 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        snprintf(out, TIME_MAX, "@%" PRId64 "us", us);
    else
        snprintf(out, TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000));
    return out;
}

/* ---- the printed line ---------------------------------------------------- */

/* How each kind shows the stock against the threshold. */
static const char *const separators[STOCKWATCH__KINDS] = {
    [STOCKWATCH_NONE] = " ? ",
    [STOCKWATCH_LOW_STOCK] = " < ",
    [STOCKWATCH_OUT_OF_STOCK] = ", ",
    [STOCKWATCH_CLEARED] = " >= ",
};

size_t
alertmsg_line(const alertmsg_t *a, char *out, size_t cap)
{
    char when[TIME_MAX], id[4 * ID_MAX + 4], name[4 * NAME_MAX_BYTES + 4], corr[4 * ID_MAX + 4];
    alertmsg_escape(a->product_id, strlen(a->product_id), id, sizeof id);
    alertmsg_escape(a->name, strlen(a->name), name, sizeof name);
    alertmsg_escape(a->correlation_id, strlen(a->correlation_id), corr, sizeof corr);
    const char *sep = separators[(unsigned)a->kind < STOCKWATCH__KINDS ? a->kind : 0];
    int n = snprintf(out, cap,
                     "%s %s %s \"%s\" stock %" PRId64 "%sthreshold %" PRId64 " (position %" PRId64
                     ", corr %s)",
                     iso_time(a->recorded_at, when), stockwatch_kind_label(a->kind), id, name,
                     a->stock, sep, a->threshold, a->position, corr[0] ? corr : "-");
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ---- the published body -------------------------------------------------- */

/* The body's entries after "kind". */
static const codec_field_t alert_fields[] = {
    CODEC_FIELD(TEXT, alertmsg_t, product_id), CODEC_FIELD(TEXT, alertmsg_t, name),
    CODEC_FIELD(INT, alertmsg_t, stock),       CODEC_FIELD(INT, alertmsg_t, threshold),
    CODEC_FIELD(INT, alertmsg_t, position),    CODEC_FIELD(INT, alertmsg_t, recorded_at),
    CODEC_FIELD(TEXT, alertmsg_t, correlation_id)};

void
alertmsg_pack(codec_writer_t *w, const alertmsg_t *a)
{
    codec_map_open(w);
    codec_map_str(w, "kind", stockwatch_kind_name(a->kind));
    codec_map_fields(w, alert_fields, sizeof alert_fields / sizeof alert_fields[0], a);
    codec_map_close(w);
}

/* The body's keys, in the order alertmsg_pack writes them. */
enum {
    AK_KIND,
    AK_PRODUCT_ID,
    AK_NAME,
    AK_STOCK,
    AK_THRESHOLD,
    AK_POSITION,
    AK_RECORDED_AT,
    AK_CORRELATION_ID,
    AK__COUNT
};
static const codec_key_t alert_keys[AK__COUNT] = {
    CODEC_KEY("kind"),        CODEC_KEY("product_id"),    CODEC_KEY("name"),
    CODEC_KEY("stock"),       CODEC_KEY("threshold"),     CODEC_KEY("position"),
    CODEC_KEY("recorded_at"), CODEC_KEY("correlation_id")};

int
alertmsg_read(mpread_t *r, alertmsg_t *a, const char **why)
{
    char kind[16];
    mpread_t v[AK__COUNT];
    uint32_t found;
    int unknown;
    memset(a, 0, sizeof *a);
    if (codec_map_index(r, alert_keys, AK__COUNT, v, &found, &unknown) != 0 || unknown != 0 ||
        found != (1u << AK__COUNT) - 1 || mpread_str_copy(&v[AK_KIND], kind, sizeof kind) ||
        mpread_str_copy(&v[AK_PRODUCT_ID], a->product_id, sizeof a->product_id) ||
        mpread_str_copy(&v[AK_NAME], a->name, sizeof a->name) ||
        mpread_int(&v[AK_STOCK], &a->stock) || mpread_int(&v[AK_THRESHOLD], &a->threshold) ||
        mpread_int(&v[AK_POSITION], &a->position) ||
        mpread_int(&v[AK_RECORDED_AT], &a->recorded_at) ||
        mpread_str_copy(&v[AK_CORRELATION_ID], a->correlation_id, sizeof a->correlation_id)) {
        *why = "alert must be a map of exactly its 8 fields with their types";
        return -1;
    }
    int k = stockwatch_kind_lookup(kind);
    if (k < 0) {
        *why = "unknown alert kind";
        return -1;
    }
    a->kind = (stockwatch_kind_t)k;
    return 0;
}

int
alertmsg_decode(const void *buf, size_t len, alertmsg_t *a, const char **why)
{
    mpread_t r;
    if (codec_reader_init(&r, buf, len, why) != 0)
        return -1;
    return alertmsg_read(&r, a, why);
}
