/* cli_help: see cli_help.h. */
#include "cli_help.h"

#include "cli.h"
#include "cli_commands.h"
#include "cli_queries.h"

#include <string.h>

#define MIN_WAIT                                                                                   \
    {"--min-position", "N", "answer only once the model has applied position N", NULL},            \
    {                                                                                              \
        "--wait-ms", "N", "how long the server may wait for --min-position (at most 5000)", NULL   \
    }
#define PAGE_OPTS                                                                                  \
    {"--limit", "N", "items per page (1..100, default 20)", NULL},                                 \
    {                                                                                              \
        "--cursor", "C", "the next_cursor of the previous page", NULL                              \
    }
#define ID_OPT(what)                                                                               \
    {                                                                                              \
        "--id", what, "the id (or give it as the bare word)", NULL                                 \
    }

static const cli_help_t rows[] = {
    /* ---- write side ---- */
    {"register-supplier",
     HELP_COMMAND,
     NULL,
     "register a supplier",
     {ID_OPT("S"), {"--name", "N", "the supplier's name", NULL}},
     NULL,
     NULL,
     "invctl register-supplier --id s1 --name 'Acme Tools'"},
    {"rename-supplier",
     HELP_COMMAND,
     NULL,
     "rename a supplier",
     {ID_OPT("S"), {"--name", "N", "the new name", NULL}},
     NULL,
     NULL,
     "invctl rename-supplier --id s1 --name 'Acme Ltd'"},
    {"create-product",
     HELP_COMMAND,
     NULL,
     "create a product of a registered supplier",
     {ID_OPT("P"),
      {"--sku", "K", "stock keeping unit", NULL},
      {"--name", "N", "the product's name", NULL},
      {"--description", "D", "free text", NULL},
      {"--supplier", "S", "the supplier's id", NULL},
      {"--price", "CENTS", "selling price in cents", NULL},
      {"--cost", "CENTS", "cost price in cents", NULL},
      {"--stock", "N", "units in stock", NULL},
      {"--threshold", "N", "low-stock alert threshold", NULL}},
     NULL,
     NULL,
     "invctl create-product --id p1 --sku HAM-1 --name Hammer --supplier s1 --price 1999 "
     "--cost 1200 --stock 40 --threshold 10"},
    {"change-price",
     HELP_COMMAND,
     NULL,
     "change a product's selling price",
     {ID_OPT("P"), {"--price", "CENTS", "the new price in cents", NULL}},
     NULL,
     NULL,
     "invctl change-price p1 --price 1499"},
    {"update-stock",
     HELP_COMMAND,
     NULL,
     "set a product's stock (a count, a delivery)",
     {ID_OPT("P"), {"--stock", "N", "the new stock", NULL}},
     NULL,
     NULL,
     "invctl update-stock p1 --stock 120"},
    {"sell",
     HELP_COMMAND,
     NULL,
     "sell units of a product (rejected beyond the stock)",
     {ID_OPT("P"),
      {"--qty", "N", "units sold", NULL},
      {"--order", "O", "the order id (default: random)", NULL}},
     NULL,
     NULL,
     "invctl --wait sell p1 --qty 2 --order o-17"},
    {"view",
     HELP_COMMAND,
     NULL,
     "record a product view",
     {ID_OPT("P")},
     NULL,
     NULL,
     "invctl view p1"},
    {"review",
     HELP_COMMAND,
     NULL,
     "submit a customer's review",
     {ID_OPT("P"),
      {"--review-id", "R", "the review's id", NULL},
      {"--customer", "C", "the customer's id", NULL},
      {"--rating", "1..5", "the rating", NULL},
      {"--comment", "T", "free text", NULL}},
     NULL,
     NULL,
     "invctl review p1 --review-id r1 --customer c9 --rating 4"},
    {"discontinue",
     HELP_COMMAND,
     NULL,
     "discontinue a product (no more sales)",
     {ID_OPT("P"), {"--reason", "T", "why, for the audit", NULL}},
     NULL,
     NULL,
     "invctl discontinue p1 --reason 'end of line'"},
    /* ---- read side ---- */
    {"product",
     HELP_QUERY,
     NULL,
     "a product's card, now or as of a position or time",
     {{"--as-of", "POSITION|ISO-TIME", "the product as it was then (asked of the relay)", NULL},
      MIN_WAIT},
     NULL,
     NULL,
     "invctl product p1 --as-of 2026-11-23T15:00:00Z"},
    {"products",
     HELP_QUERY,
     NULL,
     "list products",
     {{"--supplier", "S", "only this supplier's", NULL},
      {"--in-stock", NULL, "only those in stock", NULL},
      {"--all", NULL, "discontinued ones too", NULL},
      PAGE_OPTS,
      MIN_WAIT},
     NULL,
     NULL,
     "invctl products --supplier s1 --in-stock"},
    {"admin-product",
     HELP_QUERY,
     NULL,
     "a product with its costs and sales",
     {MIN_WAIT},
     NULL,
     NULL,
     "invctl admin-product p1"},
    {"suppliers",
     HELP_QUERY,
     NULL,
     "list suppliers",
     {PAGE_OPTS, MIN_WAIT},
     NULL,
     NULL,
     "invctl suppliers --limit 50"},
    {"search",
     HELP_QUERY,
     NULL,
     "full-text search of names and descriptions",
     {PAGE_OPTS, MIN_WAIT},
     NULL,
     NULL,
     "invctl search hammer"},
    {"top-rated",
     HELP_QUERY,
     NULL,
     "products by average rating",
     {PAGE_OPTS, MIN_WAIT},
     NULL,
     NULL,
     "invctl top-rated --limit 5"},
    {"low-stock",
     HELP_QUERY,
     NULL,
     "products at or below their threshold",
     {PAGE_OPTS, MIN_WAIT},
     NULL,
     NULL,
     "invctl low-stock"},
    {"dashboard",
     HELP_QUERY,
     NULL,
     "totals: products, stock value, revenue",
     {MIN_WAIT},
     NULL,
     NULL,
     "invctl dashboard"},
    {"price-history",
     HELP_QUERY,
     NULL,
     "a product's price changes",
     {PAGE_OPTS, MIN_WAIT},
     NULL,
     NULL,
     "invctl price-history p1"},
    {"history",
     HELP_QUERY,
     NULL,
     "a stream's events, from the event store (relay), a page at a time: says how many the "
     "stream has and the --cursor of the next page",
     {{"--stream", "STREAM", "the stream name (supplier-S, product-P)", NULL},
      {"--after-version", "N", "events after version N", NULL},
      {"--limit", "N", "events per page (1..1000, default 1000)", NULL},
      {"--cursor", "C", "the next page, as the previous page said", NULL},
      {"--backwards", NULL, "newest first", NULL}},
     NULL,
     "0 ok, 1 usage or connection error, 2 error reply or no such stream (not found)",
     "invctl history p1 --backwards --limit 10"},
    {"events",
     HELP_QUERY,
     NULL,
     "every stream's events from a position, from the event store (relay), a page at a time",
     {{"--after", "POSITION", "events after this position (default 0)", NULL},
      {"--limit", "N", "events per page (1..1000, default 1000)", NULL}},
     NULL,
     "0 ok, 1 usage or connection error, 2 error reply",
     "invctl events --after 120 --limit 50"},
    {"audit",
     HELP_QUERY,
     NULL,
     "the audit trail (one line per event), oldest first; --correlation-id C filters",
     {{"--stream", "S", "only this stream", NULL},
      {"--from", "ISO", "recorded at or after", NULL},
      {"--to", "ISO", "recorded before", NULL},
      {"--tail", "N", "the last N matching lines (1..1000), oldest first", NULL},
      PAGE_OPTS},
     NULL,
     NULL,
     "invctl audit --tail 20 --stream product-p1"},
    {"alerts",
     HELP_QUERY,
     NULL,
     "stock alerts raised so far",
     {{"--product", "P", "only this product's", NULL}, PAGE_OPTS},
     NULL,
     NULL,
     "invctl alerts --product p1"},
    /* ---- operations ---- */
    {"watch",
     HELP_OPERATION,
     "events [--from POSITION|beginning] [--stream S] [--type T] [--correlation C] "
     "[--exit-at-head] [--heartbeats] [--count N] [--for-ms N] | alerts [--count N] [--for-ms N]",
     "follow the event bus or the alerts, one line each; events: says on stderr when the relay "
     "has sent nothing for 3 s (heartbeats come twice a second) and keeps waiting",
     {{"--from", "POSITION|beginning",
       "start at this position (inclusive; beginning and 0 are 1): read the store through the "
       "relay, "
       "then follow live without gap or duplicate",
       "beginning"},
      {"--stream", "S", "only events of this stream", NULL},
      {"--type", "T", "only events of this type", NULL},
      {"--correlation", "C", "only events of this correlation id", NULL},
      {"--exit-at-head", NULL, "with --from: exit 0 at the head the relay reported at start", NULL},
      {"--heartbeats", NULL, "print the relay's heartbeats too (events only)", NULL},
      {"--count", "N", "stop after N lines", NULL},
      {"--for-ms", "N", "stop after N milliseconds", NULL}},
     "events alerts",
     "0 stopped (by --count, --for-ms, --exit-at-head or a signal), 1 usage or connection error, "
     "or the relay still silent when a live watch of events ended",
     "invctl watch events --from beginning --stream product-p1 --exit-at-head"},
    {"status",
     HELP_OPERATION,
     "[--daemon NAME]",
     "every daemon's health, positions and lag; in_outbox: events whose outbox row is not "
     "deleted yet (most already published), unpublished: not published yet; a model being "
     "rebuilt shows its progress (rebuilding 61%)",
     {{"--daemon", "NAME", "ask only this one (singular or plural: alert, alerts)",
       "command relay projector query audit alert"}},
     NULL,
     "0 every daemon answered, 1 usage error or a daemon did not answer",
     "invctl status --daemon projector"},
    {"rebuild",
     HELP_OPERATION,
     "projector|audit|alert [--wait]",
     "rebuild a read model from the event log (it keeps serving meanwhile); names singular or "
     "plural",
     {{"--wait", NULL,
       "until the new model is swapped in, with its progress on stderr (position, events/s, ETA)",
       NULL}},
     "projector audit alert",
     "0 rebuilt (started; with --wait: swapped in), 1 usage or connection error, 2 refused or "
     "stopped without a swap",
     "invctl rebuild projector --wait"},
    {"backup",
     HELP_OPERATION,
     "DB FILE",
     "online copy of events.db (or a model) into a new FILE",
     {{.flag = NULL}},
     "FILE",
     "0 copied and checked, 1 usage or I/O error (nothing left under FILE)",
     "invctl backup data/events.db /backups/events-monday.db"},
    {"verify",
     HELP_OPERATION,
     "DB [--from P]",
     "check events.db's hash chain offline (read-only)",
     {{"--from", "P", "start at position P (default 1)", NULL}},
     "FILE",
     "0 the chain is intact, 1 usage or I/O error, 2 the chain breaks",
     "invctl verify data/events.db"},
    {"reload-keys",
     HELP_OPERATION,
     "[DAEMON]",
     "every daemon (or one) re-reads its allow-list, as on SIGHUP (operators)",
     {{.flag = NULL}},
     "command relay projector query audit alert",
     "0 reloaded, 1 usage or connection error, 2 refused (the old list stays)",
     "invctl reload-keys"},
    {"keygen",
     HELP_OPERATION,
     "--role R [--name N] [--out FILE] | --init [DIR]",
     "a client key pair and its allow-list line; or create what is missing of a keyring",
     {{"--role", "R", "reader, writer, operator or daemon", "reader writer operator daemon"},
      {"--name", "N", "a name for the allow-list line", NULL},
      {"--out", "FILE", "write the key pair to a new FILE (0600) instead of stdout", NULL},
      {"--init", NULL, "create the keyring DIR (default: the one invctl uses)", NULL}},
     "DIR",
     "0, 1 usage or I/O error",
     "invctl keygen --role reader --name alice --out alice.key"},
    {"store",
     HELP_OPERATION,
     "status | join ID ADDRESS | assign ID voter|standby|spare | remove ID | transfer ID "
     "[--store HOST:PORT,...]",
     "the replicated store's dqlite cluster (store-node): the leader and every node with its "
     "role and whether it answers; add a node as a voter, change a role, remove a node, hand "
     "the leadership over",
     {{"--store", "HOST:PORT,...",
       "members of the cluster, any of them (env INV_STORE=dqlite:HOST:PORT,...); the leader is "
       "found through them within --timeout-ms",
       NULL}},
     "status join assign remove transfer",
     "0 done (status: a leader, and every node answered), 1 usage error, no leader reachable "
     "within --timeout-ms, the connection lost, or (status) a node that does not answer, 2 no "
     "node of that id (not_found), already a member (exists), or refused by the leader "
     "(store_refused)",
     "invctl store join 4 10.0.0.4:9001 --store 10.0.0.1:9001,10.0.0.2:9001"},
    {"completion",
     HELP_OPERATION,
     "bash",
     "print the bash completion script",
     {{.flag = NULL}},
     "bash",
     "0, 1 for another shell",
     "source <(invctl completion bash)"},
    {"help",
     HELP_OPERATION,
     "[COMMAND | --man]",
     "the overview, a command's help, or the man page",
     {{"--man", NULL, "the manual page (roff) on stdout", NULL}},
     "COMMANDS",
     "0, 1 for an unknown command",
     "invctl help watch"},
    {"version",
     HELP_OPERATION,
     "",
     "invctl's version (also --version)",
     {{.flag = NULL}},
     NULL,
     "0",
     "invctl version"},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static const cli_help_opt_t globals[] = {
    {"--json", NULL,
     "replies as JSON on stdout (watch: one JSON object a line); every failure as one "
     "{\"ok\":false,\"error\":CODE,\"message\":TEXT}",
     NULL},
    {"--timeout-ms", "N", "reply deadline (default 5000)", NULL},
    {"--correlation-id", "C", "sent with commands; a filter for audit", NULL},
    {"--command-id", "ID", "idempotency key (default: random)", NULL},
    {"--expected-version", "N", "optimistic concurrency check", NULL},
    {"--wait", NULL, "after an accepted command, wait until the query service has applied it",
     NULL},
    {"--color", "WHEN",
     "colour alert kinds: auto (on a terminal, unless NO_COLOR is set), always, never",
     "auto always never"},
    {"--keys", "DIR",
     "the keyring: operator.key and the daemons' .pub files (env INV_KEYS_DIR; default "
     "~/.config/inventory/keys)",
     NULL},
    {"--key", "FILE", "this client's key pair (env INV_KEY; default <keys>/operator.key)", NULL},
    {"--server-key", "Z85", "every server's public key (env INV_SERVER_KEY)", NULL},
    {"--insecure", NULL, "plain sockets, for a system started --insecure (env INV_INSECURE=1)",
     NULL},
    {"--help", NULL, "help (after a command: that command's; also -h)", NULL},
    {"--version", NULL, "invctl's version", NULL},
};
#define N_GLOBALS (sizeof globals / sizeof globals[0])

const char cli_help_notes[] =
    "Money is in cents (--price 1999 is 19.99).  Times are ISO-8601 UTC\n"
    "(2026-11-23T15:11:24Z) or microseconds since the epoch.\n"
    "Exit codes: 0 ok, 1 usage/connection error (a daemon that is not running\n"
    "is reported at once, not at --timeout-ms), 2 rejected or error reply (not\n"
    "found included: an unknown id exits 2 in every subcommand), 3 accepted but\n"
    "--wait did not see it applied (timed out or query service unreachable): do\n"
    "not send it again under another id, 4 stale read: a query did not reach\n"
    "--min-position within --wait-ms (what it printed is older).\n";

static const char *const group_exit[] = {
    [HELP_COMMAND] = "0 accepted, 1 usage or connection error, 2 rejected, 3 accepted but "
                     "--wait did not see it applied (do not send it again under another id)",
    [HELP_QUERY] = "0 ok, 1 usage or connection error, 2 error reply or not found, 4 stale: "
                   "--min-position not reached within --wait-ms",
    [HELP_OPERATION] = "0 ok, 1 error",
};

static const char *const group_title[] = {
    [HELP_COMMAND] = "Commands (write side; exit 2 when rejected)",
    [HELP_QUERY] = "Queries (of the query-service: --min-position N --wait-ms N too)",
    [HELP_OPERATION] = "Operations",
};

const cli_help_t *
cli_help_at(size_t i)
{
    return i < N_ROWS ? &rows[i] : NULL;
}

const cli_help_t *
cli_help_find(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

const char *
cli_help_args(const cli_help_t *h)
{
    if (h->args)
        return h->args;
    const cli_command_def_t *c = cli_commands_find(h->name);
    if (c)
        return c->usage;
    const cli_query_def_t *q = cli_queries_find(h->name);
    return q ? q->usage : "";
}

const char *
cli_help_exit(const cli_help_t *h)
{
    return h->exit ? h->exit : group_exit[h->group];
}

const char *
cli_help_group_title(cli_help_group_t g)
{
    return group_title[g];
}

/* The endpoint flags first (their text made once from cli.c's table), then
 * the others. */
const cli_help_opt_t *
cli_help_global_at(size_t i)
{
    static cli_help_opt_t eps[CLI_EP__COUNT];
    static char text[CLI_EP__COUNT][160];
    if (i < CLI_EP__COUNT) {
        bool list = i == CLI_EP_COMMAND || i == CLI_EP_RELAY || i == CLI_EP_EVENTS;
        snprintf(text[i], sizeof text[i], "the %s endpoint%s (env %s)", cli_ep_daemon((cli_ep_t)i),
                 list ? ", or a comma-separated list of them (a replicated store: the leader is "
                        "followed)"
                      : "",
                 cli_ep_env((cli_ep_t)i));
        eps[i] = (cli_help_opt_t){cli_ep_flag((cli_ep_t)i), "EP", text[i], NULL};
        return &eps[i];
    }
    i -= CLI_EP__COUNT;
    return i < N_GLOBALS ? &globals[i] : NULL;
}

#define HELP_WIDTH 79  /* columns of the printed help */
#define HELP_INDENT 27 /* where an option's text starts */

/* Prints text from column `col` (the cursor is there), wrapped at spaces
 * within HELP_WIDTH, later lines indented by `indent`; ends the line. */
static void
print_wrapped(FILE *f, const char *text, int col, int indent)
{
    while (*text) {
        int room = HELP_WIDTH - col, n = (int)strlen(text), cut = n;
        if (n > room) {
            for (cut = room; cut > 0 && text[cut] != ' '; cut--)
                ;
            if (cut == 0) /* one word longer than the room: as it is */
                for (cut = room; cut < n && text[cut] != ' '; cut++)
                    ;
        }
        fprintf(f, "%.*s\n", cut, text);
        text += cut;
        while (*text == ' ')
            text++;
        if (*text)
            fprintf(f, "%*s", indent, "");
        col = indent;
    }
}

static void
print_opt(FILE *f, const cli_help_opt_t *o)
{
    char head[64];
    snprintf(head, sizeof head, "%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
    if (strlen(head) > HELP_INDENT - 3) /* the text on the next line */
        fprintf(f, "  %s\n%*s", head, HELP_INDENT, "");
    else
        fprintf(f, "  %-*s", HELP_INDENT - 2, head);
    print_wrapped(f, o->text, HELP_INDENT, HELP_INDENT);
}

void
cli_help_overview(FILE *f)
{
    fputs("usage: invctl [global options] COMMAND [arguments]\n"
          "       invctl help COMMAND   (or invctl COMMAND --help) for a command's help\n",
          f);
    for (int g = HELP_COMMAND; g <= HELP_OPERATION; g++) {
        fprintf(f, "\n%s:\n", group_title[g]);
        for (size_t i = 0; i < N_ROWS; i++)
            if (rows[i].group == (cli_help_group_t)g)
                fprintf(f, "  %-18s %s\n", rows[i].name, rows[i].summary);
    }
    fputs("\nGlobal options (before or after the command):\n", f);
    for (size_t i = 0; cli_help_global_at(i); i++)
        print_opt(f, cli_help_global_at(i));
    fprintf(f, "\n%s", cli_help_notes);
}

int
cli_help_command(FILE *f, const char *name)
{
    const cli_help_t *h = cli_help_find(name);
    if (!h)
        return -1;
    const char *args = cli_help_args(h);
    char text[512];
    snprintf(text, sizeof text, "usage: invctl %s%s%s", h->name, args[0] ? " " : "", args);
    print_wrapped(f, text, 0, 7);
    fprintf(f, "\n%s.\n", h->summary);
    if (h->opts[0].flag) {
        fputs("\nOptions:\n", f);
        for (int i = 0; i < CLI_HELP_MAX_OPTS && h->opts[i].flag; i++)
            print_opt(f, &h->opts[i]);
    }
    snprintf(text, sizeof text, "Exit codes: %s.", cli_help_exit(h));
    fputc('\n', f);
    print_wrapped(f, text, 0, 2);
    fprintf(f, "\nExample:\n  %s\n", h->example);
    fputs("\nGlobal options: see invctl help.\n", f);
    return 0;
}
