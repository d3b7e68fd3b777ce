/* fuzz_alert: a request on the alert-service's API ROUTER (docs/protocol.md,
 * section 10: ListAlerts besides Status and Rebuild), answered as the
 * daemon answers it: the subscriber runtime's control dispatcher
 * (subscriber_handle_control) hands ListAlerts to alertapi_handle, whose
 * parameters are decoded by params against an alert model in a scratch
 * folder that holds the story (fuzz.h). */
#include "alertapi.h"
#include "alerts.h"
#include "fuzz.h"
#include "subscriber.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

static subscriber_t *sub;
static alerts_t *model;
static codec_writer_t w;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static event_t evs[FUZZ_STORY_MAX];
    char path[128];
    const char *why;
    model = alerts_open(fuzz_path("alerts.db", path, sizeof path), NULL, &why);
    if (!model)
        abort();
    int n = fuzz_story_events(evs, FUZZ_STORY_MAX);
    if (alerts_ops.begin(model) != 0)
        abort();
    for (int i = 0; i < n; i++)
        if (alerts_ops.apply(model, &evs[i]) != 0)
            abort();
    if (alerts_ops.commit(model, n, evs[n - 1].env.event_id) != 0)
        abort();
    void *zctx = zmq_ctx_new();
    subscriber_config_t cfg = {
        .name = "alert", .events_ep = "inproc://none", .catchup_ep = "inproc://none"};
    if (!zctx || !(sub = subscriber_new(zctx, &cfg, &alerts_ops, model)))
        abort();
    subscriber_set_control(sub, NULL, alertapi_handle, &model);
    codec_writer_init(&w);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_request_t req = {.body = data, .len = size, .w = &w};
    subscriber_handle_control(sub, &req);
    return 0;
}
