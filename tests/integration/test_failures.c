/* Store failures: a command that cannot get the write lock (SQLITE_BUSY) is
 * answered `unavailable` and leaves nothing behind (no event, no outbox
 * row, no idempotency row), and the same command, retried with the same
 * command_id once the lock is free, is accepted exactly once.  A command
 * accepted after another writer appended is remembered at its own event,
 * and a rejected one is decided again when retried.
 *
 * The lock is held by the test itself: its own connection to
 * <tmp>/events.db in BEGIN IMMEDIATE.  The command-service gets a short busy
 * timeout (INV_BUSY_TIMEOUT_MS, inherited through the environment) so that
 * the test does not sit through the 5 s default. */
#include "../unit/sample.h"
#include "eventstore.h"
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 300

static harness_t *h;
static sqlite3 *db;

static char full_mnt[64]; /* a small tmpfs mounted by a test ("": none) */

static void
cleanup(void)
{
    if (db)
        sqlite3_close(db);
    db = NULL;
    harness_destroy(&h);
    if (full_mnt[0]) {
        umount2(full_mnt, MNT_DETACH);
        rmdir(full_mnt);
        full_mnt[0] = '\0';
    }
}

TestSuite(failures, .fini = cleanup, .timeout = 120);

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The subscribers and their models. */
static const char *const sub_names[] = {"projector", "audit", "alert"};
static const char *const sub_models[] = {"read.db", "audit.db", "alerts.db"};

/* The system without the query service. */
static void
start_without_queries(void)
{
    h = harness_start(
        &(harness_opts_t){.daemons = HD_COMMAND | HD_RELAY | HD_PROJECTOR | HD_AUDIT | HD_ALERT});
    cr_assert(h);
}

static int64_t
head(void)
{
    harness_reply_t r;
    cr_assert_eq(harness_status(h, "catchup", ITEST_TIMEOUT_MS, &r), 0);
    int64_t v = itest_int(r.root, "head");
    harness_reply_fini(&r);
    return v;
}

static int64_t
count_rows(const char *sql)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void
exec(const char *sql)
{
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err ? err : "");
}

static void
supplier_cmd(command_t *c, const char *command_id, const char *supplier_id, const char *name)
{
    itest_cmd(c, CMD_REGISTER_SUPPLIER, command_id);
    fields_set_str(&c->data, F_SUPPLIER_ID, supplier_id);
    fields_set_str(&c->data, F_NAME, name);
}

/* Registers supplier supplier_id (command command_id); its position. */
static int64_t
accept_supplier(const char *command_id, const char *supplier_id, const char *name)
{
    command_t c;
    supplier_cmd(&c, command_id, supplier_id, name);
    return itest_accept(h, &c);
}

Test(failures, busy_store_answers_unavailable_and_appends_nothing)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", BUSY_TIMEOUT_MS);
    setenv("INV_BUSY_TIMEOUT_MS", ms, 1); /* the daemons inherit it */
    h = harness_start(NULL);
    cr_assert_not_null(h);

    command_t c;
    int64_t p1 = accept_supplier("reg-s1", "s1", "Acme Tools");
    cr_assert_eq(harness_wait_position(h, "projector", p1, ITEST_WAIT_MS), 0);
    int64_t h0 = head();
    cr_assert_eq(h0, p1);

    char path[512];
    snprintf(path, sizeof path, "%s/events.db", harness_dir(h));
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    exec("BEGIN IMMEDIATE");

    supplier_cmd(&c, "reg-s2", "s2", "Bolt Brothers");
    command_reply_t r;
    int64_t t0 = now_ms();
    cr_assert_eq(harness_command(h, &c, 15000, &r), 0, "no reply while the store is locked");
    int64_t waited = now_ms() - t0;
    cr_assert_not(r.accepted, "accepted while another connection holds the write lock");
    cr_assert_eq(r.error, REJ_UNAVAILABLE, "got %s (%s)", reject_code_name(r.error), r.message);
    cr_assert_str_eq(r.command_id, "reg-s2");
    cr_assert_geq(waited, BUSY_TIMEOUT_MS - 50, "the busy timeout was honoured (%lld ms)",
                  (long long)waited);
    cr_assert_lt(waited, 5000, "--busy-timeout-ms is used, not the 5 s default");

    /* other readers are not blocked; nothing was appended */
    cr_assert_eq(head(), h0, "an unavailable command appended an event");
    exec("ROLLBACK");
    cr_assert_eq(count_rows("SELECT count(*) FROM events"), h0);
    harness_reply_t st;
    cr_assert_eq(harness_status(h, "command", ITEST_TIMEOUT_MS, &st), 0);
    cr_assert_eq(itest_int(st.root, "unavailable"), 1);
    cr_assert_eq(itest_int(st.root, "head"), h0);
    harness_reply_fini(&st);

    /* the lock is free: the same command (same id) is accepted, once */
    command_reply_t again;
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &again), 0);
    cr_assert(again.accepted, "the retry was refused: %s", again.message);
    cr_assert_not(again.duplicate, "the failed attempt stored no reply");
    cr_assert_eq(again.position, h0 + 1);
    cr_assert_str_eq(again.stream, "supplier-s2");
    cr_assert_eq(again.version, 1);
    cr_assert_eq(head(), h0 + 1, "the head moved by exactly one");
    cr_assert_eq(count_rows("SELECT count(*) FROM events WHERE command_id = 'reg-s2'"), 1);
    /* a further retry is a duplicate of that acceptance */
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &again), 0);
    cr_assert(again.accepted && again.duplicate);
    cr_assert_eq(again.position, h0 + 1);
    cr_assert_eq(head(), h0 + 1);

    /* and it reaches the read side */
    harness_reply_t q;
    itest_request(h, "query", &q, "ListSuppliers", "Ii", "min_position", h0 + 1, "wait_ms", 5000);
    itest_assert_ok(&q, "ListSuppliers");
    cr_assert(itest_bool(q.root, "reached"));
    cr_assert_eq(itest_items(&q)->via.array.size, 2);
    harness_reply_fini(&q);

    sqlite3_close(db);
    db = NULL;
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* The command-service claims a command's id with the position its first
 * event is expected to get (the next after its own last append).  When
 * another writer appended in between, the event lands later and the claim
 * is moved there: a retry names the command's own event, not the other
 * writer's.  A rejected command's claim is released: its retry is decided
 * again. */
