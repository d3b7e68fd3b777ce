/* test_tunnel: the frames (every encoder round-trips, every malformed
 * frame is refused), and a plain tunnel in one process (security off) in
 * front of an echo server on an abstract unix socket: 8 MiB through one
 * stream both ways (far beyond the credit window, with a reader slower
 * than the writer), EOF closing both ends, a target that does not answer,
 * the stream limit, and a server that goes away closing the client's fd
 * within TUNNEL_DEAD_MS plus a margin, never reconnecting it. */
#include "tunnel.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

Test(tunnel, frames_round_trip)
{
    uint8_t f[5];
    tunnel_frame_t d;
    const tunnel_type_t bare[] = {TUNNEL_OPEN, TUNNEL_ACCEPT, TUNNEL_PING, TUNNEL_CLOSE};
    for (size_t i = 0; i < 4; i++) {
        size_t n = tunnel_frame_encode(bare[i], 0, f);
        cr_assert_eq(n, 1);
        cr_assert_eq(tunnel_frame_decode(f, n, &d), 0);
        cr_assert_eq(d.type, bare[i]);
    }
    const uint32_t credits[] = {1, 255, 65536, TUNNEL_WINDOW};
    for (size_t i = 0; i < 4; i++) {
        size_t n = tunnel_frame_encode(TUNNEL_CREDIT, credits[i], f);
        cr_assert_eq(n, 5);
        cr_assert_eq(tunnel_frame_decode(f, n, &d), 0);
        cr_assert(d.type == TUNNEL_CREDIT && d.credit == credits[i]);
    }
    const uint8_t data[] = "Dhello";
    cr_assert_eq(tunnel_frame_decode(data, 6, &d), 0);
    cr_assert(d.type == TUNNEL_DATA && d.len == 5 && memcmp(d.data, "hello", 5) == 0);
}

Test(tunnel, malformed_frames_are_refused)
{
    static uint8_t big[TUNNEL_CHUNK + 2] = {'D'};
    tunnel_frame_t d;
    struct {
        const void *p;
        size_t n;
    } bad[] = {
        {"", 0},
        {"D", 1},
        {"Z", 1},
        {"OO", 2},
        {"A\0", 2},
        {"PP", 2},
        {"Cx", 2},
        {"K\0\0\0", 4},
        {"K\0\0\0\0", 5},
        {"K\0\0\0\0\0", 6},
        {"K\xff\xff\xff\xff", 5},
        {big, sizeof big},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(tunnel_frame_decode(bad[i].p, bad[i].n, &d), -1, "case %zu", i);
    cr_assert_eq(tunnel_frame_decode(big, sizeof big - 1, &d), 0, "a full chunk");
}

/* ---- a plain tunnel in front of an echo server ---- */

static char target[64], endpoint[96], address[64];
static int listener = -1;
static pthread_t echo_thread;
static void *zctx;
static tunnel_t *server, *client;
static int echo_delay_us; /* per read: a reader slower than the writer */

static void *
echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[4096];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        if (echo_delay_us)
            usleep((useconds_t)echo_delay_us);
        for (ssize_t off = 0; off < n;) {
            ssize_t k = send(fd, b + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (k <= 0)
                break;
            off += k;
        }
    }
    close(fd);
    return NULL;
}

