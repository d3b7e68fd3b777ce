/* log: see log.h.  Each line is formatted into one buffer and written with a
 * single write(2), so lines from threads never interleave.  The limiter's
 * counters are guarded by one mutex, taken only for warnings and errors. */
#include "log.h"

#include "jsonstr.h"
#include "utf8.h"

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
static log_format_t log_fmt = LOG_TEXT;
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

int
log_format_parse(const char *text, log_format_t *out)
{
    if (strcasecmp(text, "text") == 0 || strcasecmp(text, "json") == 0) {
        *out = strcasecmp(text, "json") == 0 ? LOG_JSON : LOG_TEXT;
        return 0;
    }
    return -1;
}

void
log_set_format(log_format_t format)
{
    log_fmt = format;
}

/* Writes value as a JSON string, cut to max bytes at a character. */
static void
log_json_value(FILE *f, const char *value, size_t max)
{
    size_t n = strlen(value);
    if (n > max) {
        n = max;
        while (n > 0 && utf8_continuation((unsigned char)value[n]))
            n--;
    }
    jsonstr_write(f, value, n);
}

size_t
log_json_line(char *out, size_t cap, const char *stamp, const char *daemon, log_level_t level,
              const char *corr, const char *msg)
{
    static const char *const lower[] = {"debug", "info", "warn", "error"};
    FILE *f = fmemopen(out, cap, "w");
    if (!f)
        return 0;
    fputs("{\"time\":", f);
    log_json_value(f, stamp, 40);
    fprintf(f, ",\"level\":\"%s\",\"daemon\":", lower[level]);
    log_json_value(f, daemon, 64);
    if (corr && *corr) {
        fputs(",\"correlation_id\":", f);
        log_json_value(f, corr, 128);
    }
    fputs(",\"message\":", f);
    /* what is left, less `"` `"}` newline and NUL, holds 6 bytes per byte at worst */
    long used = ftell(f) + 8;
    log_json_value(f, msg, used < (long)cap ? (size_t)((long)cap - used) / 6 : 0);
    fputs("}\n", f);
    long len = ftell(f);
    fclose(f);
    return len > 0 ? (size_t)len : 0;
}

/* Formats and writes one line; `suppressed` > 0 adds the limiter's note. */
static void
log_write(log_level_t level, const char *corr, int64_t suppressed, const char *fmt, va_list ap)
{
    char line[2048];
    char stamp[96]; /* room for any int the compiler imagines */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
    int n = 0;
    if (log_fmt == LOG_TEXT)
        n = snprintf(line, sizeof line, "%s %s %s [corr=%s] ", stamp, log_name, level_names[level],
                     corr && *corr ? corr : "-");
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
    line[n] = '\0';
    if (log_fmt == LOG_JSON) {
        char json[6 * sizeof line + 512]; /* every byte escaped, and the fields */
        ssize_t w = write(STDERR_FILENO, json,
                          log_json_line(json, sizeof json, stamp, log_name, level, corr, line));
        (void)w;
        return;
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