Test(failures, a_claim_follows_the_event_when_another_writer_appended)
{
    h = harness_start(NULL);
    cr_assert_not_null(h);
    command_t c;
    int64_t p1 = accept_supplier("reg-s1", "s1", "Acme Tools");

    char path[512];
    snprintf(path, sizeof path, "%s/events.db", harness_dir(h));
    eventstore_t *other = NULL;
    eventstore_options_t eo = {true, 5000, 0, 0};
    cr_assert_eq(eventstore_open(path, &eo, &other), ERR_OK);
    event_t *ev = malloc(sizeof *ev);
    cr_assert_eq(eventstore_begin(other), ERR_OK);
    for (int v = 1; v <= 2; v++) {
        sample_event(ev, v == 1 ? EV_PRODUCT_CREATED : EV_PRODUCT_VIEWED, "product-other", v, v);
        cr_assert_eq(eventstore_append(other, ev), ERR_OK);
    }
    cr_assert_eq(eventstore_commit(other), ERR_OK);
    free(ev);
    eventstore_close(&other);

    supplier_cmd(&c, "reg-s2", "s2", "Bolt Brothers");
    command_reply_t first, again;
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &first), 0);
    cr_assert(first.accepted, "%s", first.message);
    cr_assert_eq(first.position, p1 + 3, "after the other writer's two events");
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &again), 0);
    cr_assert(again.accepted && again.duplicate);
    cr_assert_eq(again.position, p1 + 3);
    cr_assert_str_eq(again.stream, "supplier-s2");
    cr_assert_eq(again.version, 1);

    /* rejected (s1 exists): released, so the same id is decided again */
    supplier_cmd(&c, "reg-again", "s1", "Acme Again");
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &first), 0);
    cr_assert_eq(first.error, REJ_ALREADY_EXISTS);
    fields_set_str(&c.data, F_SUPPLIER_ID, "s3");
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &again), 0);
    cr_assert(again.accepted && !again.duplicate, "%s", again.message);
    cr_assert_eq(again.position, p1 + 4);
    cr_assert_str_eq(again.stream, "supplier-s3");
}

/* ---- read models without fsyncs (--sync off, G10) -------------------------- */

/* Path of a file in the harness's folder. */
static void
in_dir(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", harness_dir(h), name);
}

static void
read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s is missing", path);
    cr_assert(fgets(out, (int)cap, f), "%s is empty", path);
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

static void
write_line(const char *path, const char *line)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fprintf(f, "%s\n", line);
    fclose(f);
}

static bool
file_exists(const char *name)
{
    char path[512];
    in_dir(name, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

/* Leaves a table in a model's file while its daemon is down: it is still
 * there after a restart only if the file was kept. */
static void
plant_witness(const char *model)
{
    char path[512];
    in_dir(model, path, sizeof path);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec("CREATE TABLE witness(x)");
    sqlite3_close(db);
    db = NULL;
}

static bool
has_witness(const char *model)
{
    char path[512];
    in_dir(model, path, sizeof path);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    bool found = count_rows("SELECT count(*) FROM sqlite_master WHERE name = 'witness'") == 1;
    sqlite3_close(db);
    db = NULL;
    return found;
}

static bool
log_has(const char *daemon, const char *text)
{
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/%s.log", harness_dir(h), daemon);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s is missing", path);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* `<daemon binary> --mode dump --db <model>` with its output dropped: its
 * exit status, or -1. */
static int
dump_model(const char *daemon, const char *model)
{
    char path[512];
    in_dir(model, path, sizeof path);
    char *argv[] = {(char *)harness_binary(daemon), "--mode", "dump", "--db", path, NULL};
    return itest_run(argv, "/dev/null", false);
}

Test(failures, a_model_written_unsynced_before_a_system_restart_is_rebuilt, .timeout = 120)
{
    start_without_queries();
    int64_t pos = 0;
    char id[64], sid[64];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "unsynced-%d", i);
        snprintf(sid, sizeof sid, "SUP-U%d", i);
        pos = accept_supplier(id, sid, "Unsynced Supplies");
    }
    char boot[64], mark[512], line[128];
    FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "r");
    cr_assert(bf && fgets(boot, sizeof boot, bf));
    fclose(bf);
    boot[strcspn(boot, "\n")] = '\0';
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
        snprintf(line, sizeof line, "%s-unsynced", sub_models[i]);
        in_dir(line, mark, sizeof mark);
        read_line(mark, line, sizeof line);
        cr_assert_str_eq(line, boot, "%s's marker holds the running system's boot id",
                         sub_models[i]);
        cr_assert_eq(harness_daemon_kill(h, sub_names[i]), 0);
        plant_witness(sub_models[i]);
    }
    /* The projector and the audit "come back after a system crash": their
     * markers name another boot.  The alert daemon only crashed. */
    for (int i = 0; i < 2; i++) {
        snprintf(line, sizeof line, "%s-unsynced", sub_models[i]);
        in_dir(line, mark, sizeof mark);
        write_line(mark, "00000000-0000-0000-0000-000000000000");
    }
    /* A dump reads a file as it is: it neither discards it nor touches its
     * marker. */
    cr_assert_eq(dump_model("projector", "read.db"), 0);
    cr_assert(has_witness("read.db"), "a dump discarded the file it was asked to print");
    in_dir("read.db-unsynced", mark, sizeof mark);
    read_line(mark, line, sizeof line);
    cr_assert_str_eq(line, "00000000-0000-0000-0000-000000000000", "a dump changed the marker");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(harness_daemon_start(h, sub_names[i]), 0, "%s", sub_names[i]);
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
    }
    cr_assert_not(has_witness("read.db"), "the projector kept a file that may be torn");
    cr_assert_not(has_witness("audit.db"), "the audit kept a file that may be torn");
    cr_assert(has_witness("alerts.db"), "a crash of the process alone must keep the file");
    cr_assert(log_has("projector", "rebuilding it from the event log"));
    cr_assert(log_has("audit", "rebuilding it from the event log"));
    cr_assert_not(log_has("alert", "rebuilding it from the event log"));
    /* The rebuilt audit holds every event again. */
    in_dir("audit.db", mark, sizeof mark);
    cr_assert_eq(harness_daemon_stop(h, "audit"), 0);
    cr_assert_not(file_exists("audit.db-unsynced"), "a clean stop fsyncs and removes the marker");
    cr_assert_eq(sqlite3_open(mark, &db), SQLITE_OK);
    cr_assert_eq(count_rows("SELECT count(*) FROM audit"), pos);
    cr_assert_eq(count_rows("SELECT position FROM checkpoint"), pos);
    sqlite3_close(db);
    db = NULL;
}

