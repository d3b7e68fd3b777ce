/* histogram: a log-linear latency histogram in microseconds (about 0.2%
 * relative precision, values up to ~2^40 us), fixed memory, no allocation
 * per sample.  Percentiles are read from bucket upper bounds. */
#ifndef INV_HISTOGRAM_H
#define INV_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_BUCKETS (1024 + 40 * 512)

typedef struct {
    uint64_t counts[HISTOGRAM_BUCKETS];
    uint64_t total;
    int64_t max; /* us */
    int64_t min; /* us */
    double sum;  /* us, for the mean */
} histogram_t;

void histogram_init(histogram_t *h);
/* Records one value (negative values count as 0). */
void histogram_record(histogram_t *h, int64_t us);
/* The value at quantile q in [0, 1] (0 when empty). */
int64_t histogram_quantile(const histogram_t *h, double q);

#endif
