/* timeslew: the rule that keeps the event store's recorded_at monotonic
 * without freezing it (G4; issue 23 item 15).  Pure: the clocks come in as
 * values.
 *
 * An event's time is the wall clock's, unless the wall clock is behind the
 * store's head (it stepped back, or the head was written while it was
 * ahead).  Then the time moves on from the head at half the real rate, as
 * measured by the monotonic clock since the slew began: times stay in
 * order and keep moving (events a second apart are half a second apart),
 * and the wall clock, gaining half a second each second, catches up after
 * twice the step; from then on the wall clock's time is used again.  (The
 * rule it replaces held the head's time: a one-day step gave every event
 * of the next day the same time.)
 *
 *   wall >= floor                 -> wall (and the slew, if any, ends)
 *   wall <  floor, slewing, floor
 *     is this slew's last time    -> max(floor, anchor + (mono - anchor_mono) / 2)
 *   wall <  floor, otherwise      -> floor, and a slew is anchored at (floor, mono)
 *
 * A slew is anchored only at a time it handed out itself: a head written
 * by someone else (another process, before a restart) starts a new one at
 * that head. */
#ifndef INV_TIMESLEW_H
#define INV_TIMESLEW_H

#include <stdbool.h>
#include <stdint.h>

/* The rate while slewing: TIMESLEW_NUM / TIMESLEW_DEN of real time. */
#define TIMESLEW_NUM 1
#define TIMESLEW_DEN 2

typedef struct {
    bool active;         /* a slew is under way */
    int64_t anchor;      /* the time it started from, microseconds since the epoch */
    int64_t anchor_mono; /* the monotonic clock then, microseconds */
    int64_t last;        /* the last time it handed out */
} timeslew_t;

/* The time of the next event: floor is the head's time (or the previous
 * event's in this transaction), wall_us the wall clock, mono_us the
 * monotonic clock (read only when wall_us < floor; any value otherwise).
 * Never below floor. */
int64_t timeslew_next(timeslew_t *s, int64_t floor, int64_t wall_us, int64_t mono_us);

#endif
