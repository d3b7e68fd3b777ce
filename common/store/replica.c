/* replica: see replica.h. */
#include "replica.h"

#include "codec.h"
#include "dqclient.h"
#include "log.h"
#include "proc.h"
#include "storespec.h"
#include "strcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DBNAME "inventory"
#define PAGE_MAX 1000
#define SEED_PAGE 500
/* The deadline of each request while asking who leads: a node that went
 * silent (a partition sends no reset) costs this, not the write deadline. */
#define REFRESH_TIMEOUT_MS 300
/* The deadline of each request of a pull: a leader that went silent (a
 * partition, before this host's node notices) holds a standby this long
 * at most, so that it is not still waiting on the old leader when its own
 * node is elected.  A page is ~500 KB: tens of ms on a busy cluster. */
#define PULL_TIMEOUT_MS 150
/* A leader that did not answer is not dialled again for this long, unless
 * this host's node names another: a dead leader's dial costs a deadline
 * each time, and the election that replaces it is what to wait for. */
#define SILENT_BACKOFF_MS 1000
/* The deadline of a write or a read of the log: a commit waits for a
 * quorum, which a node still catching up after a restart can hold back for
 * seconds; a push timed out is looked up, and the service goes standby. */
#define REPLICA_TIMEOUT_MS 5000

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS events(position INTEGER PRIMARY KEY, stream TEXT NOT NULL,"
    " version INTEGER NOT NULL, command_id TEXT NOT NULL, msg BLOB NOT NULL,"
    " UNIQUE(stream, version));"
    "CREATE TABLE IF NOT EXISTS endpoints(node TEXT NOT NULL, kind TEXT NOT NULL,"
    " endpoint TEXT NOT NULL, PRIMARY KEY(node, kind))";

struct replica {
    dqclient_t *dq;    /* to the leader */
    dqclient_t *local; /* to this host's node: who leads, as it knows */
    tunnel_t *tunnel;  /* to the nodes with CURVE on, or NULL (plain TCP) */
    bool connected;    /* schema made, endpoint registered on this connection */
    bool db_named;     /* the database was opened once: dqclient_connect reopens it */
    char node[64];
    char kind[16];
    char endpoint[REPLICA_ENDPOINT_MAX];
    char leader[DQCLIENT_ADDR_MAX];             /* the node that leads, "" none */
    char leader_endpoint[REPLICA_ENDPOINT_MAX]; /* its daemon of our kind */
    char silent[DQCLIENT_ADDR_MAX];             /* a leader that did not answer, "" none */
    int64_t silent_until;                       /* monotonic ms: not dialled before */
    replica_role_t role;
    char err[300];
    int timeout_ms; /* of the other requests */
    char *sql;      /* the statement being built (push, seed) */
    size_t sql_len, sql_cap;
    codec_writer_t w; /* an event as published */
};

replica_t *
replica_new(const replica_opts_t *o, char *why, size_t why_cap)
{
    storespec_t spec; /* the one parser of INV_STORE, shared with invctl store */
    if (storespec_parse(o->store, false, &spec, why, why_cap) != 0)
        return NULL;
    if (spec.kind != STORESPEC_DQLITE) {
        snprintf(why, why_cap, "a replicated store is dqlite:HOST:PORT[,HOST:PORT...]");
        return NULL;
    }
    if (!o->node || strlen(o->node) >= 64 || !strchr(o->node, ':') || !o->endpoint ||
        strlen(o->endpoint) >= REPLICA_ENDPOINT_MAX || strlen(o->kind) >= 16) {
        snprintf(why, why_cap, "the store node (HOST:PORT) and this daemon's endpoint are needed");
        return NULL;
    }
    replica_t *r = calloc(1, sizeof *r);
    if (r) {
        r->dq = dqclient_new(spec.seedv, spec.nseeds,
                             o->timeout_ms > 0 ? o->timeout_ms : REPLICA_TIMEOUT_MS);
        r->local = dqclient_new(&o->node, 1, REFRESH_TIMEOUT_MS);
    }
    if (!r || !r->dq || !r->local) {
        snprintf(why, why_cap, "out of memory");
        if (r) {
            dqclient_destroy(&r->dq);
            dqclient_destroy(&r->local);
        }
        free(r);
        return NULL;
    }
    r->role = (replica_role_t)-1; /* the first refresh logs what it finds */
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : REPLICA_TIMEOUT_MS;
    strcopy(r->node, sizeof r->node, o->node);
    strcopy(r->kind, sizeof r->kind, o->kind);
    strcopy(r->endpoint, sizeof r->endpoint, o->endpoint);
    codec_writer_init(&r->w);
    if (o->zctx && dqclient_secure(r->dq, o->zctx, NULL, &r->tunnel, why, why_cap) != 0)
        replica_destroy(&r);
    else if (r->tunnel)
        dqclient_set_dialer(r->local, tunnel_connect_func, r->tunnel);
    return r;
}

void
replica_destroy(replica_t **rp)
{
    if (!rp || !*rp)
        return;
    replica_t *r = *rp;
    dqclient_destroy(&r->dq);
    dqclient_destroy(&r->local);
    tunnel_destroy(&r->tunnel);
    codec_writer_fini(&r->w);
    free(r->sql);
    free(r);
    *rp = NULL;
}

replica_role_t
replica_role(const replica_t *r)
{
    return r->role;
}

bool
replica_connected(const replica_t *r)
{
    return r->connected;
}

const char *
replica_leader_endpoint(const replica_t *r)
{
    return r->leader_endpoint;
}

const char *
replica_errmsg(const replica_t *r)
{
    return r->err[0] ? r->err : "no error";
}

/* Records what the cluster said and drops the connection: 0 from here
 * means "not connected" to replica_refresh. */
static int
replica_fail(replica_t *r, const char *what)
{
    snprintf(r->err, sizeof r->err, "%s: %s", what, dqclient_errmsg(r->dq));
    r->connected = false;
    return -1;
}

/* Another host's node that leads, or did, did not answer. */
static void
replica_silent(replica_t *r, const char *leader)
{
    if (!leader[0] || strcmp(leader, r->node) == 0)
        return;
    strcopy(r->silent, sizeof r->silent, leader);
    r->silent_until = proc_mono_ms() + SILENT_BACKOFF_MS;
}

static bool
replica_may_dial(const replica_t *r, const char *leader)
{
    return !leader[0] || strcmp(leader, r->silent) != 0 || proc_mono_ms() >= r->silent_until;
}

/* Records why events.db refused what a pull copies (a full disk): the
 * message the logs show is then events.db's, not the cluster's last. */
static void
replica_store_fail(replica_t *r, eventstore_t *es)
{
    snprintf(r->err, sizeof r->err, "copying into events.db: %s", eventstore_errmsg(es));
}

/* ---- who leads ---- */

static void
row_text(void *arg, const dqvalue_t *row, size_t ncols)
{
    char *out = arg;
    if (ncols >= 1 && row[0].type == DQ_TEXT)
        strcopy(out, REPLICA_ENDPOINT_MAX, row[0].text);
}

/* The endpoint of the leader's daemon of our kind ("" when it has none). */
static int
replica_read_leader_endpoint(replica_t *r)
{
    dqvalue_t p[2] = {dq_text(r->leader), dq_text(r->kind)};
    r->leader_endpoint[0] = '\0';
    if (!r->leader[0])
        return 0;
    if (dqclient_query(r->dq, "SELECT endpoint FROM endpoints WHERE node = ? AND kind = ?", p, 2,
                       row_text, r->leader_endpoint) != DQ_OK)
        return replica_fail(r, "reading the leader's endpoint");
    return 0;
}

/* EXEC_SQL, again while the database is busy with another connection's
 * write (dqlite answers SQLITE_BUSY at once: the statement did nothing),
 * for up to about a second. */
static int
replica_exec(replica_t *r, const char *sql, const dqvalue_t *params, size_t n)
{
    int rc = DQ_OK;
    for (int i = 0; i < 50; i++) {
        rc = dqclient_exec(r->dq, sql, params, n, NULL, NULL);
        if (rc != DQ_EFAILURE || (dqclient_failure_code(r->dq) & 0xff) != 5 /* SQLITE_BUSY */)
            break;
        struct timespec pause = {.tv_nsec = (long)(i < 10 ? 2 : 20) * 1000000};
        nanosleep(&pause, NULL);
    }
    return rc;
}

/* A new connection to the leader: its SQLite connection must not spill
 * a transaction's pages before the commit (dqlite 1.11's VFS then fails
 * the statement with SQLITE_IOERR_SHORT_READ, and corrupted an index once
 * here: docs/decisions.md, item 60); the schema; our endpoint. */
static int
replica_connect(replica_t *r, const char *hint)
{
    /* dqclient_connect opens the database again once it was opened */
    if (dqclient_connect_hint(r->dq, hint, 0) != DQ_OK ||
        (!r->db_named && dqclient_open(r->dq, DBNAME) != DQ_OK)) {
        replica_silent(r, hint ? hint : "");
        return replica_fail(r, "connecting to the store cluster");
    }
    r->db_named = true;
    dqvalue_t p[3] = {dq_text(r->node), dq_text(r->kind), dq_text(r->endpoint)};
    if (replica_exec(r, "PRAGMA cache_spill = OFF", NULL, 0) != DQ_OK ||
        replica_exec(r, schema_sql, NULL, 0) != DQ_OK ||
        replica_exec(r, "INSERT OR REPLACE INTO endpoints(node, kind, endpoint) VALUES(?,?,?)", p,
                     3) != DQ_OK)
        return replica_fail(r, "registering this daemon in the store cluster");
    strcopy(r->leader, sizeof r->leader, dqclient_leader(r->dq));
    r->connected = true;
    return replica_read_leader_endpoint(r);
}

/* Who leads as this host's node knows it: the node takes part in every
 * election, so it knows a new leader first, and it does not go silent when
 * a partition cuts the leader off.  DQ_OK with leader ("" while an
 * election is under way), or the error when the node does not answer. */
static int
replica_ask_local(replica_t *r, char *leader, size_t cap)
{
    if (dqclient_ask_leader(r->local, leader, cap) == DQ_OK)
        return DQ_OK;
    int rc = dqclient_connect_node(r->local, r->node);
    return rc == DQ_OK ? dqclient_ask_leader(r->local, leader, cap) : rc;
}

replica_role_t
replica_refresh(replica_t *r)
{
    char now[DQCLIENT_ADDR_MAX] = "";
    bool local = replica_ask_local(r, now, sizeof now) == DQ_OK;
    dqclient_set_timeout(r->dq, REFRESH_TIMEOUT_MS);
    if (!local && r->connected && dqclient_ask_leader(r->dq, now, sizeof now) != DQ_OK) {
        replica_silent(r, r->leader);
        replica_fail(r, "asking who leads");
    }
    if (r->connected && strcmp(now, r->leader) != 0)
        r->connected = false; /* leadership moved: connect to the new leader */
    if (local && !now[0])
        snprintf(r->err, sizeof r->err, "this host's node knows no leader: an election");
    else if (!r->connected && !replica_may_dial(r, now))
        snprintf(r->err, sizeof r->err, "the leader %s did not answer", now);
    else if (!r->connected)
        replica_connect(r, now);
    else if (!r->leader_endpoint[0])
        replica_read_leader_endpoint(r); /* it had not registered yet */
    replica_role_t role = !r->connected                     ? REPLICA_DOWN
                          : strcmp(r->leader, r->node) == 0 ? REPLICA_LEADER
                                                            : REPLICA_STANDBY;
    if (role != r->role)
        LOG_I(NULL, "store cluster: %s (leader %s, its %s at %s)%s%s",
              role == REPLICA_LEADER    ? "this host's node leads: active"
              : role == REPLICA_STANDBY ? "another node leads: standby"
                                        : "no leader reachable",
              r->leader[0] ? r->leader : "none", r->kind,
              r->leader_endpoint[0] ? r->leader_endpoint : "unknown",
              role == REPLICA_DOWN ? ": " : "", role == REPLICA_DOWN ? r->err : "");
    r->role = role;
    if (role == REPLICA_DOWN)
        r->leader_endpoint[0] = '\0';
    dqclient_set_timeout(r->dq, r->timeout_ms);
    return role;
}

/* ---- the log's rows ---- */

typedef struct {
    int64_t position;
    uint8_t hash[CHAIN_HASH_LEN];
    bool found;
} log_row_t;

static void
row_head(void *arg, const dqvalue_t *row, size_t ncols)
{
    int64_t *out = arg;
    if (ncols >= 1 && row[0].type == DQ_INTEGER)
        *out = row[0].i;
}

static int
replica_log_head(replica_t *r, int64_t *head)
{
    *head = 0;
    if (dqclient_query(r->dq, "SELECT coalesce(max(position), 0) FROM events", NULL, 0, row_head,
                       head) != DQ_OK)
        return replica_fail(r, "reading the log's head");
    return 0;
}

static void
row_hash(void *arg, const dqvalue_t *row, size_t ncols)
{
    log_row_t *out = arg;
    event_t ev;
    const char *why;
    if (ncols >= 1 && row[0].type == DQ_BLOB &&
        codec_decode_event(row[0].blob.p, row[0].blob.n, &ev, &why) == 0) {
        out->found = true;
        out->position = ev.env.position;
        memcpy(out->hash, ev.env.hash, CHAIN_HASH_LEN);
    }
}

/* The log's event at position: found false when it has none. */
static int
replica_log_at(replica_t *r, int64_t position, log_row_t *out)
{
    memset(out, 0, sizeof *out);
    dqvalue_t p = dq_int(position);
    if (dqclient_query(r->dq, "SELECT msg FROM events WHERE position = ?", &p, 1, row_hash, out) !=
        DQ_OK)
        return replica_fail(r, "reading the log");
    return 0;
}

static int
raw_hash(const envelope_t *env, const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    memcpy(arg, env->hash, CHAIN_HASH_LEN);
    return 0;
}

/* ---- pull ---- */

typedef struct {
    eventstore_t *es;
    int rc;
    int64_t copied;
} pull_ctx_t;

int
replica_copy_row(eventstore_t *es, const void *msg, size_t len)
{
    event_t ev;
    const char *why;
    if (codec_decode_event(msg, len, &ev, &why) != 0)
        return ERR_CORRUPT;
    uint8_t hash[CHAIN_HASH_LEN];
    memcpy(hash, ev.env.hash, sizeof hash);
    int rc = eventstore_append_copy(es, &ev, hash);
    if (rc != ERR_OK)
        return rc;
    command_reply_t reply = {0};
    strcopy(reply.command_id, sizeof reply.command_id, ev.env.command_id);
    reply.position = ev.env.position;
    return eventstore_command_save(es, &reply);
}

static void
row_copy(void *arg, const dqvalue_t *row, size_t ncols)
{
    pull_ctx_t *x = arg;
    if (x->rc != ERR_OK)
        return;
    if (ncols < 1 || row[0].type != DQ_BLOB) {
        x->rc = ERR_CORRUPT;
        return;
    }
    if ((x->rc = replica_copy_row(x->es, row[0].blob.p, row[0].blob.n)) == ERR_OK)
        x->copied++;
}

/* events.db is a prefix of the log: its head's event is the log's. */
static int
replica_check_prefix(replica_t *r, eventstore_t *es, int64_t local)
{
    log_row_t at;
    uint8_t mine[CHAIN_HASH_LEN];
    if (local == 0)
        return ERR_OK;
    if (replica_log_at(r, local, &at) != 0)
        return ERR_IO;
    if (eventstore_read_raw(es, local - 1, local, 1, raw_hash, mine) != ERR_OK)
        return ERR_IO;
    if (!at.found || memcmp(at.hash, mine, CHAIN_HASH_LEN) != 0) {
        snprintf(r->err, sizeof r->err,
                 "events.db is not a prefix of the replicated log: its event at position %lld %s",
                 (long long)local, at.found ? "differs from the log's" : "is not in the log");
        return ERR_CORRUPT;
    }
    return ERR_OK;
}

static int
replica_pull_pages(replica_t *r, eventstore_t *es, int limit, int64_t *copied)
{
    int64_t local;
    if (!r->connected && replica_connect(r, NULL) != 0)
        return ERR_IO;
    int rc = eventstore_head(es, &local, NULL);
    if (rc == ERR_OK)
        rc = replica_check_prefix(r, es, local);
    while (rc == ERR_OK && *copied < limit) {
        pull_ctx_t x = {es, ERR_OK, 0};
        dqvalue_t p[2] = {dq_int(local),
                          dq_int(limit - *copied < PAGE_MAX ? limit - *copied : PAGE_MAX)};
        bool log_failed = false;
        if ((rc = eventstore_begin(es)) != ERR_OK) {
            replica_store_fail(r, es);
            break;
        }
        if (dqclient_query(r->dq,
                           "SELECT msg FROM events WHERE position > ? ORDER BY position"
                           " LIMIT ?",
                           p, 2, row_copy, &x) != DQ_OK) {
            replica_fail(r, "reading the log");
            x.rc = ERR_IO;
            log_failed = true;
        }
        rc = x.rc == ERR_OK ? eventstore_commit(es) : x.rc;
        if (rc != ERR_OK) {
            if (rc == ERR_CORRUPT)
                snprintf(r->err, sizeof r->err,
                         "the log's event at position %lld does not follow events.db's chain",
                         (long long)local + x.copied + 1);
            else if (!log_failed)
                replica_store_fail(r, es);
            eventstore_rollback(es);
            break;
        }
        *copied += x.copied;
        local += x.copied;
        if (x.copied == 0)
            break;
    }
    return rc;
}

int
replica_pull(replica_t *r, eventstore_t *es, int limit, int64_t *copied)
{
    *copied = 0;
    dqclient_set_timeout(r->dq, r->timeout_ms < PULL_TIMEOUT_MS ? r->timeout_ms : PULL_TIMEOUT_MS);
    int rc = replica_pull_pages(r, es, limit, copied);
    if (rc == ERR_IO && !r->connected)
        replica_silent(r, r->leader); /* the cluster failed, not events.db */
    dqclient_set_timeout(r->dq, r->timeout_ms);
    return rc;
}

/* ---- push and seed ---- */

static bool
sql_room(replica_t *r, size_t n)
{
    if (r->sql_len + n + 1 > r->sql_cap) {
        size_t cap = r->sql_cap ? r->sql_cap : 65536;
        while (cap < r->sql_len + n + 1)
            cap *= 2;
        char *p = realloc(r->sql, cap);
        if (!p)
            return false;
        r->sql = p;
        r->sql_cap = cap;
    }
    return true;
}

static bool
sql_put(replica_t *r, const char *s, size_t n)
{
    if (!sql_room(r, n))
        return false;
    memcpy(r->sql + r->sql_len, s, n);
    r->sql_len += n;
    r->sql[r->sql_len] = '\0';
    return true;
}

/* A text literal: '...' with quotes doubled (streams and ids are of a
 * narrow alphabet already; this keeps it SQL whatever they hold). */
static bool
sql_put_text(replica_t *r, const char *s)
{
    bool ok = sql_put(r, "'", 1);
    for (const char *q; ok && (q = strchr(s, '\'')); s = q + 1)
        ok = sql_put(r, s, (size_t)(q - s) + 1) && sql_put(r, "'", 1);
    return ok && sql_put(r, s, strlen(s)) && sql_put(r, "'", 1);
}

static bool
sql_put_blob(replica_t *r, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!sql_put(r, "X'", 2) || !sql_room(r, 2 * n))
        return false;
    char *d = r->sql + r->sql_len;
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = hex[p[i] >> 4];
        d[2 * i + 1] = hex[p[i] & 15];
    }
    r->sql_len += 2 * n;
    return sql_put(r, "'", 1);
}

