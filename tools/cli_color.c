/* cli_color: see cli_color.h. */
#include "cli_color.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool color_on; /* the process's decision (cli_color_setup) */

bool
cli_color_decide(const char *mode, const char *no_color, bool tty)
{
    if (mode && strcmp(mode, "always") == 0)
        return true;
    if (mode && strcmp(mode, "never") == 0)
        return false;
    return tty && !(no_color && no_color[0]);
}

void
cli_color_setup(const char *mode)
{
    color_on = cli_color_decide(mode, getenv("NO_COLOR"), isatty(STDOUT_FILENO) == 1);
}

bool
cli_color_stdout(void)
{
    return color_on;
}
