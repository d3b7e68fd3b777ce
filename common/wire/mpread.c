/* mpread: see mpread.h. */
#include "mpread.h"

#include "utf8.h"

#include <string.h>

/* One value's header, as read from its first bytes. */
typedef struct {
    mptype_t type;
    size_t head;  /* bytes of the header: the type byte and what follows it */
    uint64_t len; /* str, bin, ext, float: payload bytes; array: elements;
                     map: pairs */
    int64_t i;    /* int: the value */
    bool big;     /* int: an unsigned above INT64_MAX */
    bool b;       /* bool: the value */
} mphead_t;

static uint64_t
be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Sets h->len from the n-byte big-endian length after the type byte. */
static int
mp_len(const uint8_t *p, size_t avail, size_t n, mphead_t *h)
{
    if (avail < 1 + n)
        return -1;
    h->len = be_read(p + 1, n);
    h->head = 1 + n;
    return 0;
}

/* An integer of n bytes after the type byte, signed or not. */
static int
mp_intn(const uint8_t *p, size_t avail, size_t n, bool is_signed, mphead_t *h)
{
    if (avail < 1 + n)
        return -1;
    uint64_t u = be_read(p + 1, n);
    h->type = MP_INT;
    h->head = 1 + n;
    if (is_signed) {
        unsigned shift = (unsigned)(64 - 8 * n);
        h->i = (int64_t)(u << shift) >> shift; /* sign-extend */
    } else {
        h->big = u > (uint64_t)INT64_MAX;
        h->i = (int64_t)(h->big ? 0 : u);
    }
    return 0;
}

/* Reads the header of the value at p (avail bytes, avail > 0). */
static int
mp_head_ext(const uint8_t *p, size_t avail, mphead_t *h)
{
    uint8_t c = p[0];
    static const uint8_t fixext[] = {1, 2, 4, 8, 16};
    switch (c) {
    case 0xc0:
        h->type = MP_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        h->type = MP_BOOL;
        h->b = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        h->type = MP_BIN;
        return mp_len(p, avail, (size_t)1 << (c - 0xc4), h);
    case 0xc7:
    case 0xc8:
    case 0xc9:
        h->type = MP_EXT; /* the ext type byte counts as payload */
        if (mp_len(p, avail, (size_t)1 << (c - 0xc7), h) != 0)
            return -1;
        h->len += 1;
        return 0;
    case 0xca:
        h->type = MP_FLOAT;
        h->len = 4;
        return 0;
    case 0xcb:
        h->type = MP_FLOAT;
        h->len = 8;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        return mp_intn(p, avail, (size_t)1 << (c - 0xcc), false, h);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        return mp_intn(p, avail, (size_t)1 << (c - 0xd0), true, h);
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        h->type = MP_EXT;
        h->len = 1u + fixext[c - 0xd4];
        return 0;
    case 0xd9:
    case 0xda:
    case 0xdb:
        h->type = MP_STR;
        return mp_len(p, avail, (size_t)1 << (c - 0xd9), h);
    case 0xdc:
    case 0xdd:
        h->type = MP_ARRAY;
        return mp_len(p, avail, (size_t)2 << (c - 0xdc), h);
    case 0xde:
    case 0xdf:
        h->type = MP_MAP;
        return mp_len(p, avail, (size_t)2 << (c - 0xde), h);
    default:
        h->type = MP_INVALID;
        return -1; /* 0xc1 */
    }
}

static int
mp_head(const mpread_t *r, mphead_t *h)
{
    memset(h, 0, sizeof *h);
    if (r->p >= r->end)
        return -1;
    uint8_t c = r->p[0];
    h->head = 1;
    if (c <= 0x7f || c >= 0xe0) {
        h->type = MP_INT;
        h->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x8f || (c >= 0x90 && c <= 0x9f) || (c >= 0xa0 && c <= 0xbf)) {
        h->type = c <= 0x8f ? MP_MAP : c <= 0x9f ? MP_ARRAY : MP_STR;
        h->len = c <= 0x9f ? (c & 0x0fu) : (c & 0x1fu);
        return 0;
    }
    return mp_head_ext(r->p, (size_t)(r->end - r->p), h);
}

