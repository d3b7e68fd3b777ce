/* cli_queries: see cli_queries.h. */
#include "cli_queries.h"

#include "cli_audit.h"
#include "cli_color.h"
#include "cli_watch.h"
#include "cli_report.h"
#include "client.h"
#include "codec.h"
#include "jsonout.h"
#include "pretty.h"

#include <inttypes.h>
#include <string.h>

#define HISTORY_PAGE_MAX 1000 /* the relay's page, CATCHUP_PAGE_MAX */

#define PAGE                                                                                       \
    {"--limit", "limit", ARG_INT},                                                                 \
    {                                                                                              \
        "--cursor", "cursor", ARG_STR                                                              \
    }

static int product_hook(const cli_opts_t *, const cli_query_def_t *, const arg_val_t *,
                        const char *const *, int, cli_request_t *, char *, size_t);
static int history_hook(const cli_opts_t *, const cli_query_def_t *, const arg_val_t *,
                        const char *const *, int, cli_request_t *, char *, size_t);
static void print_events(FILE *f, const mpread_t *reply);
static int64_t reply_int(const mpread_t *body, const char *key, int64_t fallback);
static int events_hook(const cli_opts_t *, const cli_query_def_t *, const arg_val_t *,
                       const char *const *, int, cli_request_t *, char *, size_t);
static void print_alerts(FILE *f, const mpread_t *reply);
static int audit_hook(const cli_opts_t *, const cli_query_def_t *, const arg_val_t *,
                      const char *const *, int, cli_request_t *, char *, size_t);

static const cli_query_def_t defs[] = {
    {.name = "product",
     .ep = CLI_EP_QUERY,
     .type = "GetProductDetail",
     .pos_key = "product_id",
     .pos_max = 1,
     .pos_required = true,
     .flags = {{.flag = "--as-of", .kind = ARG_STR}},
     .hook = product_hook,
     .usage = "P [--as-of POSITION|ISO-TIME]"},
    {.name = "products",
     .ep = CLI_EP_QUERY,
     .type = "ListProducts",
     .flags = {{.flag = "--supplier", .key = "supplier_id", .kind = ARG_STR},
               {.flag = "--in-stock", .key = "in_stock", .kind = ARG_BOOL},
               {.flag = "--all", .key = "include_discontinued", .kind = ARG_BOOL},
               PAGE},
     .usage = "[--supplier S] [--in-stock] [--all] [--limit N] [--cursor C]"},
    {.name = "admin-product",
     .ep = CLI_EP_QUERY,
     .type = "GetAdminProduct",
     .pos_key = "product_id",
     .pos_max = 1,
     .pos_required = true,
     .usage = "P"},
    {.name = "suppliers",
     .ep = CLI_EP_QUERY,
     .type = "ListSuppliers",
     .flags = {PAGE},
     .usage = "[--limit N] [--cursor C]"},
    {.name = "search",
     .ep = CLI_EP_QUERY,
     .type = "SearchProducts",
     .pos_key = "q",
     .pos_max = 1,
     .pos_required = true,
     .flags = {PAGE},
     .usage = "TEXT [--limit N] [--cursor C]"},
    {.name = "top-rated",
     .ep = CLI_EP_QUERY,
     .type = "TopRated",
     .flags = {PAGE},
     .usage = "[--limit N] [--cursor C]"},
    {.name = "low-stock",
     .ep = CLI_EP_QUERY,
     .type = "LowStock",
     .flags = {PAGE},
     .usage = "[--limit N] [--cursor C]"},
    {.name = "dashboard", .ep = CLI_EP_QUERY, .type = "Dashboard", .usage = ""},
    {.name = "price-history",
     .ep = CLI_EP_QUERY,
     .type = "PriceHistory",
     .pos_key = "product_id",
     .pos_max = 1,
     .pos_required = true,
     .flags = {PAGE},
     .usage = "P [--limit N] [--cursor C]"},
    {.name = "history",
     .ep = CLI_EP_RELAY,
     .type = "ReadStream",
     .pos_max = 1,
     .flags = {{.flag = "--stream", .key = "stream", .kind = ARG_STR},
               {.flag = "--after-version", .key = "after_version", .kind = ARG_INT},
               {.flag = "--limit", .key = "limit", .kind = ARG_INT},
               {.flag = "--cursor", .key = "cursor", .kind = ARG_STR},
               {.flag = "--backwards", .key = "backwards", .kind = ARG_BOOL}},
     .hook = history_hook,
     .usage = "P | --stream STREAM [--backwards] [--after-version N] [--limit 1..1000] "
              "[--cursor C]",
     .print = print_events},
    {.name = "events",
     .ep = CLI_EP_RELAY,
     .type = "ReadEvents",
     .flags = {{.flag = "--after", .key = "after", .kind = ARG_INT},
               {.flag = "--limit", .key = "limit", .kind = ARG_INT}},
     .hook = events_hook,
     .usage = "[--after POSITION] [--limit 1..1000]",
     .print = print_events},
    {.name = "audit",
     .ep = CLI_EP_AUDIT,
     .type = "SearchAudit",
     .flags = {{.flag = "--stream", .key = "stream", .kind = ARG_STR},
               {.flag = "--from", .key = "from_us", .kind = ARG_TIME},
               {.flag = "--to", .key = "to_us", .kind = ARG_TIME},
               PAGE,
               {.flag = "--tail", .kind = ARG_INT}},
     .hook = audit_hook,
     .usage = "[--stream S] [--correlation-id C] [--from ISO] [--to ISO] [--limit N] [--cursor C] "
              "| --tail N [filters]"},
    {.name = "alerts",
     .ep = CLI_EP_ALERT_API,
     .type = "ListAlerts",
     .flags = {{.flag = "--product", .key = "product_id", .kind = ARG_STR}, PAGE},
     .usage = "[--product P] [--limit N] [--cursor C]",
     .print = print_alerts},
};

