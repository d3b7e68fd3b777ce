/* cli_commands: see cli_commands.h. */
#include "cli_commands.h"

#include "cli_report.h"
#include "client.h"
#include "codec.h"
#include "jsonout.h"
#include "pretty.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>

static const cli_command_def_t defs[] = {
    {.name = "register-supplier",
     .type = CMD_REGISTER_SUPPLIER,
     .positional = F_SUPPLIER_ID,
     .flags = {{.flag = "--id", .field = F_SUPPLIER_ID}, {.flag = "--name", .field = F_NAME}},
     .usage = "--id S --name N"},
    {.name = "rename-supplier",
     .type = CMD_RENAME_SUPPLIER,
     .positional = F_SUPPLIER_ID,
     .flags = {{.flag = "--id", .field = F_SUPPLIER_ID}, {.flag = "--name", .field = F_NAME}},
     .usage = "--id S --name N"},
    {.name = "create-product",
     .type = CMD_CREATE_PRODUCT,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID},
               {.flag = "--sku", .field = F_SKU},
               {.flag = "--name", .field = F_NAME},
               {.flag = "--description", .field = F_DESCRIPTION},
               {.flag = "--supplier", .field = F_SUPPLIER_ID},
               {.flag = "--price", .field = F_PRICE_CENTS},
               {.flag = "--cost", .field = F_COST_PRICE_CENTS},
               {.flag = "--stock", .field = F_STOCK},
               {.flag = "--threshold", .field = F_LOW_STOCK_THRESHOLD}},
     .usage = "--id P --sku K --name N [--description D] --supplier S --price CENTS --cost CENTS "
              "--stock N --threshold N"},
    {.name = "change-price",
     .type = CMD_CHANGE_PRICE,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID},
               {.flag = "--price", .field = F_PRICE_CENTS}},
     .usage = "P --price CENTS"},
    {.name = "update-stock",
     .type = CMD_UPDATE_STOCK,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID}, {.flag = "--stock", .field = F_NEW_STOCK}},
     .usage = "P --stock N"},
    {.name = "sell",
     .type = CMD_SELL_PRODUCT,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID},
               {.flag = "--qty", .field = F_QUANTITY},
               {.flag = "--order", .field = F_ORDER_ID}},
     .usage = "P --qty N [--order O]"},
    {.name = "view",
     .type = CMD_RECORD_PRODUCT_VIEW,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID}},
     .usage = "P"},
    {.name = "review",
     .type = CMD_SUBMIT_REVIEW,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID},
               {.flag = "--review-id", .field = F_REVIEW_ID},
               {.flag = "--customer", .field = F_CUSTOMER_ID},
               {.flag = "--rating", .field = F_RATING},
               {.flag = "--comment", .field = F_COMMENT}},
     .usage = "P --review-id R --customer C --rating 1..5 [--comment T]"},
    {.name = "discontinue",
     .type = CMD_DISCONTINUE_PRODUCT,
     .positional = F_PRODUCT_ID,
     .flags = {{.flag = "--id", .field = F_PRODUCT_ID}, {.flag = "--reason", .field = F_REASON}},
     .usage = "P [--reason T]"},
};

#define N_DEFS (sizeof defs / sizeof defs[0])

const cli_command_def_t *
cli_commands_at(size_t i)
{
    return i < N_DEFS ? &defs[i] : NULL;
}

const cli_command_def_t *
cli_commands_find(const char *name)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

static int
n_flags(const cli_command_def_t *def)
{
    int n = 0;
    while (n < CLI_CMD_MAX_FLAGS && def->flags[n].flag)
        n++;
    return n;
}

/* Stores one value into its field; a field given twice must agree. */
static int
set_field(const char *sub, const char *flag, field_id_t f, const char *text, int64_t num,
          command_t *cmd, char *err, size_t cap)
{
    fields_t *d = &cmd->data;
    if (fields_spec(f)->kind == FK_INT) {
        if (fields_has(d, f) && fields_int(d, f) != num)
            goto twice;
        fields_set_int(d, f, num);
        return 0;
    }
    if (strlen(text) >= fields_str_cap(f)) {
        snprintf(err, cap, "%s: %s is too long (at most %zu bytes)", sub, flag,
                 fields_str_cap(f) - 1);
        return -1;
    }
    if (fields_has(d, f) && strcmp(fields_cstr(d, f), text) != 0)
        goto twice;
    fields_set_str(d, f, text);
    return 0;
twice:
    snprintf(err, cap, "%s: %s given twice with different values", sub, fields_spec(f)->name);
    return -1;
}

