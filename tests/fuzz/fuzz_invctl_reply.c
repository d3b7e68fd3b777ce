/* fuzz_invctl_reply: a reply (or a published event or alert) as invctl
 * reads and prints it (docs/protocol.md; issue 23, item 5: invctl must not
 * trust its server).  The bytes are checked as client_call checks a reply
 * (codec_reader_check), then go through every reader and printer of
 * tools/: client_reply_ok and client_reply_str, the pretty printer, the
 * JSON writer, the status table's columns and note, the watch lines of an
 * event and an alert, the command reply decoder, and the not_leader
 * reader every client follows a leader by (codec_read_not_leader: a leader
 * it hands out is "" or a valid endpoint, never anything a server made up;
 * issue 26).  What the pretty
 * printer, the JSON writer and the watch lines write must reach a terminal
 * harmlessly: no control character but newline (and tab in pretty's
 * layout), no C1 control (issue 23, item 5: ESC and OSC sequences in column
 * headings reached the terminal). */
#include "cli_status.h"
#include "cli_watch.h"
#include "client.h"
#include "codec.h"
#include "eplist.h"
#include "fuzz.h"
#include "jsonout.h"
#include "pretty.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static command_reply_t cr;

/* No C0 control but those allowed, no DEL, no C1 control (UTF-8 C2 80..9F). */
static void
check_text(const char *what, const char *s, size_t n, const char *allowed)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool bad = (c < 0x20 && !strchr(allowed, c)) || c == 0x7f ||
                   (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                    (unsigned char)s[i + 1] <= 0x9f);
        FUZZ_CHECK(!bad, "%s writes the control byte 0x%02x at %zu to the terminal", what, c, i);
    }
}

/* Runs print(v) into memory and checks what it wrote. */
static void
check_printed(const char *what, void (*print)(FILE *, const mpread_t *), const mpread_t *v,
              const char *allowed)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        abort();
    print(f, v);
    fclose(f);
    check_text(what, buf, n, allowed);
    free(buf);
}

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
    check_printed("pretty_print", pretty_print, &reply.body, "\n\t");
    check_printed("jsonout_write", jsonout_write, &reply.body, "");
    free(jsonout_string(&reply.body));
    pretty_inline(&reply.body, buf, sizeof buf);
    pretty_scalar(&reply.body, "price_cents", 11, true, buf, sizeof buf);
    status_row_t row;
    cli_status_extract(&reply.body, &row);
    cli_status_note(&reply.body);
    const char *role = cli_status_role(&reply.body);
    check_text("status role", role, strlen(role), "");
    char leader[EPLIST_EP_MAX + 1];
    const char *lwhy = NULL;
    int nl = codec_read_not_leader(&reply.body, leader, sizeof leader, &lwhy);
    FUZZ_CHECK(nl >= 0 || (lwhy && !leader[0]), "a refused leader without a reason, or kept");
    FUZZ_CHECK(nl <= 0 || !leader[0] || eplist_valid(leader, strlen(leader)),
               "codec_read_not_leader handed out a leader that is not an endpoint");
    FUZZ_CHECK(cr.error != REJ_NOT_LEADER || !cr.leader[0] ||
                   eplist_valid(cr.leader, strlen(cr.leader)),
               "codec_decode_command_reply kept a leader that is not an endpoint");
    char line[2048];
    cli_watch_format_event(&reply.body, line, sizeof line);
    check_text("watch events", line, strlen(line), "");
    cli_watch_format_alert(&reply.body, false, line, sizeof line);
    check_text("watch alerts", line, strlen(line), "");
    return 0;
}
