/* httpserv: see httpserv.h. */
#include "httpserv.h"

#include "log.h"
#include "proc.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct httpserv {
    struct MHD_Daemon *mhd;
    metrics_t *m; /* borrowed */
    uint16_t port;
};

/* "A.B.C.D:PORT" into sa; 0 or -1. */
static int
httpserv_parse(const char *addr, struct sockaddr_in *sa)
{
    const char *colon = strrchr(addr, ':');
    char host[64];
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static enum MHD_Result
httpserv_send(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result
httpserv_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    char *body = NULL;
    if (asprintf(&body, "%s\n", text) < 0)
        return MHD_NO;
    return httpserv_send(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result
httpserv_metrics(httpserv_t *h, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    if (metrics_format(h->m, &text, &len) != 0)
        return httpserv_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return httpserv_send(c, MHD_HTTP_OK, OPENMETRICS_TYPE, text, len);
}

static enum MHD_Result
httpserv_health(httpserv_t *h, struct MHD_Connection *c)
{
    char why[256];
    if (metrics_healthy(h->m, proc_mono_ms(), why, sizeof why))
        return httpserv_text(c, MHD_HTTP_OK, "ok");
    return httpserv_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
}

/* MHD's access handler: answered on the first call, before any body is
 * read (MHD then closes a connection whose body was not consumed). */
static enum MHD_Result
httpserv_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                 const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version, (void)upload, (void)state;
    httpserv_t *h = cls;
    *upload_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return httpserv_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
    if (strcmp(url, "/metrics") == 0)
        return httpserv_metrics(h, c);
    if (strcmp(url, "/healthz") == 0)
        return httpserv_health(h, c);
    return httpserv_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz");
}

/* MHD_start_daemon with every signal blocked, so its thread inherits the
 * mask and the daemon's loop is the one a signal interrupts. */
static struct MHD_Daemon *
httpserv_mhd(httpserv_t *h, const struct sockaddr_in *sa)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, ntohs(sa->sin_port), NULL, NULL, httpserv_request, h,
        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPSERV_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTPSERV_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPSERV_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPSERV_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)16, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

httpserv_t *
httpserv_start(const char *addr, metrics_t *m, char *why, size_t cap)
{
    struct sockaddr_in sa;
    if (httpserv_parse(addr, &sa) != 0) {
        snprintf(why, cap, "not an IPv4 ADDRESS:PORT");
        return NULL;
    }
    httpserv_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    h->m = m;
    h->mhd = httpserv_mhd(h, &sa);
    const union MHD_DaemonInfo *info =
        h->mhd ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        snprintf(why, cap, "cannot listen there (in use, or not an address of this host)");
        httpserv_stop(&h);
        return NULL;
    }
    h->port = info->port;
    return h;
}

uint16_t
httpserv_port(const httpserv_t *h)
{
    return h->port;
}

void
httpserv_stop(httpserv_t **hp)
{
    if (!hp || !*hp)
        return;
    if ((*hp)->mhd)
        MHD_stop_daemon((*hp)->mhd);
    free(*hp);
    *hp = NULL;
}

int
httpserv_open(const char *addr, metrics_t *m, httpserv_t **out)
{
    *out = NULL;
    if (!addr || !*addr)
        return 0;
    char why[128];
    *out = httpserv_start(addr, m, why, sizeof why);
    if (!*out) {
        fprintf(stderr, "bad setting INV_HTTP_BIND/--http=%s: %s\n", addr, why);
        return -1;
    }
    LOG_I(NULL, "metrics and health on http://%s (port %u): /metrics, /healthz", addr,
          (unsigned)(*out)->port);
    return 0;
}
