/* queries: see queries.h.
 *
 * Each query is a function in query_defs, with the parameters it accepts.
 * A query function reads with cached statements and packs its reply pairs
 * into the map open in q->body (which counts them); queries_execute puts
 * them after {ok, position, reached, ...}.  Row maps are packed generically from the
 * statement's column names, so the reply keys are the projector's view
 * columns (docs/protocol.md, section 8); 0/1 columns named in bool_columns go
 * out as booleans.
 *
 * Cursors are opaque to clients: "<tag><hex of the last key>" for keyset
 * pages (products, suppliers, price history) and "o<offset>" for ranked
 * lists (search, top rated, low stock). */
#include "queries.h"

#include "log.h"
#include "modeldb.h"
#include "sqlitedb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CURSOR_OFFSET_MAX 100000 /* deepest offset page */
#define FTS_TOKENS_MAX 16        /* search terms kept from q */
#define FTS_QUERY_CAP (REQUEST_Q_MAX * 4 + 8)

typedef enum { Q_OK = 0, Q_NOT_FOUND, Q_BAD_CURSOR, Q_DB_ERROR } qresult_t;

typedef enum {
    QS_BEGIN,
    QS_COMMIT,
    QS_CHECKPOINT,
    QS_DETAIL,
    QS_REVIEWS,
    QS_ADMIN,
    QS_PRODUCT_EXISTS,
    QS_LIST_PRODUCTS,
    QS_LIST_SUPPLIERS,
    QS_SEARCH,
    QS_TOP_RATED,
    QS_LOW_STOCK,
    QS_DASHBOARD,
    QS_BEST_SELLERS,
    QS_BEST_SELLERS_TODAY,
    QS_PRICE_HISTORY,
    QS__COUNT
} qstmt_t;

static const char *const qstmt_sql[QS__COUNT] = {
    [QS_BEGIN] = "BEGIN",
    [QS_COMMIT] = "COMMIT",
    [QS_CHECKPOINT] = "SELECT position FROM checkpoint WHERE id = 1",
    [QS_DETAIL] = "SELECT * FROM product_details WHERE product_id = ?1",
    [QS_REVIEWS] = "SELECT review_id, customer_id, rating, comment, recorded_at FROM reviews"
                   " WHERE product_id = ?1 ORDER BY position DESC LIMIT 5",
    [QS_ADMIN] = "SELECT * FROM admin_products WHERE product_id = ?1",
    [QS_PRODUCT_EXISTS] = "SELECT 1 FROM products WHERE product_id = ?1",
    [QS_LIST_PRODUCTS] = "SELECT * FROM product_cards WHERE product_id > ?1"
                         " AND (?2 IS NULL OR supplier_id = ?2) AND (?3 IS NULL OR in_stock = ?3)"
                         " AND (?4 OR discontinued = 0) ORDER BY product_id LIMIT ?5",
    [QS_LIST_SUPPLIERS] = "SELECT supplier_id, name, product_count, active_product_count"
                          " FROM suppliers WHERE supplier_id > ?1 ORDER BY supplier_id LIMIT ?2",
    [QS_SEARCH] = "SELECT product_cards.* FROM product_search"
                  " JOIN products ON products.pid = product_search.rowid"
                  " JOIN product_cards ON product_cards.product_id = products.product_id"
                  " WHERE product_search MATCH ?1 AND (?2 OR product_cards.discontinued = 0)"
                  " ORDER BY bm25(product_search, 10.0, 1.0, 4.0), product_cards.product_id"
                  " LIMIT ?3 OFFSET ?4",
    [QS_TOP_RATED] = "SELECT * FROM product_cards WHERE review_count >= 3 AND discontinued = 0"
                     " ORDER BY avg_rating DESC, review_count DESC, product_id LIMIT ?1 OFFSET ?2",
    [QS_LOW_STOCK] = "SELECT * FROM low_stock_items ORDER BY stock, product_id LIMIT ?1 OFFSET ?2",
    [QS_DASHBOARD] = "SELECT * FROM dashboard",
    [QS_BEST_SELLERS] = "SELECT * FROM best_sellers LIMIT 5",
    [QS_BEST_SELLERS_TODAY] = "SELECT * FROM best_sellers_today LIMIT 5",
    [QS_PRICE_HISTORY] = "SELECT position, old_price_cents, new_price_cents, recorded_at"
                         " FROM price_history WHERE product_id = ?1 AND position > ?2"
                         " ORDER BY position LIMIT ?3",
};

