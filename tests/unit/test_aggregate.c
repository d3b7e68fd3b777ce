/* test_aggregate: the ops table per aggregate kind.  Every kind has every
 * op; a kind's stream names round-trip through aggregate_stream_kind; a
 * command's stream is its kind's prefix and id; the ops fold and decide
 * like the kind's own functions. */
#include "aggregate.h"

#include <criterion/criterion.h>
#include <string.h>

Test(aggregate, every_kind_has_every_op)
{
    for (int k = 0; k < AGG__COUNT; k++) {
        const aggregate_ops_t *o = aggregate_ops((agg_kind_t)k);
        cr_assert(o->stream_prefix && o->stream_prefix[0], "kind %d", k);
        cr_assert(o->init && o->apply && o->decide && o->version, "kind %d", k);
        cr_assert(o->fields && o->n_fields > 0, "kind %d", k);
        cr_assert_eq(fields_spec(o->id_field)->kind, FK_ID, "kind %d", k);
    }
}

Test(aggregate, stream_names_round_trip)
{
    char stream[STREAM_MAX + 1];
    for (int k = 0; k < AGG__COUNT; k++) {
        aggregate_stream((agg_kind_t)k, "p-1", stream);
        agg_kind_t kind = AGG__COUNT;
        cr_assert(aggregate_stream_kind(stream, &kind), "%s", stream);
        cr_assert_eq(kind, k);
    }
    cr_assert_str_eq((aggregate_stream(AGG_PRODUCT, "p1", stream), stream), "product-p1");
    cr_assert_str_eq((aggregate_stream(AGG_SUPPLIER, "s1", stream), stream), "supplier-s1");
    agg_kind_t kind;
    cr_assert_not(aggregate_stream_kind("order-o1", &kind));
    cr_assert_not(aggregate_stream_kind("product-", &kind));
    cr_assert_not(aggregate_stream_kind("product-a b", &kind));
    cr_assert_not(aggregate_stream_kind("", &kind));
}

Test(aggregate, a_commands_stream_is_its_kinds_prefix_and_id)
{
    char stream[STREAM_MAX + 1];
    for (int t = 0; t < CMD__COUNT; t++) {
        command_t cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.type = (command_type_t)t;
        strcpy(cmd.data.product_id, "p7");
        strcpy(cmd.data.supplier_id, "s7");
        command_stream(&cmd, stream);
        agg_kind_t kind = command_spec(cmd.type)->aggregate;
        cr_assert_str_eq(stream, kind == AGG_SUPPLIER ? "supplier-s7" : "product-p7", "%s",
                         command_spec(cmd.type)->name);
    }
}

Test(aggregate, the_ops_fold_and_decide_like_the_kinds_own_functions)
{
    const aggregate_ops_t *o = aggregate_ops(AGG_SUPPLIER);
    aggregate_state_t s;
    o->init(&s);
    cr_assert_eq(o->version(&s), 0);
    command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CMD_REGISTER_SUPPLIER;
    strcpy(cmd.data.supplier_id, "s1");
    strcpy(cmd.data.name, "Acme");
    cmd.data.present = FIELD_BIT(F_SUPPLIER_ID) | FIELD_BIT(F_NAME);
    decision_t d;
    o->decide(&s, NULL, &cmd, &d);
    cr_assert_eq(d.code, REJ_NONE);
    event_t ev;
    decision_event(&d, "supplier-s1", 1, &ev);
    o->apply(&s, &ev);
    cr_assert(s.supplier.exists);
    cr_assert_eq(o->version(&s), 1);
    cr_assert_str_eq(s.supplier.name, "Acme");
}
