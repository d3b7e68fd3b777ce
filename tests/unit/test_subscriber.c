/* Unit tests of common/subscriber without a daemon: the subscriber's
 * decisions (substate.h: gap, duplicate, head below the checkpoint, history
 * mismatch, when a rebuild swaps in); its generations and rebuilds
 * (rebuild.h) over in-memory models whose files are real files in a
 * temporary folder; and the runtime itself (subscriber.h) in this process,
 * over a real modeldb, against a fake relay on inproc:// endpoints served
 * by a thread. */
#include "bus.h"
#include "msgtree.h"
#include "codec.h"
#include "event_history.h"
#include "proc.h"
#include "rebuild.h"
#include "scratch.h"
#include "subscriber.h"
#include "substate.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- decisions ----------------------------------------------------------- */

/* What a live event at `pos` does, with `next` the position the model
 * wants, by whether the model is verified and whether it is unusable. */
Test(subscriber, a_live_event_is_applied_dropped_or_starts_a_catch_up)
{
    static const struct {
        int64_t pos, next;
        bool verified, unusable;
        substate_event_t want;
        const char *why;
    } cases[] = {
        {8, 8, true, false, SUBSTATE_APPLY, "the next position"},
        {1, 1, true, false, SUBSTATE_APPLY, "the first position"},
        {9, 8, true, false, SUBSTATE_CATCH_UP, "a gap"},
        {1000, 8, true, false, SUBSTATE_CATCH_UP, "a wide gap"},
        {7, 8, true, false, SUBSTATE_DUPLICATE, "a duplicate"},
        {1, 8, true, false, SUBSTATE_DUPLICATE, "an old duplicate"},
        {8, 8, false, false, SUBSTATE_CATCH_UP, "nothing is applied before verifying"},
        {7, 8, false, false, SUBSTATE_CATCH_UP, "nor dropped before verifying"},
        {8, 8, true, true, SUBSTATE_IGNORE, "an unusable model takes no live event"},
        {9, 8, true, true, SUBSTATE_IGNORE, "an unusable model takes no gap"},
        {8, 8, false, true, SUBSTATE_IGNORE, "unusable and unverified"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(
            substate_on_event(cases[i].pos, cases[i].next, cases[i].verified, cases[i].unusable),
            cases[i].want, "%s", cases[i].why);
}

Test(subscriber, a_head_above_the_checkpoint_is_a_gap)
{
    cr_assert(substate_behind(8, 8), "a head above the checkpoint (next - 1) is a gap");
    cr_assert_not(substate_behind(7, 8));
    cr_assert_not(substate_behind(3, 8), "a head below is not a gap");
}

Test(subscriber, a_page_event_is_applied_only_in_order)
{
    cr_assert_eq(substate_on_page_event(7, 8), SUBSTATE_PAGE_SKIP);
    cr_assert_eq(substate_on_page_event(8, 8), SUBSTATE_PAGE_APPLY);
    cr_assert_eq(substate_on_page_event(9, 8), SUBSTATE_PAGE_OUT_OF_ORDER);
}

Test(subscriber, a_head_below_the_checkpoint_makes_the_model_verify)
{
    cr_assert(substate_head_below(9, 10, true, false));
    cr_assert(substate_head_below(0, 10, true, false));
    cr_assert_not(substate_head_below(10, 10, true, false), "at the checkpoint: fine");
    cr_assert_not(substate_head_below(11, 10, true, false));
    cr_assert_not(substate_head_below(9, 10, false, false), "verifying already");
    cr_assert_not(substate_head_below(9, 10, true, true), "being replaced already");
}

Test(subscriber, heads_only_rise_unless_the_relay_has_nothing_after)
{
    cr_assert_eq(substate_page_head(10, 12, 5, 7), 12);
    cr_assert_eq(substate_page_head(10, 9, 5, 7), 10, "a lower head in a page with events");
    cr_assert_eq(substate_page_head(50, 9, 0, 9), 9, "nothing after 9 and head 9: 50 was wrong");
    cr_assert_eq(substate_page_head(50, 9, 0, 8), 50, "nothing after 8 yet head 9: keep");
}

Test(subscriber, a_history_mismatch_rebuilds)
{
    cr_assert_eq(substate_history(5, "e5", true, 5, "e5"), SUBSTATE_SAME_HISTORY);
    cr_assert_eq(substate_history(5, "e5", true, 5, "x5"), SUBSTATE_OTHER_HISTORY);
    cr_assert_eq(substate_history(5, "e5", true, 6, "e5"), SUBSTATE_NO_EVENT,
                 "the store's page starts elsewhere");
    cr_assert_eq(substate_history(5, "e5", false, 5, "e5"), SUBSTATE_NO_EVENT);
    cr_assert(substate_needs_check(5, "e5"));
    cr_assert_not(substate_needs_check(0, "e5"), "an empty model has nothing to check");
    cr_assert_not(substate_needs_check(5, ""), "a model from before event ids is trusted");
}

Test(subscriber, a_rebuild_swaps_in_once_everything_reached_the_head)
{
    cr_assert(substate_swap_due(100, 100, 100, false));
    cr_assert(substate_swap_due(101, 100, 101, true), "an unusable live model is not waited for");
    cr_assert_not(substate_swap_due(99, 100, 100, false), "the rebuild is behind the live model");
    cr_assert_not(substate_swap_due(100, 90, 110, true), "the rebuild is behind the head");
    cr_assert_not(substate_swap_due(100, 90, 100, false), "the live model is behind the head");
    cr_assert_not(substate_swap_due(100, 100, 101, false));
}

/* ---- rebuilds over in-memory models -------------------------------------- */

/* A model: the events applied and committed, and a file at its path. */
typedef struct {
    char path[PATH_MAX];
    int64_t checkpoint; /* committed */
    int64_t pending;    /* applied in the open transaction */
    char event_id[64];  /* of the checkpoint */
    bool fail_apply;    /* apply fails (a damaged file) */
    bool active;        /* factory.activate was called */
} fake_t;

typedef struct {
    fake_t *live;  /* what the daemon serves */
    int opened;    /* models opened */
    int closed;    /* models closed */
    bool finished; /* finish() ran */
} fake_factory_t;

static int
fake_begin(void *model)
{
    ((fake_t *)model)->pending = 0;
    return 0;
}

static int
fake_apply(void *model, const event_t *ev)
{
    fake_t *m = model;
    (void)ev; /* positions are the runtime's to check */
    if (m->fail_apply)
        return -1;
    m->pending++;
    return 0;
}

static int
fake_commit(void *model, int64_t checkpoint, const char *event_id)
{
    fake_t *m = model;
    cr_assert_eq(checkpoint, m->checkpoint + m->pending, "the checkpoint covers the batch");
    m->checkpoint = checkpoint;
    m->pending = 0;
    snprintf(m->event_id, sizeof m->event_id, "%s", event_id);
    return 0;
}

static void
fake_rollback(void *model)
{
    ((fake_t *)model)->pending = 0;
}

static int
fake_checkpoint(void *model, int64_t *position)
{
    *position = ((fake_t *)model)->checkpoint;
    return 0;
}

static sqlite3 *
fake_db(void *model)
{
    (void)model;
    return NULL; /* no connection: the sync policy is NORMAL here */
}

static const subscriber_ops_t fake_ops = {fake_begin,      fake_apply, fake_commit, fake_rollback,
                                          fake_checkpoint, NULL,       fake_db};

static void *
fake_open(void *arg, const char *path)
{
    fake_factory_t *f = arg;
    fake_t *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    snprintf(m->path, sizeof m->path, "%s", path);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    fclose(file);
    f->opened++;
    return m;
}

static void *
fake_finish(void *arg, void *model, const char *path)
{
    fake_factory_t *f = arg;
    f->finished = true;
    cr_assert_str_eq(((fake_t *)model)->path, path);
    return model;
}

static void
fake_activate(void *arg, void *model)
{
    fake_factory_t *f = arg;
    f->live = model;
    ((fake_t *)model)->active = true;
}

static void
fake_close(void *arg, void *model)
{
    fake_factory_t *f = arg;
    if (f->live == model)
        f->live = NULL;
    if (model)
        f->closed++;
    free(model);
}

/* A page of n events from position `from`, as the catch-up endpoint sends
 * it; the writer keeps the bytes the reader points at. */
static void
make_page(codec_writer_t *w, hist_t *h, int from, int n, mpread_t *events, uint32_t *count)
{
    codec_writer_reset(w);
    msgpack_pack_array(&w->pk, n);
    for (int i = 0; i < n; i++)
        codec_pack_event(w, (hist_chain(h, from - 1 + i), &h->ev[from - 1 + i]));
    const char *why;
    cr_assert_eq(codec_reader_init(events, w->buf.data, w->buf.size, &why), 0);
    cr_assert_eq(mpread_array(events, count), 0);
}

static bool
exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

typedef struct {
    char dir[64];
    char live_path[PATH_MAX];
    fake_factory_t f;
    subscriber_factory_t factory;
    rebuild_t *r;
    hist_t *h;
    codec_writer_t w;
    event_t ev;
} fixture_t;

static void
fixture_init(fixture_t *x, bool with_finish)
{
    memset(x, 0, sizeof *x);
    scratch_make_file(x->dir, sizeof x->dir, "subscriber", "model.db", x->live_path,
                      sizeof x->live_path);
    x->f.live = fake_open(&x->f, x->live_path); /* the first generation: a plain file */
    x->factory = (subscriber_factory_t){fake_open, with_finish ? fake_finish : NULL, fake_activate,
                                        fake_close, &x->f};
    x->r = rebuild_new(&fake_ops, MODELDB_SYNC_NORMAL);
    cr_assert_not_null(x->r);
    rebuild_set_factory(x->r, &x->factory, x->live_path);
    x->h = hist_new();
    for (int i = 0; i < 10; i++)
        ev_supplier(x->h, i % 2 ? "s1" : "s2", "Acme");
    codec_writer_init(&x->w);
}

static void
fixture_fini(fixture_t *x)
{
    if (rebuild_model(x->r))
        rebuild_abandon(x->r, "test over");
    rebuild_destroy(&x->r);
    cr_assert_null(x->r);
    fake_close(&x->f, x->f.live);
    codec_writer_fini(&x->w);
    free(x->h);
    scratch_remove(x->dir);
}

/* Applies pages of 4 to the rebuild until it reaches position `to`. */
static void
rebuild_to(fixture_t *x, int to)
{
    while (rebuild_checkpoint(x->r) < to) {
        int from = (int)rebuild_checkpoint(x->r) + 1;
        int n = to - from + 1 < 4 ? to - from + 1 : 4;
        mpread_t events;
        uint32_t count;
        make_page(&x->w, x->h, from, n, &events, &count);
        cr_assert_eq(rebuild_apply_page(x->r, &events, count, &x->ev), n);
    }
}

Test(subscriber, a_rebuild_is_swapped_in_over_the_live_name)
{
    fixture_t x;
    fixture_init(&x, true);
    cr_assert(rebuild_can(x.r));
    cr_assert_null(rebuild_open(x.r, 10));
    cr_assert_not_null(rebuild_open(x.r, 10), "one rebuild at a time");
    char first[PATH_MAX];
    snprintf(first, sizeof first, "%s", rebuild_path(x.r));
    cr_assert(exists(first), "the generation file is beside the live one");
    rebuild_to(&x, 10);
    cr_assert_str_eq(((fake_t *)rebuild_model(x.r))->event_id, "e10");

    void *live = x.f.live;
    cr_assert_eq(rebuild_swap(x.r, &live), 0);
    cr_assert(x.f.finished);
    cr_assert_eq(live, x.f.live, "activated: the daemon serves the rebuilt model");
    cr_assert(((fake_t *)live)->active);
    cr_assert_eq(((fake_t *)live)->checkpoint, 10);
    cr_assert_null(rebuild_model(x.r));
    cr_assert_eq(x.f.closed, 1, "the old live model is closed");
    char target[PATH_MAX];
    ssize_t n = readlink(x.live_path, target, sizeof target - 1);
    cr_assert_gt(n, 0, "the live name is a symlink now");
    target[n] = '\0';
    cr_assert_str_eq(target, strrchr(first, '/') + 1, "relative, to the generation");

    /* a second rebuild replaces the first generation, which is deleted */
    cr_assert_null(rebuild_open(x.r, 10));
    rebuild_to(&x, 10);
    cr_assert_eq(rebuild_swap(x.r, &live), 0);
    cr_assert_not(exists(first), "the previous generation is deleted");
    cr_assert(exists(rebuild_path(x.r)));
    fixture_fini(&x);
}

Test(subscriber, a_rebuild_page_out_of_order_or_failing_moves_nothing)
{
    fixture_t x;
    fixture_init(&x, false);
    cr_assert_null(rebuild_open(x.r, 10));
    rebuild_to(&x, 3);
    mpread_t events;
    uint32_t count;
    make_page(&x.w, x.h, 5, 2, &events, &count); /* 4 is missing */
    cr_assert_eq(rebuild_apply_page(x.r, &events, count, &x.ev), -1);
    cr_assert_eq(rebuild_checkpoint(x.r), 3);
    ((fake_t *)rebuild_model(x.r))->fail_apply = true;
    make_page(&x.w, x.h, 4, 2, &events, &count);
    cr_assert_eq(rebuild_apply_page(x.r, &events, count, &x.ev), -1, "an apply failed");
    cr_assert_eq(rebuild_checkpoint(x.r), 3);
    cr_assert_eq(((fake_t *)rebuild_model(x.r))->pending, 0, "rolled back");
    make_page(&x.w, x.h, 4, 0, &events, &count);
    cr_assert_eq(rebuild_apply_page(x.r, &events, count, &x.ev), 0, "an empty page");
    fixture_fini(&x);
}

Test(subscriber, a_rebuild_that_keeps_failing_is_abandoned)
{
    fixture_t x;
    fixture_init(&x, false);
    cr_assert_null(rebuild_open(x.r, 10));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", rebuild_path(x.r));
    for (int i = 1; i < 20; i++)
        cr_assert_not(rebuild_page_failed(x.r));
    cr_assert(rebuild_page_failed(x.r), "the 20th failure abandons it");
    cr_assert_null(rebuild_model(x.r));
    cr_assert_not(exists(path), "its file is deleted");
    cr_assert_eq(x.f.closed, 1);
    cr_assert_not_null(x.f.live, "the live model stays");
    fixture_fini(&x);
}

Test(subscriber, generations_a_crash_left_behind_are_deleted_at_start)
{
    fixture_t x;
    fixture_init(&x, false);
    char stale[PATH_MAX + 32], side[PATH_MAX + 40], other[PATH_MAX + 8];
    snprintf(stale, sizeof stale, "%s.%016d", x.live_path, 42);
    snprintf(side, sizeof side, "%s-wal", stale);
    snprintf(other, sizeof other, "%s.bak", x.live_path);
    const char *files[] = {stale, side, other};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(files[i], "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    rebuild_t *r = rebuild_new(&fake_ops, MODELDB_SYNC_NORMAL);
    rebuild_set_factory(r, &x.factory, x.live_path);
    cr_assert_not(exists(stale));
    cr_assert_not(exists(side));
    cr_assert(exists(other), "an operator's file is not a generation");
    cr_assert(exists(x.live_path));
    rebuild_destroy(&r);
    fixture_fini(&x);
}

Test(subscriber, without_a_factory_nothing_rebuilds)
{
    rebuild_t *r = rebuild_new(&fake_ops, MODELDB_SYNC_NORMAL);
    cr_assert_not(rebuild_can(r));
    cr_assert_str_eq(rebuild_open(r, 5), "this daemon cannot rebuild");
    rebuild_destroy(&r);
    rebuild_destroy(&r); /* idempotent */
}

/* ---- the runtime against a fake relay ------------------------------------ */

/* A model on a real modeldb: the positions applied (those of a rolled-back
 * batch forgotten) and the checkpoint in the file. */
typedef struct {
    sqlite3 *db;
    int64_t seen[64]; /* positions applied, in order */
    int n_seen;
    int n_committed; /* of seen, committed */
} dbmodel_t;

static int
db_begin(void *model)
{
    return modeldb_begin(((dbmodel_t *)model)->db) == SQLITE_OK ? 0 : -1;
}

static int
db_apply(void *model, const event_t *ev)
{
    dbmodel_t *m = model;
    cr_assert_lt(m->n_seen, 64);
    m->seen[m->n_seen++] = ev->env.position;
    return 0;
}

static int
db_commit(void *model, int64_t checkpoint, const char *event_id)
{
    dbmodel_t *m = model;
    if (modeldb_checkpoint_set(m->db, NULL, checkpoint, event_id) != SQLITE_OK ||
        modeldb_commit(m->db) != SQLITE_OK)
        return -1;
    m->n_committed = m->n_seen;
    return 0;
}

static void
db_rollback(void *model)
{
    dbmodel_t *m = model;
    modeldb_rollback(m->db);
    m->n_seen = m->n_committed;
}

static int
db_checkpoint(void *model, int64_t *position)
{
    return modeldb_checkpoint_get(((dbmodel_t *)model)->db, position) == SQLITE_OK ? 0 : -1;
}

static sqlite3 *
db_of(void *model)
{
    return ((dbmodel_t *)model)->db;
}

static const subscriber_ops_t db_ops = {db_begin,      db_apply, db_commit, db_rollback,
                                        db_checkpoint, NULL,     db_of};

/* The relay: a catch-up ROUTER answering ReadEvents from a history whose
 * first `head` events are stored, and an event PUB the scenario writes. */
typedef struct {
    void *zctx;
    void *router, *pub; /* bound here, used by the thread only */
    hist_t *h;
    atomic_int head;     /* events stored */
    atomic_int requests; /* ReadEvents answered */
    atomic_bool stop;
    pthread_t thread;
    codec_writer_t w;
    atomic_int tamper_at; /* > 0: the event at this position goes out with a changed name */
    atomic_int received;  /* ReadEvents read, answered or not */
    atomic_bool silent;   /* requests are read and never answered (a relay that hangs) */
    atomic_int late_nth;  /* > 0: the request with this number (1: the first), -1: each, is... */
    atomic_int late_ms;   /* ...answered this late */
    atomic_int copies;    /* replies sent per request (0: 1) */
} relay_t;

/* Packs the event at index i as the relay sends it: with its chain hash,
 * and at tamper_at with its data changed after the hash was taken. */
static void
relay_pack(relay_t *r, codec_writer_t *w, int i)
{
    hist_chain(r->h, i);
    if (i + 1 != atomic_load(&r->tamper_at)) {
        codec_pack_event(w, &r->h->ev[i]);
        return;
    }
    event_t *ev = malloc(sizeof *ev);
    *ev = r->h->ev[i];
    fields_set_str(&ev->data, F_NAME, "Acne");
    codec_pack_event(w, ev);
    free(ev);
}

static void
relay_answer(relay_t *r, bus_msg_t *m)
{
    int n_env;
    const void *body;
    size_t len;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const char *why;
    int64_t after = -1, limit = 0;
    cr_assert_eq(bus_split(m, &n_env, &body, &len), 0);
    cr_assert_eq(codec_parse(body, len, &u, &why), 0);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "after"), &after), 0);
    cr_assert_eq(codec_get_int(codec_map_get(&u.data, "limit"), &limit), 0);
    msgpack_unpacked_destroy(&u);
    int head = atomic_load(&r->head);
    int n = after < head ? (int)(head - after) : 0;
    n = n > limit ? (int)limit : n;
    codec_writer_reset(&r->w);
    msgpack_pack_map(&r->w.pk, 4);
    codec_pack_kv_bool(&r->w.pk, "ok", true);
    codec_pack_kv_int(&r->w.pk, "after", after);
    codec_pack_kv_int(&r->w.pk, "head", head);
    codec_pack_cstr(&r->w.pk, "events");
    msgpack_pack_array(&r->w.pk, n);
    for (int i = 0; i < n; i++)
        relay_pack(r, &r->w, after + i);
    /* a subscriber that dropped a prefetched page reconnected: its old
     * socket is gone, and the reply with it, as with the real relay */
    int copies = atomic_load(&r->copies);
    for (int i = 0; i < (copies > 0 ? copies : 1); i++)
        bus_reply_to(r->router, m, n_env, r->w.buf.data, r->w.buf.size);
    atomic_fetch_add(&r->requests, 1);
}

