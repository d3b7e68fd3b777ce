/* message: see message.h.  The two spec tables are the contract of
 * DOMAIN.md in data form: which fields each command and event carries. */
#include "message.h"

#include "aggregate.h"

#include <stdio.h>
#include <string.h>

#define B(f) FIELD_BIT(f)

static const command_spec_t command_specs[CMD__COUNT] = {
    [CMD_REGISTER_SUPPLIER] = {.name = "RegisterSupplier",
                               .required = B(F_SUPPLIER_ID) | B(F_NAME),
                               .aggregate = AGG_SUPPLIER},
    [CMD_RENAME_SUPPLIER] = {.name = "RenameSupplier",
                             .required = B(F_SUPPLIER_ID) | B(F_NAME),
                             .aggregate = AGG_SUPPLIER},
    [CMD_CREATE_PRODUCT] = {.name = "CreateProduct",
                            .required = B(F_PRODUCT_ID) | B(F_SKU) | B(F_NAME) | B(F_SUPPLIER_ID) |
                                        B(F_PRICE_CENTS) | B(F_COST_PRICE_CENTS) | B(F_STOCK) |
                                        B(F_LOW_STOCK_THRESHOLD),
                            .optional = B(F_DESCRIPTION),
                            .aggregate = AGG_PRODUCT},
    [CMD_CHANGE_PRICE] = {.name = "ChangePrice",
                          .required = B(F_PRODUCT_ID) | B(F_PRICE_CENTS),
                          .aggregate = AGG_PRODUCT},
    [CMD_UPDATE_STOCK] = {.name = "UpdateStock",
                          .required = B(F_PRODUCT_ID) | B(F_NEW_STOCK),
                          .aggregate = AGG_PRODUCT},
    [CMD_SELL_PRODUCT] = {.name = "SellProduct",
                          .required = B(F_PRODUCT_ID) | B(F_QUANTITY) | B(F_ORDER_ID),
                          .aggregate = AGG_PRODUCT},
    [CMD_RECORD_PRODUCT_VIEW] = {.name = "RecordProductView",
                                 .required = B(F_PRODUCT_ID),
                                 .aggregate = AGG_PRODUCT},
    [CMD_SUBMIT_REVIEW] = {.name = "SubmitReview",
                           .required =
                               B(F_PRODUCT_ID) | B(F_REVIEW_ID) | B(F_CUSTOMER_ID) | B(F_RATING),
                           .optional = B(F_COMMENT),
                           .aggregate = AGG_PRODUCT},
    [CMD_DISCONTINUE_PRODUCT] = {.name = "DiscontinueProduct",
                                 .required = B(F_PRODUCT_ID),
                                 .optional = B(F_REASON),
                                 .aggregate = AGG_PRODUCT},
};

static const event_spec_t event_specs[EV__COUNT] = {
    [EV_SUPPLIER_REGISTERED] = {.name = "SupplierRegistered",
                                .schema = 1,
                                .fields = B(F_SUPPLIER_ID) | B(F_NAME)},
    [EV_SUPPLIER_RENAMED] = {.name = "SupplierRenamed",
                             .schema = 1,
                             .fields = B(F_SUPPLIER_ID) | B(F_OLD_NAME) | B(F_NEW_NAME)},
    [EV_PRODUCT_CREATED] = {.name = "ProductCreated",
                            .schema = 2,
                            .fields = B(F_PRODUCT_ID) | B(F_SKU) | B(F_NAME) | B(F_DESCRIPTION) |
                                      B(F_SUPPLIER_ID) | B(F_SUPPLIER_NAME) | B(F_PRICE_CENTS) |
                                      B(F_COST_PRICE_CENTS) | B(F_STOCK) |
                                      B(F_LOW_STOCK_THRESHOLD)},
    [EV_PRICE_CHANGED] = {.name = "PriceChanged",
                          .schema = 1,
                          .fields = B(F_PRODUCT_ID) | B(F_OLD_PRICE_CENTS) | B(F_NEW_PRICE_CENTS)},
    [EV_STOCK_UPDATED] = {.name = "StockUpdated",
                          .schema = 1,
                          .fields = B(F_PRODUCT_ID) | B(F_OLD_STOCK) | B(F_NEW_STOCK)},
    [EV_PRODUCT_SOLD] = {.name = "ProductSold",
                         .schema = 1,
                         .fields = B(F_PRODUCT_ID) | B(F_ORDER_ID) | B(F_QUANTITY) |
                                   B(F_UNIT_PRICE_CENTS) | B(F_OLD_STOCK) | B(F_NEW_STOCK)},
    [EV_PRODUCT_VIEWED] = {.name = "ProductViewed", .schema = 1, .fields = B(F_PRODUCT_ID)},
    [EV_REVIEW_SUBMITTED] = {.name = "ReviewSubmitted",
                             .schema = 1,
                             .fields = B(F_PRODUCT_ID) | B(F_REVIEW_ID) | B(F_CUSTOMER_ID) |
                                       B(F_RATING) | B(F_COMMENT)},
    [EV_PRODUCT_DISCONTINUED] = {.name = "ProductDiscontinued",
                                 .schema = 1,
                                 .fields = B(F_PRODUCT_ID) | B(F_REASON)},
};

