/* fuzz_event: one `event` message on the event bus (docs/protocol.md,
 * section 5), through codec_decode_event as a subscriber reads it; a
 * decoded event is encoded again and must decode to the same bytes. */
#include "codec.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>

static event_t ev, ev2;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why;
    if (codec_decode_event(data, size, &ev, &why) != 0)
        return 0;
    codec_writer_t w, w2;
    codec_writer_init(&w);
    codec_writer_init(&w2);
    codec_pack_event(&w, &ev);
    FUZZ_CHECK(codec_decode_event(w.buf.data, w.buf.size, &ev2, &why) == 0, "re-encoded: %s", why);
    codec_pack_event(&w2, &ev2);
    FUZZ_CHECK(w.buf.size == w2.buf.size && memcmp(w.buf.data, w2.buf.data, w.buf.size) == 0,
               "an event does not encode the same after a round trip");
    codec_writer_fini(&w);
    codec_writer_fini(&w2);
    return 0;
}
