/* cli_manpage: see cli_manpage.h. */
#include "cli_manpage.h"

#include "cli.h"
#include "cli_help.h"

/* Text escaped for roff, as source lines: '\\' as \e, '-' as \- (so that
 * options are not hyphens); a line that would start with '.' or '\'' is
 * protected by \&; a newline stays one (roff fills), a last one is dropped. */
static void
roff_text(FILE *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((p == s || p[-1] == '\n') && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-')
            fputs("\\-", f);
        else if (*p != '\n' || p[1])
            fputc(*p, f);
    }
}

/* One option as a tagged paragraph: the flag bold, its value italic. */
static void
roff_opt(FILE *f, const cli_help_opt_t *o)
{
    fputs(".TP\n\\fB", f);
    roff_text(f, o->flag);
    fputs("\\fR", f);
    if (o->arg) {
        fputs(" \\fI", f);
        roff_text(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    roff_text(f, o->text);
    fputc('\n', f);
}

static void
roff_command(FILE *f, const cli_help_t *h)
{
    const char *args = cli_help_args(h);
    fputs(".SS \"", f);
    roff_text(f, h->name);
    fputs("\"\n.B invctl ", f);
    roff_text(f, h->name);
    if (args[0]) {
        fputs("\n.I ", f);
        fputc('"', f);
        roff_text(f, args);
        fputc('"', f);
    }
    fputs("\n.PP\n", f);
    roff_text(f, h->summary);
    fputs(".\n", f);
    for (int i = 0; i < CLI_HELP_MAX_OPTS && h->opts[i].flag; i++)
        roff_opt(f, &h->opts[i]);
    fputs(".PP\nExit codes: ", f);
    roff_text(f, cli_help_exit(h));
    fputs(".\n.PP\nExample:\n.RS\n.EX\n", f);
    roff_text(f, h->example);
    fputs("\n.EE\n.RE\n", f);
}

static void
roff_header(FILE *f, const char *version)
{
    fputs(".TH INVCTL 1 \"\" \"invctl ", f);
    roff_text(f, version);
    fputs("\" \"User Commands\"\n"
          ".SH NAME\ninvctl \\- the inventory system's command\\-line client\n"
          ".SH SYNOPSIS\n.B invctl\n[\\fIglobal options\\fR] \\fICOMMAND\\fR "
          "[\\fIarguments\\fR]\n.br\n.B invctl help\n[\\fICOMMAND\\fR]\n"
          ".SH DESCRIPTION\ninvctl sends commands to the command\\-service, asks the read side "
          "(query\\-, audit\\- and alert\\-service, the outbox relay), follows the event and "
          "alert buses, and checks or copies the event store.\n",
          f);
}

static void
roff_tail(FILE *f)
{
    fputs(".SH GLOBAL OPTIONS\nThey may come before or after the command.\n", f);
    for (size_t i = 0; cli_help_global_at(i); i++)
        roff_opt(f, cli_help_global_at(i));
    fputs(".SH ENVIRONMENT\n", f);
    for (int i = 0; i < CLI_EP__COUNT; i++) {
        fputs(".TP\n.B ", f);
        roff_text(f, cli_ep_env((cli_ep_t)i));
        fputs("\nthe endpoint of ", f);
        roff_text(f, cli_ep_daemon((cli_ep_t)i));
        fputs(" (overridden by ", f);
        roff_text(f, cli_ep_flag((cli_ep_t)i));
        fputs(")\n", f);
    }
    fputs(".TP\n.B NO_COLOR\nwhen set and not empty, no colour unless \\-\\-color always\n"
          ".SH EXIT STATUS\n",
          f);
    roff_text(f, cli_help_notes);
    fputs("\n.SH SEE ALSO\nThe protocol and operations documents of the inventory system "
          "(docs/protocol.md, docs/operations.md).\n",
          f);
}

void
cli_manpage_write(FILE *f, const char *version)
{
    roff_header(f, version);
    fputs(".SH COMMANDS\n", f);
    for (int g = HELP_COMMAND; g <= HELP_OPERATION; g++) {
        fputs(".PP\n.B ", f);
        roff_text(f, cli_help_group_title((cli_help_group_t)g));
        fputc('\n', f);
        for (size_t i = 0; cli_help_at(i); i++)
            if (cli_help_at(i)->group == (cli_help_group_t)g)
                roff_command(f, cli_help_at(i));
    }
    roff_tail(f);
}
