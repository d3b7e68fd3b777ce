/* auditlog: see auditlog.h.
 *
 * Table `audit`, one row per event, keyed by `position` (the rowid), with
 * no secondary index: a live row is an append at the end of the table.
 *
 * A search by stream (without a correlation filter) walks the stream's
 * chain: each row holds the position of its stream's previous row
 * (auditchain.h), so finding a stream's rows writes one small head per
 * stream touched and no index entry per event.
 *
 * The other search keys are indexed in bulk: `audit_keys` holds the
 * position, stream, correlation_id and recorded_at of every row up to
 * `keys_upto` (a prefix of `audit`), with an index on the correlation id
 * and one on the time (audit_keys_by_corr, _by_time; each ends in the
 * position, so it serves "filter, then in position order after the
 * cursor" directly).
 * The rows after keys_upto (the tail, fewer than KEYS_FLUSH_ROWS + one
 * batch) are copied into audit_keys by the commit that makes the tail that
 * long, in the same transaction.  Why: live batches of ~1000 events spread
 * random keys (client-chosen correlation ids) over hundreds of index
 * pages, and every page dirtied is written to the WAL and checkpointed
 * again at each commit; indexing ~8000 rows at once rewrites each such
 * page once for several commits.  (The stream used to be indexed here too:
 * with 10,000 streams each flush rewrote most leaves of that index, a cost
 * that grew with the log; docs/decisions.md, item 44.)  A search reads
 * the indexed part through audit_keys, then scans the tail of `audit`
 * (both in position order, one after the other), so it sees every
 * committed row, as before.
 * Searches prepare one statement per part and combination of filters,
 * cached, instead of one `(? IS NULL OR ...)` statement that could not use
 * the indexes.
 * Files written before audit_keys existed had the three indexes on `audit`
 * itself: open drops them and indexes the whole table into audit_keys
 * once; files written before the chain get it at open (auditchain_migrate). */
#include "auditlog.h"

#include "auditchain.h"
#include "modeldb.h"
#include "strcopy.h"

#include <stdlib.h>
#include <string.h>

#define FILTER_STREAM 1u
#define FILTER_CORR 2u
#define FILTER_FROM 4u
#define FILTER_TO 8u
#define FILTER_COMBOS 16
/* The commit indexes the tail once it holds this many rows. */
#define KEYS_FLUSH_ROWS 8192

struct auditlog {
    sqlite3 *db;
    FILE *out;                           /* committed lines; NULL: none */
    sqlite3_stmt *insert;                /* cached */
    sqlite3_stmt *search[FILTER_COMBOS]; /* cached: indexed part, by FILTER_* mask */
    sqlite3_stmt *tail[FILTER_COMBOS];   /* cached: the tail after keys_upto */
    sqlite3_stmt *keys_one;              /* cached: one row's keys (a hole filled) */
    sqlite3_stmt *row_at;                /* cached: one row by position */
    sqlite3_stmt *checkpoint_st;         /* cached by modeldb_checkpoint_set */
    auditchain_t *chain;                 /* the search by stream */
    int64_t max_pos;                     /* largest position in audit (0: none) */
    int64_t keys_upto;                   /* audit_keys covers audit up to here */
    int64_t begin_max_pos;               /* both as the open batch began */
    int64_t begin_keys_upto;
    char *pend;                 /* lines of the open batch, inserted rows only */
    size_t pend_len;            /* bytes queued */
    size_t pend_cap;            /* bytes allocated */
    char change[CHANGE_MAX];    /* scratch: describe output */
    char when[CHANGE_TIME_MAX]; /* change_iso_time of when_secs */
    size_t when_len;            /* its length; 0: not cacheable or none yet */
    int64_t when_secs;          /* the second it formats */
    auditlog_row_t row;         /* scratch: search row */
};

