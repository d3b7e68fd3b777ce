/* fuzz_extremes: 64-bit extremes through the domain and the projections
 * (issue 23, item 3: the fuzzer alone, mutating bytes, did not reach the
 * overflows that valid values at the edges of int64 cause).
 *
 * The input is a program, not a message: each step is one byte choosing a
 * command type and a product (p0..p3), then one byte per integer field of
 * that command choosing its value among extremes[] (0, 1, -1, 2^31, 2^62,
 * 2^63 - 1, INT64_MIN, ...; odd multiples of the table's size add one, or
 * take one from the top values).  A step byte >= 252 instead sets the clock
 * (the next events' recorded_at, as a damaged store or a hostile relay
 * could deliver them) to the extreme the next byte chooses.  Each command is built with every field
 * it takes, encoded and decoded by the codec (the command-service's validation), decided and folded
 * by the pure domain (product_decide, product_apply) over a world with suppliers s0 and s1
 * registered, and every event accepted is delivered, as the relay would, to the audit and alert
 * models (rolled back after each input) and to a fresh projector read model (readmodel_apply, one
 * transaction), which the query service then answers from.
 *
 * What fails here: UBSan on any signed overflow in C (the domain, the
 * projector's folds); and two checks on the read side, since SQLite does
 * not trap: every query over the model answers (ok, or not_found for a
 * product the program never created; never `unavailable`, which is what
 * an integer overflow in SQL gives), and no value in a reply is a float
 * but avg_rating and margin_percent (SQLite turns an overflowing integer
 * into a float).  INV_FUZZ_NO_QUERIES=1 in the environment leaves the
 * queries out (only the C folds are judged, by UBSan; one model whose
 * transaction is rolled back after each input, ten times faster), so that a
 * long run is not stopped by the read side's first finding every time. */
#include "alerts.h"
#include "auditlog.h"
#include "codec.h"
#include "fuzz.h"
#include "queries.h"
#include "readmodel.h"
#include "request.h"

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define STEPS_MAX 24
#define P62 ((int64_t)1 << 62)

static const int64_t extremes[] = {
    0,
    1,
    2,
    -1,
    10,
    1000,
    INT32_MAX,
    (int64_t)1 << 31,
    (int64_t)1 << 32,
    (int64_t)1 << 53,
    P62,
    -P62,
    INT64_MAX / 2,
    INT64_MAX - 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
};
#define N_EXTREMES ((int)(sizeof extremes / sizeof extremes[0]))

static fuzz_world_t world;
static command_t cmd, decoded;
static event_t evs[STEPS_MAX + 2], ev;
static field_errors_t errs;
static codec_writer_t w, reply;
static queries_t *queries;
static char tmpl_path[128], model_path[128];
static readmodel_t *rolled; /* INV_FUZZ_NO_QUERIES: the one model, rolled back */
static auditlog_t *audit;   /* rolled back after each input */
static alerts_t *alerts;    /* rolled back after each input */

/* Applies the events to a model whose ops roll back what they did. */
static void
apply_rolled_back(const char *name, const subscriber_ops_t *ops, void *model, int n)
{
    FUZZ_CHECK(ops->begin(model) == 0, "%s: begin", name);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(ops->apply(model, &evs[i]) == 0, "%s: apply of %s at %lld", name,
                   event_spec(evs[i].env.type)->name, (long long)evs[i].env.position);
    ops->rollback(model);
}

/* The value a byte chooses. */
static int64_t
extreme(uint8_t b)
{
    int64_t v = extremes[b % N_EXTREMES];
    if ((b / N_EXTREMES) % 2 == 1)
        v = v > 0 ? v - 1 : v + 1;
    return v;
}

