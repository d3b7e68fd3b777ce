/* eventstore: see eventstore.h.  Statements are prepared once at open and
 * reset after each use. */
#include "eventstore.h"

#include "chain.h"
#include "proc.h"
#include "sqlitedb.h"
#include "strcopy.h"
#include "strtable.h"
#include "timeslew.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    ST_STREAM_ID,
    ST_STREAM_ADD,
    ST_STREAM_ADVANCE,
    ST_MARK_ADD,
    ST_MARK_NEXT,
    ST_APPEND,
    ST_OUTBOX_ADD,
    ST_LOAD,
    ST_READ,
    ST_OUTBOX_READ,
    ST_OUTBOX_DELETE,
    ST_OUTBOX_COUNT,
    ST_HEAD,
    ST_POSITION_AT,
    ST_TIME_INDEXED,
    ST_TIME_FROM,
    ST_STREAM_VERSION,
    ST_STREAM_NAME,
    ST_CMD_FIND,
    ST_CMD_SAVE,
    ST_CMD_CLAIM,
    ST_CMD_MOVE,
    ST_CMD_RELEASE,
    ST_SNAP_LOAD,
    ST_SNAP_SAVE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_CHAIN_HEAD,
    ST_CHAIN_HASH,
    ST__COUNT
};

/* Columns 10 and 11 of ST_LOAD: the event's hash and the stored hash of
 * the event before it in position order (NULL before position 1: the
 * chain's genesis), so that each row read is checked (es_row_check).  The
 * reads in position order select only the hash: each row's predecessor is
 * the row before it, and the first one's is looked up once
 * (es_ordered_prev), which saved a B-tree descent per event. */
#define ES_PREV_HASH                                                                           \
    " e.hash, (SELECT p.hash FROM events p WHERE p.position < e.position"                      \
    " ORDER BY p.position DESC LIMIT 1)"

