/* histogram: see histogram.h.  Values below 1024 have their own bucket;
 * above, each power of two is split into 512 equal buckets. */
#include "histogram.h"

#include <string.h>

void
histogram_init(histogram_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = INT64_MAX;
}

static int
bucket_of(uint64_t v)
{
    if (v < 1024)
        return (int)v;
    int exp = 63 - __builtin_clzll(v) - 9; /* v >> exp is in [512, 1024) */
    if (exp > 40)
        return HISTOGRAM_BUCKETS - 1;
    return 1024 + (exp - 1) * 512 + (int)((v >> exp) - 512);
}

static int64_t
bucket_upper(int b)
{
    if (b < 1024)
        return b;
    int exp = (b - 1024) / 512 + 1;
    int64_t sub = (b - 1024) % 512 + 512;
    return ((sub + 1) << exp) - 1;
}

void
histogram_record(histogram_t *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->counts[bucket_of((uint64_t)us)]++;
    h->total++;
    h->sum += (double)us;
    if (us > h->max)
        h->max = us;
    if (us < h->min)
        h->min = us;
}

int64_t
histogram_quantile(const histogram_t *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total);
    if (rank >= h->total)
        rank = h->total - 1;
    uint64_t seen = 0;
    for (int b = 0; b < HISTOGRAM_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen > rank) {
            int64_t up = bucket_upper(b);
            return up > h->max ? h->max : up;
        }
    }
    return h->max;
}