/* A second daemon started on a model's file (another --bind) is refused
 * before it touches the file: otherwise both would write it, and the
 * second's stop would fsync and remove the marker the first still writes
 * under (G12).  Each second writer runs --mode once, which without the
 * lock catches up, exits 0 and removes the marker. */
Test(failures, a_second_writer_of_a_model_is_refused, .timeout = 120)
{
    start_without_queries();
    int64_t pos = accept_supplier("second-writer-1", "SUP-W1", "Writer Supplies");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
        char db_path[512], bind[512], log[512], name[64], mark[64];
        in_dir(sub_models[i], db_path, sizeof db_path);
        snprintf(bind, sizeof bind, "ipc://%s/second-%s.sock", harness_dir(h), sub_names[i]);
        snprintf(name, sizeof name, "second-%s", sub_names[i]);
        snprintf(log, sizeof log, "%s/%s.log", harness_dir(h), name);
        char *argv[] = {(char *)harness_binary(sub_names[i]),
                        "--mode",
                        "once",
                        "--db",
                        db_path,
                        "--bind",
                        bind,
                        "--events",
                        (char *)harness_endpoint(h, "events"),
                        "--catchup",
                        (char *)harness_endpoint(h, "catchup"),
                        NULL};
        cr_assert_eq(itest_run(argv, log, true), 1, "a second %s ran on %s", sub_names[i],
                     sub_models[i]);
        cr_assert(log_has(name, "is written by another process"), "%s", sub_names[i]);
        snprintf(mark, sizeof mark, "%s-unsynced", sub_models[i]);
        cr_assert(file_exists(mark), "the refused %s removed the running one's marker",
                  sub_names[i]);
    }
    /* The running daemons go on. */
    pos = accept_supplier("second-writer-2", "SUP-W2", "Writer Supplies");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
}

/* Two command-services on one store answered a quarter of the commands
 * `unavailable` ("store error (not an error)"): the second is refused at
 * start, naming the first one's pid, and the first goes on. */
Test(failures, a_second_command_service_on_a_store_is_refused, .timeout = 120)
{
    h = harness_start(&(harness_opts_t){.daemons = HD_COMMAND | HD_RELAY});
    cr_assert(h);
    accept_supplier("second-command-1", "SUP-C1", "Command Supplies");
    char db_path[512], bind[512], log[512], holder[64];
    in_dir("events.db", db_path, sizeof db_path);
    snprintf(bind, sizeof bind, "ipc://%s/second-command.sock", harness_dir(h));
    snprintf(log, sizeof log, "%s/second-command.log", harness_dir(h));
    char *argv[] = {
        (char *)harness_binary("command"),    "--db", db_path, "--bind", bind, "--nudge",
        (char *)harness_endpoint(h, "nudge"), NULL};
    cr_assert_eq(itest_run(argv, log, true), 1, "a second command-service ran on the store");
    snprintf(holder, sizeof holder, "pid %ld holds", (long)harness_daemon_pid(h, "command"));
    cr_assert(log_has("second-command", "is written by another process"));
    cr_assert(log_has("second-command", holder), "the refusal names the first one's pid");
    accept_supplier("second-command-2", "SUP-C2", "Command Supplies");
}

