/* readmodel: see readmodel.h.
 *
 * Layout: the base tables (suppliers, products and product_counters,
 * reviews, price_history, sales_daily, model_meta) hold the facts; generated
 * columns and the views derive in_stock, low_stock, avg_rating and
 * price_dropped; views give each reply shape
 * (product_cards, product_details, admin_products, low_stock_items,
 * dashboard, best_sellers, best_sellers_today); product_search is an
 * external-content FTS5 index over products kept in step by triggers, so a
 * supplier rename that rewrites products.supplier_name also rewrites the
 * index (a bulk build fills it once at the end instead, see read_side_sql).
 * The views are the contract with the query service (docs/protocol.md,
 * sections 8 and 13): their column names are the reply keys.
 *
 * Idempotence: a product or supplier event first "claims" its row by
 * moving the row's version forward (UPDATE ... WHERE version < ?); when
 * nothing changes the event was already applied and the handler stops.
 * Rows keyed by the event position (price_history) use
 * ON CONFLICT DO NOTHING; aggregates (supplier counts, ratings) are
 * recomputed from their rows rather than incremented.
 *
 * Sales, views and stock updates are folded (salefold.h): a ProductSold's
 * product counters, stock and version, and its sales_daily row, wait in
 * the fold until the batch commits, as do a ProductViewed's view and a
 * StockUpdated's stock, so a product sold, viewed and restocked many times
 * in a batch is rewritten once (a rebuild from 300,000 sales: 8.8-12.2 ->
 * 6.6-8.1 us per event, docs/decisions.md item 30; views and stock,
 * item 41).  The fold also
 * remembers each product's row version, so a sale is checked against it
 * without reading the row.  Another event of the product first writes the
 * product's folded sales; since every product event leaves the row at
 * max(its version, the event's), the fold's version stays right after it.
 * A rollback forgets the fold. */
#include "readmodel.h"

#include "modeldb.h"
#include "salefold.h"
#include "sqlitedb.h"
#include "strcopy.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define US_PER_DAY 86400000000LL
/* Products whose sales the model folds before writing (salefold.h): with
 * more products sold between commits than this, the fold is written out
 * and started again. */
#define FOLD_PRODUCTS 16384

/* The reply shapes' shared parts: a card's columns, a detail's (a card's
 * and more; the admin view adds the cost columns), and a product's two
 * rows joined. */
#define CARD_COLUMNS                                                                               \
    "p.product_id AS product_id,"                                                                  \
    " p.name AS name, p.price_cents AS price_cents, c.stock > 0 AS in_stock,"                      \
    " p.avg_rating AS avg_rating, p.review_count AS review_count,"                                 \
    " p.supplier_id AS supplier_id, p.supplier_name AS supplier_name,"                             \
    " p.discontinued AS discontinued"
#define DETAIL_COLUMNS                                                                             \
    CARD_COLUMNS ", p.sku AS sku, p.description AS description,"                                   \
                 " c.stock AS stock, c.stock < c.low_stock_threshold AS low_stock,"                \
                 " c.low_stock_threshold AS low_stock_threshold,"                                  \
                 " p.previous_price_cents AS previous_price_cents,"                                \
                 " p.price_dropped AS price_dropped,"                                              \
                 " c.view_count AS view_count, p.discontinued_reason AS discontinued_reason,"      \
                 " c.version AS version, p.created_at AS created_at, c.updated_at AS updated_at"
#define PRODUCT_ROWS " FROM products p JOIN product_counters c ON c.pid = p.pid"

/* Saturating arithmetic in SQL, for the sums of domain/fields.h: a value
 * that would pass 2^63 - 1 stays there.  SQLite itself turns an integer
 * + or * that overflows into a REAL (stock_value_cents came back as a
 * float) and makes sum() fail with "integer overflow" (Dashboard answered
 * unavailable for good).  Every operand is >= 0 (the field rules).
 * SQL_SUM_SAT sums a column in two halves, bits 32..62 and 0..31, each of
 * which cannot overflow below 2^31 rows, and joins them only when the
 * total fits. */
#define SQL_INT_MAX "9223372036854775807"
#define SQL_ADD_SAT(a, b) \
    "(CASE WHEN " a " > " SQL_INT_MAX " - " b " THEN " SQL_INT_MAX " ELSE " a " + " b " END)"
#define SQL_MUL_SAT(a, b)                                                                          \
    "(CASE WHEN " b " > 0 AND " a " > " SQL_INT_MAX " / " b " THEN " SQL_INT_MAX " ELSE " a      \
    " * " b " END)"