static void *
relay_main(void *arg)
{
    relay_t *r = arg;
    while (!atomic_load(&r->stop)) {
        zmq_pollitem_t item = {r->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        bus_msg_t m;
        if (bus_recv(r->router, &m, ZMQ_DONTWAIT) != 0)
            continue;
        int nth = atomic_fetch_add(&r->received, 1) + 1, late_nth = atomic_load(&r->late_nth);
        if (nth == late_nth || late_nth < 0)
            usleep((useconds_t)atomic_load(&r->late_ms) * 1000);
        if (!atomic_load(&r->silent))
            relay_answer(r, &m);
        bus_msg_close(&m);
    }
    return NULL;
}

/* Publishes the stored event at position pos on the PUB (from any thread:
 * zmq sockets are not shared while the relay thread serves only the ROUTER). */
static void
relay_publish(relay_t *r, int pos)
{
    codec_writer_t w;
    codec_writer_init(&w);
    relay_pack(r, &w, pos - 1);
    cr_assert_eq(bus_send(r->pub, TOPIC_EVENT, w.buf.data, w.buf.size, 0), 0);
    codec_writer_fini(&w);
}

typedef struct {
    char dir[64];
    char path[128]; /* the live model's name */
    relay_t relay;
    dbmodel_t *live; /* the model the runtime applies to; a rebuild swaps it */
    subscriber_config_t cfg;
    subscriber_t *sub;
    char events_ep[96], catchup_ep[96];
    void *control; /* the runtime's control ROUTER (world_control), NULL: none */
    char control_ep[96];
} world_t;

/* A model on a new modeldb at path. */
static dbmodel_t *
dbmodel_open(const char *path)
{
    dbmodel_t *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    cr_assert_eq(modeldb_open(path, NULL, &m->db), SQLITE_OK);
    return m;
}

static void
dbmodel_close(dbmodel_t **m)
{
    if (!*m)
        return;
    cr_assert_eq(modeldb_close(&(*m)->db), 0);
    free(*m);
    *m = NULL;
}

/* The factory of a world's rebuilds (arg: the world). */
static void *
world_open(void *arg, const char *path)
{
    (void)arg;
    return dbmodel_open(path);
}

static void
world_activate(void *arg, void *model)
{
    ((world_t *)arg)->live = model;
}

static void
world_close(void *arg, void *model)
{
    world_t *x = arg;
    dbmodel_t *m = model;
    if (x->live == m)
        x->live = NULL;
    dbmodel_close(&m);
}

/* A store of `events` events (`stored` of them stored), a model at
 * checkpoint `checkpoint` whose checkpoint event is `id`, and a runtime. */
static void
world_init(world_t *x, int events, int stored, int64_t checkpoint, const char *id, bool once)
{
    memset(x, 0, sizeof *x);
    scratch_make_file(x->dir, sizeof x->dir, "subscriber", "model.db", x->path, sizeof x->path);
    x->live = dbmodel_open(x->path);
    if (checkpoint > 0) {
        cr_assert_eq(modeldb_begin(x->live->db), SQLITE_OK);
        cr_assert_eq(modeldb_checkpoint_set(x->live->db, NULL, checkpoint, id), SQLITE_OK);
        cr_assert_eq(modeldb_commit(x->live->db), SQLITE_OK);
    }
    relay_t *r = &x->relay;
    r->zctx = zmq_ctx_new();
    r->h = hist_new();
    for (int i = 0; i < events; i++)
        ev_supplier(r->h, i % 2 ? "s1" : "s2", "Acme");
    atomic_store(&r->head, stored);
    snprintf(x->events_ep, sizeof x->events_ep, "inproc://events-%p", (void *)x);
    snprintf(x->catchup_ep, sizeof x->catchup_ep, "inproc://catchup-%p", (void *)x);
    r->router = bus_bind(r->zctx, ZMQ_ROUTER, x->catchup_ep);
    r->pub = bus_bind(r->zctx, ZMQ_PUB, x->events_ep);
    cr_assert(r->router && r->pub);
    codec_writer_init(&r->w);
    cr_assert_eq(pthread_create(&r->thread, NULL, relay_main, r), 0);
    x->cfg = (subscriber_config_t){.name = "test",
                                   .events_ep = x->events_ep,
                                   .catchup_ep = x->catchup_ep,
                                   .batch_max = 4,
                                   .catchup_page = 3,
                                   .once = once};
    x->sub = subscriber_new(r->zctx, &x->cfg, &db_ops, x->live);
    cr_assert_not_null(x->sub);
}

static void
world_fini(world_t *x)
{
    relay_t *r = &x->relay;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    subscriber_destroy(&x->sub);
    bus_close(&x->control);
    bus_close(&r->router);
    bus_close(&r->pub);
    zmq_ctx_term(r->zctx);
    codec_writer_fini(&r->w);
    free(r->h);
    dbmodel_close(&x->live);
    scratch_remove(x->dir);
}

static int64_t
model_checkpoint(world_t *x)
{
    int64_t position = -1;
    cr_assert_eq(modeldb_checkpoint_get(x->live->db, &position), SQLITE_OK);
    return position;
}

/* Runs x's subscriber to its end and checks the model's checkpoint. */
static void
run_to_checkpoint(world_t *x, int64_t checkpoint)
{
    cr_assert_eq(subscriber_run(x->sub), 0);
    cr_assert_eq(model_checkpoint(x), checkpoint);
}

Test(subscriber, an_empty_model_catches_up_in_order, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 0, "", true);
    run_to_checkpoint(&x, 10);
    cr_assert_eq(x.live->n_seen, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(x.live->seen[i], i + 1);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert_eq(st.checkpoint, 10);
    cr_assert_eq(st.applied, 10);
    cr_assert_not(st.unusable);
    world_fini(&x);
}

Test(subscriber, a_model_of_the_same_history_goes_on_from_its_checkpoint, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 5, "e5", true);
    run_to_checkpoint(&x, 10);
    cr_assert_eq(x.live->n_seen, 5);
    cr_assert_eq(x.live->seen[0], 6, "nothing at or below the checkpoint is applied again");
    world_fini(&x);
}