/* The WAL is checkpointed as every model's is (common/models/modeldb.c, every
 * 256 pages).  It used to be every 10000 pages (40 MiB): fewer bytes
 * written in all (a replay of 102,426 bench events: 83 MB instead of 105 MB
 * at 1000), but each of those checkpoints stalled the command-service's
 * commits for up to 0.1 s (docs/decisions.md, item 25). */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS audit("
    " position INTEGER PRIMARY KEY," /* global event position */
    " recorded_at INTEGER NOT NULL," /* us since the epoch, UTC */
    " stream TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " correlation_id TEXT NOT NULL,"
    " command_id TEXT NOT NULL,"
    " change TEXT NOT NULL,"
    " prev INTEGER NOT NULL DEFAULT 0," /* the stream's previous row (auditchain.h) */
    " hash BLOB);" /* the event's link of the store's hash chain, as verified when applied */
    AUDITCHAIN_SCHEMA_SQL
    "CREATE TABLE IF NOT EXISTS audit_keys(" /* the search keys of audit up to keys_upto */
    " position INTEGER PRIMARY KEY,"
    " stream TEXT NOT NULL,"
    " correlation_id TEXT NOT NULL,"
    " recorded_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_keys_by_corr ON audit_keys(correlation_id);"
    "CREATE INDEX IF NOT EXISTS audit_keys_by_time ON audit_keys(recorded_at);"
    "DROP INDEX IF EXISTS audit_by_stream;" /* the layout before audit_keys */
    "DROP INDEX IF EXISTS audit_by_corr;"
    "DROP INDEX IF EXISTS audit_by_time;";

static const char insert_sql[] =
    "INSERT OR IGNORE INTO audit(position, recorded_at, stream, version, type,"
    " correlation_id, command_id, change, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char columns_sql[] =
    "SELECT position, recorded_at, stream, version, type, correlation_id, command_id, change"
    " FROM audit";

static const char row_at_sql[] =
    "SELECT position, recorded_at, stream, version, type, correlation_id, command_id, change"
    " FROM audit WHERE position = ?";

/* The indexed part of a search: audit_keys drives (CROSS JOIN keeps it the
 * outer loop), audit gives the row. */
static const char keyed_columns_sql[] =
    "SELECT a.position, a.recorded_at, a.stream, a.version, a.type, a.correlation_id,"
    " a.command_id, a.change FROM audit_keys k CROSS JOIN audit a ON a.position = k.position";

static const char keyed_by_time_sql[] =
    "SELECT a.position, a.recorded_at, a.stream, a.version, a.type, a.correlation_id,"
    " a.command_id, a.change FROM audit_keys k INDEXED BY audit_keys_by_time"
    " CROSS JOIN audit a ON a.position = k.position";

static const char keys_flush_sql[] =
    "INSERT OR IGNORE INTO audit_keys(position, stream, correlation_id, recorded_at)"
    " SELECT position, stream, correlation_id, recorded_at FROM audit WHERE position > ?";

static const char keys_one_sql[] =
    "INSERT OR IGNORE INTO audit_keys(position, stream, correlation_id, recorded_at)"
    " VALUES (?, ?, ?, ?)";

/* ---- the key index ------------------------------------------------------- */

static int
query_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Copies the keys of the rows after keys_upto into audit_keys, inside the
 * caller's transaction.  0 or -1. */
static int
keys_flush(auditlog_t *a)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(a->db, keys_flush_sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, a->keys_upto);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return -1;
    a->keys_upto = a->max_pos;
    return 0;
}

/* Reads max_pos and keys_upto; indexes a tail left by an older file layout
 * or a stop (own transaction).  0 or -1 (the reads failed).  Indexing the
 * tail is best effort: on a full disk it stays a tail (queries scan it) and
 * a later commit indexes it, so a restart on a full disk still opens. */
