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

void
alertmsg_pack(msgpack_packer *pk, const alertmsg_t *a)
{
    msgpack_pack_map(pk, 8);
    codec_pack_kv_str(pk, "kind", stockwatch_kind_name(a->kind));
    codec_pack_kv_str(pk, "product_id", a->product_id);
    codec_pack_kv_str(pk, "name", a->name);
    codec_pack_kv_int(pk, "stock", a->stock);
    codec_pack_kv_int(pk, "threshold", a->threshold);
    codec_pack_kv_int(pk, "position", a->position);
    codec_pack_kv_int(pk, "recorded_at", a->recorded_at);
    codec_pack_kv_str(pk, "correlation_id", a->correlation_id);
}

static int
get_int(const msgpack_object *o, const char *key, int64_t *out)
{
    const msgpack_object *v = codec_map_get(o, key);
    return v ? codec_get_int(v, out) : -1;
}

static int
get_str(const msgpack_object *o, const char *key, char *buf, size_t cap)
{
    const msgpack_object *v = codec_map_get(o, key);
    return v ? codec_copy_str(v, buf, cap) : -1;
}

int
alertmsg_decode_obj(const msgpack_object *o, alertmsg_t *a, const char **why)
{
    char kind[16];
    memset(a, 0, sizeof *a);
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 8 ||
        get_str(o, "kind", kind, sizeof kind) ||
        get_str(o, "product_id", a->product_id, sizeof a->product_id) ||
        get_str(o, "name", a->name, sizeof a->name) || get_int(o, "stock", &a->stock) ||
        get_int(o, "threshold", &a->threshold) || get_int(o, "position", &a->position) ||
        get_int(o, "recorded_at", &a->recorded_at) ||
        get_str(o, "correlation_id", a->correlation_id, sizeof a->correlation_id)) {
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
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = codec_parse(buf, len, &u, why);
    if (rc == 0)
        rc = alertmsg_decode_obj(&u.data, a, why);
    msgpack_unpacked_destroy(&u);
    return rc;
}