Test(subscriber, a_model_of_another_history_is_written_no_more, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 5, "from-another-store", true);
    cr_assert_eq(subscriber_run(x.sub), -1, "this run cannot rebuild: it stops");
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert(st.unusable);
    cr_assert_eq(x.live->n_seen, 0);
    cr_assert_eq(model_checkpoint(&x), 5);
    world_fini(&x);
}

Test(subscriber, a_store_head_below_the_checkpoint_is_checked, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 4, 8, "e8", true); /* a store restored from an older backup */
    cr_assert_eq(subscriber_run(x.sub), -1);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert(st.unusable, "the store has no event at the checkpoint");
    cr_assert_eq(x.live->n_seen, 0);
    world_fini(&x);
}

/* The scenario of the live test, on its own thread while the runtime runs:
 * waits for the start catch-up, then publishes a duplicate, the next
 * event, and one past a gap. */
static void *
live_scenario(void *arg)
{
    world_t *x = arg;
    relay_t *r = &x->relay;
    while (atomic_load(&r->requests) < 1)
        usleep(1000);
    usleep(300000);      /* the SUB's subscription reaches the PUB */
    relay_publish(r, 3); /* a duplicate */
    atomic_store(&r->head, 6);
    relay_publish(r, 6); /* the next */
    usleep(100000);
    atomic_store(&r->head, 9);
    relay_publish(r, 9); /* 7 and 8 missed: a gap */
    usleep(500000);
    proc_request_stop();
    return NULL;
}