static int
keys_open(auditlog_t *a)
{
    if (query_int(a->db, "SELECT coalesce(max(position), 0) FROM audit", &a->max_pos) != 0 ||
        query_int(a->db, "SELECT coalesce(max(position), 0) FROM audit_keys", &a->keys_upto) != 0)
        return -1;
    if (a->max_pos <= a->keys_upto)
        return 0;
    int64_t upto = a->keys_upto;
    if (modeldb_begin(a->db) != SQLITE_OK)
        return 0;
    if (keys_flush(a) != 0 || modeldb_commit(a->db) != SQLITE_OK) {
        modeldb_rollback(a->db);
        a->keys_upto = upto;
    }
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Gives a file written before the hash chain its hash column (the rows
 * already there keep NULL).  0 or -1. */
static int
audit_add_hash(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT hash FROM audit LIMIT 0", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    return sqlite3_exec(db, "ALTER TABLE audit ADD COLUMN hash BLOB", NULL, NULL, NULL) ==
                   SQLITE_OK
               ? 0
               : -1;
}

int
auditlog_chain_head(auditlog_t *a, int64_t *position, uint8_t *hash, size_t len)
{
    sqlite3_stmt *st = NULL;
    *position = 0;
    int rc = sqlite3_prepare_v2(a->db,
                                "SELECT position, hash FROM audit WHERE hash IS NOT NULL"
                                " ORDER BY position DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 1) == (int)len) {
        *position = sqlite3_column_int64(st, 0);
        memcpy(hash, sqlite3_column_blob(st, 1), len);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

auditlog_t *
auditlog_open(const char *path, FILE *out, const char **why)
{
    auditlog_t *a = calloc(1, sizeof *a);
    if (!a) {
        *why = "out of memory";
        return NULL;
    }
    a->out = out;
    if (modeldb_open(path, schema_sql, &a->db) != SQLITE_OK) {
        *why = "cannot open or create the audit database";
        free(a);
        return NULL;
    }
    if (audit_add_hash(a->db) != 0 || auditchain_migrate(a->db) != 0 ||
        !(a->chain = auditchain_new(a->db))) {
        *why = "cannot link the audit database's streams";
        auditlog_close(&a);
        return NULL;
    }
    if (keys_open(a) != 0) {
        *why = "cannot index the audit database";
        auditlog_close(&a);
        return NULL;
    }
    return a;
}

auditlog_t *
auditlog_open_dump(const char *path, const char **why)
{
    auditlog_t *a = calloc(1, sizeof *a);
    if (!a) {
        *why = "out of memory";
        return NULL;
    }
    if (modeldb_open_dump(path, &a->db) != SQLITE_OK) {
        *why = "cannot open it read-only (no such file?)";
        free(a);
        return NULL;
    }
    return a;
}

void
auditlog_set_output(auditlog_t *a, FILE *out)
{
    a->out = out;
}

void
auditlog_close(auditlog_t **ap)
{
    if (!ap || !*ap)
        return;
    auditlog_t *a = *ap;
    sqlite3_finalize(a->insert);
    sqlite3_finalize(a->keys_one);
    sqlite3_finalize(a->row_at);
    sqlite3_finalize(a->checkpoint_st);
    auditchain_destroy(&a->chain);
    for (int i = 0; i < FILTER_COMBOS; i++) {
        sqlite3_finalize(a->search[i]);
        sqlite3_finalize(a->tail[i]);
    }
    modeldb_close(&a->db);
    free(a->pend);
    free(a);
    *ap = NULL;
}

static void *
factory_open(void *arg, const char *path)
{
    const char *why = NULL;
    (void)arg;
    return auditlog_open(path, NULL, &why); /* a rebuild replays, it does not re-print */
}

static void
factory_activate(void *arg, void *model)
{
    auditlog_live_t *live = arg;
    live->model = model;
    auditlog_set_output(model, live->out);
}

static void
factory_close(void *arg, void *model)
{
    auditlog_live_t *live = arg;
    auditlog_t *a = model;
    if (live->model == a)
        live->model = NULL;
    auditlog_close(&a);
}

subscriber_factory_t
auditlog_factory(auditlog_live_t *live)
{
    return (subscriber_factory_t){
        .open = factory_open, .activate = factory_activate, .close = factory_close, .arg = live};
}

int
auditlog_checkpoint(auditlog_t *a, int64_t *position)
{
    return modeldb_checkpoint_get(a->db, position) == SQLITE_OK ? 0 : -1;
}

/* ---- printed lines ------------------------------------------------------- */

/* Escapes an id-like field for the line into out (4 * len + 8 bytes):
 * fields made of plain ASCII only (the usual case) are copied as they are,
 * which is what change_escape would write.  Returns the length. */
static size_t
line_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return change_escape(s, strlen(s), out, cap);
    }
    memcpy(out, s, n + 1);
    return n;
}

/* change_iso_time(us) into out, reusing the text of the last second seen:
 * within one second only the milliseconds differ.  Returns the length. */
static size_t
line_time(auditlog_t *a, int64_t us, char *out)
{
    int64_t secs = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        secs -= 1;
        rem += 1000000;
    }
    if (!a->when_len || secs != a->when_secs) {
        change_iso_time(us, a->when);
        size_t n = strlen(a->when);
        /* cacheable only in the ".mmmZ" shape (not the "@...us" fallback) */
        a->when_len = n >= 5 && a->when[n - 1] == 'Z' && a->when[n - 5] == '.' ? n : 0;
        a->when_secs = secs;
        if (!a->when_len) {
            memcpy(out, a->when, n + 1);
            return n;
        }
    }
    size_t n = a->when_len;
    int ms = (int)(rem / 1000);
    memcpy(out, a->when, n - 4);
    out[n - 4] = (char)('0' + ms / 100);
    out[n - 3] = (char)('0' + ms / 10 % 10);
    out[n - 2] = (char)('0' + ms % 10);
    out[n - 1] = 'Z';
    return n;
}

