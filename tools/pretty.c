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
is_scalar(const mpread_t *o)
{
    mptype_t t = mpread_peek(o);
    return t != MP_ARRAY && t != MP_MAP;
}

/* The string at o, or NULL (and *len 0) when it holds something else. */
static const char *
str_at(const mpread_t *o, size_t *len)
{
    mpread_t r = *o;
    const char *s = NULL;
    *len = 0;
    if (mpread_str(&r, &s, len) != 0)
        return NULL;
    return s;
}

/* Moves past the next element of an array (map: pair) being walked,
 * pointing el (and key) at it.  0 or -1. */
static int
next_item(mpread_t *r, bool map, mpread_t *key, mpread_t *el)
{
    return map ? mpread_pair(r, key, el) : mpread_item(r, el);
}

/* Reads the header of the array or map at o: its count, and the cursor
 * at its first item in *items.  -1 when o holds no container. */
static int
items_at(const mpread_t *o, mpread_t *items, uint32_t *n, bool *map)
{
    mpval_t v;
    *items = *o;
    if (mpread_value(items, &v) != 0 || (v.type != MP_ARRAY && v.type != MP_MAP))
        return -1;
    *n = v.len;
    *map = v.type == MP_MAP;
    return 0;
}

void
pretty_money(int64_t cents, char *buf, size_t cap)
{
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(buf, cap, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", mag / 100, mag % 100);
}

size_t
pretty_text(const char *str, size_t n, char *buf, size_t cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        int len = utf8_decode(s + i, n - i, &cp);
        if (len < 0 || utf8_unsafe_cp(cp)) {
            if (k + 1 >= cap)
                break;
            buf[k++] = '?';
            i += len < 0 ? (size_t)-len : (size_t)len;
            continue;
        }
        if (k + (size_t)len >= cap)
            break;
        memcpy(buf + k, s + i, (size_t)len);
        k += (size_t)len;
        i += (size_t)len;
    }
    buf[k] = '\0';
    return k;
}

static void
int_text(const mpval_t *v, char *buf, size_t cap)
{
    if (v->neg)
        snprintf(buf, cap, "%" PRId64, v->i);
    else
        snprintf(buf, cap, "%" PRIu64, v->u);
}

static void
int_scalar(const mpval_t *v, const char *key, size_t key_len, bool cell, char *buf, size_t cap)
{
    char num[32], extra[48];
    int_text(v, num, sizeof num);
    extra[0] = '\0';
    bool small = v->neg || v->u <= INT64_MAX;
    if (small && is_money(key, key_len))
        pretty_money(v->i, extra, sizeof extra);
    else if (small && is_time(key, key_len) && v->i > 0)
        cli_format_time(v->i, extra, sizeof extra);
    if (!extra[0])
        snprintf(buf, cap, "%s", num);
    else if (cell)
        snprintf(buf, cap, "%s", extra);
    else
        snprintf(buf, cap, "%s (%s)", num, extra);
}

void
pretty_scalar(const mpread_t *o, const char *key, size_t key_len, bool cell, char *buf, size_t cap)
{
    mpread_t r = *o;
    mpval_t v;
    if (mpread_value(&r, &v) != 0) {
        snprintf(buf, cap, "?");
        return;
    }
    switch (v.type) {
    case MP_NIL:
        snprintf(buf, cap, "-");
        return;
    case MP_BOOL:
        snprintf(buf, cap, "%s", v.b ? "yes" : "no");
        return;
    case MP_INT:
        int_scalar(&v, key, key_len, cell, buf, cap);
        return;
    case MP_FLOAT:
        snprintf(buf, cap, "%.2f", v.f);
        return;
    case MP_STR:
        pretty_text(v.s, v.len, buf, cap);
        return;
    case MP_BIN:
        snprintf(buf, cap, "<%" PRIu32 " bytes>", v.len);
        return;
    case MP_EXT:
        snprintf(buf, cap, "<ext %d, %" PRIu32 " bytes>", (int)v.ext, v.len);
        return;
    default:
        pretty_inline(o, buf, cap);
    }
}

/* A key as a cell into buf; its length. */
static size_t
pretty_scalar_len(const mpread_t *key, char *buf, size_t cap)
{
    pretty_scalar(key, NULL, 0, true, buf, cap);
    return strlen(buf);
}

/* One item of pretty_inline as text into val (key: its map key, or NULL). */
static void
inline_item(const mpread_t *key, const mpread_t *v, bool map, char *val, size_t cap)
{
    size_t kl;
    const char *ks = key ? str_at(key, &kl) : NULL;
    if (is_scalar(v)) {
        pretty_scalar(v, ks, ks ? kl : 0, true, val, cap);
        return;
    }
    char inner[CELL_MAX - 2];
    pretty_inline(v, inner, sizeof inner);
    snprintf(val, cap, "%s%s%s", map ? "{" : "", inner, map ? "}" : "");
}

