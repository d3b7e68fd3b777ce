/* harness: see harness.h.
 *
 * Design notes:
 *  - Every request uses a fresh DEALER, closed afterwards: a reply that
 *    arrives after a time-out can never be mistaken for the next one.
 *  - Children are started with fork + execv only (nothing but async-signal-
 *    safe calls between them), from argv arrays built before the fork.
 *  - Every wait is a bounded loop that observes something (a Status reply, a
 *    checkpoint, waitpid); the short sleeps inside are poll intervals. */
#include "harness.h"

#include "security.h"

#include "bus.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef INV_BIN_COMMAND_SERVICE
#error "integration.cmake defines INV_BIN_* with the daemons' paths"
#endif

#define STOP_TIMEOUT_MS 10000
#define POLL_MS 20
#define STATUS_TIMEOUT_MS 300

/* ---- the system's shape -------------------------------------------------- */

static const char *const endpoint_names[] = {"command", "events",    "catchup",   "query", "audit",
                                             "alerts",  "projector", "alert-api", "nudge"};
/* The daemon whose key pair serves each endpoint (keyring.h). */
static const char *const endpoint_servers[] = {"command", "relay",     "relay", "query", "audit",
                                               "alert",   "projector", "alert", "relay"};
#define N_ENDPOINTS (sizeof endpoint_names / sizeof endpoint_names[0])

/* Arguments: "@name" is the endpoint `name`, "%file" is <tmp>/file, anything
 * else is literal.  Flags as docs/conventions.md lists them. */
typedef struct {
    const char *name;      /* "command" */
    unsigned bit;          /* HD_COMMAND */
    const char *binary;    /* from the build tree */
    const char *status_ep; /* the ROUTER that answers Status */
    const char *args[14];  /* NULL-terminated */
} daemon_def_t;

static const daemon_def_t defs[] = {
    {"command",
     HD_COMMAND,
     INV_BIN_COMMAND_SERVICE,
     "command",
     {"--db", "%events.db", "--bind", "@command", "--nudge", "@nudge", NULL}},
    {"relay",
     HD_RELAY,
     INV_BIN_OUTBOX_RELAY,
     "catchup",
     {"--db", "%events.db", "--pub", "@events", "--catchup", "@catchup", "--nudge", "@nudge",
      NULL}},
    {"projector",
     HD_PROJECTOR,
     INV_BIN_PROJECTOR_SERVICE,
     "projector",
     {"--db", "%read.db", "--events", "@events", "--catchup", "@catchup", "--bind", "@projector",
      NULL}},
    {"query",
     HD_QUERY,
     INV_BIN_QUERY_SERVICE,
     "query",
     {"--db", "%read.db", "--bind", "@query", NULL}},
    {"audit",
     HD_AUDIT,
     INV_BIN_AUDIT_SERVICE,
     "audit",
     {"--db", "%audit.db", "--events", "@events", "--catchup", "@catchup", "--bind", "@audit",
      NULL}},
    {"alert",
     HD_ALERT,
     INV_BIN_ALERT_SERVICE,
     "alert-api",
     {"--db", "%alerts.db", "--events", "@events", "--catchup", "@catchup", "--pub", "@alerts",
      "--bind", "@alert-api", NULL}},
};
#define N_DAEMONS (sizeof defs / sizeof defs[0])

typedef struct {
    pid_t pid;      /* -1 when not running */
    bool term_sent; /* we sent SIGTERM: exit 0 expected */
    bool kill_sent; /* we sent SIGKILL: any end is fine */
} daemon_state_t;

struct harness {
    char dir[128];
    char endpoints[N_ENDPOINTS][192];
    harness_opts_t opts;
    void *zctx;
    daemon_state_t d[N_DAEMONS];
    int failures; /* daemons that did not end well so far */
};

/* ---- small helpers ------------------------------------------------------- */

