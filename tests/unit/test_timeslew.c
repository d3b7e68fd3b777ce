/* Unit tests of the event store's time rule (common/store/timeslew.h, G4;
 * issue 23 item 15): monotonic, never frozen, back on the wall clock once
 * it has caught up.  Times are values. */
#include "timeslew.h"

#include <criterion/criterion.h>

#define S 1000000LL /* one second in microseconds */
#define DAY (86400LL * S)
#define T0 1765000000000000LL /* some wall-clock time */

Test(timeslew, the_wall_clock_is_used_while_it_is_ahead_of_the_head)
{
    timeslew_t s = {0};
    cr_assert_eq(timeslew_next(&s, T0, T0 + 5, 0), T0 + 5);
    cr_assert_eq(timeslew_next(&s, T0 + 5, T0 + 5, 0), T0 + 5, "equal is fine");
    cr_assert_not(s.active);
}

/* The clock was a day ahead while the head was written, then set right:
 * the events of the next seconds still get distinct, increasing times. */
Test(timeslew, a_day_step_back_keeps_time_moving)
{
    timeslew_t s = {0};
    int64_t head = T0 + DAY, mono = 777 * S;
    int64_t prev = timeslew_next(&s, head, T0, mono);
    cr_assert_eq(prev, head, "the first event after the step takes the head's time");
    int distinct = 0;
    for (int i = 1; i <= 8183; i++) { /* one event every 10 ms */
        int64_t t = timeslew_next(&s, prev, T0 + i * 10000, mono + i * 10000);
        cr_assert_geq(t, prev, "never back");
        distinct += t > prev;
        prev = t;
    }
    cr_assert_eq(distinct, 8183, "every event its own time (the old rule: one time for all)");
    cr_assert_eq(prev, head + 8183 * 10000 / 2, "half the real rate");
}

Test(timeslew, the_wall_clock_takes_over_once_it_caught_up)
{
    timeslew_t s = {0};
    int64_t head = T0 + 10 * S, mono = 0, prev = head, wall = T0;
    int64_t step = S / 10, elapsed = 0;
    while (wall < prev) {
        wall += step;
        mono += step;
        elapsed += step;
        int64_t t = timeslew_next(&s, prev, wall, mono);
        cr_assert_geq(t, prev);
        prev = t;
        cr_assert_leq(elapsed, 21 * S, "caught up after about twice the step");
    }
    cr_assert_geq(elapsed, 19 * S);
    cr_assert_eq(prev, wall, "the wall clock again");
    cr_assert_not(s.active);
    cr_assert_eq(timeslew_next(&s, prev, wall + 3, mono + 3), wall + 3);
}

Test(timeslew, a_head_written_by_someone_else_starts_a_new_slew)
{
    timeslew_t s = {0};
    cr_assert_eq(timeslew_next(&s, T0 + DAY, T0, 100 * S), T0 + DAY);
    cr_assert_eq(timeslew_next(&s, T0 + DAY, T0 + S, 101 * S), T0 + DAY + S / 2);
    /* another head (a restart, another writer) */
    cr_assert_eq(timeslew_next(&s, T0 + 2 * DAY, T0 + 2 * S, 102 * S), T0 + 2 * DAY);
    cr_assert_eq(timeslew_next(&s, T0 + 2 * DAY, T0 + 4 * S, 104 * S), T0 + 2 * DAY + S);
    /* a monotonic clock that went back (cannot happen; still never below the floor) */
    cr_assert_geq(timeslew_next(&s, T0 + 2 * DAY + S, T0, 0), T0 + 2 * DAY + S);
}
