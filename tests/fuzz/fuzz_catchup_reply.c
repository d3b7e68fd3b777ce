/* fuzz_catchup_reply: a ReadEvents reply as a subscriber reads it
 * (docs/protocol.md, section 7): subscriber_read_page, then
 * codec_read_event over the page's events.  The first input byte is the
 * `after` the subscriber asked for (0..255; a reply to another request is
 * refused), the rest is the reply body. */
#include "codec.h"
#include "subscriber.h"

#include <stddef.h>
#include <stdint.h>

static event_t ev;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int64_t after = data[0], head, damaged_at;
    mpread_t events;
    uint32_t n;
    const char *why;
    if (subscriber_read_page(data + 1, size - 1, after, &head, &events, &n, &damaged_at, &why) != 0)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (codec_read_event(&events, &ev, &why) != 0)
            break;
    return 0;
}
