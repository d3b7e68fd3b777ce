/* storenodes: see storenodes.h.  Children are started with fork + exec
 * and nothing but async-signal-safe calls between them (the secure test's
 * process runs ZeroMQ threads): every string is made before the fork. */
#include "storenodes.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FLAGS_MAX = 16 };

/* A port the kernel says is free now (other test runs share the host). */
static int
free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void
log_path(const storenodes_t *self, int i, char *path, size_t cap)
{
    snprintf(path, cap, "%s/node%d.log", self->dir, i + 1);
}

void
storenodes_init(storenodes_t *self, const char *dir, const char *const *flags, bool log)
{
    *self = (storenodes_t){.dir = dir, .flags = flags, .log = log};
    for (int i = 0; i < STORENODES_N; i++) {
        snprintf(self->addrs[i], sizeof self->addrs[i], "127.0.0.1:%d", free_port());
        storenodes_start(self, i);
    }
}

void
storenodes_start(storenodes_t *self, int i)
{
    char id[16], sub[512], log[512];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(sub, sizeof sub, "%s/node%d", self->dir, i + 1);
    log_path(self, i, log, sizeof log);
    const char *argv[FLAGS_MAX + 8] = {"store-node", "--address", self->addrs[i], "--dir", sub};
    size_t n = 5;
    for (size_t k = 0; self->flags && self->flags[k]; k++) {
        cr_assert_lt(k, FLAGS_MAX, "more than %d flags", FLAGS_MAX);
        argv[n++] = self->flags[k];
    }
    /* --id last: someone's clean-up on this shared host runs `pkill -f
     * "store-node --id"` */
    argv[n++] = "--id";
    argv[n++] = id;
    argv[n] = NULL;
    pid_t p = fork();
    cr_assert_neq(p, -1);
    if (p == 0) {
        if (self->log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0)
                dup2(fd, 2);
        }
        execv(INV_BIN_STORE_NODE, (char *const *)argv);
        _exit(127);
    }
    self->pids[i] = p;
}

void
storenodes_stop(storenodes_t *self, int i, int sig)
{
    if (self->pids[i] > 0) {
        kill(self->pids[i], sig);
        waitpid(self->pids[i], NULL, 0);
        self->pids[i] = 0;
    }
}

void
storenodes_fini(storenodes_t *self)
{
    for (int i = 0; i < STORENODES_N; i++)
        storenodes_stop(self, i, SIGTERM);
}

int
storenodes_index(const storenodes_t *self, const char *address)
{
    for (int i = 0; i < STORENODES_N; i++)
        if (strcmp(self->addrs[i], address) == 0)
            return i;
    return -1;
}

dqclient_t *
storenodes_client(const storenodes_t *self, dqclient_dial_fn dial, void *arg)
{
    const char *seeds[STORENODES_N];
    for (int i = 0; i < STORENODES_N; i++)
        seeds[i] = self->addrs[i];
    dqclient_t *c = dqclient_new(seeds, STORENODES_N, 5000);
    cr_assert_not_null(c);
    dqclient_set_dialer(c, dial, arg);
    cr_assert_eq(dqclient_connect(c, 15000), DQ_OK, "connect: %s", dqclient_errmsg(c));
    return c;
}

bool
storenodes_log_has(const storenodes_t *self, int i, const char *s)
{
    char path[512], buf[65536];
    log_path(self, i, path, sizeof path);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}