void
pretty_inline(const mpread_t *o, char *buf, size_t cap)
{
    size_t k = 0;
    char val[CELL_MAX];
    mpread_t r, key, v;
    uint32_t n;
    bool map;
    buf[0] = '\0';
    if (is_scalar(o) || items_at(o, &r, &n, &map) != 0) {
        pretty_scalar(o, NULL, 0, true, buf, cap);
        return;
    }
    k += (size_t)snprintf(buf + k, cap - k, "%s", map ? "" : "[");
    for (uint32_t i = 0; i < n && k < cap; i++) {
        if (next_item(&r, map, &key, &v) != 0)
            break;
        inline_item(map ? &key : NULL, &v, map, val, sizeof val);
        if (map) {
            char kt[64];
            size_t kn = pretty_scalar_len(&key, kt, sizeof kt);
            mpval_t mv;
            mpread_t mr = v;
            /* money shows in units, and says so: price=19.99, not price_cents=19.99 */
            if (is_money(kt, kn) && mpread_value(&mr, &mv) == 0 && mv.type == MP_INT &&
                (mv.neg || mv.u <= INT64_MAX))
                kt[kn - strlen("_cents")] = '\0';
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

/* A map whose keys are strings and whose values are scalars or maps of
 * scalars. */
static bool
flat_map(const mpread_t *o)
{
    mpread_t r, k, v, ir, ik, iv;
    uint32_t n, m;
    bool map, inner_map;
    if (items_at(o, &r, &n, &map) != 0 || !map)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (mpread_pair(&r, &k, &v) != 0 || mpread_peek(&k) != MP_STR)
            return false;
        if (mpread_peek(&v) == MP_ARRAY)
            return false;
        if (mpread_peek(&v) != MP_MAP || items_at(&v, &ir, &m, &inner_map) != 0)
            continue;
        for (uint32_t j = 0; j < m; j++)
            if (mpread_pair(&ir, &ik, &iv) != 0 || !is_scalar(&iv))
                return false;
    }
    return true;
}

/* The column of the key k (a string), added when new; -1 when the table
 * has no room for it. */
static int
table_column(const mpread_t *k, column_t *cols, int *n_cols)
{
    size_t len;
    const char *name = str_at(k, &len);
    int c;
    for (c = 0; c < *n_cols; c++)
        if (cols[c].len == len && memcmp(cols[c].name, name, len) == 0)
            return c;
    if (*n_cols == TABLE_MAX_COLS)
        return -1;
    cols[c] = (column_t){name, len, false, heading_len(name, len)};
    (*n_cols)++;
    return c;
}

/* Collects the union of keys; false when the list is not a table. */
static bool
table_columns(const mpread_t *arr, column_t *cols, int *n_cols)
{
    mpread_t rows, row, r, k, v;
    uint32_t n, m = 0;
    bool map;
    *n_cols = 0;
    if (items_at(arr, &rows, &n, &map) != 0)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (next_item(&rows, false, NULL, &row) != 0 || !flat_map(&row))
            return false;
        items_at(&row, &r, &m, &map);
        for (uint32_t j = 0; j < m; j++) {
            mpread_pair(&r, &k, &v);
            int c = table_column(&k, cols, n_cols);
            if (c < 0)
                return false;
            cols[c].nested |= mpread_peek(&v) == MP_MAP;
        }
    }
    /* Stable partition: nested columns last (they are the wide ones). */
    column_t tmp[TABLE_MAX_COLS];
    int k2 = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < *n_cols; c++)
            if (cols[c].nested == (pass == 1))
                tmp[k2++] = cols[c];
    memcpy(cols, tmp, (size_t)k2 * sizeof *cols);
    return true;
}

/* Points v at the row's value of col.  0, or -1 when the row lacks it. */
static int
row_get(const mpread_t *row, const column_t *col, mpread_t *v)
{
    mpread_t r, k;
    uint32_t n;
    bool map;
    if (items_at(row, &r, &n, &map) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        if (mpread_pair(&r, &k, v) != 0)
            return -1;
        const char *name = str_at(&k, &len);
        if (name && len == col->len && memcmp(name, col->name, len) == 0)
            return 0;
    }
    return -1;
}