void
harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
daemon_index(const char *name)
{
    for (size_t i = 0; i < N_DAEMONS; i++)
        if (strcmp(defs[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *
harness_binary(const char *daemon)
{
    if (strcmp(daemon, "invctl") == 0)
        return INV_BIN_INVCTL;
    if (strcmp(daemon, "invbench") == 0)
        return INV_BIN_INVBENCH;
    int i = daemon_index(daemon);
    return i < 0 ? NULL : defs[i].binary;
}

const char *
harness_dir(const harness_t *h)
{
    return h->dir;
}

const char *
harness_endpoint(const harness_t *h, const char *name)
{
    for (size_t i = 0; i < N_ENDPOINTS; i++)
        if (strcmp(endpoint_names[i], name) == 0)
            return h->endpoints[i];
    return NULL;
}

/* Prints the last ~3 KB of a daemon's log to stderr. */
static void
log_tail(const harness_t *h, int i)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.log", h->dir, defs[i].name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 3072 ? size - 3072 : 0;
    fseek(f, from, SEEK_SET);
    char buf[3073];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- tail of %s ----\n%s---- end of %s ----\n", path, buf, defs[i].name);
}

/* Records how daemon i ended (status from waitpid); counts a failure when
 * that end was not what we asked for. */
static void
note_exit(harness_t *h, int i, int status)
{
    daemon_state_t *d = &h->d[i];
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!d->kill_sent && !(d->term_sent && clean)) {
        h->failures++;
        if (WIFEXITED(status))
            fprintf(stderr, "harness: %s (pid %d) exited with status %d%s\n", defs[i].name,
                    (int)d->pid, WEXITSTATUS(status),
                    d->term_sent ? " after SIGTERM" : " on its own");
        else if (WIFSIGNALED(status))
            fprintf(stderr, "harness: %s (pid %d) died of signal %d%s\n", defs[i].name, (int)d->pid,
                    WTERMSIG(status), d->term_sent ? " after SIGTERM" : "");
        log_tail(h, i);
    }
    d->pid = -1;
    d->term_sent = d->kill_sent = false;
}

/* Non-blocking: true when daemon i is still running (reaps it otherwise). */
static bool
still_running(harness_t *h, int i)
{
    if (h->d[i].pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(h->d[i].pid, &status, WNOHANG);
    if (r == h->d[i].pid) {
        note_exit(h, i, status);
        return false;
    }
    return r == 0;
}

/* Waits up to timeout_ms for daemon i to exit; true when it did. */
static bool
wait_exit(harness_t *h, int i, int timeout_ms)
{
    int64_t deadline = proc_mono_ms() + timeout_ms;
    while (still_running(h, i)) {
        if (proc_mono_ms() >= deadline)
            return false;
        harness_sleep_ms(5);
    }
    return true;
}

/* ---- requests ------------------------------------------------------------ */

void
harness_reply_fini(harness_reply_t *r)
{
    if (!r)
        return;
    if (r->parsed)
        msgpack_unpacked_destroy(&r->u);
    free(r->data);
    memset(r, 0, sizeof *r);
}

const msgpack_object *
harness_reply_get(const harness_reply_t *r, const char *key)
{
    return r->parsed ? codec_map_get(r->root, key) : NULL;
}

bool
harness_reply_ok(const harness_reply_t *r)
{
    const msgpack_object *o = harness_reply_get(r, "ok");
    bool ok = false;
    return o && codec_get_bool(o, &ok) == 0 && ok;
}

int
harness_reply_int(const harness_reply_t *r, const char *key, int64_t *out)
{
    const msgpack_object *o = harness_reply_get(r, key);
    return o ? codec_get_int(o, out) : -1;
}

int
harness_reply_str(const harness_reply_t *r, const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    const msgpack_object *o = harness_reply_get(r, key);
    return o ? codec_copy_str(o, buf, cap) : -1;
}

/* Under the sanitizer build, LeakSanitizer's exit-time scan in a daemon
 * intermittently outlasted the 10 s SIGTERM budget on a loaded 2-core CI
 * machine (the log ended at the daemon's last line, no report).  Daemons
 * keep AddressSanitizer and UBSan; leaks are checked by the unit tests of
 * the same modules and by the test processes themselves. */
static void
harness_no_leak_check_in_children(void)
{
    const char *cur = getenv("ASAN_OPTIONS");
    if (!cur || strstr(cur, "detect_leaks=0"))
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "%s:detect_leaks=0", cur);
    setenv("ASAN_OPTIONS", buf, 1);
}

int
harness_request_frames(harness_t *h, const char *endpoint, const void *const *frames,
                       const size_t *lens, int n, int timeout_ms, harness_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    const char *ep = harness_endpoint(h, endpoint);
    if (!ep || n < 1)
        return -1;
    void *s = bus_connect(h->zctx, ZMQ_DEALER, ep);
    if (!s)
        return -1;
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    int rc = -1;
    for (int i = 0; i < n; i++)
        if (zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            goto out;
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    int64_t deadline = proc_mono_ms() + timeout_ms;
    int p;
    do {
        int left = (int)(deadline - proc_mono_ms());
        p = zmq_poll(&item, 1, left > 0 ? left : 0);
    } while (p < 0 && errno == EINTR);
    if (p <= 0)
        goto out;
    bus_msg_t m;
    if (bus_recv(s, &m, 0) != 0)
        goto out;
    size_t len;
    const void *body = bus_body(&m, &len);
    reply->data = malloc(len ? len : 1);
    if (reply->data) {
        memcpy(reply->data, body, len);
        reply->len = len;
        msgpack_unpacked_init(&reply->u);
        const char *why;
        if (codec_parse(reply->data, len, &reply->u, &why) == 0) {
            reply->parsed = true;
            reply->root = &reply->u.data;
        } else {
            msgpack_unpacked_destroy(&reply->u);
        }
        rc = 0;
    }
    bus_msg_close(&m);
out:
    bus_close(&s);
    return rc;
}

int
harness_request(harness_t *h, const char *endpoint, const void *body, size_t len, int timeout_ms,
                harness_reply_t *reply)
{
    const void *frames[1] = {body};
    size_t lens[1] = {len};
    return harness_request_frames(h, endpoint, frames, lens, 1, timeout_ms, reply);
}

int
harness_status(harness_t *h, const char *endpoint, int timeout_ms, harness_reply_t *reply)
{
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, 1);
    codec_pack_kv_str(&w.pk, "type", "Status");
    int rc = harness_request(h, endpoint, w.buf.data, w.buf.size, timeout_ms, reply);
    codec_writer_fini(&w);
    if (rc == 0 && !harness_reply_ok(reply))
        rc = -1;
    return rc;
}

int64_t
harness_status_int(harness_t *h, const char *endpoint, const char *key, int timeout_ms)
{
    harness_reply_t r;
    int64_t v = -1;
    if (harness_status(h, endpoint, timeout_ms, &r) == 0)
        harness_reply_int(&r, key, &v);
    harness_reply_fini(&r);
    return v;
}

int
harness_command(harness_t *h, const command_t *cmd, int timeout_ms, command_reply_t *out)
{
    codec_writer_t w;
    codec_writer_init(&w);
    codec_pack_command(&w, cmd);
    harness_reply_t r;
    int rc = harness_request(h, "command", w.buf.data, w.buf.size, timeout_ms, &r);
    if (rc == 0)
        rc = codec_decode_command_reply(r.data, r.len, out);
    harness_reply_fini(&r);
    codec_writer_fini(&w);
    return rc;
}

/* ---- positions ----------------------------------------------------------- */

static const char *
status_endpoint_of(const char *daemon)
{
    int i = daemon_index(daemon);
    return i < 0 ? NULL : defs[i].status_ep;
}

/* One Status round; for the query service it carries min_position/wait_ms
 * so the daemon itself waits. */
static int
checkpoint_once(harness_t *h, const char *daemon, int64_t want, int wait_ms, int64_t *pos)
{
    const char *ep = status_endpoint_of(daemon);
    if (!ep)
        return -1;
    bool query = strcmp(daemon, "query") == 0;
    codec_writer_t w;
    codec_writer_init(&w);
    msgpack_pack_map(&w.pk, query && want > 0 ? 3 : 1);
    codec_pack_kv_str(&w.pk, "type", "Status");
    if (query && want > 0) {
        codec_pack_kv_int(&w.pk, "min_position", want);
        codec_pack_kv_int(&w.pk, "wait_ms", wait_ms);
    }
    harness_reply_t r;
    int rc = harness_request(h, ep, w.buf.data, w.buf.size, wait_ms + 1000, &r);
    codec_writer_fini(&w);
    if (rc == 0 && (!harness_reply_ok(&r) || (harness_reply_int(&r, "checkpoint", pos) != 0 &&
                                              harness_reply_int(&r, "position", pos) != 0)))
        rc = -1;
    harness_reply_fini(&r);
    return rc;
}

int
harness_checkpoint(harness_t *h, const char *daemon, int64_t *position)
{
    return checkpoint_once(h, daemon, 0, STATUS_TIMEOUT_MS, position);
}

int
harness_wait_position(harness_t *h, const char *daemon, int64_t position, int timeout_ms)
{
    int64_t deadline = proc_mono_ms() + timeout_ms;
    int64_t seen = -1;
    for (;;) {
        int64_t left = deadline - proc_mono_ms();
        int wait = left > 1000 ? 1000 : (left > 0 ? (int)left : 0);
        int64_t pos;
        if (checkpoint_once(h, daemon, position, wait, &pos) == 0) {
            seen = pos;
            if (pos >= position)
                return 0;
        }
        if (proc_mono_ms() >= deadline)
            break;
        harness_sleep_ms(POLL_MS);
    }
    fprintf(stderr, "harness: %s did not reach position %lld in %d ms (last seen %lld)\n", daemon,
            (long long)position, timeout_ms, (long long)seen);
    return -1;
}

/* ---- processes ----------------------------------------------------------- */

/* Builds argv for daemon i into storage (strings) and argv (pointers). */
static void
build_argv(const harness_t *h, int i, char storage[][256], char **argv, int cap)
{
    int n = 0;
    argv[n++] = (char *)defs[i].binary;
    for (int k = 0; defs[i].args[k] && n < cap - 6; k++) {
        const char *a = defs[i].args[k];
        if (a[0] == '@')
            snprintf(storage[n], 256, "%s", harness_endpoint(h, a + 1));
        else if (a[0] == '%')
            snprintf(storage[n], 256, "%s/%s", h->dir, a + 1);
        else
            snprintf(storage[n], 256, "%s", a);
        argv[n] = storage[n];
        n++;
    }
    argv[n++] = "--log-level";
    argv[n++] = (char *)(h->opts.log_level ? h->opts.log_level : "info");
    if (defs[i].bit == HD_COMMAND && h->opts.sync) {
        argv[n++] = "--sync";
        argv[n++] = (char *)h->opts.sync;
    }
    argv[n] = NULL;
}

/* Forks and execs daemon i, output to <tmp>/<name>.log (appended, so a
 * restart keeps the earlier run). */
static int
spawn(harness_t *h, int i)
{
    if (access(defs[i].binary, X_OK) != 0) {
        fprintf(stderr, "harness: %s: binary %s is missing (target not built?)\n", defs[i].name,
                defs[i].binary);
        return -1;
    }
    char storage[24][256];
    char *argv[24];
    build_argv(h, i, storage, argv, 24);
    char log_path[256];
    snprintf(log_path, sizeof log_path, "%s/%s.log", h->dir, defs[i].name);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null_fd < 0) {
        perror("harness: open log");
        if (fd >= 0)
            close(fd);
        if (null_fd >= 0)
            close(null_fd);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(null_fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (chdir(h->dir) != 0)
            _exit(127);
        execv(defs[i].binary, argv);
        _exit(127);
    }
    close(fd);
    close(null_fd);
    if (pid < 0) {
        perror("harness: fork");
        return -1;
    }
    h->d[i].pid = pid;
    h->d[i].term_sent = h->d[i].kill_sent = false;
    return 0;
}

/* Polls Status until daemon i answers, it exits, or the time is up. */
static int
wait_ready(harness_t *h, int i)
{
    int timeout = h->opts.ready_timeout_ms > 0 ? h->opts.ready_timeout_ms : 15000;
    int64_t deadline = proc_mono_ms() + timeout;
    while (proc_mono_ms() < deadline) {
        if (!still_running(h, i)) {
            fprintf(stderr, "harness: %s exited during start-up\n", defs[i].name);
            return -1;
        }
        harness_reply_t r;
        int64_t t0 = proc_mono_ms();
        int rc = harness_status(h, defs[i].status_ep, STATUS_TIMEOUT_MS, &r);
        harness_reply_fini(&r);
        if (rc == 0)
            return 0;
        if (proc_mono_ms() - t0 < POLL_MS)
            harness_sleep_ms(POLL_MS);
    }
    fprintf(stderr, "harness: %s did not answer Status on %s within %d ms\n", defs[i].name,
            harness_endpoint(h, defs[i].status_ep), timeout);
    log_tail(h, i);
    return -1;
}

static int
start_index(harness_t *h, int i)
{
    if (h->d[i].pid > 0 && still_running(h, i))
        return -1;
    if (spawn(h, i) != 0)
        return -1;
    return wait_ready(h, i);
}

/* SIGCONT (in case it is stopped), then SIGTERM, then wait; SIGKILL after
 * STOP_TIMEOUT_MS.  0 when it exited with status 0.  Never SIGCONT after
 * SIGTERM: a SIGCONT discards a pending SIGSTOP, and LeakSanitizer's exit
 * check stops the exiting daemon with ptrace's SIGSTOP; a SIGCONT that came
 * late (this process preempted between the two kills) left it waiting for
 * that stop forever. */
static int
stop_index(harness_t *h, int i)
{
    if (!still_running(h, i))
        return -1;
    int before = h->failures;
    pid_t pid = h->d[i].pid;
    h->d[i].term_sent = true;
    kill(pid, SIGCONT);
    kill(pid, SIGTERM);
    if (!wait_exit(h, i, STOP_TIMEOUT_MS)) {
        fprintf(stderr, "harness: %s (pid %d) ignored SIGTERM for %d ms; killing it\n",
                defs[i].name, (int)pid, STOP_TIMEOUT_MS);
        h->failures++;
        log_tail(h, i);
        h->d[i].kill_sent = true;
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        h->d[i].pid = -1;
        h->d[i].term_sent = h->d[i].kill_sent = false;
    }
    return h->failures == before ? 0 : -1;
}

int
harness_daemon_start(harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    return i < 0 ? -1 : start_index(h, i);
}

int
harness_daemon_stop(harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    return i < 0 ? -1 : stop_index(h, i);
}

int
harness_daemon_kill(harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    if (i < 0 || !still_running(h, i))
        return -1;
    h->d[i].kill_sent = true;
    kill(h->d[i].pid, SIGKILL);
    int status;
    pid_t pid = h->d[i].pid;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    note_exit(h, i, status);
    return 0;
}

static int
signal_daemon(harness_t *h, const char *daemon, int sig)
{
    int i = daemon_index(daemon);
    if (i < 0 || !still_running(h, i))
        return -1;
    return kill(h->d[i].pid, sig);
}

int
harness_daemon_sigstop(harness_t *h, const char *daemon)
{
    return signal_daemon(h, daemon, SIGSTOP);
}

int
harness_daemon_sigcont(harness_t *h, const char *daemon)
{
    return signal_daemon(h, daemon, SIGCONT);
}

int
harness_daemon_restart(harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    if (i < 0)
        return -1;
    if (h->d[i].pid > 0)
        stop_index(h, i);
    return start_index(h, i);
}

pid_t
harness_daemon_pid(const harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    return i < 0 ? -1 : h->d[i].pid;
}

bool
harness_daemon_alive(harness_t *h, const char *daemon)
{
    int i = daemon_index(daemon);
    if (i < 0 || !still_running(h, i))
        return false;
    return kill(h->d[i].pid, 0) == 0;
}

/* ---- life cycle ---------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The system is secure by default (docs/protocol.md, section 13): a
 * keyring in <tmp>/keys, which the daemons find beside their databases and
 * invctl through INV_KEYS_DIR; the test process is a client with the
 * operator's key, and a stand-in it binds at a daemon's endpoint has that
 * daemon's key pair.  INV_INSECURE=1 in the environment runs plain (the daemons inherit it). */
static int
harness_secure(harness_t *h)
{
    const char *off = getenv("INV_INSECURE");
    if (off && strcmp(off, "0") != 0)
        return 0;
    char keys[sizeof h->dir + 8], key[sizeof keys + 16], why[512];
    snprintf(keys, sizeof keys, "%s/keys", h->dir);
    snprintf(key, sizeof key, "%s/operator.key", keys);
    if (keyring_init(keys, why, sizeof why) < 0 ||
        security_client(keys, key, why, sizeof why) != 0) {
        fprintf(stderr, "harness: %s\n", why);
        return -1;
    }
    for (size_t i = 0; i < N_ENDPOINTS; i++)
        if (security_expect_server(h->endpoints[i], endpoint_servers[i], NULL, why, sizeof why) !=
                0 ||
            security_bind_as(h->endpoints[i], endpoint_servers[i], why, sizeof why) != 0) {
            fprintf(stderr, "harness: %s\n", why);
            return -1;
        }
    setenv("INV_KEYS_DIR", keys, 1);
    return 0;
}

int
harness_connect(void *s, const char *endpoint)
{
    return security_apply_connect(s, endpoint) == 0 ? zmq_connect(s, endpoint) : -1;
}

harness_t *
harness_start(const harness_opts_t *opts)
{
    harness_no_leak_check_in_children();
    harness_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (opts)
        h->opts = *opts;
    if (h->opts.daemons == 0)
        h->opts.daemons = HD_ALL;
    for (size_t i = 0; i < N_DAEMONS; i++)
        h->d[i].pid = -1;
    snprintf(h->dir, sizeof h->dir, "%s/inv-it-XXXXXX", h->opts.parent ? h->opts.parent : "/tmp");
    if (!mkdtemp(h->dir)) {
        perror("harness: mkdtemp");
        free(h);
        return NULL;
    }
    char dir[sizeof h->dir]; /* a copy: GCC's -Wrestrict cannot tell the members apart */
    memcpy(dir, h->dir, sizeof dir);
    for (size_t i = 0; i < N_ENDPOINTS; i++)
        snprintf(h->endpoints[i], sizeof h->endpoints[i], "ipc://%s/%s.sock", dir,
                 endpoint_names[i]);
    h->zctx = zmq_ctx_new();
    if (!h->zctx || harness_secure(h) != 0) {
        harness_destroy(&h);
        return NULL;
    }
    for (size_t i = 0; i < N_DAEMONS; i++) {
        if (!(h->opts.daemons & defs[i].bit))
            continue;
        if (start_index(h, (int)i) != 0) {
            fprintf(stderr, "harness: could not start %s (folder %s)\n", defs[i].name, h->dir);
            harness_destroy(&h);
            return NULL;
        }
    }
    return h;
}

int
harness_destroy(harness_t **hp)
{
    if (!hp || !*hp)
        return 0;
    harness_t *h = *hp;
    for (int i = (int)N_DAEMONS - 1; i >= 0; i--) {
        if (h->d[i].pid > 0)
            stop_index(h, i);
    }
    int failures = h->failures;
    if (failures)
        fprintf(stderr, "harness: %d daemon(s) did not exit cleanly; logs in %s\n", failures,
                h->dir);
    if (h->zctx)
        zmq_ctx_term(h->zctx);
    security_stop();
    const char *keep = getenv("INV_KEEP_TMP");
    if (keep && *keep)
        fprintf(stderr, "harness: keeping %s (INV_KEEP_TMP)\n", h->dir);
    else
        nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(h);
    *hp = NULL;
    return failures;
}