/* Bytes after the header. */
static size_t
mp_rest(const mpread_t *r, const mphead_t *h)
{
    return (size_t)(r->end - r->p) - h->head;
}

/* Walks the bytes once, value by value (no recursion), and checks that
 * every container's count fits in the bytes that remain (each value takes
 * at least one byte). */
bool
mpread_well_formed(const void *buf, size_t len)
{
    mpread_t r;
    mpread_init(&r, buf, len);
    uint64_t pending = 1; /* values still to read */
    while (pending > 0) {
        mphead_t h;
        size_t left = (size_t)(r.end - r.p);
        if (pending > left || mp_head(&r, &h) != 0)
            return false;
        pending--;
        uint64_t rest = left - h.head;
        uint64_t items = h.type == MP_MAP ? 2 * h.len : h.type == MP_ARRAY ? h.len : 0;
        uint64_t payload =
            (h.type == MP_STR || h.type == MP_BIN || h.type == MP_EXT || h.type == MP_FLOAT) ? h.len
                                                                                             : 0;
        if (items > rest || payload > rest)
            return false;
        pending += items;
        r.p += h.head + payload;
    }
    return r.p == r.end;
}

void
mpread_init(mpread_t *r, const void *buf, size_t len)
{
    r->p = buf;
    r->end = r->p + len;
}

bool
mpread_at_end(const mpread_t *r)
{
    return r->p >= r->end;
}

mptype_t
mpread_peek(const mpread_t *r)
{
    mphead_t h;
    if (r->p >= r->end)
        return MP_NONE;
    mp_head(r, &h);
    return h.type;
}

int
mpread_int(mpread_t *r, int64_t *out)
{
    mphead_t h;
    if (mp_head(r, &h) != 0 || h.type != MP_INT || h.big)
        return -1;
    *out = h.i;
    r->p += h.head;
    return 0;
}

int
mpread_bool(mpread_t *r, bool *out)
{
    mphead_t h;
    if (mp_head(r, &h) != 0 || h.type != MP_BOOL)
        return -1;
    *out = h.b;
    r->p += h.head;
    return 0;
}

int
mpread_str(mpread_t *r, const char **s, size_t *len)
{
    mphead_t h;
    if (mp_head(r, &h) != 0 || h.type != MP_STR || h.len > mp_rest(r, &h))
        return -1;
    *s = (const char *)r->p + h.head;
    *len = (size_t)h.len;
    r->p += h.head + h.len;
    return 0;
}

int
mpread_str_copy(mpread_t *r, char *buf, size_t cap)
{
    mpread_t at = *r;
    const char *s;
    size_t n;
    if (mpread_str(&at, &s, &n) != 0 || n >= cap || !utf8_valid(s, n))
        return -1; /* a NUL would cut the copy short: "id\0junk" is not "id" */
    memcpy(buf, s, n);
    buf[n] = '\0';
    *r = at;
    return 0;
}

/* A container header of the given type whose elements (per_item bytes at
 * least each) fit in what remains. */
static int
mp_container(mpread_t *r, mptype_t type, uint64_t per_item, uint32_t *n)
{
    mphead_t h;
    if (mp_head(r, &h) != 0 || h.type != type || h.len > UINT32_MAX ||
        h.len * per_item > mp_rest(r, &h))
        return -1;
    *n = (uint32_t)h.len;
    r->p += h.head;
    return 0;
}

int
mpread_array(mpread_t *r, uint32_t *n)
{
    return mp_container(r, MP_ARRAY, 1, n);
}

int
mpread_map(mpread_t *r, uint32_t *n)
{
    return mp_container(r, MP_MAP, 2, n);
}

