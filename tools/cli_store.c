/* cli_store: see cli_store.h. */
#include "cli_store.h"
#include "cli_report.h"

#include "dqclient.h"
#include "jsonstr.h"
#include "storespec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_NODES_MAX (DQCLIENT_SEEDS_MAX * 4) /* nodes status lists */

static const char *const role_names[] = {
    [DQ_VOTER] = "voter", [DQ_STANDBY] = "standby", [DQ_SPARE] = "spare"};

static const char *
role_name(dq_role_t r)
{
    return (unsigned)r < sizeof role_names / sizeof role_names[0] ? role_names[r] : "unknown";
}

/* One request of the group: its words, parsed, and the client on the leader. */
typedef struct {
    const cli_opts_t *opts;
    dqclient_t *c;                   /* connected to the leader */
    char leader[DQCLIENT_ADDR_MAX];  /* its address (the client forgets it on a failure) */
    const char *const *args;         /* the words after the action */
    uint64_t id;                     /* args[0] as a node id, when the action takes one */
    dqnode_t nodes[STORE_NODES_MAX]; /* as CLUSTER listed them */
    size_t n;                        /* in nodes */
} store_req_t;

/* A failed request to the cluster: a refusal (FAILURE) exits 2, the rest 1. */
static int
store_fail(const store_req_t *r, int rc, const char *what)
{
    if (rc == DQ_EFAILURE)
        return cli_report(r->opts->json, 2, "store_refused",
                          "store %s: refused by the leader %s: %s", what, r->leader,
                          dqclient_errmsg(r->c));
    const char *code = rc == DQ_ETIMEOUT ? "timeout"
                       : rc == DQ_EIO    ? "connection_lost"
                                         : "bad_reply";
    return cli_report(r->opts->json, 1, code, "store %s: %s (leader %s, --timeout-ms %d)", what,
                      dqclient_errmsg(r->c), r->leader, r->opts->timeout_ms);
}

static const dqnode_t *
node_find(const store_req_t *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i].id == id)
            return &r->nodes[i];
    return NULL;
}

/* The cluster's list into r->nodes; 0 or an exit code. */
static int
list_nodes(store_req_t *r, const char *what)
{
    int rc = dqclient_cluster(r->c, r->nodes, STORE_NODES_MAX, &r->n);
    return rc == DQ_OK ? 0 : store_fail(r, rc, what);
}

/* 0 when r->id is a member, else the not_found report. */
static int
known_node(store_req_t *r, const char *what)
{
    int rc = list_nodes(r, what);
    if (rc != 0 || node_find(r, r->id))
        return rc;
    char ids[256] = "";
    for (size_t i = 0; i < r->n; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%llu", i ? " " : "",
                 (unsigned long long)r->nodes[i].id);
    return cli_report(r->opts->json, 2, "not_found",
                      "store %s: no node %llu in the cluster (its nodes: %s)", what,
                      (unsigned long long)r->id, ids);
}

/* "ok" output of a membership change. */
static int
changed(const store_req_t *r, const char *action, const char *text)
{
    if (!r->opts->json) {
        printf("%s\n", text);
        return 0;
    }
    printf("{\"ok\":true,\"action\":\"%s\",\"id\":%llu,\"leader\":", action,
           (unsigned long long)r->id);
    jsonstr_write(stdout, r->leader, strlen(r->leader));
    fputs(",\"message\":", stdout);
    jsonstr_write(stdout, text, strlen(text));
    fputs("}\n", stdout);
    return 0;
}

/* join: ADD then ASSIGN voter.  Again for a member at the same address is
 * the rest of the join (a join that failed between the two requests, or a
 * voter already: done); a member at another address is refused. */
static int
store_join(store_req_t *r)
{
    const char *address = r->args[1];
    storespec_t one;
    char err[256] = "one HOST:PORT", text[256];
    if (storespec_parse(address, true, &one, err, sizeof err) != 0 || one.nseeds != 1)
        return cli_report(r->opts->json, 1, "usage", "store join: ADDRESS: %s", err);
    int rc = list_nodes(r, "join");
    const dqnode_t *was = rc == 0 ? node_find(r, r->id) : NULL;
    if (rc != 0)
        return rc;
    if (was && strcmp(was->address, address) != 0)
        return cli_report(r->opts->json, 2, "exists",
                          "store join: node %llu is already a member at %s (%s); remove it first",
                          (unsigned long long)r->id, was->address, role_name(was->role));
    if (!was)
        rc = dqclient_join(r->c, r->id, address);
    else if (was->role != DQ_VOTER)
        rc = dqclient_assign(r->c, r->id, DQ_VOTER);
    if (rc != DQ_OK)
        return store_fail(r, rc, "join");
    snprintf(text, sizeof text, "node %llu (%s) %s a voter", (unsigned long long)r->id, address,
             was && was->role == DQ_VOTER ? "is already" : "joined as");
    return changed(r, "join", text);
}