Test(subscriber, live_events_duplicates_dropped_and_gaps_filled, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 5, 0, "", false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, live_scenario, &x), 0);
    cr_assert_eq(subscriber_run(x.sub), 0);
    pthread_join(t, NULL);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert_eq(st.checkpoint, 9);
    cr_assert_eq(model_checkpoint(&x), 9);
    cr_assert_geq(st.duplicates, 1);
    cr_assert_geq(st.gaps, 1);
    cr_assert_eq(x.live->n_seen, 9);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(x.live->seen[i], i + 1, "in order, each once");
    world_fini(&x);
}

/* Stops the runtime after ms milliseconds (a thread's body; arg: ms). */
static void *
stop_later(void *arg)
{
    usleep((useconds_t)(intptr_t)arg * 1000);
    proc_request_stop();
    return NULL;
}

Test(subscriber, an_event_that_does_not_follow_the_chain_is_not_applied, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 0, "", false);
    atomic_store(&x.relay.tamper_at, 6);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_later, (void *)(intptr_t)1500), 0);
    cr_assert_eq(subscriber_run(x.sub), 0);
    pthread_join(t, NULL);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert_eq(st.checkpoint, 5, "applied up to the event before the changed one");
    cr_assert_eq(model_checkpoint(&x), 5);
    cr_assert_eq(st.chain_broken_at, 6);
    cr_assert_eq(x.live->n_seen, 5);
    cr_assert_not(st.unusable, "the model is intact: it just waits");
    world_fini(&x);
}

