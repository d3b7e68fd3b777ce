/* invctl's help table (tools/cli_help.c) and what is printed from it: every
 * flag a parser accepts is documented, a command's help has its parts, the
 * man page its sections, and the completion script every command. */
#include "cli.h"
#include "cli_commands.h"
#include "cli_completion.h"
#include "cli_help.h"
#include "cli_manpage.h"
#include "cli_queries.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What fn printed, in a malloc'ed string. */
static char *
printed(void (*fn)(FILE *f, const char *arg), const char *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void
command_help(FILE *f, const char *name)
{
    cr_assert_eq(cli_help_command(f, name), 0, "no help for %s", name);
}

static void
man(FILE *f, const char *version)
{
    cli_manpage_write(f, version);
}

static void
completion(FILE *f, const char *unused)
{
    (void)unused;
    cli_completion_bash(f);
}

static bool
documents(const cli_help_t *h, const char *flag)
{
    for (int i = 0; i < CLI_HELP_MAX_OPTS && h->opts[i].flag; i++)
        if (strcmp(h->opts[i].flag, flag) == 0)
            return true;
    return false;
}

Test(cli_help, every_command_flag_is_documented)
{
    for (size_t i = 0; cli_commands_at(i); i++) {
        const cli_command_def_t *d = cli_commands_at(i);
        const cli_help_t *h = cli_help_find(d->name);
        cr_assert_not_null(h, "%s has no help", d->name);
        cr_assert_str_eq(cli_help_args(h), d->usage, "the synopsis is the parser's");
        for (int k = 0; k < CLI_CMD_MAX_FLAGS && d->flags[k].flag; k++)
            cr_assert(documents(h, d->flags[k].flag), "%s %s is not in its help", d->name,
                      d->flags[k].flag);
    }
}

Test(cli_help, every_query_flag_is_documented)
{
    for (size_t i = 0; cli_queries_at(i); i++) {
        const cli_query_def_t *d = cli_queries_at(i);
        const cli_help_t *h = cli_help_find(d->name);
        cr_assert_not_null(h, "%s has no help", d->name);
        for (int k = 0; k < CLI_QUERY_MAX_FLAGS && d->flags[k].flag; k++)
            cr_assert(documents(h, d->flags[k].flag), "%s %s is not in its help", d->name,
                      d->flags[k].flag);
        if (d->ep == CLI_EP_QUERY) /* the others do not take them */
            cr_assert(documents(h, "--min-position") && documents(h, "--wait-ms"), "%s", d->name);
    }
}

/* Options beside the synopsis: the bare word's --id, and the waits. */
static bool
synopsis_may_omit(const char *flag)
{
    return strcmp(flag, "--id") == 0 || strcmp(flag, "--min-position") == 0 ||
           strcmp(flag, "--wait-ms") == 0;
}

Test(cli_help, the_synopsis_names_every_option)
{
    for (size_t i = 0; cli_help_at(i); i++) {
        const cli_help_t *h = cli_help_at(i);
        for (int k = 0; k < CLI_HELP_MAX_OPTS && h->opts[k].flag; k++)
            if (!synopsis_may_omit(h->opts[k].flag))
                cr_assert_not_null(strstr(cli_help_args(h), h->opts[k].flag), "invctl %s %s: %s",
                                   h->name, cli_help_args(h), h->opts[k].flag);
    }
}

Test(cli_help, every_row_is_complete)
{
    for (size_t i = 0; cli_help_at(i); i++) {
        const cli_help_t *h = cli_help_at(i);
        cr_assert(h->summary && h->summary[0] && h->example && h->example[0], "%s", h->name);
        cr_assert(strncmp(h->example, "invctl ", 7) == 0 || strstr(h->example, "invctl "),
                  "%s: the example runs invctl", h->name);
        cr_assert_not_null(cli_help_exit(h));
        cr_assert_eq(cli_help_find(h->name), h, "%s is listed once", h->name);
    }
}

Test(cli_help, command_help_has_usage_options_exit_codes_and_example)
{
    char *s = printed(command_help, "sell");
    cr_assert(strstr(s, "usage: invctl sell P --qty N [--order O]\n"), "%s", s);
    cr_assert(strstr(s, "Options:\n") && strstr(s, "  --qty N"), "%s", s);
    cr_assert(strstr(s, "Exit codes: 0 accepted") && strstr(s, "Example:\n  invctl "), "%s", s);
    free(s);
    cr_assert_eq(cli_help_command(stdout, "no-such-command"), -1);
}

Test(cli_help, man_page_has_its_sections_and_every_command)
{
    char *s = printed(man, "9.9.9");
    cr_assert(strncmp(s, ".TH INVCTL 1 ", 13) == 0, "%.40s", s);
    static const char *const sections[] = {".SH NAME\n", ".SH SYNOPSIS\n", ".SH COMMANDS\n",
                                           ".SH GLOBAL OPTIONS\n", ".SH EXIT STATUS\n"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        cr_assert_not_null(strstr(s, sections[i]), "%s", sections[i]);
    for (size_t i = 0; cli_help_at(i); i++) {
        char ss[64];
        snprintf(ss, sizeof ss, "\n.SS \"%s\"\n", cli_help_at(i)->name);
        for (char *p = ss; *p; p++) /* the man page escapes '-' */
            if (*p == '-') {
                memmove(p + 1, p, strlen(p) + 1);
                *p++ = '\\';
            }
        cr_assert_not_null(strstr(s, ss), "%s", ss);
    }
    cr_assert_null(strstr(s, "\n\n"), "no blank line");
    cr_assert_not_null(strstr(s, "\\-\\-qty"), "flags are escaped");
    free(s);
}

Test(cli_help, completion_names_every_command)
{
    char *s = printed(completion, NULL);
    cr_assert(strstr(s, "complete -o default -F _invctl invctl\n"));
    for (size_t i = 0; cli_help_at(i); i++) {
        char arm[64];
        snprintf(arm, sizeof arm, "\n    %s) opts=\"", cli_help_at(i)->name);
        cr_assert_not_null(strstr(s, arm), "%s", arm);
    }
    free(s);
}