static int
store_assign(store_req_t *r)
{
    size_t k = 0;
    while (k < sizeof role_names / sizeof role_names[0] && strcmp(role_names[k], r->args[1]) != 0)
        k++;
    if (k == sizeof role_names / sizeof role_names[0])
        return cli_report(r->opts->json, 1, "usage",
                          "store assign: ROLE is voter, standby or spare, not '%s'", r->args[1]);
    int rc = known_node(r, "assign");
    if (rc != 0)
        return rc;
    if ((rc = dqclient_assign(r->c, r->id, (dq_role_t)k)) != DQ_OK)
        return store_fail(r, rc, "assign");
    char text[128];
    snprintf(text, sizeof text, "node %llu is now a %s", (unsigned long long)r->id, role_names[k]);
    return changed(r, "assign", text);
}

static int
store_remove(store_req_t *r)
{
    int rc = known_node(r, "remove");
    if (rc != 0)
        return rc;
    if (strcmp(node_find(r, r->id)->address, r->leader) == 0) /* it would lose its answer */
        return cli_report(r->opts->json, 2, "store_refused",
                          "store remove: node %llu leads; hand the leadership over first "
                          "(invctl store transfer ID)",
                          (unsigned long long)r->id);
    if ((rc = dqclient_remove(r->c, r->id)) != DQ_OK)
        return store_fail(r, rc, "remove");
    char text[128];
    snprintf(text, sizeof text, "node %llu removed from the cluster", (unsigned long long)r->id);
    return changed(r, "remove", text);
}

/* A transfer to the node that leads is done already (dqlite would refuse it). */
static int
store_transfer(store_req_t *r)
{
    int rc = known_node(r, "transfer");
    if (rc != 0)
        return rc;
    const dqnode_t *to = node_find(r, r->id);
    char text[160];
    bool leads = strcmp(to->address, r->leader) == 0;
    if (!leads && (rc = dqclient_transfer(r->c, r->id)) != DQ_OK)
        return store_fail(r, rc, "transfer");
    snprintf(text, sizeof text, "%s node %llu (%s)",
             leads ? "the leadership is already with" : "leadership transferred to",
             (unsigned long long)r->id, to->address);
    return changed(r, "transfer", text);
}

static void
status_json(const store_req_t *r, const dqnode_t *lead, const bool *answers)
{
    printf("{\"ok\":true,\"leader\":{\"id\":%llu,\"address\":",
           (unsigned long long)(lead ? lead->id : 0));
    jsonstr_write(stdout, r->leader, strlen(r->leader));
    fputs("},\"nodes\":[", stdout);
    for (size_t i = 0; i < r->n; i++) {
        printf("%s{\"id\":%llu,\"address\":", i ? "," : "", (unsigned long long)r->nodes[i].id);
        jsonstr_write(stdout, r->nodes[i].address, strlen(r->nodes[i].address));
        printf(",\"role\":\"%s\",\"leader\":%s,\"answers\":%s}", role_name(r->nodes[i].role),
               &r->nodes[i] == lead ? "true" : "false", answers[i] ? "true" : "false");
    }
    fputs("]}\n", stdout);
}

static void
status_text(const store_req_t *r, const dqnode_t *lead, const bool *answers)
{
    printf("leader: node %llu at %s\n", (unsigned long long)(lead ? lead->id : 0), r->leader);
    printf("%-6s %-24s %-8s %s\n", "ID", "ADDRESS", "ROLE", "ANSWERS");
    for (size_t i = 0; i < r->n; i++)
        printf("%-6llu %-24s %-8s %s%s\n", (unsigned long long)r->nodes[i].id, r->nodes[i].address,
               role_name(r->nodes[i].role), answers[i] ? "yes" : "no",
               &r->nodes[i] == lead ? "  (leader)" : "");
}

/* status: the list from the leader, then each node asked who leads (the
 * probes leave the client disconnected). */
static int
store_status(store_req_t *r)
{
    char seen[DQCLIENT_ADDR_MAX];
    bool answers[STORE_NODES_MAX], all = true;
    const dqnode_t *lead = NULL;
    int rc = list_nodes(r, "status");
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < r->n; i++) {
        answers[i] = dqclient_probe(r->c, r->nodes[i].address, seen, sizeof seen) == DQ_OK;
        all &= answers[i];
        if (strcmp(r->nodes[i].address, r->leader) == 0)
            lead = &r->nodes[i];
    }
    (r->opts->json ? status_json : status_text)(r, lead, answers);
    return all ? 0 : 1;
}