/* FNV-1a of a file in the harness folder (0: unreadable). */
static uint64_t
file_hash(const char *name)
{
    char path[512];
    in_dir(name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t hash = 14695981039346656037ULL;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        hash = (hash ^ (uint64_t)ch) * 1099511628211ULL;
    fclose(f);
    return hash;
}

/* --mode dump reads a model read-only: a missing file is an error, not a
 * new empty model, and a stopped model's file is left byte for byte. */
Test(failures, a_dump_opens_the_model_read_only, .timeout = 120)
{
    start_without_queries();
    int64_t pos = accept_supplier("dump-read-only-1", "SUP-D1", "Dump Supplies");
    for (int i = 0; i < 3; i++) {
        char missing[64];
        snprintf(missing, sizeof missing, "missing-%s", sub_models[i]);
        cr_assert_neq(dump_model(sub_names[i], missing), 0, "%s dumped a missing file",
                      sub_names[i]);
        cr_assert_not(file_exists(missing), "%s's dump created %s", sub_names[i], missing);
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
        cr_assert_eq(harness_daemon_stop(h, sub_names[i]), 0, "%s", sub_names[i]);
        uint64_t before = file_hash(sub_models[i]);
        cr_assert_neq(before, 0);
        cr_assert_eq(dump_model(sub_names[i], sub_models[i]), 0, "%s", sub_names[i]);
        cr_assert_eq(file_hash(sub_models[i]), before, "the dump of %s wrote to it", sub_models[i]);
    }
}

Test(failures, invbench_stops_when_nothing_answers, .timeout = 60)
{
    /* A command-service that hangs (stopped, not dead: its socket stays
     * connected): the load generator must fail, not wait forever. */
    h = harness_start(&(harness_opts_t){.daemons = HD_COMMAND | HD_RELAY});
    cr_assert(h);
    cr_assert_eq(harness_daemon_sigstop(h, "command"), 0);
    char log[512];
    in_dir("stalled-bench.log", log, sizeof log);
    char *argv[] = {(char *)harness_binary("invbench"),
                    "--command-ep",
                    (char *)harness_endpoint(h, "command"),
                    "--projector-ep",
                    "",
                    "--setup",
                    "0",
                    "--products",
                    "1",
                    "--count",
                    "20",
                    "--stall-ms",
                    "300",
                    NULL};
    cr_assert_eq(itest_run(argv, log, true), 1);
    cr_assert(log_has("stalled-bench", "no reply for 300 ms with 20 requests in flight"));
    cr_assert_eq(harness_daemon_sigcont(h, "command"), 0);
}

/* Writes zeros to path until the file system is full.  Bytes written. */
static int64_t
fill_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    static char zeros[4096];
    int64_t n = 0;
    ssize_t w;
    while ((w = write(fd, zeros, sizeof zeros)) > 0)
        n += w;
    cr_assert_eq(errno, ENOSPC, "filling %s: %s", path, strerror(errno));
    close(fd);
    return n;
}

/* Mounts an 8 MiB tmpfs at full_mnt and starts every daemon on it; skips
 * the test when this is not root. */
static void
start_on_small_disk(void)
{
    snprintf(full_mnt, sizeof full_mnt, "/tmp/inv-full-XXXXXX");
    cr_assert_not_null(mkdtemp(full_mnt));
    if (mount("tmpfs", full_mnt, "tmpfs", 0, "size=8m") != 0) {
        int err = errno;
        rmdir(full_mnt);
        full_mnt[0] = '\0';
        cr_skip_test("cannot mount a tmpfs here (%s): this test needs root", strerror(err));
    }
    h = harness_start(&(harness_opts_t){.parent = full_mnt});
    cr_assert(h);
}

Test(failures, a_full_disk_answers_unavailable_loses_nothing_and_recovers, .timeout = 120)
{
    /* Every file of the system on an 8 MiB tmpfs (root only: skipped
     * elsewhere), then the disk filled to the last byte. */
    start_on_small_disk();
    command_t c;
    char cid[64], sid[64];
    int64_t first = accept_supplier("full-first", "full-first", "Before The Flood");
    char filler[128];
    snprintf(filler, sizeof filler, "%s/filler", full_mnt);
    fill_disk(filler);
    /* Commands until the store cannot grow (a WAL reused after its restart
     * has room for a while): each is accepted or answered unavailable. */
    enum { MAX_CMDS = 4000, AFTER_FULL = 20 };
    static int unavailable[MAX_CMDS]; /* numbers of the refused commands */
    int accepted = 0, refused = 0;
    for (int i = 0; i < MAX_CMDS && (refused == 0 || refused < AFTER_FULL); i++) {
        snprintf(cid, sizeof cid, "full-%d", i);
        snprintf(sid, sizeof sid, "full-s%d", i);
        supplier_cmd(&c, cid, sid, "Full Disk Supplies");
        command_reply_t r;
        cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &r), 0, "%s: no reply", cid);
        if (r.accepted) {
            accepted++;
            continue;
        }
        cr_assert_eq(r.error, REJ_UNAVAILABLE, "%s: %s %s", cid, reject_code_name(r.error),
                     r.message);
        unavailable[refused++] = i;
    }
    cr_assert_gt(refused, 0, "the store never ran out of space");
    fprintf(stderr, "full disk: %d accepted, then %d unavailable\n", accepted, refused);
    /* Nothing half-written: exactly the accepted commands have events. */
    cr_assert_eq(head(), first + accepted);
    /* Space again: the refused commands, retried with their ids, go in
     * once each, and every subscriber converges. */
    cr_assert_eq(unlink(filler), 0);
    for (int i = 0; i < refused; i++) {
        snprintf(cid, sizeof cid, "full-%d", unavailable[i]);
        snprintf(sid, sizeof sid, "full-s%d", unavailable[i]);
        accept_supplier(cid, sid, "Full Disk Supplies");
    }
    int64_t pos = head();
    cr_assert_eq(pos, first + accepted + refused);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
    char path[512];
    in_dir("read.db", path, sizeof path);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(count_rows("SELECT count(*) FROM suppliers WHERE supplier_id LIKE 'full-%'"),
                 1 + accepted + refused);
    sqlite3_close(db);
    db = NULL;
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

/* The root page of a table in a model of the harness folder. */
static int64_t
root_page(const char *model, const char *table)
{
    char path[512], sql[256];
    in_dir(model, path, sizeof path);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_master WHERE name = '%s'", table);
    int64_t page = count_rows(sql);
    sqlite3_close(db);
    db = NULL;
    cr_assert_gt(page, 0, "%s has no table %s", model, table);
    return page;
}