typedef struct {
    replica_t *r;
    int rows;
    bool ok;
    uint8_t first[CHAIN_HASH_LEN]; /* the first row's hash */
} build_ctx_t;

/* One row of the INSERT: (position, stream, version, command_id, msg). */
static int
build_row(const envelope_t *env, const void *data, size_t len, void *arg)
{
    build_ctx_t *b = arg;
    replica_t *r = b->r;
    char num[64];
    if (b->rows == 0)
        memcpy(b->first, env->hash, CHAIN_HASH_LEN);
    codec_writer_reset(&r->w);
    codec_pack_event_raw(&r->w, env, data, len);
    int n = snprintf(num, sizeof num, "%s(%lld,", b->rows ? "," : "", (long long)env->position);
    b->ok = b->ok && sql_put(r, num, (size_t)n) && sql_put_text(r, env->stream);
    n = snprintf(num, sizeof num, ",%lld,", (long long)env->version);
    b->ok = b->ok && sql_put(r, num, (size_t)n) && sql_put_text(r, env->command_id) &&
            sql_put(r, ",", 1) && sql_put_blob(r, (const uint8_t *)r->w.buf.data, r->w.buf.size) &&
            sql_put(r, ")", 1);
    b->rows++;
    return b->ok ? 0 : 1;
}

