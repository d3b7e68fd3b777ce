/* log: see log.h.  Each line is formatted into one buffer and written with a
 * single write(2), so lines from threads never interleave.  The limiter's
 * counters are guarded by one mutex, taken only for warnings and errors. */
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_name = "inventory";
static log_level_t log_min = LOG_INFO;
static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t log_suppressed_total;

static int64_t
log_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t (*log_now_us)(void) = log_monotonic_us;

void
log_init(const char *name, log_level_t level)
{
    log_name = name;
    log_min = level;
}

int
log_level_parse(const char *text, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void
log_set_clock(int64_t (*now_us)(void))
{
    log_now_us = now_us ? now_us : log_monotonic_us;
}

int64_t
log_suppressed(void)
{
    pthread_mutex_lock(&log_mutex);
    int64_t n = log_suppressed_total;
    pthread_mutex_unlock(&log_mutex);
    return n;
}

/* Formats and writes one line; `suppressed` > 0 adds the limiter's note. */
static void
log_write(log_level_t level, const char *corr, int64_t suppressed, const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s [corr=%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)tv.tv_usec, log_name, level_names[level], corr && *corr ? corr : "-");
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    if (suppressed > 0) {
        char note[64];
        int k = snprintf(note, sizeof note, " (%lld similar suppressed)", (long long)suppressed);
        if (n + k > (int)sizeof line - 2)
            n = (int)sizeof line - 2 - k;
        memcpy(line + n, note, (size_t)k);
        n += k;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void
log_line(log_level_t level, const char *corr, const char *fmt, ...)
{
    if (level < log_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, corr, 0, fmt, ap);
    va_end(ap);
}

/* Whether a site may write now; *report takes what it suppressed before. */
static bool
log_site_admit(log_site_t *site, int64_t *report)
{
    int64_t now = log_now_us();
    bool admit;
    pthread_mutex_lock(&log_mutex);
    if (site->written == 0 || now - site->window_start_us >= LOG_WINDOW_US || now < site->window_start_us) {
        site->window_start_us = now;
        site->written = 0;
    }
    admit = site->written < LOG_BURST;
    if (admit) {
        site->written++;
        *report = site->suppressed;
        site->suppressed = 0;
    } else {
        site->suppressed++;
        log_suppressed_total++;
    }
    pthread_mutex_unlock(&log_mutex);
    return admit;
}

void
log_site_line(log_site_t *site, log_level_t level, const char *corr, const char *fmt, ...)
{
    if (level < log_min)
        return;
    int64_t report = 0;
    if (!log_site_admit(site, &report))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, corr, report, fmt, ap);
    va_end(ap);
}
