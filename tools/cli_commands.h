/* cli_commands: the write side of invctl.  One table row per subcommand
 * names the command type and maps each flag to a data field (the field's
 * kind, int or string, comes from domain/fields.c); cli_commands_build()
 * turns words into a command_t, cli_commands_run() sends it, prints the
 * outcome and optionally waits until the query service has applied it.
 *
 * Exit codes: 0 accepted, 2 rejected, 1 usage or connection error, 3
 * accepted but --wait did not see the query service reach the position. */
#ifndef INV_CLI_COMMANDS_H
#define INV_CLI_COMMANDS_H

#include "cli.h"
#include "message.h"

#include <stdio.h>

#define CLI_CMD_MAX_FLAGS 10

typedef struct {
    const char *flag; /* "--price" */
    field_id_t field; /* F_PRICE_CENTS */
} cli_field_flag_t;

typedef struct {
    const char *name; /* subcommand, "sell" */
    command_type_t type;
    int positional;                            /* field given as the bare word, or -1 */
    cli_field_flag_t flags[CLI_CMD_MAX_FLAGS]; /* ends at a NULL flag */
    const char *usage;                         /* the arguments, for help */
} cli_command_def_t;

/* The row for a subcommand name, or NULL. */
const cli_command_def_t *cli_commands_find(const char *name);

/* Builds cmd from the subcommand's words (argv[0] is the first word after
 * the name) and the global options (command id, correlation id, expected
 * version).  Fills random command and order ids where absent.  Strings are
 * checked only against the buffer sizes; the rules are the server's job.
 * Returns 0, or -1 with a one-line reason in err. */
int cli_commands_build(const cli_opts_t *opts, const cli_command_def_t *def, int argc, char **argv,
                       command_t *cmd, char *err, size_t err_cap);

/* Runs opts->argv (a command subcommand) against the command service.
 * Returns the process exit code. */
int cli_commands_run(void *zctx, const cli_opts_t *opts, const cli_command_def_t *def);

/* The rows in table order; NULL past the end (for help and its tests). */
const cli_command_def_t *cli_commands_at(size_t i);

#endif
