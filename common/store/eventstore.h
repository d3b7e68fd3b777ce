/* eventstore: the append-only log in SQLite (events.db).
 *
 * Owns: streams (name -> compact integer key, version, head position),
 * events (position = global, gap-free, commit-ordered; each points at its
 * stream's previous event), outbox (one row per transaction whose events
 * are not all published yet, keyed by its first position),
 * commands (command_id -> position of its event: the first reply is rebuilt
 * from it, for idempotent retries), snapshots (latest state per stream).  Invariants:
 *  - every append runs inside eventstore_begin/commit (BEGIN IMMEDIATE), so
 *    SQLite's single writer makes position order equal commit order;
 *  - events and their transaction's outbox row are written in the same
 *    transaction;
 *  - a stream moves from version v - 1 to v only (compare-and-set on its
 *    row), so a lost race is an error, never a fork.
 *  - every event carries a hash chained over the event before it in position
 *    order (chain.h); every read checks the rows it returns against it.
 * A store of schema 2 or 3 (before the chain) is migrated when it is opened.
 * One eventstore_t is one connection: use it from one thread. */
#ifndef INV_EVENTSTORE_H
#define INV_EVENTSTORE_H

#include "chain.h"
#include "codec.h"
#include "err.h"
#include "message.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eventstore eventstore_t;

typedef struct {
    bool synchronous_full; /* true: PRAGMA synchronous=FULL (durable on power loss) */
    int busy_timeout_ms;   /* how long a writer waits for the lock */
    int cache_mb;          /* page cache, MiB; 0: 16 */
    int checkpoint_pages;  /* WAL auto-checkpoint threshold, pages; 0: SQLite's 1000,
                              ES_NO_AUTOCHECKPOINT: none */
} eventstore_options_t;

#define ES_NO_AUTOCHECKPOINT (-1)

/* Opens (creating the schema if needed).  Returns ERR_OK and *out, or an error
 * with *out NULL.  `opts` may be NULL for the defaults (FULL, 5000 ms). */
int eventstore_open(const char *path, const eventstore_options_t *opts, eventstore_t **out);
/* eventstore_open that says why it failed: SQLite's message and the errno
 * behind it ("database or disk is full (No space left on device)") into
 * why (cap bytes; "" on success; why may be NULL).  An open of a store of
 * the current schema, already in WAL mode, writes nothing (a restart on a
 * full disk works); creation and migration write. */
int eventstore_open_why(const char *path, const eventstore_options_t *opts, eventstore_t **out,
                        char *why, size_t cap);
/* The schema version of the store at path without opening it for writing:
 * 0 when there is no such file (or it is empty), -1 when it cannot be read.
 * A daemon that finds 2 or 3 says that open() is about to migrate it. */
int eventstore_schema_of(const char *path);
/* The schema version open() migrated the file from (2 or 3), or 0 when the file
 * needed no migration: the daemon logs it. */
int eventstore_migrated_from(const eventstore_t *es);
/* NULL-safe, idempotent; nulls *es. */
void eventstore_close(eventstore_t **es);
const char *eventstore_errmsg(const eventstore_t *es);
/* The path of the store's write-ahead log (walsync.h), valid while open. */
const char *eventstore_wal_path(const eventstore_t *es);

int eventstore_begin(eventstore_t *es);
int eventstore_commit(eventstore_t *es);
void eventstore_rollback(eventstore_t *es);

/* Appends one event (and, for the transaction's first, its outbox row)
 * inside the open transaction.  The
 * caller fills env (stream, version, type, schema, ids, recorded_at) and
 * data; on ERR_OK env.position holds the assigned position.  ERR_DUPLICATE
 * when the stream is not at env.version - 1: roll the transaction back. */
int eventstore_append(eventstore_t *es, event_t *ev);

/* Appends an event copied from the replicated log (replica.h) inside the
 * open transaction: as eventstore_append, but without an outbox row (the
 * relay active when it was decided published it; a subscriber that missed
 * it catches up), and it must land at the position after the head with
 * the hash the log has for it (computed here from its bytes and the chain
 * before it): ERR_CORRUPT when not, and the caller rolls back.  The
 * position is ev->env.position as the log gives it (the hash does not
 * cover it); it must be the head's plus one. */
int eventstore_append_copy(eventstore_t *es, event_t *ev, const uint8_t hash[CHAIN_HASH_LEN]);

/* Calls fn for each event of `stream` with version > after_version and, when
 * max_position > 0, position <= max_position, in version order, with data
 * upcast.  fn returns non-zero to stop early (that value is returned). */
typedef int (*eventstore_event_fn)(const event_t *ev, void *arg);
int eventstore_load_stream(eventstore_t *es, const char *stream, int64_t after_version,
                           int64_t max_position, eventstore_event_fn fn, void *arg);

/* Raw rows: the envelope (with its hash) and the stored data map bytes
 * (valid during fn).  Every read (these two, eventstore_load_stream) checks
 * each row against the chain before handing it over: the rows before a
 * damaged one are handed over, then ERR_CORRUPT, and
 * eventstore_damaged_at() names the position. */
typedef int (*eventstore_raw_fn)(const envelope_t *env, const void *data, size_t len, void *arg);
/* Events with after < position <= through (INT64_MAX: no bound), in
 * order, at most `limit`. */
int eventstore_read_raw(eventstore_t *es, int64_t after, int64_t through, int limit,
                        eventstore_raw_fn fn, void *arg);
/* The events not yet published (from the first outbox row's position on)
 * with after < position <= through, in position order, at most `limit`. */
