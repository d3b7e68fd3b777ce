/* fuzz_control: a request on a subscriber daemon's control ROUTER
 * (docs/protocol.md, sections 11 and 12: Status, Rebuild; the projector's
 * whole control protocol), answered by the subscriber runtime's own
 * dispatcher (subscriber_handle_control) over a projector read model in a
 * scratch folder.  Rebuild is refused (no rebuild factory is set). */
#include "fuzz.h"
#include "readmodel.h"
#include "subscriber.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

static subscriber_t *sub;
static codec_writer_t w;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[128];
    const char *why;
    readmodel_t *m = readmodel_open(fuzz_path("read.db", path, sizeof path), &why);
    void *zctx = zmq_ctx_new();
    subscriber_config_t cfg = {
        .name = "projector", .events_ep = "inproc://none", .catchup_ep = "inproc://none"};
    if (!m || !zctx || !(sub = subscriber_new(zctx, &cfg, &readmodel_ops, m)))
        abort();
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
