/* auditchain: see auditchain.h. */
#include "auditchain.h"

#include "headcache.h"
#include "log.h"
#include "modeldb.h"
#include "proc.h"

#include <stdbool.h>
#include <stdlib.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* Sets of the head cache: 16,384 streams (S2 has 10,000 products). */
#define HEAD_SETS 4096

enum {
    ST_LOAD,      /* a stream's id, head and rows by name */
    ST_ADD,       /* a new stream */
    ST_UPDATE,    /* a stream's head and rows */
    ST_MARK,      /* note a mark */
    ST_NEXT_MARK, /* a stream's first mark after a position */
    ST_PREV,      /* a row's prev */
    ST_SET_PREV,  /* set a row's prev */
    ST_COUNT
};

static const char *const chain_sql[ST_COUNT] = {
    [ST_LOAD] = "SELECT sid, head, rows FROM audit_streams WHERE stream = ?1",
    [ST_ADD] = "INSERT INTO audit_streams(stream, head, rows) VALUES (?1, 0, 0)",
    [ST_UPDATE] = "UPDATE audit_streams SET head = ?2, rows = ?3 WHERE sid = ?1",
    [ST_MARK] = "INSERT OR IGNORE INTO audit_marks(sid, position) VALUES (?1, ?2)",
    [ST_NEXT_MARK] = ("SELECT position FROM audit_marks WHERE sid = ?1 AND position > ?2"
                      " ORDER BY position LIMIT 1"),
    [ST_PREV] = "SELECT prev FROM audit WHERE position = ?1",
    [ST_SET_PREV] = "UPDATE audit SET prev = ?2 WHERE position = ?1",
};

struct auditchain {
    sqlite3 *db;                /* not owned */
    sqlite3_stmt *st[ST_COUNT]; /* cached, prepared on first use */
    headcache_t *heads;         /* heads moved by the open batch, written at its end */
    int64_t *segment;           /* scratch: one segment's positions, falling */
    size_t segment_cap;
};

/* A stream's row as the open batch left it, and its cache entry (NULL: none). */
typedef struct {
    headcache_entry_t *e;
    int64_t sid, head, rows;
} chain_head_t;

/* Files before the chain: every row's prev from the rows of its stream in
 * position order, heads, a mark at every AUDITCHAIN_MARK_EVERY-th row, and
 * the stream index goes. */
static const char migrate_sql[] =
    "ALTER TABLE audit ADD COLUMN prev INTEGER NOT NULL DEFAULT 0;"
    "UPDATE audit SET prev = l.prev FROM (SELECT position AS pos,"
    " lag(position, 1, 0) OVER (PARTITION BY stream ORDER BY position) AS prev FROM audit) AS l"
    " WHERE audit.position = l.pos AND l.prev <> 0;"
    "INSERT INTO audit_streams(stream, head, rows)"
    " SELECT stream, max(position), count(*) FROM audit GROUP BY stream;"
    "INSERT INTO audit_marks(sid, position) SELECT s.sid, m.pos FROM (SELECT stream,"
    " position AS pos, row_number() OVER (PARTITION BY stream ORDER BY position) AS n"
    " FROM audit) AS m JOIN audit_streams s ON s.stream = m.stream"
    " WHERE m.n % " STR(AUDITCHAIN_MARK_EVERY) " = 0;"
                                               "DROP INDEX IF EXISTS audit_keys_by_stream;";

int
auditchain_migrate(sqlite3 *db)
{
    sqlite3_stmt *probe = NULL;
    int has_prev = sqlite3_prepare_v2(db, "SELECT prev FROM audit LIMIT 0", -1, &probe, NULL);
    sqlite3_finalize(probe);
    if (has_prev == SQLITE_OK)
        return 0;
    /* one line before and one after: a million rows take ~20 s, once */
    LOG_I(NULL, "audit: linking the streams of a file from before the stream chain (once)");
    int64_t started = proc_mono_ms();
    if (modeldb_begin(db) != SQLITE_OK)
        return -1;
    if (sqlite3_exec(db, migrate_sql, NULL, NULL, NULL) != SQLITE_OK) {
        LOG_E(NULL, "audit: linking the streams failed: %s", sqlite3_errmsg(db));
        modeldb_rollback(db);
        return -1;
    }
    if (modeldb_commit(db) != SQLITE_OK)
        return -1;
    LOG_I(NULL, "audit: streams linked in %lld ms", (long long)(proc_mono_ms() - started));
    return 0;
}

