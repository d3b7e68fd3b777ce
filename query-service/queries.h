/* queries: the read side's answers, one function per query type, read from
 * the projector's read.db through a read-only connection.
 *
 * Invariants:
 *  - the connection is opened with modeldb_open_readonly (SQLITE_OPEN_READONLY
 *    and PRAGMA query_only), so no query can write;
 *  - every reply's `position` is the read model's checkpoint read in the
 *    same read transaction as the data it returns (a batch's queries
 *    share one, see queries_begin_batch);
 *  - public replies (cards, detail, lists, search, top rated) are built
 *    from the projector's public views, which carry no cost column; only
 *    GetAdminProduct and Dashboard read cost-derived values;
 *  - the database may be missing (the projector creates it) or replaced by
 *    an atomic rename (a rebuild): queries_refresh compares the file's
 *    device and inode with the open one and reopens; until it can open a
 *    ready file every query is answered `unavailable`. */
#ifndef INV_QUERIES_H
#define INV_QUERIES_H

#include "codec.h"
#include "request.h"

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
typedef struct queries queries_t;

/* Creates the query engine for the read database at path (copied).
 * Nothing is opened yet.  NULL on allocation failure. */
queries_t *queries_new(const char *path);
/* Closes the database and frees; NULL-safe, nulls *q. */
void queries_destroy(queries_t **q);

/* The parameters the query type name[0..len) accepts and requires (RP_*
 * bits, besides RP_COMMON).  0, or -1 for an unknown type. */
int queries_params_n(const char *name, size_t len, uint32_t *allowed, uint32_t *required);

/* Opens the database if needed, reopening it when the file at the path is
 * no longer the one open.  0 when available, -1 when not (the reason is in
 * queries_unavailable_reason). */
int queries_refresh(queries_t *q);
/* Why the database is unavailable.  While the file at the path is one a
 * query found damaged (SQLITE_CORRUPT or SQLITE_NOTADB), every query,
 * Status included, is answered unavailable saying so, and the projector
 * has been told (modeldb_report_damage) until its rebuild puts another
 * file there. */
const char *queries_unavailable_reason(const queries_t *q);

/* Refreshes, then reads the committed checkpoint.  0, or -1 when the
 * database is unavailable. */
int queries_position(queries_t *q, int64_t *position);

/* Answers a decoded request: packs exactly one reply map into w (ok, or
 * not_found / validation / unavailable), with `position` and `reached`
 * (position >= req->min_position) whenever the database was read. */
void queries_execute(queries_t *q, const request_t *req, codec_writer_t *w);

/* Between these two calls every query shares one read transaction: the
 * same snapshot and `position`, and the transaction's cost (BEGIN, the
 * file locks, the checkpoint read, the check for a swapped file) is paid
 * once for the batch instead of once per query.  The server brackets each
 * drain of its socket with them; keep batches short, since an open read
 * transaction holds back the projector's WAL checkpoints. */
void queries_begin_batch(queries_t *q);
void queries_end_batch(queries_t *q);

/* The open connection, or NULL (tests and diagnostics only). */
struct sqlite3 *queries_db(queries_t *q);

#endif
