/* invctl argument handling: words -> command_t / query request, strict
 * integers and times, errors for unknown flags; and one round trip against
 * a fake command service (accepted, rejected, nobody there). */
#include "bus.h"
#include "cli.h"
#include "cli_commands.h"
#include "cli_queries.h"
#include "cli_status.h"
#include "codec.h"
#include "pretty.h"
#include "proc.h"
#include "utf8.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGV(...) ((char *[]){"invctl", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"invctl", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), err, sizeof err)

static char err[512];

/* Parses argv fully into a command (cmd) or else a query request (req);
 * 0 or -1 (err set). */
static int
build(command_t *cmd, cli_request_t *req, int argc, char **argv)
{
    cli_opts_t o;
    if (cli_parse(argc, argv, &o, err, sizeof err) != 0)
        return -1;
    const char *sub = o.argv[0];
    const cli_command_def_t *command = cmd ? cli_commands_find(sub) : NULL;
    const cli_query_def_t *q = cmd ? NULL : cli_queries_find(sub);
    cr_assert(command || q, "no %s %s", cmd ? "command" : "query", sub);
    return command ? cli_commands_build(&o, command, o.argc - 1, o.argv + 1, cmd, err, sizeof err)
                   : cli_queries_build(&o, q, o.argc - 1, o.argv + 1, req, err, sizeof err);
}
#define BUILD(cmd, ...) build((cmd), NULL, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))
#define QUERY(req, ...) build(NULL, (req), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static const cli_kv_t *
kv(const cli_request_t *req, const char *key)
{
    for (int i = 0; i < req->n; i++)
        if (strcmp(req->kv[i].key, key) == 0)
            return &req->kv[i];
    return NULL;
}

/* ---- integers and times --------------------------------------------------- */