int eventstore_outbox_read(eventstore_t *es, int64_t after, int64_t through, int limit,
                           eventstore_raw_fn fn, void *arg);
/* Deletes the outbox rows whose events are all at or below `through` (its
 * own transaction): a transaction published in part keeps its row. */
int eventstore_outbox_delete_through(eventstore_t *es, int64_t through);
/* Events from the first outbox row's position to the head: published or
 * not, their rows are still there (0: the outbox is empty). */
int eventstore_outbox_backlog(eventstore_t *es, int64_t *count);

/* The lowest position a read of this connection found damaged (its hash
 * is not the one of its bytes linked to the event before it, or the row
 * does not decode); 0 when none. */
int64_t eventstore_damaged_at(const eventstore_t *es);

/* The chain checked in position order, from a hash kept in memory: what
 * the relay verifies as it goes and `invctl verify` offline. */
typedef struct {
    int64_t through;              /* the last position checked and intact (0: none yet) */
    uint8_t hash[CHAIN_HASH_LEN]; /* its hash (the genesis' zeros before position 1) */
    int64_t checked;              /* events checked */
    int64_t bad_position;         /* the first position whose hash does not follow, 0: none */
} es_chain_state_t;

/* *c before position `from` (<= 1: the start of the log; otherwise the
 * stored hash of the event before it is taken as verified). */
int eventstore_chain_start(eventstore_t *es, int64_t from, es_chain_state_t *c);
/* Checks up to `limit` events with c->through < position <= through,
 * moving c; stops at the first bad one (c->bad_position).  ERR_OK, or the
 * store's error. */
int eventstore_chain_verify(eventstore_t *es, es_chain_state_t *c, int64_t through, int limit);
/* Moves c over the event just read (env with its hash, data its stored
 * bytes) when it is the next position: false, with c->bad_position set,
 * when its hash does not follow from c->hash (or c is broken already);
 * true otherwise (an event at another position leaves c as it is).  Called
 * from a raw read's fn with es (else NULL), no hash is computed when the
 * read checked the row against a stored predecessor equal to c->hash. */
bool eventstore_chain_follow(const eventstore_t *es, es_chain_state_t *c, const envelope_t *env,
                             const void *data, size_t len);
/* The whole chain of the store at path from `from` on, opened read-only
 * (nothing is written or migrated).  ERR_OK with *c (bad_position 0: the
 * chain is intact through c->through), or an error with a message in err. */
int eventstore_verify_file(const char *path, int64_t from, es_chain_state_t *c, char *err,
                           size_t err_cap);

/* Highest committed position (0 when empty) and its recorded_at. */
int eventstore_head(eventstore_t *es, int64_t *position, int64_t *recorded_at);
/* Highest position recorded at or before `micros` (0 when none). */
int eventstore_position_at(eventstore_t *es, int64_t micros, int64_t *position);
/* Current version of a stream (0 when it has no events). */
int eventstore_stream_version(eventstore_t *es, const char *stream, int64_t *version);

/* The WAL as a checkpoint left it: frames it holds, and how many of them
 * are in the database file too.  A WAL whose frames are all backfilled is
 * written from its start again by the next commit. */
typedef struct {
    int frames;
    int backfilled;
} es_wal_state_t;

/* A passive WAL checkpoint (never blocks the writer); the relay calls it
 * so that the command-service's commits do not have to.  When the WAL holds
 * restart_frames or more (0: never), a RESTART checkpoint follows: it
 * holds the write lock only for what the passive one left (a few frames and
 * one fsync), and the next commit writes the WAL from its start again.  The
 * WAL stays small and its blocks are reused, so commits never pay for a
 * checkpoint of tens of megabytes nor for growing the file.  *wal (may be
 * NULL) is set to the WAL as the last checkpoint run left it. */
int eventstore_checkpoint(eventstore_t *es, int restart_frames, es_wal_state_t *wal);

/* Idempotency: the stored first reply of command_id.  Returns 1 and fills
 * *reply when found, 0 when not, or an err_t. */
int eventstore_command_find(eventstore_t *es, const char *command_id, command_reply_t *reply);
/* Records an accepted command (its id and position) inside the open
 * transaction. */
int eventstore_command_save(eventstore_t *es, const command_reply_t *reply);
/* Claims command_id before it is decided, inside the open transaction,
 * with the position its first event is expected to get: one B-tree descent
 * where a lookup and a later save took two.  Returns 1 when claimed, 0
 * when the id has a row already (eventstore_command_find reads it), or an
 * err_t.  A claim is made right with eventstore_command_move (the
 * event got another position) or undone with eventstore_command_release
 * (the command was rejected). */
int eventstore_command_claim(eventstore_t *es, const char *command_id, int64_t position);
int eventstore_command_move(eventstore_t *es, const char *command_id, int64_t position);
int eventstore_command_release(eventstore_t *es, const char *command_id);

/* Snapshots: the folded state of a stream at `version`, in an encoding of
 * the caller's (`schema` names it, so a changed encoding is just ignored).
 * load returns 1 with *state malloc'ed (caller frees), 0 when there is none,
 * or an err_t.  save runs inside the open transaction and never moves a
 * snapshot backwards. */
int eventstore_snapshot_load(eventstore_t *es, const char *stream, int64_t *version,
                             int32_t *schema, void **state, size_t *len);
int eventstore_snapshot_save(eventstore_t *es, const char *stream, int64_t version, int32_t schema,
                             const void *state, size_t len);

#endif
