/* jsonstr: see jsonstr.h. */
#include "jsonstr.h"

#include "utf8.h"

#include <stdint.h>

void
jsonstr_write(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        uint32_t cp = 0;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0) {
            fputs("\\ufffd", f);
            i += (size_t)-n;
            continue;
        }
        if (n == 1) {
            switch (c) {
            case '"':
                fputs("\\\"", f);
                break;
            case '\\':
                fputs("\\\\", f);
                break;
            case '\n':
                fputs("\\n", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            case '\b':
                fputs("\\b", f);
                break;
            case '\f':
                fputs("\\f", f);
                break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(f, "\\u%04x", c);
                else
                    fputc(c, f);
            }
        } else if (utf8_unsafe_cp(cp)) {
            /* valid JSON, but C1 controls act on terminals, U+2028/9 break
             * JavaScript consumers and bidi controls reorder what is shown */
            fprintf(f, "\\u%04x", (unsigned)cp);
        } else {
            fwrite(s + i, 1, (size_t)n, f);
        }
        i += (size_t)n;
    }
    fputc('"', f);
}
