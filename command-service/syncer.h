/* syncer: a thread that makes the event store's WAL durable behind the
 * command-service's commits (docs/decisions.md, item 35).
 * The command-service commits each batch with synchronous=NORMAL, so the
 * commit writes the WAL frames without an fsync, and asks the syncer for
 * one with the batch's sequence number; it answers the batch's commands
 * only once syncer_done reports that number synced.  Meanwhile it decides
 * and commits the next batch: the fsync no longer holds the write lock nor
 * the thread that decides.  One fdatasync covers every request made before
 * it started, so a slow disk merges several batches into one fsync. */
#ifndef INV_SYNCER_H
#define INV_SYNCER_H

#include "metrics.h"

#include <stdint.h>

typedef struct syncer syncer_t;

/* Starts the thread for the WAL at wal_path; each fdatasync's time goes
 * into fsync_us (microseconds; NULL: not measured), which must outlive the
 * syncer.  NULL with errno on failure. */
syncer_t *syncer_new(const char *wal_path, metrics_histogram_t *fsync_us);
/* Syncs what is still requested, stops the thread and frees.  NULL-safe. */
void syncer_destroy(syncer_t **s);
/* Everything written to the WAL before this call is to be made durable;
 * seq (increasing) names the request. */
void syncer_request(syncer_t *s, uint64_t seq);
/* A descriptor that polls readable when syncer_done may have advanced. */
int syncer_fd(const syncer_t *s);
/* Clears syncer_fd's readiness and sets *done to the highest request synced.
 * 0, or -1 with errno once an fdatasync has failed: nothing requested
 * since the last success can be called durable, now or later. */
int syncer_done(syncer_t *s, uint64_t *done);
/* fsyncs done since start. */
int64_t syncer_count(syncer_t *s);

#endif
