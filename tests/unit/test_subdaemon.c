/* Unit tests of common/subscriber/subdaemon: the shared settings table (defaults, the
 * daemon's own names, extras, precedence, mode flags, bad values) and the
 * socket and runtime lifecycle on an ipc:// endpoint in a temporary folder. */
#include "scratch.h"
#include "subdaemon.h"
#include "topology.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *extra_ep = "tcp://127.0.0.1:1"; /* the --extra target */
static const config_option_t extra_opt = {"--extra", "INV_TEST_EXTRA", CONFIG_STR, &extra_ep,
                                          "an extra option"};
static const subdaemon_spec_t spec = {
    .name = "test",
    .prog = "test-service",
    .db = {"test.db", "INV_TEST_DB", "test database file"},
    .bind = {"tcp://127.0.0.1:2", "INV_TEST_BIND", "ROUTER to bind"},
    .linger_env = "INV_TEST_LINGER_MS",
    .extra = &extra_opt,
    .n_extra = 1,
};

static int
parse(subdaemon_config_t *cfg, int argc, char **argv)
{
    return subdaemon_settings(cfg, &spec, argc, argv);
}

Test(subdaemon, defaults_come_from_the_spec_and_topology)
{
    char *argv[] = {"test-service", NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 1, argv), 0);
    cr_assert_str_eq(cfg.db, "test.db");
    cr_assert_str_eq(cfg.events_ep, EP_EVENTS);
    cr_assert_str_eq(cfg.catchup_ep, EP_CATCHUP);
    cr_assert_str_eq(cfg.bind, "tcp://127.0.0.1:2");
    cr_assert_str_eq(cfg.daemon.log_level, "info");
    cr_assert_str_eq(cfg.mode, "run");
    cr_assert_eq(cfg.linger_ms, 50);
    cr_assert_str_eq(cfg.name, "test");
    cr_assert_not(cfg.once);
    cr_assert_not(cfg.dump);
    cr_assert_eq(subdaemon_output(&cfg), stdout);
}

Test(subdaemon, flags_override_the_environment_and_reach_extras)
{
    setenv("INV_TEST_DB", "env.db", 1);
    setenv("INV_TEST_LINGER_MS", "7", 1);
    setenv("INV_TEST_BIND", "ipc://env", 1);
    char *argv[] = {
        "test-service", "--bind=ipc://flag", "--extra", "ipc://x", "--mode", "once", NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 6, argv), 0);
    cr_assert_str_eq(cfg.db, "env.db");
    cr_assert_eq(cfg.linger_ms, 7);
    cr_assert_str_eq(cfg.bind, "ipc://flag");
    cr_assert_str_eq(extra_ep, "ipc://x");
    cr_assert(cfg.once);
    cr_assert_null(subdaemon_output(&cfg));
    unsetenv("INV_TEST_DB");
    unsetenv("INV_TEST_LINGER_MS");
    unsetenv("INV_TEST_BIND");
}

Test(subdaemon, dump_mode_prints_nothing_live_and_unknown_modes_run)
{
    char *dump[] = {"test-service", "--mode=dump", NULL};
    char *other[] = {"test-service", "--mode=sometimes", NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 2, dump), 0);
    cr_assert(cfg.dump);
    cr_assert_not(cfg.once);
    cr_assert_null(subdaemon_output(&cfg));
    cr_assert_eq(parse(&cfg, 2, other), 0);
    cr_assert_not(cfg.dump);
    cr_assert_not(cfg.once);
}

Test(subdaemon, bad_settings_and_help_stop_start_up)
{
    char *level[] = {"test-service", "--log-level", "loud", NULL};
    char *linger[] = {"test-service", "--commit-linger-ms=soon", NULL};
    char *help[] = {"test-service", "--help", NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 3, level), -1);
    cr_assert_eq(parse(&cfg, 2, linger), -1);
    cr_assert_eq(parse(&cfg, 2, help), 1);
}