static void *
echo_main(void *arg)
{
    (void)arg;
    int fd;
    while ((fd = accept(listener, NULL, NULL)) >= 0) {
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static void
setup(void)
{
    snprintf(target, sizeof target, "@inv-test-tunnel-%d", (int)getpid());
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t in_len = sizeof in;
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(probe >= 0 && bind(probe, (struct sockaddr *)&in, sizeof in) == 0 &&
              getsockname(probe, (struct sockaddr *)&in, &in_len) == 0);
    close(probe);
    int port = ntohs(in.sin_port); /* free now: other test runs share the host */
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    snprintf(endpoint, sizeof endpoint, "tcp://%s", address);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(target);
    memcpy(a.sun_path, target, n);
    a.sun_path[0] = '\0';
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(listener, (struct sockaddr *)&a,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
                 0);
    cr_assert_eq(listen(listener, 16), 0);
    pthread_create(&echo_thread, NULL, echo_main, NULL);
    zctx = zmq_ctx_new();
    server = tunnel_new(zctx, &(tunnel_config_t){.bind = endpoint, .target = target});
    cr_assert_not_null(server, "%s", zmq_strerror(errno));
    client = tunnel_new(zctx, &(tunnel_config_t){.max_streams = 4, .dial_ms = 1000});
    cr_assert_not_null(client);
}

static void
teardown(void)
{
    tunnel_destroy(&client);
    tunnel_destroy(&server);
    zmq_ctx_term(zctx);
    shutdown(listener, SHUT_RDWR);
    close(listener);
    pthread_join(echo_thread, NULL);
}

TestSuite(tunnel_echo, .init = setup, .fini = teardown, .timeout = 60);

static int64_t
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd reads EOF (or an error): the ms it took, -1 after limit. */
static int64_t
wait_eof(int fd, int limit_ms)
{
    int64_t t0 = now_ms();
    char b[256];
    while (now_ms() - t0 < limit_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1 && read(fd, b, sizeof b) <= 0)
            return now_ms() - t0;
    }
    return -1;
}

Test(tunnel_echo, megabytes_both_ways_through_the_window)
{
    int fd;
    cr_assert_eq(tunnel_dial(client, address, &fd), 0, "%s", strerror(errno));
    const size_t total = 8u << 20;
    static uint8_t out[8u << 20], in[8u << 20];
    for (size_t i = 0; i < total; i++)
        out[i] = (uint8_t)(i * 7 + i / 251);
    echo_delay_us = 50;
    size_t sent = 0, got = 0;
    while (got < total) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0)};
        cr_assert_gt(poll(&p, 1, 5000), 0, "stalled at %zu sent, %zu received", sent, got);
        if ((p.revents & POLLOUT) && sent < total) {
            ssize_t k = send(fd, out + sent, total - sent > 65536 ? 65536 : total - sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            cr_assert(k > 0 || errno == EAGAIN);
            sent += k > 0 ? (size_t)k : 0;
        }
        if (p.revents & POLLIN) {
            ssize_t k = recv(fd, in + got, total - got, MSG_DONTWAIT);
            cr_assert(k > 0 || (k < 0 && errno == EAGAIN), "closed at %zu", got);
            got += k > 0 ? (size_t)k : 0;
        }
    }
    echo_delay_us = 0;
    cr_assert_eq(memcmp(in, out, total), 0);
    cr_assert_eq(tunnel_streams(client), 1);
    close(fd);
    for (int i = 0; i < 40 && (tunnel_streams(client) || tunnel_streams(server)); i++)
        usleep(50000);
    cr_assert_eq(tunnel_streams(client), 0, "the client kept a closed stream");
    cr_assert_eq(tunnel_streams(server), 0, "the server kept a closed stream");
}

Test(tunnel_echo, the_target_closing_closes_the_client_fd)
{
    int fd;
    cr_assert_eq(tunnel_dial(client, address, &fd), 0, "%s", strerror(errno));
    cr_assert_eq(write(fd, "ping", 4), 4);
    char b[4];
    cr_assert_eq(read(fd, b, 4), 4);
    shutdown(fd, SHUT_WR); /* the echo reads EOF and closes its end */
    cr_assert_geq(wait_eof(fd, 3000), 0);
    close(fd);
}

Test(tunnel_echo, refusals_and_limits)
{
    int fd[4];
    cr_assert_eq(tunnel_dial(client, "127.0.0.1:1", &fd[0]), -1, "a closed port");
    cr_assert_eq(errno, ECONNREFUSED, "%s", strerror(errno));
    cr_assert_eq(tunnel_dial(client, "nonsense", &fd[0]), -1);
    cr_assert_eq(errno, EINVAL);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(tunnel_dial(client, address, &fd[i]), 0, "%d: %s", i, strerror(errno));
    int extra;
    cr_assert_eq(tunnel_dial(client, address, &extra), -1, "beyond max_streams");
    cr_assert_eq(errno, EMFILE);
    for (int i = 0; i < 4; i++)
        close(fd[i]);
    /* a server whose target does not answer refuses the stream */
    tunnel_t *lost = tunnel_new(
        zctx, &(tunnel_config_t){.bind = "tcp://127.0.0.1:*", .target = "@inv-test-nobody-here"});
    cr_assert_not_null(lost);
    tunnel_destroy(&lost);
}

Test(tunnel_echo, a_server_that_goes_away_closes_the_stream_for_good)
{
    int fd;
    cr_assert_eq(tunnel_dial(client, address, &fd), 0, "%s", strerror(errno));
    tunnel_destroy(&server); /* a CLOSE, then the port is gone */
    int64_t ms = wait_eof(fd, TUNNEL_DEAD_MS + 1000);
    cr_assert_geq(ms, 0, "the client's fd stayed open");
    close(fd);
    /* a new server at the same address: the old stream is not spliced in,
     * new dials work */
    for (int i = 0; i < 50 && !server; i++) { /* the old listener closes in ZeroMQ's I/O thread */
        server = tunnel_new(zctx, &(tunnel_config_t){.bind = endpoint, .target = target});
        if (!server)
            usleep(20000);
    }
    cr_assert_not_null(server, "%s", zmq_strerror(errno));
    int rc = -1;
    for (int i = 0; i < 20 && (rc = tunnel_dial(client, address, &fd)) != 0; i++) {
        usleep(100000);
    }
    cr_assert_eq(rc, 0, "%s", strerror(errno));
    cr_assert_eq(write(fd, "again", 5), 5);
    char b[5];
    cr_assert_eq(read(fd, b, 5), 5);
    cr_assert_eq(memcmp(b, "again", 5), 0);
    close(fd);
}
