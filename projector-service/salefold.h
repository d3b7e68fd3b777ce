/* salefold: a bounded table of products by id, each with the sales, views
 * and stock updates folded into it that are not yet written to its row.
 *
 * The read model keeps one (readmodel.c): a product sold many times in one
 * batch is rewritten once, at commit, instead of once per sale, and the
 * row's version is remembered between batches, so a sale needs no read of
 * the row to know whether it was already applied.  Pure data: no SQLite, no
 * I/O.  Entries are kept in insertion order for writing out and clearing.
 *
 * Ownership: the table owns its entries; a pointer from salefold_get or
 * salefold_at is valid until salefold_clear or salefold_destroy. */
#ifndef INV_SALEFOLD_H
#define INV_SALEFOLD_H

#include "fields.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char product_id[ID_MAX + 1];
    bool known;            /* version is the row's, with the folded sales */
    int64_t version;       /* the product's version after the folded sales */
    int64_t pid;           /* the product row's pid (known with version) */
    bool pending;          /* events folded and not yet written */
    bool stock_set;        /* stock holds the row's new stock */
    int64_t stock;         /* after the last folded sale or stock update */
    int64_t units;         /* to add to units_sold */
    int64_t revenue_cents; /* to add to revenue_cents */
    int64_t views;         /* to add to view_count */
    int64_t updated_at;    /* recorded_at of the last folded event */
    int64_t sold_at;       /* recorded_at of the last folded sale; all folded
                              sales (units > 0) are of its day (UTC) */
} salefold_entry_t;

typedef struct salefold salefold_t;

/* A table of at most cap entries.  NULL on allocation failure or cap 0. */
salefold_t *salefold_new(size_t cap);
void salefold_destroy(salefold_t **f);

/* The entry of product_id.  When it has none: with create, a new entry
 * (zeroed but for the id; NULL when the table is full or the id longer than
 * ID_MAX), otherwise NULL. */
salefold_entry_t *salefold_get(salefold_t *f, const char *product_id, bool create);

/* Entries held, and the i-th of them in insertion order (i < count). */
size_t salefold_count(const salefold_t *f);
salefold_entry_t *salefold_at(salefold_t *f, size_t i);

/* Forgets every entry. */
void salefold_clear(salefold_t *f);

#endif
