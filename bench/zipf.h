/* zipf: a skewed choice of n items (item k has weight 1 / (k+1)^s), drawn
 * from a precomputed cumulative table by binary search. */
#ifndef INV_ZIPF_H
#define INV_ZIPF_H

#include <stddef.h>
#include <stdint.h>

typedef struct zipf zipf_t;

/* NULL on allocation failure or n == 0.  s = 0 is uniform. */
zipf_t *zipf_new(size_t n, double s, uint64_t seed);
void zipf_destroy(zipf_t **z);
/* An index in [0, n). */
size_t zipf_next(zipf_t *z);
/* A uniform double in [0, 1) from the same generator. */
double zipf_uniform(zipf_t *z);

#endif
