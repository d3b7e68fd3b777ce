/* netdelay: holds the packets an NFQUEUE queue receives for a fixed time,
 * then accepts them, in the order they came.
 *
 * Why it exists: the kernel of the test machines has no netem qdisc
 * (CONFIG_NET_SCH_NETEM is not set; `tc qdisc add ... netem` says
 * "Specified qdisc kind is unknown"), so tests/netns/hosts.sh adds latency
 * in user space instead.  Inside a host's network namespace it sends what
 * the host puts on its link to a queue,
 *
 *   iptables -A OUTPUT -o eth0 -d SUBNET -j NFQUEUE --queue-num N --queue-bypass
 *
 * and this program, started in the same namespace (queues are per
 * namespace), gives each packet its ACCEPT verdict --delay-us after it
 * arrived.  When every host delays by D, a round trip takes 2 x D more.
 * --queue-bypass lets packets through undelayed while no program listens
 * (before the start, after a crash), instead of dropping them all.
 *
 * Invariants: one FIFO and one fixed delay, so a packet is never accepted
 * before an earlier one; at most --max-queue packets wait, one more is
 * dropped at once and counted; SIGTERM, SIGINT or --max-seconds end the
 * program after accepting every packet still waiting (a load or failure
 * test that forgets it cannot leave it running).  Only the packet id is
 * copied from the kernel, never the payload.
 *
 *   netdelay --queue N --delay-us D [--max-queue 65536] [--max-seconds 600]
 *
 * Prints "netdelay: queue N ready" on stdout once bound, and one line of
 * counts on exit.  Exit status: 0, 1 on a netlink error, 2 on bad
 * settings. */
#include "config.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#define NETDELAY_RCVBUF (32u << 20) /* bytes: a full queue's notifications */
#define NETDELAY_KERNEL_SPARE 4096  /* packets the kernel queues beyond ours, unread */
#define NETDELAY_WAIT_MAX_US 100000 /* the longest sleep, so a signal is seen soon */

typedef struct {
    uint32_t id;    /* the kernel's packet id, increasing */
    int64_t due_us; /* monotonic time of its verdict */
} held_t;

typedef struct {
    struct nfq_handle *nfq;
    struct nfq_q_handle *queue;
    int fd;
    int64_t delay_us; /* >= 0 */
    held_t *ring;     /* cap entries, FIFO from head */
    size_t cap, head, count;
    int64_t now_us;   /* monotonic, when the current batch was read */
    uint64_t delayed; /* packets accepted after the delay */
    uint64_t dropped; /* packets refused because cap were waiting */
    uint64_t lost;    /* notifications the socket lost (ENOBUFS); the next verdict covers them */
} netdelay_t;

typedef struct {
    int64_t queue, delay_us, max_queue, max_seconds;
} settings_t;