Test(cli, int_parsing_is_strict)
{
    int64_t v;
    cr_expect_eq(cli_parse_int("12", &v), 0);
    cr_expect_eq(v, 12);
    cr_expect_eq(cli_parse_int("-5", &v), 0);
    cr_expect_eq(v, -5);
    cr_expect_eq(cli_parse_int("9223372036854775807", &v), 0);
    cr_expect_eq(v, INT64_MAX);
    const char *bad[] = {
        "12x", "", "-", "x12", " 12", "12 ", "1e3", "+5", "0x10", "1.5", "9223372036854775808",
        "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(cli_parse_int(bad[i], &v), -1, "accepted '%s'", bad[i]);
}

Test(cli, iso_times)
{
    int64_t us;
    cr_expect_eq(cli_parse_time("1970-01-01T00:00:01Z", &us), 0);
    cr_expect_eq(us, 1000000);
    cr_expect_eq(cli_parse_time("1970-01-02", &us), 0);
    cr_expect_eq(us, 86400LL * 1000000);
    cr_expect_eq(cli_parse_time("1970-01-01T01:00:00.25+01:00", &us), 0);
    cr_expect_eq(us, 250000);
    cr_expect_eq(cli_parse_time("2026-11-23T15:11:24.123456Z", &us), 0);
    char buf[40];
    cli_format_time(us, buf, sizeof buf);
    cr_expect_str_eq(buf, "2026-11-23T15:11:24.123456Z");
    const char *bad[] = {"2026-02-30", "2026-13-01",    "2026-11-23T25:00",    "2026-11-23T15:11Zx",
                         "yesterday",  "2026-11-23T15", "2026-11-23T15:11:24."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(cli_parse_time(bad[i], &us), -1, "accepted '%s'", bad[i]);
}

/* ---- global options ------------------------------------------------------- */

Test(cli, global_options_before_and_after_the_subcommand)
{
    cli_opts_t o;
    /* o.argv points into argv: keep the array alive for the whole test */
    char **argv = ARGV("--json", "sell", "p1", "--qty", "2", "--timeout-ms", "250",
                       "--command-ep=ipc:///tmp/x", "--wait");
    int rc = cli_parse(10, argv, &o, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect(o.json);
    cr_expect(o.wait);
    cr_expect(o.timeout_set);
    cr_expect_eq(o.timeout_ms, 250);
    cr_expect_str_eq(o.ep[CLI_EP_COMMAND], "ipc:///tmp/x");
    cr_assert_eq(o.argc, 4);
    cr_expect_str_eq(o.argv[0], "sell");
    cr_expect_str_eq(o.argv[1], "p1");
    cr_expect_str_eq(o.argv[3], "2");
}

Test(cli, endpoint_from_environment_then_default)
{
    cli_opts_t o;
    setenv("INV_QUERY_EP", "tcp://query:5553", 1);
    cr_assert_eq(PARSE(&o, "dashboard"), 0);
    cr_expect_str_eq(o.ep[CLI_EP_QUERY], "tcp://query:5553");
    cr_expect_str_eq(o.ep[CLI_EP_AUDIT], "tcp://127.0.0.1:5554");
    cr_assert_eq(PARSE(&o, "dashboard", "--query-ep", "tcp://other:1"), 0);
    cr_expect_str_eq(o.ep[CLI_EP_QUERY], "tcp://other:1");
    unsetenv("INV_QUERY_EP");
}

Test(cli, bad_global_values)
{
    cli_opts_t o;
    cr_expect_eq(PARSE(&o, "dashboard", "--timeout-ms", "12x"), -1);
    cr_expect(strstr(err, "--timeout-ms") != NULL, "%s", err);
    cr_expect_eq(PARSE(&o, "dashboard", "--timeout-ms"), -1);
    cr_expect_eq(PARSE(&o, "dashboard", "--expected-version", "-1"), -1);
    cr_expect_eq(PARSE(&o, "dashboard", "--json=yes"), -1);
}

/* ---- commands ------------------------------------------------------------- */

Test(cli, create_product_maps_every_flag)
{
    command_t c;
    cr_assert_eq(BUILD(&c, "create-product", "--id", "p1", "--sku", "SKU-1", "--name", "Widget",
                       "--description", "A widget", "--supplier", "s1", "--price", "1999", "--cost",
                       "1200", "--stock", "40", "--threshold", "10"),
                 0, "%s", err);
    cr_expect_eq(c.type, CMD_CREATE_PRODUCT);
    cr_expect_str_eq(c.data.product_id, "p1");
    cr_expect_str_eq(c.data.sku, "SKU-1");
    cr_expect_str_eq(c.data.name, "Widget");
    cr_expect_str_eq(c.data.description, "A widget");
    cr_expect_str_eq(c.data.supplier_id, "s1");
    cr_expect_eq(fields_int(&c.data, F_PRICE_CENTS), 1999);
    cr_expect_eq(fields_int(&c.data, F_COST_PRICE_CENTS), 1200);
    cr_expect_eq(fields_int(&c.data, F_STOCK), 40);
    cr_expect_eq(fields_int(&c.data, F_LOW_STOCK_THRESHOLD), 10);
    cr_expect_eq(strlen(c.command_id), PROC_ORDERED_ID_LEN, "time-ordered command id: %s",
                 c.command_id);
    cr_expect_eq(c.command_id[14], '-', "time-ordered command id: %s", c.command_id);
    cr_expect_eq(c.correlation_id[0], '\0');
    cr_expect_not(c.has_expected_version);
}

Test(cli, sell_with_positional_id_and_default_order)
{
    command_t c, d;
    cr_assert_eq(BUILD(&c, "sell", "p1", "--qty", "3"), 0, "%s", err);
    cr_assert_eq(BUILD(&d, "sell", "p1", "--qty", "3"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_SELL_PRODUCT);
    cr_expect_str_eq(c.data.product_id, "p1");
    cr_expect_eq(fields_int(&c.data, F_QUANTITY), 3);
    cr_expect(strncmp(c.data.order_id, "o-", 2) == 0);
    cr_expect_str_neq(c.data.order_id, d.data.order_id);
    cr_expect_str_neq(c.command_id, d.command_id);
    cr_assert_eq(BUILD(&c, "sell", "--id", "p1", "--qty=1", "--order", "o9"), 0, "%s", err);
    cr_expect_str_eq(c.data.order_id, "o9");
}

Test(cli, envelope_options_reach_the_command)
{
    command_t c;
    cr_assert_eq(BUILD(&c, "--command-id", "cmd-1", "change-price", "p1", "--price", "-5",
                       "--correlation-id", "corr-9", "--expected-version", "4"),
                 0, "%s", err);
    cr_expect_eq(c.type, CMD_CHANGE_PRICE);
    cr_expect_str_eq(c.command_id, "cmd-1");
    cr_expect_str_eq(c.correlation_id, "corr-9");
    cr_expect(c.has_expected_version);
    cr_expect_eq(c.expected_version, 4);
    /* negative prices are the server's to reject, with a field message */
    cr_expect_eq(fields_int(&c.data, F_PRICE_CENTS), -5);
}

Test(cli, other_commands_map_their_fields)
{
    command_t c;
    cr_assert_eq(BUILD(&c, "update-stock", "p1", "--stock", "0"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_UPDATE_STOCK);
    cr_expect_eq(fields_int(&c.data, F_NEW_STOCK), 0);
    cr_assert_eq(BUILD(&c, "review", "p1", "--review-id", "r1", "--customer", "c1", "--rating", "5",
                       "--comment", "great"),
                 0, "%s", err);
    cr_expect_eq(c.type, CMD_SUBMIT_REVIEW);
    cr_expect_str_eq(c.data.review_id, "r1");
    cr_expect_str_eq(c.data.customer_id, "c1");
    cr_expect_eq(fields_int(&c.data, F_RATING), 5);
    cr_expect_str_eq(c.data.comment, "great");
    cr_assert_eq(BUILD(&c, "register-supplier", "--id", "s1", "--name", "Acme"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_REGISTER_SUPPLIER);
    cr_expect_str_eq(c.data.supplier_id, "s1");
    cr_expect_str_eq(c.data.name, "Acme");
    cr_assert_eq(BUILD(&c, "rename-supplier", "--id", "s1", "--name", "Acme2"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_RENAME_SUPPLIER);
    cr_assert_eq(BUILD(&c, "view", "p1"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_RECORD_PRODUCT_VIEW);
    cr_assert_eq(BUILD(&c, "discontinue", "p1", "--reason", "old"), 0, "%s", err);
    cr_expect_eq(c.type, CMD_DISCONTINUE_PRODUCT);
    cr_expect_str_eq(c.data.reason, "old");
}

Test(cli, command_errors)
{
    command_t c;
    cr_expect_eq(BUILD(&c, "sell", "p1", "--qty", "12x"), -1);
    cr_expect(strstr(err, "--qty") && strstr(err, "12x"), "%s", err);
    cr_expect_eq(BUILD(&c, "sell", "p1", "--qty", "1", "--bogus", "2"), -1);
    cr_expect(strstr(err, "unknown option '--bogus'"), "%s", err);
    cr_expect_eq(BUILD(&c, "sell", "p1"), -1);
    cr_expect(strstr(err, "--qty"), "%s", err);
    cr_expect_eq(BUILD(&c, "sell", "--qty", "1"), -1);
    cr_expect(strstr(err, "product_id"), "%s", err);
    cr_expect_eq(BUILD(&c, "sell", "p1", "p2", "--qty", "1"), -1);
    cr_expect_eq(BUILD(&c, "sell", "p1", "--id", "p2", "--qty", "1"), -1);
    cr_expect_eq(BUILD(&c, "sell", "p1", "--qty", "1", "--qty", "2"), -1);
    cr_expect_eq(BUILD(&c, "sell", "p1", "--qty"), -1);
    cr_expect(strstr(err, "needs a value"), "%s", err);
    cr_expect_eq(BUILD(&c, "create-product", "--id", "p1", "--sku", "k"), -1);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect_eq(BUILD(&c, "register-supplier", "--id", "s1", "--name", longname), -1);
    cr_expect(strstr(err, "too long"), "%s", err);
}

Test(cli, built_command_round_trips_through_the_codec)
{
    command_t c, back;
    cr_assert_eq(BUILD(&c, "review", "p1", "--review-id", "r1", "--customer", "c1", "--rating", "4",
                       "--correlation-id", "x1"),
                 0, "%s", err);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command(&w, &c);
    field_errors_t errs = {0};
    char why[128];
    cr_assert_eq(codec_decode_command(w.buf.data, w.buf.size, &back, &errs, why, sizeof why),
                 REJ_NONE, "%s", why);
    cr_expect_eq(back.type, CMD_SUBMIT_REVIEW);
    cr_expect_str_eq(back.command_id, c.command_id);
    cr_expect_str_eq(back.correlation_id, "x1");
    cr_expect_eq(fields_int(&back.data, F_RATING), 4);
    codec_writer_fini(&w);
}

/* ---- queries -------------------------------------------------------------- */

Test(cli, products_flags_become_request_keys)
{
    cli_request_t r;
    cr_assert_eq(QUERY(&r, "products", "--supplier", "s1", "--in-stock", "--all", "--limit", "5",
                       "--cursor", "abc", "--min-position", "17", "--wait-ms", "500"),
                 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_QUERY);
    cr_expect_str_eq(r.type, "ListProducts");
    cr_expect_str_eq(kv(&r, "supplier_id")->s, "s1");
    cr_expect_eq(kv(&r, "in_stock")->kind, ARG_BOOL);
    cr_expect_eq(kv(&r, "include_discontinued")->kind, ARG_BOOL);
    cr_expect_eq(kv(&r, "limit")->num, 5);
    cr_expect_str_eq(kv(&r, "cursor")->s, "abc");
    cr_expect_eq(kv(&r, "min_position")->num, 17);
    cr_expect_eq(kv(&r, "wait_ms")->num, 500);
    cr_expect_eq(QUERY(&r, "products", "--limit", "5x"), -1);
    cr_expect_eq(QUERY(&r, "products", "--nope"), -1);
    cr_expect_eq(QUERY(&r, "products", "extra"), -1);
}

Test(cli, product_as_of_goes_to_the_relay)
{
    cli_request_t r;
    cr_assert_eq(QUERY(&r, "product", "p1"), 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_QUERY);
    cr_expect_str_eq(r.type, "GetProductDetail");
    cr_expect_str_eq(kv(&r, "product_id")->s, "p1");
    cr_assert_eq(QUERY(&r, "product", "p1", "--as-of", "12"), 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_RELAY);
    cr_expect_str_eq(r.type, "ProductAsOf");
    cr_expect_eq(kv(&r, "position")->num, 12);
    cr_expect_null(kv(&r, "time_us"));
    cr_assert_eq(QUERY(&r, "product", "p1", "--as-of", "1970-01-01T00:00:02Z"), 0, "%s", err);
    cr_expect_eq(kv(&r, "time_us")->num, 2000000);
    cr_expect_eq(QUERY(&r, "product", "p1", "--as-of", "soon"), -1);
    cr_expect_eq(QUERY(&r, "product"), -1);
}

Test(cli, history_and_audit)
{
    cli_request_t r;
    cr_assert_eq(QUERY(&r, "history", "p1"), 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_RELAY);
    cr_expect_str_eq(r.type, "ReadStream");
    cr_expect_str_eq(kv(&r, "stream")->s, "product-p1");
    cr_assert_eq(QUERY(&r, "history", "--stream", "supplier-s1"), 0, "%s", err);
    cr_expect_str_eq(kv(&r, "stream")->s, "supplier-s1");
    cr_expect_eq(QUERY(&r, "history"), -1);
    cr_expect_eq(QUERY(&r, "history", "p1", "--stream", "supplier-s1"), -1);
    cr_assert_eq(QUERY(&r, "audit", "--stream", "product-p1", "--correlation-id", "c7", "--from",
                       "1970-01-01T00:00:01Z", "--to", "5000000", "--limit", "3"),
                 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_AUDIT);
    cr_expect_str_eq(r.type, "SearchAudit");
    cr_expect_str_eq(kv(&r, "correlation_id")->s, "c7");
    cr_expect_eq(kv(&r, "from_us")->num, 1000000);
    cr_expect_eq(kv(&r, "to_us")->num, 5000000);
    cr_assert_eq(QUERY(&r, "alerts", "--product", "p1"), 0, "%s", err);
    cr_expect_eq(r.ep, CLI_EP_ALERT_API);
    cr_expect_str_eq(kv(&r, "product_id")->s, "p1");
    cr_assert_eq(QUERY(&r, "search", "--", "-blue widget"), 0, "%s", err);
    cr_expect_str_eq(kv(&r, "q")->s, "-blue widget");
}

Test(cli, status_columns_from_a_reply)
{
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_bool(&w, "ok", true);
    codec_map_int(&w, "checkpoint", 7);
    codec_map_key(&w, "subscriber");
    codec_map_open(&w);
    codec_map_int(&w, "head", 10);
    codec_map_int(&w, "heartbeat_age_ms", 300);
    codec_map_close(&w);
    codec_map_close(&w);
    mpread_t r;
    const char *why;
    cr_assert_eq(codec_reader_check(&r, w.buf.data, w.buf.size, &why), 0);
    status_row_t row;
    cli_status_extract(&r, &row);
    cr_expect(row.has[ST_CHECKPOINT] && row.val[ST_CHECKPOINT] == 7);
    cr_expect(row.has[ST_HEAD] && row.val[ST_HEAD] == 10);
    cr_expect(row.has[ST_LAG_EVENTS] && row.val[ST_LAG_EVENTS] == 3);
    cr_expect(row.has[ST_HEARTBEAT_AGE] && row.val[ST_HEARTBEAT_AGE] == 300);
    cr_expect_not(row.has[ST_LAG_MS]);
    cr_expect_not(row.has[ST_BACKLOG]);
    codec_writer_fini(&w);
}

/* Expects cli_status_note of the reply map in w to be note; frees w. */
static void
expect_note(codec_writer_t *w, const char *note)
{
    mpread_t r;
    const char *why;
    cr_assert_eq(codec_reader_check(&r, w->buf.data, w->buf.size, &why), 0);
    cr_expect_str_eq(cli_status_note(&r), note);
    codec_writer_fini(w);
}

Test(cli, status_notes_a_model_being_replaced)
{
    const bool flags[3][2] = {{false, false}, {false, true}, {true, true}};
    const char *notes[3] = {"", "rebuilding", "MODEL UNUSABLE, rebuilding"};
    for (int i = 0; i < 3; i++) {
        codec_writer_t w;
        codec_writer_init(&w);
        codec_map_open(&w);
        codec_map_bool(&w, "model_unusable", flags[i][0]);
        codec_map_bool(&w, "rebuilding", flags[i][1]);
        codec_map_close(&w);
        expect_note(&w, notes[i]);
    }
}

Test(cli, status_shows_a_rebuilds_progress_in_percent)
{
    /* rebuild_checkpoint, head: hostile values too (no overflow, 0..100) */
    const int64_t at[4][2] = {{50, 200}, {200, 200}, {INT64_MAX, 7}, {-5, INT64_MAX}};
    const char *notes[4] = {"rebuilding 25%", "rebuilding 100%", "rebuilding 100%", "rebuilding"};
    for (int i = 0; i < 4; i++) {
        codec_writer_t w;
        codec_writer_init(&w);
        codec_map_open(&w);
        codec_map_bool(&w, "rebuilding", true);
        codec_map_int(&w, "rebuild_checkpoint", at[i][0]);
        codec_map_int(&w, "head", at[i][1]);
        codec_map_close(&w);
        expect_note(&w, notes[i]);
    }
}

Test(cli, status_notes_a_wal_held_back)
{
    const int64_t wal[3][2] = {{20000, 19000}, {20000, 3616}, {16384, 0}};
    const char *held = "WAL 64+ MiB not checkpointed (a reader holds an old snapshot?)";
    const char *notes[3] = {"", held, held};
    for (int i = 0; i < 3; i++) {
        codec_writer_t w;
        codec_writer_init(&w);
        codec_map_open(&w);
        codec_map_int(&w, "wal_frames", wal[i][0]);
        codec_map_int(&w, "wal_backfilled", wal[i][1]);
        codec_map_close(&w);
        expect_note(&w, notes[i]);
    }
}

/* ---- against a fake command service -------------------------------------- */

typedef struct {
    void *zctx;
    char ep[128];
    bool accept;
    volatile int ready;
} fake_t;

static void *
fake_command_service(void *arg)
{
    fake_t *f = arg;
    void *router = bus_bind(f->zctx, ZMQ_ROUTER, f->ep);
    f->ready = router ? 1 : -1;
    if (!router)
        return NULL;
    bus_msg_t m;
    if (bus_recv(router, &m, 0) == 0) {
        size_t len;
        const void *body = bus_body(&m, &len);
        command_t cmd;
        field_errors_t errs = {0};
        char why[128];
        command_reply_t r = {0};
        codec_decode_command(body, len, &cmd, &errs, why, sizeof why);
        snprintf(r.command_id, sizeof r.command_id, "%s", cmd.command_id);
        r.accepted = f->accept;
        if (f->accept) {
            command_stream(&cmd, r.stream);
            r.version = 3;
            r.position = 17;
        } else {
            r.error = REJ_INSUFFICIENT_STOCK;
            snprintf(r.message, sizeof r.message, "only 3 in stock");
        }
        codec_writer_t w;
        codec_writer_init(&w);
        codec_pack_command_reply(&w, &r);
        bus_reply(router, &m, w.buf.data, w.buf.size);
        codec_writer_fini(&w);
        bus_msg_close(&m);
    }
    bus_close(&router);
    return NULL;
}

/* `invctl sell p1 --qty 2 --timeout-ms 300` against a fake command-service
 * (present: it answers, accepting or rejecting); with `wait`, --wait too,
 * the query service's endpoint a socket nobody serves. */
static int
run_against_fake_waiting(bool present, bool accept, bool wait)
{
    fake_t f = {zmq_ctx_new(), "", accept, 0};
    snprintf(f.ep, sizeof f.ep, "ipc:///tmp/invctl-test-%d.sock", (int)getpid());
    pthread_t t;
    if (present) {
        pthread_create(&t, NULL, fake_command_service, &f);
        while (!f.ready)
            usleep(1000);
        cr_assert_eq(f.ready, 1);
    }
    char query_ep[128];
    snprintf(query_ep, sizeof query_ep, "ipc:///tmp/invctl-test-%d-nobody.sock", (int)getpid());
    char **argv = ARGV("sell", "p1", "--qty", "2", "--timeout-ms", "300", "--command-ep", f.ep,
                       "--query-ep", query_ep, "--wait");
    int argc = ARGC("sell", "p1", "--qty", "2", "--timeout-ms", "300", "--command-ep", f.ep,
                    "--query-ep", query_ep, "--wait") -
               (wait ? 0 : 1);
    argv[argc] = NULL;
    cli_opts_t o;
    cr_assert_eq(cli_parse(argc, argv, &o, err, sizeof err), 0);
    int rc = cli_commands_run(f.zctx, &o, cli_commands_find("sell"));
    if (present)
        pthread_join(t, NULL);
    zmq_ctx_term(f.zctx);
    return rc;
}

static int
run_against_fake(bool present, bool accept)
{
    return run_against_fake_waiting(present, accept, false);
}

/* Accepted, then --wait cannot reach the query service: the command is in,
 * so the exit is 3 (accepted but not seen applied), not 1, which a script
 * retries (and sells twice); and within --timeout-ms, not 2 s past it. */
Test(cli, an_accepted_command_whose_wait_cannot_reach_the_query_side_exits_3_in_time)
{
    int64_t t0 = proc_mono_ms();
    cr_expect_eq(run_against_fake_waiting(true, true, true), 3);
    cr_expect_leq(proc_mono_ms() - t0, 1500, "took %lld ms with --timeout-ms 300",
                  (long long)(proc_mono_ms() - t0));
}

Test(cli, accepted_command_exits_0)
{
    cr_expect_eq(run_against_fake(true, true), 0);
}

Test(cli, rejected_command_exits_2)
{
    cr_expect_eq(run_against_fake(true, false), 2);
}

Test(cli, absent_service_times_out_with_exit_1)
{
    cr_expect_eq(run_against_fake(false, false), 1);
}

Test(cli, command_ids_sort_by_time_and_differ)
{
    char a[PROC_ORDERED_ID_LEN + 1], b[PROC_ORDERED_ID_LEN + 1];
    proc_ordered_id(a);
    usleep(2000);
    proc_ordered_id(b);
    cr_expect_lt(strcmp(a, b), 0, "%s made before %s sorts after it", a, b);
    proc_ordered_id(b);
    cr_expect_str_neq(a, b);
}

Test(cli, money_columns_are_headed_in_units)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_array(&w.pk, 2);
    for (int i = 0; i < 2; i++) {
        codec_map_open(&w);
        codec_map_str(&w, "product_id", i ? "p2" : "p1");
        codec_map_int(&w, "price_cents", i ? 1999 : 903);
        codec_map_close(&w);
    }
    mpread_t r;
    const char *why;
    cr_assert_eq(codec_reader_check(&r, w.buf.data, w.buf.size, &why), 0);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pretty_print(f, &r);
    fclose(f);
    cr_assert_str_eq(out,
                     "items (2):\n  product_id  price\n  p1          9.03\n  p2          19.99\n",
                     "got:\n%s", out);
    free(out);
    codec_writer_fini(&w);
}

/* ---- hostile replies (issue 23, item 5): invctl trusts no server ---------- */

/* Renders the msgpack in w with pretty_print; the text is malloc'ed. */
static char *
pretty_of(codec_writer_t *w)
{
    mpread_t r;
    const char *why;
    cr_assert_eq(codec_reader_check(&r, w->buf.data, w->buf.size, &why), 0, "%s", why);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pretty_print(f, &r);
    fclose(f);
    return out;
}

/* Nothing a terminal acts on: no C0 control but newline, no DEL, no C1
 * control (raw byte or UTF-8), no bidi override, no invalid UTF-8. */
static void
expect_terminal_safe(const char *out)
{
    const unsigned char *s = (const unsigned char *)out;
    size_t n = strlen(out);
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        int len = utf8_decode(s + i, n - i, &cp);
        cr_assert_gt(len, 0, "invalid UTF-8 at byte %zu of:\n%s", i, out);
        cr_assert(cp == '\n' || !utf8_unsafe_cp(cp), "U+%04X at byte %zu of:\n%s", (unsigned)cp, i,
                  out);
        i += (size_t)len;
    }
}

static void
pack_ext(codec_writer_t *w, int8_t type, const char *data, size_t n)
{
    msgpack_pack_ext(&w->pk, n, type);
    msgpack_pack_ext_body(&w->pk, data, n);
}

Test(cli, ext_values_anywhere_print_as_ext, .timeout = 10)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 5);
    codec_pack_cstr(&w.pk, "ok");
    msgpack_pack_true(&w.pk);
    codec_pack_cstr(&w.pk, "value");
    pack_ext(&w, 5, "abc", 3);
    codec_pack_cstr(&w.pk, "list");
    msgpack_pack_array(&w.pk, 2);
    pack_ext(&w, -1, "\0\0\0\0", 4);
    pack_ext(&w, 1, "x", 1);
    codec_pack_cstr(&w.pk, "items");
    msgpack_pack_array(&w.pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(&w.pk, 2);
        codec_pack_cstr(&w.pk, "price_cents");
        pack_ext(&w, 7, "12345678", 8);
        codec_pack_cstr(&w.pk, "nested");
        msgpack_pack_map(&w.pk, 1);
        codec_pack_cstr(&w.pk, "e");
        pack_ext(&w, 2, "zz", 2);
    }
    codec_pack_cstr(&w.pk, "deep");
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_cstr(&w.pk, "k");
    pack_ext(&w, 4, "v", 1);
    char *out = pretty_of(&w);
    cr_expect_not_null(strstr(out, "value: <ext 5, 3 bytes>"), "got:\n%s", out);
    cr_expect_not_null(strstr(out, "list: [<ext -1, 4 bytes>, <ext 1, 1 bytes>]"), "got:\n%s", out);
    cr_expect_not_null(strstr(out, "<ext 7, 8 bytes>  e=<ext 2, 2 bytes>"), "got:\n%s", out);
    cr_expect_not_null(strstr(out, "#1 [k=<ext 4, 1 bytes>]"), "got:\n%s", out);
    free(out);
    codec_writer_fini(&w);
}

Test(cli, headings_keys_and_values_never_reach_the_terminal_raw)
{
    static const char *const hostile[] = {
        "\x1b]0;owned\x07",   /* OSC: sets the window title */
        "\x1b[2J\x1b[31mred", /* CSI: clears the screen */
        "c1 \xc2\x9b"
        "31m", /* U+009B: CSI as one character */
        "raw \x9b"
        "31m \xff\xfe", /* the C1 byte alone, invalid UTF-8 */
        "bidi \xe2\x80\xae"
        "txt.exe",            /* U+202E RIGHT-TO-LEFT OVERRIDE */
        "ls \xe2\x80\xa8 ps", /* U+2028 */
        "del \x7f nul \0 end",
    };
    size_t n = sizeof hostile / sizeof hostile[0];
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    codec_pack_cstr(&w.pk, "items"); /* a table: hostile headings and cells */
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_map(&w.pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t len = i == n - 1 ? 15 : strlen(hostile[i]); /* with its NUL */
        msgpack_pack_str(&w.pk, len);
        msgpack_pack_str_body(&w.pk, hostile[i], len);
        msgpack_pack_str(&w.pk, len);
        msgpack_pack_str_body(&w.pk, hostile[i], len);
    }
    codec_pack_cstr(&w.pk, "block"); /* keys and values of a plain map */
    msgpack_pack_map(&w.pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&w.pk, strlen(hostile[i]));
        msgpack_pack_str_body(&w.pk, hostile[i], strlen(hostile[i]));
        msgpack_pack_array(&w.pk, 1);
        msgpack_pack_str(&w.pk, strlen(hostile[i]));
        msgpack_pack_str_body(&w.pk, hostile[i], strlen(hostile[i]));
    }
    msgpack_pack_str(&w.pk, 4);
    msgpack_pack_str_body(&w.pk, "\x1b[0m", 4);
    codec_pack_cstr(&w.pk, "\x1b]52;c;Zm9v\x07");
    char *out = pretty_of(&w);
    expect_terminal_safe(out);
    cr_expect_not_null(strstr(out, "?]0;owned?"), "got:\n%s", out);
    cr_expect_not_null(strstr(out, "bidi ?txt.exe"), "got:\n%s", out);
    cr_expect_not_null(strstr(out, "raw ?31m ??"), "got:\n%s", out);
    free(out);
    codec_writer_fini(&w);
}

Test(cli, pretty_text_replaces_what_a_terminal_acts_on)
{
    char buf[64];
    cr_expect_eq(pretty_text("a\x1b[1mb", 6, buf, sizeof buf), 6);
    cr_expect_str_eq(buf, "a?[1mb");
    pretty_text("\xc2\x9b\xc2\xa0\xe2\x81\xa6x", 8, buf, sizeof buf); /* C1, NBSP, LRI */
    cr_expect_str_eq(buf, "?\xc2\xa0?x");
    pretty_text("caf\xc3\xa9 \xe2\x82\xac", 9, buf, sizeof buf); /* valid text passes */
    cr_expect_str_eq(buf, "caf\xc3\xa9 \xe2\x82\xac");
    cr_expect_eq(pretty_text("\xe2\x82\xac\xe2\x82\xac", 6, buf, 5),
                 3); /* never half a character */
    cr_expect_str_eq(buf, "\xe2\x82\xac");
}

/* A Status reply whose head and checkpoint are any int64s: the lag is left
 * out when it does not fit (it printed lag_ev -9223372036854775808). */
Test(cli, a_hostile_status_reply_cannot_overflow_the_lag)
{
    const int64_t pairs[4][2] = {
        {0, INT64_MIN}, {INT64_MAX, -1}, {INT64_MIN, 1}, {INT64_MAX, INT64_MIN}};
    for (int i = 0; i < 4; i++) {
        codec_writer_t w;
        codec_writer_init(&w);
        codec_map_open(&w);
        codec_map_int(&w, "head", pairs[i][0]);
        codec_map_int(&w, "checkpoint", pairs[i][1]);
        codec_map_int(&w, "wal_frames", pairs[i][0]);
        codec_map_int(&w, "wal_backfilled", pairs[i][1]);
        codec_map_close(&w);
        mpread_t r;
        const char *why;
        cr_assert_eq(codec_reader_check(&r, w.buf.data, w.buf.size, &why), 0);
        status_row_t row;
        cli_status_extract(&r, &row);
        cr_expect_not(row.has[ST_LAG_EVENTS], "head %lld checkpoint %lld: lag %lld",
                      (long long)pairs[i][0], (long long)pairs[i][1],
                      (long long)row.val[ST_LAG_EVENTS]);
        cr_expect_str_eq(cli_status_note(&r), "", "wal %lld / %lld", (long long)pairs[i][0],
                         (long long)pairs[i][1]);
        codec_writer_fini(&w);
    }
}
