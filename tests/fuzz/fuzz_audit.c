/* fuzz_audit: a request on the audit-service's ROUTER (docs/protocol.md,
 * section 9: SearchAudit besides Status and Rebuild), answered as the
 * daemon answers it: the subscriber runtime's control dispatcher
 * (subscriber_handle_control) hands SearchAudit to auditapi_handle, whose
 * parameters are decoded by params against an audit model in a scratch
 * folder that holds the story (fuzz.h). */
#include "fuzzsub.h"
#include "auditapi.h"
#include "auditlog.h"

#include <stddef.h>
#include <stdint.h>

static subscriber_t *sub;
static auditlog_t *model;
static codec_writer_t w;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[128];
    const char *why;
    model = auditlog_open(fuzz_path("audit.db", path, sizeof path), NULL, &why);
    fuzz_seed_model(&auditlog_ops, model, FUZZ_STORY_MAX);
    sub = fuzz_control_runtime("audit", &auditlog_ops, model, auditapi_handle, &model);
    codec_writer_init(&w);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_control(sub, &w, data, size);
}