/* Integer columns that are booleans on the wire. */
static const char *const bool_columns[] = {"in_stock", "low_stock", "discontinued", "price_dropped",
                                           "out_of_stock"};

struct queries {
    char *path;                  /* read database path */
    sqlite3 *db;                 /* NULL while unavailable */
    dev_t dev;                   /* device of the open file */
    ino_t ino;                   /* inode of the open file */
    sqlite3_stmt *st[QS__COUNT]; /* cached for the open connection */
    char why[192];               /* why unavailable */
    codec_writer_t body;         /* the running query's reply pairs, in one open map */
    codec_writer_t items;        /* scratch for list items */
    char msg[128];               /* not_found message */
    bool batch;                  /* queries_begin_batch: keep the read transaction */
    bool in_txn;                 /* a read transaction is open */
    int64_t txn_position;        /* the checkpoint it sees */
    int last_rc;                 /* SQLite's code of the last failed query, 0: none */
    bool damaged;                /* the file at damaged_dev/ino failed with SQLITE_CORRUPT */
    dev_t damaged_dev;
    ino_t damaged_ino;
};

typedef qresult_t (*query_fn)(queries_t *q, const request_t *req);

typedef struct {
    const char *name; /* wire type */
    query_fn fn;
    uint32_t allowed;  /* RP_* accepted besides RP_COMMON */
    uint32_t required; /* RP_* that must be present */
} query_def_t;

/* ---- connection ----------------------------------------------------------- */

static void
q_close(queries_t *q)
{
    q->in_txn = false; /* closing rolls an open read transaction back */
    for (int i = 0; i < QS__COUNT; i++) {
        sqlite3_finalize(q->st[i]);
        q->st[i] = NULL;
    }
    sqlite3_close(q->db);
    q->db = NULL;
}

/* True when the projector has finished creating the schema. */
static bool
q_schema_ready(sqlite3 *db)
{
    int v = 0;
    sqlitedb_user_version(db, &v);
    return v > 0;
}

static int
q_open(queries_t *q, const struct stat *sb)
{
    int rc = modeldb_open_readonly(q->path, &q->db);
    if (rc != SQLITE_OK) {
        snprintf(q->why, sizeof q->why, "cannot open read model %s: %s", q->path,
                 sqlite3_errstr(rc));
        return -1;
    }
    if (!q_schema_ready(q->db)) {
        snprintf(q->why, sizeof q->why, "read model %s is not initialised yet", q->path);
        q_close(q);
        return -1;
    }
    q->dev = sb->st_dev;
    q->ino = sb->st_ino;
    return 0;
}

int
queries_refresh(queries_t *q)
{
    if (q->in_txn)
        return 0; /* a batch reads one file from one snapshot */
    struct stat sb;
    if (stat(q->path, &sb) != 0) {
        q_close(q);
        snprintf(q->why, sizeof q->why, "read model %s does not exist yet", q->path);
        return -1;
    }
    if (q->damaged && sb.st_dev == q->damaged_dev && sb.st_ino == q->damaged_ino) {
        q_close(q); /* still the damaged file: not served (q->why says so) */
        return -1;
    }
    q->damaged = false; /* a new file (the rebuild swapped in) */
    if (q->db && (sb.st_dev != q->dev || sb.st_ino != q->ino))
        q_close(q); /* replaced (rebuild swapped it in): read the new file */
    if (!q->db && q_open(q, &sb) != 0)
        return -1;
    return 0;
}

const char *
queries_unavailable_reason(const queries_t *q)
{
    return q->why;
}

struct sqlite3 *
queries_db(queries_t *q)
{
    return q->db;
}

queries_t *
queries_new(const char *path)
{
    queries_t *q = calloc(1, sizeof *q);
    if (!q || !(q->path = strdup(path))) {
        free(q);
        return NULL;
    }
    snprintf(q->why, sizeof q->why, "read model %s not opened yet", path);
    codec_writer_init(&q->body);
    codec_writer_init(&q->items);
    return q;
}

