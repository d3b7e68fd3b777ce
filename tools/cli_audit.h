/* cli_audit: `invctl audit --tail N`, the last N audit lines that match the
 * filters, oldest first, read with ordinary SearchAudit pages (no request
 * parameter of its own).  The audit holds one line per event, so without
 * a filter the last N are the ones after the checkpoint minus N: one pass.
 * With filters it reads the matches after checkpoint - W for W = 4N, 16N,
 * ... until N are found or the start is reached, keeping only the last N
 * (memory: N lines; requests: about the matches in the last window / 100).
 * Lines appended while it reads (beyond the first reply's checkpoint) are
 * left out.  A failing request is sent again through cli_request_run,
 * which reports it as for any query. */
#ifndef INV_CLI_AUDIT_H
#define INV_CLI_AUDIT_H

#include "cli_queries.h"

#define CLI_AUDIT_TAIL_MAX 1000

/* Runs the built SearchAudit request `req` (its filters) for the last n
 * (1..CLI_AUDIT_TAIL_MAX) lines and prints them as one reply {ok, position,
 * items} (JSON, or `print`, or pretty_print).  Returns the exit code. */
int cli_audit_tail(void *zctx, const cli_opts_t *opts, const cli_request_t *req, int64_t n,
                   int timeout_ms, void (*print)(FILE *f, const mpread_t *reply));

#endif
