/* fuzz_tunnel_frame: one frame of the tunnel's protocol (common/wire/tunnel.h,
 * docs/protocol.md, section 13) as a peer could send it, through
 * tunnel_frame_decode, the decoder the tunnel's thread calls on every frame
 * from a DEALER or the ROUTER.  What decodes is one of the six frames: its
 * type is the first byte, a DATA payload lies inside the input (1 to
 * TUNNEL_CHUNK bytes), a CREDIT is 1 to TUNNEL_WINDOW; and it goes round:
 * tunnel_frame_encode (the DATA payload after its type byte, as the tunnel
 * sends it) gives back the same bytes, which decode to the same frame. */
#include "fuzz.h"
#include "tunnel.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tunnel_frame_t f, g;
    if (tunnel_frame_decode(data, size, &f) != 0)
        return 0;
    FUZZ_CHECK(size >= 1 && (uint8_t)f.type == data[0], "type %d from byte %d", (int)f.type,
               size ? data[0] : -1);
    size_t extra = 0;
    if (f.type == TUNNEL_DATA) {
        FUZZ_CHECK(f.data == data + 1 && f.len == size - 1, "payload not the frame's rest");
        FUZZ_CHECK(f.len >= 1 && f.len <= TUNNEL_CHUNK, "%zu bytes of DATA", f.len);
        extra = f.len;
    }
    if (f.type == TUNNEL_CREDIT)
        FUZZ_CHECK(f.credit >= 1 && f.credit <= TUNNEL_WINDOW, "a credit of %u",
                   (unsigned)f.credit);
    uint8_t *buf = malloc(5 + extra);
    if (!buf)
        return 0;
    size_t n = tunnel_frame_encode(f.type, f.credit, buf);
    FUZZ_CHECK(n == 1 || n == 5, "encoded %zu bytes", n);
    if (extra)
        memcpy(buf + n, f.data, extra);
    n += extra;
    FUZZ_CHECK(n == size && memcmp(buf, data, size) == 0, "re-encoded to other bytes");
    FUZZ_CHECK(tunnel_frame_decode(buf, n, &g) == 0, "the re-encoded frame does not decode");
    FUZZ_CHECK(g.type == f.type && g.credit == f.credit && g.len == f.len, "decoded otherwise");
    FUZZ_CHECK(!extra || memcmp(g.data, f.data, extra) == 0, "another payload");
    free(buf);
    return 0;
}
