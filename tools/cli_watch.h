/* cli_watch: tails of the two PUB sockets.
 *   watch events [--heartbeats]   one line per event (and heartbeat)
 *   watch events --from POSITION|beginning [--exit-at-head]
 *                                 the store from POSITION (inclusive) through
 *                                 the relay, then live, each event once, in
 *                                 order (evfeed); --exit-at-head stops at the
 *                                 head the relay reported at the start
 *   watch alerts                  one line per alert, its kind as LOW STOCK
 *                                 (yellow), OUT OF STOCK (red) or CLEARED
 *                                 (green) when colour is on (cli_color)
 * Events can be filtered by --stream, --type and --correlation (exact).
 * All stop on SIGINT/SIGTERM, after --count N printed lines or after
 * --for-ms N.  Without --from a SUB socket sees only what is published
 * after it joined (plus a few hundred ms of connection set-up): a live view. */
#ifndef INV_CLI_WATCH_H
#define INV_CLI_WATCH_H

#include "cli.h"

#include "mpread.h"

#include <stdbool.h>
#include <stdio.h>

/* Runs opts->argv ("watch", "events"|"alerts", flags...).  Exit code. */
int cli_watch_run(void *zctx, const cli_opts_t *opts);

/* One human line for an event / alert body (no newline):
 *   "    17  2026-11-23T15:11:24.123456Z  product-p1@3  ProductSold  corr=c1  quantity=2 ..."
 *   "2026-11-23T15:11:24.123456Z  LOW STOCK    p1 (Widget)  stock 5, threshold 10 ..."
 * color: the kind in its colour (ANSI), for a terminal. */
void cli_watch_format_event(const mpread_t *ev, char *buf, size_t cap);
void cli_watch_format_alert(const mpread_t *al, bool color, char *buf, size_t cap);

#endif
