/* aggregate: see aggregate.h.  The ops adapt each kind's own functions
 * (product_apply on a product_t, ...) to the state union. */
#include "aggregate.h"

#include <stdio.h>
#include <string.h>

#define FIELD(T, m, k, sz)                                                                         \
    {                                                                                              \
#m, k, offsetof(T, m), sz                                                                  \
    }
#define FIELD_STR(T, m) FIELD(T, m, AGG_FIELD_STR, sizeof(((T *)0)->m))
#define FIELD_INT(T, m) FIELD(T, m, AGG_FIELD_INT, 0)
#define FIELD_BOOL(T, m) FIELD(T, m, AGG_FIELD_BOOL, 0)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- product ------------------------------------------------------------- */

static const aggregate_field_t product_fields[] = {
    FIELD_BOOL(product_t, exists),
    FIELD_INT(product_t, version),
    FIELD_STR(product_t, product_id),
    FIELD_STR(product_t, sku),
    FIELD_STR(product_t, name),
    FIELD_STR(product_t, supplier_id),
    FIELD_STR(product_t, supplier_name),
    FIELD_INT(product_t, price_cents),
    FIELD_INT(product_t, cost_price_cents),
    FIELD_INT(product_t, stock),
    FIELD_INT(product_t, low_stock_threshold),
    FIELD_BOOL(product_t, discontinued),
    FIELD_INT(product_t, units_sold),
    FIELD_INT(product_t, view_count),
    FIELD_INT(product_t, review_count),
    FIELD_INT(product_t, rating_sum),
};

static void
product_init_op(aggregate_state_t *s)
{
    product_init(&s->product);
}

static void
product_apply_op(aggregate_state_t *s, const event_t *ev)
{
    product_apply(&s->product, ev);
}

static void
product_decide_op(const aggregate_state_t *s, const supplier_t *supplier, const command_t *cmd,
                  decision_t *out)
{
    product_decide(&s->product, supplier, cmd, out);
}

static int64_t
product_version_op(const aggregate_state_t *s)
{
    return s->product.version;
}

/* ---- supplier ------------------------------------------------------------ */

static const aggregate_field_t supplier_fields[] = {
    FIELD_BOOL(supplier_t, exists),
    FIELD_INT(supplier_t, version),
    FIELD_STR(supplier_t, supplier_id),
    FIELD_STR(supplier_t, name),
};

static void
supplier_init_op(aggregate_state_t *s)
{
    supplier_init(&s->supplier);
}

static void
supplier_apply_op(aggregate_state_t *s, const event_t *ev)
{
    supplier_apply(&s->supplier, ev);
}

static void
supplier_decide_op(const aggregate_state_t *s, const supplier_t *supplier, const command_t *cmd,
                   decision_t *out)
{
    (void)supplier;
    supplier_decide(&s->supplier, cmd, out);
}

static int64_t
supplier_version_op(const aggregate_state_t *s)
{
    return s->supplier.version;
}

/* ---- the table ----------------------------------------------------------- */

static const aggregate_ops_t ops[AGG__COUNT] = {
    [AGG_PRODUCT] = {.stream_prefix = "product-",
                     .id_field = F_PRODUCT_ID,
                     .init = product_init_op,
                     .apply = product_apply_op,
                     .decide = product_decide_op,
                     .version = product_version_op,
                     .fields = product_fields,
                     .n_fields = COUNT(product_fields)},
    [AGG_SUPPLIER] = {.stream_prefix = "supplier-",
                      .id_field = F_SUPPLIER_ID,
                      .init = supplier_init_op,
                      .apply = supplier_apply_op,
                      .decide = supplier_decide_op,
                      .version = supplier_version_op,
                      .fields = supplier_fields,
                      .n_fields = COUNT(supplier_fields)},
};

const aggregate_ops_t *
aggregate_ops(agg_kind_t kind)
{
    return &ops[kind];
}

void
aggregate_stream(agg_kind_t kind, const char *id, char out[STREAM_MAX + 1])
{
    snprintf(out, STREAM_MAX + 1, "%s%s", ops[kind].stream_prefix, id);
}

bool
aggregate_stream_kind(const char *stream, agg_kind_t *kind)
{
    for (int k = 0; k < AGG__COUNT; k++) {
        size_t n = strlen(ops[k].stream_prefix);
        if (strncmp(stream, ops[k].stream_prefix, n) == 0) {
            *kind = (agg_kind_t)k;
            return message_id_valid(stream + n, strlen(stream + n));
        }
    }
    return false;
}