Test(subscriber, a_model_of_another_history_is_rebuilt_and_swapped_in, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 5, "from-another-store", false);
    const subscriber_factory_t factory = {world_open, NULL, world_activate, world_close, &x};
    subscriber_set_factory(x.sub, &factory, x.path);
    dbmodel_t *old = x.live;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_later, (void *)(intptr_t)1500), 0);
    cr_assert_eq(subscriber_run(x.sub), 0);
    pthread_join(t, NULL);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert_eq(st.rebuilds, 1);
    cr_assert_not(st.unusable);
    cr_assert_eq(st.checkpoint, 10);
    cr_assert_neq(x.live, old, "the rebuilt model is live (the old one is closed)");
    cr_assert_eq(x.live->n_seen, 10, "built from position 1");
    cr_assert_eq(model_checkpoint(&x), 10);
    char target[PATH_MAX];
    cr_assert_gt(readlink(x.path, target, sizeof target), 0, "the live name is a symlink");
    world_fini(&x);
}

/* ---- a catch-up request outstanding -------------------------------------- */

/* Makes the world's runtime again from x->cfg (nothing ran yet). */
static void
world_remake(world_t *x)
{
    subscriber_destroy(&x->sub);
    x->sub = subscriber_new(x->relay.zctx, &x->cfg, &db_ops, x->live);
    cr_assert_not_null(x->sub);
}

