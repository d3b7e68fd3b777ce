/* itest: small helpers the integration tests share (building commands and
 * requests, looking into replies).  Header-only, static inline. */
#ifndef INV_ITEST_H
#define INV_ITEST_H

#include "harness.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define ITEST_TIMEOUT_MS 5000
#define ITEST_WAIT_MS 20000

/* Starts argv in the background with its stdout to out_path (NULL: the
 * test's stderr), and its stderr there too when with_stderr; the child's
 * pid, or -1.  The caller waits for it. */
static inline pid_t
itest_start(char *const argv[], const char *out_path, bool with_stderr)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 2;
        dup2(fd, 1);
        if (with_stderr)
            dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Runs argv to completion (itest_start); the exit status, or -1. */
static inline int
itest_run(char *const argv[], const char *out_path, bool with_stderr)
{
    pid_t pid = itest_start(argv, out_path, with_stderr);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline void
itest_cmd(command_t *c, command_type_t type, const char *command_id)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    snprintf(c->command_id, sizeof c->command_id, "%s", command_id);
    snprintf(c->correlation_id, sizeof c->correlation_id, "corr-%.*s", ID_MAX - 5, command_id);
}

/* RegisterSupplier sid named name. */
static inline void
itest_supplier_cmd(command_t *c, const char *cid, const char *sid, const char *name)
{
    itest_cmd(c, CMD_REGISTER_SUPPLIER, cid);
    fields_set_str(&c->data, F_SUPPLIER_ID, sid);
    fields_set_str(&c->data, F_NAME, name);
}

/* CreateProduct with every field of DOMAIN.md. */
static inline void
itest_product_cmd(command_t *c, const char *cid, const char *pid, const char *sid, const char *sku,
                  const char *name, const char *desc, int64_t price, int64_t cost, int64_t stock,
                  int64_t threshold)
{
    itest_cmd(c, CMD_CREATE_PRODUCT, cid);
    fields_set_str(&c->data, F_PRODUCT_ID, pid);
    fields_set_str(&c->data, F_SKU, sku);
    fields_set_str(&c->data, F_NAME, name);
    fields_set_str(&c->data, F_DESCRIPTION, desc);
    fields_set_str(&c->data, F_SUPPLIER_ID, sid);
    fields_set_int(&c->data, F_PRICE_CENTS, price);
    fields_set_int(&c->data, F_COST_PRICE_CENTS, cost);
    fields_set_int(&c->data, F_STOCK, stock);
    fields_set_int(&c->data, F_LOW_STOCK_THRESHOLD, threshold);
}

/* SellProduct of qty of pid under order. */
static inline void
itest_sell_cmd(command_t *c, const char *cid, const char *pid, const char *order, int64_t qty)
{
    itest_cmd(c, CMD_SELL_PRODUCT, cid);
    fields_set_str(&c->data, F_PRODUCT_ID, pid);
    fields_set_str(&c->data, F_ORDER_ID, order);
    fields_set_int(&c->data, F_QUANTITY, qty);
}

/* Sends cmd and asserts it was accepted; returns the position of its last
 * event. */
static inline int64_t
itest_accept(harness_t *h, const command_t *c)
{
    command_reply_t r;
    cr_assert_eq(harness_command(h, c, ITEST_TIMEOUT_MS, &r), 0, "%s: no reply", c->command_id);
    cr_assert(r.accepted, "%s rejected: %s %s (%s: %s)", c->command_id, reject_code_name(r.error),
              r.message, r.fields.count ? r.fields.items[0].field : "",
              r.fields.count ? r.fields.items[0].message : "");
    cr_assert_gt(r.position, 0);
    return r.position;
}

/* Fills argv (room for cap entries) with invbench against the harness's
 * command-service, not waiting on a projector (--projector-ep ""), then
 * the NULL-terminated args, then NULL. */
static inline void
itest_invbench_argv(harness_t *h, char **argv, size_t cap, const char *const *args)
{
    size_t n = 0;
    argv[n++] = (char *)harness_binary("invbench");
    argv[n++] = "--command-ep";
    argv[n++] = (char *)harness_endpoint(h, "command");
    argv[n++] = "--projector-ep";
    argv[n++] = "";
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(n + 1, cap, "too many invbench arguments");
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
}

/* <the harness's temporary folder>/name into out. */
static inline void
itest_path_in(const harness_t *h, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", harness_dir(h), name);
}

