/* product: the Product aggregate (stream product-<id>).  Pure: apply folds
 * events into state, decide turns a command and the state into a decision.
 * No I/O, no clock; the supplier a CreateProduct names is passed in by the
 * caller, already loaded. */
#ifndef INV_PRODUCT_H
#define INV_PRODUCT_H

#include "decision.h"
#include "message.h"
#include "supplier.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool exists;
    int64_t version; /* stream version folded so far */
    char product_id[ID_MAX + 1];
    char sku[SKU_MAX + 1];
    char name[NAME_MAX_BYTES + 1];
    char supplier_id[ID_MAX + 1];
    char supplier_name[NAME_MAX_BYTES + 1]; /* as embedded at creation */
    int64_t price_cents;                    /* >= 0 */
    int64_t cost_price_cents;               /* >= 0 */
    int64_t stock;                          /* units, >= 0 */
    int64_t low_stock_threshold;            /* units */
    bool discontinued;
    int64_t units_sold; /* total over all ProductSold */
    int64_t view_count;
    int64_t review_count;
    int64_t rating_sum; /* sum of ratings, avg = sum / count */
} product_t;

void product_init(product_t *p);
/* Folds one event of this stream. */
void product_apply(product_t *p, const event_t *ev);
/* Every product command.  `supplier` is only read for CreateProduct and may
 * be NULL otherwise. */
void product_decide(const product_t *p, const supplier_t *supplier, const command_t *cmd,
                    decision_t *out);

#endif