auditchain_t *
auditchain_new(sqlite3 *db)
{
    auditchain_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->db = db;
    if (!(c->heads = headcache_new(HEAD_SETS)))
        auditchain_destroy(&c);
    return c;
}

void
auditchain_destroy(auditchain_t **cp)
{
    if (!cp || !*cp)
        return;
    auditchain_t *c = *cp;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    headcache_destroy(&c->heads);
    free(c->segment);
    free(c);
    *cp = NULL;
}

/* The cached statement `id`, reset and unbound.  NULL on error. */
static sqlite3_stmt *
chain_stmt(auditchain_t *c, int id)
{
    return modeldb_prepare(c->db, &c->st[id], chain_sql[id]) == SQLITE_OK ? c->st[id] : NULL;
}

/* Runs statement `id` of one or two integer parameters (a[, b]): 1 with
 * column 0 in *v when it gave a row, 0 when it gave none, -1 on error. */
static int
chain_run(auditchain_t *c, int id, int64_t a, int64_t b, int64_t *v)
{
    sqlite3_stmt *st = chain_stmt(c, id);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) > 1)
        sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && v)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Row `position`'s prev: 1, 0 when there is no such row, -1. */
static int
chain_prev(auditchain_t *c, int64_t position, int64_t *prev)
{
    return chain_run(c, ST_PREV, position, 0, prev);
}

static int
chain_set_prev(auditchain_t *c, int64_t position, int64_t prev)
{
    return chain_run(c, ST_SET_PREV, position, prev, NULL) == 0 ? 0 : -1;
}