#define SQL_SUM_SAT(v, from)                                                                       \
    "(SELECT CASE WHEN hi + (lo >> 32) >= 2147483648 THEN " SQL_INT_MAX                          \
    " ELSE ((hi + (lo >> 32)) << 32) + (lo & 4294967295) END FROM (SELECT"                          \
    " coalesce(sum((" v ") >> 32), 0) AS hi, coalesce(sum((" v ") & 4294967295), 0) AS lo " from "))"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS model_meta("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " last_recorded_at INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO model_meta(id, last_recorded_at) VALUES (1, 0);"

    "CREATE TABLE IF NOT EXISTS suppliers("
    " supplier_id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " version INTEGER NOT NULL," /* 0: known only through a ProductCreated */
    " registered_at INTEGER NOT NULL,"
    " product_count INTEGER NOT NULL DEFAULT 0,"
    " active_product_count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"

    /* A product is two rows of the same pid: what its sales, views and
     * restocks move (stock, the counters, the row version) in the narrow
     * product_counters, the rest in products.  The folded write of a batch
     * then rewrites ~40-byte records on a few pages instead of the whole
     * product on most pages of the table (docs/decisions.md, item 49). */
    "CREATE TABLE IF NOT EXISTS products("
    " pid INTEGER PRIMARY KEY," /* FTS rowid; not part of the dump */
    " product_id TEXT NOT NULL UNIQUE,"
    " sku TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,"
    " supplier_id TEXT NOT NULL, supplier_name TEXT NOT NULL,"
    " price_cents INTEGER NOT NULL, cost_price_cents INTEGER NOT NULL,"
    " previous_price_cents INTEGER,"
    " rating_sum INTEGER NOT NULL DEFAULT 0, review_count INTEGER NOT NULL DEFAULT 0,"
    " discontinued INTEGER NOT NULL DEFAULT 0, discontinued_reason TEXT,"
    " created_at INTEGER NOT NULL,"
    " avg_rating REAL GENERATED ALWAYS AS (CASE WHEN review_count > 0 THEN"
    "  round(CAST(rating_sum AS REAL) / review_count, 2) ELSE 0.0 END) VIRTUAL,"
    " price_dropped INTEGER GENERATED ALWAYS AS (previous_price_cents IS NOT NULL"
    "  AND price_cents < previous_price_cents) VIRTUAL);"
    "CREATE INDEX IF NOT EXISTS products_by_supplier ON products(supplier_id, product_id);"
    "CREATE TABLE IF NOT EXISTS product_counters("
    " pid INTEGER PRIMARY KEY," /* products.pid */
    " version INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " stock INTEGER NOT NULL, low_stock_threshold INTEGER NOT NULL,"
    " view_count INTEGER NOT NULL DEFAULT 0,"
    " units_sold INTEGER NOT NULL DEFAULT 0, revenue_cents INTEGER NOT NULL DEFAULT 0);"

    "CREATE TABLE IF NOT EXISTS reviews("
    " product_id TEXT NOT NULL, review_id TEXT NOT NULL, customer_id TEXT NOT NULL,"
    " rating INTEGER NOT NULL, comment TEXT NOT NULL,"
    " position INTEGER NOT NULL, recorded_at INTEGER NOT NULL,"
    " PRIMARY KEY (product_id, review_id)) WITHOUT ROWID;"

    "CREATE TABLE IF NOT EXISTS price_history("
    " position INTEGER PRIMARY KEY, product_id TEXT NOT NULL,"
    " old_price_cents INTEGER NOT NULL, new_price_cents INTEGER NOT NULL,"
    " recorded_at INTEGER NOT NULL);"

    /* Units and revenue per product and day, for the dashboard and today's
     * best sellers: a row per product sold that day, moved by each sale
     * (guarded by the product's version claim, like units_sold).  It
     * replaced an index sales_by_day(day, product_id) that took a random
     * leaf per sale and grew without end: with it the projector wrote
     * 2.6 KB per command, with this table 1.15 (docs/decisions.md,
     * item 29).  No query reads single sales, so the model keeps no row
     * per sale (the log and the audit have them; item 49). */
    "CREATE TABLE IF NOT EXISTS sales_daily("
    " day INTEGER NOT NULL, product_id TEXT NOT NULL,"
    " units INTEGER NOT NULL, revenue_cents INTEGER NOT NULL,"
    " PRIMARY KEY (day, product_id)) WITHOUT ROWID;"

    "CREATE VIRTUAL TABLE IF NOT EXISTS product_search USING fts5("
    " name, description, supplier_name, content='products', content_rowid='pid',"
    " tokenize='unicode61 remove_diacritics 2');"

    /* The reply shapes.  Public views never name a cost column. */
    "CREATE VIEW IF NOT EXISTS product_cards AS SELECT " CARD_COLUMNS PRODUCT_ROWS ";"
    "CREATE VIEW IF NOT EXISTS product_details AS SELECT " DETAIL_COLUMNS PRODUCT_ROWS ";"
    "CREATE VIEW IF NOT EXISTS admin_products AS SELECT " DETAIL_COLUMNS ","
    " p.cost_price_cents AS cost_price_cents,"
    " " SQL_MUL_SAT("c.stock", "p.cost_price_cents") " AS stock_value_cents,"
    " p.price_cents - p.cost_price_cents AS margin_cents,"
    " CASE WHEN p.price_cents > 0 THEN round((p.price_cents - p.cost_price_cents) * 100.0"
    "  / p.price_cents, 2) ELSE 0.0 END AS margin_percent,"
    " c.units_sold AS units_sold, c.revenue_cents AS revenue_cents" PRODUCT_ROWS ";"
    "CREATE VIEW IF NOT EXISTS low_stock_items AS SELECT p.product_id AS product_id,"
    " p.name AS name, p.supplier_id AS supplier_id, p.supplier_name AS supplier_name,"
    " c.stock AS stock, c.low_stock_threshold AS low_stock_threshold,"
    " c.stock = 0 AS out_of_stock"
    " FROM product_counters c JOIN products p ON p.pid = c.pid"
    " WHERE c.stock < c.low_stock_threshold AND p.discontinued = 0;"
    "CREATE VIEW IF NOT EXISTS dashboard AS SELECT"
    " (SELECT count(*) FROM products WHERE discontinued = 0) AS product_count,"
    " (SELECT count(*) FROM products WHERE discontinued = 1) AS discontinued_count,"
    " (SELECT count(*) FROM suppliers) AS supplier_count,"
    " " SQL_SUM_SAT(SQL_MUL_SAT("c.stock", "p.cost_price_cents"),
                    "FROM products p JOIN product_counters c ON c.pid = p.pid")
    " AS inventory_value_cents,"
    " (SELECT count(*) FROM product_counters c JOIN products p ON p.pid = c.pid"
    "  WHERE c.stock < c.low_stock_threshold AND p.discontinued = 0) AS low_stock_count,"
    " (SELECT count(*) FROM product_counters c JOIN products p ON p.pid = c.pid"
    "  WHERE c.stock = 0 AND p.discontinued = 0) AS out_of_stock_count,"
    " (SELECT CASE WHEN last_recorded_at > 0 THEN"
    "  date(last_recorded_at / 1000000, 'unixepoch') END FROM model_meta) AS today,"
    " " SQL_SUM_SAT("units", "FROM sales_daily WHERE day ="
                               " (SELECT last_recorded_at / 86400000000 FROM model_meta)")
    " AS units_sold_today,"
    " " SQL_SUM_SAT("revenue_cents", "FROM sales_daily WHERE day ="
                                       " (SELECT last_recorded_at / 86400000000 FROM model_meta)")
    " AS revenue_today_cents;"
    "CREATE VIEW IF NOT EXISTS best_sellers AS SELECT p.product_id AS product_id,"
    " p.name AS name, c.units_sold AS units_sold, c.revenue_cents AS revenue_cents"
    " FROM product_counters c JOIN products p ON p.pid = c.pid WHERE c.units_sold > 0"
    " ORDER BY c.units_sold DESC, p.product_id;"
    "CREATE VIEW IF NOT EXISTS best_sellers_today AS SELECT d.product_id AS product_id,"
    " p.name AS name, d.units AS units_sold, d.revenue_cents AS revenue_cents"
    " FROM sales_daily d JOIN products p ON p.product_id = d.product_id"
    " WHERE d.day = (SELECT last_recorded_at / 86400000000 FROM model_meta)"
    " ORDER BY units_sold DESC, d.product_id;";

/* What only the query service reads, no statement of the apply path: its
 * indexes, and the triggers that keep the search index in step.  A normal
 * model creates them with the schema.  A bulk build creates them once at
 * the end (readmodel_bulk_finish), after filling product_search from the
 * products rows in one 'rebuild': each index is sorted once, and FTS5 does not
 * flush a segment per product (it flushes at every statement savepoint,
 * which made a ProductCreated ~15 times the cost of a ProductSold).  The
 * rows, terms and positions are the same either way. */
static const char read_side_sql[] =
    "CREATE INDEX IF NOT EXISTS products_top ON products(avg_rating DESC, review_count DESC)"
    " WHERE review_count >= 3 AND discontinued = 0;"
    "CREATE INDEX IF NOT EXISTS products_low ON product_counters(stock)"
    " WHERE stock < low_stock_threshold;"
    "CREATE INDEX IF NOT EXISTS reviews_recent ON reviews(product_id, position DESC);"
    "CREATE INDEX IF NOT EXISTS price_history_by_product ON price_history(product_id, position);"
    "CREATE TRIGGER IF NOT EXISTS products_ai AFTER INSERT ON products BEGIN"
    " INSERT INTO product_search(rowid, name, description, supplier_name)"
    "  VALUES (new.pid, new.name, new.description, new.supplier_name); END;"
    "CREATE TRIGGER IF NOT EXISTS products_au AFTER UPDATE OF name, description, supplier_name"
    " ON products BEGIN"
    " INSERT INTO product_search(product_search, rowid, name, description, supplier_name)"
    "  VALUES ('delete', old.pid, old.name, old.description, old.supplier_name);"
    " INSERT INTO product_search(rowid, name, description, supplier_name)"
    "  VALUES (new.pid, new.name, new.description, new.supplier_name); END;"
    "CREATE TRIGGER IF NOT EXISTS products_ad AFTER DELETE ON products BEGIN"
    " INSERT INTO product_search(product_search, rowid, name, description, supplier_name)"
    "  VALUES ('delete', old.pid, old.name, old.description, old.supplier_name); END;";
static const char bulk_finish_sql[] =
    "BEGIN;"
    "INSERT INTO product_search(product_search) VALUES ('rebuild');";

/* ---- statements ---------------------------------------------------------- */

typedef enum {
    ST_SUPPLIER_UPSERT,
    ST_SUPPLIER_PLACEHOLDER,
    ST_SUPPLIER_COUNT_ADD,
    ST_SUPPLIER_PRODUCTS_RENAME,
    ST_PRODUCT_INSERT,
    ST_COUNTERS_INSERT,
    ST_PRODUCT_CLAIM,
    ST_PRODUCT_PRICE,
    ST_PRODUCT_FOLD,
    ST_PRODUCT_DISCONTINUE,
    ST_PRODUCT_RATINGS,
    ST_PRODUCT_SUPPLIER,
    ST_PRODUCT_VERSION,
    ST_PRICE_HISTORY_INSERT,
    ST_SALE_DAILY_ADD,
    ST_REVIEW_UPSERT,
    ST_META_RECORDED,
    ST__COUNT
} stmt_id_t;

static const char *const stmt_sql[ST__COUNT] = {
    [ST_SUPPLIER_UPSERT] =
        "INSERT INTO suppliers(supplier_id, name, version, registered_at)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(supplier_id) DO UPDATE SET"
        " name = excluded.name, version = excluded.version,"
        " registered_at = CASE WHEN suppliers.version = 0 THEN excluded.registered_at"
        "  ELSE suppliers.registered_at END"
        " WHERE suppliers.version < excluded.version",
    [ST_SUPPLIER_PLACEHOLDER] = "INSERT INTO suppliers(supplier_id, name, version, registered_at)"
                                " VALUES (?1, ?2, 0, 0) ON CONFLICT(supplier_id) DO NOTHING",
    /* Counts move by one, guarded by the product row's version claim: a
     * recount with count(*) per ProductCreated was quadratic in a
     * supplier's products (profiled: docs/decisions.md, item 2). */
    [ST_SUPPLIER_COUNT_ADD] =
        "UPDATE suppliers SET product_count = product_count + ?2,"
        " active_product_count = active_product_count + ?3 WHERE supplier_id = ?1",
    [ST_SUPPLIER_PRODUCTS_RENAME] =
        "UPDATE products SET supplier_name = ?2 WHERE supplier_id = ?1 AND supplier_name <> ?2",
    /* A ProductCreated is its product's first event: a row that exists
     * already came from this same event. */
    [ST_PRODUCT_INSERT] =
        "INSERT INTO products(product_id, sku, name, description, supplier_id, supplier_name,"
        " price_cents, cost_price_cents, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(product_id) DO NOTHING",
    [ST_COUNTERS_INSERT] = "INSERT INTO product_counters(pid, version, updated_at, stock,"
                           " low_stock_threshold) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PRODUCT_CLAIM] =
        "UPDATE product_counters SET version = ?2, updated_at = ?3"
        " WHERE pid = (SELECT pid FROM products WHERE product_id = ?1) AND version < ?2",
    [ST_PRODUCT_PRICE] =
        "UPDATE products SET previous_price_cents = ?2, price_cents = ?3 WHERE product_id = ?1",
    /* What the fold holds for a product (NULL stock: unchanged), by the
     * row's pid, which the fold knows: no walk of the product_id index per
     * product written. */
    [ST_PRODUCT_FOLD] =
        "UPDATE product_counters SET stock = coalesce(?2, stock),"
        " units_sold = " SQL_ADD_SAT("units_sold", "?3") ","
        " revenue_cents = " SQL_ADD_SAT("revenue_cents", "?4") ","
        " view_count = " SQL_ADD_SAT("view_count", "?7") ", version = ?5,"
        " updated_at = ?6 WHERE pid = ?1 AND version < ?5",
    [ST_PRODUCT_DISCONTINUE] =
        "UPDATE products SET discontinued = 1, discontinued_reason = ?2 WHERE product_id = ?1",
    [ST_PRODUCT_RATINGS] =
        "UPDATE products SET"
        " rating_sum = (SELECT coalesce(sum(rating), 0) FROM reviews WHERE product_id = ?1),"
        " review_count = (SELECT count(*) FROM reviews WHERE product_id = ?1)"
        " WHERE product_id = ?1",
    [ST_PRODUCT_SUPPLIER] = "SELECT supplier_id FROM products WHERE product_id = ?1",
    [ST_PRODUCT_VERSION] = "SELECT c.version, p.pid FROM products p"
                           " JOIN product_counters c ON c.pid = p.pid WHERE p.product_id = ?1",
    [ST_PRICE_HISTORY_INSERT] =
        "INSERT INTO price_history(position, product_id, old_price_cents, new_price_cents,"
        " recorded_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(position) DO NOTHING",
    [ST_SALE_DAILY_ADD] =
        "INSERT INTO sales_daily(day, product_id, units, revenue_cents) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(day, product_id) DO UPDATE SET"
        " units = " SQL_ADD_SAT("units", "excluded.units") ","
        " revenue_cents = " SQL_ADD_SAT("revenue_cents", "excluded.revenue_cents"),
    [ST_REVIEW_UPSERT] =
        "INSERT INTO reviews(product_id, review_id, customer_id, rating, comment, position,"
        " recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT(product_id, review_id) DO UPDATE SET customer_id = excluded.customer_id,"
        " rating = excluded.rating, comment = excluded.comment, position = excluded.position,"
        " recorded_at = excluded.recorded_at WHERE reviews.position < excluded.position",
    [ST_META_RECORDED] =
        "UPDATE model_meta SET last_recorded_at = max(last_recorded_at, ?1) WHERE id = 1",
};

struct readmodel {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT]; /* prepared on first use, reset on reuse */
    sqlite3_stmt *checkpoint_st; /* cached by modeldb_checkpoint_set */
    int64_t batch_recorded_max;  /* newest recorded_at (us) applied in the open batch */
    char *bulk_path;             /* a bulk build's file (malloc'ed), NULL otherwise */
    salefold_t *fold;            /* sales not yet written, and known row versions */
};

