/* cli_report: how invctl says that something failed.  One line
 * "invctl: MESSAGE" on stderr and, with --json, exactly one object
 * {"ok": false, "error": CODE, "message": MESSAGE} on stdout, so that a
 * script reading stdout gets one JSON object on every error path (the
 * same shape as an error reply of a daemon).  Codes of invctl's own
 * failures: usage, unreachable, timeout, connection_lost, connection,
 * bad_reply, interrupted, not_found, stale, backup_failed, verify_failed,
 * chain_broken, exists and store_refused (invctl store). */
#ifndef INV_CLI_REPORT_H
#define INV_CLI_REPORT_H

#include <stdbool.h>

/* Reports the failure and returns exit_code (for `return cli_report(...)`). */
int cli_report(bool json, int exit_code, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same for the failure of a request to daemon at endpoint
 * (client_rc_t rc), worded by client_describe.  Returns exit_code. */
int cli_report_client(bool json, int exit_code, int rc, const char *daemon, const char *endpoint,
                      int timeout_ms);

#endif
