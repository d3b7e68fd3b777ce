/* modeltest: what the unit tests of a subscriber's model share (the audit
 * and alert models): applying a batch through its subscriber_ops_t as the
 * runtime does, the text it printed, and its canonical dump as a string.
 * Test-only, header-only. */
#ifndef INV_TEST_MODELTEST_H
#define INV_TEST_MODELTEST_H

#include "subscriber.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* Applies evs[from..to] in one batch, as the subscriber runtime does: begin,
 * apply each, commit at the checkpoint (a replay never moves it back), then
 * the committed hook. */
static inline void
modeltest_apply_batch(const subscriber_ops_t *ops, void *m, const event_t *evs, int from, int to)
{
    cr_assert_eq(ops->begin(m), 0);
    for (int p = from; p <= to; p++)
        cr_assert_eq(ops->apply(m, &evs[p]), 0, "position %d", p);
    int64_t cp = 0; /* a replay never moves the checkpoint back */
    cr_assert_eq(ops->checkpoint(m, &cp), 0);
    cr_assert_eq(ops->commit(m, cp > to ? cp : to, ""), 0);
    ops->committed(m);
}

/* What was printed to out, a memory stream writing into *buf. */
static inline const char *
modeltest_printed(FILE *out, char *const *buf)
{
    fflush(out);
    return *buf ? *buf : "";
}

static inline int
modeltest_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The model's dump (dump_fn into a memory stream), malloc'ed. */
static inline char *
modeltest_dump(int (*dump_fn)(void *m, FILE *f), void *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(dump_fn(m, f), 0);
    fclose(f);
    return buf;
}

#endif
