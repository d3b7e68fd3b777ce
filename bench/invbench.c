/* invbench: the load generator.  Prints one summary (human or --json). */
#include "bench.h"
#include "config.h"
#include "fields.h"
#include "proc.h"
#include "security.h"
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *mode, *mix, *prefix, *ack_log, *format;
    const char *command_ep, *query_ep, *projector_ep, *audit_ep, *alert_ep, *relay_ep;
    const char *keys_dir, *key_file;
    int64_t insecure;
    int64_t connections, window, duration_ms, count, rate, products, zipf_milli, setup, retry_ms,
        seed, initial_stock, restock, random_ids, stall_ms, failover_ms;
} settings_t;

/* "sell:70,view:15,stock:10,price:5,review:0" -> weights. */
static int
parse_mix(const char *text, int mix[5])
{
    static const char *const names[5] = {"sell", "view", "stock", "price", "review"};
    memset(mix, 0, 5 * sizeof mix[0]);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        int i = 0;
        if (!colon)
            return -1;
        *colon = '\0';
        while (i < 5 && strcmp(names[i], tok) != 0)
            i++;
        if (i == 5 || (mix[i] = atoi(colon + 1)) < 0)
            return -1;
    }
    return mix[0] + mix[1] + mix[2] + mix[3] + mix[4] > 0 ? 0 : -1;
}

static int
settings_load(settings_t *s, int argc, char **argv)
{
    *s = (settings_t){
        .mode = "commands",
        .mix = "sell:70,view:15,stock:10,price:5",
        .format = "human",
        .command_ep = EP_COMMAND,
        .query_ep = EP_QUERY,
        .projector_ep = EP_PROJECTOR,
        .audit_ep = "",
        .alert_ep = "",
        .relay_ep = EP_CATCHUP,
        .connections = 4,
        .window = 64,
        .products = 1000,
        .zipf_milli = 990,
        .setup = 1,
        .seed = 1,
        .initial_stock = 1000000000,
        .restock = 1000000000,
        .stall_ms = 10000,
        .failover_ms = 1000,
    };
    const config_option_t opts[] = {
        CONFIG_STR_OPT("--mode", NULL, &s->mode,
                       "commands | queries | wait (until every subscriber has the relay's head)"),
        CONFIG_INT_OPT("--connections", NULL, &s->connections, "DEALER connections"),
        CONFIG_INT_OPT("--window", NULL, &s->window, "outstanding requests per connection"),
        CONFIG_INT_OPT("--duration-ms", NULL, &s->duration_ms,
                       "load duration (default 10000 unless --count is given)"),
        CONFIG_INT_OPT("--count", NULL, &s->count, "total requests (0: use --duration-ms)"),
        CONFIG_INT_OPT("--rate", NULL, &s->rate, "open loop requests/s (0: closed loop)"),
        CONFIG_INT_OPT("--products", NULL, &s->products, "products to spread load over"),
        CONFIG_INT_OPT("--zipf-milli", NULL, &s->zipf_milli, "Zipf exponent x1000 (0: uniform)"),
        CONFIG_STR_OPT("--mix", NULL, &s->mix,
                       "command weights sell:N,view:N,stock:N,price:N,review:N"),
        CONFIG_STR_OPT("--prefix", NULL, &s->prefix, "id prefix (default: random)"),
        CONFIG_INT_OPT("--setup", NULL, &s->setup, "1: create supplier and products first"),
        CONFIG_INT_OPT("--initial-stock", NULL, &s->initial_stock, "stock of each created product"),
        CONFIG_INT_OPT("--restock", NULL, &s->restock, "new_stock of UpdateStock commands"),
        CONFIG_INT_OPT("--retry-ms", NULL, &s->retry_ms, "resend unanswered commands (0: never)"),
        CONFIG_INT_OPT("--failover-ms", NULL, &s->failover_ms,
                       "--command-ep a list: no reply this long with commands out moves to the "
                       "next command service (0: never; not_leader replies are always followed)"),
        CONFIG_INT_OPT("--stall-ms", NULL, &s->stall_ms,
                       "fail when nothing is answered this long with requests in flight"),
        CONFIG_STR_OPT(
            "--ack-log", NULL, &s->ack_log,
            "write one line per reply to this file: id, result, position, intended send time and "
            "latency (us)"),
        CONFIG_INT_OPT("--seed", NULL, &s->seed, "random seed"),
        CONFIG_INT_OPT("--random-ids", NULL, &s->random_ids,
                       "1: random command ids (default: ordered by time, like invctl's)"),
        CONFIG_STR_OPT("--format", NULL, &s->format, "human | json"),
        CONFIG_STR_OPT("--command-ep", "INV_COMMAND_EP", &s->command_ep,
                       "command endpoint, or a comma-separated list of them (a replicated "
                       "store: the leader is followed)"),
        CONFIG_STR_OPT("--query-ep", "INV_QUERY_EP", &s->query_ep, "query endpoint"),
        CONFIG_STR_OPT("--projector-ep", "INV_PROJECTOR_EP", &s->projector_ep,
                       "projector control endpoint (visibility lag; '' to skip)"),
        CONFIG_STR_OPT("--audit-ep", "INV_AUDIT_EP", &s->audit_ep,
                       "audit endpoint (catch-up check)"),
        CONFIG_STR_OPT("--alert-api-ep", "INV_ALERT_API_EP", &s->alert_ep,
                       "alert API endpoint (catch-up check)"),
        CONFIG_STR_OPT("--relay-ep", "INV_RELAY_EP", &s->relay_ep,
                       "relay catch-up endpoint (--mode wait)"),
        CONFIG_STR_OPT("--keys", "INV_KEYS_DIR", &s->keys_dir,
                       "keyring folder (default ~/.config/inventory/keys)"),
        CONFIG_STR_OPT("--key", "INV_KEY", &s->key_file, "key pair (default <keys>/operator.key)"),
        CONFIG_FLAG_OPT("--insecure", "INV_INSECURE", &s->insecure,
                        "plain sockets, for a system started --insecure"),
    };
    return config_parse("invbench", opts, sizeof opts / sizeof opts[0], argc, argv);
}