#define N_DEFS (sizeof defs / sizeof defs[0])

/* Accepted by every query: read-your-writes. */
static const cli_qflag_t common_flags[] = {
    {.flag = "--min-position", .key = "min_position", .kind = ARG_INT},
    {.flag = "--wait-ms", .key = "wait_ms", .kind = ARG_INT},
};
#define N_COMMON (sizeof common_flags / sizeof common_flags[0])

const cli_query_def_t *
cli_queries_at(size_t i)
{
    return i < N_DEFS ? &defs[i] : NULL;
}

const cli_query_def_t *
cli_queries_find(const char *name)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

void
cli_request_add(cli_request_t *req, const char *key, arg_kind_t kind, const char *s, int64_t num)
{
    for (int i = 0; i < req->n; i++) {
        if (strcmp(req->kv[i].key, key) == 0) { /* a later value wins */
            req->kv[i].kind = kind;
            req->kv[i].s = s;
            req->kv[i].num = num;
            return;
        }
    }
    if (req->n < CLI_REQUEST_MAX_KV)
        req->kv[req->n++] = (cli_kv_t){key, kind, s, num};
}

void
cli_request_pack(const cli_request_t *req, codec_writer_t *w)
{
    codec_map_open(w);
    codec_map_str(w, "type", req->type);
    for (int i = 0; i < req->n; i++) {
        switch (req->kv[i].kind) {
        case ARG_STR:
            codec_map_str(w, req->kv[i].key, req->kv[i].s);
            break;
        case ARG_BOOL:
            codec_map_bool(w, req->kv[i].key, true);
            break;
        default:
            codec_map_int(w, req->kv[i].key, req->kv[i].num);
        }
    }
    codec_map_close(w);
}

static int
product_hook(const cli_opts_t *opts, const cli_query_def_t *def, const arg_val_t *vals,
             const char *const *pos, int n_pos, cli_request_t *req, char *err, size_t cap)
{
    (void)opts, (void)pos, (void)n_pos;
    const arg_val_t *as_of = &vals[0]; /* --as-of is the first flag of "product" */
    if (!as_of->set)
        return 0;
    req->ep = CLI_EP_RELAY;
    req->type = "ProductAsOf";
    int64_t v;
    if (cli_parse_int(as_of->str, &v) == 0 && v >= 0)
        cli_request_add(req, "position", ARG_INT, NULL, v);
    else if (cli_parse_time(as_of->str, &v) == 0)
        cli_request_add(req, "time_us", ARG_INT, NULL, v);
    else {
        snprintf(err, cap, "%s: --as-of expects a position or an ISO-8601 time, got '%s'",
                 def->name, as_of->str);
        return -1;
    }
    return 0;
}

