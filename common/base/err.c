/* err: names of the error codes (err.h). */
#include "err.h"

const char *
err_strerror(int code)
{
    static const struct {
        err_t code;
        const char *text;
    } names[] = {
        {.code = ERR_OK, .text = "no error"},
        {.code = ERR_BUSY, .text = "busy"},
        {.code = ERR_IO, .text = "I/O error"},
        {.code = ERR_DUPLICATE, .text = "duplicate version"},
        {.code = ERR_CORRUPT, .text = "stored data is corrupt"},
    };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code)
            return names[i].text;
    return "unknown error";
}
