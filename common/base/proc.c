/* proc: see proc.h. */
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_flag = 1;
    else
        stop_flag = 1;
}

void
proc_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
proc_stopping(void)
{
    return stop_flag != 0;
}

void
proc_request_stop(void)
{
    stop_flag = 1;
}

bool
proc_take_reload(void)
{
    if (!reload_flag)
        return false;
    reload_flag = 0;
    return true;
}

int64_t
proc_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t
proc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
proc_mono_ms(void)
{
    return proc_mono_us() / 1000;
}

/* xorshift64*, seeded once per thread from getrandom: ids need to be
 * unique, not secret, and a syscall per event showed up in profiles. */
static uint64_t
proc_next_random(void)
{
    static __thread uint64_t state;
    if (state == 0) {
        if (getrandom(&state, sizeof state, 0) != sizeof state || state == 0)
            state = (uint64_t)proc_now_us() ^ 0x9E3779B97F4A7C15ull;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

void
proc_random_hex(char *out, size_t n_bytes)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t r = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        if (i % 8 == 0)
            r = proc_next_random();
        unsigned char b = (unsigned char)(r >> (8 * (i % 8)));
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[2 * n_bytes] = '\0';
}

void
proc_ordered_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t t = (uint64_t)proc_now_us();
    for (int i = 13; i >= 0; i--, t >>= 4)
        out[i] = hex[t & 15];
    out[14] = '-';
    proc_random_hex(out + 15, 8);
}

int
proc_worker_start(proc_worker_t *w, void *(*fn)(void *), void *arg)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    w->stop = false;
    int rc = pthread_create(&w->thread, NULL, fn, arg);
    if (rc != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
    }
    return rc;
}

void
proc_worker_stop(proc_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
}