/* Prepares statement `id` (cached) and binds fmt's arguments in order:
 * 't' const char *, 'i' int64_t, 'n' NULL (no argument).  NULL on error. */
static sqlite3_stmt *
rm_bind(readmodel_t *m, stmt_id_t id, const char *fmt, va_list ap)
{
    if (modeldb_prepare(m->db, &m->st[id], stmt_sql[id]) != SQLITE_OK)
        return NULL;
    sqlite3_stmt *st = m->st[id];
    for (int i = 0; fmt[i]; i++) {
        int rc = SQLITE_OK;
        if (fmt[i] == 't')
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        else if (fmt[i] == 'i')
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else
            rc = sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK)
            return NULL;
    }
    return st;
}

/* rm_bind for a query the caller steps and resets.  NULL on error. */
static sqlite3_stmt *
rm_query(readmodel_t *m, stmt_id_t id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = rm_bind(m, id, fmt, ap);
    va_end(ap);
    return st;
}

/* Runs a write statement to completion.  Returns the rows it changed, or -1. */
static int
rm_exec(readmodel_t *m, stmt_id_t id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = rm_bind(m, id, fmt, ap);
    va_end(ap);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(m->db) : -1;
}

/* ---- helpers shared by the handlers --------------------------------------- */

/* Moves the product row to the event's version.  1 when this event is new
 * for the row, 0 when already applied (or the product is unknown), -1. */
