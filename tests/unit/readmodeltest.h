/* readmodeltest: what the unit tests of the projector's read model share
 * (test_readmodel, test_queries).  Test-only, header-only. */
#ifndef INV_TEST_READMODELTEST_H
#define INV_TEST_READMODELTEST_H

#include "event_history.h"
#include "readmodel.h"

#include <criterion/criterion.h>

/* Applies events [from, to) of h as one batch ending at position to. */
static inline void
readmodeltest_apply(readmodel_t *m, const hist_t *h, int from, int to)
{
    cr_assert_eq(readmodel_begin(m), 0);
    for (int i = from; i < to; i++)
        cr_assert_eq(readmodel_apply(m, &h->ev[i]), 0, "apply %d: %s", i, readmodel_errmsg(m));
    cr_assert_eq(readmodel_commit(m, h->ev[to - 1].env.position, h->ev[to - 1].env.event_id), 0);
}

#endif