static int
history_hook(const cli_opts_t *opts, const cli_query_def_t *def, const arg_val_t *vals,
             const char *const *pos, int n_pos, cli_request_t *req, char *err, size_t cap)
{
    (void)opts;
    if (vals[2].set && (vals[2].num < 1 || vals[2].num > HISTORY_PAGE_MAX)) {
        snprintf(err, cap, "%s: --limit must be 1..%d (a page; --cursor gives the next one)",
                 def->name, HISTORY_PAGE_MAX);
        return -1;
    }
    if (n_pos == 1 && vals[0].set) {
        snprintf(err, cap, "%s: give a product id or --stream, not both", def->name);
        return -1;
    }
    if (n_pos == 0 && !vals[0].set) {
        snprintf(err, cap, "%s: needs a product id or --stream STREAM", def->name);
        return -1;
    }
    if (n_pos == 1) {
        if (strlen(pos[0]) > ID_MAX) {
            snprintf(err, cap, "%s: product id too long", def->name);
            return -1;
        }
        snprintf(req->stream, sizeof req->stream, "product-%s", pos[0]);
        cli_request_add(req, "stream", ARG_STR, req->stream, 0);
    }
    return 0;
}

static int
events_hook(const cli_opts_t *opts, const cli_query_def_t *def, const arg_val_t *vals,
            const char *const *pos, int n_pos, cli_request_t *req, char *err, size_t cap)
{
    (void)opts, (void)pos, (void)n_pos, (void)req;
    if (vals[0].set && vals[0].num < 0) {
        snprintf(err, cap, "%s: --after must be a position >= 0", def->name);
        return -1;
    }
    if (vals[1].set && (vals[1].num < 1 || vals[1].num > HISTORY_PAGE_MAX)) {
        snprintf(err, cap, "%s: --limit must be 1..%d (a page; --after gives the next one)",
                 def->name, HISTORY_PAGE_MAX);
        return -1;
    }
    return 0;
}

static int
audit_hook(const cli_opts_t *opts, const cli_query_def_t *def, const arg_val_t *vals,
           const char *const *pos, int n_pos, cli_request_t *req, char *err, size_t cap)
{
    (void)pos, (void)n_pos;
    if (opts->correlation_id)
        cli_request_add(req, "correlation_id", ARG_STR, opts->correlation_id, 0);
    const arg_val_t *tail = &vals[5]; /* --tail, after --limit and --cursor */
    if (!tail->set)
        return 0;
    if (tail->num < 1 || tail->num > CLI_AUDIT_TAIL_MAX || vals[3].set || vals[4].set) {
        snprintf(err, cap, "%s: --tail takes 1..%d and no --limit or --cursor", def->name,
                 CLI_AUDIT_TAIL_MAX);
        return -1;
    }
    req->tail = tail->num;
    return 0;
}

int
cli_queries_build(const cli_opts_t *opts, const cli_query_def_t *def, int argc, char **argv,
                  cli_request_t *req, char *err, size_t cap)
{
    arg_spec_t specs[CLI_QUERY_MAX_FLAGS + N_COMMON];
    arg_val_t vals[CLI_QUERY_MAX_FLAGS + N_COMMON];
    const cli_qflag_t *flags[CLI_QUERY_MAX_FLAGS + N_COMMON];
    const char *pos[CLI_MAX_POSITIONAL];
    int n = 0, n_pos;
    for (int i = 0; i < CLI_QUERY_MAX_FLAGS && def->flags[i].flag; i++)
        flags[n++] = &def->flags[i];
    for (size_t i = 0; i < N_COMMON; i++)
        flags[n++] = &common_flags[i];
    for (int i = 0; i < n; i++)
        specs[i] = (arg_spec_t){flags[i]->flag, flags[i]->kind};
    if (cli_args_parse(def->name, specs, (size_t)n, argc, argv, vals, pos, def->pos_max, &n_pos,
                       err, cap) != 0)
        return -1;
    memset(req, 0, sizeof *req);
    req->ep = def->ep;
    req->type = def->type;
    if (def->pos_required && n_pos == 0) {
        snprintf(err, cap, "%s: missing argument (usage: invctl %s %s)", def->name, def->name,
                 def->usage);
        return -1;
    }
    if (def->pos_key && n_pos == 1)
        cli_request_add(req, def->pos_key, ARG_STR, pos[0], 0);
    for (int i = 0; i < n; i++)
        if (vals[i].set && flags[i]->key)
            cli_request_add(req, flags[i]->key, flags[i]->kind, vals[i].str, vals[i].num);
    return def->hook ? def->hook(opts, def, vals, pos, n_pos, req, err, cap) : 0;
}

