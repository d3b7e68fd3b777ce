/* cli_help: invctl's help text, once.  One table row per subcommand holds
 * its synopsis, a summary, its options with their help, the words its
 * first bare argument takes, its exit codes and an example; a second table
 * holds the global options.  Everything that describes the command line is
 * printed from these tables: `invctl help`, `invctl help COMMAND` (and
 * `COMMAND --help`), the man page (cli_manpage) and the bash completion
 * (cli_completion).  The synopsis of a write command or a query is its
 * parser's own usage string (cli_commands.c, cli_queries.c), and a unit
 * test holds every parser flag to a documented option. */
#ifndef INV_CLI_HELP_H
#define INV_CLI_HELP_H

#include <stddef.h>
#include <stdio.h>

#define CLI_HELP_MAX_OPTS 12

typedef enum { HELP_COMMAND, HELP_QUERY, HELP_OPERATION } cli_help_group_t;

typedef struct {
    const char *flag; /* "--qty" */
    const char *arg;  /* "N", or NULL for a switch */
    const char *text; /* one sentence */
    const char
        *values; /* the words the value takes, for completion ("auto always never"), or NULL */
} cli_help_opt_t;

typedef struct {
    const char *name; /* the subcommand, "sell" */
    cli_help_group_t group;
    const char *args;    /* the synopsis after the name; NULL: the parser's usage string */
    const char *summary; /* one line */
    cli_help_opt_t opts[CLI_HELP_MAX_OPTS]; /* ends at a NULL flag */
    const char *words;   /* what the first bare word can be ("events alerts"), "FILE", or NULL */
    const char *exit;    /* exit codes; NULL: those of the group */
    const char *example; /* one command line */
} cli_help_t;

/* The rows, in the order the overview lists them; NULL past the end. */
const cli_help_t *cli_help_at(size_t i);
/* The row of a subcommand, or NULL. */
const cli_help_t *cli_help_find(const char *name);
/* The synopsis after the name ("P --qty N [--order O]"; "" when none). */
const char *cli_help_args(const cli_help_t *h);
/* The exit codes of a row (its own, or its group's). */
const char *cli_help_exit(const cli_help_t *h);

/* The global options (an endpoint flag per daemon first), ends at NULL. */
const cli_help_opt_t *cli_help_global_at(size_t i);
/* The group headings ("Commands (write side)"...). */
const char *cli_help_group_title(cli_help_group_t g);
/* The closing notes of the overview (money, times, exit codes). */
extern const char cli_help_notes[];

/* `invctl help`: every subcommand on a line, the global options, notes. */
void cli_help_overview(FILE *f);
/* `invctl help NAME`: synopsis, summary, options, exit codes, example.
 * 0, or -1 when NAME is no subcommand. */
int cli_help_command(FILE *f, const char *name);

#endif
