/* fuzz_alert: a request on the alert-service's API ROUTER (docs/protocol.md,
 * section 10: ListAlerts besides Status and Rebuild), answered as the
 * daemon answers it: the subscriber runtime's control dispatcher
 * (subscriber_handle_control) hands ListAlerts to alertapi_handle, whose
 * parameters are decoded by params against an alert model in a scratch
 * folder that holds the story (fuzz.h). */
#include "fuzzsub.h"
#include "alertapi.h"
#include "alerts.h"

#include <stddef.h>
#include <stdint.h>

static subscriber_t *sub;
static alerts_t *model;
static codec_writer_t w;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[128];
    const char *why;
    model = alerts_open(fuzz_path("alerts.db", path, sizeof path), NULL, &why);
    fuzz_seed_model(&alerts_ops, model, FUZZ_STORY_MAX);
    sub = fuzz_control_runtime("alert", &alerts_ops, model, alertapi_handle, &model);
    codec_writer_init(&w);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_control(sub, &w, data, size);
}