/* The envelope part: ids and expected version from the global options. */
static int
build_envelope(const cli_opts_t *opts, command_t *cmd, char *err, size_t cap)
{
    if (opts->command_id) {
        if (strlen(opts->command_id) > ID_MAX || !*opts->command_id) {
            snprintf(err, cap, "--command-id must be 1..%d bytes", ID_MAX);
            return -1;
        }
        strcpy(cmd->command_id, opts->command_id);
    } else {
        proc_ordered_id(cmd->command_id);
    }
    if (opts->correlation_id) {
        if (strlen(opts->correlation_id) > ID_MAX) {
            snprintf(err, cap, "--correlation-id must be at most %d bytes", ID_MAX);
            return -1;
        }
        strcpy(cmd->correlation_id, opts->correlation_id);
    }
    cmd->has_expected_version = opts->has_expected_version;
    cmd->expected_version = opts->expected_version;
    return 0;
}

static int
check_required(const cli_command_def_t *def, const command_t *cmd, char *err, size_t cap)
{
    uint32_t missing = command_spec(def->type)->required & ~cmd->data.present;
    if (!missing)
        return 0;
    field_id_t f = (field_id_t)__builtin_ctz(missing);
    const char *flag = "?";
    for (int i = n_flags(def) - 1; i >= 0; i--)
        if (def->flags[i].field == f)
            flag = def->flags[i].flag;
    if ((int)f == def->positional)
        snprintf(err, cap, "%s: missing %s (first argument or %s)", def->name, fields_spec(f)->name,
                 flag);
    else
        snprintf(err, cap, "%s: missing %s", def->name, flag);
    return -1;
}

int
cli_commands_build(const cli_opts_t *opts, const cli_command_def_t *def, int argc, char **argv,
                   command_t *cmd, char *err, size_t cap)
{
    arg_spec_t specs[CLI_CMD_MAX_FLAGS];
    arg_val_t vals[CLI_CMD_MAX_FLAGS];
    const char *pos[CLI_MAX_POSITIONAL];
    int n = n_flags(def), n_pos;
    for (int i = 0; i < n; i++) {
        bool num = fields_spec(def->flags[i].field)->kind == FK_INT;
        specs[i] = (arg_spec_t){def->flags[i].flag, num ? ARG_INT : ARG_STR};
    }
    if (cli_args_parse(def->name, specs, (size_t)n, argc, argv, vals, pos,
                       def->positional >= 0 ? 1 : 0, &n_pos, err, cap) != 0)
        return -1;
    memset(cmd, 0, sizeof *cmd);
    cmd->type = def->type;
    if (build_envelope(opts, cmd, err, cap) != 0)
        return -1;
    if (n_pos == 1 && set_field(def->name, fields_spec(def->positional)->name,
                                (field_id_t)def->positional, pos[0], 0, cmd, err, cap) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (vals[i].set && set_field(def->name, specs[i].flag, def->flags[i].field, vals[i].str,
                                     vals[i].num, cmd, err, cap) != 0)
            return -1;
    }
    if (def->type == CMD_SELL_PRODUCT && !fields_has(&cmd->data, F_ORDER_ID)) {
        char order[ID_MAX + 1] = "o-";
        proc_random_hex(order + 2, 12);
        fields_set_str(&cmd->data, F_ORDER_ID, order);
    }
    return check_required(def, cmd, err, cap);
}

/* ---- running ------------------------------------------------------------- */

static void
print_outcome(const command_reply_t *r)
{
    /* every string of the reply reaches the terminal through pretty_text */
    char text[2][sizeof r->message];
    if (r->accepted) {
        pretty_text(r->stream, strlen(r->stream), text[0], sizeof text[0]);
        printf("accepted %s@%lld (position %lld%s)\n", text[0], (long long)r->version,
               (long long)r->position, r->duplicate ? ", duplicate: first result replayed" : "");
        fflush(stdout);
        return;
    }
    pretty_text(r->message, strlen(r->message), text[0], sizeof text[0]);
    fprintf(stderr, "rejected: %s%s%s", reject_code_name(r->error), r->message[0] ? ": " : "",
            text[0]);
    if (r->error == REJ_CONFLICT && r->version > 0 && !r->message[0])
        fprintf(stderr, " (current version %lld)", (long long)r->version);
    fputc('\n', stderr);
    for (int i = 0; i < r->fields.count; i++) {
        const char *field = r->fields.items[i].field, *message = r->fields.items[i].message;
        if (message[0] && strstr(r->message, message)) /* the reason said it already */
            continue;
        pretty_text(field, strlen(field), text[0], sizeof text[0]);
        pretty_text(message, strlen(message), text[1], sizeof text[1]);
        fprintf(stderr, "  %s: %s\n", text[0], text[1]);
    }
}