/* ReadStream replies: the stream, then one line per event as in `watch`. */
/* True when the key at k is the string name. */
static bool
key_is(const mpread_t *k, const char *name)
{
    mpread_t r = *k;
    const char *s;
    size_t n;
    return mpread_str(&r, &s, &n) == 0 && n == strlen(name) && memcmp(s, name, n) == 0;
}

/* The scalars of a list reply but the list, its cursor and the stream's
 * version (said with the count). */
static void
print_lines_head(FILE *f, const mpread_t *reply, const char *key)
{
    mpread_t r = *reply, k, v;
    uint32_t n;
    mpread_map(&r, &n);
    for (uint32_t i = 0; i < n && mpread_pair(&r, &k, &v) == 0; i++) {
        if (key_is(&k, key) || key_is(&k, "ok") || key_is(&k, "next_cursor") ||
            key_is(&k, "version"))
            continue;
        char kb[128], val[512];
        pretty_scalar(&k, NULL, 0, true, kb, sizeof kb);
        pretty_scalar(&v, kb, strlen(kb), false, val, sizeof val);
        fprintf(f, "%s: %s\n", kb, val);
    }
}

/* How to get the next page: a next_cursor (ReadStream, lists), or, for
 * ReadEvents, the last position when it is below the head. */
static void
print_lines_more(FILE *f, const mpread_t *reply, uint32_t count, int64_t last)
{
    char cursor[64];
    mpread_t c;
    const char *cs;
    size_t cn;
    if (mpread_find(reply, "next_cursor", &c) == 0 && mpread_str(&c, &cs, &cn) == 0) {
        pretty_text(cs, cn, cursor, sizeof cursor);
        fprintf(f, "more: %" PRIu32 " shown; the next page: --cursor %s\n", count, cursor);
    } else if (count > 0 && last >= 0 && last < reply_int(reply, "head", -1)) {
        fprintf(f, "more: %" PRIu32 " shown; the next page: --after %lld\n", count,
                (long long)last);
    }
}

/* A reply whose list under `key` is printed one line per item by `line`
 * (as `watch` prints them), after its other scalars and the count, then
 * how to get the next page. */
static void
print_lines(FILE *f, const mpread_t *reply, const char *key,
            void (*line)(const mpread_t *item, char *buf, size_t cap))
{
    mpread_t items, v;
    uint32_t count;
    int64_t version, last = -1;
    if (mpread_find(reply, key, &items) != 0 || mpread_peek(&items) != MP_ARRAY) {
        pretty_print(f, reply);
        return;
    }
    print_lines_head(f, reply, key);
    mpread_array(&items, &count);
    if (mpread_find(reply, "version", &v) == 0 && mpread_int(&v, &version) == 0)
        fprintf(f, "%s: %" PRIu32 " of %lld in the stream\n", key, count, (long long)version);
    else
        fprintf(f, "%s: %" PRIu32 "\n", key, count);
    for (uint32_t i = 0; i < count && mpread_item(&items, &v) == 0; i++) {
        char buf[2048];
        last = reply_int(&v, "position", -1);
        line(&v, buf, sizeof buf);
        fprintf(f, "%s\n", buf);
    }
    print_lines_more(f, reply, count, last);
    fflush(f);
}

/* ReadStream replies: the stream, then one line per event as in `watch`. */
static void
print_events(FILE *f, const mpread_t *reply)
{
    print_lines(f, reply, "events", cli_watch_format_event);
}

static void
alert_line(const mpread_t *al, char *buf, size_t cap)
{
    cli_watch_format_alert(al, cli_color_stdout(), buf, cap);
}

/* ListAlerts replies: one line per alert as in `watch alerts`, coloured. */
static void
print_alerts(FILE *f, const mpread_t *reply)
{
    print_lines(f, reply, "items", alert_line);
}