/* Runs invctl with every endpoint of h and then args (NULL-terminated):
 * stdout into <tmp>/out_name, stderr into <tmp>/err_name (NULL: into
 * out_name too).  Its exit status; -1 when it ran over 20 s (killed).
 * *ms (may be NULL): how long it ran. */
static inline int
itest_invctl(harness_t *h, const char *out_name, const char *err_name, const char *const *args,
             int64_t *ms)
{
    static const char *const eps[][2] = {
        {"--command-ep", "command"},     {"--query-ep", "query"},
        {"--audit-ep", "audit"},         {"--alerts-ep", "alerts"},
        {"--alert-api-ep", "alert-api"}, {"--projector-ep", "projector"},
        {"--relay-ep", "catchup"},       {"--events-ep", "events"}};
    char *argv[64], out[512], err[512];
    int n = 0, status;
    argv[n++] = (char *)harness_binary("invctl");
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        argv[n++] = (char *)eps[i][0];
        argv[n++] = (char *)harness_endpoint(h, eps[i][1]);
    }
    for (int i = 0; args[i]; i++) {
        cr_assert_lt(n, 63, "too many invctl arguments");
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    itest_path_in(h, out_name, out, sizeof out);
    itest_path_in(h, err_name ? err_name : out_name, err, sizeof err);
    int64_t start = proc_mono_ms(), deadline = start + 20000;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = err_name ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644) : fd;
        dup2(fd, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    cr_assert_gt(pid, 0, "fork");
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (proc_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        harness_sleep_ms(5);
    }
    if (ms)
        *ms = proc_mono_ms() - start;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs `invctl watch events --count 1` (stdout and stderr into out_path)
 * while produce(i) makes an event every 200 ms (the subscription takes
 * effect some time after the connect), until the watcher exits or
 * ITEST_WAIT_MS passed.  Its exit status; -1 when it had to be killed. */
static inline int
itest_watch_one_event(harness_t *h, const char *out_path, void (*produce)(int i))
{
    char *argv[] = {(char *)harness_binary("invctl"),
                    "--events-ep",
                    (char *)harness_endpoint(h, "events"),
                    "watch",
                    "events",
                    "--count",
                    "1",
                    NULL};
    pid_t pid = itest_start(argv, out_path, true);
    cr_assert_gt(pid, 0);
    int status = -1;
    int64_t deadline = proc_mono_ms() + ITEST_WAIT_MS;
    for (int i = 0; proc_mono_ms() < deadline; i++) {
        produce(i);
        int64_t until = proc_mono_ms() + 200;
        pid_t done = 0;
        while (proc_mono_ms() < until && (done = waitpid(pid, &status, WNOHANG)) == 0)
            harness_sleep_ms(5);
        if (done == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* The file at path into buf (NUL-terminated, cut at cap - 1 bytes); the
 * test fails when it cannot be read.  Returns buf. */
static inline char *
itest_read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s cannot be read", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Lines of the file at path containing needle; -1 when it cannot be read. */
static inline int
itest_file_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Whether a line of the file at path contains needle (false when it cannot
 * be read). */
static inline bool
itest_file_has(const char *path, const char *needle)
{
    return itest_file_count(path, needle) > 0;
}

/* Lines of a daemon's log containing needle (the log must exist). */
static inline int
itest_log_count(harness_t *h, const char *daemon, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.log", harness_dir(h), daemon);
    int n = itest_file_count(path, needle);
    cr_assert_geq(n, 0, "%s cannot be read", path);
    return n;
}

/* Waits (bounded) for a daemon's printed output to contain needle. */
static inline void
itest_wait_log_line(harness_t *h, const char *daemon, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.log", harness_dir(h), daemon);
    int64_t deadline = proc_mono_ms() + ITEST_WAIT_MS;
    while (!itest_file_has(path, needle)) {
        cr_assert_lt(proc_mono_ms(), deadline, "%s never printed: %s", path, needle);
        harness_sleep_ms(10);
    }
}

/* A "<key>: N kB" line of /proc/<pid>/status (VmRSS, VmHWM...): N, or -1
 * when unreadable. */
static inline long
itest_proc_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = strlen(key);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':' &&
            sscanf(line + n + 1, " %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* True when o, or anything inside it, is a string containing `needle`. */
static inline bool
itest_has_text(const msgpack_object *o, const char *needle)
{
    if (!o)
        return false;
    size_t n = strlen(needle);
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        if (o->via.str.size < n)
            return false;
        for (uint32_t i = 0; i + n <= o->via.str.size; i++)
            if (memcmp(o->via.str.ptr + i, needle, n) == 0)
                return true;
        return false;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (itest_has_text(&o->via.array.ptr[i], needle))
                return true;
        return false;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (itest_has_text(&o->via.map.ptr[i].val, needle))
                return true;
        return false;
    default:
        return false;
    }
}

/* True when map o has key whose value is the string s. */
static inline bool
itest_str_is(const msgpack_object *o, const char *key, const char *s)
{
    const msgpack_object *v = codec_map_get(o, key);
    return v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == strlen(s) &&
           memcmp(v->via.str.ptr, s, v->via.str.size) == 0;
}

/* The `items` array of a list reply (asserts it is there). */
static inline const msgpack_object *
itest_items(const harness_reply_t *r)
{
    const msgpack_object *items = harness_reply_get(r, "items");
    cr_assert_not_null(items, "reply has no items");
    cr_assert_eq(items->type, MSGPACK_OBJECT_ARRAY);
    return items;
}

/* The error code of a rejection, "" when the reply has none. */
static inline const char *
itest_error(const harness_reply_t *r, char *buf, size_t cap)
{
    harness_reply_str(r, "error", buf, cap);
    return buf;
}

/* ---- requests built from a spec ------------------------------------------
 * itest_pack_pairs packs the key/value pairs that `spec` describes, one
 * character per pair; each pair takes a key (const char *) then its value
 * from the arguments: 's' const char *, 'S' const char * + size_t (raw bytes,
 * need not be UTF-8), 'i' int, 'I' int64_t, 'b' int (bool), 'n' nil (no
 * value argument). */
static inline void
itest_pack_pairs(msgpack_packer *pk, const char *spec, va_list ap)
{
    for (const char *k = spec; *k; k++) {
        codec_pack_cstr(pk, va_arg(ap, const char *));
        switch (*k) {
        case 's':
            codec_pack_cstr(pk, va_arg(ap, const char *));
            break;
        case 'S': {
            const char *s = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, s, n);
            break;
        }
        case 'i':
            msgpack_pack_int64(pk, va_arg(ap, int));
            break;
        case 'I':
            msgpack_pack_int64(pk, va_arg(ap, int64_t));
            break;
        case 'b':
            if (va_arg(ap, int))
                msgpack_pack_true(pk);
            else
                msgpack_pack_false(pk);
            break;
        default:
            msgpack_pack_nil(pk);
            break;
        }
    }
}

/* Sends {type, <pairs>} to the named endpoint and asserts that a decodable
 * reply came back (ok or not: the caller looks). */
static inline void
itest_vrequest(harness_t *h, const char *ep, harness_reply_t *r, const char *type, const char *spec,
               va_list ap)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 1 + strlen(spec));
    codec_pack_kv_str(&w.pk, "type", type);
    itest_pack_pairs(&w.pk, spec, ap);
    int rc = harness_request(h, ep, w.buf.data, w.buf.size, 15000, r);
    codec_writer_fini(&w);
    cr_assert_eq(rc, 0, "%s: no reply to %s", ep, type);
    cr_assert(r->parsed, "%s: the reply to %s is not msgpack", ep, type);
}

/* itest_vrequest with the pairs as arguments. */
static inline void
itest_request(harness_t *h, const char *ep, harness_reply_t *r, const char *type, const char *spec,
              ...)
{
    va_list ap;
    va_start(ap, spec);
    itest_vrequest(h, ep, r, type, spec, ap);
    va_end(ap);
}

/* Asserts that the reply says ok: true (naming the error otherwise). */
static inline void
itest_assert_ok(const harness_reply_t *r, const char *what)
{
    char err[64], msg[256];
    harness_reply_str(r, "error", err, sizeof err);
    harness_reply_str(r, "message", msg, sizeof msg);
    cr_assert(harness_reply_ok(r), "%s failed: %s (%s)", what, err, msg);
}

/* ---- looking into maps (each asserts the key is there with its type) ---- */

static inline const msgpack_object *
itest_get(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = codec_map_get(o, key);
    cr_assert_not_null(v, "no key %s", key);
    return v;
}

static inline int64_t
itest_int(const msgpack_object *o, const char *key)
{
    int64_t v = 0;
    cr_assert_eq(codec_get_int(itest_get(o, key), &v), 0, "%s is not an integer", key);
    return v;
}

static inline bool
itest_bool(const msgpack_object *o, const char *key)
{
    bool v = false;
    cr_assert_eq(codec_get_bool(itest_get(o, key), &v), 0, "%s is not a boolean", key);
    return v;
}

static inline double
itest_double(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = itest_get(o, key);
    cr_assert(v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32,
              "%s is not a float", key);
    return v->via.f64;
}

/* Copies a string value into buf (asserts it is a string that fits). */
static inline const char *
itest_str(const msgpack_object *o, const char *key, char *buf, size_t cap)
{
    cr_assert_eq(codec_copy_str(itest_get(o, key), buf, cap), 0, "%s is not a string", key);
    return buf;
}

/* True when the map's keys are exactly `keys` (NULL-terminated), in any
 * order. */
static inline bool
itest_keys_are(const msgpack_object *o, const char *const *keys)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return false;
    uint32_t n = 0;
    for (; keys[n]; n++)
        if (!codec_map_get(o, keys[n]))
            return false;
    return o->via.map.size == n;
}