static int
rm_claim_product(readmodel_t *m, const event_t *ev)
{
    int n = rm_exec(m, ST_PRODUCT_CLAIM, "tii", ev->data.product_id, ev->env.version,
                    ev->env.recorded_at);
    return n < 0 ? -1 : n > 0;
}

/* Moves a supplier's product counts by (all, active). */
static int
rm_count_supplier(readmodel_t *m, const char *supplier_id, int64_t all, int64_t active)
{
    return rm_exec(m, ST_SUPPLIER_COUNT_ADD, "tii", supplier_id, all, active) < 0 ? -1 : 0;
}

/* One active product fewer for the supplier of product_id (discontinued). */
static int
rm_count_discontinued(readmodel_t *m, const char *product_id)
{
    sqlite3_stmt *st = rm_query(m, ST_PRODUCT_SUPPLIER, "t", product_id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    char supplier[ID_MAX + 1] = "";
    if (rc == SQLITE_ROW)
        strcopy(supplier, sizeof supplier, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    return supplier[0] ? rm_count_supplier(m, supplier, 0, -1) : 0;
}

/* ---- the sales fold (salefold.h) ----------------------------------------- */

/* Writes what is folded into e: the product's counters and version, and
 * the day's sales_daily row. */
static int
rm_fold_write(readmodel_t *m, salefold_entry_t *e)
{
    if (!e->pending)
        return 0;
    int n = e->stock_set ? rm_exec(m, ST_PRODUCT_FOLD, "iiiiiii", e->pid, e->stock, e->units,
                                   e->revenue_cents, e->version, e->updated_at, e->views)
                         : rm_exec(m, ST_PRODUCT_FOLD, "iniiiii", e->pid, e->units,
                                   e->revenue_cents, e->version, e->updated_at, e->views);
    if (n != 1)
        return -1; /* the row moved under the fold: a bug, never a silent loss */
    if (e->units > 0 && rm_exec(m, ST_SALE_DAILY_ADD, "itii", e->sold_at / US_PER_DAY,
                                e->product_id, e->units, e->revenue_cents) < 0)
        return -1;
    e->pending = false;
    e->stock_set = false;
    e->units = 0;
    e->revenue_cents = 0;
    e->views = 0;
    return 0;
}

/* Writes every folded sale; the entries stay, with their versions known. */
static int
rm_fold_write_all(readmodel_t *m)
{
    for (size_t i = 0; i < salefold_count(m->fold); i++)
        if (rm_fold_write(m, salefold_at(m->fold, i)) != 0)
            return -1;
    return 0;
}

/* Before another event of a product changes its row: writes the product's
 * folded sales, so that the event finds the row as the sales left it.
 * Returns the product's entry (NULL: none) through *out. */
static int
rm_fold_settle(readmodel_t *m, const char *product_id, salefold_entry_t **out)
{
    *out = salefold_get(m->fold, product_id, false);
    return *out ? rm_fold_write(m, *out) : 0;
}

/* The product's row version and pid as of now: -1 error, 0 no such
 * product, 1. */
static int
rm_product_version(readmodel_t *m, const char *product_id, int64_t *version, int64_t *pid)
{
    sqlite3_stmt *st = rm_query(m, ST_PRODUCT_VERSION, "t", product_id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *pid = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The fold's entry of product_id with its version known (*out NULL: no
 * such product).  A full fold is written out and started again. */
static int
rm_fold_entry(readmodel_t *m, const char *product_id, salefold_entry_t **out)
{
    *out = NULL;
    salefold_entry_t *e = salefold_get(m->fold, product_id, true);
    if (!e) { /* full */
        if (rm_fold_write_all(m) != 0)
            return -1;
        salefold_clear(m->fold);
        if (!(e = salefold_get(m->fold, product_id, true)))
            return -1; /* an id longer than ID_MAX */
    }
    if (!e->known) {
        int found = rm_product_version(m, product_id, &e->version, &e->pid);
        if (found <= 0)
            return found;
        e->known = true;
    }
    *out = e;
    return 0;
}

/* ---- one handler per event type ----------------------------------------- */

typedef int (*apply_fn)(readmodel_t *m, const event_t *ev);

static int
apply_supplier_registered(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    return rm_exec(m, ST_SUPPLIER_UPSERT, "ttii", d->supplier_id, d->name, ev->env.version,
                   ev->env.recorded_at) < 0
               ? -1
               : 0;
}

static int
apply_supplier_renamed(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    int n = rm_exec(m, ST_SUPPLIER_UPSERT, "ttii", d->supplier_id, d->new_name, ev->env.version,
                    ev->env.recorded_at);
    if (n <= 0)
        return n; /* already applied: the products already show this name or a newer one */
    return rm_exec(m, ST_SUPPLIER_PRODUCTS_RENAME, "tt", d->supplier_id, d->new_name) < 0 ? -1 : 0;
}

static int
apply_product_created(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    int n = rm_exec(m, ST_PRODUCT_INSERT, "ttttttiii", d->product_id, d->sku, d->name,
                    d->description, d->supplier_id, d->supplier_name, fields_int(d, F_PRICE_CENTS),
                    fields_int(d, F_COST_PRICE_CENTS), ev->env.recorded_at);
    if (n < 0 || rm_exec(m, ST_SUPPLIER_PLACEHOLDER, "tt", d->supplier_id, d->supplier_name) < 0)
        return -1;
    if (n == 0)
        return 0; /* already applied */
    if (rm_exec(m, ST_COUNTERS_INSERT, "iiiii", (int64_t)sqlite3_last_insert_rowid(m->db),
                ev->env.version, ev->env.recorded_at, fields_int(d, F_STOCK),
                fields_int(d, F_LOW_STOCK_THRESHOLD)) < 0)
        return -1;
    return rm_count_supplier(m, d->supplier_id, 1, 1);
}

static int
apply_price_changed(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    int claimed = rm_claim_product(m, ev);
    if (claimed <= 0)
        return claimed;
    int64_t old_price = fields_int(d, F_OLD_PRICE_CENTS);
    int64_t new_price = fields_int(d, F_NEW_PRICE_CENTS);
    if (rm_exec(m, ST_PRODUCT_PRICE, "tii", d->product_id, old_price, new_price) < 0)
        return -1;
    return rm_exec(m, ST_PRICE_HISTORY_INSERT, "itiii", ev->env.position, d->product_id, old_price,
                   new_price, ev->env.recorded_at) < 0
               ? -1
               : 0;
}

/* The fold's entry of the event's product when the event is new for its
 * row (*out NULL: an unknown product, or an event already applied). */
static int
rm_fold_claim(readmodel_t *m, const event_t *ev, salefold_entry_t **out)
{
    if (rm_fold_entry(m, ev->data.product_id, out) != 0)
        return -1;
    if (*out && ev->env.version <= (*out)->version)
        *out = NULL;
    return 0;
}

/* Folds the event's version and time into e. */
static void
rm_fold_event(salefold_entry_t *e, const event_t *ev)
{
    e->version = ev->env.version;
    e->updated_at = ev->env.recorded_at;
    e->pending = true;
}

static int
apply_stock_updated(readmodel_t *m, const event_t *ev)
{
    salefold_entry_t *e;
    if (rm_fold_claim(m, ev, &e) != 0)
        return -1;
    if (e) {
        rm_fold_event(e, ev);
        e->stock = fields_int(&ev->data, F_NEW_STOCK);
        e->stock_set = true;
    }
    return 0;
}

/* A sale is folded into its product's entry (salefold.h) and written with
 * the product's other sales of the batch at commit.  A sale of another day
 * than the ones folded writes those first, so sales_daily gets one row per
 * day. */
static int
apply_product_sold(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    salefold_entry_t *e;
    if (rm_fold_claim(m, ev, &e) != 0)
        return -1;
    if (!e)
        return 0; /* unknown product, or already applied */
    int64_t qty = fields_int(d, F_QUANTITY);
    int64_t unit = fields_int(d, F_UNIT_PRICE_CENTS);
    if (e->units > 0 && e->sold_at / US_PER_DAY != ev->env.recorded_at / US_PER_DAY &&
        rm_fold_write(m, e) != 0)
        return -1;
    rm_fold_event(e, ev);
    e->stock = fields_int(d, F_NEW_STOCK);
    e->stock_set = true;
    /* events stored before the domain's bounds may hold any int64 >= 0 */
    e->units = fields_add_sat(e->units, qty);
    e->revenue_cents = fields_add_sat(e->revenue_cents, fields_mul_sat(qty, unit));
    e->sold_at = ev->env.recorded_at;
    return 0;
}

static int
apply_product_viewed(readmodel_t *m, const event_t *ev)
{
    salefold_entry_t *e;
    if (rm_fold_claim(m, ev, &e) != 0)
        return -1;
    if (e) {
        rm_fold_event(e, ev);
        e->views++;
    }
    return 0;
}

static int
apply_review_submitted(readmodel_t *m, const event_t *ev)
{
    const fields_t *d = &ev->data;
    int claimed = rm_claim_product(m, ev);
    if (claimed <= 0)
        return claimed;
    if (rm_exec(m, ST_REVIEW_UPSERT, "tttitii", d->product_id, d->review_id, d->customer_id,
                fields_int(d, F_RATING), d->comment, ev->env.position, ev->env.recorded_at) < 0)
        return -1;
    return rm_exec(m, ST_PRODUCT_RATINGS, "t", d->product_id) < 0 ? -1 : 0;
}

static int
apply_product_discontinued(readmodel_t *m, const event_t *ev)
{
    int claimed = rm_claim_product(m, ev);
    if (claimed <= 0)
        return claimed;
    if (rm_exec(m, ST_PRODUCT_DISCONTINUE, "tt", ev->data.product_id, ev->data.reason) < 0)
        return -1;
    return rm_count_discontinued(m, ev->data.product_id);
}

static const apply_fn appliers[EV__COUNT] = {
    [EV_SUPPLIER_REGISTERED] = apply_supplier_registered,
    [EV_SUPPLIER_RENAMED] = apply_supplier_renamed,
    [EV_PRODUCT_CREATED] = apply_product_created,
    [EV_PRICE_CHANGED] = apply_price_changed,
    [EV_STOCK_UPDATED] = apply_stock_updated,
    [EV_PRODUCT_SOLD] = apply_product_sold,
    [EV_PRODUCT_VIEWED] = apply_product_viewed,
    [EV_REVIEW_SUBMITTED] = apply_review_submitted,
    [EV_PRODUCT_DISCONTINUED] = apply_product_discontinued,
};

/* ---- lifecycle and the subscriber ops ------------------------------------ */

/* Stamps a fresh file with the schema version; refuses a file of another. */
static int
rm_check_version(sqlite3 *db, const char **why)
{
    int v = -1;
    sqlitedb_user_version(db, &v);
    if (v == 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", READMODEL_SCHEMA_VERSION);
        return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    }
    if (v != READMODEL_SCHEMA_VERSION) {
        *why = "read model has another schema version (rebuild it into a new file)";
        return -1;
    }
    return 0;
}

/* Opens a normal model (bulk false: WAL, every index) or a bulk build
 * (modeldb_open_bulk, the read-side indexes left for readmodel_bulk_finish). */
static readmodel_t *
rm_open(const char *path, bool bulk, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = "out of memory";
    readmodel_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if ((bulk && !(m->bulk_path = strdup(path))) || !(m->fold = salefold_new(FOLD_PRODUCTS))) {
        free(m->bulk_path);
        free(m);
        return NULL;
    }
    int rc =
        bulk ? modeldb_open_bulk(path, schema_sql, &m->db) : modeldb_open(path, schema_sql, &m->db);
    if (rc == SQLITE_OK && !bulk)
        rc = sqlite3_exec(m->db, read_side_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        *why = sqlite3_errstr(rc);
        readmodel_close(&m);
        return NULL;
    }
    *why = "cannot read the schema version";
    if (rm_check_version(m->db, why) != 0) {
        readmodel_close(&m);
        return NULL;
    }
    *why = NULL;
    return m;
}

readmodel_t *
readmodel_open_dump(const char *path, const char **why)
{
    readmodel_t *m = calloc(1, sizeof *m);
    int v = -1;
    *why = "out of memory";
    if (!m)
        return NULL;
    if (modeldb_open_dump(path, &m->db) != SQLITE_OK) {
        *why = "cannot open it read-only (no such file?)";
    } else if (sqlitedb_user_version(m->db, &v) != SQLITE_OK || v != READMODEL_SCHEMA_VERSION) {
        *why = "not a read model of this build's schema version";
    } else {
        *why = NULL;
        return m;
    }
    readmodel_close(&m);
    return NULL;
}

int
readmodel_discard_other_schema(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    int v = sqlitedb_file_version(path);
    if (v < 0)
        return -1;
    if (v == 0 || v == READMODEL_SCHEMA_VERSION)
        return 0;
    if (S_ISLNK(sb.st_mode)) {
        if (unlink(path) != 0)
            return -1;
    } else {
        modeldb_remove(path);
    }
    return v;
}

readmodel_t *
readmodel_open(const char *path, const char **why)
{
    return rm_open(path, false, why);
}

readmodel_t *
readmodel_open_bulk(const char *path, const char **why)
{
    modeldb_remove(path); /* what a crashed build left behind */
    return rm_open(path, true, why);
}

int
readmodel_bulk_finish(readmodel_t **mp, const char *final_path)
{
    readmodel_t *m = *mp;
    if (!m->bulk_path || rm_fold_write_all(m) != 0 ||
        sqlite3_exec(m->db, bulk_finish_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(m->db, read_side_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        modeldb_rollback(m->db);
        return -1;
    }
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(m->st[i]);
        m->st[i] = NULL;
    }
    sqlite3_finalize(m->checkpoint_st);
    m->checkpoint_st = NULL;
    if (modeldb_bulk_adopt(&m->db, m->bulk_path, final_path) != SQLITE_OK)
        return -1;
    free(m->bulk_path);
    m->bulk_path = NULL;
    readmodel_close(mp);
    return 0;
}

void
readmodel_close(readmodel_t **mp)
{
    if (!mp || !*mp)
        return;
    readmodel_t *m = *mp;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(m->st[i]);
    sqlite3_finalize(m->checkpoint_st);
    modeldb_close(&m->db);
    if (m->bulk_path)
        modeldb_remove(m->bulk_path); /* an unfinished build is never adopted */
    free(m->bulk_path);
    salefold_destroy(&m->fold);
    free(m);
    *mp = NULL;
}

int
readmodel_begin(readmodel_t *m)
{
    m->batch_recorded_max = 0;
    return modeldb_begin(m->db) == SQLITE_OK ? 0 : -1;
}

/* The events the fold holds until commit. */
static bool
rm_folded(event_type_t type)
{
    return type == EV_PRODUCT_SOLD || type == EV_PRODUCT_VIEWED || type == EV_STOCK_UPDATED;
}

int
readmodel_apply(readmodel_t *m, const event_t *ev)
{
    if (ev->env.type < 0 || ev->env.type >= EV__COUNT || !appliers[ev->env.type])
        return 0; /* a type this model does not show */
    salefold_entry_t *e = NULL;
    if (!rm_folded(ev->env.type) && ev->data.product_id[0] &&
        rm_fold_settle(m, ev->data.product_id, &e) != 0)
        return -1;
    if (appliers[ev->env.type](m, ev) != 0)
        return -1;
    /* The claim rule (top of this file): the row is now at max(version,
     * the event's version), and the fold knows it. */
    if (e && e->known && ev->env.version > e->version)
        e->version = ev->env.version;
    if (ev->env.recorded_at > m->batch_recorded_max)
        m->batch_recorded_max = ev->env.recorded_at;
    return 0;
}

int
readmodel_commit(readmodel_t *m, int64_t checkpoint, const char *event_id)
{
    if (rm_fold_write_all(m) != 0 || rm_exec(m, ST_META_RECORDED, "i", m->batch_recorded_max) < 0 ||
        modeldb_checkpoint_set(m->db, &m->checkpoint_st, checkpoint, event_id) != SQLITE_OK ||
        modeldb_commit(m->db) != SQLITE_OK) {
        readmodel_rollback(m);
        return -1;
    }
    return 0;
}

void
readmodel_rollback(readmodel_t *m)
{
    modeldb_rollback(m->db);
    salefold_clear(m->fold); /* the rows are as they were: versions unknown */
    m->batch_recorded_max = 0;
}

int
readmodel_checkpoint(readmodel_t *m, int64_t *position)
{
    return modeldb_checkpoint_get(m->db, position) == SQLITE_OK ? 0 : -1;
}

const char *
readmodel_errmsg(const readmodel_t *m)
{
    return m && m->db ? sqlite3_errmsg(m->db) : "no database";
}

static int
ops_begin(void *model)
{
    return readmodel_begin(model);
}
static int
ops_apply(void *model, const event_t *ev)
{
    return readmodel_apply(model, ev);
}
static int
ops_commit(void *model, int64_t checkpoint, const char *event_id)
{
    return readmodel_commit(model, checkpoint, event_id);
}
static void
ops_rollback(void *model)
{
    readmodel_rollback(model);
}
static int
ops_checkpoint(void *model, int64_t *position)
{
    return readmodel_checkpoint(model, position);
}
static sqlite3 *
ops_db(void *model)
{
    return ((readmodel_t *)model)->db;
}

const subscriber_ops_t readmodel_ops = {
    .begin = ops_begin,
    .apply = ops_apply,
    .commit = ops_commit,
    .rollback = ops_rollback,
    .checkpoint = ops_checkpoint,
    .committed = NULL,
    .db = ops_db,
};

/* A rebuild is a bulk build into "<path>.building" (nobody reads it before
 * the swap), finished into path once it has caught up. */
static void *
factory_open(void *arg, const char *path)
{
    (void)arg;
    char building[PATH_MAX];
    if (snprintf(building, sizeof building, "%s" SUBSCRIBER_BUILDING_SUFFIX, path) >=
        (int)sizeof building)
        return NULL;
    return readmodel_open_bulk(building, NULL);
}

static void *
factory_finish(void *arg, void *model, const char *path)
{
    (void)arg;
    readmodel_t *m = model;
    if (readmodel_bulk_finish(&m, path) != 0) {
        readmodel_close(&m);
        return NULL;
    }
    return readmodel_open(path, NULL);
}

static void
factory_activate(void *arg, void *model)
{
    *(readmodel_t **)arg = model;
}

static void
factory_close(void *arg, void *model)
{
    readmodel_t **live = arg, *m = model;
    if (*live == m)
        *live = NULL;
    readmodel_close(&m);
}

subscriber_factory_t
readmodel_factory(readmodel_t **live)
{
    return (subscriber_factory_t){.open = factory_open,
                                  .finish = factory_finish,
                                  .activate = factory_activate,
                                  .close = factory_close,
                                  .arg = live};
}

/* ---- canonical dump ------------------------------------------------------- */

/* Every table that carries state, in a fixed order with a total row order.
 * Surrogate keys (products.pid) are left out; the FTS index is dumped
 * through fts5vocab, keyed by product_id, so a stale index shows. */
static const struct {
    const char *name;
    const char *sql;
} dump_tables[] = {
    {.name = "checkpoint", .sql = "SELECT position FROM checkpoint"},
    {.name = "model_meta", .sql = "SELECT last_recorded_at FROM model_meta"},
    {.name = "suppliers",
     .sql = "SELECT supplier_id, name, version, registered_at, product_count,"
            " active_product_count FROM suppliers ORDER BY supplier_id"},
    {.name = "products",
     .sql = "SELECT product_id, sku, name, description, supplier_id, supplier_name,"
            " price_cents, cost_price_cents, previous_price_cents, stock,"
            " low_stock_threshold, rating_sum, review_count, view_count, units_sold,"
            " revenue_cents, discontinued, discontinued_reason, version, created_at,"
            " updated_at FROM products p LEFT JOIN product_counters c ON c.pid = p.pid"
            " ORDER BY product_id"},
    {.name = "reviews", .sql = "SELECT * FROM reviews ORDER BY product_id, review_id"},
    {.name = "price_history", .sql = "SELECT * FROM price_history ORDER BY position"},
    {.name = "sales_daily", .sql = "SELECT * FROM sales_daily ORDER BY day, product_id"},
    {.name = "product_search",
     .sql = "SELECT p.product_id, v.term, v.col, v.offset"
            " FROM temp.product_search_terms v JOIN products p ON p.pid = v.doc"
            " ORDER BY 1, 2, 3, 4"},
};

static void
dump_text(FILE *out, const unsigned char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s < 0x20)
            fprintf(out, "\\x%02x", *s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void
dump_row(FILE *out, const char *table, sqlite3_stmt *st)
{
    fputs(table, out);
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        fprintf(out, " %s=", sqlite3_column_name(st, i));
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT:
            fprintf(out, "%.17g", sqlite3_column_double(st, i));
            break;
        case SQLITE_NULL:
            fputs("null", out);
            break;
        default:
            dump_text(out, sqlite3_column_text(st, i));
            break;
        }
    }
    fputc('\n', out);
}

static int
dump_table(readmodel_t *m, FILE *out, const char *name, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        dump_row(out, name, st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
readmodel_dump(readmodel_t *m, FILE *out)
{
    if (sqlite3_exec(m->db,
                     "CREATE VIRTUAL TABLE IF NOT EXISTS temp.product_search_terms"
                     " USING fts5vocab(main, 'product_search', 'instance')",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_exec(m->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof dump_tables / sizeof dump_tables[0]; i++)
        rc = dump_table(m, out, dump_tables[i].name, dump_tables[i].sql);
    sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
