/* cli_verify: the event store's hash chain checked offline.
 *   verify DB [--from P]   opens DB read-only (nothing is written, migrated
 *                          or created) and checks every event's hash from
 *                          position P (default 1; from P > 1 the stored hash
 *                          of P - 1 is taken as the start) to the head
 *                          (docs/protocol.md, "The hash chain").
 * Prints the count and the head's hash when the chain is intact (exit 0),
 * or the first position where it breaks (exit 2); 1 on a usage or I/O
 * error (a store of an older schema has no chain yet: 1). */
#ifndef INV_CLI_VERIFY_H
#define INV_CLI_VERIFY_H

#include "cli.h"

#include <stdio.h>

int cli_verify_run(void *zctx, const cli_opts_t *opts);

#endif
