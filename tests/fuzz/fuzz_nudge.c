/* fuzz_nudge: the command-service's nudge to the relay (docs/protocol.md,
 * section 1: one msgpack positive integer), through relay_nudge_decode.
 * Whatever the bytes, the position is never negative. */
#include "fuzz.h"
#include "relay.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t p = relay_nudge_decode(size ? data : NULL, size);
    FUZZ_CHECK(p >= 0, "nudge position %lld", (long long)p);
    return 0;
}
