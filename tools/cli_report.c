/* cli_report: see cli_report.h. */
#include "cli_report.h"

#include "client.h"
#include "jsonstr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
cli_report(bool json, int exit_code, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "invctl: %s\n", msg);
    if (json) {
        fputs("{\"ok\":false,\"error\":", stdout);
        jsonstr_write(stdout, code, strlen(code));
        fputs(",\"message\":", stdout);
        jsonstr_write(stdout, msg, strlen(msg));
        fputs("}\n", stdout);
        fflush(stdout);
    }
    return exit_code;
}

int
cli_report_client(bool json, int exit_code, int rc, const char *daemon, const char *endpoint,
                  int timeout_ms)
{
    char msg[768];
    client_describe((client_rc_t)rc, daemon, endpoint, timeout_ms, msg, sizeof msg);
    return cli_report(json, exit_code, client_code((client_rc_t)rc), "%s", msg);
}