/* Writes a stream's head and rows.  0 or -1. */
static int
chain_update(auditchain_t *c, int64_t sid, int64_t head, int64_t rows)
{
    sqlite3_stmt *st = chain_stmt(c, ST_UPDATE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, head);
    sqlite3_bind_int64(st, 3, rows);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Steps statement `id` with stream bound as ?1: SQLite's code, and in *st
 * the statement to reset (NULL, a no-op for sqlite3_reset, when it could
 * not be prepared). */
static int
chain_step_stream(auditchain_t *c, int id, const char *stream, sqlite3_stmt **st)
{
    if (!(*st = chain_stmt(c, id)))
        return SQLITE_ERROR;
    sqlite3_bind_text(*st, 1, stream, -1, SQLITE_STATIC);
    return sqlite3_step(*st);
}

/* A stream's row from the table: 1, 0 when it has none, -1. */
static int
chain_load(auditchain_t *c, const char *stream, chain_head_t *h)
{
    sqlite3_stmt *st;
    int rc = chain_step_stream(c, ST_LOAD, stream, &st);
    if (rc == SQLITE_ROW)
        *h = (chain_head_t){.sid = sqlite3_column_int64(st, 0),
                            .head = sqlite3_column_int64(st, 1),
                            .rows = sqlite3_column_int64(st, 2)};
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A new stream's row (head and rows 0).  0 or -1. */
static int
chain_add(auditchain_t *c, const char *stream, chain_head_t *h)
{
    sqlite3_stmt *st;
    int rc = chain_step_stream(c, ST_ADD, stream, &st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    *h = (chain_head_t){.sid = sqlite3_last_insert_rowid(c->db)};
    return 0;
}

/* A stream's row as the open batch left it: its cache entry, else the
 * table's row (added for a new stream), then kept in a new entry.  h->e
 * is NULL when the stream has no entry (its set is all dirty): its table
 * row is current and chain_store writes it through.  0 or -1. */
static int
chain_head_of(auditchain_t *c, const char *stream, chain_head_t *h)
{
    headcache_entry_t *e = headcache_find(c->heads, stream);
    if (e) {
        *h = (chain_head_t){.e = e, .sid = e->sid, .head = e->head, .rows = e->rows};
        return 0;
    }
    int rc = chain_load(c, stream, h);
    if (rc < 0 || (rc == 0 && chain_add(c, stream, h) != 0))
        return -1;
    if ((h->e = headcache_add(c->heads, stream))) {
        h->e->sid = h->sid;
        h->e->head = h->head;
        h->e->rows = h->rows;
        h->e->valid = true;
    }
    return 0;
}

/* Keeps a stream's new head and rows: in its entry until the batch ends,
 * or in the table at once when it has none.  0 or -1. */
static int
chain_store(auditchain_t *c, const chain_head_t *h)
{
    if (!h->e)
        return chain_update(c, h->sid, h->head, h->rows);
    h->e->head = h->head;
    h->e->rows = h->rows;
    headcache_mark_dirty(c->heads, h->e);
    return 0;
}

int
auditchain_advance(auditchain_t *c, const char *stream, int64_t position, int64_t *prev)
{
    chain_head_t h;
    if (chain_head_of(c, stream, &h) != 0)
        return -1;
    if (position <= h.head)
        return 0;
    *prev = h.head;
    h.head = position;
    h.rows++;
    if (chain_store(c, &h) != 0)
        return -1;
    if (h.rows % AUDITCHAIN_MARK_EVERY == 0 && chain_run(c, ST_MARK, h.sid, position, NULL) != 0)
        return -1;
    return 1;
}

int
auditchain_flush(auditchain_t *c)
{
    size_t n;
    headcache_entry_t *const *dirty = headcache_dirty(c->heads, &n);
    for (size_t i = 0; i < n; i++)
        if (chain_update(c, dirty[i]->sid, dirty[i]->head, dirty[i]->rows) != 0)
            return -1;
    headcache_clean(c->heads);
    return 0;
}

void
auditchain_forget(auditchain_t *c)
{
    headcache_clear(c->heads);
}

/* The first row of stream h above position to start a walk down from: the
 * first mark after it, else the head.  1, 0 when there is none, -1. */
static int
chain_start_above(auditchain_t *c, const chain_head_t *h, int64_t position, int64_t *start)
{
    int rc = chain_run(c, ST_NEXT_MARK, h->sid, position, start);
    if (rc != 0)
        return rc;
    *start = h->head;
    return h->head > position ? 1 : 0;
}

int
auditchain_splice(auditchain_t *c, const char *stream, int64_t position)
{
    chain_head_t h;
    int64_t next = 0, below = 0;
    if (chain_head_of(c, stream, &h) != 0 || chain_start_above(c, &h, position, &next) != 1)
        return -1; /* the caller found the head above the position */
    for (;;) {     /* down to the first row whose prev is below the position */
        if (chain_prev(c, next, &below) != 1 || below >= next)
            return -1;
        if (below < position)
            break;
        if (below == position)
            return 0; /* linked already */
        next = below;
    }
    if (chain_set_prev(c, position, below) != 0 || chain_set_prev(c, next, position) != 0)
        return -1;
    h.rows++;
    return chain_store(c, &h);
}

/* Appends position to the segment scratch.  0 or -1. */
static int
segment_push(auditchain_t *c, size_t n, int64_t position)
{
    if (n == c->segment_cap) {
        size_t cap = c->segment_cap ? 2 * c->segment_cap : 2 * AUDITCHAIN_MARK_EVERY;
        int64_t *p = realloc(c->segment, cap * sizeof *p);
        if (!p)
            return -1;
        c->segment = p;
        c->segment_cap = cap;
    }
    c->segment[n] = position;
    return 0;
}

int
auditchain_each(auditchain_t *c, const char *stream, int64_t after, auditchain_fn fn, void *arg)
{
    chain_head_t h;
    int rc = chain_load(c, stream, &h);
    int64_t low = after, high = 0;
    /* one segment (low, high] at a time: walked down from high, given up */
    while (rc == 1 && (rc = chain_start_above(c, &h, low, &high)) == 1) {
        size_t n = 0;
        for (int64_t p = high, below; p > low; p = below) {
            if (segment_push(c, n++, p) != 0 || chain_prev(c, p, &below) != 1 || below >= p)
                return -1; /* a broken chain is an error, never a loop */
        }
        while (n > 0)
            if (fn(arg, c->segment[--n]))
                return 0;
        low = high;
    }
    return rc < 0 ? -1 : 0;
}
