/* cli_color's decision: --color always and never win; auto colours a
 * terminal unless NO_COLOR is set to a non-empty value (no-color.org). */
#include "cli_color.h"

#include <criterion/criterion.h>

Test(cli_color, always_and_never_win)
{
    cr_assert(cli_color_decide("always", NULL, false));
    cr_assert(cli_color_decide("always", "1", false));
    cr_assert_not(cli_color_decide("never", NULL, true));
}

Test(cli_color, auto_colours_a_terminal_without_no_color)
{
    cr_assert(cli_color_decide("auto", NULL, true));
    cr_assert(cli_color_decide(NULL, NULL, true));
    cr_assert(cli_color_decide("auto", "", true), "an empty NO_COLOR does not count");
    cr_assert_not(cli_color_decide("auto", "1", true));
    cr_assert_not(cli_color_decide("auto", NULL, false), "not into a pipe");
}