int
cli_request_call(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
                 client_reply_t *reply)
{
    codec_writer_t w;
    codec_writer_init(&w);
    cli_request_pack(req, &w);
    const char *ep = opts->ep[req->ep];
    char msg[768];
    client_rc_t rc = client_call_say(zctx, cli_ep_daemon(req->ep), ep, w.buf.data, w.buf.size,
                                     timeout_ms, reply, msg, sizeof msg);
    codec_writer_fini(&w);
    if (rc != CLIENT_OK)
        return cli_report(opts->json, 1, client_code(rc), "%s", msg);
    return 0;
}

/* Prints a reply (JSON, print, or pretty_print) and, when ok is false,
 * its error on stderr.  0, or 2 for ok=false. */
static int
reply_show(const cli_opts_t *opts, const mpread_t *body, void (*print)(FILE *f, const mpread_t *))
{
    client_reply_t reply = {.body = *body};
    bool ok = client_reply_ok(&reply);
    if (opts->json) {
        jsonout_write(stdout, body);
        fputc('\n', stdout);
        fflush(stdout);
    } else if (ok) {
        (print ? print : pretty_print)(stdout, body);
    }
    if (!ok) {
        char raw[512], code[64], msg[512];
        pretty_text(raw, strlen(client_reply_str(&reply, "error", raw, sizeof raw)), code,
                    sizeof code);
        pretty_text(raw, strlen(client_reply_str(&reply, "message", raw, sizeof raw)), msg,
                    sizeof msg);
        fprintf(stderr, "error: %s%s%s\n", code[0] ? code : "failed", msg[0] ? ": " : "", msg);
    }
    return ok ? 0 : 2;
}

int
cli_request_run(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int timeout_ms,
                void (*print)(FILE *f, const mpread_t *reply))
{
    client_reply_t reply;
    int rc = cli_request_call(zctx, opts, req, timeout_ms, &reply);
    if (rc != 0)
        return rc;
    rc = reply_show(opts, &reply.body, print);
    client_reply_fini(&reply);
    return rc;
}

/* The value of key in req (kind ARG_INT/ARG_STR), NULL when not given. */
static const cli_kv_t *
request_get(const cli_request_t *req, const char *key)
{
    for (int i = 0; i < req->n; i++)
        if (strcmp(req->kv[i].key, key) == 0)
            return &req->kv[i];
    return NULL;
}

static int64_t
reply_int(const mpread_t *body, const char *key, int64_t fallback)
{
    mpread_t v;
    int64_t n;
    return mpread_find(body, key, &v) == 0 && mpread_int(&v, &n) == 0 ? n : fallback;
}

/* A first page of a stream that has no event: the stream does not exist. */
static bool
stream_missing(const cli_request_t *req, const mpread_t *body)
{
    mpread_t v;
    uint32_t n = 1;
    return request_get(req, "cursor") == NULL && request_get(req, "after_version") == NULL &&
           client_reply_ok(&(client_reply_t){.body = *body}) &&
           reply_int(body, "version", -1) == 0 && mpread_find(body, "events", &v) == 0 &&
           mpread_array(&v, &n) == 0 && n == 0;
}

/* Keys of a ProductAsOf aggregate shown, as GetProductDetail names them;
 * the cost price stays out (the admin view's: docs/domain.md). */
static const char *const as_of_keys[] = {
    "product_id", "name",  "price_cents",         "supplier_id",  "supplier_name", "discontinued",
    "sku",        "stock", "low_stock_threshold", "review_count", "view_count",    "version",
};

/* The aggregate at p as the `product` map of GetProductDetail. */
static void
as_of_product(codec_writer_t *w, const mpread_t *p)
{
    mpread_t v, end;
    int64_t stock = reply_int(p, "stock", 0), threshold = reply_int(p, "low_stock_threshold", 0);
    int64_t reviews = reply_int(p, "review_count", 0), sum = reply_int(p, "rating_sum", 0);
    codec_map_open(w);
    for (size_t i = 0; i < sizeof as_of_keys / sizeof as_of_keys[0]; i++) {
        if (mpread_find(p, as_of_keys[i], &v) != 0)
            continue;
        end = v;
        if (mpread_skip(&end) != 0)
            continue;
        codec_map_key(w, as_of_keys[i]);
        codec_pack_raw(&w->pk, v.p, (size_t)(end.p - v.p));
    }
    codec_map_bool(w, "in_stock", stock > 0);
    codec_map_bool(w, "low_stock", stock < threshold);
    codec_map_key(w, "avg_rating");
    msgpack_pack_double(&w->pk, reviews > 0 ? (double)(sum * 100 / reviews) / 100.0 : 0.0);
    codec_map_close(w);
}

