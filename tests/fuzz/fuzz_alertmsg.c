/* fuzz_alertmsg: one `alert` message on the alert PUB socket
 * (docs/protocol.md, section 10), through alertmsg_decode; a decoded alert
 * is printed as its line (which must stay one line) and packed again. */
#include "alertmsg.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alertmsg_t a;
    const char *why;
    if (alertmsg_decode(data, size, &a, &why) != 0)
        return 0;
    char line[ALERTMSG_LINE_MAX];
    size_t n = alertmsg_line(&a, line, sizeof line);
    FUZZ_CHECK(n < sizeof line && !memchr(line, '\n', n) && !memchr(line, '\r', n),
               "an alert line of %zu bytes is not one line", n);
    codec_writer_t w;
    codec_writer_init(&w);
    alertmsg_pack(&w, &a);
    alertmsg_t b;
    FUZZ_CHECK(alertmsg_decode(w.buf.data, w.buf.size, &b, &why) == 0, "re-packed alert: %s", why);
    codec_writer_fini(&w);
    return 0;
}