static const char *const sql[ST__COUNT] = {
    [ST_STREAM_ID] = "SELECT stream_id, version, head FROM streams WHERE name = ?",
    [ST_STREAM_ADD] = "INSERT INTO streams(name) VALUES(?)",
    /* Compare-and-set: moves a stream on by one version only from the
     * version the caller decided on. */
    [ST_STREAM_ADVANCE] = "UPDATE streams SET version = ?2, head = ?3"
                          " WHERE stream_id = ?1 AND version = ?2 - 1",
    [ST_APPEND] = "INSERT INTO events(stream_id, version, type, schema, event_id, command_id,"
                  " correlation_id, recorded_at, payload, prev, hash)"
                  " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [ST_OUTBOX_ADD] = "INSERT INTO outbox(position) VALUES(?)",
    [ST_MARK_ADD] = "INSERT INTO stream_marks(stream_id, version, position) VALUES(?1, ?2, ?3)",
    [ST_MARK_NEXT] = "SELECT version, position FROM stream_marks"
                     " WHERE stream_id = ?1 AND version > ?2 ORDER BY version LIMIT 1",
    /* One chunk of a stream: walks the chain back from position ?1 to
     * version ?2 + 1 (one primary-key lookup per event) and returns the
     * events in version order. */
    [ST_LOAD] = "WITH RECURSIVE chain(pos) AS ("
                " SELECT ?1"
                " UNION ALL SELECT e.prev FROM chain c JOIN events e ON e.position = c.pos"
                "  WHERE e.version > ?2 + 1)"
                " SELECT e.position, ?3, e.version, e.type, e.schema, e.event_id,"
                " e.command_id, e.correlation_id, e.recorded_at, e.payload," ES_PREV_HASH
                " FROM chain c JOIN events e ON e.position = c.pos"
                " WHERE e.version > ?2 AND e.position <= ?4 ORDER BY e.version",
    /* These two return the stream's id, named from es->names: joining
     * streams read a page of stream rows per event, in the relay re-read
     * from the WAL after every commit of the command-service. */
    [ST_READ] = "SELECT e.position, e.stream_id, e.version, e.type, e.schema, e.event_id,"
                " e.command_id, e.correlation_id, e.recorded_at, e.payload, e.hash"
                " FROM events e WHERE e.position > ?1 AND e.position <= ?2"
                " ORDER BY e.position LIMIT ?3",
    /* The outbox (one row per transaction, keyed by its first position)
     * says what is not yet published: every event from its first row on. */
    [ST_OUTBOX_READ] = "SELECT e.position, e.stream_id, e.version, e.type, e.schema, e.event_id,"
                       " e.command_id, e.correlation_id, e.recorded_at, e.payload, e.hash"
                       " FROM events e WHERE e.position > max(?1, (SELECT coalesce(min(position),"
                       "  9223372036854775807) FROM outbox) - 1) AND e.position <= ?2"
                       " ORDER BY e.position LIMIT ?3",
    /* A row goes once every event of its transaction is at or below ?1:
     * the rows before the last one that starts at or below ?1 + 1 (each
     * ends where the next starts), and all of them once the head is. */
    [ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE position < CASE"
                         " WHEN (SELECT coalesce(max(position), 0) FROM events) <= ?1 THEN ?1 + 1"
                         " ELSE (SELECT coalesce(max(position), 0) FROM outbox"
                         "  WHERE position <= ?1 + 1) END",
    [ST_OUTBOX_COUNT] = "SELECT coalesce((SELECT max(position) FROM events)"
                        " - (SELECT min(position) FROM outbox) + 1, 0)",
    [ST_HEAD] = "SELECT position, recorded_at FROM events ORDER BY position DESC LIMIT 1",
    [ST_POSITION_AT] = "SELECT coalesce(max(position), 0) FROM events WHERE recorded_at <= ?",
    [ST_TIME_INDEXED] = "SELECT count(*) FROM sqlite_master"
                        " WHERE type = 'index' AND name = 'events_recorded_at'",
    [ST_TIME_FROM] = "SELECT position, recorded_at FROM events WHERE position >= ?"
                     " ORDER BY position LIMIT 1",
    [ST_STREAM_VERSION] = "SELECT version FROM streams WHERE name = ?",
    [ST_STREAM_NAME] = "SELECT name FROM streams WHERE stream_id = ?",
    [ST_CMD_FIND] = "SELECT e.position, s.name, e.version FROM commands c"
                    " JOIN events e ON e.position = c.position"
                    " JOIN streams s ON s.stream_id = e.stream_id WHERE c.command_id = ?",
    [ST_CMD_SAVE] = "INSERT INTO commands(command_id, position) VALUES(?, ?)",
    [ST_CMD_CLAIM] = "INSERT INTO commands(command_id, position) VALUES(?, ?)"
                     " ON CONFLICT DO NOTHING",
    [ST_CMD_MOVE] = "UPDATE commands SET position = ?2 WHERE command_id = ?1",
    [ST_CMD_RELEASE] = "DELETE FROM commands WHERE command_id = ?",
    [ST_SNAP_LOAD] = "SELECT version, schema, state FROM snapshots WHERE stream = ?",
    [ST_SNAP_SAVE] = "INSERT INTO snapshots(stream, version, schema, state) VALUES(?,?,?,?)"
                     " ON CONFLICT(stream) DO UPDATE SET version = excluded.version,"
                     " schema = excluded.schema, state = excluded.state"
                     " WHERE excluded.version > snapshots.version",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* The chain's head: the hash the next append links to. */
    [ST_CHAIN_HEAD] = "SELECT hash FROM events ORDER BY position DESC LIMIT 1",
    /* The stored hash of the last event at or before a position. */
    [ST_CHAIN_HASH] = "SELECT hash FROM events WHERE position <= ? ORDER BY position DESC LIMIT 1",
};

/* Schema 3.  Streams have compact integer keys (schema 2, issue 5's S2)
 * and carry their version and head (the position of their last event);
 * every event points at the previous event of its stream.  A stream is
 * loaded by walking that chain back from its head, and an append rewrites
 * the stream's small row instead of a page of a UNIQUE(stream_id, version)
 * index per stream touched, which was most of the bytes every commit wrote
 * (docs/decisions.md, item 26).  Every ES_MARK_EVERY-th event of a stream
 * is also noted in stream_marks, a sparse index that lets a reader start a
 * chunk of at most ES_MARK_EVERY events anywhere in a long stream (paging
 * through it forwards) instead of walking back from its head.  The
 * compare-and-set on streams.version
 * keeps what the unique index guaranteed: a lost race is an error, never a
 * fork.  The idempotency table keeps only the position; the reply is
 * rebuilt from the event.  recorded_at has no index: appends keep it
 * non-decreasing in position order (es_clamp_time) and a time is found by
 * bisecting the positions; a store created before that keeps its
 * events_recorded_at index, which then answers instead (an older version
 * opening a newer store creates the index: the schema text is the same
 * version; docs/decisions.md, item 52).  Schema 4 adds the hash chain:
 * every event's `hash` links it to the event before it in position order
 * (chain.h), written by the append (es_chain_link) and checked by every
 * read (es_row_check); a schema-3 store gets it at open (es_migrate_chain). */
#define ES_SCHEMA_VERSION 4
#define ES_MARK_EVERY 64
#define ES_STR_(x) #x
#define ES_STR(x) ES_STR_(x)
#define ES_TABLE_MARKS                                                                         \
    "CREATE TABLE IF NOT EXISTS stream_marks("                                                 \
    " stream_id INTEGER NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL,"        \
    " PRIMARY KEY (stream_id, version)) WITHOUT ROWID;"
#define ES_TABLE_EVENTS(name)                                                                  \
    "CREATE TABLE IF NOT EXISTS " name "("                                                     \
    " position INTEGER PRIMARY KEY,"                                                           \
    " stream_id INTEGER NOT NULL REFERENCES streams(stream_id),"                               \
    " version INTEGER NOT NULL,"                                                               \
    " type TEXT NOT NULL,"                                                                     \
    " schema INTEGER NOT NULL,"                                                                \
    " event_id TEXT NOT NULL,"                                                                 \
    " command_id TEXT NOT NULL,"                                                               \
    " correlation_id TEXT NOT NULL,"                                                           \
    " recorded_at INTEGER NOT NULL,"                                                           \
    " payload BLOB NOT NULL,"                                                                  \
    " prev INTEGER NOT NULL," /* position of the stream's previous event, 0: none */        \
    " hash BLOB);"            /* the chain (chain.h), 32 bytes; NULL only mid-migration */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS streams("
    " stream_id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " head INTEGER NOT NULL DEFAULT 0);" ES_TABLE_EVENTS("events") ES_TABLE_MARKS
    "CREATE TABLE IF NOT EXISTS outbox(position INTEGER PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS commands("
    " command_id TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS snapshots("
    " stream TEXT PRIMARY KEY, version INTEGER NOT NULL, schema INTEGER NOT NULL,"
    " state BLOB NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version = 4;";

/* Schema 2 -> 3, in one transaction: the streams get their version and
 * head, the events table is copied with each event's predecessor (the old
 * unique index orders the copy), the marks are noted and the index goes
 * with the old table. */
static const char migrate_2_to_3_sql[] =
    "ALTER TABLE streams ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE streams ADD COLUMN head INTEGER NOT NULL DEFAULT 0;"
    "UPDATE streams SET (version, head) = (SELECT e.version, e.position FROM events e"
    " WHERE e.stream_id = streams.stream_id ORDER BY e.version DESC LIMIT 1)"
    " WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream_id = streams.stream_id);"
    ES_TABLE_EVENTS("events_v3")
    "INSERT INTO events_v3(position, stream_id, version, type, schema, event_id, command_id,"
    " correlation_id, recorded_at, payload, prev)"
    " SELECT position, stream_id, version, type, schema, event_id, command_id, correlation_id,"
    " recorded_at, payload,"
    " coalesce(lag(position) OVER (PARTITION BY stream_id ORDER BY version), 0)"
    " FROM events ORDER BY position;"
    ES_TABLE_MARKS
    "INSERT INTO stream_marks(stream_id, version, position) SELECT stream_id, version,"
    " position FROM events WHERE version % " ES_STR(ES_MARK_EVERY) " = 0;"
    "DROP TABLE events;"
    "ALTER TABLE events_v3 RENAME TO events;"
    "CREATE INDEX events_recorded_at ON events(recorded_at);"
    "PRAGMA user_version = 3;";

/* The stream rows cached per connection: ES_STREAM_SETS sets of
 * ES_STREAM_WAYS, least recently used evicted inside a set.  A miss reads
 * the row by name (~5 us); with 1,024 direct-mapped slots and 10,000
 * products that was 7 % of the command-service's CPU (docs/decisions.md,
 * item 32). */
#define ES_STREAM_SETS 4096
#define ES_STREAM_WAYS 4
/* Stream names by id, direct-mapped (ids are dense), for the event reads
 * of the relay and the catch-up server (docs/decisions.md, item 33). */
#define ES_NAME_CACHE 16384
/* Longest wait at open for another process's schema migration. */
#define ES_MIGRATION_WAIT_MS (30 * 60 * 1000)
/* Longest wait of a WAL restart for the write lock and for readers. */
#define WAL_RESTART_WAIT_US 10000

/* A stream's row as this connection last wrote or read it. */
typedef struct {
    char name[STREAM_MAX + 1];
    int64_t id; /* 0: the stream has no row (never so when cached) */
    int64_t version;
    int64_t head;
} es_stream_t;

/* A stream's name as this connection read it (a committed stream's id
 * and name never change). */
typedef struct {
    int64_t id; /* 0: empty slot */
    char name[STREAM_MAX + 1];
} es_name_t;

struct eventstore {
    sqlite3 *db;
    int busy_timeout_ms;
    int64_t busy_limit_us; /* > 0: a shorter wait for this call (the WAL restart) */
    sqlite3_stmt *st[ST__COUNT];
    strtable_t *streams; /* es_stream_t by name, a cache; cleared on rollback */
    es_name_t *names; /* ES_NAME_CACHE, allocated on first use; cleared on rollback */
    int migrated_from;                    /* schema version migrated at open, 0: none */
    bool outbox_written;                  /* the open transaction has its outbox row */
    bool time_floor_read;                 /* time_floor is the open transaction's */
    int64_t time_floor;                   /* recorded_at of the last event appended */
    bool chain_read;                      /* chain_head is the open transaction's */
    uint8_t chain_head[CHAIN_HASH_LEN];   /* hash of the last event appended (or the head) */
    int64_t damaged_at;                   /* first position a read found damaged, 0: none */
    uint8_t row_prev[CHAIN_HASH_LEN];     /* the stored hash the row being handed over follows */
    timeslew_t slew;                      /* es_clamp_time's, while the clock is behind the head */
    codec_writer_t w;           /* reused for payloads and stored replies */
    sqlite3_stmt *scan;         /* eventstore_chain_verify's, prepared on first use */
};

static int
es_err(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return ERR_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ERR_BUSY;
    case SQLITE_CONSTRAINT:
        return ERR_DUPLICATE;
    default:
        return ERR_IO;
    }
}