static const struct {
    const char *name;
    int nargs; /* words after the action */
    const char *usage;
    int (*run)(store_req_t *r);
} actions[] = {
    {"status", 0, "store status", store_status},
    {"join", 2, "store join ID ADDRESS", store_join},
    {"assign", 2, "store assign ID voter|standby|spare", store_assign},
    {"remove", 1, "store remove ID", store_remove},
    {"transfer", 1, "store transfer ID", store_transfer},
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

/* The cluster named by --store, else INV_STORE; 0 or an exit code. */
static int
cluster_of(const cli_opts_t *opts, const arg_val_t *flag, storespec_t *spec, const char **text)
{
    const char *env = getenv("INV_STORE");
    char err[256];
    *text = flag->set ? flag->str : env;
    if (!*text || !**text)
        return cli_report(opts->json, 1, "usage",
                          "store: which cluster? --store HOST:PORT,... or "
                          "INV_STORE=dqlite:HOST:PORT,...");
    if (storespec_parse(*text, flag->set, spec, err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "store: %s %s: %s",
                          flag->set ? "--store" : "INV_STORE", *text, err);
    if (spec->kind != STORESPEC_DQLITE)
        return cli_report(opts->json, 1, "usage",
                          "store: INV_STORE=%s names no dqlite cluster (dqlite:HOST:PORT,...)",
                          *text);
    return 0;
}

/* The action's words: the name known, the count right, the id a number. */
static int
action_of(const cli_opts_t *opts, const char **pos, int n_pos, uint64_t *id)
{
    size_t a = 0;
    while (n_pos > 0 && a < N_ACTIONS && strcmp(actions[a].name, pos[0]) != 0)
        a++;
    if (n_pos == 0 || a == N_ACTIONS)
        return -cli_report(opts->json, 1, "usage",
                           "store: expected status, join, assign, remove or transfer (see invctl "
                           "help store)");
    int64_t v = 0;
    if (n_pos - 1 != actions[a].nargs)
        return -cli_report(opts->json, 1, "usage", "usage: invctl %s [--store HOST:PORT,...]",
                           actions[a].usage);
    if (actions[a].nargs > 0 && (cli_parse_int(pos[1], &v) != 0 || v < 1))
        return -cli_report(opts->json, 1, "usage", "store %s: ID is a node id >= 1, not '%s'",
                           actions[a].name, pos[1]);
    *id = (uint64_t)v;
    return (int)a;
}

int
cli_store_run(void *zctx, const cli_opts_t *opts)
{
    static const arg_spec_t specs[] = {{.flag = "--store", .kind = ARG_STR}};
    arg_val_t store;
    const char *pos[CLI_MAX_POSITIONAL], *text;
    int n_pos;
    char err[256];
    storespec_t spec;
    if (cli_args_parse("store", specs, 1, opts->argc - 1, opts->argv + 1, &store, pos, 3, &n_pos,
                       err, sizeof err) != 0)
        return cli_report(opts->json, 1, "usage", "%s", err);
    store_req_t r = {.opts = opts, .args = pos + 1};
    int a = action_of(opts, pos, n_pos, &r.id);
    if (a < 0)
        return -a;
    int rc = cluster_of(opts, &store, &spec, &text);
    if (rc != 0)
        return rc;
    r.c = dqclient_new(spec.seedv, spec.nseeds, opts->timeout_ms);
    if (!r.c)
        return cli_report(opts->json, 1, "connection", "store: no memory");
    tunnel_t *tunnel = NULL;
    if (dqclient_secure(r.c, zctx, opts->server_key, &tunnel, err, sizeof err) != 0) {
        dqclient_destroy(&r.c);
        return cli_report(opts->json, 1, "connection", "store: %s", err);
    }
    rc = dqclient_connect(r.c, opts->timeout_ms);
    if (rc != DQ_OK)
        rc = cli_report(opts->json, 1, "unreachable",
                        "store: no leader reachable through %s within %d ms (last: %s)", text,
                        opts->timeout_ms, dqclient_errmsg(r.c));
    else {
        snprintf(r.leader, sizeof r.leader, "%s", dqclient_leader(r.c));
        rc = actions[a].run(&r);
    }
    dqclient_destroy(&r.c);
    tunnel_destroy(&tunnel);
    return rc;
}
