/* dqclient: a blocking dqlite client over TCP (see dqclient.h).  Sockets
 * are non-blocking; every write and read waits in poll() for what is left
 * of the request's deadline.  A response is read whole (header, then a
 * body of at most DQPROTO_MAX_BODY bytes) into a buffer that grows to the
 * largest response seen. */
#include "dqclient.h"
#include "proc.h"
#include "security.h"
#include "strcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct dqclient {
    char seeds[DQCLIENT_SEEDS_MAX][DQCLIENT_ADDR_MAX];
    size_t nseeds;
    int timeout_ms;                 /* per request */
    int fd;                         /* to the leader, or -1 */
    char leader[DQCLIENT_ADDR_MAX]; /* "" when not connected */
    char dbname[DQCLIENT_ADDR_MAX]; /* "" until dqclient_open */
    uint32_t db;                    /* the open database's id */
    dqbuf_t out;                    /* the request being sent */
    uint8_t *in;                    /* the last response's body */
    size_t in_cap;                  /* bytes allocated at in */
    dqheader_t h;                   /* the last response's header */
    int64_t deadline;               /* of the current request, ms (CLOCK_MONOTONIC) */
    uint64_t fcode;                 /* the last FAILURE's code */
    char err[256];                  /* what failed last */
    int pages;                      /* ROWS messages of the last query */
    dqclient_dial_fn dial;          /* how nodes are reached, NULL: plain TCP */
    void *dial_arg;                 /* its argument */
};

static int64_t
now_ms(void)
{
    return proc_mono_ms();
}

/* Copies src into dst[cap] when it fits whole: 1, else 0. */
static int
copy_fits(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap)
        return 0;
    strcopy(dst, cap, src);
    return 1;
}

static int
fail(dqclient_t *c, int rc, const char *what)
{
    snprintf(c->err, sizeof c->err, "%s: %s", what, dq_strerror(rc));
    return rc;
}

static void
disconnect(dqclient_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->leader[0] = '\0';
}

dqclient_t *
dqclient_new(const char *const *seeds, size_t n, int timeout_ms)
{
    if (n == 0 || n > DQCLIENT_SEEDS_MAX || timeout_ms <= 0)
        return NULL;
    dqclient_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!copy_fits(c->seeds[i], sizeof c->seeds[i], seeds[i])) {
            free(c);
            return NULL;
        }
    c->nseeds = n;
    c->timeout_ms = timeout_ms;
    c->fd = -1;
    dqbuf_init(&c->out);
    return c;
}

void
dqclient_set_timeout(dqclient_t *c, int timeout_ms)
{
    if (timeout_ms > 0)
        c->timeout_ms = timeout_ms;
}

void
dqclient_destroy(dqclient_t **c)
{
    if (!c || !*c)
        return;
    disconnect(*c);
    dqbuf_fini(&(*c)->out);
    free((*c)->in);
    free(*c);
    *c = NULL;
}

void
dqclient_set_dialer(dqclient_t *c, dqclient_dial_fn fn, void *arg)
{
    c->dial = fn;
    c->dial_arg = arg;
}

int
dqclient_secure(dqclient_t *c, void *zctx, const char *server_key, tunnel_t **t, char *why,
                size_t cap)
{
    char key[KEY_Z85_LEN + 1];
    *t = NULL;
    if (!security_on())
        return 0;
    if (server_key)
        strcopy(key, sizeof key, server_key);
    else if (security_server_key("store", key, why, cap) != 0)
        return -1;
    *t = tunnel_new(zctx, &(tunnel_config_t){.server_key = key});
    if (!*t) {
        snprintf(why, cap, "cannot start the tunnel to the store nodes: %s", strerror(errno));
        return -1;
    }
    dqclient_set_dialer(c, tunnel_connect_func, *t);
    return 0;
}

const char *
dqclient_leader(const dqclient_t *c)
{
    return c->leader;
}

const char *
dqclient_errmsg(const dqclient_t *c)
{
    return c->err;
}

int
dqclient_pages(const dqclient_t *c)
{
    return c->pages;
}

uint64_t
dqclient_failure_code(const dqclient_t *c)
{
    return c->fcode;
}

/* ---- sockets ---- */

/* Waits for events on fd until the deadline: 1 ready, DQ_ETIMEOUT, DQ_EIO. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return DQ_ETIMEOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return DQ_EIO;
    }
}

/* HOST:PORT split at the last colon into host (bounded) and port. */
static int
split_address(const char *address, char *host, size_t cap, const char **port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || (size_t)(colon - address) >= cap || !colon[1])
        return DQ_EINVAL;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    *port = colon + 1;
    return DQ_OK;
}

