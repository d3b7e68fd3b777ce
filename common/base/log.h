/* log: one line per notable action, to stderr, tagged with the daemon name
 * and the correlation id.  Format:
 *   2026-11-23T15:11:24.123456Z projector INFO [corr=abc] applied 12 events
 * Library code returns errors; only daemons log. */
#ifndef INV_LOG_H
#define INV_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Sets the daemon name printed on every line and the lowest level shown.
 * `name` must outlive all logging (a string literal is typical). */
void log_init(const char *name, log_level_t level);

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *text, log_level_t *out);

/* Writes one line; `corr` may be NULL or empty (printed as "-"). */
void log_line(log_level_t level, const char *corr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_D(corr, ...) log_line(LOG_DEBUG, (corr), __VA_ARGS__)
#define LOG_I(corr, ...) log_line(LOG_INFO, (corr), __VA_ARGS__)
#define LOG_W(corr, ...) log_line(LOG_WARN, (corr), __VA_ARGS__)
#define LOG_E(corr, ...) log_line(LOG_ERROR, (corr), __VA_ARGS__)

#endif
