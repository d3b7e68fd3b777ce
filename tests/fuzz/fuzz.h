/* fuzz: what the libFuzzer harnesses of tests/fuzz share (header-only).
 *
 *  - a scratch folder under /tmp for the models and stores a harness opens
 *    once (in fuzz_setup, see FUZZ_SETUP), removed at exit;
 *  - a small world of aggregates (two suppliers, four products) that turns
 *    commands into events through the pure domain (product_decide,
 *    supplier_decide), as the command-service does: the seed generator, the
 *    harnesses that need a store or a model with history, and the
 *    64-bit-extremes harness all make their events this way;
 *  - fuzz_story: a fixed history that uses every command type.
 *
 * A harness never asserts on what a decoder answers (any answer to bad
 * input is fine); it only feeds bytes through the public entry points and
 * lets ASan, UBSan and LeakSanitizer judge.  FUZZ_CHECK is for the few
 * properties a harness states (a crash is then a finding). */
#ifndef INV_FUZZ_H
#define INV_FUZZ_H

#include "message.h"
#include "product.h"
#include "supplier.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- scratch folder ------------------------------------------------------ */

static char fuzz_dir[64];

static inline int
fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
fuzz_rm_dir(void)
{
    if (fuzz_dir[0])
        nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The path of `name` in the harness's scratch folder (made on the first
 * call), in one of FUZZ_PATHS static buffers used in turn: a harness opens
 * its files once, each path used before the next FUZZ_PATHS calls. */
#define FUZZ_PATHS 8
static inline const char *
fuzz_path(const char *name)
{
    static char bufs[FUZZ_PATHS][128];
    static unsigned next;
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/inv-fuzz-XXXXXX");
        if (!mkdtemp(fuzz_dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_rm_dir);
    }
    char *buf = bufs[next++ % FUZZ_PATHS];
    snprintf(buf, sizeof bufs[0], "%s/%s", fuzz_dir, name);
    return buf;
}

/* libFuzzer's one-time set-up hook (LLVMFuzzerInitialize), for a harness
 * that writes FUZZ_SETUP and then defines `static void fuzz_setup(void)`. */
#define FUZZ_SETUP                                                                                 \
    static void fuzz_setup(void);                                                                  \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fuzz_setup();                                                                              \
        return 0;                                                                                  \
    }

/* A FILE that swallows what printers write. */
static inline FILE *
fuzz_null_file(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    if (!f)
        abort();
    return f;
}

/* ---- a world of aggregates ----------------------------------------------- */

#define FUZZ_SUPPLIERS 2
#define FUZZ_PRODUCTS 4

typedef struct {
    supplier_t sup[FUZZ_SUPPLIERS]; /* "s0", "s1" */
    product_t prod[FUZZ_PRODUCTS];  /* "p0".."p3" */
    int64_t position;               /* of the last event made */
    int64_t now;                    /* recorded_at of the next event, us */
    decision_t d;                   /* scratch */
} fuzz_world_t;

static inline void
fuzz_world_init(fuzz_world_t *w)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < FUZZ_SUPPLIERS; i++)
        supplier_init(&w->sup[i]);
    for (int i = 0; i < FUZZ_PRODUCTS; i++)
        product_init(&w->prod[i]);
    w->now = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
}

/* Index of "s<i>" / "p<i>" ids; -1 for any other id. */
static inline int
fuzz_world_index(const char *id, char kind, int n)
{
    if (id[0] != kind || id[1] < '0' || id[1] >= '0' + n || id[2])
        return -1;
    return id[1] - '0';
}

/* Decides cmd (its fields already checked by command_check_fields or the
 * codec) against the world.  Accepted: fills ev (position, envelope, data),
 * folds it into the aggregate and returns 1; rejected or outside the world:
 * 0 (w->d holds the decision). */
static inline int
fuzz_world_run(fuzz_world_t *w, const command_t *cmd, event_t *ev)
{
    const command_spec_t *sp = command_spec(cmd->type);
    int is_sup = sp->aggregate == AGG_SUPPLIER;
    int i = is_sup ? fuzz_world_index(cmd->data.supplier_id, 's', FUZZ_SUPPLIERS)
                   : fuzz_world_index(cmd->data.product_id, 'p', FUZZ_PRODUCTS);
    if (i < 0)
        return 0;
    decision_clear(&w->d);
    int64_t version;
    if (is_sup) {
        supplier_decide(&w->sup[i], cmd, &w->d);
        version = w->sup[i].version;
    } else {
        const supplier_t *s = NULL;
        if (cmd->type == CMD_CREATE_PRODUCT) {
            int j = fuzz_world_index(cmd->data.supplier_id, 's', FUZZ_SUPPLIERS);
            s = j >= 0 ? &w->sup[j] : NULL;
            if (!s)
                return 0;
        }
        product_decide(&w->prod[i], s, cmd, &w->d);
        version = w->prod[i].version;
    }
    if (w->d.code != REJ_NONE)
        return 0;
    memset(&ev->env, 0, sizeof ev->env);
    ev->env.position = ++w->position;
    command_stream(cmd, ev->env.stream);
    ev->env.version = version + 1;
    ev->env.type = w->d.type;
    ev->env.schema = event_spec(w->d.type)->schema;
    snprintf(ev->env.event_id, sizeof ev->env.event_id, "%032llx", (unsigned long long)w->position);
    snprintf(ev->env.command_id, sizeof ev->env.command_id, "%s", cmd->command_id);
    snprintf(ev->env.correlation_id, sizeof ev->env.correlation_id, "%s",
             cmd->correlation_id[0] ? cmd->correlation_id : cmd->command_id);
    ev->env.recorded_at = w->now;
    /* saturating: the extremes harness sets the clock to extremes */
    w->now = w->now <= INT64_MAX - 1000000 ? w->now + 1000000 : INT64_MAX;
    fields_copy(&ev->data, &w->d.data);
    if (is_sup)
        supplier_apply(&w->sup[i], ev);
    else
        product_apply(&w->prod[i], ev);
    return 1;
}

