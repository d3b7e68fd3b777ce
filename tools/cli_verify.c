/* cli_verify: see cli_verify.h. */
#include "cli_verify.h"
#include "cli_report.h"

#include "eventstore.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A position >= 1 from text; -1 when it is not one. */
static int64_t
verify_position(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return (errno || end == s || *end || v < 1) ? -1 : (int64_t)v;
}

int
cli_verify_run(void *zctx, const cli_opts_t *opts)
{
    (void)zctx;
    int64_t from = 1;
    if (opts->argc == 4 && strcmp(opts->argv[2], "--from") == 0)
        from = verify_position(opts->argv[3]);
    if ((opts->argc != 2 && opts->argc != 4) || from < 1) {
        return cli_report(opts->json, 1, "usage", "usage: invctl verify DB [--from P]   (P >= 1)");
    }
    const char *db = opts->argv[1];
    struct stat sb;
    if (stat(db, &sb) != 0) {
        return cli_report(opts->json, 1, "verify_failed", "verify: %s: %s", db, strerror(errno));
    }
    es_chain_state_t c;
    char err[256] = "";
    if (eventstore_verify_file(db, from, &c, err, sizeof err) != ERR_OK) {
        return cli_report(opts->json, 1, "verify_failed", "verify: %s: %s", db, err);
    }
    if (c.bad_position && opts->json)
        return cli_report(true, 2, "chain_broken",
                          "chain broken at position %lld (%lld events checked intact before it)",
                          (long long)c.bad_position, (long long)c.checked);
    if (c.bad_position) {
        printf("chain broken at position %lld: its hash does not follow from its bytes and the"
               " event before it (%lld events checked intact before it)\n",
               (long long)c.bad_position, (long long)c.checked);
        return 2;
    }
    char hex[CHAIN_HEX_LEN + 1];
    chain_hex(c.hash, hex);
    printf("chain intact: %lld events checked, positions %lld..%lld, head hash %s\n",
           (long long)c.checked, (long long)(c.checked ? from : 0), (long long)c.through, hex);
    return 0;
}
