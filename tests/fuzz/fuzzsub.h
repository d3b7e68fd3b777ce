/* fuzzsub: what the harnesses on a subscriber daemon share (header-only):
 * a model holding the first events of the story (fuzz.h), committed, and
 * the subscriber runtime around it whose control dispatcher
 * (subscriber_handle_control) a harness feeds, as the daemon's control
 * ROUTER would.  Failures here are the harness's own: abort. */
#ifndef INV_FUZZSUB_H
#define INV_FUZZSUB_H

#include "fuzz.h"
#include "subscriber.h"

#include <zmq.h>

/* Applies the story's first `max` events (all when max >= its length) to
 * model in one committed batch. */
static inline void
fuzz_seed_model(const subscriber_ops_t *ops, void *model, int max)
{
    static event_t evs[FUZZ_STORY_MAX];
    int n = fuzz_story_events(evs, FUZZ_STORY_MAX);
    n = n < max ? n : max;
    if (!model || ops->begin(model) != 0)
        abort();
    for (int i = 0; i < n; i++)
        if (ops->apply(model, &evs[i]) != 0)
            abort();
    if (ops->commit(model, n, evs[n - 1].env.event_id) != 0)
        abort();
}

/* The runtime of daemon `name` over model, its control requests other
 * than Status and Rebuild going to fn (NULL: none), connected nowhere. */
static inline subscriber_t *
fuzz_control_runtime(const char *name, const subscriber_ops_t *ops, void *model,
                     subscriber_control_fn fn, void *arg)
{
    void *zctx = zmq_ctx_new();
    subscriber_config_t cfg = {
        .name = name, .events_ep = "inproc://none", .catchup_ep = "inproc://none"};
    subscriber_t *sub = model && zctx ? subscriber_new(zctx, &cfg, ops, model) : NULL;
    if (!sub)
        abort();
    if (fn)
        subscriber_set_control(sub, NULL, fn, arg);
    return sub;
}

/* One input to the runtime's control dispatcher; the reply goes to w. */
static inline int
fuzz_feed_control(subscriber_t *sub, codec_writer_t *w, const uint8_t *data, size_t size)
{
    rpc_request_t req = {.body = data, .len = size, .w = w};
    subscriber_handle_control(sub, &req);
    return 0;
}

#endif
