/* cli_watch: live tails of the two PUB sockets.
 *   watch events [--heartbeats]   one line per event (and heartbeat)
 *   watch alerts                  one line per alert
 * Both stop on SIGINT/SIGTERM, after --count N printed messages or after
 * --for-ms N.  A SUB socket sees only what is published after it joined
 * (plus a few hundred ms of connection set-up): this is a live view, the
 * history is `invctl history` / `invctl audit`. */
#ifndef INV_CLI_WATCH_H
#define INV_CLI_WATCH_H

#include "cli.h"

#include "mpread.h"

#include <stdio.h>

/* Runs opts->argv ("watch", "events"|"alerts", flags...).  Exit code. */
int cli_watch_run(void *zctx, const cli_opts_t *opts);

/* One human line for an event / alert body (no newline):
 *   "    17  2026-11-23T15:11:24.123456Z  product-p1@3  ProductSold  corr=c1  quantity=2 ..."
 *   "2026-11-23T15:11:24.123456Z  low_stock    p1 (Widget)  stock 5, threshold 10 ..." */
void cli_watch_format_event(const mpread_t *ev, char *buf, size_t cap);
void cli_watch_format_alert(const mpread_t *al, char *buf, size_t cap);

#endif