/* Fills the command of type t on product p from the input at *data. */
static void
build(command_type_t t, int p, int step, const uint8_t **data, size_t *size)
{
    fuzz_command(&cmd, t, 100 + step);
    const command_spec_t *sp = command_spec(t);
    uint32_t which = sp->required | sp->optional;
    char id[8];
    for (int f = 0; f < F__COUNT; f++) {
        if (!(which & FIELD_BIT(f)))
            continue;
        const field_spec_t *fs = fields_spec((field_id_t)f);
        if (fs->kind == FK_INT) {
            uint8_t b = 0;
            if (*size) {
                b = **data;
                (*data)++;
                (*size)--;
            }
            fields_set_int(&cmd.data, (field_id_t)f, extreme(b));
        } else if (f == F_PRODUCT_ID) {
            snprintf(id, sizeof id, "p%d", p);
            fields_set_str(&cmd.data, F_PRODUCT_ID, id);
        } else if (f == F_SUPPLIER_ID) {
            snprintf(id, sizeof id, "s%d", p % FUZZ_SUPPLIERS);
            fields_set_str(&cmd.data, F_SUPPLIER_ID, id);
        } else if (f == F_NAME) {
            snprintf(id, sizeof id, "n%d", step);
            fields_set_str(&cmd.data, F_NAME, id);
        } else if (fs->kind == FK_ID) {
            fields_set_str(&cmd.data, (field_id_t)f, "x1");
        } else {
            fields_set_str(&cmd.data, (field_id_t)f, fs->min_len ? "t" : "");
        }
    }
}

/* Runs one command as the command-service does; 1 when an event was made. */
static int
run(event_t *out)
{
    char why[256];
    codec_writer_reset(&w);
    codec_pack_command(&w, &cmd);
    if (codec_decode_command(w.buf.data, w.buf.size, &decoded, &errs, why, sizeof why) != REJ_NONE)
        return 0; /* refused by validation: what the bounds are for */
    if (!fuzz_world_run(&world, &decoded, out))
        return 0;
    /* as the relay delivers it */
    const char *e;
    codec_writer_reset(&w);
    codec_pack_event(&w, out);
    FUZZ_CHECK(codec_decode_event(w.buf.data, w.buf.size, &ev, &e) == 0, "event: %s", e);
    return 1;
}

/* No float in the value at r but the two documented ones; key names it.
 * Moves r past the value. */
static void
check_numbers(mpread_t *r, const char *key, size_t key_len, const char *query)
{
    mpval_t v;
    FUZZ_CHECK(mpread_value(r, &v) == 0, "%s: a reply that does not read", query);
    if (v.type == MP_FLOAT) {
        FUZZ_CHECK((key_len == 10 && memcmp(key, "avg_rating", 10) == 0) ||
                       (key_len == 14 && memcmp(key, "margin_percent", 14) == 0),
                   "%s answers %.*s as the float %g (an integer overflowed in SQL)", query,
                   (int)key_len, key, v.f);
    } else if (v.type == MP_ARRAY) {
        for (uint32_t i = 0; i < v.len; i++)
            check_numbers(r, key, key_len, query);
    } else if (v.type == MP_MAP) {
        for (uint32_t i = 0; i < v.len; i++) {
            const char *k = "";
            size_t k_len = 0;
            FUZZ_CHECK(mpread_str(r, &k, &k_len) == 0, "%s: a key that is not a string", query);
            check_numbers(r, k, k_len, query);
        }
    }
}

/* The string at key in the map at r, or "?". */
static const char *
str_at(const mpread_t *r, const char *key, size_t *len)
{
    mpread_t v;
    const char *s = "?";
    *len = 1;
    if (mpread_find(r, key, &v) != 0 || mpread_str(&v, &s, len) != 0) {
        s = "?";
        *len = 1;
    }
    return s;
}

/* Asks one query and checks its reply. */
static void
ask(const char *type, const char *product_id)
{
    codec_writer_reset(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", type);
    if (product_id)
        codec_map_str(&w, "product_id", product_id);
    codec_map_close(&w);
    request_t rq;
    request_error_t err;
    FUZZ_CHECK(request_parse(w.buf.data, w.buf.size, &rq, &err) == 0, "%s: %s", type, err.message);
    codec_writer_reset(&reply);
    queries_execute(queries, &rq, &reply);
    mpread_t r, v;
    const char *why;
    FUZZ_CHECK(codec_reader_check(&r, reply.buf.data, reply.buf.size, &why) == 0, "%s reply: %s",
               type, why);
    bool ok = false;
    if (mpread_find(&r, "ok", &v) == 0)
        mpread_bool(&v, &ok);
    if (!ok) {
        size_t code_len, msg_len;
        const char *code = str_at(&r, "error", &code_len), *msg = str_at(&r, "message", &msg_len);
        FUZZ_CHECK(product_id && code_len == 9 && memcmp(code, "not_found", 9) == 0,
                   "%s %s answers %.*s: %.*s", type, product_id ? product_id : "", (int)code_len,
                   code, (int)msg_len, msg);
    }
    check_numbers(&r, "", 0, type);
}

/* A copy of the empty model made once, so each input starts from a fresh
 * read.db without creating its schema again. */
static void
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    if (!in || !out)
        abort();
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            abort();
    fclose(in);
    if (fclose(out) != 0)
        abort();
}

