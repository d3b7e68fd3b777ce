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