void
queries_destroy(queries_t **qp)
{
    if (!qp || !*qp)
        return;
    queries_t *q = *qp;
    q_close(q);
    codec_writer_fini(&q->body);
    codec_writer_fini(&q->items);
    free(q->path);
    free(q);
    *qp = NULL;
}

/* The cached statement `id`, reset; NULL on error. */
static sqlite3_stmt *
q_stmt(queries_t *q, qstmt_t id)
{
    return modeldb_prepare(q->db, &q->st[id], qstmt_sql[id]) == SQLITE_OK ? q->st[id] : NULL;
}

static int
q_checkpoint(queries_t *q, int64_t *position)
{
    sqlite3_stmt *st = q_stmt(q, QS_CHECKPOINT);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    *position = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* After a failed read (q->last_rc): a damaged file (SQLITE_CORRUPT,
 * SQLITE_NOTADB) is served no more until another file takes its name, and
 * the projector is told (modeldb_report_damage: it rebuilds the model);
 * q->why says so to every client and to Status (issue 23, item 10). */
static void
q_note_damage(queries_t *q)
{
    if (!q->db || !sqlitedb_damage_code(q->last_rc))
        return;
    bool reported = modeldb_report_damage(q->db) == 0;
    q->damaged = true;
    q->damaged_dev = q->dev;
    q->damaged_ino = q->ino;
    snprintf(q->why, sizeof q->why,
             "read model %.60s is damaged (%s): not served until the projector has rebuilt it%s",
             q->path, sqlite3_errstr(q->last_rc),
             reported ? "" : " (cannot tell the projector: rebuild it by hand)");
    LOG_E(NULL, "%s", q->why);
}

int
queries_position(queries_t *q, int64_t *position)
{
    if (q->in_txn) {
        *position = q->txn_position;
        return 0;
    }
    if (queries_refresh(q) != 0)
        return -1;
    if (q_checkpoint(q, position) != 0) {
        q->last_rc = sqlite3_extended_errcode(q->db);
        snprintf(q->why, sizeof q->why, "read model unreadable: %s", sqlite3_errmsg(q->db));
        q_note_damage(q);
        q_close(q);
        return -1;
    }
    return 0;
}

/* ---- packing rows ---------------------------------------------------------- */

static bool
q_is_bool(const char *column)
{
    for (size_t i = 0; i < sizeof bool_columns / sizeof bool_columns[0]; i++)
        if (strcmp(bool_columns[i], column) == 0)
            return true;
    return false;
}

/* The only columns of a reply that are floats (docs/protocol.md, 8.5). */
static bool
q_is_float(const char *column)
{
    return strcmp(column, "avg_rating") == 0 || strcmp(column, "margin_percent") == 0;
}

static void
q_pack_column(codec_writer_t *w, sqlite3_stmt *st, int i)
{
    const char *name = sqlite3_column_name(st, i);
    msgpack_packer *pk = &w->pk;
    codec_map_key(w, name);
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL) {
        msgpack_pack_nil(pk);
    } else if (q_is_bool(name)) {
        if (sqlite3_column_int64(st, i))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    } else if (type == SQLITE_FLOAT && q_is_float(name)) {
        msgpack_pack_double(pk, sqlite3_column_double(st, i));
    } else if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        /* a REAL in an integer column is an integer that overflowed in SQL
         * (a model written before the views saturated): SQLite clamps it
         * to the int64 range, and the reply keeps the column's type */
        msgpack_pack_int64(pk, sqlite3_column_int64(st, i));
    } else {
        const void *s = sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
    }
}

/* Packs the current row's columns as entries of the open map. */
static void
q_pack_columns(codec_writer_t *w, sqlite3_stmt *st)
{
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        q_pack_column(w, st, i);
}

/* Packs the current row as a map. */
static void
q_pack_row(codec_writer_t *w, sqlite3_stmt *st)
{
    codec_map_open(w);
    q_pack_columns(w, st);
    codec_map_close(w);
}

/* Packs the n row maps in q->items as an array value under key. */
static void
q_pack_items(queries_t *q, codec_writer_t *w, const char *key, int64_t n)
{
    codec_map_key(w, key);
    msgpack_pack_array(&w->pk, (size_t)n);
    codec_pack_raw(&w->pk, q->items.buf.data, q->items.buf.size);
}