FUZZ_SETUP

static void
fuzz_setup(void)
{
    const char *why;
    snprintf(tmpl_path, sizeof tmpl_path, "%s", fuzz_path("template.db"));
    snprintf(model_path, sizeof model_path, "%s", fuzz_path("read.db"));
    readmodel_t *m = readmodel_open(tmpl_path, &why);
    if (!m)
        abort();
    readmodel_close(&m);
    if (getenv("INV_FUZZ_NO_QUERIES") && !(rolled = readmodel_open(model_path, &why)))
        abort();
    audit = auditlog_open(fuzz_path("audit.db"), NULL, &why);
    alerts = alerts_open(fuzz_path("alerts.db"), NULL, &why);
    if (!audit || !alerts)
        abort();
    queries = queries_new(model_path);
    codec_writer_init(&w);
    codec_writer_init(&reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world_init(&world);
    int n = 0;
    for (int s = 0; s < FUZZ_SUPPLIERS; s++) { /* s0, s1 */
        fuzz_command(&cmd, CMD_REGISTER_SUPPLIER, s);
        fields_set_str(&cmd.data, F_SUPPLIER_ID, s ? "s1" : "s0");
        fields_set_str(&cmd.data, F_NAME, "supplier");
        n += run(&evs[n]);
    }
    for (int step = 0; step < STEPS_MAX && size > 0; step++) {
        uint8_t op = *data++;
        size--;
        if (op >= 252) { /* the clock */
            if (size > 0) {
                world.now = extreme(*data++);
                size--;
            }
            continue;
        }
        command_type_t t = (command_type_t)(op % CMD__COUNT);
        build(t, (op / CMD__COUNT) % FUZZ_PRODUCTS, step, &data, &size);
        n += run(&evs[n]);
    }

    apply_rolled_back("audit", &auditlog_ops, audit, n);
    apply_rolled_back("alerts", &alerts_ops, alerts, n);
    if (rolled) { /* the projector's folds only */
        FUZZ_CHECK(readmodel_begin(rolled) == 0, "begin: %s", readmodel_errmsg(rolled));
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(readmodel_apply(rolled, &evs[i]) == 0, "apply: %s",
                       readmodel_errmsg(rolled));
        readmodel_rollback(rolled);
        return 0;
    }

    /* the projector, on a fresh model */
    char side[160];
    unlink(model_path);
    snprintf(side, sizeof side, "%s-wal", model_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", model_path);
    unlink(side);
    copy_file(tmpl_path, model_path);
    const char *why;
    readmodel_t *m = readmodel_open(model_path, &why);
    FUZZ_CHECK(m != NULL, "read model: %s", why);
    FUZZ_CHECK(readmodel_begin(m) == 0, "begin: %s", readmodel_errmsg(m));
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(readmodel_apply(m, &evs[i]) == 0, "apply of %s at %lld: %s",
                   event_spec(evs[i].env.type)->name, (long long)evs[i].env.position,
                   readmodel_errmsg(m));
    FUZZ_CHECK(readmodel_commit(m, n, evs[n - 1].env.event_id) == 0, "commit: %s",
               readmodel_errmsg(m));

    /* the query service, over what the projector wrote */
    static const char *const lists[] = {"Dashboard", "ListProducts", "ListSuppliers",
                                        "TopRated",  "LowStock",     "Status"};
    static const char *const one[] = {"GetProductDetail", "GetAdminProduct", "PriceHistory"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        ask(lists[i], NULL);
    for (int p = 0; p < FUZZ_PRODUCTS; p++) {
        char id[8];
        snprintf(id, sizeof id, "p%d", p);
        for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
            ask(one[i], id);
    }
    readmodel_close(&m);
    return 0;
}
