/* harness: runs the real daemons as processes for integration tests.
 *
 * harness_start makes a temporary folder, gives every socket of
 * common/base/topology.h an ipc://<tmp>/<name>.sock endpoint, and starts each
 * daemon from the build tree with fork/execv and the flags of
 * docs/conventions.md, its stdout and stderr going to <tmp>/<daemon>.log.
 * A daemon counts as started once its ROUTER answers Status.
 *
 * Synchronisation is by observation, never by sleeping: wait for a read
 * model's checkpoint to cover a position (harness_wait_position), or ask a
 * query with min_position/wait_ms.
 *
 * Daemon names: "command", "relay", "projector", "query", "audit", "alert".
 * Endpoint names: "command", "events", "catchup", "query", "audit", "alerts",
 * "projector", "alert-api", "nudge".
 *
 * One harness_t belongs to one thread.  Children get PR_SET_PDEATHSIG, so a
 * test process that dies takes its daemons with it. */
#ifndef INV_HARNESS_H
#define INV_HARNESS_H

#include "codec.h"
#include "msgtree.h"
#include "message.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct harness harness_t;

/* Bits of harness_opts_t.daemons. */
enum {
    HD_COMMAND = 1 << 0,
    HD_RELAY = 1 << 1,
    HD_PROJECTOR = 1 << 2,
    HD_QUERY = 1 << 3,
    HD_AUDIT = 1 << 4,
    HD_ALERT = 1 << 5,
    HD_ALL = (1 << 6) - 1
};

typedef struct {
    unsigned daemons;      /* HD_* bits to start; 0 = HD_ALL */
    const char *log_level; /* --log-level; NULL = "info" */
    const char *sync;      /* command-service --sync; NULL = its default */
    int ready_timeout_ms;  /* per daemon; 0 = 15000 */
    const char *parent;    /* where the temporary folder is made; NULL = /tmp */
} harness_opts_t;

/* Starts the daemons (NULL opts: all, defaults).  Returns NULL after printing
 * why to stderr (missing binary, a daemon that did not answer Status, ...);
 * whatever was started is stopped and cleaned up then. */
harness_t *harness_start(const harness_opts_t *opts);

/* SIGTERMs every running daemon (SIGCONT first), waits up to 10 s each
 * (then SIGKILL), and returns how many did not exit with status 0 after
 * SIGTERM, or died on their own earlier; each is named on stderr with the
 * tail of its log.  Daemons killed on purpose (harness_kill) do not count.
 * Removes the temporary folder unless INV_KEEP_TMP is set.  NULL-safe;
 * nulls *h. */
int harness_destroy(harness_t **h);

/* The temporary folder, and an endpoint's address ("ipc://...") by name;
 * NULL for an unknown name. */
const char *harness_dir(const harness_t *h);
const char *harness_endpoint(const harness_t *h, const char *name);
/* zmq_connect for a socket the test made itself, with the test process's
 * CURVE keys for endpoint (as bus_connect would apply them). */
int harness_connect(void *s, const char *endpoint);

/* Process control of one daemon by name.  Each returns 0 or -1 (unknown
 * name, not running, ...).  start waits until it answers Status; stop is
 * SIGTERM + wait and records a non-zero exit as a failure; kill is SIGKILL +
 * wait (not a failure); restart is stop + start. */
int harness_daemon_start(harness_t *h, const char *daemon);
int harness_daemon_stop(harness_t *h, const char *daemon);
int harness_daemon_kill(harness_t *h, const char *daemon);
int harness_daemon_sigstop(harness_t *h, const char *daemon);
int harness_daemon_sigcont(harness_t *h, const char *daemon);
int harness_daemon_restart(harness_t *h, const char *daemon);
/* Its pid, or -1 when it is not running. */
pid_t harness_daemon_pid(const harness_t *h, const char *daemon);
/* True when the process exists (kill(pid, 0)) and has not exited. */
bool harness_daemon_alive(harness_t *h, const char *daemon);

/* A reply body and its parse.  harness_reply_fini frees both. */
typedef struct {
    void *data; /* the raw body (malloc'ed) */
    size_t len;
    msgpack_unpacked u;
    bool parsed;                /* root is valid when true */
    const msgpack_object *root; /* the decoded body */
} harness_reply_t;

void harness_reply_fini(harness_reply_t *r);
/* Lookups on the reply map (NULL/-1/false when absent or mistyped). */
const msgpack_object *harness_reply_get(const harness_reply_t *r, const char *key);
bool harness_reply_ok(const harness_reply_t *r);
int harness_reply_int(const harness_reply_t *r, const char *key, int64_t *out);
/* Copies a string value into buf ("" when absent); returns 0 or -1. */
int harness_reply_str(const harness_reply_t *r, const char *key, char *buf, size_t cap);

/* Sends one body frame on a fresh DEALER connected to the named endpoint and
 * waits up to timeout_ms for the reply (its last frame is the body).  0, or
 * -1 on time-out or error (reply then holds nothing to free, but
 * harness_reply_fini is still safe). */
int harness_request(harness_t *h, const char *endpoint, const void *body, size_t len,
                    int timeout_ms, harness_reply_t *reply);
/* The same with n raw frames (n >= 1; frames may be empty). */
int harness_request_frames(harness_t *h, const char *endpoint, const void *const *frames,
                           const size_t *lens, int n, int timeout_ms, harness_reply_t *reply);
/* Sends {"type": type} and checks the reply is ok=true. */
int harness_status(harness_t *h, const char *endpoint, int timeout_ms, harness_reply_t *reply);
/* One integer of the endpoint's Status reply; -1 when it did not answer or
 * has no such key. */
int64_t harness_status_int(harness_t *h, const char *endpoint, const char *key, int timeout_ms);

/* Encodes cmd, sends it to "command" and decodes the reply.  0 or -1. */
int harness_command(harness_t *h, const command_t *cmd, int timeout_ms, command_reply_t *out);

/* Polls the daemon's checkpoint ("projector", "query", "audit" or "alert")
 * until it is >= position.  0 when reached, -1 on time-out (with the last
 * checkpoint seen on stderr). */
int harness_wait_position(harness_t *h, const char *daemon, int64_t position, int timeout_ms);
/* The checkpoint a daemon reports now (Status: "checkpoint", or "position"). */
int harness_checkpoint(harness_t *h, const char *daemon, int64_t *position);

/* Sleeps ms milliseconds, resuming after a signal: the poll interval of the
 * tests' bounded waits (their clock is proc_mono_ms, proc.h). */
void harness_sleep_ms(int ms);

/* Path of a daemon's binary (from the build tree). */
const char *harness_binary(const char *daemon);

#endif
