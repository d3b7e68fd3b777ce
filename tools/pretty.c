/* pretty: see pretty.h. */
#include "pretty.h"

#include "cli.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 256
#define TABLE_MAX_COLS 16
#define CELL_WIDTH_MAX 40 /* cells wider than this are cut, except in the last column */

static bool
key_ends(const char *key, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return key && len >= n && memcmp(key + len - n, suffix, n) == 0;
}

static bool
is_money(const char *key, size_t len)
{
    return key_ends(key, len, "_cents");
}

static bool
is_time(const char *key, size_t len)
{
    return key_ends(key, len, "_at") || key_ends(key, len, "_us") ||
           (key && len == 2 && memcmp(key, "ts", 2) == 0);
}

static bool
is_scalar(const msgpack_object *o)
{
    return o->type != MSGPACK_OBJECT_ARRAY && o->type != MSGPACK_OBJECT_MAP;
}

void
pretty_money(int64_t cents, char *buf, size_t cap)
{
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(buf, cap, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", mag / 100, mag % 100);
}

/* Copies a string with control characters replaced by '?'. */
static void
safe_copy(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[k] = '\0';
}

static void
int_text(const msgpack_object *o, char *buf, size_t cap)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(buf, cap, "%" PRIu64, o->via.u64);
    else
        snprintf(buf, cap, "%" PRId64, o->via.i64);
}

void
pretty_scalar(const msgpack_object *o, const char *key, size_t key_len, bool cell, char *buf,
              size_t cap)
{
    char num[32], extra[48];
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        snprintf(buf, cap, "-");
        return;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(buf, cap, "%s", o->via.boolean ? "yes" : "no");
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        int_text(o, num, sizeof num);
        extra[0] = '\0';
        bool small = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->via.u64 <= INT64_MAX;
        if (small && is_money(key, key_len))
            pretty_money(o->via.i64, extra, sizeof extra);
        else if (small && is_time(key, key_len) && o->via.i64 > 0)
            cli_format_time(o->via.i64, extra, sizeof extra);
        if (!extra[0])
            snprintf(buf, cap, "%s", num);
        else if (cell)
            snprintf(buf, cap, "%s", extra);
        else
            snprintf(buf, cap, "%s (%s)", num, extra);
        return;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        snprintf(buf, cap, "%.2f", o->via.f64);
        return;
    case MSGPACK_OBJECT_STR:
        safe_copy(o->via.str.ptr, o->via.str.size, buf, cap);
        return;
    case MSGPACK_OBJECT_BIN:
        snprintf(buf, cap, "<%" PRIu32 " bytes>", o->via.bin.size);
        return;
    default:
        pretty_inline(o, buf, cap);
    }
}

void
pretty_inline(const msgpack_object *o, char *buf, size_t cap)
{
    size_t k = 0;
    char val[CELL_MAX];
    buf[0] = '\0';
    if (is_scalar(o)) {
        pretty_scalar(o, NULL, 0, true, buf, cap);
        return;
    }
    bool map = o->type == MSGPACK_OBJECT_MAP;
    uint32_t n = map ? o->via.map.size : o->via.array.size;
    k += (size_t)snprintf(buf + k, cap - k, "%s", map ? "" : "[");
    for (uint32_t i = 0; i < n && k < cap; i++) {
        const msgpack_object *v = map ? &o->via.map.ptr[i].val : &o->via.array.ptr[i];
        const msgpack_object *key = map ? &o->via.map.ptr[i].key : NULL;
        const char *ks = key && key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : NULL;
        size_t kl = ks ? key->via.str.size : 0;
        if (is_scalar(v))
            pretty_scalar(v, ks, kl, true, val, sizeof val);
        else {
            char inner[CELL_MAX - 2];
            pretty_inline(v, inner, sizeof inner);
            snprintf(val, sizeof val, "%s%s%s", map ? "{" : "", inner, map ? "}" : "");
        }
        if (map) {
            char kt[64];
            pretty_scalar(key, NULL, 0, true, kt, sizeof kt);
            k += (size_t)snprintf(buf + k, cap - k, "%s%s=%s", i ? " " : "", kt, val);
        } else
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", val);
    }
    if (!map && k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* Display width: UTF-8 continuation bytes take no column. */
static int
text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += !utf8_continuation((unsigned char)*s);
    return w;
}

static void
pad(FILE *f, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', f);
}

/* Cuts s to at most w columns (marking the cut with '~'). */
static void
cut(char *s, int w)
{
    int col = 0;
    for (char *p = s; *p; p++) {
        if (utf8_continuation((unsigned char)*p))
            continue;
        if (col++ == w - 1 && text_width(p) > 1) {
            p[0] = '~';
            p[1] = '\0';
            return;
        }
    }
}

/* ---- tables -------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t len;
    bool nested; /* holds maps: goes after the scalar columns */
    int width;
} column_t;

