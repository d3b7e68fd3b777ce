/* stockwatch: the low-stock alert rule, as pure code (no I/O, no clock).
 *
 * A product is in one of three levels, a function of its stock and its
 * low_stock_threshold only:
 *   out  when stock == 0 (whatever the threshold),
 *   low  when 0 < stock < threshold,
 *   ok   otherwise (stock >= threshold).
 * An alert is raised exactly when the level changes, naming the level
 * entered: ok|out -> low raises LOW STOCK, any -> out raises OUT OF STOCK,
 * low|out -> ok raises CLEARED.  So a product that goes low is alerted once,
 * not again on each later sale while it stays low; reaching zero is alerted
 * once; a partial restock from out to still-below-threshold raises LOW STOCK
 * (the product is back but still short); a restock to >= threshold clears.
 * A new product starts from ok: created below its threshold it raises LOW
 * STOCK, created at 0 OUT OF STOCK.
 * A discontinued product raises nothing any more: its level is still kept
 * up to date, but nobody will reorder it, so an alert would be noise.  An
 * alert open when it was discontinued is not cleared (it was not
 * restocked). */
#ifndef INV_STOCKWATCH_H
#define INV_STOCKWATCH_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    STOCKWATCH_OK,
    STOCKWATCH_LOW,
    STOCKWATCH_OUT,
    STOCKWATCH__LEVELS
} stockwatch_level_t;

typedef enum {
    STOCKWATCH_NONE,         /* no alert */
    STOCKWATCH_LOW_STOCK,    /* entered low */
    STOCKWATCH_OUT_OF_STOCK, /* entered out */
    STOCKWATCH_CLEARED,      /* back to ok from low or out */
    STOCKWATCH__KINDS
} stockwatch_kind_t;

/* What the rule remembers per product. */
typedef struct {
    int64_t stock;            /* units on hand, >= 0 */
    int64_t threshold;        /* low_stock_threshold, >= 0 */
    stockwatch_level_t level; /* level(stock, threshold) after the last change */
    bool discontinued;        /* no alerts any more */
} stockwatch_state_t;

/* The level of a stock against a threshold. */
stockwatch_level_t stockwatch_level(int64_t stock, int64_t threshold);

/* Moves prev to new_stock: fills *next (may alias prev) and returns the
 * alert raised, STOCKWATCH_NONE when the level stays or the product is
 * discontinued. */
stockwatch_kind_t stockwatch_step(const stockwatch_state_t *prev, int64_t new_stock,
                                  stockwatch_state_t *next);

/* A product created with `stock` and `threshold`: fills *st and returns the
 * alert raised at creation (LOW STOCK below threshold, OUT OF STOCK at 0). */
stockwatch_kind_t stockwatch_created(int64_t stock, int64_t threshold, stockwatch_state_t *st);

/* Names: "ok"|"low"|"out"; "low_stock"|"out_of_stock"|"cleared" (wire);
 * "LOW STOCK"|"OUT OF STOCK"|"CLEARED" (printed).  "" for NONE. */
const char *stockwatch_level_name(stockwatch_level_t level);
const char *stockwatch_kind_name(stockwatch_kind_t kind);
const char *stockwatch_kind_label(stockwatch_kind_t kind);
/* Parses a level or a wire kind name; -1 when unknown. */
int stockwatch_level_lookup(const char *name);
int stockwatch_kind_lookup(const char *name);

#endif