/* The INSERT of events.db's events after < position <= through; the
 * first one's hash into first (may be NULL). */
static int
replica_build_insert(replica_t *r, eventstore_t *es, int64_t after, int64_t through, int limit,
                     uint8_t *first)
{
    static const char head[] =
        "INSERT INTO events(position, stream, version, command_id, msg) VALUES";
    build_ctx_t b = {r, 0, true, {0}};
    r->sql_len = 0;
    if (!sql_put(r, head, sizeof head - 1))
        return ERR_IO;
    int rc = eventstore_read_raw(es, after, through, limit, build_row, &b);
    if (rc == ERR_OK && !b.ok)
        rc = ERR_IO;
    if (first)
        memcpy(first, b.first, CHAIN_HASH_LEN);
    return rc != ERR_OK ? rc : b.rows;
}

replica_outcome_t
replica_push(replica_t *r, eventstore_t *es, int64_t after, int64_t through)
{
    if (through <= after)
        return REPLICA_COMMITTED;
    uint8_t first[CHAIN_HASH_LEN];
    int rows = replica_build_insert(r, es, after, through, (int)(through - after), first);
    if (rows <= 0) {
        snprintf(r->err, sizeof r->err, "reading the batch back from events.db");
        return REPLICA_NOT_COMMITTED;
    }
    if (r->connected && replica_exec(r, r->sql, NULL, 0) == DQ_OK)
        return REPLICA_COMMITTED;
    replica_fail(r, "writing to the log");
    /* In doubt: ask whoever leads now. */
    log_row_t at;
    dqclient_set_timeout(r->dq, REFRESH_TIMEOUT_MS);
    int rc = dqclient_connect(r->dq, 2000);
    dqclient_set_timeout(r->dq, r->timeout_ms);
    if (rc != DQ_OK || replica_log_at(r, after + 1, &at) != 0)
        return REPLICA_UNKNOWN;
    if (at.found && memcmp(at.hash, first, CHAIN_HASH_LEN) == 0)
        return REPLICA_COMMITTED;
    return REPLICA_NOT_COMMITTED;
}

int
replica_seed(replica_t *r, eventstore_t *es, int64_t *seeded)
{
    int64_t head, local, done = 0;
    *seeded = 0;
    if (!r->connected && replica_connect(r, NULL) != 0)
        return ERR_IO;
    if (replica_log_head(r, &head) != 0)
        return ERR_IO;
    int rc = eventstore_head(es, &local, NULL);
    if (rc != ERR_OK || head != 0 || local == 0)
        return rc;
    LOG_I(NULL, "the replicated log is empty: writing events.db's %lld events into it",
          (long long)local);
    while (rc == ERR_OK && done < local) {
        int rows = replica_build_insert(r, es, done, local, SEED_PAGE, NULL);
        if (rows <= 0)
            return rows < 0 ? rows : ERR_CORRUPT;
        if (replica_exec(r, r->sql, NULL, 0) != DQ_OK)
            return replica_fail(r, "seeding the log"), ERR_IO;
        done += rows;
    }
    *seeded = done;
    return ERR_OK;
}