/* Overwrites len bytes at offset of a model file with a pattern that is
 * neither a database header nor a B-tree page. */
static void
damage(const char *model, int64_t offset, size_t len)
{
    char path[512];
    in_dir(model, path, sizeof path);
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(0xA5 ^ (i * 7));
    cr_assert_leq(len, sizeof junk);
    cr_assert_eq(pwrite(fd, junk, len, offset), (ssize_t)len);
    close(fd);
}

/* invbench on the harness: `count` commands over 30 products with the
 * prefix "dmg" (setup: create them first). */
static void
damage_load(int count, bool setup)
{
    char log[512], n[16];
    in_dir("damage-bench.log", log, sizeof log);
    snprintf(n, sizeof n, "%d", count);
    char *argv[] = {(char *)harness_binary("invbench"),
                    "--command-ep",
                    (char *)harness_endpoint(h, "command"),
                    "--projector-ep",
                    "",
                    "--prefix",
                    "dmg",
                    "--setup",
                    setup ? "1" : "0",
                    "--products",
                    "30",
                    "--count",
                    n,
                    NULL};
    cr_assert_eq(itest_run(argv, log, true), 0, "invbench failed (see %s)", log);
}

/* The system started, with 200 commands over 30 new products in it; the
 * head position. */
static int64_t
start_loaded(void)
{
    h = harness_start(NULL);
    cr_assert(h);
    damage_load(200, true);
    return head();
}

/* daemon's model file (in the harness's folder) holds what a model built
 * afresh from the store holds. */
static void
assert_model_fresh(const char *daemon, const char *model)
{
    char live[512];
    in_dir(model, live, sizeof live);
    itest_assert_equals_fresh(h, daemon, live);
}

Test(failures, a_damaged_model_is_rebuilt_from_the_log, .timeout = 180)
{
    /* Where a damaged model file is found: the projector's when a batch
     * writes to a damaged table (it is rebuilt beside the live one and
     * swapped in), the audit's when it opens (a page its start reads) and
     * the alert's when it is not a database at all (both are removed and
     * built again from position 0).  Each then goes on as if nothing had
     * happened. */
    h = harness_start(NULL);
    cr_assert(h);
    damage_load(600, true);
    int64_t pos = head();
    const char *control[] = {"projector", "audit", "alert-api"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
    const char *stopped[] = {"query", "projector", "audit", "alert"};
    for (int i = 0; i < 4; i++) /* the last connection folds the WAL into the file */
        cr_assert_eq(harness_daemon_stop(h, stopped[i]), 0, "stop %s", stopped[i]);
    damage("read.db", (root_page("read.db", "product_counters") - 1) * 4096, 4096);
    damage("audit.db", (root_page("audit.db", "checkpoint") - 1) * 4096, 4096);
    damage("alerts.db", 0, 100);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(harness_daemon_start(h, stopped[i]), 0, "start %s", stopped[i]);
    damage_load(300, false);
    pos = head();
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
        harness_reply_t r;
        cr_assert_eq(harness_status(h, control[i], ITEST_TIMEOUT_MS, &r), 0);
        cr_assert_not(itest_bool(r.root, "model_unusable"), "%s", sub_names[i]);
        cr_assert_eq(itest_int(r.root, "rebuilds"), i == 0 ? 1 : 0, "%s", sub_names[i]);
        harness_reply_fini(&r);
    }
    cr_assert(log_has("projector", "model has a damaged file: it is written no more"));
    cr_assert(log_has("audit", "audit.db is damaged (*** in database main *** Page "));
    cr_assert(log_has("alert", "is damaged (file is not a database): removed it"));
    for (int i = 0; i < 3; i++)
        assert_model_fresh(sub_names[i], sub_models[i]);
}

/* A system with history: 300 commands, a backup of the store with
 * `invctl backup` (its head through *backed_up), 200 more commands that
 * every subscriber has applied (the head through *seen).  The backup is
 * <tmp>/events-backup.db. */
static void
restore_setup(int64_t *backed_up, int64_t *seen)
{
    h = harness_start(NULL);
    cr_assert(h);
    damage_load(300, true);
    char events[512], backup[512], log[512];
    in_dir("events.db", events, sizeof events);
    in_dir("events-backup.db", backup, sizeof backup);
    in_dir("backup.log", log, sizeof log);
    char *argv[] = {(char *)harness_binary("invctl"), "backup", events, backup, NULL};
    cr_assert_eq(itest_run(argv, log, true), 0, "invctl backup failed (see %s)", log);
    cr_assert(log_has("backup", "backed up "));
    *backed_up = head();
    damage_load(200, false);
    *seen = head();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, sub_names[i], *seen, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
}

/* The restore, with the command-service and the relay stopped: the backup
 * in place of the store, its WAL files gone. */
static void
restore_backup(void)
{
    char events[512], backup[512], side[600];
    in_dir("events.db", events, sizeof events);
    in_dir("events-backup.db", backup, sizeof backup);
    for (int i = 0; i < 2; i++) {
        snprintf(side, sizeof side, "%s%s", events, i ? "-shm" : "-wal");
        unlink(side);
    }
    cr_assert_eq(rename(backup, events), 0);
}

/* Every subscriber reaches `now`, equals a fresh build, and logged `said`
 * and that its model was of another history. */
