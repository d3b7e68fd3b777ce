/* product: see product.h.
 * Rules (DOMAIN.md, and docs/protocol.md where DOMAIN.md is silent):
 *  - every command but CreateProduct needs an existing product (not_found);
 *  - ChangePrice, SellProduct and DiscontinueProduct are refused on a
 *    discontinued product (discontinued); UpdateStock, views and reviews are
 *    still taken, so a recount or a late review is not lost;
 *  - ChangePrice to the current price is a validation error (nothing changes);
 *  - SellProduct needs 1 <= quantity <= stock (insufficient_stock). */
#include "product.h"

#include "strcopy.h"

#include <string.h>

void
product_init(product_t *p)
{
    memset(p, 0, sizeof *p);
}

/* ---- apply ---------------------------------------------------------------- */

static void
apply_created(product_t *p, const fields_t *d)
{
    p->exists = true;
    strcopy(p->product_id, sizeof p->product_id, d->product_id);
    strcopy(p->sku, sizeof p->sku, d->sku);
    strcopy(p->name, sizeof p->name, d->name);
    strcopy(p->supplier_id, sizeof p->supplier_id, d->supplier_id);
    strcopy(p->supplier_name, sizeof p->supplier_name, d->supplier_name);
    p->price_cents = fields_int(d, F_PRICE_CENTS);
    p->cost_price_cents = fields_int(d, F_COST_PRICE_CENTS);
    p->stock = fields_int(d, F_STOCK);
    p->low_stock_threshold = fields_int(d, F_LOW_STOCK_THRESHOLD);
}

static void
apply_price(product_t *p, const fields_t *d)
{
    p->price_cents = fields_int(d, F_NEW_PRICE_CENTS);
}

static void
apply_stock(product_t *p, const fields_t *d)
{
    p->stock = fields_int(d, F_NEW_STOCK);
}

static void
apply_sold(product_t *p, const fields_t *d)
{
    p->stock = fields_int(d, F_NEW_STOCK);
    /* events stored before the domain's bounds may hold any quantity: the
     * count stays at FIELDS_SAT_MAX rather than wrap */
    p->units_sold = fields_add_sat(p->units_sold, fields_int(d, F_QUANTITY));
}

static void
apply_viewed(product_t *p, const fields_t *d)
{
    (void)d;
    p->view_count = fields_add_sat(p->view_count, 1);
}

static void
apply_review(product_t *p, const fields_t *d)
{
    p->review_count = fields_add_sat(p->review_count, 1);
    p->rating_sum = fields_add_sat(p->rating_sum, fields_int(d, F_RATING));
}

static void
apply_discontinued(product_t *p, const fields_t *d)
{
    (void)d;
    p->discontinued = true;
}

typedef void (*product_apply_fn)(product_t *p, const fields_t *d);
static const product_apply_fn appliers[EV__COUNT] = {
    [EV_PRODUCT_CREATED] = apply_created,
    [EV_PRICE_CHANGED] = apply_price,
    [EV_STOCK_UPDATED] = apply_stock,
    [EV_PRODUCT_SOLD] = apply_sold,
    [EV_PRODUCT_VIEWED] = apply_viewed,
    [EV_REVIEW_SUBMITTED] = apply_review,
    [EV_PRODUCT_DISCONTINUED] = apply_discontinued,
};

void
product_apply(product_t *p, const event_t *ev)
{
    if (appliers[ev->env.type])
        appliers[ev->env.type](p, &ev->data);
    p->version = ev->env.version;
}

/* ---- decide --------------------------------------------------------------- */

static void
decide_create(const product_t *p, const supplier_t *s, const command_t *cmd, decision_t *out)
{
    const fields_t *c = &cmd->data;
    if (p->exists) {
        decision_reject(out, REJ_ALREADY_EXISTS, "product %s already exists", c->product_id);
        return;
    }
    if (!s || !s->exists) {
        decision_reject(out, REJ_NOT_FOUND, "supplier %s not found", c->supplier_id);
        return;
    }
    decision_accept(out, EV_PRODUCT_CREATED);
    fields_t *d = &out->data;
    static const field_id_t copied[] = {F_PRODUCT_ID,       F_SKU,         F_NAME,
                                        F_DESCRIPTION,      F_SUPPLIER_ID, F_PRICE_CENTS,
                                        F_COST_PRICE_CENTS, F_STOCK,       F_LOW_STOCK_THRESHOLD};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        field_id_t f = copied[i];
        if (fields_spec(f)->kind == FK_INT)
            fields_set_int(d, f, fields_int(c, f));
        else
            fields_set_str(d, f, fields_cstr(c, f));
    }
    fields_set_str(d, F_SUPPLIER_NAME, s->name);
}

