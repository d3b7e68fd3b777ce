/* params: strict decoding of a flat request map against a table of
 * parameters, shared by the request handlers of the audit and alert daemons.
 * Shapes that are wrong (not a map, a key that is not a known parameter, a
 * key given twice, a value of the wrong msgpack type) are `malformed`;
 * values that break a parameter's rule are `validation` errors naming it.
 * nil means absent. */
#ifndef INV_PARAMS_H
#define INV_PARAMS_H

#include "codec.h"
#include "fields.h"

typedef enum { PARAM_STR, PARAM_INT } param_kind_t;

/* Checks and stores one value of the right type (a cursor at it: a
 * string for PARAM_STR, an integer for PARAM_INT, possibly above int64)
 * into target; NULL, or a message for the field. */
typedef const char *(*param_set_fn)(void *target, mpread_t *v);

typedef struct {
    const char *name;
    param_kind_t kind;
    param_set_fn set; /* NULL: accepted and ignored (the request type) */
} param_t;

/* Decodes the map at req (a cursor over bytes the dispatcher checked)
 * against table[0..n) (n <= 32) into target.  Returns 0 (errs may hold
 * validation messages), or -1 with a malformed reason in *why (static, or
 * formatted into why_buf). */
int params_parse(const mpread_t *req, const param_t *table, size_t n, void *target,
                 field_errors_t *errs, const char **why, char *why_buf, size_t why_cap);
/* A string parameter's bytes (its type was checked). */
void params_str(mpread_t *v, const char **s, size_t *len);

/* A list cursor as the replies give it (`next_cursor`: a decimal position). */
const char *params_cursor(mpread_t *v, int64_t *after);
/* A page size in 1..max. */
const char *params_limit(mpread_t *v, int max, int *limit);

/* The items of a list reply while a query packs them, one map each. */
typedef struct {
    codec_writer_t items; /* the packed item maps */
    int count;            /* maps packed */
    int64_t last;         /* position of the last one: the next cursor */
} params_page_t;

/* Starts an empty page.  Pair with params_page_fini. */
void params_page_init(params_page_t *pg);
void params_page_fini(params_page_t *pg);
/* Counts one more map, just packed into pg->items.pk, of the row at position. */
void params_page_added(params_page_t *pg, int64_t position);
/* Packs the list reply {ok: true, position, items: [the page's maps],
 * next_cursor: "<last>" when more follow, else nil}; or, when ok is false
 * (the model could not be read), {ok: false, error: "unavailable",
 * message: unavailable}. */
void params_reply_page(codec_writer_t *w, bool ok, int64_t position, const params_page_t *pg,
                       bool more, const char *unavailable);

/* Packs {ok: false, error, message[, fields]} (errs may be NULL). */
void params_reply_error(codec_writer_t *w, const char *code, const char *message,
                        const field_errors_t *errs);

#endif
