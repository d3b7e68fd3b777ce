/* fuzz_query: a query request on the query-service's ROUTER
 * (docs/protocol.md, section 8), through request_parse: the dispatcher's
 * envelope decode (rpc_decode with request_proto) and the query
 * validation.  A rejection's reply is packed as the service packs it. */
#include "request.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request_t req;
    request_error_t err;
    if (request_parse(data, size, &req, &err) != 0) {
        codec_writer_t w;
        codec_writer_init(&w);
        request_pack_error(&w, &err);
        codec_writer_fini(&w);
    }
    return 0;
}
