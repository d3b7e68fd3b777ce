/* Unit tests of common/base/err: every code has a name of its own. */
#include "err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(err, every_code_has_a_distinct_name)
{
    const err_t codes[] = {ERR_OK, ERR_BUSY, ERR_IO, ERR_DUPLICATE, ERR_CORRUPT};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_neq(err_strerror(codes[i]), "unknown error", "code %d", codes[i]);
        for (size_t j = i + 1; j < n; j++)
            cr_assert_str_neq(err_strerror(codes[i]), err_strerror(codes[j]));
    }
}

Test(err, an_unknown_code_is_named_so)
{
    cr_assert_str_eq(err_strerror(-99), "unknown error");
    cr_assert_str_eq(err_strerror(1), "unknown error");
}