static int
settings_load(settings_t *s, int argc, char **argv)
{
    *s = (settings_t){.queue = -1, .delay_us = -1, .max_queue = 65536, .max_seconds = 600};
    const config_option_t opts[] = {
        CONFIG_INT_OPT("--queue", NULL, &s->queue, "NFQUEUE number (0..65535)"),
        CONFIG_INT_OPT("--delay-us", NULL, &s->delay_us, "how long each packet is held, us"),
        CONFIG_INT_OPT("--max-queue", NULL, &s->max_queue,
                       "packets held at most; more are dropped"),
        CONFIG_INT_OPT("--max-seconds", NULL, &s->max_seconds, "exit after this long"),
    };
    int rc = config_parse("netdelay", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (rc != 0)
        return rc;
    if (s->queue < 0 || s->queue > 65535 || s->delay_us < 0 || s->delay_us > 10000000 ||
        s->max_queue < 1 || s->max_queue > 1000000 || s->max_seconds < 1) {
        fprintf(stderr, "netdelay: --queue 0..65535 and --delay-us 0..10000000 are needed; "
                        "--max-queue 1..1000000, --max-seconds >= 1 (see --help)\n");
        return -1;
    }
    return 0;
}

/* Called by nfq_handle_packet for each packet read: holds it, or drops it
 * when the ring is full. */
static int
on_packet(struct nfq_q_handle *queue, struct nfgenmsg *msg, struct nfq_data *nfa, void *arg)
{
    netdelay_t *d = arg;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    (void)msg;
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (d->count == d->cap) {
        d->dropped++;
        return nfq_set_verdict(queue, id, NF_DROP, 0, NULL) < 0 ? -1 : 0;
    }
    d->ring[(d->head + d->count) % d->cap] = (held_t){id, d->now_us + d->delay_us};
    d->count++;
    return 0;
}

/* Accepts every held packet due by now, with one batch verdict (it covers
 * every queued id up to the last one: they all arrived earlier).  0 or -1. */
static int
release_due(netdelay_t *d, int64_t now_us)
{
    size_t n = 0;
    while (n < d->count && d->ring[(d->head + n) % d->cap].due_us <= now_us)
        n++;
    if (n == 0)
        return 0;
    uint32_t last = d->ring[(d->head + n - 1) % d->cap].id;
    d->head = (d->head + n) % d->cap;
    d->count -= n;
    d->delayed += n;
    if (nfq_set_verdict_batch(d->queue, last, NF_ACCEPT) < 0) {
        fprintf(stderr, "netdelay: verdict: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads every notification waiting on the socket.  0 or -1. */
static int
drain(netdelay_t *d)
{
    static char buf[65536] __attribute__((aligned));
    d->now_us = proc_mono_us();
    for (;;) {
        ssize_t n = recv(d->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            nfq_handle_packet(d->nfq, buf, (int)n);
            continue;
        }
        if (n < 0 && errno == ENOBUFS) {
            d->lost++;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        fprintf(stderr, "netdelay: recv: %s\n", n < 0 ? strerror(errno) : "socket closed");
        return -1;
    }
}

/* Microseconds to sleep: until the oldest held packet is due, or the end. */
static int64_t
wait_us(const netdelay_t *d, int64_t now_us, int64_t end_us)
{
    int64_t until = end_us;
    if (d->count > 0 && d->ring[d->head].due_us < until)
        until = d->ring[d->head].due_us;
    int64_t w = until - now_us;
    return w < 0 ? 0 : w > NETDELAY_WAIT_MAX_US ? NETDELAY_WAIT_MAX_US : w;
}

/* The loop: sleep until a packet arrives or one is due.  0 or -1. */
static int
run(netdelay_t *d, int64_t end_us)
{
    int64_t now = proc_mono_us();
    while (!proc_stopping() && now < end_us) {
        int64_t w = wait_us(d, now, end_us);
        struct timespec ts = {w / 1000000, (w % 1000000) * 1000};
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR) {
            fprintf(stderr, "netdelay: poll: %s\n", strerror(errno));
            return -1;
        }
        if ((p.revents & POLLIN) && drain(d) != 0)
            return -1;
        now = proc_mono_us();
        if (release_due(d, now) != 0)
            return -1;
    }
    return 0;
}

/* Binds the queue: metadata only, the kernel's queue longer than ours (so
 * that we see, and count, what we drop), GSO packets whole, a receive
 * buffer for a full queue.  0 or -1 (printed). */
static int
bind_queue(netdelay_t *d, uint16_t num)
{
    const char *step = "nfq_open";
    if (!(d->nfq = nfq_open()))
        goto fail;
    step = "nfq_create_queue (is another program bound to this queue?)";
    if (!(d->queue = nfq_create_queue(d->nfq, num, on_packet, d)))
        goto fail;
    step = "nfq_set_mode";
    if (nfq_set_mode(d->queue, NFQNL_COPY_META, 0) < 0)
        goto fail;
    step = "nfq_set_queue_maxlen";
    if (nfq_set_queue_maxlen(d->queue, (uint32_t)d->cap + NETDELAY_KERNEL_SPARE) < 0)
        goto fail;
    /* optional: without it the kernel segments GSO packets first */
    nfq_set_queue_flags(d->queue, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
    d->fd = nfq_fd(d->nfq);
    nfnl_rcvbufsiz(nfq_nfnlh(d->nfq), NETDELAY_RCVBUF);
    return 0;
fail:
    fprintf(stderr, "netdelay: %s failed: %s\n", step, errno ? strerror(errno) : "?");
    return -1;
}

static void
unbind_queue(netdelay_t *d)
{
    if (d->queue)
        nfq_destroy_queue(d->queue);
    if (d->nfq)
        nfq_close(d->nfq);
    d->queue = NULL;
    d->nfq = NULL;
}

int
main(int argc, char **argv)
{
    settings_t s;
    int rc = settings_load(&s, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    netdelay_t d = {.delay_us = s.delay_us, .cap = (size_t)s.max_queue, .fd = -1};
    if (!(d.ring = calloc(d.cap, sizeof *d.ring))) {
        fprintf(stderr, "netdelay: out of memory\n");
        return 1;
    }
    proc_install_signals();
    prctl(PR_SET_TIMERSLACK, 1UL); /* sleeps end on time, not 50 us late */
    rc = bind_queue(&d, (uint16_t)s.queue);
    if (rc == 0) {
        printf("netdelay: queue %lld ready, %lld us\n", (long long)s.queue, (long long)s.delay_us);
        fflush(stdout);
        rc = run(&d, proc_mono_us() + s.max_seconds * 1000000);
        if (release_due(&d, INT64_MAX) != 0)
            rc = -1;
    }
    unbind_queue(&d);
    free(d.ring);
    printf("netdelay: %llu delayed, %llu dropped (queue full), %llu notifications lost\n",
           (unsigned long long)d.delayed, (unsigned long long)d.dropped,
           (unsigned long long)d.lost);
    return rc == 0 ? 0 : 1;
}
