/* metrics: a daemon's metrics registry and its health, read by the HTTP
 * endpoint (httpserv.h) on a thread of its own.
 *
 * Counters, gauges and histograms are atomics updated with relaxed adds and
 * stores: the command path and the subscriber's apply loop pay a few atomic
 * adds per batch, never a lock.  Their structs are visible so that the adds
 * inline.  Registration (at start) and formatting (a scrape) take the
 * registry's mutex; nothing on the hot path does.
 *
 * metrics_format writes the OpenMetrics 1.0 text format: one family per
 * name, `# TYPE` and `# HELP` before its samples, counters' samples named
 * <name>_total, histograms' <name>_bucket{le=...} (cumulative, ending with
 * le="+Inf"), <name>_sum and <name>_count, the build info as
 * inv_build_info{daemon=...,version=...} 1, and `# EOF` last.
 *
 * Values are int64 in the unit the code measures (microseconds, events);
 * a series' scale (1, 1000, 1000000) divides them when printed, so that a
 * latency observed in microseconds is exposed in seconds.
 *
 * Health: a daemon is healthy when it has a problem of none (metrics_set_problem)
 * and its loop turned (metrics_beat) within METRICS_STALL_MS.  Every
 * function is NULL-safe on the registry and on the series: a module given
 * no registry counts nothing. */
#ifndef INV_METRICS_H
#define INV_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS_MAX 16    /* upper bounds of one histogram, +Inf besides */
#define METRICS_STALL_MS 30000    /* a loop that has not turned this long is unhealthy */
#define METRICS_UNKNOWN INT64_MIN /* a sampled value that is not known: printed NaN */

typedef struct metrics metrics_t;

typedef struct {
    _Atomic int64_t value; /* only rises */
} metrics_counter_t;

typedef struct {
    _Atomic int64_t value;
} metrics_gauge_t;

typedef struct {
    int n;                                           /* upper bounds in use */
    int64_t bounds[METRICS_BUCKETS_MAX];             /* ascending, in the observed unit */
    _Atomic int64_t counts[METRICS_BUCKETS_MAX + 1]; /* per bucket, not cumulative; [n]: +Inf */
    _Atomic int64_t sum;                             /* of the observed values */
} metrics_histogram_t;

/* A gauge sampled at each scrape, on the HTTP thread: it must read only
 * atomics or the file system.  METRICS_UNKNOWN prints NaN. */
typedef int64_t (*metrics_sample_fn)(void *arg);

/* A registry for `daemon` (e.g. "command"), holding the build info family
 * (its name and INV_VERSION).  NULL on allocation failure. */
metrics_t *metrics_new(const char *daemon);
void metrics_destroy(metrics_t **m);

/* Registers one series of family `name` (without _total for a counter),
 * with `labels` as they go between the braces (`result="accepted"`, values
 * our own identifiers; "" none) and `help` (the family's, taken from its
 * first series).  A family has one type.  The series lives as long as the
 * registry.  NULL when m is NULL or out of memory. */
metrics_counter_t *metrics_counter(metrics_t *m, const char *name, const char *labels,
                                   const char *help);
metrics_gauge_t *metrics_gauge(metrics_t *m, const char *name, const char *labels, const char *help,
                               int64_t scale);
/* fn(arg) gives the value at each scrape; arg must outlive the registry. */
void metrics_sampled(metrics_t *m, const char *name, const char *labels, const char *help,
                     int64_t scale, metrics_sample_fn fn, void *arg);
/* bounds: n (1..METRICS_BUCKETS_MAX) ascending upper bounds. */
metrics_histogram_t *metrics_histogram(metrics_t *m, const char *name, const char *labels,
                                       const char *help, const int64_t *bounds, int n,
                                       int64_t scale);

static inline void
metrics_add(metrics_counter_t *c, int64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

static inline void
metrics_set(metrics_gauge_t *g, int64_t v)
{
    if (g)
        atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

static inline int64_t
metrics_get(metrics_gauge_t *g)
{
    return g ? atomic_load_explicit(&g->value, memory_order_relaxed) : 0;
}

/* A histogram of latencies observed in microseconds, exposed in seconds,
 * with buckets from 100 us to 5 s (an fsync's range). */
metrics_histogram_t *metrics_latency(metrics_t *m, const char *name, const char *labels,
                                     const char *help);

/* Counts v in its bucket and in the sum. */
void metrics_observe(metrics_histogram_t *h, int64_t v);

/* The text of every family, malloc'ed, in *text (len bytes, NUL after).
 * 0, or -1 out of memory. */
int metrics_format(metrics_t *m, char **text, size_t *len);

/* Why the daemon is not serving (copied), or NULL once it is again.  Called
 * where the state changes, not per event. */
void metrics_set_problem(metrics_t *m, const char *problem);
/* The daemon's loop turned (a relaxed store of the monotonic clock). */
void metrics_beat(metrics_t *m);
/* True when healthy at now_ms (monotonic); otherwise why (NUL-terminated,
 * cap >= 1): the problem, "starting" before the first beat, or the stall. */
bool metrics_healthy(metrics_t *m, int64_t now_ms, char *why, size_t cap);

/* A metrics_sample_fn: the size in bytes of the WAL beside the database
 * file at path (a const char *; a symlink is followed to its target's
 * WAL), 0 when there is none. */
int64_t metrics_wal_bytes(void *path);

#endif