/* Packs every row of st as an array value under key.  0 or -1. */
static int
q_pack_rows(queries_t *q, codec_writer_t *w, const char *key, sqlite3_stmt *st)
{
    codec_writer_reset(&q->items);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        q_pack_row(&q->items, st);
        n++;
    }
    sqlite3_reset(st);
    q_pack_items(q, w, key, n);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- cursors --------------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

/* Decodes a keyset cursor "<tag><hex>" into key ("" when none).  0 or -1. */
static int
cursor_key(const request_t *req, char tag, char *key, size_t cap)
{
    key[0] = '\0';
    const char *c = req->cursor;
    if (!c[0])
        return 0;
    size_t n = strlen(c);
    if (c[0] != tag || (n - 1) % 2 != 0 || (n - 1) / 2 >= cap)
        return -1;
    size_t k = 0;
    for (size_t i = 1; i < n; i += 2, k++) {
        const char *hi = memchr(hexdigits, c[i], 16), *lo = memchr(hexdigits, c[i + 1], 16);
        if (!c[i] || !c[i + 1] || !hi || !lo)
            return -1;
        key[k] = (char)((hi - hexdigits) << 4 | (lo - hexdigits));
        if (!key[k])
            return -1;
    }
    key[k] = '\0';
    return 0;
}

static void
cursor_make_key(char *out, size_t cap, char tag, const unsigned char *key)
{
    size_t k = 0;
    out[k++] = tag;
    for (; *key && k + 2 < cap; key++) {
        out[k++] = hexdigits[*key >> 4];
        out[k++] = hexdigits[*key & 15];
    }
    out[k] = '\0';
}

/* Decodes an offset cursor "o<n>".  0 or -1. */
static int
cursor_offset(const request_t *req, int64_t *offset)
{
    *offset = 0;
    const char *c = req->cursor;
    if (!c[0])
        return 0;
    if (c[0] != 'o' || !c[1] || strlen(c) > 7)
        return -1;
    for (const char *p = c + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        *offset = *offset * 10 + (*p - '0');
    }
    return *offset <= CURSOR_OFFSET_MAX ? 0 : -1;
}

/* Steps a list statement that was bound with LIMIT limit + 1, packing at
 * most limit rows as `items` and `next_cursor` (nil at the end).  tag 'o'
 * makes offset cursors (starting at offset), any other tag keyset cursors
 * on column 0. */
static qresult_t
q_list(queries_t *q, sqlite3_stmt *st, const request_t *req, char tag, int64_t offset)
{
    codec_writer_reset(&q->items);
    char next[REQUEST_CURSOR_MAX + 1] = "";
    int64_t n = 0;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == req->limit) {
            more = true;
            break;
        }
        q_pack_row(&q->items, st);
        if (tag != 'o')
            cursor_make_key(next, sizeof next, tag, sqlite3_column_text(st, 0));
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return Q_DB_ERROR;
    if (tag == 'o')
        snprintf(next, sizeof next, "o%lld", (long long)(offset + n));
    q_pack_items(q, &q->body, "items", n);
    if (more && (tag != 'o' || offset + n <= CURSOR_OFFSET_MAX))
        codec_map_str(&q->body, "next_cursor", next);
    else
        codec_map_nil(&q->body, "next_cursor");
    return Q_OK;
}

/* ---- search input ---------------------------------------------------------- */

/* A byte that belongs to a search term: ASCII letters and digits, and any
 * byte of a multi-byte UTF-8 sequence (the tokenizer decides the rest). */
static bool
fts_term_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Turns free text into a safe FTS5 query: each term is double-quoted (so
 * operators, NEAR, column filters and quotes are plain text) and matched as
 * a prefix; terms are ANDed.  Returns the number of terms (0: nothing to
 * search for). */
static int
fts_query(const char *q, char *out, size_t cap)
{
    size_t k = 0;
    int terms = 0;
    const unsigned char *p = (const unsigned char *)q;
    while (*p && terms < FTS_TOKENS_MAX) {
        while (*p && !fts_term_byte(*p))
            p++;
        const unsigned char *start = p;
        while (*p && fts_term_byte(*p))
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0 || k + n + 5 >= cap)
            break;
        k += (size_t)snprintf(out + k, cap - k, "%s\"%.*s\"*", terms ? " " : "", (int)n,
                              (const char *)start);
        terms++;
    }
    out[k] = '\0';
    return terms;
}