/* Gives the world's runtime a catch-up deadline of ms and a control
 * ROUTER. */
static void
world_control(world_t *x, int catchup_timeout_ms)
{
    x->cfg.catchup_timeout_ms = catchup_timeout_ms;
    world_remake(x);
    snprintf(x->control_ep, sizeof x->control_ep, "inproc://control-%p", (void *)x);
    x->control = bus_bind(x->relay.zctx, ZMQ_ROUTER, x->control_ep);
    cr_assert_not_null(x->control);
    subscriber_set_control(x->sub, x->control, NULL, NULL);
}

/* Asks the runtime's control socket for Status on a DEALER of its own,
 * waiting at most timeout_ms: the checkpoint it reports, or -1 when no
 * answer came. */
static int64_t
control_checkpoint(world_t *x, int timeout_ms)
{
    void *d = bus_connect(x->relay.zctx, ZMQ_DEALER, x->control_ep);
    cr_assert_not_null(d);
    codec_writer_t w;
    codec_writer_init(&w);
    codec_map_open(&w);
    codec_map_str(&w, "type", "Status");
    codec_map_close(&w);
    void *reply = NULL;
    size_t len = 0;
    int64_t checkpoint = -1;
    if (bus_request(d, w.buf.data, w.buf.size, timeout_ms, &reply, &len) == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        const char *why;
        cr_assert_eq(codec_parse(reply, len, &u, &why), 0);
        cr_assert_eq(codec_get_int(codec_map_get(&u.data, "checkpoint"), &checkpoint), 0);
        msgpack_unpacked_destroy(&u);
    }
    free(reply);
    bus_close(&d);
    codec_writer_fini(&w);
    return checkpoint;
}