/* product --as-of: the relay's reply in the shape of `product`:
 * {ok, position, reached, as_of: true, product: {...}}. */
static int
as_of_show(const cli_opts_t *opts, const mpread_t *body)
{
    mpread_t p;
    if (!client_reply_ok(&(client_reply_t){.body = *body}) ||
        mpread_find(body, "product", &p) != 0 || mpread_peek(&p) != MP_MAP)
        return reply_show(opts, body, NULL);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_bool(&w, "ok", true);
    codec_map_int(&w, "position", reply_int(body, "position", 0));
    codec_map_bool(&w, "reached", true);
    codec_map_bool(&w, "as_of", true);
    codec_map_key(&w, "product");
    as_of_product(&w, &p);
    codec_map_close(&w);
    mpread_t shaped;
    const char *why;
    int rc = codec_reader_check(&shaped, w.buf.data, w.buf.size, &why) == 0
                 ? reply_show(opts, &shaped, NULL)
                 : reply_show(opts, body, NULL);
    codec_writer_fini(&w);
    return rc;
}

/* A read that asked for --min-position and got an older state: 4. */
static int
stale_check(const cli_request_t *req, const mpread_t *body)
{
    const cli_kv_t *min = request_get(req, "min_position");
    mpread_t v;
    bool reached = true;
    if (!min || mpread_find(body, "reached", &v) != 0 || mpread_bool(&v, &reached) != 0 || reached)
        return 0;
    const cli_kv_t *wait = request_get(req, "wait_ms");
    fprintf(stderr,
            "invctl: stale: %s is at position %lld, it did not reach --min-position %lld "
            "within --wait-ms %lld (what is shown is as of %lld)\n",
            cli_ep_daemon(req->ep), (long long)reply_int(body, "position", -1), (long long)min->num,
            (long long)(wait ? wait->num : 0), (long long)reply_int(body, "position", -1));
    return CLI_EXIT_STALE;
}

int
cli_queries_run(void *zctx, const cli_opts_t *opts, const cli_query_def_t *def)
{
    cli_request_t req;
    char err[512];
    if (cli_queries_build(opts, def, opts->argc - 1, opts->argv + 1, &req, err, sizeof err))
        return cli_report(opts->json, 1, "usage", "%s", err);
    /* A server-side wait must fit inside our deadline. */
    int timeout = opts->timeout_ms;
    for (int i = 0; i < req.n; i++) {
        if (strcmp(req.kv[i].key, "wait_ms") != 0 || req.kv[i].num <= 0)
            continue;
        int64_t wait = req.kv[i].num < CLI_MAX_WAIT_MS ? req.kv[i].num : CLI_MAX_WAIT_MS;
        if (wait + 1000 > timeout)
            timeout = (int)wait + 1000;
    }
    if (req.tail)
        return cli_audit_tail(zctx, opts, &req, req.tail, timeout, def->print);
    client_reply_t reply;
    int rc = cli_request_call(zctx, opts, &req, timeout, &reply);
    if (rc != 0)
        return rc;
    if (strcmp(req.type, "ReadStream") == 0 && stream_missing(&req, &reply.body)) {
        char stream[STREAM_MAX + 1];
        pretty_text(request_get(&req, "stream")->s, strlen(request_get(&req, "stream")->s), stream,
                    sizeof stream);
        rc = cli_report(opts->json, 2, "not_found", "no events in stream %s", stream);
    } else if (strcmp(req.type, "ProductAsOf") == 0) {
        rc = as_of_show(opts, &reply.body);
    } else {
        rc = reply_show(opts, &reply.body, def->print);
    }
    if (rc == 0)
        rc = stale_check(&req, &reply.body);
    client_reply_fini(&reply);
    return rc;
}
