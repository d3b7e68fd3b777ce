/* cli_keys: invctl's side of security (docs/protocol.md, section 13): the
 * client set-up every subcommand runs before its first socket (its key pair
 * and each daemon's public key from the keyring folder), and `keygen`. */
#ifndef INV_CLI_KEYS_H
#define INV_CLI_KEYS_H

#include "cli.h"

#include <stdio.h>

/* Sets the process up as a CURVE client for every endpoint of opts
 * (security_client_setup: --keys, --key, --server-key), unless --insecure.
 * 0, or 1 after saying on stderr what is missing. */
int cli_keys_setup(const cli_opts_t *opts);
/* invctl keygen --role R [--name N] [--out FILE] | keygen --init [DIR] */
int cli_keygen_run(void *zctx, const cli_opts_t *opts);

#endif
