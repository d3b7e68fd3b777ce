/* log's rate limiter (issue 23, item 7), with an injected clock: a call site
 * writes at most LOG_BURST lines per second, the rest are counted, and the
 * next line it writes once the window has passed says how many were
 * suppressed.  Lines go to stderr, which the tests point at a file. */
#include "log.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t fake_now;

static int64_t
fake_clock(void)
{
    return fake_now;
}

static FILE *captured;
static int saved_stderr = -1;

static void
capture(void)
{
    captured = tmpfile();
    cr_assert_not_null(captured);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
    log_init("test", LOG_DEBUG);
    log_set_clock(fake_clock);
    fake_now = 1000000000;
}

static void
restore(void)
{
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fclose(captured);
    log_set_clock(NULL);
}

/* The lines written so far, in one malloc'ed string; *lines their count. */
static char *
written(int *lines)
{
    struct stat st;
    cr_assert_eq(fstat(fileno(captured), &st), 0);
    size_t size = (size_t)st.st_size;
    char *text = calloc(1, size + 1);
    cr_assert_eq(pread(fileno(captured), text, size, 0), (ssize_t)size);
    *lines = 0;
    for (char *p = text; *p; p++)
        *lines += *p == '\n';
    return text;
}

TestSuite(log, .init = capture, .fini = restore);

/* One call site, as in a daemon's loop. */
static void
warn_bad_frame(int i)
{
    LOG_W(NULL, "bad frame %d", i);
}

Test(log, a_flood_from_one_site_writes_a_burst_per_second_and_counts_the_rest)
{
    int64_t before = log_suppressed();
    for (int i = 0; i < 1000; i++)
        warn_bad_frame(i); /* within one second */
    int lines;
    char *text = written(&lines);
    cr_assert_eq(lines, LOG_BURST, "%d lines:\n%s", lines, text);
    cr_assert_eq(log_suppressed() - before, 1000 - LOG_BURST);
    cr_assert_null(strstr(text, "suppressed"));
    free(text);

    fake_now += LOG_WINDOW_US - 1; /* still the same window */
    warn_bad_frame(1000);
    fake_now += 1; /* the window has passed: the next line reports */
    warn_bad_frame(1001);
    text = written(&lines);
    cr_assert_eq(lines, LOG_BURST + 1, "%s", text);
    cr_assert_not_null(strstr(text, "bad frame 1001 (991 similar suppressed)\n"), "%s", text);
    free(text);

    warn_bad_frame(1002); /* nothing more to report */
    text = written(&lines);
    cr_assert_eq(lines, LOG_BURST + 2);
    cr_assert_not_null(strstr(text, "bad frame 1002\n"), "%s", text);
    free(text);
}

static void
error_elsewhere(void)
{
    LOG_E("c1", "store error");
}

Test(log, sites_are_limited_each_on_its_own_and_info_is_not_limited)
{
    for (int i = 0; i < 50; i++) {
        warn_bad_frame(i);
        error_elsewhere();
        LOG_I(NULL, "applied %d", i);
    }
    int lines;
    char *text = written(&lines);
    cr_assert_eq(lines, 2 * LOG_BURST + 50, "%s", text);
    cr_assert_not_null(strstr(text, "test ERROR [corr=c1] store error\n"));
    free(text);
}

Test(log, a_quiet_site_is_never_limited)
{
    for (int i = 0; i < 100; i++) {
        warn_bad_frame(i);
        fake_now += LOG_WINDOW_US / LOG_BURST; /* LOG_BURST per second */
    }
    int lines;
    char *text = written(&lines);
    cr_assert_eq(lines, 100, "%s", text);
    cr_assert_null(strstr(text, "suppressed"));
    free(text);
}

Test(log, a_clock_that_steps_back_starts_a_new_window)
{
    for (int i = 0; i < 20; i++)
        warn_bad_frame(i);
    fake_now -= 10 * LOG_WINDOW_US;
    warn_bad_frame(20);
    int lines;
    char *text = written(&lines);
    cr_assert_eq(lines, LOG_BURST + 1, "%s", text);
    cr_assert_not_null(strstr(text, "bad frame 20 (10 similar suppressed)\n"), "%s", text);
    free(text);
}

/* ---- the JSON format (--log-format json) --------------------------------- */

