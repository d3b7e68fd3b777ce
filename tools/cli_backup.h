/* cli_backup: an online copy of the event store (or of any model file).
 *   backup DB FILE   copies DB into the new file FILE with SQLite's backup
 *                    API while the daemons keep writing: one read
 *                    transaction, so the copy is the database as of one
 *                    commit (WAL readers do not block the writer).  It is
 *                    written as FILE.partial, checked (quick_check), fsynced
 *                    and only then renamed to FILE.  Needs the file itself
 *                    (same host or volume), not an endpoint.
 * Restoring is in docs/operations.md. */
#ifndef INV_CLI_BACKUP_H
#define INV_CLI_BACKUP_H

#include "cli.h"

#include <stdio.h>

/* 0 ok, 1 usage or I/O error (nothing left under FILE). */
int cli_backup_run(void *zctx, const cli_opts_t *opts);

#endif
