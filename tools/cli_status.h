/* cli_status: the operator's view of the whole system, and rebuilds.
 *   status [--daemon NAME]   asks every daemon for {type:"Status"} at once
 *                            (short deadline each), prints one table
 *   rebuild projector|audit|alert    sends {type:"Rebuild"} to the daemon
 * The table reads well-known keys from each reply, at the top level or one
 * map down: checkpoint (checkpoint|position), head (head|head_position),
 * lag events (lag_events|lag, else head - checkpoint), lag ms (lag_ms),
 * heartbeat age (heartbeat_age_ms|last_heartbeat_age_ms|heartbeat_ms),
 * in_outbox (outbox_backlog|backlog|outbox_pending|outbox: events still in
 * the outbox table, already published ones included until the relay
 * deletes them), unpublished (unpublished: the relay's head - published).
 * Missing values print as "-".  The role of a command-service or relay
 * (active, standby, single) follows its endpoint.  A daemon given a list of
 * endpoints (eplist.h: the command-services or relays of a replicated
 * store) has one row per endpoint, each asked on its own, and in --json a
 * list [{"endpoint", "status"}] instead of one reply; every endpoint that
 * does not answer makes the exit status 1.  A subscriber that is replacing its model
 * says so after its endpoint, with its progress in percent of the head.
 *   rebuild NAME --wait      then follows Status until the new model is
 *                            swapped in, with a progress line on stderr
 * Daemon names are accepted singular or plural (alert, alerts). */
#ifndef INV_CLI_STATUS_H
#define INV_CLI_STATUS_H

#include "cli.h"

#include "mpread.h"

#include <stdbool.h>
#include <stdio.h>

#define CLI_STATUS_TIMEOUT_MS 1000 /* per daemon, unless --timeout-ms is given */

/* The table's numbers from one Status reply; has[i] false for "-". */
typedef enum {
    ST_CHECKPOINT,
    ST_HEAD,
    ST_LAG_EVENTS,
    ST_LAG_MS,
    ST_HEARTBEAT_AGE,
    ST_BACKLOG,     /* headed in_outbox: events in the outbox table, published or not */
    ST_UNPUBLISHED, /* events not published yet (the relay's "unpublished") */
    ST__COUNT
} status_col_t;

typedef struct {
    bool has[ST__COUNT];
    int64_t val[ST__COUNT];
} status_row_t;

/* Extracts the columns from a reply map. */
void cli_status_extract(const mpread_t *reply, status_row_t *row);
/* What the table says after the endpoint: "MODEL UNUSABLE, rebuilding"
 * (model_unusable), "rebuilding" (rebuilding), each followed by " 61%"
 * when the reply has rebuild_checkpoint and head (the text is valid until
 * the next call), a note when the relay
 * reports 64 MiB or more of WAL not checkpointed (wal_frames,
 * wal_backfilled), else "". */
const char *cli_status_note(const mpread_t *reply);
/* The reply's role (command-service and relay of a replicated store,
 * docs/protocol.md, section 11), printed after the endpoint: "active",
 * "standby", "single", "" when the reply has none, "role?" for any other
 * value (not printed as the server wrote it). */
const char *cli_status_role(const mpread_t *reply);

int cli_status_run(void *zctx, const cli_opts_t *opts);
int cli_rebuild_run(void *zctx, const cli_opts_t *opts);
/* reload-keys [DAEMON]: ReloadKeys to one daemon or every one (security.h:
 * each re-reads its allow-list).  0, 1 when a daemon could not be asked, 2
 * when one refused (its old list stays in force). */
int cli_reload_keys_run(void *zctx, const cli_opts_t *opts);

#endif
