/* bench: the load generator's engine (bench/invbench.c).  Several DEALER
 * connections, each with a window of outstanding requests, closed loop (as
 * fast as replies come) or open loop at a fixed rate, where latency is taken
 * from the intended send time so that a stall is not hidden (no coordinated
 * omission).  Commands go over a Zipf-skewed choice of products; every
 * acknowledged position is kept so that the visibility lag (ack until the
 * projector's checkpoint covers it) can be computed after the run.
 *
 * A replicated store (issue 26): command_ep may list every command service;
 * a `not_leader` reply moves every connection to the leader it names (or,
 * naming none, to the next endpoint 100 ms later), silence for failover_ms
 * to the next one; what was outstanding is sent again with the same command
 * ids (counted in retries), so each command is accepted once, and
 * max_ack_gap_us says how long the failover left commands unanswered. */
#ifndef INV_BENCH_H
#define INV_BENCH_H

#include "histogram.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { BENCH_COMMANDS, BENCH_QUERIES, BENCH_WAIT } bench_mode_t;

typedef struct {
    bench_mode_t mode;
    const char *command_ep; /* one endpoint or a list (eplist.h): not_leader is followed */
    const char *query_ep;
    const char *projector_ep; /* for visibility lag; NULL or "" to skip */
    const char *audit_ep;     /* checked for catch-up after the load; may be "" */
    const char *alert_ep;     /* idem */
    const char *relay_ep;     /* BENCH_WAIT: the head comes from the relay's Status */
    int connections;
    int window;          /* outstanding requests per connection */
    int64_t duration_ms; /* 0: until count */
    int64_t count;       /* total requests; 0: until duration */
    double rate;         /* open loop requests/s in total; 0: closed loop */
    int products;
    double zipf_s;
    int mix[5];            /* weights: sell, view, stock, price, review */
    const char *prefix;    /* id prefix of this run */
    bool setup;            /* register the supplier and create the products first */
    int64_t initial_stock; /* stock of each product created by the setup */
    int64_t restock;       /* new_stock of UpdateStock commands */
    int64_t retry_ms;      /* resend a request unanswered this long (same command_id) */
    int64_t stall_ms;      /* fail when nothing is answered this long with requests out */
    int64_t failover_ms;   /* command_ep a list: silence this long with requests out moves
                              every connection to the next endpoint (0: never) */
    FILE *ack_log;         /* "command_id accepted position" / "... rejected code" */
    uint64_t seed;
    bool random_ids; /* random command ids instead of ordered ones (what it costs) */
} bench_opts_t;

typedef struct {
    int64_t sent, acked, rejected, timeouts, retries, errors;
    int64_t elapsed_us;     /* load phase */
    histogram_t latency;    /* us, from intended send time */
    histogram_t visibility; /* us, ack -> projector checkpoint covers it */
    int64_t visibility_samples;
    int64_t catchup_ms; /* load end -> every subscriber at the head; -1 if not within 10 s */
    int64_t max_position;
    int64_t rejected_by_code[16];
    int64_t failovers;      /* moves to another command endpoint (not_leader, silence) */
    int64_t max_ack_gap_us; /* the longest time no command was answered (accepted or
                               rejected, not_leader aside) during the load: a failover's */
} bench_result_t;

/* BENCH_WAIT: reads the head from the relay, then waits (up to duration_ms)
 * until the projector, audit and alert daemons have applied it; the time
 * taken goes to out->catchup_ms (-1 when not reached) and the head to
 * out->max_position. */
/* Runs the whole benchmark; 0, or -1 with a reason on stderr. */
int bench_run(const bench_opts_t *opts, bench_result_t *out);

#endif
