/* invctl: the command-line client.  This file only wires: global options,
 * then one of the subcommand families (cli_commands, cli_queries,
 * cli_watch, cli_status, cli_backup, cli_store); help, the man page and the completion
 * script come from cli_help.  Exit codes: 0 ok, 1 usage or connection error,
 * 2 rejected / ok=false / not found, 3 accepted but --wait did not see it applied,
 * 4 a read older than --min-position (CLI_EXIT_STALE). */
#include "cli.h"
#include "cli_backup.h"
#include "cli_color.h"
#include "cli_commands.h"
#include "cli_completion.h"
#include "cli_help.h"
#include "cli_keys.h"
#include "cli_manpage.h"
#include "cli_queries.h"
#include "cli_report.h"
#include "cli_status.h"
#include "cli_store.h"
#include "cli_verify.h"
#include "cli_watch.h"
#include "proc.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* `invctl help [COMMAND | --man]`, `invctl COMMAND --help` and `invctl
 * completion bash`: the texts of cli_help, no daemon involved. */
static int
help_run(const cli_opts_t *opts)
{
    bool is_help = opts->argc > 0 && strcmp(opts->argv[0], "help") == 0;
    const char *topic = is_help ? (opts->argc > 1 ? opts->argv[1] : NULL)
                                : (opts->argc > 0 ? opts->argv[0] : NULL);
    if (is_help && opts->argc > 2)
        return cli_report(opts->json, 1, "usage", "help takes one command (try: invctl help)");
    if (!topic) {
        cli_help_overview(stdout);
    } else if (is_help && strcmp(topic, "--man") == 0) {
        cli_manpage_write(stdout, INV_VERSION);
    } else if (cli_help_command(stdout, topic) != 0) {
        return cli_report(opts->json, 1, "usage", "no command '%s' (try: invctl help)", topic);
    }
    return 0;
}

static int
completion_run(const cli_opts_t *opts)
{
    if (opts->argc != 2 || strcmp(opts->argv[1], "bash") != 0)
        return cli_report(opts->json, 1, "usage",
                          "completion: only 'bash' is known (invctl completion bash)");
    cli_completion_bash(stdout);
    return 0;
}

typedef int (*runner_t)(void *zctx, const cli_opts_t *opts);

static const struct {
    const char *name;
    runner_t run;
} operations[] = {
    {"watch", cli_watch_run},
    {"status", cli_status_run},
    {"rebuild", cli_rebuild_run},
    {"reload-keys", cli_reload_keys_run},
    {"backup", cli_backup_run},
    {"verify", cli_verify_run},
    {"keygen", cli_keygen_run},
    {"store", cli_store_run},
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
    if (opts.help || (opts.argc > 0 && strcmp(opts.argv[0], "help") == 0))
        return help_run(&opts);
    if (opts.argc > 0 && strcmp(opts.argv[0], "completion") == 0)
        return completion_run(&opts);
    if (opts.argc == 0) {
        cli_help_overview(stderr);
        return cli_report(opts.json, 1, "usage", "no subcommand given");
    }
    cli_color_setup(opts.color);
    proc_install_signals();
    void *zctx = zmq_ctx_new();
    if (!zctx)
        return cli_report(opts.json, 1, "connection", "cannot create a ZeroMQ context");
    /* keygen makes keys: it sets up no CURVE (store reaches the nodes
     * through the tunnel, cli_store.c). */
    bool no_keys = strcmp(opts.argv[0], "keygen") == 0;
    int rc = no_keys ? 0 : cli_keys_setup(&opts);
    if (rc == 0)
        rc = dispatch(zctx, &opts);
    zmq_ctx_term(zctx);
    return rc;
}
