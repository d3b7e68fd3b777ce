/* fuzz_replica_row: the msg column of a row of the replicated log (the
 * event as the relay publishes it, common/store/replica.h) as a store host
 * copies it into its events.db: replica_copy_row, what replica_pull does
 * with each row (codec_decode_event, eventstore_append_copy, the command
 * recorded), inside a transaction rolled back after each input, over an
 * events.db in a scratch folder that holds the first FUZZ_ROW_BASE events
 * of the story (fuzz.h; the seeds are the story's events as the log holds
 * them, so the next one is accepted and the others refused).
 * Checked: whatever the bytes, a row is appended only at the position
 * after the head, with the hash the msg carries, and the store's own chain
 * check reads it back; the same row with another hash is refused
 * (ERR_CORRUPT), never appended; after the rollback the head is back. */
#include "codec.h"
#include "err.h"
#include "fuzz.h"
#include "replica.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FUZZ_ROW_BASE 6 /* events in the scratch events.db */

static eventstore_t *es;
static int64_t base; /* its head */
static codec_writer_t w;

FUZZ_SETUP

static void
fuzz_setup(void)
{
    static event_t evs[FUZZ_STORY_MAX];
    eventstore_options_t opts = {.synchronous_full = false, .busy_timeout_ms = 1000};
    if (eventstore_open(fuzz_path("events.db"), &opts, &es) != ERR_OK ||
        eventstore_begin(es) != ERR_OK)
        abort();
    int n = fuzz_story_events(evs, FUZZ_STORY_MAX);
    for (int i = 0; i < n && i < FUZZ_ROW_BASE; i++)
        if (eventstore_append(es, &evs[i]) != ERR_OK)
            abort();
    if (eventstore_commit(es) != ERR_OK || eventstore_head(es, &base, NULL) != ERR_OK)
        abort();
    codec_writer_init(&w);
}

typedef struct {
    int64_t position;
    uint8_t hash[CHAIN_HASH_LEN];
    int rows;
} readback_t;

static int
readback(const envelope_t *env, const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    readback_t *rb = arg;
    rb->position = env->position;
    memcpy(rb->hash, env->hash, CHAIN_HASH_LEN);
    rb->rows++;
    return 0;
}

static void
back_to_base(void)
{
    int64_t head = -1;
    eventstore_rollback(es);
    FUZZ_CHECK(eventstore_head(es, &head, NULL) == ERR_OK && head == base,
               "head %lld after the rollback, not %lld", (long long)head, (long long)base);
}

/* The row was appended: it is the head's successor, with msg's hash, and
 * the chain check of a read accepts it. */
static void
check_appended(const event_t *ev)
{
    int64_t head = -1;
    readback_t rb = {0};
    FUZZ_CHECK(eventstore_head(es, &head, NULL) == ERR_OK && head == base + 1,
               "head %lld after a copy onto %lld", (long long)head, (long long)base);
    int rc = eventstore_read_raw(es, base, base + 1, 1, readback, &rb);
    FUZZ_CHECK(rc == ERR_OK && rb.rows == 1, "read back: %s, %d rows", err_strerror(rc), rb.rows);
    FUZZ_CHECK(memcmp(rb.hash, ev->env.hash, CHAIN_HASH_LEN) == 0, "stored with another hash");
    FUZZ_CHECK(ev->env.position == base + 1, "a row of position %lld appended at %lld",
               (long long)ev->env.position, (long long)base + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (eventstore_begin(es) != ERR_OK)
        abort();
    int rc = replica_copy_row(es, data, size);
    event_t ev;
    const char *why;
    int decodes = codec_decode_event(data, size, &ev, &why) == 0;
    FUZZ_CHECK(decodes || rc == ERR_CORRUPT, "a row that does not decode: %s", err_strerror(rc));
    if (rc == ERR_OK)
        check_appended(&ev);
    back_to_base();
    if (rc != ERR_OK)
        return 0;
    /* the same event with one bit of its hash flipped: not the chain's */
    ev.env.hash[size % CHAIN_HASH_LEN] ^= (uint8_t)(1u << (size % 8));
    codec_writer_reset(&w);
    codec_pack_event(&w, &ev);
    if (eventstore_begin(es) != ERR_OK)
        abort();
    rc = replica_copy_row(es, w.buf.data, w.buf.size);
    FUZZ_CHECK(rc == ERR_CORRUPT, "a row with another hash: %s", err_strerror(rc));
    back_to_base();
    return 0;
}