static void
print_human(const bench_opts_t *o, const bench_result_t *r)
{
    double secs = (double)r->elapsed_us / 1e6;
    printf("mode %s, %s, %d connections x window %d, %d products (zipf %.2f)\n",
           o->mode == BENCH_COMMANDS ? "commands" : "queries",
           o->rate > 0 ? "open loop" : "closed loop", o->connections, o->window, o->products,
           o->zipf_s);
    printf("sent %lld  acked %lld  rejected %lld  timeouts %lld  retries %lld  in %.2f s\n",
           (long long)r->sent, (long long)r->acked, (long long)r->rejected, (long long)r->timeouts,
           (long long)r->retries, secs);
    if (o->mode == BENCH_COMMANDS)
        printf("longest gap between acks %lld ms  (command endpoint moves %lld)\n",
               (long long)(r->max_ack_gap_us / 1000), (long long)r->failovers);
    printf("throughput        %10.0f acked/s  %8.0f rejected/s\n", (double)r->acked / secs,
           (double)r->rejected / secs);
    printf("ack latency us    p50 %lld  p99 %lld  p99.9 %lld  max %lld\n",
           (long long)histogram_quantile(&r->latency, 0.5),
           (long long)histogram_quantile(&r->latency, 0.99),
           (long long)histogram_quantile(&r->latency, 0.999), (long long)r->latency.max);
    if (r->visibility_samples)
        printf("visibility lag us p50 %lld  p99 %lld  p99.9 %lld  max %lld  (%lld acks)\n",
               (long long)histogram_quantile(&r->visibility, 0.5),
               (long long)histogram_quantile(&r->visibility, 0.99),
               (long long)histogram_quantile(&r->visibility, 0.999), (long long)r->visibility.max,
               (long long)r->visibility_samples);
    printf("subscribers caught up %s%lld ms after the load\n",
           r->catchup_ms < 0 ? "NOT within " : "",
           (long long)(r->catchup_ms < 0 ? 10000 : r->catchup_ms));
}

