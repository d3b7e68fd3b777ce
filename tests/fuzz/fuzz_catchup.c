/* fuzz_catchup: a request on the relay's catch-up ROUTER (docs/protocol.md,
 * section 7: ReadEvents, ReadStream, ProductAsOf, Status), answered through
 * catchup_handle, the relay's own dispatcher and handlers, from an event
 * store in a scratch folder that holds the story (fuzz.h). */
#include "catchup.h"
#include "err.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>

static eventstore_t *es;
static catchup_relay_stats_t stats;
static codec_writer_t w;

FUZZ_SETUP

static void
fuzz_setup(void)
{
    static event_t evs[FUZZ_STORY_MAX];
    eventstore_options_t opts = {.synchronous_full = false, .busy_timeout_ms = 1000};
    if (eventstore_open(fuzz_path("events.db"), &opts, &es) != ERR_OK)
        abort();
    int n = fuzz_story_events(evs, FUZZ_STORY_MAX);
    if (eventstore_begin(es) != ERR_OK)
        abort();
    for (int i = 0; i < n; i++)
        if (eventstore_append(es, &evs[i]) != ERR_OK)
            abort();
    if (eventstore_commit(es) != ERR_OK)
        abort();
    stats.durable_through = stats.published_through = n;
    codec_writer_init(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_request_t req = {.body = data, .len = size, .w = &w};
    catchup_handle(es, &stats, &req);
    return 0;
}
