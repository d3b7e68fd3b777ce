/* alerts: see alerts.h.  Apply dispatches on the event type through a
 * table; event types that do not touch stock or the product's life have no
 * entry and change nothing.
 *
 * The stock state of the products lives in memory too (`cache`, a hash
 * table by product id, filled on first use from the products table), so an
 * event costs no SELECT; a stock or discontinue event only changes the
 * cached row and marks it dirty, and the commit writes each dirty row once
 * (its last state, which is what per-event UPDATEs would have left) before
 * the checkpoint, in the same transaction.  The UPDATE names `level` only
 * when it changed, so SQLite skips the level CHECK on the usual row.  A
 * rollback forgets the whole cache (it may hold rolled-back state); a
 * ProductCreated row is inserted at once (it carries the name, which the
 * cache does not keep).  The cache is emptied at a batch start once it
 * holds more than CACHE_MAX products, so it stays bounded. */
#include "alerts.h"

#include "bus.h"
#include "modeldb.h"
#include "security.h"
#include "strcopy.h"
#include "strtable.h"
#include "topology.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX 16384 /* products kept between batches (~100 bytes each) */
#define CACHE_FIRST 512 /* products the cache holds at first; it doubles */

/* A product as stored. */
typedef struct {
    char name[NAME_MAX_BYTES + 1];
    stockwatch_state_t st;
    int64_t position; /* last event position applied to this row */
    int64_t rowid;    /* the row's rowid, for product_flush */
} product_row_t;

/* What the cache keeps of a product (everything but the name). */
enum { DIRTY_ROW = 1u, DIRTY_LEVEL = 2u };
typedef struct {
    char id[ID_MAX + 1]; /* product_id */
    uint8_t dirty;       /* DIRTY_* bits: not yet written to the products row */
    stockwatch_state_t st;
    int64_t position; /* last event position applied */
    int64_t rowid;    /* of the products row: product_flush writes by it */
} cached_t;

enum {
    ST_PRODUCT_GET,
    ST_PRODUCT_NAME,
    ST_PRODUCT_INSERT,
    ST_PRODUCT_SAVE,
    ST_PRODUCT_SAVE_LEVEL,
    ST_PRODUCT_ROWID,
    ST_ALERT_INSERT,
    ST_LIST_ALL,
    ST_LIST_PRODUCT,
    ST__COUNT
};

