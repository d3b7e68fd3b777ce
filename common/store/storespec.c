/* storespec: see storespec.h. */
#include "storespec.h"

#include <stdio.h>
#include <string.h>

/* HOST:PORT of len bytes at p, checked and copied into dst. */
static int
member(const char *p, size_t len, char *dst, char *err, size_t cap)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        colon = p[i] == ':' ? p + i : colon;
    size_t port_len = colon ? len - (size_t)(colon - p) - 1 : 0;
    long port = 0;
    for (size_t i = 0; colon && i < port_len && port <= 65535; i++)
        port =
            colon[1 + i] >= '0' && colon[1 + i] <= '9' ? port * 10 + (colon[1 + i] - '0') : 65536;
    if (len == 0 || !colon || colon == p || port_len == 0 || port < 1 || port > 65535 ||
        len >= DQCLIENT_ADDR_MAX || memchr(p, ' ', len)) {
        snprintf(err, cap, "'%.*s' is not HOST:PORT (a port 1..65535)", (int)len, p);
        return -1;
    }
    memcpy(dst, p, len);
    dst[len] = '\0';
    return 0;
}

int
storespec_parse(const char *text, bool bare, storespec_t *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    size_t plen = strlen(STORESPEC_DQLITE_PREFIX);
    if (!text || !*text) {
        snprintf(err, cap, "no store named");
        return -1;
    }
    bool prefixed = strncmp(text, STORESPEC_DQLITE_PREFIX, plen) == 0;
    if (!prefixed && !bare)
        return 0; /* STORESPEC_LOCAL */
    out->kind = STORESPEC_DQLITE;
    const char *p = prefixed ? text + plen : text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (out->nseeds == DQCLIENT_SEEDS_MAX) {
            snprintf(err, cap, "more than %d cluster members", DQCLIENT_SEEDS_MAX);
            return -1;
        }
        if (member(p, len, out->seeds[out->nseeds], err, cap) != 0)
            return -1;
        out->seedv[out->nseeds] = out->seeds[out->nseeds];
        out->nseeds++;
        if (!comma || comma[1] == '\0') /* a trailing comma is harmless */
            return 0;
        p = comma + 1;
    }
}
