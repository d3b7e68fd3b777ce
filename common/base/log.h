/* log: one line per notable action, to stderr, tagged with the daemon name
 * and the correlation id.  Two formats (--log-format, INV_LOG_FORMAT):
 *   text: 2026-11-23T15:11:24.123456Z projector INFO [corr=abc] applied 12 events
 *   json: {"time":"2026-11-23T15:11:24.123456Z","level":"info","daemon":"projector",
 *          "correlation_id":"abc","message":"applied 12 events"}
 *         one object a line; correlation_id only when the line has one;
 *         strings escaped by jsonstr.h (control characters, quotes,
 *         invalid UTF-8 as \ufffd).
 * Library code returns errors; only daemons log.
 *
 * Warnings and errors are rate-limited per call site, so that a flood of bad
 * input cannot flood the log (issue 23, item 7: 20,000 undecodable messages
 * wrote 18,000 lines in 5 s): each LOG_W / LOG_E statement writes at most
 * LOG_BURST lines per LOG_WINDOW_US; the lines beyond are counted, not
 * written, and the next line that statement writes once its window has
 * passed ends with " (N similar suppressed)".  log_suppressed() counts them
 * all.  Debug and info lines are not limited. */
#ifndef INV_LOG_H
#define INV_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;
typedef enum { LOG_TEXT = 0, LOG_JSON = 1 } log_format_t;

#define LOG_BURST 10              /* lines per call site per window */
#define LOG_WINDOW_US 1000000LL   /* one second */
#define LOG_JSON_MIN 2048         /* the least room log_json_line needs */

/* The limiter's state of one call site (a static in each LOG_W / LOG_E). */
typedef struct {
    int64_t window_start_us; /* when the current window began */
    int64_t written;         /* lines written in it */
    int64_t suppressed;      /* lines dropped since the last one written */
} log_site_t;

/* Sets the daemon name printed on every line and the lowest level shown.
 * `name` must outlive all logging (a string literal is typical). */
void log_init(const char *name, log_level_t level);

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *text, log_level_t *out);

/* Parses "text", "json"; returns -1 for anything else. */
int log_format_parse(const char *text, log_format_t *out);
/* The format of every line from now on (LOG_TEXT until called). */
void log_set_format(log_format_t format);

/* One JSON line (with its newline) into out (cap >= LOG_JSON_MIN), from the time
 * stamp, daemon name, level, correlation id (NULL or "": left out) and
 * message; a message too long for cap is cut at a character, the line
 * stays one valid object.  Returns its length.  Pure: log_line's JSON
 * format, for tests. */
size_t log_json_line(char *out, size_t cap, const char *stamp, const char *daemon,
                     log_level_t level, const char *corr, const char *msg);

/* Writes one line; `corr` may be NULL or empty (printed as "-"). */
void log_line(log_level_t level, const char *corr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line unless `site` has written LOG_BURST lines in its current
 * window (then counts it as suppressed).  Thread-safe. */
void log_site_line(log_site_t *site, log_level_t level, const char *corr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lines suppressed by the limiter since start (every call site). */
int64_t log_suppressed(void);

/* The limiter's clock, microseconds (monotonic); NULL restores the default.
 * For tests. */
void log_set_clock(int64_t (*now_us)(void));

#define LOG_D(corr, ...) log_line(LOG_DEBUG, (corr), __VA_ARGS__)
#define LOG_I(corr, ...) log_line(LOG_INFO, (corr), __VA_ARGS__)
#define LOG_W(corr, ...)                                                                           \
    do {                                                                                           \
        static log_site_t log_site_;                                                               \
        log_site_line(&log_site_, LOG_WARN, (corr), __VA_ARGS__);                                  \
    } while (0)
#define LOG_E(corr, ...)                                                                           \
    do {                                                                                           \
        static log_site_t log_site_;                                                               \
        log_site_line(&log_site_, LOG_ERROR, (corr), __VA_ARGS__);                                 \
    } while (0)

#endif
