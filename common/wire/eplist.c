/* eplist: see eplist.h. */
#include "eplist.h"

#include <stdio.h>
#include <string.h>

static bool
ep_prefix(const char *s, size_t len, const char *prefix, size_t *rest)
{
    size_t n = strlen(prefix);
    if (len < n || memcmp(s, prefix, n) != 0)
        return false;
    *rest = n;
    return true;
}

/* HOST:PORT after "tcp://". */
static bool
ep_tcp_valid(const char *s, size_t len)
{
    size_t colon = len;
    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == len || len - colon > 5)
        return false;
    unsigned port = 0;
    for (size_t i = colon; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    if (port < 1 || port > 65535)
        return false;
    size_t hlen = colon - 1;
    if (hlen == 1 && s[0] == '*')
        return true;
    if (s[0] == '[') { /* [IPv6] */
        if (hlen < 3 || s[hlen - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < hlen; i++)
            if (!strchr("0123456789abcdefABCDEF:.", s[i]))
                return false;
        return true;
    }
    for (size_t i = 0; i < hlen; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

bool
eplist_valid(const char *s, size_t len)
{
    size_t at;
    if (!s || len == 0 || len > EPLIST_EP_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == ',' || s[i] == 0x7f)
            return false;
    if (ep_prefix(s, len, "tcp://", &at))
        return ep_tcp_valid(s + at, len - at);
    if (ep_prefix(s, len, "ipc://", &at) || ep_prefix(s, len, "inproc://", &at))
        return len > at;
    return false;
}

int
eplist_find(const eplist_t *l, const char *ep)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->ep[i], ep) == 0)
            return i;
    return -1;
}

int
eplist_parse(eplist_t *l, const char *text, char *why, size_t cap)
{
    l->n = 0;
    const char *p = text ? text : "";
    for (int k = 1;; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (l->n == EPLIST_MAX) {
            snprintf(why, cap, "more than %d endpoints", EPLIST_MAX);
            return -1;
        }
        if (!eplist_valid(p, len)) {
            snprintf(why, cap,
                     len ? "element %d '%.*s' is not an endpoint (tcp://HOST:PORT, ipc://PATH or "
                           "inproc://NAME)"
                         : "element %d is empty%.*s",
                     k, (int)(len > 80 ? 80 : len), p);
            return -1;
        }
        memcpy(l->ep[l->n], p, len);
        l->ep[l->n][len] = '\0';
        if (eplist_find(l, l->ep[l->n]) >= 0) {
            snprintf(why, cap, "element %d '%s' is given twice", k, l->ep[l->n]);
            return -1;
        }
        l->n++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}
