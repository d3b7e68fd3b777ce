/* cli_queries: the read side of invctl.  One table row per subcommand: the
 * endpoint, the request type, the bare word's key and each flag's key and
 * kind.  A few rows have a hook for what a table cannot say (product
 * --as-of goes to the relay as ProductAsOf; history turns P into the stream
 * "product-P"; audit takes --correlation-id as a filter).  Replies are shown
 * by pretty.c or as JSON; a reply with ok=false prints its error to stderr
 * and exits 2. */
#ifndef INV_CLI_QUERIES_H
#define INV_CLI_QUERIES_H

#include "cli.h"
#include "client.h"
#include "codec.h"
#include "message.h"

#include <stdio.h>

#define CLI_QUERY_MAX_FLAGS 10
#define CLI_REQUEST_MAX_KV 16

typedef struct {
    const char *flag; /* "--supplier" */
    const char *key;  /* "supplier_id"; NULL when a hook handles it */
    arg_kind_t kind;  /* ARG_BOOL sends true when given */
} cli_qflag_t;

typedef struct {
    const char *key;
    arg_kind_t kind; /* ARG_STR: s; ARG_INT, ARG_TIME: num; ARG_BOOL: true */
    const char *s;
    int64_t num;
} cli_kv_t;

/* A request as a flat list of key/values, ready to pack. */
typedef struct {
    cli_ep_t ep;
    const char *type;
    int n;
    cli_kv_t kv[CLI_REQUEST_MAX_KV];
    char stream[STREAM_MAX + 1]; /* storage for a built stream name */
    int64_t tail;                /* audit --tail: the last N items (cli_audit), 0: a page */
} cli_request_t;

struct cli_query_def;
typedef int (*cli_query_hook_t)(const cli_opts_t *opts, const struct cli_query_def *def,
                                const arg_val_t *vals, const char *const *pos, int n_pos,
                                cli_request_t *req, char *err, size_t cap);

typedef struct cli_query_def {
    const char *name; /* subcommand, "products" */
    cli_ep_t ep;
    const char *type;    /* request type, "ListProducts" */
    const char *pos_key; /* key of the bare word ("product_id"), or NULL */
    int pos_max;         /* bare words accepted: 0 or 1 */
    bool pos_required;
    cli_qflag_t flags[CLI_QUERY_MAX_FLAGS]; /* ends at a NULL flag */
    cli_query_hook_t hook;                  /* or NULL */
    const char *usage;
    void (*print)(FILE *f, const mpread_t *reply); /* human form; NULL: pretty_print */
} cli_query_def_t;

const cli_query_def_t *cli_queries_find(const char *name);

/* Builds the request from the words after the subcommand name.  Returns 0,
 * or -1 with a one-line reason in err. */
int cli_queries_build(const cli_opts_t *opts, const cli_query_def_t *def, int argc, char **argv,
                      cli_request_t *req, char *err, size_t cap);
/* Adds one key/value (keys are static strings or live in req). */
void cli_request_add(cli_request_t *req, const char *key, arg_kind_t kind, const char *s,
                     int64_t num);
/* Packs {type, k: v, ...}. */
void cli_request_pack(const cli_request_t *req, codec_writer_t *w);

/* Sends a built request and waits up to timeout_ms for its reply: 0 with
 * *reply filled (client_reply_fini it), or the failure reported
 * (cli_report) and its exit code (1). */
int cli_request_call(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
                     client_reply_t *reply);

/* Sends a built request and prints the reply (JSON, or `print`, or
 * pretty_print when print is NULL); returns the exit code: 0 ok, 2 ok=false,
 * 1 no reply. */
int cli_request_run(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
                    void (*print)(FILE *f, const mpread_t *reply));

/* Runs opts->argv (a query subcommand).  Returns the exit code. */
int cli_queries_run(void *zctx, const cli_opts_t *opts, const cli_query_def_t *def);

/* The rows in table order; NULL past the end (for help and its tests). */
const cli_query_def_t *cli_queries_at(size_t i);

#endif
