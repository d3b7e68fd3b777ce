/* fuzz_heartbeat: one `heartbeat` message on the event bus
 * (docs/protocol.md, section 6), through subscriber_read_heartbeat. */
#include "subscriber.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t head, rec;
    subscriber_read_heartbeat(data, size, &head, &rec);
    return 0;
}