#define POLLS 20
#define POLL_TIMEOUT_MS 100

/* The poller of the control test, on its own thread while the runtime
 * runs: Status POLLS times while the relay is silent, then the relay
 * answers again, and the runtime is stopped once it reports the head. */
typedef struct {
    world_t *x;
    int answered;       /* polls answered within POLL_TIMEOUT_MS */
    int64_t slowest_ms; /* the longest a poll took */
    int64_t reached;    /* the checkpoint reported last */
} poller_t;

static void *
poll_scenario(void *arg)
{
    poller_t *p = arg;
    relay_t *r = &p->x->relay;
    while (atomic_load(&r->received) < 1)
        usleep(1000); /* the runtime's first request is out, unanswered */
    for (int i = 0; i < POLLS; i++) {
        int64_t t0 = proc_mono_ms();
        p->answered += control_checkpoint(p->x, POLL_TIMEOUT_MS) >= 0;
        int64_t took = proc_mono_ms() - t0;
        p->slowest_ms = took > p->slowest_ms ? took : p->slowest_ms;
        usleep(30000);
    }
    atomic_store(&r->silent, false);
    int64_t deadline = proc_mono_ms() + 10000;
    while ((p->reached = control_checkpoint(p->x, 1000)) < 10 && proc_mono_ms() < deadline)
        usleep(10000);
    proc_request_stop();
    return NULL;
}

