/* metrics: the registry's OpenMetrics text (exact, for each kind of
 * series), the health, and the HTTP endpoint's answers to a raw socket,
 * including requests it must refuse without harm. */
#include "httpserv.h"
#include "metrics.h"

#include "proc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *
format(metrics_t *m)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(metrics_format(m, &text, &len), 0);
    cr_assert_eq(strlen(text), len);
    return text;
}

static int64_t
sample_nan(void *arg)
{
    (void)arg;
    return METRICS_UNKNOWN;
}

static int64_t
sample_1500(void *arg)
{
    (void)arg;
    return 1500;
}

Test(metrics, the_text_is_openmetrics_with_families_together_and_eof_last)
{
    metrics_t *m = metrics_new("test");
    metrics_counter_t *a = metrics_counter(m, "inv_c", "r=\"a\"", "Some\\thing\nhere.");
    metrics_gauge_t *g = metrics_gauge(m, "inv_g", "", "A gauge.", 1);
    metrics_counter_t *b = metrics_counter(m, "inv_c", "r=\"b\"", "ignored");
    static const int64_t bounds[] = {1, 10};
    metrics_histogram_t *h = metrics_histogram(m, "inv_h", "x=\"y\"", "A histogram.", bounds, 2, 1);
    metrics_histogram_t *lat = metrics_latency(m, "inv_l_seconds", "", "Latency.");
    metrics_sampled(m, "inv_s", "", "Sampled.", 1000, sample_1500, NULL);
    metrics_sampled(m, "inv_n", "", "Unknown.", 1, sample_nan, NULL);
    metrics_add(a, 3);
    metrics_add(b, 1);
    metrics_add(a, 2);
    metrics_set(g, -7);
    metrics_observe(h, 0);
    metrics_observe(h, 1);
    metrics_observe(h, 5);
    metrics_observe(h, 11);
    metrics_observe(lat, 250); /* 250 us */
    char *text = format(m);
    const char *want_head = "# TYPE inv_build info\n"
                            "# HELP inv_build The daemon and its version.\n";
    cr_assert_eq(strncmp(text, want_head, strlen(want_head)), 0, "%s", text);
    const char *want = "# TYPE inv_c counter\n"
                       "# HELP inv_c Some\\\\thing\\nhere.\n"
                       "inv_c_total{r=\"a\"} 5\n"
                       "inv_c_total{r=\"b\"} 1\n"
                       "# TYPE inv_g gauge\n"
                       "# HELP inv_g A gauge.\n"
                       "inv_g -7\n"
                       "# TYPE inv_h histogram\n"
                       "# HELP inv_h A histogram.\n"
                       "inv_h_bucket{x=\"y\",le=\"1.0\"} 2\n"
                       "inv_h_bucket{x=\"y\",le=\"10.0\"} 3\n"
                       "inv_h_bucket{x=\"y\",le=\"+Inf\"} 4\n"
                       "inv_h_sum{x=\"y\"} 17\n"
                       "inv_h_count{x=\"y\"} 4\n"
                       "# TYPE inv_l_seconds histogram\n"
                       "# HELP inv_l_seconds Latency.\n"
                       "inv_l_seconds_bucket{le=\"0.0001\"} 0\n"
                       "inv_l_seconds_bucket{le=\"0.00025\"} 1\n";
    cr_assert(strstr(text, want), "%s", text);
    cr_assert(strstr(text, "inv_l_seconds_bucket{le=\"5.0\"} 1\n"
                           "inv_l_seconds_bucket{le=\"+Inf\"} 1\n"
                           "inv_l_seconds_sum 0.00025\n"
                           "inv_l_seconds_count 1\n"),
              "%s", text);
    cr_assert(strstr(text, "# TYPE inv_s gauge\n# HELP inv_s Sampled.\ninv_s 1.5\n"
                           "# TYPE inv_n gauge\n# HELP inv_n Unknown.\ninv_n NaN\n# EOF\n"),
              "%s", text);
    cr_assert(strstr(text, "inv_build_info{daemon=\"test\",version=\""), "%s", text);
    size_t len = strlen(text);
    cr_assert_str_eq(text + len - 6, "# EOF\n");
    free(text);
    metrics_destroy(&m);
    metrics_destroy(&m);
    cr_assert_null(m);
}

Test(metrics, without_a_registry_nothing_is_counted_and_nothing_breaks)
{
    metrics_counter_t *c = metrics_counter(NULL, "x", "", "x");
    cr_assert_null(c);
    metrics_add(c, 1);
    metrics_set(NULL, 1);
    metrics_observe(NULL, 1);
    metrics_beat(NULL);
    metrics_set_problem(NULL, "x");
    metrics_sampled(NULL, "x", "", "x", 1, sample_nan, NULL);
    cr_assert_null(metrics_histogram(NULL, "x", "", "x", (int64_t[]){1}, 1, 1));
}

