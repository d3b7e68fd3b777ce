/* cli_manpage: invctl(1) in roff, printed from the help tables (cli_help)
 * by `invctl help --man`; the build writes it to invctl.1 and
 * `cmake --install` puts it in share/man/man1.  Every text is escaped for
 * roff (backslashes, hyphens, a leading dot or quote). */
#ifndef INV_CLI_MANPAGE_H
#define INV_CLI_MANPAGE_H

#include <stdio.h>

/* Writes the page: NAME, SYNOPSIS, DESCRIPTION, COMMANDS (each with its
 * options, exit codes and example), GLOBAL OPTIONS, ENVIRONMENT, EXIT
 * STATUS, SEE ALSO.  version goes into the title line. */
void cli_manpage_write(FILE *f, const char *version);

#endif
