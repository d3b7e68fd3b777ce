/* eplist: a comma-separated list of endpoints of one kind of daemon (the
 * command services, the relays' PUBs or catch-up ROUTERs of a replicated
 * store: docs/protocol.md, section 1), as flags and the environment give
 * it: "tcp://10.1.0.1:5550,tcp://10.1.0.2:5550".  One endpoint is a list
 * of one.  Pure code: no sockets.
 *
 * An element is valid when it is tcp://HOST:PORT (HOST: a name or an IPv4
 * address of [A-Za-z0-9.-], or an IPv6 address in brackets, or "*";
 * PORT 1..65535), ipc://PATH (PATH not empty) or inproc://NAME (NAME not
 * empty), at most EPLIST_EP_MAX bytes, with no space, comma or control
 * byte.  The same test reads the `leader` of a not_leader reply
 * (codec.h), so a server cannot point a client at anything else. */
#ifndef INV_EPLIST_H
#define INV_EPLIST_H

#include <stdbool.h>
#include <stddef.h>

#define EPLIST_MAX 8      /* endpoints in one list */
#define EPLIST_EP_MAX 255 /* bytes of one endpoint (security.c keeps 256 with the NUL) */

typedef struct {
    int n;                                  /* 1..EPLIST_MAX after a successful parse */
    char ep[EPLIST_MAX][EPLIST_EP_MAX + 1]; /* each valid (eplist_valid) and NUL-terminated */
} eplist_t;

/* Whether s (len bytes, not NUL-terminated) is one valid endpoint. */
bool eplist_valid(const char *s, size_t len);

/* Parses text into l: 0, or -1 with the reason in why ("element 2 'x' is
 * not an endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME)", an empty
 * element, more than EPLIST_MAX, an element given twice). */
int eplist_parse(eplist_t *l, const char *text, char *why, size_t cap);

/* The index of ep in l, or -1. */
int eplist_find(const eplist_t *l, const char *ep);

#endif
