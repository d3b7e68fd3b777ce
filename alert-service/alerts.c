/* alerts: see alerts.h.  Apply dispatches on the event type through a
 * table; event types that do not touch stock or the product's life have no
 * entry and change nothing. */
#include "alerts.h"

#include "bus.h"
#include "modeldb.h"
#include "topology.h"

#include <stdlib.h>
#include <string.h>

/* A product as stored. */
typedef struct {
    char name[NAME_MAX_BYTES + 1];
    stockwatch_state_t st;
    int64_t position; /* last event position applied to this row */
} product_row_t;

enum {
    ST_PRODUCT_GET,
    ST_PRODUCT_INSERT,
    ST_PRODUCT_UPDATE,
    ST_ALERT_INSERT,
    ST_LIST_ALL,
    ST_LIST_PRODUCT,
    ST__COUNT
};

struct alerts {
    sqlite3 *db;
    FILE *out;                   /* committed alert lines; NULL: none */
    void *pub;                   /* PUB socket, not owned; NULL: none */
    sqlite3_stmt *st[ST__COUNT]; /* cached statements */
    alertmsg_t *pend;            /* alerts of the open batch */
    size_t pend_len;             /* alerts queued */
    size_t pend_cap;             /* alerts allocated */
    int64_t publish_errors;      /* bus_send failures since open */
    product_row_t product;       /* scratch */
    codec_writer_t w;            /* scratch: published bodies */
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
    [ST_PRODUCT_GET] = "SELECT name, stock, threshold, level, discontinued, position"
                       " FROM products WHERE product_id = ?",
    [ST_PRODUCT_INSERT] = "INSERT INTO products(product_id, name, stock, threshold, level,"
                          " discontinued, position) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_PRODUCT_UPDATE] = "UPDATE products SET name = ?2, stock = ?3, threshold = ?4,"
                          " level = ?5, discontinued = ?6, position = ?7 WHERE product_id = ?1",
    [ST_ALERT_INSERT] = "INSERT OR IGNORE INTO alerts(position, kind, product_id, name, stock,"
                        " threshold, recorded_at, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_LIST_ALL] = ALERT_COLUMNS " WHERE position > ? ORDER BY position LIMIT ?",
    [ST_LIST_PRODUCT] = ALERT_COLUMNS " WHERE position > ? AND product_id = ?"
                                      " ORDER BY position LIMIT ?",
};

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

void
alerts_set_output(alerts_t *m, FILE *out)
{
    m->out = out;
}

void
alerts_set_publisher(alerts_t *m, void *pub)
{
    m->pub = pub;
}

void
alerts_close(alerts_t **mp)
{
    if (!mp || !*mp)
        return;
    alerts_t *m = *mp;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(m->st[i]);
    sqlite3_close(m->db);
    codec_writer_fini(&m->w);
    free(m->pend);
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
    return (subscriber_factory_t){factory_open, factory_activate, factory_close, live};
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
        snprintf(p->name, sizeof p->name, "%s", name ? (const char *)name : "");
        p->st.stock = sqlite3_column_int64(st, 1);
        p->st.threshold = sqlite3_column_int64(st, 2);
        const unsigned char *lvl = sqlite3_column_text(st, 3);
        int level = lvl ? stockwatch_level_lookup((const char *)lvl) : -1;
        p->st.level =
            level >= 0 ? (stockwatch_level_t)level : stockwatch_level(p->st.stock, p->st.threshold);
        p->st.discontinued = sqlite3_column_int(st, 4) != 0;
        p->position = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Inserts (is_new) or updates the product row.  0 or -1. */
static int
product_save(alerts_t *m, const char *product_id, const product_row_t *p, bool is_new)
{
    sqlite3_stmt *st = alerts_stmt(m, is_new ? ST_PRODUCT_INSERT : ST_PRODUCT_UPDATE);
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
    return rc == SQLITE_DONE ? 0 : -1;
}

int
alerts_product(alerts_t *m, const char *product_id, stockwatch_state_t *out)
{
    int rc = product_load(m, product_id, &m->product);
    if (rc == 1)
        *out = m->product.st;
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

/* Stores the alert `kind` raised by ev on product p; queues it for printing
 * when it is new.  0 or -1. */
static int
alert_record(alerts_t *m, const event_t *ev, const product_row_t *p, stockwatch_kind_t kind)
{
    alertmsg_t a = {.kind = kind,
                    .stock = p->st.stock,
                    .threshold = p->st.threshold,
                    .position = ev->env.position,
                    .recorded_at = ev->env.recorded_at};
    snprintf(a.product_id, sizeof a.product_id, "%s", ev->data.product_id);
    snprintf(a.name, sizeof a.name, "%s", p->name);
    snprintf(a.correlation_id, sizeof a.correlation_id, "%s", ev->env.correlation_id);
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
    product_row_t *p = &m->product;
    int found = product_load(m, ev->data.product_id, p);
    if (found != 0)
        return found < 0 ? -1 : 0; /* already known: applied before */
    snprintf(p->name, sizeof p->name, "%s", ev->data.name);
    stockwatch_kind_t kind =
        stockwatch_created(ev->data.num[F_STOCK], ev->data.num[F_LOW_STOCK_THRESHOLD], &p->st);
    p->position = ev->env.position;
    if (product_save(m, ev->data.product_id, p, true) != 0)
        return -1;
    return kind == STOCKWATCH_NONE ? 0 : alert_record(m, ev, p, kind);
}

/* StockUpdated and ProductSold: both carry the stock after the event. */
static int
apply_stock(alerts_t *m, const event_t *ev)
{
    product_row_t *p = &m->product;
    int found = product_load(m, ev->data.product_id, p);
    if (found <= 0 || p->position >= ev->env.position)
        return found < 0 ? -1 : 0;
    stockwatch_kind_t kind = stockwatch_step(&p->st, ev->data.num[F_NEW_STOCK], &p->st);
    p->position = ev->env.position;
    if (product_save(m, ev->data.product_id, p, false) != 0)
        return -1;
    return kind == STOCKWATCH_NONE ? 0 : alert_record(m, ev, p, kind);
}

static int
apply_discontinued(alerts_t *m, const event_t *ev)
{
    product_row_t *p = &m->product;
    int found = product_load(m, ev->data.product_id, p);
    if (found <= 0 || p->position >= ev->env.position)
        return found < 0 ? -1 : 0;
    p->st.discontinued = true;
    p->position = ev->env.position;
    return product_save(m, ev->data.product_id, p, false);
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
alerts_commit(void *model, int64_t checkpoint)
{
    alerts_t *m = model;
    if (modeldb_checkpoint_set(m->db, checkpoint) != SQLITE_OK) {
        modeldb_rollback(m->db);
        return -1;
    }
    return modeldb_commit(m->db) == SQLITE_OK ? 0 : -1;
}

static void
alerts_rollback(void *model)
{
    alerts_t *m = model;
    modeldb_rollback(m->db);
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
    alertmsg_pack(&m->w.pk, a);
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

const subscriber_ops_t alerts_ops = {
    .begin = alerts_begin,
    .apply = alerts_apply,
    .commit = alerts_commit,
    .rollback = alerts_rollback,
    .checkpoint = alerts_get_checkpoint,
    .committed = alerts_committed,
};

/* ---- list ---------------------------------------------------------------- */

static void
copy_col(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(buf, cap, "%s", s ? (const char *)s : "");
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