static int
es_exec(sqlite3 *db, const char *text)
{
    return sqlite3_exec(db, text, NULL, NULL, NULL);
}

static int
es_prepare_all(eventstore_t *es)
{
    for (int i = 0; i < ST__COUNT; i++) {
        int rc =
            sqlite3_prepare_v3(es->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &es->st[i], NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Waits for the write lock in steps of 100 us up to the busy timeout.
 * SQLite's own handler sleeps up to 100 ms at a time, so a writer that
 * keeps committing (the command-service) could starve the relay's outbox
 * deletes for whole seconds. */
static int
es_busy_wait(void *arg, int attempts)
{
    const eventstore_t *es = arg;
    int64_t limit_us = (int64_t)es->busy_timeout_ms * 1000;
    if (es->busy_limit_us > 0 && es->busy_limit_us < limit_us)
        limit_us = es->busy_limit_us;
    if ((int64_t)attempts * 100 >= limit_us)
        return 0;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
    return 1;
}

/* Page cache and WAL checkpoint policy.  A bigger cache keeps the hot
 * index pages in memory; checkpoint_pages moves the automatic checkpoint out
 * of the command path (the relay checkpoints passively, see
 * eventstore_checkpoint). */
static int
es_tune(sqlite3 *db, const eventstore_options_t *opts)
{
    char sql[128];
    int pages = opts->checkpoint_pages;
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d; PRAGMA wal_autocheckpoint=%d;",
             (opts->cache_mb > 0 ? opts->cache_mb : 16) * 1024,
             pages == ES_NO_AUTOCHECKPOINT ? 0 : pages > 0 ? pages : 1000);
    return es_exec(db, sql);
}

/* Refuses a file written by another schema version of this store, except
 * schema 2, which is migrated. */
static int
es_check_version(sqlite3 *db, int *version)
{
    *version = -1;
    int rc = sqlitedb_user_version(db, version);
    if (rc != SQLITE_OK)
        return rc;
    return (*version == 0 || *version == 2 || *version == 3 || *version == ES_SCHEMA_VERSION)
               ? SQLITE_OK
               : SQLITE_MISMATCH;
}

/* Schema 3 -> 4 (inside es_migrate's transaction): the hash column, then
 * every event's hash in position order, in pages (a statement does not
 * update the table it is still reading). */
#define ES_MIGRATE_PAGE 4096
static const char chain_migrate_read_sql[] =
    "SELECT e.position, s.name, e.version, e.type, e.payload, e.recorded_at"
    " FROM events e LEFT JOIN streams s ON s.stream_id = e.stream_id"
    " WHERE e.position > ? ORDER BY e.position LIMIT " ES_STR(ES_MIGRATE_PAGE);

typedef struct {
    int64_t position;
    uint8_t hash[CHAIN_HASH_LEN];
} es_link_t;

/* Hashes one page of rows after *after, linked to *prev; *n rows. */
static int
es_migrate_page(sqlite3_stmt *rd, int64_t *after, uint8_t prev[CHAIN_HASH_LEN], es_link_t *out,
                int *n)
{
    *n = 0;
    sqlite3_bind_int64(rd, 1, *after);
    int rc;
    while ((rc = sqlite3_step(rd)) == SQLITE_ROW) {
        const char *stream = (const char *)sqlite3_column_text(rd, 1);
        const char *type = (const char *)sqlite3_column_text(rd, 3);
        chain_event_t ev = {stream ? stream : "", stream ? strlen(stream) : 0,
                            sqlite3_column_int64(rd, 2), type ? type : "",
                            type ? strlen(type) : 0, sqlite3_column_blob(rd, 4),
                            (size_t)sqlite3_column_bytes(rd, 4), sqlite3_column_int64(rd, 5)};
        out[*n].position = sqlite3_column_int64(rd, 0);
        chain_hash(prev, &ev, out[*n].hash);
        memcpy(prev, out[*n].hash, CHAIN_HASH_LEN);
        *after = out[(*n)++].position;
    }
    sqlite3_reset(rd);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
es_migrate_chain(sqlite3 *db)
{
    sqlite3_stmt *has = NULL, *rd = NULL, *wr = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'hash'", -1, &has, NULL);
    if (rc == SQLITE_OK && sqlite3_step(has) == SQLITE_ROW && sqlite3_column_int(has, 0) == 0)
        rc = es_exec(db, "ALTER TABLE events ADD COLUMN hash BLOB");
    sqlite3_finalize(has);
    es_link_t *page = malloc(ES_MIGRATE_PAGE * sizeof *page);
    if (rc == SQLITE_OK && !page)
        rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, chain_migrate_read_sql, -1, &rd, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE events SET hash = ?2 WHERE position = ?1", -1, &wr,
                                NULL);
    uint8_t prev[CHAIN_HASH_LEN] = {0};
    int64_t after = 0;
    int n = ES_MIGRATE_PAGE;
    while (rc == SQLITE_OK && n == ES_MIGRATE_PAGE) {
        rc = es_migrate_page(rd, &after, prev, page, &n);
        for (int i = 0; rc == SQLITE_OK && i < n; i++) {
            sqlite3_bind_int64(wr, 1, page[i].position);
            sqlite3_bind_blob(wr, 2, page[i].hash, CHAIN_HASH_LEN, SQLITE_STATIC);
            rc = sqlite3_step(wr) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
            sqlite3_reset(wr);
        }
    }
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    free(page);
    return rc == SQLITE_OK ? es_exec(db, "PRAGMA user_version = 4") : rc;
}

/* Migrates a schema-2 store under the write lock; another process that
 * opened the file at the same time finds it migrated already.  Sets
 * *migrated_from to 2 when this call did it. */
static int
es_migrate(sqlite3 *db, int *migrated_from)
{
    int rc = es_exec(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return rc;
    int version = -1;
    rc = sqlitedb_user_version(db, &version);
    if (rc == SQLITE_OK && version == 2) {
        rc = es_exec(db, migrate_2_to_3_sql);
        if (rc == SQLITE_OK)
            *migrated_from = 2;
    }
    if (rc == SQLITE_OK && (version == 2 || version == 3)) {
        rc = es_migrate_chain(db);
        if (rc == SQLITE_OK && *migrated_from == 0)
            *migrated_from = 3;
    }
    if (rc == SQLITE_OK)
        rc = es_exec(db, "COMMIT");
    if (rc != SQLITE_OK) {
        es_exec(db, "ROLLBACK");
        *migrated_from = 0;
    }
    return rc;
}

/* Whether db's journal is a WAL already (a read: the header says so). */
static bool
es_is_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool wal = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    return wal;
}

/* The steps of es_setup that write: the journal switch, a migration, the
 * schema.  A store of the current schema already in WAL mode needs none of
 * them, so that a restart on a full disk (where any write fails) opens it:
 * nothing is written then (issue 23, item 9). */
static int
es_setup_writes(sqlite3 *db, int version, int *migrated_from)
{
    int rc = es_is_wal(db) ? SQLITE_OK : es_exec(db, "PRAGMA journal_mode=WAL");
    if (rc == SQLITE_OK && (version == 2 || version == 3))
        rc = es_migrate(db, migrated_from);
    if (rc == SQLITE_OK && version != ES_SCHEMA_VERSION)
        rc = es_exec(db, schema_sql);
    return rc;
}

/* Journal mode, durability, migration and schema, read first and written
 * only when needed (es_setup_writes).  Two processes opening a
 * new file at once can see SQLITE_BUSY from the journal-mode switch, which
 * does not go through the busy handler: retry for up to the busy timeout.
 * While the file is of schema 2, another process may be migrating it (the
 * relay and the command-service open it at the same time; a million events
 * take ~15 s): then wait up to ES_MIGRATION_WAIT_MS instead. */
static int
es_setup(sqlite3 *db, const eventstore_options_t *opts, int *migrated_from)
{
    int rc = SQLITE_BUSY, version = 0;
    int64_t start = proc_mono_ms();
    for (;;) {
        rc = es_check_version(db, &version);
        if (rc == SQLITE_OK)
            rc = es_setup_writes(db, version, migrated_from);
        if (rc == SQLITE_OK)
            rc = es_exec(db, opts->synchronous_full ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
        if (rc == SQLITE_OK)
            rc = es_tune(db, opts);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
        int64_t limit = version == 2 || version == 3 ? ES_MIGRATION_WAIT_MS : opts->busy_timeout_ms;
        if (proc_mono_ms() - start > limit)
            break;
        sqlite3_sleep(20);
    }
    return rc;
}

/* Why an open failed, into why: SQLite's message and the system's errno
 * text behind it, if any. */
static void
es_open_why(sqlite3 *db, int rc, char *why, size_t cap)
{
    if (!why || cap == 0)
        return;
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (rc == SQLITE_MISMATCH)
        msg = "written by another schema version of this store";
    if (sys)
        snprintf(why, cap, "%s (%s)", msg, strerror(sys));
    else
        snprintf(why, cap, "%s", msg);
}

int
eventstore_open(const char *path, const eventstore_options_t *opts, eventstore_t **out)
{
    return eventstore_open_why(path, opts, out, NULL, 0);
}

int
eventstore_open_why(const char *path, const eventstore_options_t *opts, eventstore_t **out,
                    char *why, size_t cap)
{
    eventstore_options_t defaults = {true, 5000, 0, 0};
    if (!opts)
        opts = &defaults;
    *out = NULL;
    if (why && cap)
        why[0] = '\0';
    eventstore_t *es = calloc(1, sizeof *es);
    if (!es)
        return ERR_IO;
    codec_writer_init(&es->w);
    es->streams = strtable_new(&(strtable_opts_t){STRTABLE_ENTRY(es_stream_t, name),
                                                  .capacity = ES_STREAM_SETS * ES_STREAM_WAYS,
                                                  .ways = ES_STREAM_WAYS});
    if (!es->streams) {
        eventstore_close(&es);
        if (why && cap)
            snprintf(why, cap, "out of memory");
        return ERR_IO;
    }
    int rc = sqlitedb_open(path, &es->db);
    if (rc == SQLITE_OK) {
        es->busy_timeout_ms = opts->busy_timeout_ms;
        sqlite3_busy_handler(es->db, es_busy_wait, es);
        rc = es_setup(es->db, opts, &es->migrated_from);
    }
    if (rc == SQLITE_OK)
        rc = es_prepare_all(es);
    if (rc != SQLITE_OK) {
        int err = es_err(rc);
        if (!es->db && why && cap) /* sqlitedb_open left no handle: errno is its */
            snprintf(why, cap, "%s (%s)", sqlite3_errstr(rc), strerror(errno));
        else
            es_open_why(es->db, rc, why, cap);
        eventstore_close(&es);
        return err == ERR_OK ? ERR_IO : err;
    }
    *out = es;
    return ERR_OK;
}

void
eventstore_close(eventstore_t **esp)
{
    if (!esp || !*esp)
        return;
    eventstore_t *es = *esp;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(es->st[i]);
    sqlite3_finalize(es->scan);
    sqlite3_close(es->db);
    codec_writer_fini(&es->w);
    free(es->names);
    strtable_destroy(&es->streams);
    free(es);
    *esp = NULL;
}

int
eventstore_schema_of(const char *path)
{
    return sqlitedb_file_version(path);
}

int
eventstore_migrated_from(const eventstore_t *es)
{
    return es->migrated_from;
}

const char *
eventstore_errmsg(const eventstore_t *es)
{
    return sqlite3_errmsg(es->db);
}

const char *
eventstore_wal_path(const eventstore_t *es)
{
    return sqlite3_filename_wal(sqlite3_db_filename(es->db, "main"));
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Steps a statement that returns no rows, then resets it. */
static int
es_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? ERR_OK : es_err(rc);
}

int
eventstore_begin(eventstore_t *es)
{
    es->outbox_written = false;
    es->time_floor_read = false;
    es->chain_read = false;
    return es_step_done(es->st[ST_BEGIN]);
}

int
eventstore_commit(eventstore_t *es)
{
    int rc = es_step_done(es->st[ST_COMMIT]);
    if (rc != ERR_OK)
        eventstore_rollback(es);
    return rc;
}

void
eventstore_rollback(eventstore_t *es)
{
    if (!sqlite3_get_autocommit(es->db))
        es_step_done(es->st[ST_ROLLBACK]);
    es->time_floor_read = false;
    es->chain_read = false;
    strtable_clear(es->streams); /* ids of streams created in the rolled-back transaction */
    if (es->names)
        memset(es->names, 0, ES_NAME_CACHE * sizeof *es->names);
}

int
eventstore_checkpoint(eventstore_t *es, int restart_frames, es_wal_state_t *wal)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(es->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if ((rc & 0xff) == SQLITE_BUSY)
        return ERR_OK; /* another connection is checkpointing: later */
    if (rc == SQLITE_OK && restart_frames > 0 && log >= restart_frames) {
        /* RESTART holds the write lock while it waits for readers: bound
         * that wait so a long reader (an operator's sqlite3 shell) cannot
         * stall the command-service; busy now means "try again later". */
        es->busy_limit_us = WAL_RESTART_WAIT_US;
        int rlog = 0, rdone = 0;
        rc = sqlite3_wal_checkpoint_v2(es->db, NULL, SQLITE_CHECKPOINT_RESTART, &rlog, &rdone);
        es->busy_limit_us = 0;
        if (rc == SQLITE_OK) {
            log = rlog;
            done = rdone;
        } else if ((rc & 0xff) == SQLITE_BUSY) {
            rc = SQLITE_OK; /* a reader holds the WAL: the passive one's numbers stand */
        }
    }
    if (wal && rc == SQLITE_OK)
        *wal = (es_wal_state_t){log, done};
    return rc == SQLITE_OK ? ERR_OK : es_err(rc);
}

static int
es_query_int(sqlite3_stmt *st, int64_t *a, int64_t *b)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(st, 0);
        if (b)
            *b = sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        *a = 0;
        if (b)
            *b = 0;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? ERR_OK : es_err(rc);
}

/* Reads a stream's row into *out (id 0 when it has none). */
static int
es_stream_read(eventstore_t *es, const char *name, es_stream_t *out)
{
    sqlite3_stmt *st = es->st[ST_STREAM_ID];
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    out->id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    out->version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    out->head = rc == SQLITE_ROW ? sqlite3_column_int64(st, 2) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : es_err(rc);
}

/* Fills the cached row s of the stream `name` from the store, adding the
 * row inside the open transaction when the stream has none. */
static int
es_stream_fill(eventstore_t *es, const char *name, es_stream_t *s)
{
    int rc = es_stream_read(es, name, s);
    if (rc == ERR_OK && s->id == 0) {
        bind_text(es->st[ST_STREAM_ADD], 1, name);
        if ((rc = es_step_done(es->st[ST_STREAM_ADD])) == ERR_OK)
            s->id = sqlite3_last_insert_rowid(es->db);
    }
    return rc;
}

/* The cached row of a stream, read from the store (or created, inside the
 * open transaction) when it is not cached or `refresh` is set. */
static int
es_stream(eventstore_t *es, const char *name, bool refresh, es_stream_t **out)
{
    bool added;
    es_stream_t *s = strtable_put(es->streams, name, &added);
    assert(s); /* an envelope's stream fits (STREAM_MAX) and nothing is pinned */
    *out = s;
    if (!added && !refresh)
        return ERR_OK;
    int rc = es_stream_fill(es, name, s);
    if (rc != ERR_OK)
        strtable_remove(es->streams, s);
    return rc;
}

/* Finds the stream's row (*s) and checks that it is at env.version - 1;
 * ERR_DUPLICATE when it is elsewhere (a lost race or a stale decision).
 * The row is read again before giving up, in case another connection
 * appended since it was cached. */
static int
es_stream_check(eventstore_t *es, const envelope_t *e, es_stream_t **s)
{
    int rc = es_stream(es, e->stream, false, s);
    if (rc == ERR_OK && (*s)->version != e->version - 1)
        rc = es_stream(es, e->stream, true, s);
    if (rc == ERR_OK && (*s)->version != e->version - 1)
        rc = ERR_DUPLICATE;
    return rc;
}

static int
es_stream_advance(eventstore_t *es, es_stream_t *s, int64_t version, int64_t position)
{
    sqlite3_stmt *st = es->st[ST_STREAM_ADVANCE];
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int64(st, 3, position);
    int rc = es_step_done(st);
    if (rc == ERR_OK && sqlite3_changes(es->db) != 1)
        rc = ERR_DUPLICATE; /* the cached row was stale */
    if (rc == ERR_OK) {
        s->version = version;
        s->head = position;
    } else {
        strtable_remove(es->streams, s);
    }
    return rc;
}

/* The transaction's outbox row, keyed by its first position, written with
 * its first event (an append outside a transaction is one of its own):
 * one row per commit instead of one per event, which the relay deletes
 * once the transaction's events are published (docs/decisions.md, item
 * 42).  Rows of one event each, as earlier versions wrote them, read the
 * same way. */
static int
es_outbox_mark(eventstore_t *es, int64_t position)
{
    bool in_transaction = !sqlite3_get_autocommit(es->db);
    if (in_transaction && es->outbox_written)
        return ERR_OK;
    sqlite3_bind_int64(es->st[ST_OUTBOX_ADD], 1, position);
    int rc = es_step_done(es->st[ST_OUTBOX_ADD]);
    es->outbox_written = in_transaction && rc == ERR_OK;
    return rc;
}

/* Keeps recorded_at non-decreasing in position order: while the clock is
 * behind the head's time (it stepped back), times move on from the head at
 * half the real rate until the clock catches up (timeslew.h; the monotonic
 * clock is read only then).  The floor is the
 * head's time, read once per transaction (under the write lock, so another
 * writer's events count) and once per append outside one.  What it buys:
 * no index on the time (eventstore_position_at searches the positions). */
static int
es_clamp_time(eventstore_t *es, int64_t *recorded_at)
{
    if (!es->time_floor_read || sqlite3_get_autocommit(es->db)) {
        int64_t head;
        int rc = es_query_int(es->st[ST_HEAD], &head, &es->time_floor);
        if (rc != ERR_OK)
            return rc;
        es->time_floor_read = true;
    }
    if (*recorded_at < es->time_floor) /* the clock is behind the head: slew (timeslew.h) */
        *recorded_at = timeslew_next(&es->slew, es->time_floor, *recorded_at, proc_mono_us());
    else
        es->slew.active = false;
    es->time_floor = *recorded_at;
    return ERR_OK;
}

/* The hash the next append links to: the head's, read once per
 * transaction under the write lock (and once per append outside one), then
 * carried from append to append.  ERR_CORRUPT when the head has no valid
 * hash: the chain cannot go on from a damaged head. */
static int
es_chain_prev(eventstore_t *es)
{
    if (es->chain_read && !sqlite3_get_autocommit(es->db))
        return ERR_OK;
    sqlite3_stmt *st = es->st[ST_CHAIN_HEAD];
    int rc = sqlite3_step(st), out = ERR_OK;
    if (rc == SQLITE_DONE)
        memcpy(es->chain_head, chain_genesis, CHAIN_HASH_LEN);
    else if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == CHAIN_HASH_LEN)
        memcpy(es->chain_head, sqlite3_column_blob(st, 0), CHAIN_HASH_LEN);
    else
        out = rc == SQLITE_ROW ? ERR_CORRUPT : es_err(rc);
    sqlite3_reset(st);
    es->chain_read = out == ERR_OK;
    return out;
}

/* e->hash for the event about to be appended with payload es->w, linked
 * to the head; the head moves to it once the row is in. */
static int
es_chain_link(eventstore_t *es, envelope_t *e)
{
    int rc = es_chain_prev(es);
    if (rc != ERR_OK)
        return rc;
    const char *type = event_spec(e->type)->name;
    chain_event_t cev = {e->stream,         strlen(e->stream), e->version,
                         type,              strlen(type),      es->w.buf.data,
                         es->w.buf.size,    e->recorded_at};
    chain_hash(es->chain_head, &cev, e->hash);
    return ERR_OK;
}

static int
es_append(eventstore_t *es, event_t *ev, bool outbox)
{
    envelope_t *e = &ev->env;
    es_stream_t *s;
    int rc = es_stream_check(es, e, &s);
    if (rc != ERR_OK || (rc = es_clamp_time(es, &e->recorded_at)) != ERR_OK)
        return rc;
    codec_writer_reset(&es->w);
    codec_pack_event_data(&es->w, e->type, &ev->data);
    if ((rc = es_chain_link(es, e)) != ERR_OK)
        return rc;
    sqlite3_stmt *st = es->st[ST_APPEND];
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, e->version);
    bind_text(st, 3, event_spec(e->type)->name);
    sqlite3_bind_int(st, 4, e->schema);
    bind_text(st, 5, e->event_id);
    bind_text(st, 6, e->command_id);
    bind_text(st, 7, e->correlation_id);
    sqlite3_bind_int64(st, 8, e->recorded_at);
    sqlite3_bind_blob(st, 9, es->w.buf.data, (int)es->w.buf.size, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, s->head);
    sqlite3_bind_blob(st, 11, e->hash, CHAIN_HASH_LEN, SQLITE_STATIC);
    if ((rc = es_step_done(st)) != ERR_OK) {
        es->chain_read = false;
        return rc;
    }
    memcpy(es->chain_head, e->hash, CHAIN_HASH_LEN);
    e->position = sqlite3_last_insert_rowid(es->db);
    if ((rc = es_stream_advance(es, s, e->version, e->position)) != ERR_OK)
        return rc;
    if (e->version % ES_MARK_EVERY == 0) {
        sqlite3_stmt *mk = es->st[ST_MARK_ADD];
        sqlite3_bind_int64(mk, 1, s->id);
        sqlite3_bind_int64(mk, 2, e->version);
        sqlite3_bind_int64(mk, 3, e->position);
        if ((rc = es_step_done(mk)) != ERR_OK)
            return rc;
    }
    return outbox ? es_outbox_mark(es, e->position) : ERR_OK;
}

