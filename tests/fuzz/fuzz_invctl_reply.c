/* fuzz_invctl_reply: a reply (or a published event or alert) as invctl
 * reads and prints it (docs/protocol.md; issue 23, item 5: invctl must not
 * trust its server).  The bytes are checked as client_call checks a reply
 * (codec_reader_check), then go through every reader and printer of
 * tools/: client_reply_ok and client_reply_str, the pretty printer, the
 * JSON writer, the status table's columns and note, the watch lines of an
 * event and an alert, and the command reply decoder.  Printed text goes to
 * /dev/null. */
#include "cli_status.h"
#include "cli_watch.h"
#include "client.h"
#include "codec.h"
#include "fuzz.h"
#include "jsonout.h"
#include "pretty.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static command_reply_t cr;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *out = fuzz_null_file();
    codec_decode_command_reply(data, size, &cr);
    jsonout_print_msgpack(out, data, size);
    client_reply_t reply = {.data = (void *)data, .len = size};
    const char *why;
    if (codec_reader_check(&reply.body, data, size, &why) != 0)
        return 0;
    char buf[512];
    client_reply_ok(&reply);
    client_reply_str(&reply, "error", buf, sizeof buf);
    client_reply_str(&reply, "message", buf, sizeof buf);
    pretty_print(out, &reply.body);
    jsonout_write(out, &reply.body);
    free(jsonout_string(&reply.body));
    pretty_inline(&reply.body, buf, sizeof buf);
    pretty_scalar(&reply.body, "price_cents", 11, true, buf, sizeof buf);
    status_row_t row;
    cli_status_extract(&reply.body, &row);
    cli_status_note(&reply.body);
    char line[2048];
    cli_watch_format_event(&reply.body, line, sizeof line);
    cli_watch_format_alert(&reply.body, line, sizeof line);
    return 0;
}
