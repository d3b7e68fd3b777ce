/* httpserv: a daemon's HTTP endpoint, on a thread of its own
 * (libmicrohttpd's internal polling thread), for an operator's Prometheus
 * and health probes:
 *   GET /metrics  the registry in the OpenMetrics text format (metrics.h),
 *                 Content-Type application/openmetrics-text; version=1.0.0
 *   GET /healthz  200 "ok" while the daemon is healthy (metrics_healthy),
 *                 503 and the reason otherwise
 * Anything else is 404 (another path) or 405 (another method than GET or
 * HEAD); a request body is never read.  The parser is libmicrohttpd's; its
 * limits bound what a client can hold: HTTPSERV_CONNECTIONS connections
 * (HTTPSERV_PER_IP from one address), HTTPSERV_TIMEOUT_S of inactivity,
 * HTTPSERV_MEMORY bytes of request headers per connection (a larger
 * request is refused and closed).  The thread blocks every signal, so
 * SIGTERM still reaches the daemon's loop. */
#ifndef INV_HTTPSERV_H
#define INV_HTTPSERV_H

#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

#define HTTPSERV_CONNECTIONS 32
#define HTTPSERV_PER_IP 16
#define HTTPSERV_TIMEOUT_S 5
#define HTTPSERV_MEMORY 16384

typedef struct httpserv httpserv_t;

/* Serves m on addr, "IPV4:PORT" (port 0: a free one, see httpserv_port).
 * m must outlive the server.  NULL with why (cap bytes) when addr does not
 * parse or the port cannot be bound. */
httpserv_t *httpserv_start(const char *addr, metrics_t *m, char *why, size_t cap);
/* The port it listens on. */
uint16_t httpserv_port(const httpserv_t *h);
/* Stops the thread, closes every connection, frees.  NULL-safe, idempotent. */
void httpserv_stop(httpserv_t **h);

/* A daemon's start of it from its --http setting: "" serves nothing (0,
 * *out NULL); otherwise httpserv_start, logging where it serves, or
 * printing the bad setting to stderr and returning -1. */
int httpserv_open(const char *addr, metrics_t *m, httpserv_t **out);

#endif