static void
print_json(const bench_opts_t *o, const bench_result_t *r)
{
    double secs = (double)r->elapsed_us / 1e6;
    printf("{\"mode\":\"%s\",\"open_loop\":%s,\"rate\":%.0f,\"sent\":%lld,\"acked\":%lld,"
           "\"rejected\":%lld,\"timeouts\":%lld,\"seconds\":%.3f,\"acked_per_s\":%.1f,"
           "\"p50_us\":%lld,\"p99_us\":%lld,\"p999_us\":%lld,\"max_us\":%lld,"
           "\"vis_p50_us\":%lld,\"vis_p99_us\":%lld,\"vis_max_us\":%lld,\"catchup_ms\":%lld,"
           "\"retries\":%lld,\"failovers\":%lld,\"max_ack_gap_ms\":%lld}\n",
           o->mode == BENCH_COMMANDS ? "commands" : "queries", o->rate > 0 ? "true" : "false",
           o->rate, (long long)r->sent, (long long)r->acked, (long long)r->rejected,
           (long long)r->timeouts, secs, (double)r->acked / secs,
           (long long)histogram_quantile(&r->latency, 0.5),
           (long long)histogram_quantile(&r->latency, 0.99),
           (long long)histogram_quantile(&r->latency, 0.999), (long long)r->latency.max,
           (long long)histogram_quantile(&r->visibility, 0.5),
           (long long)histogram_quantile(&r->visibility, 0.99), (long long)r->visibility.max,
           (long long)r->catchup_ms, (long long)r->retries, (long long)r->failovers,
           (long long)(r->max_ack_gap_us / 1000));
}

/* CURVE keys for every endpoint invbench may use (security.h). */
static int
secure(const settings_t *s)
{
    const security_peer_t peers[] = {
        {s->command_ep, "command"}, {s->query_ep, "query"}, {s->projector_ep, "projector"},
        {s->audit_ep, "audit"},     {s->alert_ep, "alert"}, {s->relay_ep, "relay"},
    };
    char why[512];
    if (s->insecure ||
        security_client_setup(s->keys_dir, s->key_file, NULL, peers,
                              sizeof peers / sizeof peers[0], why, sizeof why) == 0)
        return 0;
    fprintf(stderr, "invbench: %s (or --insecure)\n", why);
    return -1;
}

int
main(int argc, char **argv)
{
    settings_t s;
    int rc = settings_load(&s, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (secure(&s) != 0)
        return 2;
    if (s.duration_ms == 0 && s.count == 0)
        s.duration_ms = 10000;
    if (s.prefix && (strlen(s.prefix) < 1 || strlen(s.prefix) > 20)) {
        fprintf(stderr, "invbench: --prefix must be 1..20 bytes (ids are at most %d)\n", ID_MAX);
        return 2;
    }
    char prefix[32];
    if (!s.prefix) {
        snprintf(prefix, sizeof prefix, "b%lx", (unsigned long)(proc_now_us() % 0xffffffff));
        s.prefix = prefix;
    }
    bench_opts_t o = {
        .mode = strcmp(s.mode, "queries") == 0 ? BENCH_QUERIES
                : strcmp(s.mode, "wait") == 0  ? BENCH_WAIT
                                               : BENCH_COMMANDS,
        .command_ep = s.command_ep,
        .query_ep = s.query_ep,
        .projector_ep = s.projector_ep,
        .audit_ep = s.audit_ep,
        .alert_ep = s.alert_ep,
        .relay_ep = s.relay_ep,
        .connections = (int)s.connections,
        .window = (int)s.window,
        .duration_ms = s.duration_ms,
        .count = s.count,
        .rate = (double)s.rate,
        .products = (int)s.products,
        .zipf_s = (double)s.zipf_milli / 1000.0,
        .initial_stock = s.initial_stock,
        .restock = s.restock,
        .prefix = s.prefix,
        .setup = s.setup != 0,
        .retry_ms = s.retry_ms,
        .stall_ms = s.stall_ms,
        .failover_ms = s.failover_ms,
        .seed = (uint64_t)s.seed,
        .random_ids = s.random_ids != 0,
    };
    if (parse_mix(s.mix, o.mix) != 0 || o.connections < 1 || o.connections > 64 || o.window < 1 ||
        o.window > 100000 || o.products < 1 || o.stall_ms < 1 || o.failover_ms < 0 ||
        (o.duration_ms <= 0 && o.count <= 0)) {
        fprintf(stderr, "invbench: bad settings (see --help)\n");
        return 2;
    }
    if (s.ack_log && !(o.ack_log = fopen(s.ack_log, "w"))) {
        perror(s.ack_log);
        return 2;
    }
    proc_install_signals();
    bench_result_t *r = malloc(sizeof *r);
    rc = r ? bench_run(&o, r) : -1;
    if (rc == 0 && o.mode == BENCH_WAIT) {
        printf("{\"head\":%lld,\"caught_up_ms\":%lld}\n", (long long)r->max_position,
               (long long)r->catchup_ms);
    } else if (rc == 0) {
        if (strcmp(s.format, "json") == 0)
            print_json(&o, r);
        else
            print_human(&o, r);
    }
    free(r);
    if (o.ack_log)
        fclose(o.ack_log);
    return rc == 0 ? 0 : 1;
}