/* A column's heading: its key, without "_cents" for money, whose cells
 * show units ("price" over 9.03, not "price_cents"). */
static int
heading_len(const char *name, size_t len)
{
    return (int)(is_money(name, len) ? len - strlen("_cents") : len);
}

static bool
flat_map(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *v = &o->via.map.ptr[i].val;
        if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return false;
        if (v->type == MSGPACK_OBJECT_ARRAY)
            return false;
        if (v->type == MSGPACK_OBJECT_MAP) {
            for (uint32_t j = 0; j < v->via.map.size; j++)
                if (!is_scalar(&v->via.map.ptr[j].val))
                    return false;
        }
    }
    return true;
}

/* Collects the union of keys; false when the list is not a table. */
static bool
table_columns(const msgpack_object *arr, column_t *cols, int *n_cols)
{
    *n_cols = 0;
    for (uint32_t r = 0; r < arr->via.array.size; r++) {
        const msgpack_object *row = &arr->via.array.ptr[r];
        if (!flat_map(row))
            return false;
        for (uint32_t i = 0; i < row->via.map.size; i++) {
            const msgpack_object *k = &row->via.map.ptr[i].key;
            int c;
            for (c = 0; c < *n_cols; c++)
                if (cols[c].len == k->via.str.size &&
                    memcmp(cols[c].name, k->via.str.ptr, cols[c].len) == 0)
                    break;
            if (c == *n_cols) {
                if (*n_cols == TABLE_MAX_COLS)
                    return false;
                cols[c] = (column_t){k->via.str.ptr, k->via.str.size, false,
                                     heading_len(k->via.str.ptr, k->via.str.size)};
                (*n_cols)++;
            }
            cols[c].nested |= row->via.map.ptr[i].val.type == MSGPACK_OBJECT_MAP;
        }
    }
    /* Stable partition: nested columns last (they are the wide ones). */
    column_t tmp[TABLE_MAX_COLS];
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < *n_cols; c++)
            if (cols[c].nested == (pass == 1))
                tmp[k++] = cols[c];
    memcpy(cols, tmp, (size_t)k * sizeof *cols);
    return true;
}

static const msgpack_object *
row_get(const msgpack_object *row, const column_t *col)
{
    for (uint32_t i = 0; i < row->via.map.size; i++) {
        const msgpack_object *k = &row->via.map.ptr[i].key;
        if (k->via.str.size == col->len && memcmp(k->via.str.ptr, col->name, col->len) == 0)
            return &row->via.map.ptr[i].val;
    }
    return NULL;
}