static int
no_control(void *arg, const char *type, const mpread_t *req, codec_writer_t *w)
{
    (void)arg;
    (void)type;
    (void)req;
    (void)w;
    return -1;
}

Test(subdaemon, start_binds_and_fini_closes_in_any_state)
{
    char dir[64];
    scratch_make(dir, sizeof dir, "subdaemon");
    char bind[128], extra[128];
    snprintf(bind, sizeof bind, "ipc://%s/control", dir);
    snprintf(extra, sizeof extra, "ipc://%s/pub", dir);
    char *argv[] = {"test-service", "--bind", bind, NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 3, argv), 0);

    static const subscriber_ops_t ops; /* never called: the runtime does not run */
    const subscriber_factory_t factory = {0};
    int model = 0;
    const subdaemon_model_t m = {&ops, &model, no_control, NULL, &factory};
    subdaemon_t d;
    subdaemon_init(&d);
    cr_assert_not_null(subdaemon_bind(&d, ZMQ_PUB, extra));
    cr_assert_eq(subdaemon_start(&d, &cfg, &m), 0);
    subdaemon_fini(&d);
    subdaemon_fini(&d); /* idempotent */

    cfg.bind = "nonsense://here";
    subdaemon_init(&d);
    errno = 0;
    cr_assert_eq(subdaemon_start(&d, &cfg, &m), -1);
    cr_assert_neq(errno, 0);
    subdaemon_fini(&d);
    scratch_remove(dir); /* and the ipc socket files ZeroMQ leaves */
}

/* A daemon whose settings predate the shared ones (the projector's). */
static const subdaemon_spec_t own_spec = {
    .name = "own",
    .prog = "own-service",
    .db = {"own.db", "INV_OWN_DB", "own database"},
    .bind = {"tcp://127.0.0.1:3", "INV_OWN_BIND", "control ROUTER endpoint"},
    .linger_env = "INV_OWN_LINGER_MS",
    .events_help = "relay PUB endpoint",
    .linger_ms = 3,
    .once_batch_max = 50000,
};

Test(subdaemon, a_spec_keeps_its_own_defaults_and_once_batches)
{
    char *run[] = {"own-service", NULL};
    char *once[] = {"own-service", "--mode", "once", NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(subdaemon_settings(&cfg, &own_spec, 1, run), 0);
    cr_assert_eq(cfg.linger_ms, 3);
    cr_assert_eq(cfg.batch_max, 5000);
    cr_assert_eq(subdaemon_settings(&cfg, &own_spec, 3, once), 0);
    cr_assert_eq(cfg.batch_max, 50000);
    cr_assert_eq(parse(&cfg, 3, once), 0);
    cr_assert_eq(cfg.linger_ms, 50, "the shared default");
    cr_assert_eq(cfg.batch_max, 5000, "the shared once batch");
}

/* subdaemon_open_fn that fails, counting its calls. */
static void *
failing_open(void *calls, const subdaemon_config_t *cfg, const char **why)
{
    (void)cfg;
    ++*(int *)calls;
    *why = "cannot";
    return NULL;
}

Test(subdaemon, a_damaged_model_is_removed_and_opened_anew)
{
    char dir[64], db[128];
    scratch_make_file(dir, sizeof dir, "subdaemon", "model.db", db, sizeof db);
    char *argv[] = {"test-service", "--db", db, NULL};
    subdaemon_config_t cfg;
    cr_assert_eq(parse(&cfg, 3, argv), 0);
    int calls = 0;
    const char *why = NULL;
    cr_assert_null(subdaemon_open_model(&cfg, failing_open, &calls, &why));
    cr_assert_eq(calls, 1, "a file that is not there is not damaged");
    FILE *f = fopen(db, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
    calls = 0;
    cr_assert_null(subdaemon_open_model(&cfg, failing_open, &calls, &why));
    cr_assert_eq(calls, 2, "a damaged file is removed and opened again");
    cr_assert_str_eq(why, "cannot");
    cr_assert_neq(access(db, F_OK), 0);
    scratch_remove(dir);
}