bool
mpread_nil(mpread_t *r)
{
    if (r->p < r->end && r->p[0] == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

static int
mp_skip(mpread_t *r, int depth)
{
    mphead_t h;
    if (mp_head(r, &h) != 0)
        return -1;
    uint32_t n;
    switch (h.type) {
    case MP_STR:
    case MP_BIN:
    case MP_EXT:
    case MP_FLOAT:
        if (h.len > mp_rest(r, &h))
            return -1;
        r->p += h.head + h.len;
        return 0;
    case MP_ARRAY:
        if (depth >= MPREAD_MAX_DEPTH || mpread_array(r, &n) != 0)
            return -1;
        for (uint32_t i = 0; i < n; i++)
            if (mp_skip(r, depth + 1) != 0)
                return -1;
        return 0;
    case MP_MAP:
        if (depth >= MPREAD_MAX_DEPTH || mpread_map(r, &n) != 0)
            return -1;
        for (uint32_t i = 0; i < n; i++)
            if (mpread_peek(r) != MP_STR || mp_skip(r, depth + 1) != 0 ||
                mp_skip(r, depth + 1) != 0)
                return -1;
        return 0;
    default:
        r->p += h.head;
        return 0;
    }
}

int
mpread_skip(mpread_t *r)
{
    mpread_t at = *r;
    if (mp_skip(&at, 0) != 0)
        return -1;
    *r = at;
    return 0;
}

/* ---- generic reading ------------------------------------------------------ */

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)be_read(p, 4);
}

/* The float of `bytes` (4 or 8) bytes after the type byte at p. */
static void
mp_float(const uint8_t *p, size_t bytes, mpval_t *v)
{
    v->f32 = bytes == 4;
    if (v->f32) {
        uint32_t bits = be32(p + 1);
        float x;
        memcpy(&x, &bits, sizeof x);
        v->f = x;
    } else {
        uint64_t bits = be_read(p + 1, 8);
        memcpy(&v->f, &bits, sizeof v->f);
    }
}

int
mpread_value(mpread_t *r, mpval_t *v)
{
    mphead_t h;
    memset(v, 0, sizeof *v);
    if (mp_head(r, &h) != 0)
        return -1;
    uint64_t items = h.type == MP_MAP ? 2 * h.len : h.type == MP_ARRAY ? h.len : 0;
    uint64_t payload =
        h.type == MP_STR || h.type == MP_BIN || h.type == MP_EXT || h.type == MP_FLOAT ? h.len : 0;
    if (items > mp_rest(r, &h) || payload > mp_rest(r, &h) || h.len > UINT32_MAX)
        return -1;
    v->type = h.type;
    v->b = h.b;
    v->len = (uint32_t)h.len;
    if (h.type == MP_INT) {
        v->neg = h.i < 0; /* only signed encodings give one */
        v->i = h.i;
        v->u = v->neg ? 0 : h.big ? be_read(r->p + 1, 8) : (uint64_t)h.i;
    } else if (h.type == MP_FLOAT) {
        mp_float(r->p, (size_t)h.len, v);
        v->len = 0;
    } else if (h.type == MP_EXT) {
        v->ext = (int8_t)r->p[h.head];
        v->s = (const char *)r->p + h.head + 1;
        v->len = (uint32_t)h.len - 1;
    } else if (h.type == MP_STR || h.type == MP_BIN) {
        v->s = (const char *)r->p + h.head;
    }
    r->p += h.head + payload;
    return 0;
}

int
mpread_item(mpread_t *r, mpread_t *el)
{
    mpread_t at = *r;
    if (mpread_skip(r) != 0)
        return -1;
    *el = at;
    return 0;
}

int
mpread_pair(mpread_t *r, mpread_t *key, mpread_t *val)
{
    mpread_t at = *r, k, v;
    k = at;
    if (mpread_skip(&at) != 0)
        return -1;
    v = at;
    if (mpread_skip(&at) != 0)
        return -1;
    if (key)
        *key = k;
    if (val)
        *val = v;
    *r = at;
    return 0;
}

int
mpread_find(const mpread_t *map, const char *key, mpread_t *val)
{
    mpread_t r = *map, k, v;
    uint32_t n;
    size_t klen = strlen(key);
    if (mpread_map(&r, &n) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (mpread_pair(&r, &k, &v) != 0)
            return -1;
        if (mpread_str(&k, &s, &len) == 0 && len == klen && memcmp(s, key, klen) == 0) {
            *val = v;
            return 0;
        }
    }
    return -1;
}
