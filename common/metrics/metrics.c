/* metrics: see metrics.h.  The registry is an array of series in
 * registration order; a family's samples are written together, in the
 * order its series were registered, when its name first comes up. */
#include "metrics.h"

#include "proc.h"
#include "strcopy.h"
#include "version.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum { S_COUNTER, S_GAUGE, S_SAMPLED, S_HISTOGRAM, S_INFO } series_kind_t;

typedef struct {
    series_kind_t kind;
    char name[64];        /* the family's */
    char labels[160];     /* between the braces, "" none */
    char *help;           /* owned */
    int64_t scale;        /* printed value = value / scale (a power of ten) */
    void *value;          /* owned: metrics_counter_t, _gauge_t or _histogram_t */
    metrics_sample_fn fn; /* S_SAMPLED */
    void *arg;
} series_t;

struct metrics {
    pthread_mutex_t mu; /* series and problem; never taken by an update */
    series_t *series;
    int n, cap;
    _Atomic int64_t beat_ms; /* monotonic time of the last loop turn, 0: none yet */
    bool has_problem;
    char problem[256];
};

static series_t *metrics_register(metrics_t *m, series_kind_t kind, const char *name,
                                  const char *labels, const char *help, int64_t scale, void *value);

metrics_t *
metrics_new(const char *daemon)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    char labels[128];
    snprintf(labels, sizeof labels, "daemon=\"%s\",version=\"%s\"", daemon, INV_VERSION);
    if (!metrics_register(m, S_INFO, "inv_build", labels, "The daemon and its version.", 1, NULL))
        metrics_destroy(&m);
    return m;
}

void
metrics_destroy(metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    metrics_t *m = *mp;
    for (int i = 0; i < m->n; i++) {
        free(m->series[i].help);
        free(m->series[i].value);
    }
    free(m->series);
    pthread_mutex_destroy(&m->mu);
    free(m);
    *mp = NULL;
}

