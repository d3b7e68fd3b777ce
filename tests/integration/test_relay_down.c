/* The subscribers (projector, audit, alert) answer their control sockets
 * within milliseconds while the relay they read from is stopped (SIGSTOP:
 * its sockets stay connected and answer nothing) or dead (SIGKILL), also
 * with a catch-up request outstanding and a rebuild in progress; and once
 * the relay is back they follow it again.  Issue 24: a catch-up request
 * used to block the loop for up to 3 s, and `Status` went unanswered in
 * 15 of 26 polls. */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

static harness_t *h;

static void
cleanup(void)
{
    harness_destroy(&h);
}

TestSuite(relay_down, .fini = cleanup, .timeout = 120);

#define POLLS 30            /* Status requests per daemon */
#define POLL_TIMEOUT_MS 250 /* each must be answered within this */
#define POLL_GAP_MS 130 /* between rounds: the polls span ~4 s, past a catch-up deadline (3 s) */

/* The control endpoints of the three subscribers. */
static const char *const controls[] = {"projector", "audit", "alert-api"};
#define N_CONTROLS (sizeof controls / sizeof controls[0])

static const unsigned subscribers = HD_COMMAND | HD_RELAY | HD_PROJECTOR | HD_AUDIT | HD_ALERT;

/* A product and a sale, so every model has a checkpoint to verify at its
 * next start or reconnection.  The last position. */
static int64_t
write_history(const char *tag)
{
    command_t c;
    char cid[32], sid[32], pid[32];
    snprintf(cid, sizeof cid, "sup-%s", tag);
    snprintf(sid, sizeof sid, "s-%s", tag);
    snprintf(pid, sizeof pid, "p-%s", tag);
    itest_supplier_cmd(&c, cid, sid, "Acme");
    itest_accept(h, &c);
    snprintf(cid, sizeof cid, "prod-%s", tag);
    itest_product_cmd(&c, cid, pid, sid, pid, "Widget", "A widget", 500, 300, 10, 2);
    itest_accept(h, &c);
    snprintf(cid, sizeof cid, "sell-%s", tag);
    itest_sell_cmd(&c, cid, pid, cid, 1);
    return itest_accept(h, &c);
}

/* The three subscriber daemons, in the order of controls[]. */
static const char *const daemons[] = {"projector", "audit", "alert"};

static void
wait_subscribers(int64_t position)
{
    for (size_t i = 0; i < N_CONTROLS; i++)
        cr_assert_eq(harness_wait_position(h, daemons[i], position, ITEST_WAIT_MS), 0,
                     "%s did not reach %lld", daemons[i], (long long)position);
}

/* The CPU time (user + system) a process used so far, ms; -1 when unknown. */
static int64_t
cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long utime = 0, stime = 0;
    /* pid (comm) state, ten fields, then utime and stime (comm holds no
     * space here) */
    int n =
        fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    fclose(f);
    return n == 2 ? (int64_t)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK) : -1;
}

/* Polls every subscriber's Status POLLS times with a POLL_TIMEOUT_MS
 * deadline and asserts that each poll was answered, and that no subscriber
 * spun meanwhile (a loop that never sleeps would answer too, on a core of
 * its own). */
static void
assert_every_poll_answered(const char *while_what)
{
    int answered[N_CONTROLS] = {0};
    int64_t slowest_ms = 0, cpu0[N_CONTROLS], start = proc_mono_ms();
    for (size_t i = 0; i < N_CONTROLS; i++)
        cpu0[i] = cpu_ms(harness_daemon_pid(h, daemons[i]));
    for (int round = 0; round < POLLS; round++) {
        for (size_t i = 0; i < N_CONTROLS; i++) {
            harness_reply_t r;
            int64_t t0 = proc_mono_ms();
            if (harness_status(h, controls[i], POLL_TIMEOUT_MS, &r) == 0)
                answered[i]++;
            int64_t took = proc_mono_ms() - t0;
            slowest_ms = took > slowest_ms ? took : slowest_ms;
            harness_reply_fini(&r);
        }
        harness_sleep_ms(POLL_GAP_MS);
    }
    int64_t elapsed = proc_mono_ms() - start;
    fprintf(stderr, "relay %s: answered projector %d, audit %d, alert %d of %d; slowest %lld ms\n",
            while_what, answered[0], answered[1], answered[2], POLLS, (long long)slowest_ms);
    for (size_t i = 0; i < N_CONTROLS; i++) {
        cr_assert_eq(answered[i], POLLS,
                     "%s answered %d of %d polls within %d ms while the relay %s", controls[i],
                     answered[i], POLLS, POLL_TIMEOUT_MS, while_what);
        int64_t used = cpu_ms(harness_daemon_pid(h, daemons[i])) - cpu0[i];
        fprintf(stderr, "  %s: %lld ms of CPU in %lld ms\n", daemons[i], (long long)used,
                (long long)elapsed);
        cr_assert_lt(used, elapsed / 4, "%s used %lld ms of CPU in %lld ms while the relay %s",
                     daemons[i], (long long)used, (long long)elapsed, while_what);
    }
}

/* Starting subscribers while the relay hangs: each verifies its model
 * against the store first, through a catch-up request that gets no answer. */
Test(relay_down, subscribers_answer_while_the_relay_is_stopped)
{
    h = harness_start(&(harness_opts_t){.daemons = subscribers});
    cr_assert(h);
    wait_subscribers(write_history("a"));
    cr_assert_eq(harness_daemon_sigstop(h, "relay"), 0);
    for (size_t i = 0; i < N_CONTROLS; i++)
        cr_assert_eq(harness_daemon_restart(h, daemons[i]), 0, "%s", daemons[i]);
    assert_every_poll_answered("is stopped");
    cr_assert_eq(harness_daemon_sigcont(h, "relay"), 0);
    wait_subscribers(write_history("b"));
    cr_assert_eq(harness_destroy(&h), 0);
}

/* A dead relay: the subscribers see their event socket disconnect and
 * check their models through catch-up requests that get no answer; the
 * projector also runs a rebuild that cannot read anything. */
Test(relay_down, subscribers_answer_while_the_relay_is_dead)
{
    h = harness_start(&(harness_opts_t){.daemons = subscribers});
    cr_assert(h);
    wait_subscribers(write_history("a"));
    cr_assert_eq(harness_daemon_kill(h, "relay"), 0);
    harness_reply_t r;
    itest_request(h, "projector", &r, "Rebuild", "");
    itest_assert_ok(&r, "Rebuild");
    harness_reply_fini(&r);
    assert_every_poll_answered("is dead");
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    wait_subscribers(write_history("b"));
    int64_t deadline = proc_mono_ms() + ITEST_WAIT_MS;
    while (harness_status_int(h, "projector", "rebuilds", ITEST_TIMEOUT_MS) < 1) {
        cr_assert_lt(proc_mono_ms(), deadline, "the rebuild never finished");
        harness_sleep_ms(20);
    }
    cr_assert_eq(harness_destroy(&h), 0);
}
