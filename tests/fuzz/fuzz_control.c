/* fuzz_control: a request on a subscriber daemon's control ROUTER
 * (docs/protocol.md, sections 11 and 12: Status, Rebuild; the projector's
 * whole control protocol), answered by the subscriber runtime's own
 * dispatcher (subscriber_handle_control) over a projector read model in a
 * scratch folder.  Rebuild is refused (no rebuild factory is set). */
#include "fuzzsub.h"
#include "readmodel.h"

#include <stddef.h>
#include <stdint.h>

static subscriber_t *sub;
static codec_writer_t w;

FUZZ_SETUP

static void
fuzz_setup(void)
{
    const char *why;
    readmodel_t *model = readmodel_open(fuzz_path("read.db"), &why);
    sub = fuzz_control_runtime("projector", &readmodel_ops, model, NULL, NULL);
    codec_writer_init(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_control(sub, &w, data, size);
}