Test(metrics, health_is_starting_then_ok_then_the_problem_or_the_stall)
{
    metrics_t *m = metrics_new("test");
    char why[128];
    cr_assert_not(metrics_healthy(m, proc_mono_ms(), why, sizeof why));
    cr_assert_str_eq(why, "starting");
    metrics_beat(m);
    cr_assert(metrics_healthy(m, proc_mono_ms(), why, sizeof why));
    metrics_set_problem(m, "the projector model has a damaged file");
    cr_assert_not(metrics_healthy(m, proc_mono_ms(), why, sizeof why));
    cr_assert_str_eq(why, "the projector model has a damaged file");
    metrics_set_problem(m, NULL);
    cr_assert(metrics_healthy(m, proc_mono_ms(), why, sizeof why));
    cr_assert_not(metrics_healthy(m, proc_mono_ms() + METRICS_STALL_MS + 1000, why, sizeof why));
    cr_assert(strstr(why, "has not turned"), "%s", why);
    metrics_destroy(&m);
}

Test(metrics, wal_bytes_follows_a_symlink_to_its_generation)
{
    char dir[] = "/tmp/inv-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char db[128], gen[128], wal[140];
    snprintf(db, sizeof db, "%s/read.db", dir);
    snprintf(gen, sizeof gen, "%s/read.db.3", dir);
    snprintf(wal, sizeof wal, "%s-wal", gen);
    FILE *f = fopen(gen, "w");
    fclose(f);
    cr_assert_eq(symlink("read.db.3", db), 0);
    cr_assert_eq(metrics_wal_bytes(db), 0);
    f = fopen(wal, "w");
    fputs("12345", f);
    fclose(f);
    cr_assert_eq(metrics_wal_bytes(db), 5);
    unlink(wal);
    unlink(db);
    unlink(gen);
    rmdir(dir);
}

/* ---- the endpoint -------------------------------------------------------- */

/* Sends req (len bytes) to 127.0.0.1:port and reads the answer (up to cap
 * - 1 bytes, NUL-terminated) until the server closes or timeout_ms. */
static size_t
http_raw(uint16_t port, const char *req, size_t len, char *out, size_t cap, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early on a request it refuses */
        sent += (size_t)n;
    }
    size_t got = 0;
    int64_t deadline = proc_mono_ms() + timeout_ms;
    while (got + 1 < cap && proc_mono_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

static void
http_get(uint16_t port, const char *path, char *out, size_t cap)
{
    char req[256];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    http_raw(port, req, (size_t)n, out, cap, 3000);
}

Test(metrics, the_endpoint_serves_metrics_and_health_and_refuses_the_rest)
{
    metrics_t *m = metrics_new("test");
    metrics_add(metrics_counter(m, "inv_x", "", "X."), 4);
    char why[128];
    cr_assert_null(httpserv_start("127.0.0.1", m, why, sizeof why));
    cr_assert_null(httpserv_start("localhost:80", m, why, sizeof why));
    cr_assert_null(httpserv_start("127.0.0.1:99999", m, why, sizeof why));
    httpserv_t *h = httpserv_start("127.0.0.1:0", m, why, sizeof why);
    cr_assert_not_null(h, "%s", why);
    uint16_t port = httpserv_port(h);
    char out[65536];

    http_get(port, "/metrics", out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
    cr_assert(strstr(out, "Content-Type: application/openmetrics-text; version=1.0.0; "
                          "charset=utf-8\r\n"),
              "%s", out);
    cr_assert(strstr(out, "\r\n\r\n# TYPE inv_build info\n"), "%s", out);
    cr_assert(strstr(out, "inv_x_total 4\n# EOF\n"), "%s", out);

    http_get(port, "/healthz", out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 503", 12) == 0 && strstr(out, "\r\n\r\nstarting\n"), "%s",
              out);
    metrics_beat(m);
    http_get(port, "/healthz", out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0 && strstr(out, "\r\n\r\nok\n"), "%s", out);
    metrics_set_problem(m, "store damaged");
    http_get(port, "/healthz", out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 503", 12) == 0 && strstr(out, "\r\n\r\nstore damaged\n"), "%s",
              out);

    http_get(port, "/other", out, sizeof out);
    cr_assert(strncmp(out, "HTTP/1.1 404", 12) == 0, "%s", out);
    const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    http_raw(port, post, sizeof post - 1, out, sizeof out, 3000);
    cr_assert(strncmp(out, "HTTP/1.1 405", 12) == 0, "%s", out);

    /* garbage, a header past the memory limit, a body of 16 MiB announced */
    http_raw(port, "\x00\x01\xff garbage\r\n\r\n", 14, out, sizeof out, 3000);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0 || out[0] == '\0', "%s", out);
    size_t big = 4 * HTTPSERV_MEMORY;
    char *huge = malloc(big + 64);
    int k = snprintf(huge, 64, "GET /metrics HTTP/1.1\r\nX: ");
    memset(huge + k, 'a', big);
    memcpy(huge + k + big - 4, "\r\n\r\n", 4);
    http_raw(port, huge, big + (size_t)k, out, sizeof out, 3000);
    cr_assert_eq(strstr(out, "# EOF"), NULL, "%s", out);
    free(huge);
    const char put[] = "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\nabc";
    http_raw(port, put, sizeof put - 1, out, sizeof out, 3000);
    cr_assert(strncmp(out, "HTTP/1.1 405", 12) == 0, "%s", out);

    /* still serving */
    http_get(port, "/metrics", out, sizeof out);
    cr_assert(strstr(out, "inv_x_total 4\n# EOF\n"), "%s", out);
    httpserv_stop(&h);
    httpserv_stop(&h);
    metrics_destroy(&m);
}
