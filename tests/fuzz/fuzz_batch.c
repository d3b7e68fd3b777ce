/* fuzz_batch: one `events` message on the event bus (docs/protocol.md,
 * section 5: a msgpack array of event maps), read as the subscriber runtime
 * reads it: codec_reader_init, the array header, then codec_read_event for
 * each element until one does not decode. */
#include "codec.h"

#include <stddef.h>
#include <stdint.h>

static event_t ev;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpread_t r;
    uint32_t n = 0;
    const char *why;
    if (codec_reader_init(&r, data, size, &why) != 0 || mpread_array(&r, &n) != 0)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (codec_read_event(&r, &ev, &why) != 0)
            break;
    return 0;
}
