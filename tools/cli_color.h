/* cli_color: whether invctl colours what it prints on stdout, decided once
 * at start from --color (auto, always, never) and the environment: auto
 * colours only when stdout is a terminal and NO_COLOR is unset or empty
 * (no-color.org); always colours even into a pipe.  The colours are ANSI
 * SGR sequences, each closed by CLI_COLOR_RESET on the same line. */
#ifndef INV_CLI_COLOR_H
#define INV_CLI_COLOR_H

#include <stdbool.h>

#define CLI_COLOR_RED "\033[31m"
#define CLI_COLOR_GREEN "\033[32m"
#define CLI_COLOR_YELLOW "\033[33m"
#define CLI_COLOR_RESET "\033[0m"

/* The decision for mode ("auto", "always", "never"; NULL is auto), with
 * no_color the value of NO_COLOR (NULL when unset) and tty whether stdout
 * is a terminal.  Pure. */
bool cli_color_decide(const char *mode, const char *no_color, bool tty);
/* Makes the decision for this process (getenv, isatty on stdout). */
void cli_color_setup(const char *mode);
/* What cli_color_setup decided (false before it). */
bool cli_color_stdout(void);

#endif