/* Every position of the world's store applied once, in order, from first. */
static void
assert_applied_once_in_order(world_t *x, int first)
{
    cr_assert_eq(model_checkpoint(x), 10);
    cr_assert_eq(x->live->n_seen, 10 - first + 1);
    for (int i = 0; i < x->live->n_seen; i++)
        cr_assert_eq(x->live->seen[i], first + i, "in order, each once");
}

Test(subscriber, control_is_answered_while_a_catch_up_waits_for_its_reply, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 5, "e5", false); /* the model is checked first, through the relay */
    world_control(&x, 300);                 /* deadlines and back-offs pass during the polls */
    atomic_store(&x.relay.silent, true);
    poller_t p = {.x = &x};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, poll_scenario, &p), 0);
    cr_assert_eq(subscriber_run(x.sub), 0);
    pthread_join(t, NULL);
    cr_assert_eq(p.answered, POLLS, "%d of %d polls answered (slowest %lld ms)", p.answered, POLLS,
                 (long long)p.slowest_ms);
    cr_assert_geq(atomic_load(&x.relay.received), 2, "the request timed out and was asked again");
    cr_assert_eq(p.reached, 10, "the catch-up went on once the relay answered");
    assert_applied_once_in_order(&x, 6);
    world_fini(&x);
}

Test(subscriber, a_reply_after_its_deadline_is_not_applied, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 5, "e5", false);
    world_control(&x, 300);
    atomic_store(&x.relay.late_nth, 2);  /* the first page after the check... */
    atomic_store(&x.relay.late_ms, 800); /* ...comes after its deadline, to a closed socket */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_later, (void *)(intptr_t)2500), 0);
    cr_assert_eq(subscriber_run(x.sub), 0);
    pthread_join(t, NULL);
    cr_assert_geq(atomic_load(&x.relay.received), 4, "the late page was asked again");
    assert_applied_once_in_order(&x, 6);
    world_fini(&x);
}

Test(subscriber, a_reply_to_an_older_request_is_not_applied, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 0, "", true);
    atomic_store(&x.relay.copies, 2); /* a page's second copy answers the next request */
    cr_assert_eq(subscriber_run(x.sub), 0);
    assert_applied_once_in_order(&x, 1);
    world_fini(&x);
}

Test(subscriber, a_catch_up_batch_stays_open_while_its_next_page_is_awaited, .timeout = 30)
{
    world_t x;
    world_init(&x, 10, 10, 0, "", true);
    x.cfg.batch_max = 100; /* only the catch-up decides when to commit */
    world_remake(&x);
    atomic_store(&x.relay.late_nth, -1);
    atomic_store(&x.relay.late_ms, 30); /* every page is awaited, well within its deadline */
    cr_assert_eq(subscriber_run(x.sub), 0);
    subscriber_status_t st;
    subscriber_status(x.sub, &st);
    cr_assert_eq(st.commits, 1, "4 pages, one commit at the head (not one per wait): %lld",
                 (long long)st.commits);
    assert_applied_once_in_order(&x, 1);
    world_fini(&x);
}