/* ---- commands ------------------------------------------------------------ */

/* Starts a command of type t with id "c<n>". */
static inline void
fuzz_command(command_t *cmd, command_type_t t, int n)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->type = t;
    snprintf(cmd->command_id, sizeof cmd->command_id, "c%d", n);
}

/* The story: every command type once or more, over s0, s1, p0 and p1, in
 * an order the domain accepts.  Fills up to max commands; returns how many. */
static inline int
fuzz_story(command_t *cmds, int max)
{
    int n = 0;
#define STORY(t) (n < max ? (fuzz_command(&cmds[n], (t), n), &cmds[n++].data) : NULL)
    fields_t *f;
    if ((f = STORY(CMD_REGISTER_SUPPLIER))) {
        fields_set_str(f, F_SUPPLIER_ID, "s0");
        fields_set_str(f, F_NAME, "Acme Corp");
    }
    if ((f = STORY(CMD_REGISTER_SUPPLIER))) {
        fields_set_str(f, F_SUPPLIER_ID, "s1");
        fields_set_str(f, F_NAME, "Caf\xc3\xa9 \xe2\x82\xac Ltd");
    }
    if ((f = STORY(CMD_RENAME_SUPPLIER))) {
        fields_set_str(f, F_SUPPLIER_ID, "s0");
        fields_set_str(f, F_NAME, "Acme Ltd");
    }
    for (int p = 0; p < 2; p++) {
        if ((f = STORY(CMD_CREATE_PRODUCT))) {
            fields_set_str(f, F_PRODUCT_ID, p ? "p1" : "p0");
            fields_set_str(f, F_SKU, p ? "SKU-P1" : "SKU-P0");
            fields_set_str(f, F_NAME, p ? "Red Gadget" : "Blue Widget");
            fields_set_str(f, F_DESCRIPTION, "A sturdy widget");
            fields_set_str(f, F_SUPPLIER_ID, p ? "s1" : "s0");
            fields_set_int(f, F_PRICE_CENTS, 1999);
            fields_set_int(f, F_COST_PRICE_CENTS, 1200);
            fields_set_int(f, F_STOCK, 12);
            fields_set_int(f, F_LOW_STOCK_THRESHOLD, 10);
        }
    }
    if ((f = STORY(CMD_CHANGE_PRICE))) {
        fields_set_str(f, F_PRODUCT_ID, "p0");
        fields_set_int(f, F_PRICE_CENTS, 1499);
    }
    if ((f = STORY(CMD_UPDATE_STOCK))) {
        fields_set_str(f, F_PRODUCT_ID, "p0");
        fields_set_int(f, F_NEW_STOCK, 40);
    }
    if ((f = STORY(CMD_SELL_PRODUCT))) {
        fields_set_str(f, F_PRODUCT_ID, "p0");
        fields_set_int(f, F_QUANTITY, 35);
        fields_set_str(f, F_ORDER_ID, "o1");
    }
    if ((f = STORY(CMD_RECORD_PRODUCT_VIEW)))
        fields_set_str(f, F_PRODUCT_ID, "p0");
    if ((f = STORY(CMD_SUBMIT_REVIEW))) {
        fields_set_str(f, F_PRODUCT_ID, "p0");
        fields_set_str(f, F_REVIEW_ID, "r1");
        fields_set_str(f, F_CUSTOMER_ID, "c9");
        fields_set_int(f, F_RATING, 4);
        fields_set_str(f, F_COMMENT, "Works \"well\"\n");
    }
    if ((f = STORY(CMD_DISCONTINUE_PRODUCT))) {
        fields_set_str(f, F_PRODUCT_ID, "p1");
        fields_set_str(f, F_REASON, "replaced by p0");
    }
#undef STORY
    for (int i = 0; i < n; i++) {
        field_errors_t errs = {0};
        command_check_fields(&cmds[i], &errs);
    }
    return n;
}

#define FUZZ_STORY_MAX 16

/* The story's events, made by the domain: returns how many (into evs). */
static inline int
fuzz_story_events(event_t *evs, int max)
{
    static command_t cmds[FUZZ_STORY_MAX];
    static fuzz_world_t w;
    fuzz_world_init(&w);
    int n = fuzz_story(cmds, FUZZ_STORY_MAX), k = 0;
    for (int i = 0; i < n && k < max; i++)
        k += fuzz_world_run(&w, &cmds[i], &evs[k]);
    return k;
}

#endif