static void
decide_price(const product_t *p, const command_t *cmd, decision_t *out)
{
    int64_t price = fields_int(&cmd->data, F_PRICE_CENTS);
    if (price == p->price_cents) {
        decision_invalid(out, "price_cents", "is already the product's price");
        return;
    }
    decision_accept(out, EV_PRICE_CHANGED);
    fields_set_int(&out->data, F_OLD_PRICE_CENTS, p->price_cents);
    fields_set_int(&out->data, F_NEW_PRICE_CENTS, price);
}

static void
decide_stock(const product_t *p, const command_t *cmd, decision_t *out)
{
    decision_accept(out, EV_STOCK_UPDATED);
    fields_set_int(&out->data, F_OLD_STOCK, p->stock);
    fields_set_int(&out->data, F_NEW_STOCK, fields_int(&cmd->data, F_NEW_STOCK));
}

static void
decide_sell(const product_t *p, const command_t *cmd, decision_t *out)
{
    int64_t qty = fields_int(&cmd->data, F_QUANTITY);
    if (qty > p->stock) {
        decision_reject(out, REJ_INSUFFICIENT_STOCK, "only %lld in stock, %lld requested",
                        (long long)p->stock, (long long)qty);
        return;
    }
    decision_accept(out, EV_PRODUCT_SOLD);
    fields_set_str(&out->data, F_ORDER_ID, cmd->data.order_id);
    fields_set_int(&out->data, F_QUANTITY, qty);
    fields_set_int(&out->data, F_UNIT_PRICE_CENTS, p->price_cents);
    fields_set_int(&out->data, F_OLD_STOCK, p->stock);
    fields_set_int(&out->data, F_NEW_STOCK, p->stock - qty);
}

static void
decide_view(const product_t *p, const command_t *cmd, decision_t *out)
{
    (void)p;
    (void)cmd;
    decision_accept(out, EV_PRODUCT_VIEWED);
}

static void
decide_review(const product_t *p, const command_t *cmd, decision_t *out)
{
    (void)p;
    decision_accept(out, EV_REVIEW_SUBMITTED);
    fields_set_str(&out->data, F_REVIEW_ID, cmd->data.review_id);
    fields_set_str(&out->data, F_CUSTOMER_ID, cmd->data.customer_id);
    fields_set_int(&out->data, F_RATING, fields_int(&cmd->data, F_RATING));
    fields_set_str(&out->data, F_COMMENT, cmd->data.comment);
}

static void
decide_discontinue(const product_t *p, const command_t *cmd, decision_t *out)
{
    (void)p;
    decision_accept(out, EV_PRODUCT_DISCONTINUED);
    fields_set_str(&out->data, F_REASON, cmd->data.reason);
}

typedef void (*product_decide_fn)(const product_t *p, const command_t *cmd, decision_t *out);
static const struct {
    product_decide_fn fn;
    bool refused_when_discontinued;
} deciders[CMD__COUNT] = {
    [CMD_CHANGE_PRICE] = {.fn = decide_price, .refused_when_discontinued = true},
    [CMD_UPDATE_STOCK] = {.fn = decide_stock, .refused_when_discontinued = false},
    [CMD_SELL_PRODUCT] = {.fn = decide_sell, .refused_when_discontinued = true},
    [CMD_RECORD_PRODUCT_VIEW] = {.fn = decide_view, .refused_when_discontinued = false},
    [CMD_SUBMIT_REVIEW] = {.fn = decide_review, .refused_when_discontinued = false},
    [CMD_DISCONTINUE_PRODUCT] = {.fn = decide_discontinue, .refused_when_discontinued = true},
};

void
product_decide(const product_t *p, const supplier_t *supplier, const command_t *cmd,
               decision_t *out)
{
    decision_clear(out);
    if (cmd->type == CMD_CREATE_PRODUCT) {
        decide_create(p, supplier, cmd, out);
        return;
    }
    if (!deciders[cmd->type].fn) {
        decision_reject(out, REJ_MALFORMED, "not a product command");
        return;
    }
    if (!p->exists) {
        decision_reject(out, REJ_NOT_FOUND, "product %s not found", cmd->data.product_id);
        return;
    }
    if (p->discontinued && deciders[cmd->type].refused_when_discontinued) {
        decision_reject(out, REJ_DISCONTINUED, "product %s is discontinued", p->product_id);
        return;
    }
    deciders[cmd->type].fn(p, cmd, out);
    if (out->code == REJ_NONE)
        fields_set_str(&out->data, F_PRODUCT_ID, p->product_id);
}