static void
print_table(FILE *f, const msgpack_object *arr, column_t *cols, int n_cols, int indent)
{
    uint32_t rows = arr->via.array.size;
    char(*cells)[CELL_MAX] = calloc((size_t)rows * (size_t)n_cols, CELL_MAX);
    if (!cells)
        return;
    for (uint32_t r = 0; r < rows; r++) {
        for (int c = 0; c < n_cols; c++) {
            const msgpack_object *v = row_get(&arr->via.array.ptr[r], &cols[c]);
            char *cell = cells[(size_t)r * (size_t)n_cols + (size_t)c];
            if (!v)
                snprintf(cell, CELL_MAX, "-");
            else
                pretty_scalar(v, cols[c].name, cols[c].len, true, cell, CELL_MAX);
            if (c < n_cols - 1)
                cut(cell, CELL_WIDTH_MAX);
            int w = text_width(cell);
            if (w > cols[c].width)
                cols[c].width = w;
        }
    }
    pad(f, indent);
    for (int c = 0; c < n_cols; c++) {
        int heading = heading_len(cols[c].name, cols[c].len);
        fprintf(f, "%.*s", heading, cols[c].name);
        if (c < n_cols - 1)
            pad(f, cols[c].width - heading + 2);
    }
    fputc('\n', f);
    for (uint32_t r = 0; r < rows; r++) {
        pad(f, indent);
        for (int c = 0; c < n_cols; c++) {
            const char *cell = cells[(size_t)r * (size_t)n_cols + (size_t)c];
            fputs(cell, f);
            if (c < n_cols - 1)
                pad(f, cols[c].width - text_width(cell) + 2);
        }
        fputc('\n', f);
    }
    free(cells);
}

/* ---- blocks -------------------------------------------------------------- */

static void print_map(FILE *f, const msgpack_object *map, int indent, bool top);

static void
print_array(FILE *f, const char *key, size_t klen, const msgpack_object *arr, int indent)
{
    uint32_t n = arr->via.array.size;
    bool scalars = true;
    for (uint32_t i = 0; i < n; i++)
        scalars &= is_scalar(&arr->via.array.ptr[i]);
    pad(f, indent);
    if (n == 0) {
        fprintf(f, "%.*s: (none)\n", (int)klen, key);
        return;
    }
    if (scalars) {
        char line[4096];
        pretty_inline(arr, line, sizeof line);
        fprintf(f, "%.*s: %s\n", (int)klen, key, line);
        return;
    }
    fprintf(f, "%.*s (%" PRIu32 "):\n", (int)klen, key, n);
    column_t cols[TABLE_MAX_COLS];
    int n_cols;
    if (table_columns(arr, cols, &n_cols) && n_cols > 0) {
        print_table(f, arr, cols, n_cols, indent + 2);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *el = &arr->via.array.ptr[i];
        pad(f, indent + 2);
        if (el->type == MSGPACK_OBJECT_MAP) {
            fprintf(f, "#%" PRIu32 "\n", i + 1);
            print_map(f, el, indent + 4, false);
        } else {
            char line[4096];
            pretty_inline(el, line, sizeof line);
            fprintf(f, "#%" PRIu32 " %s\n", i + 1, line);
        }
    }
}

static void
print_map(FILE *f, const msgpack_object *map, int indent, bool top)
{
    int kw = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (is_scalar(&map->via.map.ptr[i].val) && k->type == MSGPACK_OBJECT_STR &&
            (int)k->via.str.size > kw)
            kw = (int)k->via.str.size;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        char kbuf[128], val[4096];
        pretty_scalar(k, NULL, 0, true, kbuf, sizeof kbuf);
        const char *ks = k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : NULL;
        size_t kl = ks ? k->via.str.size : 0;
        if (top && ks && kl == 2 && memcmp(ks, "ok", 2) == 0)
            continue;
        if (v->type == MSGPACK_OBJECT_ARRAY) {
            print_array(f, kbuf, strlen(kbuf), v, indent);
        } else if (v->type == MSGPACK_OBJECT_MAP) {
            pad(f, indent);
            fprintf(f, "%s:%s\n", kbuf, v->via.map.size ? "" : " (empty)");
            print_map(f, v, indent + 2, false);
        } else {
            pretty_scalar(v, ks, kl, false, val, sizeof val);
            pad(f, indent);
            fprintf(f, "%s:", kbuf);
            pad(f, kw - text_width(kbuf) + 1);
            fprintf(f, "%s\n", val);
        }
    }
}

void
pretty_print(FILE *f, const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_MAP) {
        print_map(f, o, 0, true);
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        print_array(f, "items", 5, o, 0);
    } else {
        char buf[4096];
        pretty_scalar(o, NULL, 0, false, buf, sizeof buf);
        fprintf(f, "%s\n", buf);
    }
    fflush(f);
}
