/* aggregate: the kinds of aggregate as data.  One ops table per kind says
 * how its streams are named, how its state starts, folds an event and
 * decides a command, and which fields the state has; the code around the
 * aggregates (the cache, the snapshots, the command service, the relay's
 * stream queries) goes through the table and never switches on the kind.
 * Adding a kind: its module (like product.c), its agg_kind_t value
 * (message.h) and its entry in aggregate.c.  Pure: no I/O. */
#ifndef INV_AGGREGATE_H
#define INV_AGGREGATE_H

#include "decision.h"
#include "message.h"
#include "product.h"
#include "supplier.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state of an aggregate of any kind (the kind is kept beside it). */
typedef union {
    product_t product;
    supplier_t supplier;
} aggregate_state_t;

/* One field of a state, by name: what a snapshot stores (changing a table
 * changes the snapshot encoding: bump AGGSTORE_SNAPSHOT_SCHEMA) and what
 * ProductAsOf shows. */
typedef enum { AGG_FIELD_BOOL, AGG_FIELD_INT, AGG_FIELD_STR } aggregate_field_kind_t;
typedef struct {
    const char *key;
    aggregate_field_kind_t kind; /* bool, int64_t or char[size] */
    size_t offset;               /* in the kind's state struct */
    size_t size;                 /* AGG_FIELD_STR: the buffer's size */
} aggregate_field_t;

typedef struct {
    const char *stream_prefix; /* "product-": a stream is the prefix + its id */
    field_id_t id_field;       /* the command field holding that id */
    void (*init)(aggregate_state_t *s);
    /* Folds one event of the aggregate's stream. */
    void (*apply)(aggregate_state_t *s, const event_t *ev);
    /* Decides a command; `supplier` is the supplier a CreateProduct names,
     * loaded by the caller (NULL for other commands). */
    void (*decide)(const aggregate_state_t *s, const supplier_t *supplier, const command_t *cmd,
                   decision_t *out);
    int64_t (*version)(const aggregate_state_t *s); /* stream version folded */
    const aggregate_field_t *fields;                /* the state's fields */
    size_t n_fields;
} aggregate_ops_t;

/* The ops of kind (a valid agg_kind_t). */
const aggregate_ops_t *aggregate_ops(agg_kind_t kind);

/* Writes the stream of the kind's aggregate `id` (prefix + id, cut at
 * STREAM_MAX bytes). */
void aggregate_stream(agg_kind_t kind, const char *id, char out[STREAM_MAX + 1]);

/* True when stream is <prefix><id> of some kind with a valid id; *kind
 * says which. */
bool aggregate_stream_kind(const char *stream, agg_kind_t *kind);

#endif
