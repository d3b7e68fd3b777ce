/* modeltest: what the unit tests of a subscriber's model share (the audit
 * and alert models): its scratch folder and print stream, applying a batch
 * through its subscriber_ops_t as the runtime does, the text it printed,
 * its canonical dump as a string, and
 * calling its API handler (subscriber_control_fn) directly.  Test-only,
 * header-only. */
#ifndef INV_TEST_MODELTEST_H
#define INV_TEST_MODELTEST_H

#include "codec.h"
#include "msgtree.h"
#include "scratch.h"
#include "subscriber.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One model under test: its ops table and dump, the history it applies,
 * the scratch folder it lives in and what it prints, into memory. */
typedef struct {
    const subscriber_ops_t *ops;
    int (*dump)(void *m, FILE *f); /* the model's canonical dump */
    const event_t *evs;            /* evs[p] has position p */
    char dir[64];                  /* scratch folder (scratch.h) */
    FILE *out;                     /* where the model prints: into out_buf */
    char *out_buf;
    size_t out_len;
} modeltest_t;

/* Makes the scratch folder /tmp/inv-<name>-XXXXXX and the print stream. */
static inline void
modeltest_init(modeltest_t *t, const char *name)
{
    scratch_make(t->dir, sizeof t->dir, name);
    t->out_buf = NULL;
    t->out_len = 0;
    t->out = open_memstream(&t->out_buf, &t->out_len);
    cr_assert_not_null(t->out);
}

/* Closes the print stream and removes the scratch folder. */
static inline void
modeltest_fini(modeltest_t *t)
{
    fclose(t->out);
    free(t->out_buf);
    scratch_remove(t->dir);
}

/* Applies evs[from..to] in one batch, as the subscriber runtime does: begin,
 * apply each, commit at the checkpoint (a replay never moves it back), then
 * the committed hook. */
static inline void
modeltest_apply(const modeltest_t *t, void *m, int from, int to)
{
    cr_assert_eq(t->ops->begin(m), 0);
    for (int p = from; p <= to; p++)
        cr_assert_eq(t->ops->apply(m, &t->evs[p]), 0, "position %d", p);
    int64_t cp = 0; /* a replay never moves the checkpoint back */
    cr_assert_eq(t->ops->checkpoint(m, &cp), 0);
    cr_assert_eq(t->ops->commit(m, cp > to ? cp : to, ""), 0);
    t->ops->committed(m);
}

/* What the model printed so far. */
static inline const char *
modeltest_printed(modeltest_t *t)
{
    fflush(t->out);
    return t->out_buf ? t->out_buf : "";
}

static inline int
modeltest_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The model's dump, malloc'ed. */
static inline char *
modeltest_dump(const modeltest_t *t, void *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(t->dump(m, f), 0);
    fclose(f);
    return buf;
}

/* <dir>/name into out (cap bytes). */
static inline void
modeltest_path(const modeltest_t *t, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", t->dir, name);
}

/* The model's file <dir>/file opened with SQLite from outside the model, as
 * another process would; close with sqlite3_close. */
static inline sqlite3 *
modeltest_db(const modeltest_t *t, const char *file)
{
    char path[128];
    modeltest_path(t, file, path, sizeof path);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK, "%s", path);
    return db;
}

/* Runs sql on db, asserting it succeeds. */
static inline void
modeltest_exec(sqlite3 *db, const char *sql)
{
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
}

/* The first column of the one row that sql returns, as an integer. */
static inline int64_t
modeltest_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* A request and its reply, for calling an API handler directly. */
typedef struct {
    codec_writer_t req;     /* pack the request here, then modeltest_api_call */
    codec_writer_t rep;     /* the handler's reply */
    msgpack_unpacked rep_u; /* rep, parsed */
} modeltest_api_t;

static inline void
modeltest_api_init(modeltest_api_t *a)
{
    codec_writer_init(&a->req);
    codec_writer_init(&a->rep);
    msgpack_unpacked_init(&a->rep_u);
}

static inline void
modeltest_api_fini(modeltest_api_t *a)
{
    msgpack_unpacked_destroy(&a->rep_u);
    codec_writer_fini(&a->req);
    codec_writer_fini(&a->rep);
}

/* Checks the request packed in a->req, hands it to handler(arg, type, ...)
 * and parses its reply; the reply map.  a->req is empty again after. */
static inline const msgpack_object *
modeltest_api_call(modeltest_api_t *a, subscriber_control_fn handler, void *arg, const char *type)
{
    const char *why = NULL;
    msgpack_unpacked_destroy(&a->rep_u);
    msgpack_unpacked_init(&a->rep_u);
    mpread_t req; /* as the dispatcher hands it over: checked, a cursor at the map */
    cr_assert_eq(codec_reader_check(&req, a->req.buf.data, a->req.buf.size, &why), 0, "%s", why);
    codec_writer_reset(&a->rep);
    cr_assert_eq(handler(arg, type, &req, &a->rep), 0);
    cr_assert_eq(codec_parse(a->rep.buf.data, a->rep.buf.size, &a->rep_u, &why), 0, "%s", why);
    codec_writer_reset(&a->req);
    return &a->rep_u.data;
}

/* Asserts that rep is a rejection with error `code` and a message, naming
 * `field` in its fields when field is not NULL. */
static inline void
modeltest_expect_error(const msgpack_object *rep, const char *code, const char *field)
{
    bool ok = true;
    const char *s;
    size_t n;
    cr_assert_eq(codec_get_bool(codec_map_get(rep, "ok"), &ok), 0);
    cr_assert(!ok);
    cr_assert_eq(codec_get_str(codec_map_get(rep, "error"), &s, &n), 0);
    cr_assert(n == strlen(code) && memcmp(s, code, n) == 0, "got %.*s, want %s", (int)n, s, code);
    cr_assert_not_null(codec_map_get(rep, "message"));
    if (field)
        cr_assert_not_null(codec_map_get(codec_map_get(rep, "fields"), field), "field %s", field);
}

#endif