int
eventstore_append(eventstore_t *es, event_t *ev)
{
    return es_append(es, ev, true);
}

int
eventstore_append_copy(eventstore_t *es, event_t *ev, const uint8_t hash[CHAIN_HASH_LEN])
{
    int64_t position = 0;
    int rc = eventstore_head(es, &position, NULL);
    if (rc != ERR_OK)
        return rc;
    /* the position the log gives the event, before es_append sets the one
     * it lands at: the hash does not cover it (fuzz_replica_row) */
    if (ev->env.position != position + 1)
        return ERR_CORRUPT;
    if ((rc = es_append(es, ev, false)) != ERR_OK)
        return rc;
    if (ev->env.position != position + 1 || memcmp(ev->env.hash, hash, CHAIN_HASH_LEN) != 0)
        return ERR_CORRUPT;
    return ERR_OK;
}

/* The name of the stream with this id, cached; NULL when it has none (or
 * on an error). */
static const char *
es_stream_name(eventstore_t *es, int64_t id)
{
    if (!es->names && !(es->names = calloc(ES_NAME_CACHE, sizeof *es->names)))
        return NULL;
    es_name_t *n = &es->names[(uint64_t)id % ES_NAME_CACHE];
    if (id != 0 && n->id == id)
        return n->name;
    sqlite3_stmt *st = es->st[ST_STREAM_NAME];
    sqlite3_bind_int64(st, 1, id);
    const char *name = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        strcopy(n->name, sizeof n->name, (const char *)sqlite3_column_text(st, 0));
        n->id = id;
        name = n->name;
    }
    sqlite3_reset(st);
    return name;
}