static const char *const reject_names[REJ__COUNT] = {
    [REJ_NONE] = "none",
    [REJ_VALIDATION] = "validation",
    [REJ_NOT_FOUND] = "not_found",
    [REJ_ALREADY_EXISTS] = "already_exists",
    [REJ_CONFLICT] = "conflict",
    [REJ_INSUFFICIENT_STOCK] = "insufficient_stock",
    [REJ_DISCONTINUED] = "discontinued",
    [REJ_MALFORMED] = "malformed",
    [REJ_UNAVAILABLE] = "unavailable",
    [REJ_FORBIDDEN] = "forbidden",
    [REJ_NOT_LEADER] = "not_leader",
};

const command_spec_t *
command_spec(command_type_t t)
{
    return &command_specs[t];
}

const event_spec_t *
event_spec(event_type_t t)
{
    return &event_specs[t];
}

int
command_type_lookup(const char *name, size_t len)
{
    for (int i = 0; i < CMD__COUNT; i++) {
        if (strlen(command_specs[i].name) == len && memcmp(command_specs[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

int
event_type_lookup(const char *name, size_t len)
{
    for (int i = 0; i < EV__COUNT; i++) {
        if (strlen(event_specs[i].name) == len && memcmp(event_specs[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

const char *
reject_code_name(reject_code_t code)
{
    return (code >= 0 && code < REJ__COUNT) ? reject_names[code] : "unknown";
}

void
command_stream(const command_t *cmd, char out[STREAM_MAX + 1])
{
    agg_kind_t kind = command_specs[cmd->type].aggregate;
    aggregate_stream(kind, fields_cstr(&cmd->data, aggregate_ops(kind)->id_field), out);
}

int
command_check_fields(command_t *cmd, field_errors_t *errs)
{
    const command_spec_t *spec = &command_specs[cmd->type];
    int before = errs->count;
    for (int f = 0; f < F__COUNT; f++) {
        uint32_t bit = FIELD_BIT(f);
        bool has = (cmd->data.present & bit) != 0;
        if ((spec->required & bit) && !has) {
            /* a value that broke its rule was not stored: it is named
             * already, and `fields` is a map (one entry per field) */
            bool named = false;
            for (int i = 0; i < before && !named; i++)
                named = strcmp(errs->items[i].field, fields_spec(f)->name) == 0;
            if (!named)
                field_errors_add(errs, fields_spec(f)->name, "is required");
        } else if (has && !((spec->required | spec->optional) & bit)) {
            field_errors_add(errs, fields_spec(f)->name, "is not a field of this command");
        } else if (has && fields_spec(f)->kind == FK_INT &&
                   fields_check_bound(f, cmd->data.num[f])) {
            /* the domain's bounds hold for new commands only: stored events
             * above them still decode */
            field_errors_add(errs, fields_spec(f)->name, fields_check_bound(f, cmd->data.num[f]));
        } else if (!has && (spec->optional & bit)) {
            if (fields_spec(f)->kind == FK_INT)
                fields_set_int(&cmd->data, f, 0);
            else
                fields_set_str(&cmd->data, f, "");
        }
    }
    return errs->count - before;
}

bool
message_id_valid(const char *s, size_t len)
{
    return fields_check_str(F_PRODUCT_ID, s, len) == NULL;
}