static const char *STAMP = "2026-11-23T15:11:24.123456Z";

Test(log, a_json_line_has_the_fields_and_the_correlation_id_when_there_is_one)
{
    char out[LOG_JSON_MIN];
    size_t n =
        log_json_line(out, sizeof out, STAMP, "projector", LOG_INFO, "abc-1", "applied 12 events");
    cr_assert_str_eq(out, "{\"time\":\"2026-11-23T15:11:24.123456Z\",\"level\":\"info\","
                          "\"daemon\":\"projector\",\"correlation_id\":\"abc-1\","
                          "\"message\":\"applied 12 events\"}\n");
    cr_assert_eq(n, strlen(out));
    log_json_line(out, sizeof out, STAMP, "relay", LOG_ERROR, "", "x");
    cr_assert_str_eq(out, "{\"time\":\"2026-11-23T15:11:24.123456Z\",\"level\":\"error\","
                          "\"daemon\":\"relay\",\"message\":\"x\"}\n");
    log_json_line(out, sizeof out, STAMP, "relay", LOG_WARN, NULL, "y");
    cr_assert(strstr(out, "\"level\":\"warn\"") && !strstr(out, "correlation_id"));
}

Test(log, a_json_line_escapes_quotes_controls_and_invalid_utf8)
{
    char out[LOG_JSON_MIN];
    log_json_line(out, sizeof out, STAMP, "command", LOG_WARN, "c\"1\n",
                  "say \"hi\"\\ \x01\x1b[31m\ttab\nnl \xff\xfe caf\xc3\xa9 \xe2\x80\xae");
    cr_assert(strstr(out, "\"correlation_id\":\"c\\\"1\\n\""), "%s", out);
    cr_assert(strstr(out, "\"message\":\"say \\\"hi\\\"\\\\ \\u0001\\u001b[31m\\ttab\\nnl "
                          "\\ufffd\\ufffd caf\xc3\xa9 \\u202e\"}\n"),
              "%s", out);
    /* one line: the only newline ends it */
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1);
}

Test(log, a_json_line_too_long_is_cut_and_stays_one_object)
{
    char msg[8000];
    memset(msg, '\x01', sizeof msg - 1); /* each byte escaped to six */
    msg[sizeof msg - 1] = '\0';
    char out[LOG_JSON_MIN];
    size_t n = log_json_line(out, sizeof out, STAMP, "query", LOG_INFO, "k", msg);
    cr_assert(n > 0 && n < sizeof out);
    cr_assert_eq(out[n - 1], '\n');
    cr_assert_eq(out[n - 2], '}');
    cr_assert_eq(out[n - 3], '"');
    cr_assert_eq(strncmp(out + n - 9, "\\u0001", 6), 0, "%s", out + n - 20);
    /* a cut never splits a character */
    memset(msg, 'a', sizeof msg - 1);
    for (size_t i = 1; i + 1 < sizeof msg; i += 2)
        memcpy(msg + i - 1, "\xc3\xa9", 2);
    n = log_json_line(out, sizeof out, STAMP, "query", LOG_INFO, NULL, msg);
    cr_assert_eq(strstr(out, "\\ufffd"), NULL, "%s", out);
}

Test(log, the_json_format_writes_the_daemons_lines_as_json)
{
    log_format_t f;
    cr_assert_eq(log_format_parse("json", &f), 0);
    cr_assert_eq(f, LOG_JSON);
    cr_assert_eq(log_format_parse("text", &f), 0);
    cr_assert_eq(f, LOG_TEXT);
    cr_assert_eq(log_format_parse("xml", &f), -1);
    log_set_format(LOG_JSON);
    LOG_I("corr-7", "hello %d", 42);
    log_set_format(LOG_TEXT);
    LOG_I(NULL, "plain");
    int lines;
    char *text = written(&lines);
    cr_assert_eq(lines, 2);
    cr_assert(strncmp(text, "{\"time\":\"", 9) == 0, "%s", text);
    cr_assert(strstr(text, "\"level\":\"info\",\"daemon\":\"test\",\"correlation_id\":\"corr-7\","
                           "\"message\":\"hello 42\"}\n"),
              "%s", text);
    cr_assert(strstr(text, " test INFO [corr=-] plain\n"), "%s", text);
    free(text);
}
