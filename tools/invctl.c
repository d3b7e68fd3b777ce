/* invctl: the command-line client.  This file only wires: global options,
 * then one of the subcommand families (cli_commands, cli_queries,
 * cli_watch, cli_status, cli_backup).  Exit codes: 0 ok, 1 usage or connection error,
 * 2 rejected / ok=false / not found, 3 accepted but --wait did not see it applied,
 * 4 a read older than --min-position (CLI_EXIT_STALE). */
#include "cli.h"
#include "cli_backup.h"
#include "cli_commands.h"
#include "cli_queries.h"
#include "cli_report.h"
#include "cli_status.h"
#include "cli_verify.h"
#include "cli_watch.h"
#include "proc.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

static void
usage(FILE *f)
{
    fputs("usage: invctl [global options] SUBCOMMAND [arguments]\n\n"
          "Commands (write side; exit 2 when rejected):\n",
          f);
    cli_commands_usage(f);
    fputs("\nQueries (all take --min-position N --wait-ms N):\n", f);
    cli_queries_usage(f);
    fputs("\nOperations:\n", f);
    cli_watch_usage(f);
    cli_status_usage(f);
    cli_backup_usage(f);
    cli_verify_usage(f);
    fprintf(f, "  %-18s %s\n", "help", "this text");
    fprintf(f, "  %-18s %s\n", "version", "invctl's version (also --version)");
    fputs("\nGlobal options (before or after the subcommand):\n", f);
    for (int i = 0; i < CLI_EP__COUNT; i++)
        fprintf(f, "  %-16s EP   %s (env %s)\n", cli_ep_flag((cli_ep_t)i),
                cli_ep_daemon((cli_ep_t)i), cli_ep_env((cli_ep_t)i));
    fputs("  --json                  replies as JSON on stdout; every failure as one\n"
          "                          {\"ok\":false,\"error\":CODE,\"message\":TEXT}\n"
          "  --timeout-ms N          reply deadline (default 5000)\n"
          "  --correlation-id C      sent with commands; a filter for `audit`\n"
          "  --command-id ID         idempotency key (default: random)\n"
          "  --expected-version N    optimistic concurrency check\n"
          "  --wait                  after an accepted command, wait until the query\n"
          "                          service has applied it\n"
          "\nMoney is in cents (--price 1999 is 19.99).  Times are ISO-8601 UTC\n"
          "(2026-11-23T15:11:24Z) or microseconds since the epoch.\n"
          "Exit codes: 0 ok, 1 usage/connection error (a daemon that is not running\n"
          "is reported at once, not at --timeout-ms), 2 rejected or error reply (not\n"
          "found included: an unknown id exits 2 in every subcommand), 3 accepted but\n"
          "--wait did not see it applied (timed out or query service unreachable): do\n"
          "not send it again under another id, 4 stale read: a query did not reach\n"
          "--min-position within --wait-ms (what it printed is older).\n",
          f);
}

typedef int (*runner_t)(void *zctx, const cli_opts_t *opts);

static const struct {
    const char *name;
    runner_t run;
} operations[] = {
    {"watch", cli_watch_run},
    {"status", cli_status_run},
    {"rebuild", cli_rebuild_run},
    {"backup", cli_backup_run},
    {"verify", cli_verify_run},
};

static int
dispatch(void *zctx, const cli_opts_t *opts)
{
    const char *sub = opts->argv[0];
    const cli_command_def_t *cmd = cli_commands_find(sub);
    if (cmd)
        return cli_commands_run(zctx, opts, cmd);
    const cli_query_def_t *query = cli_queries_find(sub);
    if (query)
        return cli_queries_run(zctx, opts, query);
    for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++)
        if (strcmp(operations[i].name, sub) == 0)
            return operations[i].run(zctx, opts);
    if (sub[0] == '-')
        return cli_report(opts->json, 1, "usage", "unknown option '%s' (try: invctl help)", sub);
    return cli_report(opts->json, 1, "usage", "unknown subcommand '%s' (try: invctl help)", sub);
}

/* Whether --json is among the words (when they did not parse). */
static bool
json_asked(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            return true;
    return false;
}

int
main(int argc, char **argv)
{
    cli_opts_t opts;
    char err[512];
    if (cli_parse(argc, argv, &opts, err, sizeof err) != 0)
        return cli_report(json_asked(argc, argv), 1, "usage", "%s", err);
    if (opts.version || (opts.argc > 0 && strcmp(opts.argv[0], "version") == 0)) {
        printf("invctl %s\n", INV_VERSION);
        return 0;
    }
    if (opts.help || (opts.argc > 0 && strcmp(opts.argv[0], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (opts.argc == 0) {
        usage(stderr);
        return cli_report(opts.json, 1, "usage", "no subcommand given");
    }
    proc_install_signals();
    void *zctx = zmq_ctx_new();
    if (!zctx)
        return cli_report(opts.json, 1, "connection", "cannot create a ZeroMQ context");
    int rc = dispatch(zctx, &opts);
    zmq_ctx_term(zctx);
    return rc;
}
