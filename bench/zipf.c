/* zipf: see zipf.h.  xorshift64* as the generator: fast and reproducible. */
#include "zipf.h"

#include <math.h>
#include <stdlib.h>

struct zipf {
    size_t n;
    double *cdf; /* cdf[k] = P(index <= k) */
    uint64_t state;
};

zipf_t *
zipf_new(size_t n, double s, uint64_t seed)
{
    if (n == 0)
        return NULL;
    zipf_t *z = calloc(1, sizeof *z);
    if (!z || !(z->cdf = malloc(n * sizeof *z->cdf))) {
        free(z);
        return NULL;
    }
    z->n = n;
    z->state = seed ? seed : 0x9E3779B97F4A7C15ull;
    double sum = 0;
    for (size_t k = 0; k < n; k++)
        sum += 1.0 / pow((double)(k + 1), s);
    double acc = 0;
    for (size_t k = 0; k < n; k++) {
        acc += 1.0 / pow((double)(k + 1), s) / sum;
        z->cdf[k] = acc;
    }
    z->cdf[n - 1] = 1.0;
    return z;
}

void
zipf_destroy(zipf_t **zp)
{
    if (!zp || !*zp)
        return;
    free((*zp)->cdf);
    free(*zp);
    *zp = NULL;
}

double
zipf_uniform(zipf_t *z)
{
    z->state ^= z->state >> 12;
    z->state ^= z->state << 25;
    z->state ^= z->state >> 27;
    return (double)((z->state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

size_t
zipf_next(zipf_t *z)
{
    double u = zipf_uniform(z);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
