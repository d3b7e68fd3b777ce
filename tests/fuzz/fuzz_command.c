/* fuzz_command: a command request on the command-service's ROUTER
 * (docs/protocol.md, section 4).  The body goes through the public decoder
 * (codec_decode_command) and, as the command-service's dispatcher takes
 * it, through the one dispatcher (rpc_handle, a cursor protocol over the
 * command keys; the command-service's own route table is static) into
 * codec_decode_command_at.  An accepted command is then decided by the pure
 * domain against a small world and its event encoded, as the service does. */
#include "codec.h"
#include "fuzz.h"
#include "rpc.h"

#include <stddef.h>
#include <stdint.h>

static command_t cmd;
static field_errors_t errs;
static fuzz_world_t world;
static event_t ev;

static int
on_status(void *arg, rpc_request_t *req)
{
    (void)arg;
    codec_map_open(req->w);
    codec_map_bool(req->w, "ok", true);
    codec_map_close(req->w);
    return RPC_REPLY;
}

static int
on_command(void *arg, rpc_request_t *req)
{
    (void)arg;
    char why[256];
    int t = command_type_lookup(req->type, req->type_len);
    if (t < 0)
        return RPC_UNKNOWN;
    codec_decode_command_at((command_type_t)t, req->vals, req->found, req->unknown, &cmd, &errs,
                            why, sizeof why);
    return RPC_REPLY;
}

static const rpc_route_t command_routes[] = {
    {.type = "Status", .handle = on_status},
    {.type = RPC_ANY, .handle = on_command},
};
static const rpc_endpoint_t command_endpoint = {&rpc_command_proto, command_routes, 2};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    if (codec_decode_command(data, size, &cmd, &errs, why, sizeof why) == REJ_NONE) {
        fuzz_world_init(&world);
        if (fuzz_world_run(&world, &cmd, &ev)) {
            codec_writer_t w;
            codec_writer_init(&w);
            codec_pack_event(&w, &ev);
            codec_writer_fini(&w);
        }
    }
    codec_writer_t w;
    codec_writer_init(&w);
    rpc_request_t req = {.body = data, .len = size, .w = &w};
    rpc_handle(&command_endpoint, NULL, &req);
    codec_writer_fini(&w);
    return 0;
}