static void
assert_rebuilt_after_restore(int64_t now, const char *said)
{
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(harness_wait_position(h, sub_names[i], now, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
        assert_model_fresh(sub_names[i], sub_models[i]);
        cr_assert(log_has(sub_names[i], "was built from another history than the event store's"),
                  "%s", sub_names[i]);
        cr_assert(!said || log_has(sub_names[i], said), "%s: %s", sub_names[i], said);
    }
}

Test(failures, a_restored_store_makes_models_of_another_history_rebuild, .timeout = 180)
{
    /* A backup taken under load, more commands, then the store restored
     * from the backup with the system stopped, and new commands written
     * over the positions the models had already seen: a model that only
     * compared positions would take the new events for ones it has and
     * drop them.  Each subscriber must find its checkpoint event missing
     * from the store's history and rebuild. */
    int64_t backed_up, seen;
    restore_setup(&backed_up, &seen);
    const char *all[] = {"query", "projector", "audit", "alert", "relay", "command"};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(harness_daemon_stop(h, all[i]), 0, "stop %s", all[i]);
    restore_backup();
    /* new history over the positions the models have seen */
    cr_assert_eq(harness_daemon_start(h, "command"), 0);
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(head(), backed_up);
    damage_load(400, false);
    int64_t now = head();
    cr_assert_gt(now, seen);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(harness_daemon_start(h, all[i]), 0, "start %s", all[i]);
    assert_rebuilt_after_restore(now, NULL);
}

Test(failures, a_store_restored_under_running_subscribers_is_noticed, .timeout = 180)
{
    /* The same restore with the subscribers left running, and the restored
     * store written past their checkpoints before the relay comes back: no
     * head below a checkpoint ever shows; the relay's going away (their
     * event socket disconnects) is what makes them check before applying
     * what the new relay publishes. */
    int64_t backed_up, seen;
    restore_setup(&backed_up, &seen);
    cr_assert_eq(harness_daemon_stop(h, "relay"), 0);
    cr_assert_eq(harness_daemon_stop(h, "command"), 0);
    restore_backup();
    cr_assert_eq(harness_daemon_start(h, "command"), 0);
    damage_load(400, false); /* the relay is down: nothing is published yet */
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    int64_t now = head();
    cr_assert_gt(now, seen, "the restored store (%lld) is past the checkpoints (%lld)",
                 (long long)now, (long long)seen);
    cr_assert_gt(now, backed_up);
    assert_rebuilt_after_restore(now, "the relay's event socket disconnected");
}

/* Polls the relay's Status until its WAL numbers show the checkpoints held
 * back (behind: backfilled below frames) or caught up (all backfilled), up
 * to ITEST_WAIT_MS.  Returns the last numbers seen. */
static es_wal_state_t
wait_wal(bool behind)
{
    es_wal_state_t wal = {-1, -1};
    for (int64_t deadline = now_ms() + ITEST_WAIT_MS; now_ms() < deadline; usleep(50000)) {
        harness_reply_t r;
        cr_assert_eq(harness_status(h, "catchup", ITEST_TIMEOUT_MS, &r), 0);
        wal.frames = (int)itest_int(r.root, "wal_frames");
        wal.backfilled = (int)itest_int(r.root, "wal_backfilled");
        harness_reply_fini(&r);
        if (behind ? wal.backfilled < wal.frames : wal.backfilled == wal.frames)
            break;
    }
    return wal;
}

/* A reader that keeps an old snapshot of events.db open (an operator's
 * sqlite3 shell left in a transaction) keeps the checkpoints from copying
 * what was committed after it into the database file.  Nothing stops, the
 * relay's Status shows it (wal_backfilled below wal_frames), and once the
 * reader is gone the next checkpoint copies everything. */
Test(failures, a_reader_holding_the_wal_shows_in_the_relays_status, .timeout = 120)
{
    h = harness_start(NULL);
    cr_assert_not_null(h);
    accept_supplier("hold-s0", "h0", "Before the reader");

    char path[512];
    snprintf(path, sizeof path, "%s/events.db", harness_dir(h));
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    exec("BEGIN");
    int64_t seen = count_rows("SELECT count(*) FROM events"); /* the snapshot starts here */

    for (int i = 1; i <= 40; i++) {
        char id[32], sid[16];
        snprintf(id, sizeof id, "hold-s%d", i);
        snprintf(sid, sizeof sid, "h%d", i);
        accept_supplier(id, sid, "Behind the reader");
    }
    es_wal_state_t wal = wait_wal(true);
    cr_assert_lt(wal.backfilled, wal.frames, "the checkpoints copied past a reader's snapshot");
    usleep(600 * 1000); /* three more checkpoint periods: still held */
    es_wal_state_t later = wait_wal(true);
    cr_assert_lt(later.backfilled, later.frames);
    cr_assert_eq(count_rows("SELECT count(*) FROM events"), seen, "the snapshot moved");
    cr_assert_eq(head(), seen + 40, "the commands went on while the WAL was held");

    exec("COMMIT");
    sqlite3_close(db);
    db = NULL;
    wal = wait_wal(false);
    cr_assert_eq(wal.backfilled, wal.frames, "not caught up after the reader left: %d of %d",
                 wal.backfilled, wal.frames);
    cr_assert_eq(harness_destroy(&h), 0, "every daemon exits 0 on SIGTERM");
}

/* ---- issue 23: files that fill up, vanish or rot ------------------------- */

Test(failures, a_restart_on_a_full_disk_opens_the_store_and_the_models, .timeout = 120)
{
    start_on_small_disk();
    command_t c;
    char cid[64], sid[64];
    int64_t pos = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(cid, sizeof cid, "rfull-%d", i);
        snprintf(sid, sizeof sid, "rfull-s%d", i);
        pos = accept_supplier(cid, sid, "Restart Supplies");
    }
    const char *subs[] = {"projector", "audit", "alert"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, subs[i], pos, ITEST_WAIT_MS), 0, "%s", subs[i]);
    /* every daemon that writes a file dies, the disk fills, they restart */
    const char *writers[] = {"command", "relay", "projector", "audit", "alert"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(harness_daemon_kill(h, writers[i]), 0, "%s", writers[i]);
    char filler[128];
    snprintf(filler, sizeof filler, "%s/filler", full_mnt);
    fill_disk(filler);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(harness_daemon_start(h, writers[i]), 0, "%s did not start on a full disk",
                     writers[i]);
    cr_assert_eq(head(), pos, "the relay serves the store");
    /* a command now is accepted (the WAL has room) or unavailable */
    supplier_cmd(&c, "rfull-during", "rfull-during", "Restart Supplies");
    command_reply_t r;
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &r), 0, "no reply on a full disk");
    cr_assert(r.accepted || r.error == REJ_UNAVAILABLE, "%s %s", reject_code_name(r.error),
              r.message);
    /* room again: everything goes on */
    cr_assert_eq(unlink(filler), 0);
    itest_accept(h, &c);
    pos = accept_supplier("rfull-after", "rfull-after", "Restart Supplies");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, subs[i], pos, ITEST_WAIT_MS), 0, "%s", subs[i]);
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