/* Fills an envelope from a row of the 10-column event SELECTs; their
 * column 1 is the stream's name, or its id (ST_READ, ST_OUTBOX_READ). */
static int
es_row_envelope(eventstore_t *es, sqlite3_stmt *st, envelope_t *e)
{
    memset(e, 0, sizeof *e);
    e->position = sqlite3_column_int64(st, 0);
    const char *stream = sqlite3_column_type(st, 1) == SQLITE_INTEGER
                             ? es_stream_name(es, sqlite3_column_int64(st, 1))
                             : (const char *)sqlite3_column_text(st, 1);
    if (!stream)
        return ERR_CORRUPT;
    strcopy(e->stream, sizeof e->stream, stream);
    e->version = sqlite3_column_int64(st, 2);
    const char *type = (const char *)sqlite3_column_text(st, 3);
    int t = type ? event_type_lookup(type, strlen(type)) : -1;
    if (t < 0)
        return ERR_CORRUPT;
    e->type = (event_type_t)t;
    e->schema = sqlite3_column_int(st, 4);
    strcopy(e->event_id, sizeof e->event_id, (const char *)sqlite3_column_text(st, 5));
    strcopy(e->command_id, sizeof e->command_id, (const char *)sqlite3_column_text(st, 6));
    strcopy(e->correlation_id, sizeof e->correlation_id, (const char *)sqlite3_column_text(st, 7));
    e->recorded_at = sqlite3_column_int64(st, 8);
    return ERR_OK;
}

