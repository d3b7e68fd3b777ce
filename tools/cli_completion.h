/* cli_completion: the bash completion script, printed from the help tables
 * (cli_help) by `invctl completion bash`; the build writes it and
 * `cmake --install` puts it in share/bash-completion/completions/invctl.
 * It completes the command names, each command's options and the global
 * ones, the words a command's first argument takes (watch events|alerts,
 * rebuild projector|audit|alert, help COMMAND), option values that are
 * names (--daemon, --color, --from beginning), and file names elsewhere. */
#ifndef INV_CLI_COMPLETION_H
#define INV_CLI_COMPLETION_H

#include <stdio.h>

/* Writes the script: a function _invctl and `complete -F _invctl invctl`. */
void cli_completion_bash(FILE *f);

#endif
