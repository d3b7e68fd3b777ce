/* jsonout: see jsonout.h. */
#include "jsonout.h"

#include "codec.h"
#include "jsonstr.h"
#include "pretty.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void
write_base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(tbl[(v >> 18) & 63], f);
        fputc(tbl[(v >> 12) & 63], f);
        fputc(i + 1 < n ? tbl[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? tbl[v & 63] : '=', f);
    }
    fputc('"', f);
}

/* Shortest %g form that reads back as the same value. */
static void
write_double(FILE *f, double d, bool single)
{
    if (!isfinite(d)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    for (int prec = single ? 6 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)d : back == d)
            break;
    }
    fputs(buf, f);
}

static int json_value(FILE *f, mpread_t *r, int depth);

/* A map key: a string as itself, anything else as its JSON text in a
 * string. */
static int
write_key(FILE *f, mpread_t *r, int depth)
{
    const char *s;
    size_t n;
    if (mpread_str(r, &s, &n) == 0) {
        jsonstr_write(f, s, n);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        fputs("\"?\"", f);
        return mpread_skip(r);
    }
    int rc = json_value(m, r, depth);
    if (fclose(m) != 0 || rc != 0) {
        fputs("\"?\"", f);
        free(text);
        return rc;
    }
    jsonstr_write(f, text, len);
    free(text);
    return 0;
}

/* The n elements (pairs, when map) of a container whose header was read. */
static int
json_items(FILE *f, mpread_t *r, uint32_t n, bool map, int depth)
{
    fputc(map ? '{' : '[', f);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        if (map && write_key(f, r, depth) != 0)
            return -1;
        if (map)
            fputc(':', f);
        if (json_value(f, r, depth) != 0)
            return -1;
    }
    fputc(map ? '}' : ']', f);
    return 0;
}

/* Writes the value at r and moves past it.  0, or -1 when the bytes end or
 * break, or nest deeper than a checked message can (null stands in). */
static int
json_value(FILE *f, mpread_t *r, int depth)
{
    mpval_t v;
    if (depth > MPREAD_MAX_DEPTH || mpread_value(r, &v) != 0) {
        fputs("null", f);
        return -1;
    }
    switch (v.type) {
    case MP_BOOL:
        fputs(v.b ? "true" : "false", f);
        return 0;
    case MP_INT:
        if (v.neg)
            fprintf(f, "%" PRId64, v.i);
        else
            fprintf(f, "%" PRIu64, v.u);
        return 0;
    case MP_FLOAT:
        write_double(f, v.f, v.f32);
        return 0;
    case MP_STR:
        jsonstr_write(f, v.s, v.len);
        return 0;
    case MP_BIN:
        write_base64(f, (const unsigned char *)v.s, v.len);
        return 0;
    case MP_EXT:
        fprintf(f, "{\"ext\":%d,\"base64\":", (int)v.ext);
        write_base64(f, (const unsigned char *)v.s, v.len);
        fputc('}', f);
        return 0;
    case MP_ARRAY:
    case MP_MAP:
        return json_items(f, r, v.len, v.type == MP_MAP, depth + 1);
    default:
        fputs("null", f);
        return 0;
    }
}

void
jsonout_write(FILE *f, const mpread_t *v)
{
    mpread_t r = *v;
    json_value(f, &r, 0);
}

char *
jsonout_string(const mpread_t *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    jsonout_write(f, v);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int
jsonout_print_msgpack(FILE *f, const void *buf, size_t len)
{
    mpread_t r;
    const char *why;
    if (codec_reader_check(&r, buf, len, &why) != 0)
        return -1;
    jsonout_write(f, &r);
    fputc('\n', f);
    fflush(f);
    return 0;
}