/* Asks the query service to wait until it has applied `position`, all
 * within --timeout-ms: the service waits up to that less a margin for the
 * round trip (CLI_MAX_WAIT_MS at most).  The command was accepted before
 * this is called, so every way of not seeing it applied, an unreachable
 * query service included, is 3 (accepted, not seen), never 1: a script
 * that retries on 1 would send it again.  Returns 0 when reached, else 3. */
static int
wait_for_query(void *zctx, const cli_opts_t *opts, int64_t position)
{
    int total_ms = opts->timeout_ms;
    int margin_ms = total_ms > 1000 ? 500 : total_ms / 2;
    int wait_ms = total_ms - margin_ms < CLI_MAX_WAIT_MS ? total_ms - margin_ms : CLI_MAX_WAIT_MS;
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_status_wait(&w, position, wait_ms);
    client_reply_t reply;
    const char *ep = opts->ep[CLI_EP_QUERY];
    client_rc_t rc = client_call(zctx, ep, w.buf.data, w.buf.size, wait_ms + margin_ms, &reply);
    codec_writer_fini(&w);
    if (rc != CLIENT_OK) {
        char msg[512];
        client_describe(rc, "query-service", ep, wait_ms + margin_ms, msg, sizeof msg);
        fprintf(stderr, "invctl: --wait: the command was accepted (position %lld), but %s\n",
                (long long)position, msg);
        return 3;
    }
    int64_t at = -1;
    bool reached = false;
    mpread_t v;
    if (mpread_find(&reply.body, "position", &v) == 0)
        mpread_int(&v, &at);
    if (mpread_find(&reply.body, "reached", &v) != 0 || mpread_bool(&v, &reached) != 0)
        reached = at >= position;
    client_reply_fini(&reply);
    if (reached) {
        if (!opts->json)
            printf("query-service has applied position %lld (at %lld)\n", (long long)position,
                   (long long)at);
        return 0;
    }
    fprintf(stderr,
            "invctl: --wait: query-service at position %lld, did not reach %lld within %d ms\n",
            (long long)at, (long long)position, wait_ms);
    return 3;
}

int
cli_commands_run(void *zctx, const cli_opts_t *opts, const cli_command_def_t *def)
{
    command_t *cmd = malloc(sizeof *cmd); /* ~8 KiB: keep it off the stack */
    char err[512];
    if (!cmd)
        return cli_report(opts->json, 1, "connection", "out of memory");
    if (cli_commands_build(opts, def, opts->argc - 1, opts->argv + 1, cmd, err, sizeof err)) {
        free(cmd);
        return cli_report(opts->json, 1, "usage", "%s", err);
    }
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command(&w, cmd);
    free(cmd);
    client_reply_t reply;
    const char *ep = opts->ep[CLI_EP_COMMAND];
    char msg[768];
    client_rc_t rc = client_call_say(zctx, "command-service", ep, w.buf.data, w.buf.size,
                                     opts->timeout_ms, &reply, msg, sizeof msg);
    codec_writer_fini(&w);
    if (rc != CLIENT_OK)
        return cli_report(opts->json, 1, client_code(rc), "%s", msg);
    command_reply_t r;
    int bad = codec_decode_command_reply(reply.data, reply.len, &r);
    if (opts->json && !bad)
        jsonout_print_msgpack(stdout, reply.data, reply.len);
    client_reply_fini(&reply);
    if (bad)
        return cli_report(opts->json, 1, "bad_reply", "command-service sent a reply without 'ok'");
    if (!opts->json)
        print_outcome(&r);
    else if (!r.accepted)
        fprintf(stderr, "rejected: %s\n", reject_code_name(r.error));
    if (!r.accepted)
        return 2;
    return opts->wait ? wait_for_query(zctx, opts, r.position) : 0;
}