struct alerts {
    sqlite3 *db;
    FILE *out;                   /* committed alert lines; NULL: none */
    void *pub;                   /* PUB socket, not owned; NULL: none */
    uint64_t removals_seen;      /* security_removals() when pub last dropped revoked keys */
    sqlite3_stmt *st[ST__COUNT]; /* cached statements */
    sqlite3_stmt *checkpoint_st; /* cached by modeldb_checkpoint_set */
    alertmsg_t *pend;            /* alerts of the open batch */
    size_t pend_len;             /* alerts queued */
    size_t pend_cap;             /* alerts allocated */
    int64_t publish_errors;      /* bus_send failures since open */
    strtable_t *cache;           /* cached_t by id, a growing map; NULL before first use */
    uint32_t *dirty;             /* indexes of the entries with dirty != 0 */
    size_t dirty_len;
    size_t dirty_cap;      /* >= the entries of the cache */
    product_row_t product; /* scratch */
    codec_writer_t w;      /* scratch: published bodies */
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS products("
    " product_id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " stock INTEGER NOT NULL,"     /* units, >= 0 */
    " threshold INTEGER NOT NULL," /* low_stock_threshold */
    " level TEXT NOT NULL CHECK (level IN ('ok', 'low', 'out')),"
    " discontinued INTEGER NOT NULL DEFAULT 0,"
    " position INTEGER NOT NULL);" /* last event applied to the row */
    "CREATE TABLE IF NOT EXISTS alerts("
    " position INTEGER PRIMARY KEY," /* the event that raised it */
    " kind TEXT NOT NULL CHECK (kind IN ('low_stock', 'out_of_stock', 'cleared')),"
    " product_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " stock INTEGER NOT NULL,"
    " threshold INTEGER NOT NULL,"
    " recorded_at INTEGER NOT NULL," /* us since the epoch, UTC */
    " correlation_id TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alerts_by_product ON alerts(product_id);";

#define ALERT_COLUMNS                                                                              \
    "SELECT position, kind, product_id, name, stock, threshold, recorded_at, correlation_id"       \
    " FROM alerts"

static const char *const sql[ST__COUNT] = {
    [ST_PRODUCT_GET] = "SELECT name, stock, threshold, level, discontinued, position, rowid"
                       " FROM products WHERE product_id = ?",
    [ST_PRODUCT_INSERT] = "INSERT INTO products(product_id, name, stock, threshold, level,"
                          " discontinued, position) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_PRODUCT_NAME] = "SELECT name FROM products WHERE product_id = ?",
    /* By rowid: one descent where the product_id costs two (its index,
     * then the table); the product_id check keeps a renumbered row (an
     * outside VACUUM) from being written by mistake: nothing changes, and
     * product_flush reads the rowid again. */
    [ST_PRODUCT_SAVE] = "UPDATE products SET stock = ?2, discontinued = ?3, position = ?4"
                        " WHERE rowid = ?6 AND product_id = ?1",
    [ST_PRODUCT_SAVE_LEVEL] = "UPDATE products SET stock = ?2, discontinued = ?3, position = ?4,"
                              " level = ?5 WHERE rowid = ?6 AND product_id = ?1",
    [ST_PRODUCT_ROWID] = "SELECT rowid FROM products WHERE product_id = ?",
    [ST_ALERT_INSERT] = "INSERT OR IGNORE INTO alerts(position, kind, product_id, name, stock,"
                        " threshold, recorded_at, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_LIST_ALL] = ALERT_COLUMNS " WHERE position > ? ORDER BY position LIMIT ?",
    [ST_LIST_PRODUCT] = ALERT_COLUMNS " WHERE position > ? AND product_id = ?"
                                      " ORDER BY position LIMIT ?",
};

static void cache_clear(alerts_t *m);

/* The cached statement `which`, reset and unbound; NULL on error. */
static sqlite3_stmt *
alerts_stmt(alerts_t *m, int which)
{
    return modeldb_prepare(m->db, &m->st[which], sql[which]) == SQLITE_OK ? m->st[which] : NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

alerts_t *
alerts_open(const char *path, FILE *out, const char **why)
{
    alerts_t *m = calloc(1, sizeof *m);
    if (!m) {
        *why = "out of memory";
        return NULL;
    }
    m->out = out;
    codec_writer_init(&m->w);
    if (modeldb_open(path, schema_sql, &m->db) != SQLITE_OK) {
        *why = "cannot open or create the alerts database";
        codec_writer_fini(&m->w);
        free(m);
        return NULL;
    }
    return m;
}

alerts_t *
alerts_open_dump(const char *path, const char **why)
{
    alerts_t *m = calloc(1, sizeof *m);
    if (!m) {
        *why = "out of memory";
        return NULL;
    }
    codec_writer_init(&m->w);
    if (modeldb_open_dump(path, &m->db) != SQLITE_OK) {
        *why = "cannot open it read-only (no such file?)";
        alerts_close(&m);
        return NULL;
    }
    return m;
}

void
alerts_set_output(alerts_t *m, FILE *out)
{
    m->out = out;
}

void
alerts_set_publisher(alerts_t *m, void *pub)
{
    m->pub = pub;
    m->removals_seen = security_removals();
}

void
alerts_close(alerts_t **mp)
{
    if (!mp || !*mp)
        return;
    alerts_t *m = *mp;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(m->st[i]);
    sqlite3_finalize(m->checkpoint_st);
    modeldb_close(&m->db);
    codec_writer_fini(&m->w);
    free(m->pend);
    cache_clear(m);
    free(m);
    *mp = NULL;
}

static void *
factory_open(void *arg, const char *path)
{
    const char *why = NULL;
    (void)arg;
    return alerts_open(path, NULL, &why);
}

static void
factory_activate(void *arg, void *model)
{
    alerts_live_t *live = arg;
    live->model = model;
    alerts_set_output(model, live->out);
    alerts_set_publisher(model, live->pub);
}

static void
factory_close(void *arg, void *model)
{
    alerts_live_t *live = arg;
    alerts_t *m = model;
    if (live->model == m)
        live->model = NULL;
    alerts_close(&m);
}

subscriber_factory_t
alerts_factory(alerts_live_t *live)
{
    return (subscriber_factory_t){
        .open = factory_open, .activate = factory_activate, .close = factory_close, .arg = live};
}

int
alerts_checkpoint(alerts_t *m, int64_t *position)
{
    return modeldb_checkpoint_get(m->db, position) == SQLITE_OK ? 0 : -1;
}

int64_t
alerts_publish_errors(const alerts_t *m)
{
    return m->publish_errors;
}

/* ---- products ------------------------------------------------------------ */

/* Loads a product into *p: 1 found, 0 unknown, -1 error. */
static int
product_load(alerts_t *m, const char *product_id, product_row_t *p)
{
    sqlite3_stmt *st = alerts_stmt(m, ST_PRODUCT_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, product_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        strcopy(p->name, sizeof p->name, name ? (const char *)name : "");
        p->st.stock = sqlite3_column_int64(st, 1);
        p->st.threshold = sqlite3_column_int64(st, 2);
        const unsigned char *lvl = sqlite3_column_text(st, 3);
        int level = lvl ? stockwatch_level_lookup((const char *)lvl) : -1;
        p->st.level =
            level >= 0 ? (stockwatch_level_t)level : stockwatch_level(p->st.stock, p->st.threshold);
        p->st.discontinued = sqlite3_column_int(st, 4) != 0;
        p->position = sqlite3_column_int64(st, 5);
        p->rowid = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The stored name of a product into name (NAME_MAX_BYTES + 1).  0 or -1. */
static int
product_name(alerts_t *m, const char *product_id, char *name)
{
    sqlite3_stmt *st = alerts_stmt(m, ST_PRODUCT_NAME);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, product_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(st, 0);
        strcopy(name, NAME_MAX_BYTES + 1, s ? (const char *)s : "");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Inserts a new product row and notes its rowid in p.  0 or -1. */
static int
product_insert(alerts_t *m, const char *product_id, product_row_t *p)
{
    sqlite3_stmt *st = alerts_stmt(m, ST_PRODUCT_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p->st.stock);
    sqlite3_bind_int64(st, 4, p->st.threshold);
    sqlite3_bind_text(st, 5, stockwatch_level_name(p->st.level), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, p->st.discontinued ? 1 : 0);
    sqlite3_bind_int64(st, 7, p->position);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    p->rowid = sqlite3_last_insert_rowid(m->db);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Reads the rowid of a cached product's row again.  0 or -1. */
static int
product_rowid(alerts_t *m, cached_t *c)
{
    sqlite3_stmt *st = alerts_stmt(m, ST_PRODUCT_ROWID);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        c->rowid = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Writes a dirty cached product to its row by the rowid the cache holds:
 * 1 written, 0 no such row there, -1 error. */
static int
product_save(alerts_t *m, const cached_t *c)
{
    bool level = (c->dirty & DIRTY_LEVEL) != 0;
    sqlite3_stmt *st = alerts_stmt(m, level ? ST_PRODUCT_SAVE_LEVEL : ST_PRODUCT_SAVE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->st.stock);
    sqlite3_bind_int(st, 3, c->st.discontinued ? 1 : 0);
    sqlite3_bind_int64(st, 4, c->position);
    if (level)
        sqlite3_bind_text(st, 5, stockwatch_level_name(c->st.level), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, c->rowid);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_changes(m->db) == 1;
}

/* Writes a dirty cached product to its row (looking its rowid up again
 * when the row moved).  0 or -1. */
static int
product_flush(alerts_t *m, cached_t *c)
{
    int rc = product_save(m, c);
    if (rc == 0 && product_rowid(m, c) == 0)
        rc = product_save(m, c);
    if (rc != 1)
        return -1;
    c->dirty = 0;
    return 0;
}

/* ---- the product cache --------------------------------------------------- */

/* Forgets every cached product (and frees the table). */
static void
cache_clear(alerts_t *m)
{
    strtable_destroy(&m->cache);
    free(m->dirty);
    m->dirty = NULL;
    m->dirty_len = m->dirty_cap = 0;
}

/* Makes room in the dirty list for one more cached product.  0 or -1. */
static int
cache_dirty_room(alerts_t *m)
{
    size_t n = m->cache ? strtable_count(m->cache) : 0;
    if (n < m->dirty_cap)
        return 0;
    size_t cap = m->dirty_cap ? 2 * m->dirty_cap : CACHE_FIRST;
    uint32_t *dirty = realloc(m->dirty, cap * sizeof *dirty);
    if (!dirty)
        return -1;
    m->dirty = dirty;
    m->dirty_cap = cap;
    return 0;
}

/* Adds a product known to be absent from the cache; NULL when out of memory. */
static cached_t *
cache_add(alerts_t *m, const char *id, const product_row_t *p)
{
    if (!m->cache) {
        m->cache = strtable_new(&(strtable_opts_t){STRTABLE_ENTRY(cached_t, id),
                                                   .capacity = CACHE_FIRST, .grow = true});
        if (!m->cache)
            return NULL;
    }
    bool added;
    cached_t *c = cache_dirty_room(m) == 0 ? strtable_put(m->cache, id, &added) : NULL;
    if (!c)
        return NULL;
    c->dirty = 0;
    c->st = p->st;
    c->position = p->position;
    c->rowid = p->rowid;
    return c;
}

/* The cached product, loaded from its row on a miss: 1 found (*out set),
 * 0 unknown, -1 error. */
static int
cache_get(alerts_t *m, const char *id, cached_t **out)
{
    if (m->cache && (*out = strtable_get(m->cache, id)))
        return 1;
    product_row_t *p = &m->product;
    int found = product_load(m, id, p);
    if (found <= 0)
        return found;
    *out = cache_add(m, id, p);
    return *out ? 1 : -1;
}

/* Marks a cached product changed since its row was written. */
static void
cache_touch(alerts_t *m, cached_t *c, uint8_t bits)
{
    if (!c->dirty)
        m->dirty[m->dirty_len++] = (uint32_t)strtable_index(m->cache, c); /* room: cache_add */
    c->dirty |= bits;
}

int
alerts_product(alerts_t *m, const char *product_id, stockwatch_state_t *out)
{
    cached_t *c = NULL;
    int rc = cache_get(m, product_id, &c);
    if (rc == 1)
        *out = c->st;
    return rc;
}

/* ---- alerts -------------------------------------------------------------- */

static int
pending_push(alerts_t *m, const alertmsg_t *a)
{
    if (m->pend_len == m->pend_cap) {
        size_t cap = m->pend_cap ? m->pend_cap * 2 : 16;
        alertmsg_t *p = realloc(m->pend, cap * sizeof *p);
        if (!p)
            return -1;
        m->pend = p;
        m->pend_cap = cap;
    }
    m->pend[m->pend_len++] = *a;
    return 0;
}

/* Stores the alert `kind` raised by ev on the product named `name` now in
 * state st; queues it for printing when it is new.  0 or -1. */
static int
alert_record(alerts_t *m, const event_t *ev, const char *name, const stockwatch_state_t *s,
             stockwatch_kind_t kind)
{
    alertmsg_t a = {.kind = kind,
                    .stock = s->stock,
                    .threshold = s->threshold,
                    .position = ev->env.position,
                    .recorded_at = ev->env.recorded_at};
    strcopy(a.product_id, sizeof a.product_id, ev->data.product_id);
    strcopy(a.name, sizeof a.name, name);
    strcopy(a.correlation_id, sizeof a.correlation_id, ev->env.correlation_id);
    sqlite3_stmt *st = alerts_stmt(m, ST_ALERT_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a.position);
    sqlite3_bind_text(st, 2, stockwatch_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a.product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a.name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, a.stock);
    sqlite3_bind_int64(st, 6, a.threshold);
    sqlite3_bind_int64(st, 7, a.recorded_at);
    sqlite3_bind_text(st, 8, a.correlation_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_changes(m->db) == 1 ? pending_push(m, &a) : 0;
}

/* ---- appliers, one per event type that matters --------------------------- */

static int
apply_created(alerts_t *m, const event_t *ev)
{
    cached_t *c = NULL;
    int found = cache_get(m, ev->data.product_id, &c);
    if (found != 0)
        return found < 0 ? -1 : 0; /* already known: applied before */
    product_row_t *p = &m->product;
    strcopy(p->name, sizeof p->name, ev->data.name);
    stockwatch_kind_t kind =
        stockwatch_created(ev->data.num[F_STOCK], ev->data.num[F_LOW_STOCK_THRESHOLD], &p->st);
    p->position = ev->env.position;
    if (product_insert(m, ev->data.product_id, p) != 0 || !cache_add(m, ev->data.product_id, p))
        return -1;
    return kind == STOCKWATCH_NONE ? 0 : alert_record(m, ev, p->name, &p->st, kind);
}

/* StockUpdated and ProductSold: both carry the stock after the event. */
static int
apply_stock(alerts_t *m, const event_t *ev)
{
    cached_t *c = NULL;
    int found = cache_get(m, ev->data.product_id, &c);
    if (found <= 0 || c->position >= ev->env.position)
        return found < 0 ? -1 : 0;
    stockwatch_level_t was = c->st.level;
    stockwatch_kind_t kind = stockwatch_step(&c->st, ev->data.num[F_NEW_STOCK], &c->st);
    c->position = ev->env.position;
    cache_touch(m, c, c->st.level != was ? DIRTY_ROW | DIRTY_LEVEL : DIRTY_ROW);
    if (kind == STOCKWATCH_NONE)
        return 0;
    char *name = m->product.name;
    return product_name(m, c->id, name) == 0 ? alert_record(m, ev, name, &c->st, kind) : -1;
}

static int
apply_discontinued(alerts_t *m, const event_t *ev)
{
    cached_t *c = NULL;
    int found = cache_get(m, ev->data.product_id, &c);
    if (found <= 0 || c->position >= ev->env.position)
        return found < 0 ? -1 : 0;
    c->st.discontinued = true;
    c->position = ev->env.position;
    cache_touch(m, c, DIRTY_ROW);
    return 0;
}

typedef int (*apply_fn)(alerts_t *m, const event_t *ev);

static const apply_fn appliers[EV__COUNT] = {
    [EV_PRODUCT_CREATED] = apply_created,
    [EV_STOCK_UPDATED] = apply_stock,
    [EV_PRODUCT_SOLD] = apply_stock,
    [EV_PRODUCT_DISCONTINUED] = apply_discontinued,
};

/* ---- subscriber ops ------------------------------------------------------ */

static int
alerts_begin(void *model)
{
    alerts_t *m = model;
    m->pend_len = 0;
    if (m->cache && strtable_count(m->cache) > CACHE_MAX)
        cache_clear(m); /* nothing is dirty between batches */
    return modeldb_begin(m->db) == SQLITE_OK ? 0 : -1;
}

static int
alerts_apply(void *model, const event_t *ev)
{
    if ((unsigned)ev->env.type >= EV__COUNT || !appliers[ev->env.type])
        return 0;
    return appliers[ev->env.type](model, ev);
}

static int
alerts_commit(void *model, int64_t checkpoint, const char *event_id)
{
    alerts_t *m = model;
    for (size_t i = 0; i < m->dirty_len; i++) {
        if (product_flush(m, strtable_at(m->cache, m->dirty[i])) != 0) {
            modeldb_rollback(m->db);
            cache_clear(m);
            return -1;
        }
    }
    m->dirty_len = 0;
    if (modeldb_checkpoint_set(m->db, &m->checkpoint_st, checkpoint, event_id) != SQLITE_OK) {
        modeldb_rollback(m->db);
        cache_clear(m);
        return -1;
    }
    if (modeldb_commit(m->db) != SQLITE_OK) {
        cache_clear(m); /* rolled back: the cache may hold what was lost */
        return -1;
    }
    return 0;
}

static void
alerts_rollback(void *model)
{
    alerts_t *m = model;
    modeldb_rollback(m->db);
    cache_clear(m);  /* it may hold state of the rolled-back batch */
    m->pend_len = 0; /* a rolled-back batch prints and publishes nothing */
}

static int
alerts_get_checkpoint(void *model, int64_t *position)
{
    return alerts_checkpoint(model, position);
}

static void
alerts_publish(alerts_t *m, const alertmsg_t *a)
{
    codec_writer_reset(&m->w);
    alertmsg_pack(&m->w, a);
    security_drop_revoked(m->pub, &m->removals_seen); /* before a removed key hears this */
    if (bus_send(m->pub, TOPIC_ALERT, m->w.buf.data, m->w.buf.size, ZMQ_DONTWAIT) != 0)
        m->publish_errors++;
}

static void
alerts_committed(void *model)
{
    alerts_t *m = model;
    char line[ALERTMSG_LINE_MAX];
    for (size_t i = 0; i < m->pend_len; i++) {
        if (m->out) {
            alertmsg_line(&m->pend[i], line, sizeof line);
            fprintf(m->out, "%s\n", line);
        }
        if (m->pub)
            alerts_publish(m, &m->pend[i]);
    }
    if (m->out && m->pend_len > 0)
        fflush(m->out);
    m->pend_len = 0;
}

static sqlite3 *
alerts_db(void *model)
{
    return ((alerts_t *)model)->db;
}

const subscriber_ops_t alerts_ops = {
    .begin = alerts_begin,
    .apply = alerts_apply,
    .commit = alerts_commit,
    .rollback = alerts_rollback,
    .checkpoint = alerts_get_checkpoint,
    .committed = alerts_committed,
    .db = alerts_db,
};

/* ---- list ---------------------------------------------------------------- */

static void
copy_col(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    strcopy(buf, cap, s ? (const char *)s : "");
}

static void
alert_read_row(sqlite3_stmt *st, alertmsg_t *a)
{
    char kind[16];
    a->position = sqlite3_column_int64(st, 0);
    copy_col(st, 1, kind, sizeof kind);
    int k = stockwatch_kind_lookup(kind);
    a->kind = k > 0 ? (stockwatch_kind_t)k : STOCKWATCH_NONE;
    copy_col(st, 2, a->product_id, sizeof a->product_id);
    copy_col(st, 3, a->name, sizeof a->name);
    a->stock = sqlite3_column_int64(st, 4);
    a->threshold = sqlite3_column_int64(st, 5);
    a->recorded_at = sqlite3_column_int64(st, 6);
    copy_col(st, 7, a->correlation_id, sizeof a->correlation_id);
}

int
alerts_list(alerts_t *m, const alerts_query_t *q, alerts_row_fn fn, void *arg, bool *more)
{
    sqlite3_stmt *st = alerts_stmt(m, q->product_id ? ST_LIST_PRODUCT : ST_LIST_ALL);
    if (!st)
        return -1;
    int i = 1, n = 0, rc;
    sqlite3_bind_int64(st, i++, q->after);
    if (q->product_id)
        sqlite3_bind_text(st, i++, q->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i, (int64_t)q->limit + 1); /* one more says whether more exist */
    *more = false;
    alertmsg_t a;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q->limit) {
            *more = true;
            break;
        }
        alert_read_row(st, &a);
        fn(arg, &a);
        n++;
    }
    sqlite3_reset(st); /* ends the read transaction */
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? n : -1;
}

/* ---- canonical dump ------------------------------------------------------ */

static void
dump_str(FILE *out, const char *s)
{
    char buf[4 * NAME_MAX_BYTES + 8];
    if (!s)
        s = "";
    alertmsg_escape(s, strlen(s), buf, sizeof buf);
    fputs(buf, out);
}

static int
dump_products(alerts_t *m, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT product_id, name, stock, threshold, level,"
                           " discontinued, position FROM products ORDER BY product_id",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputs("product\t", out);
        dump_str(out, (const char *)sqlite3_column_text(st, 0));
        fputc('\t', out);
        dump_str(out, (const char *)sqlite3_column_text(st, 1));
        fprintf(out, "\t%lld\t%lld\t%s\t%d\t%lld\n", (long long)sqlite3_column_int64(st, 2),
                (long long)sqlite3_column_int64(st, 3), (const char *)sqlite3_column_text(st, 4),
                sqlite3_column_int(st, 5), (long long)sqlite3_column_int64(st, 6));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int
dump_alerts(alerts_t *m, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db, ALERT_COLUMNS " ORDER BY position", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    alertmsg_t a;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        alert_read_row(st, &a);
        fprintf(out, "alert\t%lld\t%s\t", (long long)a.position, stockwatch_kind_name(a.kind));
        dump_str(out, a.product_id);
        fputc('\t', out);
        dump_str(out, a.name);
        fprintf(out, "\t%lld\t%lld\t%lld\t", (long long)a.stock, (long long)a.threshold,
                (long long)a.recorded_at);
        dump_str(out, a.correlation_id);
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
alerts_dump(alerts_t *m, FILE *out)
{
    int64_t cp = 0;
    if (alerts_checkpoint(m, &cp) != 0)
        return -1;
    fprintf(out, "checkpoint %lld\n", (long long)cp);
    return dump_products(m, out) == 0 && dump_alerts(m, out) == 0 ? 0 : -1;
}