/* Polls the query service's Status until it answers ok with a position at
 * or past `pos`, up to ITEST_WAIT_MS.  True when it did. */
static bool
query_serves(int64_t pos)
{
    int64_t until = now_ms() + ITEST_WAIT_MS;
    while (now_ms() < until) {
        harness_reply_t r;
        harness_reply_t *rp = &r;
        itest_request(h, "query", rp, "Status", "");
        int64_t at = -1;
        bool ok = harness_reply_ok(rp) && harness_reply_int(rp, "position", &at) == 0 && at >= pos;
        harness_reply_fini(rp);
        if (ok)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* Polls a subscriber's Status (control endpoint) until "rebuilds" is at
 * least n, up to ITEST_WAIT_MS.  The last value seen. */
static int64_t
wait_rebuilds(const char *control, int64_t n)
{
    int64_t until = now_ms() + ITEST_WAIT_MS, seen = -1;
    while (now_ms() < until && seen < n) {
        seen = harness_status_int(h, control, "rebuilds", ITEST_TIMEOUT_MS);
        if (seen < n)
            usleep(100 * 1000);
    }
    return seen;
}

Test(failures, a_read_model_deleted_under_the_projector_is_rebuilt, .timeout = 180)
{
    /* read.db unlinked under the running projector and query service: the
     * projector notices within a second, rebuilds the model into a new
     * file from the log and swaps it in; queries answer again, from a
     * model equal to a fresh build.  (Before: every query answered "does
     * not exist yet" for good while the projector wrote to the deleted
     * file and reported healthy.) */
    int64_t pos = start_loaded();
    cr_assert_eq(harness_wait_position(h, "projector", pos, ITEST_WAIT_MS), 0);
    char live[512];
    in_dir("read.db", live, sizeof live);
    cr_assert_eq(unlink(live), 0);
    damage_load(100, false);
    pos = head();
    cr_assert_geq(wait_rebuilds("projector", 1), 1, "the projector did not rebuild");
    cr_assert_eq(harness_wait_position(h, "projector", pos, ITEST_WAIT_MS), 0);
    cr_assert(query_serves(pos), "the query service does not serve the rebuilt model");
    cr_assert(log_has("projector", "the database file was deleted"));
    itest_assert_equals_fresh(h, "projector", live);
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

Test(failures, a_store_wal_deleted_under_the_command_service_stops_the_writes, .timeout = 180)
{
    /* events.db-wal unlinked under the running command-service: within a
     * second every command is answered unavailable (nothing is written to
     * a file nobody will read), Status says store_unusable, the log says
     * why, and the relay stops; what was committed is checkpointed into
     * events.db, so a restart
     * of the command-service and the relay finds every acknowledged
     * command after a crash and goes on.  (Before: the deletion went unnoticed, a crash
     * then lost 75 acknowledged commands and a restart made "file is not a
     * database" of the store.) */
    int64_t pos = start_loaded();
    char wal[512];
    in_dir("events.db-wal", wal, sizeof wal);
    cr_assert_eq(unlink(wal), 0);
    usleep(1500 * 1000); /* one check period and some */
    command_t c;
    supplier_cmd(&c, "wal-gone-1", "wal-gone-1", "After The WAL");
    command_reply_t r;
    cr_assert_eq(harness_command(h, &c, ITEST_TIMEOUT_MS, &r), 0);
    cr_assert_not(r.accepted, "a command was accepted into a deleted WAL");
    cr_assert_eq(r.error, REJ_UNAVAILABLE, "%s", reject_code_name(r.error));
    cr_assert(strstr(r.message, "deleted or replaced"), "%s", r.message);
    harness_reply_t st;
    cr_assert_eq(harness_status(h, "command", ITEST_TIMEOUT_MS, &st), 0);
    cr_assert(itest_bool(st.root, "store_unusable"));
    harness_reply_fini(&st);
    cr_assert(log_has("command", "its WAL was deleted under the running command service"));
    cr_assert(log_has("command", "was checkpointed from the open WAL into the database file"));
    /* the relay stops by itself (its checkpoints would copy the old WAL's
     * frames over what a restarted command-service writes) */
    int64_t until = now_ms() + ITEST_WAIT_MS;
    while (harness_daemon_alive(h, "relay") && now_ms() < until)
        usleep(50 * 1000);
    cr_assert_not(harness_daemon_alive(h, "relay"), "the relay kept running on a deleted WAL");
    cr_assert(log_has("relay", "its WAL was deleted under the running relay"));
    /* a crash of the command-service, then a restart: nothing acknowledged
     * is lost */
    cr_assert_eq(harness_daemon_kill(h, "command"), 0);
    cr_assert_eq(harness_daemon_start(h, "command"), 0);
    cr_assert_eq(harness_daemon_start(h, "relay"), 0);
    cr_assert_eq(head(), pos, "acknowledged commands were lost");
    itest_accept(h, &c);
    pos = head();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(harness_wait_position(h, sub_names[i], pos, ITEST_WAIT_MS), 0, "%s",
                     sub_names[i]);
    harness_destroy(&h); /* counts the relay that stopped on purpose */
}

/* Copies every page of the projector's WAL into read.db (a connection of
 * the test's own): the damage that follows is in the file readers read. */
static void
checkpoint_model(const char *model)
{
    char path[512];
    in_dir(model, path, sizeof path);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    exec("PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    db = NULL;
}

Test(failures, a_damaged_page_a_query_reads_is_reported_and_rebuilt, .timeout = 180)
{
    /* A page of the suppliers table overwritten under the running
     * projector (which does not write that table under this load): a
     * query that reads it gets SQLITE_CORRUPT; the query service answers
     * unavailable "damaged" instead of serving it (Status too) and tells
     * the projector, which rebuilds the model; queries then answer from a
     * model equal to a fresh build. */
    int64_t pos = start_loaded();
    cr_assert_eq(harness_wait_position(h, "query", pos, ITEST_WAIT_MS), 0);
    cr_assert_eq(harness_daemon_stop(h, "query"), 0); /* no page of it cached */
    checkpoint_model("read.db");
    damage("read.db", (root_page("read.db", "suppliers") - 1) * 4096, 4096);
    cr_assert_eq(harness_daemon_start(h, "query"), 0);
    harness_reply_t r;
    itest_request(h, "query", &r, "ListSuppliers", "");
    cr_assert_not(harness_reply_ok(&r), "a damaged page was served");
    char msg[256];
    harness_reply_str(&r, "message", msg, sizeof msg);
    harness_reply_fini(&r);
    cr_assert(strstr(msg, "damaged"), "%s", msg);
    damage_load(50, false);
    pos = head();
    cr_assert_geq(wait_rebuilds("projector", 1), 1, "the projector did not rebuild");
    cr_assert(query_serves(pos));
    itest_request(h, "query", &r, "ListSuppliers", "");
    itest_assert_ok(&r, "ListSuppliers after the rebuild");
    harness_reply_fini(&r);
    cr_assert(log_has("projector", "was reported damaged by a reader"));
    cr_assert(log_has("query", "is damaged (database disk image is malformed)"));
    assert_model_fresh("projector", "read.db");
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

Test(failures, a_damaged_index_page_is_found_at_start_and_rebuilt, .timeout = 180)
{
    /* A page that the audit daemon's start never reads (an index root),
     * damaged while it is down: PRAGMA quick_check at start finds it and
     * the model is rebuilt (before: it was used until a search hit it). */
    int64_t pos = start_loaded();
    cr_assert_eq(harness_wait_position(h, "audit", pos, ITEST_WAIT_MS), 0);
    cr_assert_eq(harness_daemon_stop(h, "audit"), 0);
    damage("audit.db", (root_page("audit.db", "audit_keys_by_corr") - 1) * 4096, 4096);
    cr_assert_eq(harness_daemon_start(h, "audit"), 0);
    cr_assert_geq(wait_rebuilds("audit", 1), 1, "the audit daemon did not rebuild");
    cr_assert(log_has("audit", "model failed PRAGMA quick_check at start"));
    cr_assert_eq(harness_wait_position(h, "audit", pos, ITEST_WAIT_MS), 0);
    assert_model_fresh("audit", "audit.db");
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}

Test(failures, a_damaged_page_an_audit_or_alert_search_reads_is_reported_and_rebuilt,
     .timeout = 180)
{
    /* The root page of the audit table and of the alerts table overwritten
     * under their running daemons, with no event coming (so no write of
     * theirs meets the damage): SearchAudit and ListAlerts get
     * SQLITE_CORRUPT, answer unavailable "damaged" and report it; each
     * daemon replaces its model by a rebuild. */
    int64_t pos = start_loaded();
    const char *control[] = {"audit", "alert-api"};
    const char *subs[] = {"audit", "alert"};
    const char *models[] = {"audit.db", "alerts.db"};
    const char *tables[] = {"audit", "alerts"};
    const char *searches[] = {"SearchAudit", "ListAlerts"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(harness_wait_position(h, subs[i], pos, ITEST_WAIT_MS), 0, "%s", subs[i]);
        checkpoint_model(models[i]);
        damage(models[i], (root_page(models[i], tables[i]) - 1) * 4096, 4096);
        harness_reply_t r;
        itest_request(h, control[i], &r, searches[i], "");
        char msg[256];
        harness_reply_str(&r, "message", msg, sizeof msg);
        cr_assert_not(harness_reply_ok(&r), "%s served a damaged page", searches[i]);
        harness_reply_fini(&r);
        cr_assert(strstr(msg, "damaged"), "%s: %s", searches[i], msg);
        cr_assert_geq(wait_rebuilds(control[i], 1), 1, "%s did not rebuild", subs[i]);
        cr_assert(log_has(subs[i], "was reported damaged by a reader"), "%s", subs[i]);
        cr_assert_eq(harness_wait_position(h, subs[i], pos, ITEST_WAIT_MS), 0, "%s", subs[i]);
        itest_request(h, control[i], &r, searches[i], "");
        itest_assert_ok(&r, searches[i]);
        harness_reply_fini(&r);
        assert_model_fresh(subs[i], models[i]);
    }
    cr_assert_eq(harness_destroy(&h), 0, "a daemon did not stop cleanly");
}