/* The head of the store (relay Status). */
static inline int64_t
itest_head(harness_t *h)
{
    harness_reply_t r;
    cr_assert_eq(harness_status(h, "catchup", ITEST_TIMEOUT_MS, &r), 0);
    int64_t v = itest_int(r.root, "head");
    harness_reply_fini(&r);
    return v;
}

/* Waits until every read model (projector, query, audit, alert) covers
 * position; asserts it does within timeout_ms each. */
static inline void
itest_wait_all(harness_t *h, int64_t position, int timeout_ms)
{
    static const char *const readers[] = {"projector", "query", "audit", "alert"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        cr_assert_eq(harness_wait_position(h, readers[i], position, timeout_ms), 0,
                     "%s did not reach position %lld", readers[i], (long long)position);
}

/* ---- comparing a live model with a fresh build ---------------------------- */

/* Dumps a daemon's database with `<binary> --db <db> --mode dump` into out. */
static inline void
itest_dump(const char *daemon, const char *db, const char *out)
{
    char *argv[] = {(char *)harness_binary(daemon), "--db", (char *)db, "--mode", "dump", NULL};
    cr_assert_eq(itest_run(argv, out, false), 0, "%s --dump %s failed", daemon, db);
}

/* Builds a fresh database from position 0 with `<binary> --mode once`. */
static inline void
itest_fresh_build(harness_t *h, const char *daemon, const char *db)
{
    char bind[512], pub[512], log[512];
    snprintf(bind, sizeof bind, "ipc://%s/fresh-%s.sock", harness_dir(h), daemon);
    snprintf(pub, sizeof pub, "ipc://%s/fresh-%s-pub.sock", harness_dir(h), daemon);
    snprintf(log, sizeof log, "%s/fresh-%s.log", harness_dir(h), daemon);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)harness_binary(daemon);
    argv[n++] = "--db";
    argv[n++] = (char *)db;
    argv[n++] = "--events";
    argv[n++] = (char *)harness_endpoint(h, "events");
    argv[n++] = "--catchup";
    argv[n++] = (char *)harness_endpoint(h, "catchup");
    argv[n++] = "--bind";
    argv[n++] = bind;
    if (strcmp(daemon, "alert") == 0) {
        argv[n++] = "--pub";
        argv[n++] = pub;
    }
    argv[n++] = "--mode";
    argv[n++] = "once";
    argv[n] = NULL;
    cr_assert_eq(itest_run(argv, log, false), 0, "%s --once failed (see %s)", daemon, log);
}

/* Whether two files hold the same bytes, and some. */
static inline bool
itest_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    long n = 0;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
        n++;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same && n > 0;
}

/* The daemon's dumps of the live database and of fresh (a build from the
 * log) are the same bytes. */
static inline void
itest_assert_same_dump(harness_t *h, const char *daemon, const char *live_db, const char *fresh)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s.live.dump", harness_dir(h), daemon);
    snprintf(b, sizeof b, "%s/%s.fresh.dump", harness_dir(h), daemon);
    itest_dump(daemon, live_db, a);
    itest_dump(daemon, fresh, b);
    cr_assert(itest_same_file(a, b), "%s: live %s differs from a fresh build (diff %s %s)", daemon,
              live_db, a, b);
}

/* The daemon's live database equals a fresh build from the log. */
static inline void
itest_assert_equals_fresh(harness_t *h, const char *daemon, const char *live_db)
{
    char fresh[512];
    snprintf(fresh, sizeof fresh, "%s/fresh-%s.db", harness_dir(h), daemon);
    itest_fresh_build(h, daemon, fresh);
    itest_assert_same_dump(h, daemon, live_db, fresh);
}

#endif