/* ---- the queries ----------------------------------------------------------- */

static qresult_t
q_not_found(queries_t *q, const char *what, const char *id)
{
    snprintf(q->msg, sizeof q->msg, "no %s %s", what, id);
    return Q_NOT_FOUND;
}

/* {product: {<detail columns>..., reviews: [last 5, newest first]}} */
static qresult_t
q_product_detail(queries_t *q, const request_t *req)
{
    sqlite3_stmt *st = q_stmt(q, QS_DETAIL), *rv = q_stmt(q, QS_REVIEWS);
    if (!st || !rv)
        return Q_DB_ERROR;
    sqlite3_bind_text(st, 1, req->product_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? q_not_found(q, "product", req->product_id) : Q_DB_ERROR;
    }
    codec_map_key(&q->body, "product");
    codec_map_open(&q->body);
    q_pack_columns(&q->body, st);
    sqlite3_reset(st);
    sqlite3_bind_text(rv, 1, req->product_id, -1, SQLITE_STATIC);
    rc = q_pack_rows(q, &q->body, "reviews", rv);
    codec_map_close(&q->body);
    return rc == 0 ? Q_OK : Q_DB_ERROR;
}

/* {product: {<admin columns, with cost, stock value and margin>}} */
static qresult_t
q_admin_product(queries_t *q, const request_t *req)
{
    sqlite3_stmt *st = q_stmt(q, QS_ADMIN);
    if (!st)
        return Q_DB_ERROR;
    sqlite3_bind_text(st, 1, req->product_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        codec_map_key(&q->body, "product");
        q_pack_row(&q->body, st);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return q_not_found(q, "product", req->product_id);
    return rc == SQLITE_ROW ? Q_OK : Q_DB_ERROR;
}

/* The list statement `which` with the cursor's key (tag) bound as its
 * first parameter and the page's limit + 1 as its last; NULL with *res set
 * when there is none or the cursor is bad. */
static sqlite3_stmt *
q_list_stmt(queries_t *q, int which, const request_t *req, char tag, qresult_t *res)
{
    char after[ID_MAX + 1];
    sqlite3_stmt *st = q_stmt(q, which);
    *res = !st ? Q_DB_ERROR : cursor_key(req, tag, after, sizeof after) != 0 ? Q_BAD_CURSOR : Q_OK;
    if (*res != Q_OK)
        return NULL;
    sqlite3_bind_text(st, 1, after, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_count(st), req->limit + 1);
    return st;
}

static qresult_t
q_list_products(queries_t *q, const request_t *req)
{
    qresult_t res;
    sqlite3_stmt *st = q_list_stmt(q, QS_LIST_PRODUCTS, req, 'p', &res);
    if (!st)
        return res;
    if (req->present & RP_SUPPLIER_ID)
        sqlite3_bind_text(st, 2, req->supplier_id, -1, SQLITE_STATIC);
    if (req->present & RP_IN_STOCK)
        sqlite3_bind_int(st, 3, req->in_stock);
    sqlite3_bind_int(st, 4, req->include_discontinued);
    return q_list(q, st, req, 'p', 0);
}

static qresult_t
q_list_suppliers(queries_t *q, const request_t *req)
{
    qresult_t res;
    sqlite3_stmt *st = q_list_stmt(q, QS_LIST_SUPPLIERS, req, 's', &res);
    return st ? q_list(q, st, req, 's', 0) : res;
}

/* Runs an offset-paginated statement whose last two parameters are
 * LIMIT and OFFSET, at parameter index first_param. */
static qresult_t
q_ranked(queries_t *q, const request_t *req, sqlite3_stmt *st, int first_param)
{
    int64_t offset;
    if (cursor_offset(req, &offset) != 0)
        return Q_BAD_CURSOR;
    sqlite3_bind_int64(st, first_param, req->limit + 1);
    sqlite3_bind_int64(st, first_param + 1, offset);
    return q_list(q, st, req, 'o', offset);
}

static qresult_t
q_search(queries_t *q, const request_t *req)
{
    char match[FTS_QUERY_CAP];
    int64_t offset;
    if (cursor_offset(req, &offset) != 0)
        return Q_BAD_CURSOR;
    if (fts_query(req->q, match, sizeof match) == 0) {
        codec_writer_reset(&q->items); /* nothing searchable: an empty page */
        q_pack_items(q, &q->body, "items", 0);
        codec_map_nil(&q->body, "next_cursor");
        return Q_OK;
    }
    sqlite3_stmt *st = q_stmt(q, QS_SEARCH);
    if (!st)
        return Q_DB_ERROR;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, req->include_discontinued);
    return q_ranked(q, req, st, 3);
}