/* es->row_prev for the first row of a read in position order: the stored
 * hash of the event before `position` (the genesis when none). */
static int
es_ordered_prev(eventstore_t *es, int64_t position)
{
    sqlite3_stmt *st = es->st[ST_CHAIN_HASH];
    sqlite3_bind_int64(st, 1, position - 1);
    int rc = sqlite3_step(st), out = ERR_OK;
    if (rc == SQLITE_DONE)
        memcpy(es->row_prev, chain_genesis, CHAIN_HASH_LEN);
    else if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == CHAIN_HASH_LEN)
        memcpy(es->row_prev, sqlite3_column_blob(st, 0), CHAIN_HASH_LEN);
    else
        out = rc == SQLITE_ROW ? ERR_CORRUPT : es_err(rc);
    sqlite3_reset(st);
    return out;
}

/* Checks a row of the event SELECTs against the chain: its hash (column
 * 10) must be the one of its bytes linked to the stored hash of the event
 * before it: es->row_prev in a read in position order (`ordered`), column
 * 11 otherwise (NULL before the first), copied into es->row_prev.  Fills
 * e->hash. */
static int
es_row_check(eventstore_t *es, sqlite3_stmt *st, bool ordered, envelope_t *e, const void *data,
             size_t len)
{
    if (sqlite3_column_bytes(st, 10) != CHAIN_HASH_LEN)
        return ERR_CORRUPT;
    memcpy(e->hash, sqlite3_column_blob(st, 10), CHAIN_HASH_LEN);
    if (!ordered && sqlite3_column_type(st, 11) == SQLITE_NULL) {
        memcpy(es->row_prev, chain_genesis, CHAIN_HASH_LEN);
    } else if (!ordered) {
        if (sqlite3_column_bytes(st, 11) != CHAIN_HASH_LEN)
            return ERR_CORRUPT;
        memcpy(es->row_prev, sqlite3_column_blob(st, 11), CHAIN_HASH_LEN);
    }
    const char *type = event_spec(e->type)->name;
    chain_event_t cev = {e->stream, strlen(e->stream), e->version, type, strlen(type),
                         data,      len,               e->recorded_at};
    return chain_check(es->row_prev, &cev, e->hash) ? ERR_OK : ERR_CORRUPT;
}

/* Runs a bound event SELECT and hands each row to fn as raw bytes, each
 * checked against the chain first: the rows before a damaged one are
 * handed over, then ERR_CORRUPT with es->damaged_at set.  `ordered`: the
 * SELECT returns positions in order and no column 11. */
