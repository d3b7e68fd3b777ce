/* checkpointer: a thread of the relay that checkpoints the event store's
 * WAL on a connection of its own (docs/decisions.md, item 54).
 * A checkpoint fsyncs the WAL before it copies pages into the database
 * file and the database file after; on the relay's own thread those
 * fsyncs held up publishing (a few milliseconds of visibility at every
 * checkpoint, tens of milliseconds with `--sync normal`, where the WAL
 * holds everything written since the last checkpoint unsynced).  Here they
 * hold up nobody: a passive checkpoint takes no lock that a writer or a
 * reader waits for (the RESTART past a size takes the write lock for what
 * the passive one left, with a bounded wait, as eventstore_checkpoint
 * says). */
#ifndef INV_CHECKPOINTER_H
#define INV_CHECKPOINTER_H

#include "eventstore.h"

#include <stdbool.h>

typedef struct checkpointer checkpointer_t;

/* What the relay runs: a passive checkpoint every 200 ms, a RESTART past
 * 4,096 frames (16 MiB of WAL). */
#define CHECKPOINT_EVERY_MS 200
#define CHECKPOINT_RESTART_FRAMES 4096

/* Opens db_path and starts the thread: a passive checkpoint every
 * period_ms, and a RESTART when the WAL holds restart_frames or more
 * (eventstore_checkpoint).  NULL when the store cannot be opened or the
 * thread not started. */
checkpointer_t *checkpointer_new(const char *db_path, int period_ms, int restart_frames);
/* Stops the thread (after the checkpoint it may be running), closes its
 * connection and frees.  NULL-safe. */
void checkpointer_destroy(checkpointer_t **c);
/* What the thread last saw, read under its lock:
 * - wal: the WAL as the last successful checkpoint left it ({0, 0} before
 *   the first).  A WAL that stays at restart_frames or more, not all
 *   copied, cannot be restarted: a reader holds a snapshot in it (an
 *   operator's sqlite3 shell left in a transaction, a long backup); the
 *   thread logs it once after CHECKPOINT_HELD_WARN_MS and again when the
 *   WAL is restarted.
 * - store_lost: whether the thread found events.db or its WAL deleted or
 *   replaced and asked the process to stop (G22): the daemon then exits
 *   with a failure, so that a supervisor restarts it on the files the path
 *   names. */
typedef struct {
    es_wal_state_t wal;
    bool store_lost;
} checkpointer_seen_t;
checkpointer_seen_t checkpointer_seen(checkpointer_t *c);

#define CHECKPOINT_HELD_WARN_MS 30000

#endif