static qresult_t
q_top_rated(queries_t *q, const request_t *req)
{
    sqlite3_stmt *st = q_stmt(q, QS_TOP_RATED);
    return st ? q_ranked(q, req, st, 1) : Q_DB_ERROR;
}

static qresult_t
q_low_stock(queries_t *q, const request_t *req)
{
    sqlite3_stmt *st = q_stmt(q, QS_LOW_STOCK);
    return st ? q_ranked(q, req, st, 1) : Q_DB_ERROR;
}

/* The dashboard view's columns as top-level pairs, plus best_sellers and
 * best_sellers_today (top 5 by units). */
static qresult_t
q_dashboard(queries_t *q, const request_t *req)
{
    (void)req;
    sqlite3_stmt *st = q_stmt(q, QS_DASHBOARD);
    sqlite3_stmt *best = q_stmt(q, QS_BEST_SELLERS);
    sqlite3_stmt *today = q_stmt(q, QS_BEST_SELLERS_TODAY);
    if (!st || !best || !today)
        return Q_DB_ERROR;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return Q_DB_ERROR;
    }
    q_pack_columns(&q->body, st);
    sqlite3_reset(st);
    if (q_pack_rows(q, &q->body, "best_sellers", best) != 0 ||
        q_pack_rows(q, &q->body, "best_sellers_today", today) != 0)
        return Q_DB_ERROR;
    return Q_OK;
}

static qresult_t
q_price_history(queries_t *q, const request_t *req)
{
    char after[24];
    sqlite3_stmt *ex = q_stmt(q, QS_PRODUCT_EXISTS), *st = q_stmt(q, QS_PRICE_HISTORY);
    if (!ex || !st)
        return Q_DB_ERROR;
    if (cursor_key(req, 'h', after, sizeof after) != 0)
        return Q_BAD_CURSOR;
    char *end = NULL;
    long long from = after[0] ? strtoll(after, &end, 10) : 0;
    if (after[0] && (*end || from < 0))
        return Q_BAD_CURSOR;
    sqlite3_bind_text(ex, 1, req->product_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(ex);
    sqlite3_reset(ex);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? q_not_found(q, "product", req->product_id) : Q_DB_ERROR;
    codec_map_str(&q->body, "product_id", req->product_id);
    sqlite3_bind_text(st, 1, req->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, req->limit + 1);
    return q_list(q, st, req, 'h', 0);
}

static qresult_t
q_status(queries_t *q, const request_t *req)
{
    (void)req;
    codec_map_str(&q->body, "service", "query");
    return Q_OK;
}

static const query_def_t query_defs[] = {
    {.name = "GetProductDetail",
     .fn = q_product_detail,
     .allowed = RP_PRODUCT_ID,
     .required = RP_PRODUCT_ID},
    {.name = "GetAdminProduct",
     .fn = q_admin_product,
     .allowed = RP_PRODUCT_ID,
     .required = RP_PRODUCT_ID},
    {.name = "ListProducts",
     .fn = q_list_products,
     .allowed = RP_LIST | RP_SUPPLIER_ID | RP_IN_STOCK | RP_INCLUDE_DISCONTINUED},
    {.name = "ListSuppliers", .fn = q_list_suppliers, .allowed = RP_LIST},
    {.name = "SearchProducts",
     .fn = q_search,
     .allowed = RP_LIST | RP_Q | RP_INCLUDE_DISCONTINUED,
     .required = RP_Q},
    {.name = "TopRated", .fn = q_top_rated, .allowed = RP_LIST},
    {.name = "LowStock", .fn = q_low_stock, .allowed = RP_LIST},
    {.name = "Dashboard", .fn = q_dashboard},
    {.name = "PriceHistory",
     .fn = q_price_history,
     .allowed = RP_PRODUCT_ID | RP_LIST,
     .required = RP_PRODUCT_ID},
    {.name = "Status", .fn = q_status},
};
#define N_QUERIES (sizeof query_defs / sizeof query_defs[0])

static const query_def_t *
q_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_QUERIES; i++)
        if (strlen(query_defs[i].name) == len && memcmp(query_defs[i].name, name, len) == 0)
            return &query_defs[i];
    return NULL;
}