/* A non-blocking socket connected to address before the deadline, or -1. */
static int
sock_connect(const char *address, int64_t deadline)
{
    char host[DQCLIENT_ADDR_MAX];
    const char *port;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (split_address(address, host, sizeof host, &port) != DQ_OK ||
        getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int ok = fd >= 0;
    if (ok && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends (in false) or receives (in true) exactly n bytes at p before the
 * deadline; DQ_OK, DQ_EIO (an error, or closed by the peer), or
 * wait_fd's time-out. */
static int
transfer_all(int fd, uint8_t *p, size_t n, bool in, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = in ? recv(fd, p, n, 0) : send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 ? errno != EAGAIN && errno != EINTR : in) {
            return DQ_EIO; /* an error, or closed by the peer */
        } else {
            int rc = wait_fd(fd, in ? POLLIN : POLLOUT, deadline);
            if (rc < 0)
                return rc;
        }
    }
    return DQ_OK;
}

/* ---- messages ---- */

/* Sends c->out; an I/O failure closes the connection. */
static int
send_out(dqclient_t *c)
{
    if (c->out.oom)
        return fail(c, DQ_ENOMEM, "encoding a request");
    if (c->fd < 0)
        return fail(c, DQ_EIO, "not connected");
    int rc = transfer_all(c->fd, c->out.data, c->out.len, false, c->deadline);
    if (rc != DQ_OK) {
        disconnect(c);
        return fail(c, rc, "sending a request");
    }
    return DQ_OK;
}

/* Reads one response into c->h and c->in. */
static int
read_msg(dqclient_t *c)
{
    uint8_t hdr[8];
    int rc = transfer_all(c->fd, hdr, 8, true, c->deadline);
    if (rc == DQ_OK)
        rc = dqproto_header(hdr, &c->h);
    size_t n = (size_t)c->h.words * 8;
    if (rc == DQ_OK && n > c->in_cap) {
        uint8_t *p = realloc(c->in, n);
        if (!p)
            rc = DQ_ENOMEM;
        else {
            c->in = p;
            c->in_cap = n;
        }
    }
    if (rc == DQ_OK)
        rc = transfer_all(c->fd, c->in, n, true, c->deadline);
    if (rc != DQ_OK) {
        disconnect(c);
        return fail(c, rc, "reading a response");
    }
    return DQ_OK;
}

/* Reads a response that must be of type want; a FAILURE keeps its code
 * and message. */
static int
expect(dqclient_t *c, uint8_t want)
{
    int rc = read_msg(c);
    if (rc != DQ_OK)
        return rc;
    size_t n = (size_t)c->h.words * 8;
    if (c->h.type == DQ_RES_FAILURE && want != DQ_RES_FAILURE) {
        const char *msg;
        if (dqproto_failure(c->in, n, &c->fcode, &msg) != DQ_OK)
            return fail(c, DQ_EMALFORMED, "a FAILURE response");
        snprintf(c->err, sizeof c->err, "server failure %llu: %s", (unsigned long long)c->fcode,
                 msg);
        return DQ_EFAILURE;
    }
    if (c->h.type != want) {
        disconnect(c); /* the stream is out of step */
        return fail(c, DQ_EUNEXPECTED, "a response");
    }
    return DQ_OK;
}

/* Starts a request: the deadline, an empty buffer. */
static dqbuf_t *
begin(dqclient_t *c)
{
    c->deadline = now_ms() + c->timeout_ms;
    dqbuf_reset(&c->out);
    return &c->out;
}

/* Sends the request encoded (rc from its encoder) and awaits type want. */
static int
roundtrip(dqclient_t *c, int rc, uint8_t want)
{
    if (rc != DQ_OK)
        return fail(c, rc, "encoding a request");
    rc = send_out(c);
    return rc == DQ_OK ? expect(c, want) : rc;
}

static int
decoded(dqclient_t *c, int rc)
{
    if (rc != DQ_OK) {
        disconnect(c);
        return fail(c, rc, "decoding a response");
    }
    return DQ_OK;
}

/* ---- finding the leader ---- */

/* Connects to address and sends the handshake. */
static int
connect_node(dqclient_t *c, const char *address)
{
    disconnect(c);
    if (!c->dial)
        c->fd = sock_connect(address, now_ms() + c->timeout_ms);
    else if (c->dial(c->dial_arg, address, &c->fd) != 0)
        c->fd = -1;
    else
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    if (c->fd < 0)
        return fail(c, DQ_EIO, "connecting");
    int rc = dqproto_handshake(begin(c));
    return rc == DQ_OK ? send_out(c) : rc;
}

/* Asks the connected node who leads: the address into leader ("" none). */
static int
ask_leader(dqclient_t *c, char *leader, size_t cap)
{
    int rc = roundtrip(c, dqproto_leader(begin(c)), DQ_RES_SERVER);
    uint64_t id;
    const char *address;
    if (rc == DQ_OK)
        rc = decoded(c, dqproto_server(c->in, (size_t)c->h.words * 8, &id, &address));
    if (rc == DQ_OK && !copy_fits(leader, cap, address))
        rc = fail(c, DQ_EMALFORMED, "the leader's address");
    return rc;
}

/* Through seed: connected to the leader (DQ_OK), or an error. */
static int
try_seed(dqclient_t *c, const char *seed)
{
    char leader[DQCLIENT_ADDR_MAX];
    int rc = connect_node(c, seed);
    if (rc == DQ_OK)
        rc = ask_leader(c, leader, sizeof leader);
    if (rc == DQ_OK && leader[0] == '\0')
        rc = fail(c, DQ_ENOLEADER, seed);
    if (rc == DQ_OK && strcmp(leader, seed) != 0) {
        char again[DQCLIENT_ADDR_MAX];
        rc = connect_node(c, leader);
        if (rc == DQ_OK)
            rc = ask_leader(c, again, sizeof again);
        if (rc == DQ_OK && strcmp(again, leader) != 0)
            rc = fail(c, DQ_ENOLEADER, leader); /* it no longer leads */
    }
    if (rc != DQ_OK) {
        disconnect(c);
        return rc;
    }
    strcopy(c->leader, sizeof c->leader, leader);
    return DQ_OK;
}

static int
open_db(dqclient_t *c)
{
    int rc = roundtrip(c, dqproto_open(begin(c), c->dbname, 0, "volatile"), DQ_RES_DB);
    return rc == DQ_OK ? decoded(c, dqproto_db(c->in, (size_t)c->h.words * 8, &c->db)) : rc;
}

int
dqclient_connect(dqclient_t *c, int wait_ms)
{
    return dqclient_connect_hint(c, NULL, wait_ms);
}

int
dqclient_connect_hint(dqclient_t *c, const char *hint, int wait_ms)
{
    int64_t until = now_ms() + wait_ms;
    do {
        if (hint && hint[0] && try_seed(c, hint) == DQ_OK)
            return c->dbname[0] ? open_db(c) : DQ_OK;
        for (size_t i = 0; i < c->nseeds; i++)
            if (try_seed(c, c->seeds[i]) == DQ_OK)
                return c->dbname[0] ? open_db(c) : DQ_OK;
        struct timespec pause = {.tv_nsec = 100 * 1000000};
        nanosleep(&pause, NULL);
    } while (now_ms() < until);
    return fail(c, DQ_ENOLEADER, "looking for the leader");
}

int
dqclient_ask_leader(dqclient_t *c, char *leader, size_t cap)
{
    if (c->fd < 0)
        return fail(c, DQ_EIO, "asking who leads: not connected");
    int rc = ask_leader(c, leader, cap);
    if (rc != DQ_OK)
        disconnect(c);
    return rc;
}

int
dqclient_connect_node(dqclient_t *c, const char *address)
{
    int rc = connect_node(c, address);
    if (rc != DQ_OK)
        disconnect(c);
    return rc;
}

/* dqclient_ask_leader of a node this client connects to for the question
 * alone. */
int
dqclient_probe(dqclient_t *c, const char *address, char *leader, size_t cap)
{
    int rc = dqclient_connect_node(c, address);
    if (rc == DQ_OK)
        rc = dqclient_ask_leader(c, leader, cap);
    disconnect(c);
    return rc;
}

/* ---- SQL ---- */

int
dqclient_open(dqclient_t *c, const char *name)
{
    if (!copy_fits(c->dbname, sizeof c->dbname, name)) {
        c->dbname[0] = '\0';
        return fail(c, DQ_EINVAL, "the database name");
    }
    return open_db(c);
}

static int
result(dqclient_t *c, int rc, int64_t *last_id, uint64_t *changes)
{
    int64_t l;
    uint64_t k;
    rc = roundtrip(c, rc, DQ_RES_RESULT);
    if (rc == DQ_OK)
        rc = decoded(c, dqproto_result(c->in, (size_t)c->h.words * 8, &l, &k));
    if (rc == DQ_OK && last_id)
        *last_id = l;
    if (rc == DQ_OK && changes)
        *changes = k;
    return rc;
}

int
dqclient_exec(dqclient_t *c, const char *sql, const dqvalue_t *params, size_t n, int64_t *last_id,
              uint64_t *changes)
{
    return result(c, dqproto_exec_sql(begin(c), c->db, sql, params, n), last_id, changes);
}

int
dqclient_exec_stmt(dqclient_t *c, uint32_t stmt, const dqvalue_t *params, size_t n,
                   int64_t *last_id, uint64_t *changes)
{
    return result(c, dqproto_exec(begin(c), c->db, stmt, params, n), last_id, changes);
}

/* The rows of one ROWS body to fn; 1 when another page follows. */
static int
rows_page(dqclient_t *c, dqclient_row_fn fn, void *arg)
{
    dqrows_t r;
    dqvalue_t row[DQPROTO_MAX_COLUMNS];
    int rc = dqproto_rows_begin(c->in, (size_t)c->h.words * 8, &r);
    while (rc == DQ_OK && (rc = dqproto_rows_next(&r, row)) == 1) {
        fn(arg, row, r.ncols);
        rc = DQ_OK;
    }
    if (rc < 0)
        return decoded(c, rc);
    return r.more;
}

/* The response of a query: pages of rows until the last. */
static int
rows(dqclient_t *c, int rc, dqclient_row_fn fn, void *arg)
{
    c->pages = 0;
    rc = roundtrip(c, rc, DQ_RES_ROWS);
    while (rc == DQ_OK && (c->pages++, rc = rows_page(c, fn, arg)) == 1)
        rc = expect(c, DQ_RES_ROWS);
    return rc;
}

int
dqclient_query(dqclient_t *c, const char *sql, const dqvalue_t *params, size_t n,
               dqclient_row_fn fn, void *arg)
{
    return rows(c, dqproto_query_sql(begin(c), c->db, sql, params, n), fn, arg);
}

int
dqclient_query_stmt(dqclient_t *c, uint32_t stmt, const dqvalue_t *params, size_t n,
                    dqclient_row_fn fn, void *arg)
{
    return rows(c, dqproto_query(begin(c), c->db, stmt, params, n), fn, arg);
}

int
dqclient_prepare(dqclient_t *c, const char *sql, uint32_t *stmt)
{
    uint32_t db;
    uint64_t params;
    int rc = roundtrip(c, dqproto_prepare(begin(c), c->db, sql), DQ_RES_STMT);
    return rc == DQ_OK ? decoded(c, dqproto_stmt(c->in, (size_t)c->h.words * 8, &db, stmt, &params))
                       : rc;
}

/* A request answered EMPTY. */
static int
empty(dqclient_t *c, int rc)
{
    rc = roundtrip(c, rc, DQ_RES_EMPTY);
    return rc == DQ_OK ? decoded(c, dqproto_empty(c->in, (size_t)c->h.words * 8)) : rc;
}

int
dqclient_finalize(dqclient_t *c, uint32_t stmt)
{
    return empty(c, dqproto_finalize(begin(c), c->db, stmt));
}

/* ---- the cluster ---- */

int
dqclient_cluster(dqclient_t *c, dqnode_t *out, size_t cap, size_t *count)
{
    dqserver_t s[DQCLIENT_SEEDS_MAX * 4];
    *count = 0;
    int rc = roundtrip(c, dqproto_cluster(begin(c)), DQ_RES_SERVERS);
    if (rc == DQ_OK)
        rc = decoded(
            c, dqproto_servers(c->in, (size_t)c->h.words * 8, s, sizeof s / sizeof s[0], count));
    if (rc == DQ_OK && *count > cap)
        rc = fail(c, DQ_ETOOBIG, "the cluster list");
    for (size_t i = 0; rc == DQ_OK && i < *count; i++) {
        out[i] = (dqnode_t){.id = s[i].id, .role = s[i].role};
        if (!copy_fits(out[i].address, sizeof out[i].address, s[i].address))
            rc = fail(c, DQ_ETOOBIG, "a node's address");
    }
    return rc;
}

int
dqclient_add(dqclient_t *c, uint64_t id, const char *address)
{
    return empty(c, dqproto_add(begin(c), id, address));
}

int
dqclient_assign(dqclient_t *c, uint64_t id, dq_role_t role)
{
    return empty(c, dqproto_assign(begin(c), id, role));
}

int
dqclient_remove(dqclient_t *c, uint64_t id)
{
    return empty(c, dqproto_remove(begin(c), id));
}

int
dqclient_transfer(dqclient_t *c, uint64_t id)
{
    return empty(c, dqproto_transfer(begin(c), id));
}

int
dqclient_join(dqclient_t *c, uint64_t id, const char *address)
{
    int rc = dqclient_add(c, id, address);
    return rc == DQ_OK ? dqclient_assign(c, id, DQ_VOTER) : rc;
}