/* Appends a series owning value (freed on failure); NULL out of memory. */
static series_t *
metrics_register(metrics_t *m, series_kind_t kind, const char *name, const char *labels,
                 const char *help, int64_t scale, void *value)
{
    series_t *s = NULL;
    pthread_mutex_lock(&m->mu);
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 32;
        series_t *grown = realloc(m->series, (size_t)cap * sizeof *grown);
        if (grown) {
            m->series = grown;
            m->cap = cap;
        }
    }
    char *h = strdup(help);
    if (m->n < m->cap && h) {
        s = &m->series[m->n++];
        *s = (series_t){.kind = kind, .help = h, .scale = scale > 0 ? scale : 1, .value = value};
        strcopy(s->name, sizeof s->name, name);
        strcopy(s->labels, sizeof s->labels, labels ? labels : "");
    } else {
        free(h);
        free(value);
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

metrics_counter_t *
metrics_counter(metrics_t *m, const char *name, const char *labels, const char *help)
{
    metrics_counter_t *c = m ? calloc(1, sizeof *c) : NULL;
    return c && metrics_register(m, S_COUNTER, name, labels, help, 1, c) ? c : NULL;
}

metrics_gauge_t *
metrics_gauge(metrics_t *m, const char *name, const char *labels, const char *help, int64_t scale)
{
    metrics_gauge_t *g = m ? calloc(1, sizeof *g) : NULL;
    return g && metrics_register(m, S_GAUGE, name, labels, help, scale, g) ? g : NULL;
}

void
metrics_sampled(metrics_t *m, const char *name, const char *labels, const char *help, int64_t scale,
                metrics_sample_fn fn, void *arg)
{
    series_t *s = m ? metrics_register(m, S_SAMPLED, name, labels, help, scale, NULL) : NULL;
    if (s) {
        s->fn = fn;
        s->arg = arg;
    }
}

metrics_histogram_t *
metrics_histogram(metrics_t *m, const char *name, const char *labels, const char *help,
                  const int64_t *bounds, int n, int64_t scale)
{
    if (!m || n < 1 || n > METRICS_BUCKETS_MAX)
        return NULL;
    metrics_histogram_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->n = n;
    memcpy(h->bounds, bounds, (size_t)n * sizeof bounds[0]);
    return metrics_register(m, S_HISTOGRAM, name, labels, help, scale, h) ? h : NULL;
}

metrics_histogram_t *
metrics_latency(metrics_t *m, const char *name, const char *labels, const char *help)
{
    static const int64_t us[] = {100,   250,    500,    1000,   2500,    5000,    10000,  25000,
                                 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
    return metrics_histogram(m, name, labels, help, us, (int)(sizeof us / sizeof us[0]), 1000000);
}

void
metrics_observe(metrics_histogram_t *h, int64_t v)
{
    if (!h)
        return;
    int i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

/* ---- the text format ----------------------------------------------------- */

/* v / scale, exactly: "12", or with scale 1000 "0.012"; `point` forces a
 * fraction (".0"), as le values are written. */
static void
metrics_put_number(FILE *f, int64_t v, int64_t scale, bool point)
{
    if (v == METRICS_UNKNOWN) {
        fputs("NaN", f);
        return;
    }
    int digits = 0;
    for (int64_t s = scale; s > 1; s /= 10)
        digits++;
    const char *sign = v < 0 ? "-" : "";
    uint64_t a = v < 0 ? -(uint64_t)v : (uint64_t)v;
    if (digits == 0) {
        fprintf(f, "%s%llu%s", sign, (unsigned long long)a, point ? ".0" : "");
        return;
    }
    uint64_t whole = a / (uint64_t)scale, frac = a % (uint64_t)scale;
    while (digits > 1 && frac % 10 == 0) { /* 0.000100 as 0.0001 */
        frac /= 10;
        digits--;
    }
    fprintf(f, "%s%llu.%0*llu", sign, (unsigned long long)whole, digits, (unsigned long long)frac);
}

/* The help text with backslash and newline escaped. */
static void
metrics_put_help(FILE *f, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static const char *
metrics_type_name(series_kind_t k)
{
    static const char *const names[] = {[S_COUNTER] = "counter",
                                        [S_GAUGE] = "gauge",
                                        [S_SAMPLED] = "gauge",
                                        [S_HISTOGRAM] = "histogram",
                                        [S_INFO] = "info"};
    return names[k];
}

/* name{labels[,extra]} */
static void
metrics_put_name(FILE *f, const series_t *s, const char *suffix, const char *extra)
{
    bool any = s->labels[0] || extra;
    fprintf(f, "%s%s%s%s%s%s%s", s->name, suffix, any ? "{" : "", s->labels,
            s->labels[0] && extra ? "," : "", extra ? extra : "", any ? "}" : "");
}

static void
metrics_put_histogram(FILE *f, const series_t *s)
{
    metrics_histogram_t *h = s->value;
    int64_t cumulative = 0;
    for (int i = 0; i <= h->n; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        char le[48];
        FILE *lf = fmemopen(le, sizeof le, "w");
        if (!lf)
            return;
        fputs("le=\"", lf);
        if (i < h->n)
            metrics_put_number(lf, h->bounds[i], s->scale, true);
        else
            fputs("+Inf", lf);
        fputc('"', lf);
        fclose(lf);
        metrics_put_name(f, s, "_bucket", le);
        fprintf(f, " %lld\n", (long long)cumulative);
    }
    metrics_put_name(f, s, "_sum", NULL);
    fputc(' ', f);
    metrics_put_number(f, atomic_load_explicit(&h->sum, memory_order_relaxed), s->scale, false);
    fputc('\n', f);
    metrics_put_name(f, s, "_count", NULL);
    fprintf(f, " %lld\n", (long long)cumulative);
}

static void
metrics_put_series(FILE *f, const series_t *s)
{
    switch (s->kind) {
    case S_COUNTER:
        metrics_put_name(f, s, "_total", NULL);
        fprintf(f, " %lld\n",
                (long long)atomic_load_explicit(&((metrics_counter_t *)s->value)->value,
                                                memory_order_relaxed));
        return;
    case S_GAUGE:
    case S_SAMPLED:
        metrics_put_name(f, s, "", NULL);
        fputc(' ', f);
        metrics_put_number(f, s->kind == S_GAUGE ? metrics_get(s->value) : s->fn(s->arg), s->scale,
                           false);
        fputc('\n', f);
        return;
    case S_HISTOGRAM:
        metrics_put_histogram(f, s);
        return;
    case S_INFO:
        metrics_put_name(f, s, "_info", NULL);
        fputs(" 1\n", f);
        return;
    }
}

/* Whether series i's family was written already (an earlier series of it). */
static bool
metrics_family_done(const metrics_t *m, int i)
{
    for (int k = 0; k < i; k++)
        if (strcmp(m->series[k].name, m->series[i].name) == 0)
            return true;
    return false;
}

int
metrics_format(metrics_t *m, char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);
    if (!f)
        return -1;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        const series_t *s = &m->series[i];
        if (metrics_family_done(m, i))
            continue;
        fprintf(f, "# TYPE %s %s\n# HELP %s ", s->name, metrics_type_name(s->kind), s->name);
        metrics_put_help(f, s->help);
        fputc('\n', f);
        for (int k = i; k < m->n; k++)
            if (strcmp(m->series[k].name, s->name) == 0)
                metrics_put_series(f, &m->series[k]);
    }
    pthread_mutex_unlock(&m->mu);
    fputs("# EOF\n", f);
    if (fclose(f) != 0) {
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* ---- health -------------------------------------------------------------- */

void
metrics_set_problem(metrics_t *m, const char *problem)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->has_problem = problem != NULL;
    strcopy(m->problem, sizeof m->problem, problem ? problem : "");
    pthread_mutex_unlock(&m->mu);
}

void
metrics_beat(metrics_t *m)
{
    if (m)
        atomic_store_explicit(&m->beat_ms, proc_mono_ms(), memory_order_relaxed);
}

bool
metrics_healthy(metrics_t *m, int64_t now_ms, char *why, size_t cap)
{
    why[0] = '\0';
    int64_t beat = atomic_load_explicit(&m->beat_ms, memory_order_relaxed);
    pthread_mutex_lock(&m->mu);
    bool problem = m->has_problem;
    if (problem)
        strcopy(why, cap, m->problem);
    pthread_mutex_unlock(&m->mu);
    if (problem)
        return false;
    if (beat == 0) {
        strcopy(why, cap, "starting");
        return false;
    }
    if (now_ms - beat > METRICS_STALL_MS) {
        snprintf(why, cap, "the daemon's loop has not turned for %lld ms",
                 (long long)(now_ms - beat));
        return false;
    }
    return true;
}

int64_t
metrics_wal_bytes(void *path)
{
    char real[PATH_MAX], wal[PATH_MAX + 8];
    struct stat sb;
    if (!realpath(path, real))
        return 0;
    snprintf(wal, sizeof wal, "%s-wal", real);
    return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
}