static char *
put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *
put_int(char *p, int64_t v)
{
    return p + change_format_int(v, p);
}

/* Queues "<time> #<pos> <stream>@<version> <type> [corr=<id>] <change>\n"
 * (the change text is a->change, change_len bytes). */
static int
auditlog_queue_line(auditlog_t *a, const event_t *ev, size_t change_len)
{
    char stream[4 * STREAM_MAX + 8], corr[4 * ID_MAX + 8];
    size_t stream_len = line_escape(ev->env.stream, stream, sizeof stream);
    size_t corr_len = line_escape(ev->env.correlation_id, corr, sizeof corr);
    const char *type = event_spec(ev->env.type)->name;
    size_t type_len = strlen(type);
    size_t need =
        CHANGE_TIME_MAX + stream_len + corr_len + type_len + change_len + 2 * CHANGE_INT_MAX + 32;
    if (a->pend_cap - a->pend_len < need) {
        size_t cap = (a->pend_cap + need) * 2;
        char *p = realloc(a->pend, cap);
        if (!p)
            return -1;
        a->pend = p;
        a->pend_cap = cap;
    }
    char *p = a->pend + a->pend_len;
    p += line_time(a, ev->env.recorded_at, p);
    p = put_str(p, " #", 2);
    p = put_int(p, ev->env.position);
    *p++ = ' ';
    p = put_str(p, stream, stream_len);
    *p++ = '@';
    p = put_int(p, ev->env.version);
    *p++ = ' ';
    p = put_str(p, type, type_len);
    p = put_str(p, " [corr=", 7);
    p = corr_len ? put_str(p, corr, corr_len) : put_str(p, "-", 1);
    p = put_str(p, "] ", 2);
    p = put_str(p, a->change, change_len);
    *p++ = '\n';
    a->pend_len = (size_t)(p - a->pend);
    return 0;
}

/* ---- subscriber ops ------------------------------------------------------ */

static int
auditlog_begin(void *m)
{
    auditlog_t *a = m;
    a->pend_len = 0;
    a->begin_max_pos = a->max_pos;
    a->begin_keys_upto = a->keys_upto;
    return modeldb_begin(a->db) == SQLITE_OK ? 0 : -1;
}

/* Indexes one row at or below keys_upto at once: a hole below the indexed
 * prefix filled (the runtime applies positions in order, so only a caller
 * that skipped one does this).  0 or -1. */
