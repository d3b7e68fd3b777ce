/* test_strhash: the shared string hash is 64-bit FNV-1a. */
#include "strhash.h"

#include <criterion/criterion.h>

Test(strhash, matches_the_published_fnv1a_64_vectors)
{
    cr_assert_eq(strhash(""), 0xcbf29ce484222325ull);
    cr_assert_eq(strhash("a"), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(strhash("foobar"), 0x85944171f73967e8ull);
}

Test(strhash, bytes_above_127_count_as_unsigned)
{
    cr_assert_neq(strhash("\xc3\xa9"), strhash("\x43\x29"));
}