int
queries_params_n(const char *name, size_t len, uint32_t *allowed, uint32_t *required)
{
    const query_def_t *d = q_find(name, len);
    if (!d)
        return -1;
    *allowed = d->allowed;
    *required = d->required;
    return 0;
}

/* ---- execution ------------------------------------------------------------- */

static void
q_pack_unavailable(codec_writer_t *w, const char *message)
{
    codec_pack_error(w, &(codec_error_t){.code = "unavailable", .message = message});
}

/* Opens the read transaction (or joins the batch's) and reads the
 * checkpoint it sees. */
static int
q_txn_begin(queries_t *q, int64_t *position)
{
    if (!q->in_txn) {
        sqlite3_stmt *st = q_stmt(q, QS_BEGIN);
        if (!st || sqlite3_step(st) != SQLITE_DONE)
            return -1;
        q->in_txn = true;
        if (q_checkpoint(q, &q->txn_position) != 0)
            return -1;
    }
    *position = q->txn_position;
    return 0;
}

/* Ends the read transaction, unless a batch keeps it (force: end it). */
static void
q_txn_end(queries_t *q, bool force)
{
    if (!q->in_txn || (q->batch && !force))
        return;
    sqlite3_stmt *st = q_stmt(q, QS_COMMIT);
    if (st)
        sqlite3_step(st);
    q->in_txn = !st || !sqlite3_get_autocommit(q->db);
    if (q->in_txn) /* a read transaction that does not end: start afresh */
        q_close(q);
}

/* Runs def inside one read transaction; *position is the checkpoint that
 * transaction saw. */
static qresult_t
q_run(queries_t *q, const query_def_t *def, const request_t *req, int64_t *position)
{
    codec_writer_reset(&q->body);
    codec_map_open(&q->body);
    if (q_txn_begin(q, position) != 0) {
        q->last_rc = sqlite3_extended_errcode(q->db);
        return Q_DB_ERROR;
    }
    qresult_t r = def->fn(q, req);
    if (r == Q_DB_ERROR)
        q->last_rc = sqlite3_extended_errcode(q->db); /* before the commit clears it */
    q_txn_end(q, false);
    return r;
}

void
queries_begin_batch(queries_t *q)
{
    q->batch = true;
}

void
queries_end_batch(queries_t *q)
{
    q->batch = false;
    q_txn_end(q, true);
}

static void
q_pack_result(queries_t *q, qresult_t r, const request_t *req, int64_t position, codec_writer_t *w)
{
    bool reached = position >= req->min_position;
    if (r == Q_BAD_CURSOR) {
        request_error_t err = {"validation", "cursor", "is not a cursor of this query"};
        request_pack_error(w, &err);
        return;
    }
    codec_map_open(w);
    codec_map_bool(w, "ok", r == Q_OK);
    codec_map_int(w, "position", position);
    codec_map_bool(w, "reached", reached);
    if (r == Q_OK) {
        codec_map_merge(w, &q->body);
    } else {
        codec_map_str(w, "error", "not_found");
        codec_map_str(w, "message", q->msg);
    }
    codec_map_close(w);
}

void
queries_execute(queries_t *q, const request_t *req, codec_writer_t *w)
{
    const query_def_t *def = q_find(req->type, strlen(req->type));
    if (!def) {
        request_error_t err = {"malformed", "", "unknown request type"};
        request_pack_error(w, &err);
        return;
    }
    if (queries_refresh(q) != 0) {
        q_pack_unavailable(w, q->why);
        return;
    }
    int64_t position = 0;
    qresult_t r = q_run(q, def, req, &position);
    if (r == Q_DB_ERROR) {
        snprintf(q->why, sizeof q->why, "read model error: %s",
                 q->last_rc ? sqlite3_errstr(q->last_rc) : sqlite3_errmsg(q->db));
        q_note_damage(q);
        q_close(q); /* reopen on the next request */
        q_pack_unavailable(w, q->why);
        return;
    }
    q_pack_result(q, r, req, position, w);
}