static int
es_each_raw(eventstore_t *es, sqlite3_stmt *st, bool ordered, eventstore_raw_fn fn, void *arg)
{
    int rc, out = ERR_OK;
    envelope_t env;
    bool first = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(st, 9);
        size_t len = (size_t)sqlite3_column_bytes(st, 9);
        if (ordered && first)
            out = es_ordered_prev(es, sqlite3_column_int64(st, 0));
        first = false;
        if (out == ERR_OK && (out = es_row_envelope(es, st, &env)) == ERR_OK)
            out = es_row_check(es, st, ordered, &env, data, len);
        if (out != ERR_OK) {
            int64_t at = sqlite3_column_int64(st, 0);
            if (es->damaged_at == 0 || at < es->damaged_at)
                es->damaged_at = at;
            break;
        }
        if ((out = fn(&env, data, len, arg)) != 0)
            break;
        if (ordered)
            memcpy(es->row_prev, env.hash, CHAIN_HASH_LEN); /* the next row's predecessor */
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = es_err(rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

typedef struct {
    eventstore_event_fn fn;
    void *arg;
} es_decode_ctx_t;

static int
es_decode_row(const envelope_t *env, const void *data, size_t len, void *arg)
{
    es_decode_ctx_t *ctx = arg;
    event_t *ev = malloc(sizeof *ev);
    if (!ev)
        return ERR_IO;
    ev->env = *env;
    ev->raw_data = data;
    ev->raw_len = len;
    const char *why;
    int rc = ERR_CORRUPT;
    if (codec_decode_event_data(env->type, env->schema, data, len, &ev->data, &why) == 0)
        rc = ctx->fn(ev, ctx->arg);
    free(ev);
    return rc;
}

/* The first mark above `version`: *found 0 when there is none. */
static int
es_mark_next(eventstore_t *es, int64_t stream_id, int64_t version, int *found,
             int64_t *mark_version, int64_t *mark_position)
{
    sqlite3_stmt *st = es->st[ST_MARK_NEXT];
    sqlite3_bind_int64(st, 1, stream_id);
    sqlite3_bind_int64(st, 2, version);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        *mark_version = sqlite3_column_int64(st, 0);
        *mark_position = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ERR_OK : es_err(rc);
}

/* Reads the stream in chunks that end at its marks (and the last at its
 * head), each walked back along the chain: a reader that stops after a
 * page pays for at most one chunk more than the page. */
int
eventstore_load_stream(eventstore_t *es, const char *stream, int64_t after_version,
                       int64_t max_position, eventstore_event_fn fn, void *arg)
{
    es_stream_t s;
    int rc = es_stream_read(es, stream, &s);
    if (rc != ERR_OK || s.id == 0)
        return rc;
    if (max_position <= 0)
        max_position = INT64_MAX;
    es_decode_ctx_t ctx = {fn, arg};
    int64_t from = after_version;
    while (rc == ERR_OK && from < s.version) {
        int found;
        int64_t end_version = s.version, end_position = s.head;
        rc = es_mark_next(es, s.id, from, &found, &end_version, &end_position);
        if (rc != ERR_OK)
            break;
        if (!found || end_version > s.version) {
            end_version = s.version;
            end_position = s.head;
        }
        sqlite3_stmt *st = es->st[ST_LOAD];
        sqlite3_bind_int64(st, 1, end_position);
        sqlite3_bind_int64(st, 2, from);
        bind_text(st, 3, stream);
        sqlite3_bind_int64(st, 4, max_position);
        rc = es_each_raw(es, st, false, es_decode_row, &ctx);
        if (end_position > max_position)
            break; /* the rest of the stream is after the bound */
        from = end_version;
    }
    return rc;
}

/* Binds (after, through, limit) and runs an event SELECT of positions. */
static int
es_read_range(eventstore_t *es, sqlite3_stmt *st, int64_t after, int64_t through, int limit,
              eventstore_raw_fn fn, void *arg)
{
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, through);
    sqlite3_bind_int(st, 3, limit);
    return es_each_raw(es, st, true, fn, arg);
}

int
eventstore_read_raw(eventstore_t *es, int64_t after, int64_t through, int limit,
                    eventstore_raw_fn fn, void *arg)
{
    return es_read_range(es, es->st[ST_READ], after, through, limit, fn, arg);
}

int
eventstore_outbox_read(eventstore_t *es, int64_t after, int64_t through, int limit,
                       eventstore_raw_fn fn, void *arg)
{
    return es_read_range(es, es->st[ST_OUTBOX_READ], after, through, limit, fn, arg);
}

int
eventstore_outbox_delete_through(eventstore_t *es, int64_t through)
{
    sqlite3_bind_int64(es->st[ST_OUTBOX_DELETE], 1, through);
    return es_step_done(es->st[ST_OUTBOX_DELETE]);
}

/* Steps a one-row, integer-column query and resets it. */
int
eventstore_outbox_backlog(eventstore_t *es, int64_t *count)
{
    return es_query_int(es->st[ST_OUTBOX_COUNT], count, NULL);
}

int
eventstore_head(eventstore_t *es, int64_t *position, int64_t *recorded_at)
{
    int64_t dummy;
    return es_query_int(es->st[ST_HEAD], position, recorded_at ? recorded_at : &dummy);
}

/* The last position recorded at or before micros, by bisecting the
 * positions (recorded_at grows with them: es_clamp_time).  Gaps in the
 * positions are allowed.  lo is a position at or before micros (0: none);
 * every event from hi on is after it. */
static int
es_bisect_time(eventstore_t *es, int64_t micros, int64_t *position)
{
    int64_t lo = 0, hi, head_time;
    int rc = es_query_int(es->st[ST_HEAD], &hi, &head_time);
    if (rc != ERR_OK || hi == 0 || head_time <= micros) {
        *position = hi;
        return rc;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2, at, t;
        sqlite3_bind_int64(es->st[ST_TIME_FROM], 1, mid);
        if ((rc = es_query_int(es->st[ST_TIME_FROM], &at, &t)) != ERR_OK)
            return rc;
        if (at != 0 && at < hi && t <= micros)
            lo = at;
        else
            hi = mid; /* [mid, at) holds no event; at and all after it are later */
    }
    *position = lo;
    return ERR_OK;
}

/* Stores written before the clamp have an index on recorded_at and may
 * hold times out of order: there the index answers. */
int
eventstore_position_at(eventstore_t *es, int64_t micros, int64_t *position)
{
    int64_t indexed = 0;
    int rc = es_query_int(es->st[ST_TIME_INDEXED], &indexed, NULL);
    if (rc != ERR_OK || !indexed)
        return rc != ERR_OK ? rc : es_bisect_time(es, micros, position);
    sqlite3_bind_int64(es->st[ST_POSITION_AT], 1, micros);
    return es_query_int(es->st[ST_POSITION_AT], position, NULL);
}

int
eventstore_stream_version(eventstore_t *es, const char *stream, int64_t *version)
{
    bind_text(es->st[ST_STREAM_VERSION], 1, stream);
    return es_query_int(es->st[ST_STREAM_VERSION], version, NULL);
}

int
eventstore_command_find(eventstore_t *es, const char *command_id, command_reply_t *reply)
{
    sqlite3_stmt *st = es->st[ST_CMD_FIND];
    bind_text(st, 1, command_id);
    int rc = sqlite3_step(st), out;
    if (rc == SQLITE_ROW) {
        command_reply_clear(reply);
        reply->accepted = true;
        strcopy(reply->command_id, sizeof reply->command_id, command_id);
        reply->position = sqlite3_column_int64(st, 0);
        strcopy(reply->stream, sizeof reply->stream, (const char *)sqlite3_column_text(st, 1));
        reply->version = sqlite3_column_int64(st, 2);
        out = 1;
    } else {
        out = rc == SQLITE_DONE ? 0 : es_err(rc);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

int
eventstore_command_save(eventstore_t *es, const command_reply_t *reply)
{
    sqlite3_stmt *st = es->st[ST_CMD_SAVE];
    bind_text(st, 1, reply->command_id);
    sqlite3_bind_int64(st, 2, reply->position);
    return es_step_done(st);
}

int
eventstore_command_claim(eventstore_t *es, const char *command_id, int64_t position)
{
    sqlite3_stmt *st = es->st[ST_CMD_CLAIM];
    bind_text(st, 1, command_id);
    sqlite3_bind_int64(st, 2, position);
    int rc = es_step_done(st);
    return rc != ERR_OK ? rc : sqlite3_changes(es->db) == 1;
}

int
eventstore_command_move(eventstore_t *es, const char *command_id, int64_t position)
{
    sqlite3_stmt *st = es->st[ST_CMD_MOVE];
    bind_text(st, 1, command_id);
    sqlite3_bind_int64(st, 2, position);
    return es_step_done(st);
}

int
eventstore_command_release(eventstore_t *es, const char *command_id)
{
    sqlite3_stmt *st = es->st[ST_CMD_RELEASE];
    bind_text(st, 1, command_id);
    return es_step_done(st);
}

int
eventstore_snapshot_load(eventstore_t *es, const char *stream, int64_t *version, int32_t *schema,
                         void **state, size_t *len)
{
    sqlite3_stmt *st = es->st[ST_SNAP_LOAD];
    bind_text(st, 1, stream);
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *schema = sqlite3_column_int(st, 1);
        *len = (size_t)sqlite3_column_bytes(st, 2);
        *state = malloc(*len ? *len : 1);
        if (*state) {
            memcpy(*state, sqlite3_column_blob(st, 2), *len);
            out = 1;
        } else {
            out = ERR_IO;
        }
    } else if (rc != SQLITE_DONE) {
        out = es_err(rc);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

int
eventstore_snapshot_save(eventstore_t *es, const char *stream, int64_t version, int32_t schema,
                         const void *state, size_t len)
{
    sqlite3_stmt *st = es->st[ST_SNAP_SAVE];
    bind_text(st, 1, stream);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int(st, 3, schema);
    sqlite3_bind_blob(st, 4, state, (int)len, SQLITE_STATIC);
    return es_step_done(st);
}

/* The state before position `from` (>= 1): the stored hash of the event
 * before it, taken as verified. */
static int
es_chain_start(sqlite3 *db, sqlite3_stmt *st, int64_t from, es_chain_state_t *c)
{
    (void)db;
    memset(c, 0, sizeof *c);
    if (from <= 1)
        return ERR_OK;
    sqlite3_bind_int64(st, 1, from - 1);
    int rc = sqlite3_step(st), out = ERR_OK;
    if (rc == SQLITE_ROW) {
        c->through = from - 1;
        if (sqlite3_column_bytes(st, 0) == CHAIN_HASH_LEN)
            memcpy(c->hash, sqlite3_column_blob(st, 0), CHAIN_HASH_LEN);
        else
            c->bad_position = from - 1;
    } else if (rc != SQLITE_DONE) {
        out = es_err(rc);
    }
    sqlite3_reset(st);
    return out;
}

int64_t
eventstore_damaged_at(const eventstore_t *es)
{
    return es->damaged_at;
}

/* ---- the chain, checked in order ------------------------------------------ */

static const char chain_scan_sql[] =
    "SELECT e.position, s.name, e.version, e.type, e.payload, e.recorded_at, e.hash"
    " FROM events e LEFT JOIN streams s ON s.stream_id = e.stream_id"
    " WHERE e.position > ?1 AND e.position <= ?3 ORDER BY e.position LIMIT ?2";

/* Checks up to `limit` rows after c->through against c->hash. */
static int
es_chain_scan(sqlite3 *db, sqlite3_stmt **stp, es_chain_state_t *c, int64_t through, int limit)
{
    if (!*stp && sqlite3_prepare_v2(db, chain_scan_sql, -1, stp, NULL) != SQLITE_OK)
        return ERR_IO;
    sqlite3_stmt *st = *stp;
    sqlite3_bind_int64(st, 1, c->through);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, through);
    int rc = SQLITE_DONE;
    while (c->bad_position == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *stream = (const char *)sqlite3_column_text(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 3);
        int64_t position = sqlite3_column_int64(st, 0);
        chain_event_t ev = {stream ? stream : "", stream ? strlen(stream) : 0,
                            sqlite3_column_int64(st, 2), type ? type : "",
                            type ? strlen(type) : 0, sqlite3_column_blob(st, 4),
                            (size_t)sqlite3_column_bytes(st, 4), sqlite3_column_int64(st, 5)};
        if (!stream || sqlite3_column_bytes(st, 6) != CHAIN_HASH_LEN ||
            !chain_check(c->hash, &ev, sqlite3_column_blob(st, 6))) {
            c->bad_position = position;
            break;
        }
        memcpy(c->hash, sqlite3_column_blob(st, 6), CHAIN_HASH_LEN);
        c->through = position;
        c->checked++;
    }
    int out = c->bad_position || rc == SQLITE_DONE ? ERR_OK : es_err(rc);
    sqlite3_reset(st);
    return out;
}

int
eventstore_chain_verify(eventstore_t *es, es_chain_state_t *c, int64_t through, int limit)
{
    if (c->bad_position)
        return ERR_OK;
    return es_chain_scan(es->db, &es->scan, c, through, limit);
}

bool
eventstore_chain_follow(const eventstore_t *es, es_chain_state_t *c, const envelope_t *env,
                        const void *data, size_t len)
{
    if (c->bad_position || env->position != c->through + 1)
        return c->bad_position == 0;
    if (es && memcmp(es->row_prev, c->hash, CHAIN_HASH_LEN) == 0) {
        /* the read just checked env->hash from these bytes and row_prev */
        memcpy(c->hash, env->hash, CHAIN_HASH_LEN);
        c->through = env->position;
        c->checked++;
        return true;
    }
    const char *type = event_spec(env->type)->name;
    chain_event_t cev = {env->stream, strlen(env->stream), env->version, type, strlen(type),
                         data,        len,                 env->recorded_at};
    if (!chain_check(c->hash, &cev, env->hash)) {
        c->bad_position = env->position;
        return false;
    }
    memcpy(c->hash, env->hash, CHAIN_HASH_LEN);
    c->through = env->position;
    c->checked++;
    return true;
}

int
eventstore_chain_start(eventstore_t *es, int64_t from, es_chain_state_t *c)
{
    return es_chain_start(es->db, es->st[ST_CHAIN_HASH], from, c);
}

int
eventstore_verify_file(const char *path, int64_t from, es_chain_state_t *c, char *err,
                       size_t err_cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *at = NULL, *scan = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), out = ERR_IO;
    int version = -1;
    if (rc == SQLITE_OK)
        rc = sqlitedb_user_version(db, &version);
    if (rc == SQLITE_OK && version != ES_SCHEMA_VERSION) {
        snprintf(err, err_cap, "the store is of schema %d, not %d: %s", version,
                 ES_SCHEMA_VERSION,
                 version == 2 || version == 3 ? "a daemon's open adds the chain" : "unknown");
        goto done;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, sql[ST_CHAIN_HASH], -1, &at, NULL);
    if (rc == SQLITE_OK && (out = es_chain_start(db, at, from, c)) == ERR_OK) {
        do {
            int64_t before = c->checked;
            if ((out = es_chain_scan(db, &scan, c, INT64_MAX, 65536)) != ERR_OK ||
                c->checked == before)
                break;
        } while (c->bad_position == 0);
    }
    if (rc != SQLITE_OK || out != ERR_OK)
        snprintf(err, err_cap, "%s", db ? sqlite3_errmsg(db) : "out of memory");
done:
    sqlite3_finalize(at);
    sqlite3_finalize(scan);
    sqlite3_close(db);
    return rc != SQLITE_OK ? ERR_IO : out;
}
