/* jsonout: see jsonout.h. */
#include "jsonout.h"

#include "codec.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void
jsonout_write_str(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        uint32_t cp = 0;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0) {
            fputs("\\ufffd", f);
            i += (size_t)-n;
            continue;
        }
        if (n == 1) {
            switch (c) {
            case '"':
                fputs("\\\"", f);
                break;
            case '\\':
                fputs("\\\\", f);
                break;
            case '\n':
                fputs("\\n", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            case '\b':
                fputs("\\b", f);
                break;
            case '\f':
                fputs("\\f", f);
                break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(f, "\\u%04x", c);
                else
                    fputc(c, f);
            }
        } else if (cp == 0x2028 || cp == 0x2029) {
            /* valid JSON, but they break JavaScript consumers */
            fprintf(f, "\\u%04x", (unsigned)cp);
        } else {
            fwrite(s + i, 1, (size_t)n, f);
        }
        i += (size_t)n;
    }
    fputc('"', f);
}

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

static void
write_key(FILE *f, const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        jsonout_write_str(f, k->via.str.ptr, k->via.str.size);
        return;
    }
    char *text = jsonout_string(k);
    if (!text) {
        fputs("\"?\"", f);
        return;
    }
    jsonout_write_str(f, text, strlen(text));
    free(text);
}

void
jsonout_write(FILE *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs("null", f);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(o->via.boolean ? "true" : "false", f);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf(f, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf(f, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        write_double(f, o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32);
        break;
    case MSGPACK_OBJECT_STR:
        jsonout_write_str(f, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        write_base64(f, (const unsigned char *)o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        fprintf(f, "{\"ext\":%d,\"base64\":", (int)o->via.ext.type);
        write_base64(f, (const unsigned char *)o->via.ext.ptr, o->via.ext.size);
        fputc('}', f);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', f);
            jsonout_write(f, &o->via.array.ptr[i]);
        }
        fputc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                fputc(',', f);
            write_key(f, &o->via.map.ptr[i].key);
            fputc(':', f);
            jsonout_write(f, &o->via.map.ptr[i].val);
        }
        fputc('}', f);
        break;
    default:
        fputs("null", f);
    }
}

char *
jsonout_string(const msgpack_object *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    jsonout_write(f, o);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int
jsonout_print_msgpack(FILE *f, const void *buf, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    int rc = codec_parse(buf, len, &u, &why);
    if (rc == 0) {
        jsonout_write(f, &u.data);
        fputc('\n', f);
        fflush(f);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}
