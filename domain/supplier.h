/* supplier: the Supplier aggregate (stream supplier-<id>).  Pure: apply folds
 * events into state, decide turns a command and the state into a decision.
 * No I/O, no clock. */
#ifndef INV_SUPPLIER_H
#define INV_SUPPLIER_H

#include "decision.h"
#include "message.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool exists;
    int64_t version; /* stream version folded so far */
    char supplier_id[ID_MAX + 1];
    char name[NAME_MAX_BYTES + 1];
} supplier_t;

void supplier_init(supplier_t *s);
/* Folds one event of this stream; events of other types are ignored. */
void supplier_apply(supplier_t *s, const event_t *ev);
/* RegisterSupplier, RenameSupplier. */
void supplier_decide(const supplier_t *s, const command_t *cmd, decision_t *out);

#endif
