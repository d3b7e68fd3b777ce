/* storespec: what INV_STORE (or invctl's --store) names, parsed once for
 * the daemons and invctl.  "dqlite:HOST:PORT,HOST:PORT,..." names the
 * members of a dqlite cluster (any of them: a client finds the leader
 * through them); any other non-empty text is left to the daemon (its own
 * SQLite file, as today).  Pure: no I/O, no allocation; errors go into a
 * caller's buffer. */
#ifndef INV_STORESPEC_H
#define INV_STORESPEC_H

#include "dqclient.h"

#include <stdbool.h>
#include <stddef.h>

#define STORESPEC_DQLITE_PREFIX "dqlite:"

typedef enum {
    STORESPEC_LOCAL,  /* not a dqlite: value; the text is the daemon's to read */
    STORESPEC_DQLITE, /* seeds[0..nseeds) are the cluster's members */
} storespec_kind_t;

typedef struct {
    storespec_kind_t kind;
    size_t nseeds;                                     /* 1..DQCLIENT_SEEDS_MAX (dqlite) */
    char seeds[DQCLIENT_SEEDS_MAX][DQCLIENT_ADDR_MAX]; /* HOST:PORT, port 1..65535 */
    const char *seedv[DQCLIENT_SEEDS_MAX];             /* seeds[i], for dqclient_new */
} storespec_t;

/* Parses text into *out.  With bare true the "dqlite:" prefix may be left
 * out (invctl's --store HOST:PORT,...), and text must then name a cluster.
 * Each member is HOST:PORT (the host non-empty, the port 1..65535, under
 * DQCLIENT_ADDR_MAX bytes); no empty member (one trailing comma is
 * ignored); at most DQCLIENT_SEEDS_MAX.
 * 0, or -1 with a one-line reason in err (text NULL or empty included). */
int storespec_parse(const char *text, bool bare, storespec_t *out, char *err, size_t err_cap);

#endif