static void
print_table(FILE *f, const mpread_t *arr, column_t *cols, int n_cols, int indent)
{
    mpread_t items, row, v;
    uint32_t rows;
    bool map;
    if (items_at(arr, &items, &rows, &map) != 0)
        return;
    char(*cells)[CELL_MAX] = calloc((size_t)rows * (size_t)n_cols, CELL_MAX);
    if (!cells)
        return;
    for (uint32_t r = 0; r < rows; r++) {
        next_item(&items, false, NULL, &row);
        for (int c = 0; c < n_cols; c++) {
            char *cell = cells[(size_t)r * (size_t)n_cols + (size_t)c];
            if (row_get(&row, &cols[c], &v) != 0)
                snprintf(cell, CELL_MAX, "-");
            else
                pretty_scalar(&v, cols[c].name, cols[c].len, true, cell, CELL_MAX);
            if (c < n_cols - 1)
                cut(cell, CELL_WIDTH_MAX);
            int w = text_width(cell);
            if (w > cols[c].width)
                cols[c].width = w;
        }
    }
    pad(f, indent);
    for (int c = 0; c < n_cols; c++) {
        char heading[CELL_MAX];
        pretty_text(cols[c].name, (size_t)heading_len(cols[c].name, cols[c].len), heading,
                    sizeof heading);
        fputs(heading, f);
        if (c < n_cols - 1)
            pad(f, cols[c].width - text_width(heading) + 2);
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

static void print_map(FILE *f, const mpread_t *map, int indent, bool top);

/* True when every element of the array at arr is a scalar. */
static bool
all_scalars(const mpread_t *arr)
{
    mpread_t r, el;
    uint32_t n;
    bool map;
    if (items_at(arr, &r, &n, &map) != 0)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (next_item(&r, false, NULL, &el) != 0 || !is_scalar(&el))
            return false;
    return true;
}

/* The elements of a list that is not a table, one block each. */
static void
print_elements(FILE *f, const mpread_t *arr, int indent)
{
    mpread_t r, el;
    uint32_t n = 0;
    bool map;
    items_at(arr, &r, &n, &map);
    for (uint32_t i = 0; i < n && next_item(&r, false, NULL, &el) == 0; i++) {
        pad(f, indent);
        if (mpread_peek(&el) == MP_MAP) {
            fprintf(f, "#%" PRIu32 "\n", i + 1);
            print_map(f, &el, indent + 2, false);
        } else {
            char line[4096];
            pretty_inline(&el, line, sizeof line);
            fprintf(f, "#%" PRIu32 " %s\n", i + 1, line);
        }
    }
}

static void
print_array(FILE *f, const char *key, size_t klen, const mpread_t *arr, int indent)
{
    mpread_t r;
    uint32_t n = 0;
    bool map;
    items_at(arr, &r, &n, &map);
    pad(f, indent);
    if (n == 0) {
        fprintf(f, "%.*s: (none)\n", (int)klen, key);
        return;
    }
    if (all_scalars(arr)) {
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
    print_elements(f, arr, indent + 2);
}

/* The widest string key of a scalar value in the map (for alignment). */
static int
key_width(const mpread_t *map)
{
    mpread_t r, k, v;
    uint32_t n;
    bool is_map;
    int kw = 0;
    if (items_at(map, &r, &n, &is_map) != 0)
        return 0;
    for (uint32_t i = 0; i < n && mpread_pair(&r, &k, &v) == 0; i++) {
        size_t len;
        if (is_scalar(&v) && str_at(&k, &len) && (int)len > kw)
            kw = (int)len;
    }
    return kw;
}

/* One entry of print_map. */
static void
print_entry(FILE *f, const mpread_t *k, const mpread_t *v, int indent, int kw)
{
    char kbuf[128], val[4096];
    size_t kl;
    pretty_scalar(k, NULL, 0, true, kbuf, sizeof kbuf);
    const char *ks = str_at(k, &kl);
    mpread_t items;
    uint32_t n = 0;
    bool map;
    if (mpread_peek(v) == MP_ARRAY) {
        print_array(f, kbuf, strlen(kbuf), v, indent);
    } else if (mpread_peek(v) == MP_MAP) {
        items_at(v, &items, &n, &map);
        pad(f, indent);
        fprintf(f, "%s:%s\n", kbuf, n ? "" : " (empty)");
        print_map(f, v, indent + 2, false);
    } else {
        pretty_scalar(v, ks, kl, false, val, sizeof val);
        pad(f, indent);
        fprintf(f, "%s:", kbuf);
        pad(f, kw - text_width(kbuf) + 1);
        fprintf(f, "%s\n", val);
    }
}

static void
print_map(FILE *f, const mpread_t *map, int indent, bool top)
{
    int kw = key_width(map);
    mpread_t r, k, v;
    uint32_t n;
    bool is_map;
    if (items_at(map, &r, &n, &is_map) != 0)
        return;
    for (uint32_t i = 0; i < n && mpread_pair(&r, &k, &v) == 0; i++) {
        size_t kl;
        const char *ks = str_at(&k, &kl);
        if (top && ks && kl == 2 && memcmp(ks, "ok", 2) == 0)
            continue;
        print_entry(f, &k, &v, indent, kw);
    }
}

void
pretty_print(FILE *f, const mpread_t *o)
{
    if (mpread_peek(o) == MP_MAP) {
        print_map(f, o, 0, true);
    } else if (mpread_peek(o) == MP_ARRAY) {
        print_array(f, "items", 5, o, 0);
    } else {
        char buf[4096];
        pretty_scalar(o, NULL, 0, false, buf, sizeof buf);
        fprintf(f, "%s\n", buf);
    }
    fflush(f);
}
