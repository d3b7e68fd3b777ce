/* stockwatch: see stockwatch.h.  The rule is one table: the alert raised by
 * each (previous level, next level) pair. */
#include "stockwatch.h"

#include <string.h>

static const stockwatch_kind_t transitions[STOCKWATCH__LEVELS][STOCKWATCH__LEVELS] = {
    /*                  to OK               to LOW                to OUT */
    [STOCKWATCH_OK] = {STOCKWATCH_NONE, STOCKWATCH_LOW_STOCK, STOCKWATCH_OUT_OF_STOCK},
    [STOCKWATCH_LOW] = {STOCKWATCH_CLEARED, STOCKWATCH_NONE, STOCKWATCH_OUT_OF_STOCK},
    [STOCKWATCH_OUT] = {STOCKWATCH_CLEARED, STOCKWATCH_LOW_STOCK, STOCKWATCH_NONE},
};

static const char *const level_names[STOCKWATCH__LEVELS] = {"ok", "low", "out"};
static const char *const kind_names[STOCKWATCH__KINDS] = {"", "low_stock", "out_of_stock",
                                                          "cleared"};
static const char *const kind_labels[STOCKWATCH__KINDS] = {"", "LOW STOCK", "OUT OF STOCK",
                                                           "CLEARED"};

stockwatch_level_t
stockwatch_level(int64_t stock, int64_t threshold)
{
    if (stock <= 0)
        return STOCKWATCH_OUT;
    return stock < threshold ? STOCKWATCH_LOW : STOCKWATCH_OK;
}

stockwatch_kind_t
stockwatch_step(const stockwatch_state_t *prev, int64_t new_stock, stockwatch_state_t *next)
{
    stockwatch_level_t from = prev->level;
    stockwatch_level_t to = stockwatch_level(new_stock, prev->threshold);
    bool discontinued = prev->discontinued;
    next->threshold = prev->threshold;
    next->stock = new_stock;
    next->level = to;
    next->discontinued = discontinued;
    if (discontinued || (unsigned)from >= STOCKWATCH__LEVELS)
        return STOCKWATCH_NONE;
    return transitions[from][to];
}

stockwatch_kind_t
stockwatch_created(int64_t stock, int64_t threshold, stockwatch_state_t *st)
{
    const stockwatch_state_t fresh = {0, threshold, STOCKWATCH_OK, false};
    return stockwatch_step(&fresh, stock, st);
}

const char *
stockwatch_level_name(stockwatch_level_t level)
{
    return (unsigned)level < STOCKWATCH__LEVELS ? level_names[level] : "";
}

const char *
stockwatch_kind_name(stockwatch_kind_t kind)
{
    return (unsigned)kind < STOCKWATCH__KINDS ? kind_names[kind] : "";
}

const char *
stockwatch_kind_label(stockwatch_kind_t kind)
{
    return (unsigned)kind < STOCKWATCH__KINDS ? kind_labels[kind] : "";
}

static int
lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (names[i][0] && strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int
stockwatch_level_lookup(const char *name)
{
    return lookup(level_names, STOCKWATCH__LEVELS, name);
}

int
stockwatch_kind_lookup(const char *name)
{
    return lookup(kind_names, STOCKWATCH__KINDS, name);
}
