/* auditlog: see auditlog.h.
 *
 * Table `audit`, one row per event.  `position` is the INTEGER PRIMARY KEY
 * (the rowid), so each secondary index already ends in the position and
 * serves "filter, then in position order after the cursor" directly:
 * audit_by_stream, audit_by_corr, audit_by_time (time ranges).
 * Searches prepare one statement per combination of filters (16 at most),
 * cached, instead of one `(? IS NULL OR ...)` statement that could not use
 * the indexes. */
#include "auditlog.h"

#include "modeldb.h"

#include <stdlib.h>
#include <string.h>

#define FILTER_STREAM 1u
#define FILTER_CORR 2u
#define FILTER_FROM 4u
#define FILTER_TO 8u
#define FILTER_COMBOS 16

struct auditlog {
    sqlite3 *db;
    FILE *out;                           /* committed lines; NULL: none */
    sqlite3_stmt *insert;                /* cached */
    sqlite3_stmt *search[FILTER_COMBOS]; /* cached, indexed by FILTER_* mask */
    char *pend;                          /* lines of the open batch, inserted rows only */
    size_t pend_len;                     /* bytes queued */
    size_t pend_cap;                     /* bytes allocated */
    char change[CHANGE_MAX];             /* scratch: describe output */
    char when[CHANGE_TIME_MAX];          /* change_iso_time of when_secs */
    size_t when_len;                     /* its length; 0: not cacheable or none yet */
    int64_t when_secs;                   /* the second it formats */
    auditlog_row_t row;                  /* scratch: search row */
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS audit("
    " position INTEGER PRIMARY KEY," /* global event position */
    " recorded_at INTEGER NOT NULL," /* us since the epoch, UTC */
    " stream TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " correlation_id TEXT NOT NULL,"
    " command_id TEXT NOT NULL,"
    " change TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_by_stream ON audit(stream);"
    "CREATE INDEX IF NOT EXISTS audit_by_corr ON audit(correlation_id);"
    "CREATE INDEX IF NOT EXISTS audit_by_time ON audit(recorded_at);";

static const char insert_sql[] =
    "INSERT OR IGNORE INTO audit(position, recorded_at, stream, version, type,"
    " correlation_id, command_id, change) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

static const char columns_sql[] =
    "SELECT position, recorded_at, stream, version, type, correlation_id, command_id, change"
    " FROM audit";

/* ---- lifecycle ----------------------------------------------------------- */

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
    for (int i = 0; i < FILTER_COMBOS; i++)
        sqlite3_finalize(a->search[i]);
    sqlite3_close(a->db);
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
    return (subscriber_factory_t){factory_open, factory_activate, factory_close, live};
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
    return modeldb_begin(a->db) == SQLITE_OK ? 0 : -1;
}

static int
auditlog_apply(void *m, const event_t *ev)
{
    auditlog_t *a = m;
    sqlite3_stmt *st;
    size_t change_len = change_describe(ev, a->change, sizeof a->change);
    if (modeldb_prepare(a->db, &a->insert, insert_sql) != SQLITE_OK)
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
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_changes(a->db) == 1 ? auditlog_queue_line(a, ev, change_len) : 0;
}

static int
auditlog_commit(void *m, int64_t checkpoint)
{
    auditlog_t *a = m;
    if (modeldb_checkpoint_set(a->db, checkpoint) != SQLITE_OK) {
        modeldb_rollback(a->db);
        return -1;
    }
    return modeldb_commit(a->db) == SQLITE_OK ? 0 : -1;
}

static void
auditlog_rollback(void *m)
{
    auditlog_t *a = m;
    modeldb_rollback(a->db);
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

const subscriber_ops_t auditlog_ops = {
    .begin = auditlog_begin,
    .apply = auditlog_apply,
    .commit = auditlog_commit,
    .rollback = auditlog_rollback,
    .checkpoint = auditlog_get_checkpoint,
    .committed = auditlog_committed,
};

/* ---- search -------------------------------------------------------------- */

static unsigned
auditlog_mask(const auditlog_query_t *q)
{
    return (q->stream ? FILTER_STREAM : 0) | (q->correlation_id ? FILTER_CORR : 0) |
           (q->has_from ? FILTER_FROM : 0) | (q->has_to ? FILTER_TO : 0);
}

/* The cached statement for this filter combination, bound and ready. */
static sqlite3_stmt *
auditlog_search_stmt(auditlog_t *a, const auditlog_query_t *q)
{
    unsigned mask = auditlog_mask(q);
    char sql[512];
    snprintf(sql, sizeof sql, "%s WHERE position > ?%s%s%s%s ORDER BY position LIMIT ?",
             columns_sql, mask & FILTER_STREAM ? " AND stream = ?" : "",
             mask & FILTER_CORR ? " AND correlation_id = ?" : "",
             mask & FILTER_FROM ? " AND recorded_at >= ?" : "",
             mask & FILTER_TO ? " AND recorded_at < ?" : "");
    if (modeldb_prepare(a->db, &a->search[mask], sql) != SQLITE_OK)
        return NULL;
    sqlite3_stmt *st = a->search[mask];
    int i = 1;
    sqlite3_bind_int64(st, i++, q->after);
    if (mask & FILTER_STREAM)
        sqlite3_bind_text(st, i++, q->stream, -1, SQLITE_STATIC);
    if (mask & FILTER_CORR)
        sqlite3_bind_text(st, i++, q->correlation_id, -1, SQLITE_STATIC);
    if (mask & FILTER_FROM)
        sqlite3_bind_int64(st, i++, q->from_us);
    if (mask & FILTER_TO)
        sqlite3_bind_int64(st, i++, q->to_us);
    sqlite3_bind_int64(st, i, (int64_t)q->limit + 1); /* one more says whether more exist */
    return st;
}

static void
copy_col(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(buf, cap, "%s", s ? (const char *)s : "");
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

int
auditlog_search(auditlog_t *a, const auditlog_query_t *q, auditlog_row_fn fn, void *arg, bool *more)
{
    sqlite3_stmt *st = auditlog_search_stmt(a, q);
    if (!st)
        return -1;
    int n = 0, rc;
    *more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q->limit) {
            *more = true;
            break;
        }
        auditlog_read_row(st, &a->row);
        fn(arg, &a->row);
        n++;
    }
    sqlite3_reset(st); /* ends the read transaction */
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? n : -1;
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