static int
keys_add(auditlog_t *a, const event_t *ev)
{
    if (modeldb_prepare(a->db, &a->keys_one, keys_one_sql) != SQLITE_OK)
        return -1;
    sqlite3_stmt *st = a->keys_one;
    sqlite3_bind_int64(st, 1, ev->env.position);
    sqlite3_bind_text(st, 2, ev->env.stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ev->env.correlation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ev->env.recorded_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int
auditlog_apply(void *m, const event_t *ev)
{
    auditlog_t *a = m;
    sqlite3_stmt *st;
    size_t change_len = change_describe(ev, a->change, sizeof a->change);
    int64_t prev = 0;
    int linked = auditchain_advance(a->chain, ev->env.stream, ev->env.position, &prev);
    if (linked < 0 || modeldb_prepare(a->db, &a->insert, insert_sql) != SQLITE_OK)
        return -1;
    st = a->insert;
    sqlite3_bind_int64(st, 1, ev->env.position);
    sqlite3_bind_int64(st, 2, ev->env.recorded_at);
    sqlite3_bind_text(st, 3, ev->env.stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ev->env.version);
    sqlite3_bind_text(st, 5, event_spec(ev->env.type)->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, ev->env.correlation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, ev->env.command_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, a->change, (int)change_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, prev);
    static const uint8_t none[sizeof ev->env.hash];
    if (memcmp(ev->env.hash, none, sizeof none) != 0) /* the subscriber checked it (G17) */
        sqlite3_bind_blob(st, 10, ev->env.hash, sizeof ev->env.hash, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (sqlite3_changes(a->db) != 1)
        return 0; /* applied before */
    if (!linked && auditchain_splice(a->chain, ev->env.stream, ev->env.position) != 0)
        return -1; /* a hole below the stream's head filled */
    if (ev->env.position <= a->keys_upto && keys_add(a, ev) != 0)
        return -1;
    if (ev->env.position > a->max_pos)
        a->max_pos = ev->env.position;
    return auditlog_queue_line(a, ev, change_len);
}

static void auditlog_rollback(void *m);

static int
auditlog_commit(void *m, int64_t checkpoint, const char *event_id)
{
    auditlog_t *a = m;
    if (auditchain_flush(a->chain) != 0 ||
        (a->max_pos - a->keys_upto >= KEYS_FLUSH_ROWS && keys_flush(a) != 0) ||
        modeldb_checkpoint_set(a->db, &a->checkpoint_st, checkpoint, event_id) != SQLITE_OK) {
        auditlog_rollback(a);
        return -1;
    }
    if (modeldb_commit(a->db) != SQLITE_OK) {
        auditlog_rollback(a); /* rolled back already; forget its positions */
        return -1;
    }
    return 0;
}

static void
auditlog_rollback(void *m)
{
    auditlog_t *a = m;
    modeldb_rollback(a->db);
    auditchain_forget(a->chain);
    a->max_pos = a->begin_max_pos;
    a->keys_upto = a->begin_keys_upto;
    a->pend_len = 0; /* lines of a rolled-back batch are never printed */
}

static int
auditlog_get_checkpoint(void *m, int64_t *position)
{
    return auditlog_checkpoint(m, position);
}

static void
auditlog_committed(void *m)
{
    auditlog_t *a = m;
    if (a->out && a->pend_len > 0) {
        fwrite(a->pend, 1, a->pend_len, a->out);
        fflush(a->out);
    }
    a->pend_len = 0;
}

static sqlite3 *
auditlog_db(void *m)
{
    return ((auditlog_t *)m)->db;
}

const subscriber_ops_t auditlog_ops = {
    .begin = auditlog_begin,
    .apply = auditlog_apply,
    .commit = auditlog_commit,
    .rollback = auditlog_rollback,
    .checkpoint = auditlog_get_checkpoint,
    .committed = auditlog_committed,
    .db = auditlog_db,
};

/* ---- search -------------------------------------------------------------- */

static unsigned
auditlog_mask(const auditlog_query_t *q)
{
    return (q->stream ? FILTER_STREAM : 0) | (q->correlation_id ? FILTER_CORR : 0) |
           (q->has_from ? FILTER_FROM : 0) | (q->has_to ? FILTER_TO : 0);
}

/* The cached statement for one part of a search (keyed: through
 * audit_keys, positions after..upto; else the tail of audit, positions >
 * after), bound for this filter combination and `limit` rows. */
static sqlite3_stmt *
auditlog_search_stmt(auditlog_t *a, const auditlog_query_t *q, bool keyed, int64_t after,
                     int64_t limit)
{
    unsigned mask = auditlog_mask(q);
    const char *k = keyed ? "k." : ""; /* filters on audit_keys' columns when keyed */
    char sql[768];
    /* A closed time range alone goes through the time index, as SQLite
     * chose when the indexes were on audit (it would walk audit_keys by
     * position otherwise). */
    bool by_time = keyed && !(mask & (FILTER_STREAM | FILTER_CORR));
    size_t len = (size_t)snprintf(sql, sizeof sql, "%s WHERE %sposition > ?%s",
                                  by_time ? keyed_by_time_sql
                                  : keyed ? keyed_columns_sql
                                          : columns_sql,
                                  k, keyed ? " AND k.position <= ?" : "");
    if (mask & FILTER_STREAM)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %sstream = ?", k);
    if (mask & FILTER_CORR)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %scorrelation_id = ?", k);
    if (mask & FILTER_FROM)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %srecorded_at >= ?", k);
    if (mask & FILTER_TO)
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND %srecorded_at < ?", k);
    snprintf(sql + len, sizeof sql - len, " ORDER BY %sposition LIMIT ?", k);
    sqlite3_stmt **cache = keyed ? &a->search[mask] : &a->tail[mask];
    if (modeldb_prepare(a->db, cache, sql) != SQLITE_OK)
        return NULL;
    sqlite3_stmt *st = *cache;
    int i = 1;
    sqlite3_bind_int64(st, i++, after);
    if (keyed)
        sqlite3_bind_int64(st, i++, a->keys_upto);
    if (mask & FILTER_STREAM)
        sqlite3_bind_text(st, i++, q->stream, -1, SQLITE_STATIC);
    if (mask & FILTER_CORR)
        sqlite3_bind_text(st, i++, q->correlation_id, -1, SQLITE_STATIC);
    if (mask & FILTER_FROM)
        sqlite3_bind_int64(st, i++, q->from_us);
    if (mask & FILTER_TO)
        sqlite3_bind_int64(st, i++, q->to_us);
    sqlite3_bind_int64(st, i, limit);
    return st;
}

static void
copy_col(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    strcopy(buf, cap, s ? (const char *)s : "");
}

static void
auditlog_read_row(sqlite3_stmt *st, auditlog_row_t *r)
{
    r->position = sqlite3_column_int64(st, 0);
    r->recorded_at = sqlite3_column_int64(st, 1);
    copy_col(st, 2, r->stream, sizeof r->stream);
    r->version = sqlite3_column_int64(st, 3);
    copy_col(st, 4, r->type, sizeof r->type);
    copy_col(st, 5, r->correlation_id, sizeof r->correlation_id);
    copy_col(st, 6, r->command_id, sizeof r->command_id);
    copy_col(st, 7, r->change, sizeof r->change);
}

/* Gives the rows of one part to fn until q->limit rows have been given in
 * all (*n counts them); a row beyond that sets *more.  0 or -1. */
static int
auditlog_search_part(auditlog_t *a, const auditlog_query_t *q, bool keyed, int64_t after,
                     auditlog_row_fn fn, void *arg, int *n, bool *more)
{
    sqlite3_stmt *st = auditlog_search_stmt(a, q, keyed, after, (int64_t)q->limit + 1 - *n);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == q->limit) {
            *more = true; /* one more row says whether more exist */
            break;
        }
        auditlog_read_row(st, &a->row);
        fn(arg, &a->row);
        (*n)++;
    }
    sqlite3_reset(st); /* ends the read transaction */
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : -1;
}

/* A search by stream in progress (auditlog_search_stream). */
typedef struct {
    auditlog_t *a;
    const auditlog_query_t *q;
    auditlog_row_fn fn;
    void *arg;
    int n;     /* rows given */
    bool more; /* a further row matched */
    bool failed;
} stream_search_t;

/* auditchain_fn: reads the row at position and gives it when the time
 * filters let it through. */
static int
stream_search_row(void *arg, int64_t position)
{
    stream_search_t *s = arg;
    auditlog_t *a = s->a;
    const auditlog_query_t *q = s->q;
    if (modeldb_prepare(a->db, &a->row_at, row_at_sql) != SQLITE_OK) {
        s->failed = true;
        return 1;
    }
    sqlite3_bind_int64(a->row_at, 1, position);
    int rc = sqlite3_step(a->row_at);
    bool give = rc == SQLITE_ROW;
    if (give) {
        int64_t at = sqlite3_column_int64(a->row_at, 1);
        give = (!q->has_from || at >= q->from_us) && (!q->has_to || at < q->to_us);
        if (give && s->n < q->limit)
            auditlog_read_row(a->row_at, &a->row);
    }
    sqlite3_reset(a->row_at);
    if (rc != SQLITE_ROW) {
        s->failed = true; /* the chain names a row that is not there */
        return 1;
    }
    if (!give)
        return 0;
    if (s->n == q->limit) {
        s->more = true;
        return 1;
    }
    s->fn(s->arg, &a->row);
    s->n++;
    return 0;
}

/* A stream filter without a correlation filter: the stream's chain, from
 * the cursor on (auditchain.h), the time filters checked on each row. */
static int
auditlog_search_stream(auditlog_t *a, const auditlog_query_t *q, auditlog_row_fn fn, void *arg,
                       bool *more)
{
    stream_search_t s = {.a = a, .q = q, .fn = fn, .arg = arg};
    if (auditchain_each(a->chain, q->stream, q->after, stream_search_row, &s) != 0 || s.failed)
        return -1;
    *more = s.more;
    return s.n;
}

int
auditlog_search(auditlog_t *a, const auditlog_query_t *q, auditlog_row_fn fn, void *arg, bool *more)
{
    int n = 0;
    *more = false;
    if (q->stream && !q->correlation_id)
        return auditlog_search_stream(a, q, fn, arg, more);
    /* Without a key filter (none, or a time range open on one side) the
     * table itself is walked in position order, as before: no keys. */
    unsigned mask = auditlog_mask(q);
    bool key_filter = (mask & (FILTER_STREAM | FILTER_CORR)) ||
                      (mask & (FILTER_FROM | FILTER_TO)) == (FILTER_FROM | FILTER_TO);
    bool keyed = key_filter && q->after < a->keys_upto;
    if (keyed && auditlog_search_part(a, q, true, q->after, fn, arg, &n, more) != 0)
        return -1;
    if (!*more) {
        int64_t after = keyed ? a->keys_upto : q->after;
        if (auditlog_search_part(a, q, false, after, fn, arg, &n, more) != 0)
            return -1;
    }
    return n;
}

/* ---- canonical dump ------------------------------------------------------ */

static void
dump_str(FILE *out, const char *s)
{
    char buf[4 * STREAM_MAX + 8];
    change_escape(s, strlen(s), buf, sizeof buf);
    fputs(buf, out);
}

static const char dump_sql[] =
    "SELECT position, recorded_at, stream, version, type, correlation_id, command_id, change"
    " FROM audit ORDER BY position";

int
auditlog_dump(auditlog_t *a, FILE *out)
{
    int64_t cp = 0;
    sqlite3_stmt *st = NULL;
    if (auditlog_checkpoint(a, &cp) != 0 ||
        sqlite3_prepare_v2(a->db, dump_sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    fprintf(out, "checkpoint %lld\n", (long long)cp);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        auditlog_read_row(st, &a->row);
        const auditlog_row_t *r = &a->row;
        fprintf(out, "%lld\t%lld\t", (long long)r->position, (long long)r->recorded_at);
        dump_str(out, r->stream);
        fprintf(out, "@%lld\t", (long long)r->version);
        dump_str(out, r->type);
        fputc('\t', out);
        dump_str(out, r->correlation_id);
        fputc('\t', out);
        dump_str(out, r->command_id);
        fputc('\t', out);
        fputs(r->change, out); /* escaped when it was made */
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}
