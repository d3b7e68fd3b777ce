/* timeslew: see timeslew.h. */
#include "timeslew.h"

int64_t
timeslew_next(timeslew_t *s, int64_t floor, int64_t wall_us, int64_t mono_us)
{
    if (wall_us >= floor) {
        s->active = false;
        return wall_us;
    }
    if (!s->active || s->last != floor || mono_us < s->anchor_mono) {
        s->active = true;
        s->anchor = floor;
        s->anchor_mono = mono_us;
    }
    int64_t elapsed = mono_us - s->anchor_mono;
    int64_t t = s->anchor + elapsed / TIMESLEW_DEN * TIMESLEW_NUM;
    if (t < floor)
        t = floor;
    s->last = t;
    return t;
}
