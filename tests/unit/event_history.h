/* event_history: builds event histories in C for the read-side unit tests
 * (test_readmodel.c, test_queries.c): events in position order with
 * envelopes filled in, one helper per event type.  Test-only, header-only. */
#ifndef INV_TEST_EVENT_HISTORY_H
#define INV_TEST_EVENT_HISTORY_H

#include "chain.h"
#include "codec.h"
#include "message.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIST_MAX 512
#define DAY_US 86400000000LL

typedef struct {
    event_t ev[HIST_MAX]; /* events in position order */
    int n;
    int64_t now; /* recorded_at of the next event (us) */
    struct {
        char stream[STREAM_MAX + 1];
        int64_t version;
    } streams[128];
    int n_streams;
} hist_t;

static inline hist_t *
hist_new(void)
{
    hist_t *h = calloc(1, sizeof *h);
    cr_assert_not_null(h);
    h->now = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
    return h;
}

static inline int64_t
hist_version(hist_t *h, const char *stream)
{
    for (int i = 0; i < h->n_streams; i++)
        if (strcmp(h->streams[i].stream, stream) == 0)
            return ++h->streams[i].version;
    size_t n = strlen(stream);
    cr_assert_lt(n, sizeof h->streams[0].stream);
    memcpy(h->streams[h->n_streams].stream, stream, n + 1);
    return h->streams[h->n_streams++].version = 1;
}

static inline event_t *
hist_add(hist_t *h, event_type_t type, const char *kind, const char *id)
{
    cr_assert_lt(h->n, HIST_MAX);
    event_t *e = &h->ev[h->n++];
    memset(e, 0, sizeof *e);
    e->env.position = h->n;
    e->env.type = type;
    e->env.schema = event_spec(type)->schema;
    snprintf(e->env.stream, sizeof e->env.stream, "%s-%s", kind, id);
    e->env.version = hist_version(h, e->env.stream);
    snprintf(e->env.event_id, sizeof e->env.event_id, "e%d", h->n);
    snprintf(e->env.command_id, sizeof e->env.command_id, "c%d", h->n);
    e->env.recorded_at = h->now;
    h->now += 1000000;
    fields_t *d = &e->data;
    fields_set_str(d, type <= EV_SUPPLIER_RENAMED ? F_SUPPLIER_ID : F_PRODUCT_ID, id);
    return e;
}

/* An event of the stream <kind>-<id> with one text field besides the id. */
static inline event_t *
hist_add_text(hist_t *h, event_type_t type, const char *kind, const char *id, field_id_t field,
              const char *text)
{
    event_t *e = hist_add(h, type, kind, id);
    fields_set_str(&e->data, field, text);
    return e;
}

static inline event_t *
ev_supplier(hist_t *h, const char *sid, const char *name)
{
    return hist_add_text(h, EV_SUPPLIER_REGISTERED, "supplier", sid, F_NAME, name);
}

static inline event_t *
ev_rename(hist_t *h, const char *sid, const char *old_name, const char *new_name)
{
    event_t *e = hist_add(h, EV_SUPPLIER_RENAMED, "supplier", sid);
    fields_set_str(&e->data, F_OLD_NAME, old_name);
    fields_set_str(&e->data, F_NEW_NAME, new_name);
    return e;
}

static inline event_t *
ev_product(hist_t *h, const char *pid, const char *name, const char *sid, const char *sname,
           int64_t price, int64_t cost, int64_t stock, int64_t threshold)
{
    event_t *e = hist_add(h, EV_PRODUCT_CREATED, "product", pid);
    fields_t *d = &e->data;
    char sku[SKU_MAX + 1];
    snprintf(sku, sizeof sku, "SKU-%s", pid);
    fields_set_str(d, F_SKU, sku);
    fields_set_str(d, F_NAME, name);
    fields_set_str(d, F_DESCRIPTION, "A sturdy thing for everyday use");
    fields_set_str(d, F_SUPPLIER_ID, sid);
    fields_set_str(d, F_SUPPLIER_NAME, sname);
    fields_set_int(d, F_PRICE_CENTS, price);
    fields_set_int(d, F_COST_PRICE_CENTS, cost);
    fields_set_int(d, F_STOCK, stock);
    fields_set_int(d, F_LOW_STOCK_THRESHOLD, threshold);
    return e;
}

/* A product event that moves one value from old to new (price, stock). */
static inline event_t *
hist_change(hist_t *h, event_type_t type, const char *pid, field_id_t old_field, int64_t old_value,
            field_id_t new_field, int64_t new_value)
{
    event_t *e = hist_add(h, type, "product", pid);
    fields_set_int(&e->data, old_field, old_value);
    fields_set_int(&e->data, new_field, new_value);
    return e;
}

static inline event_t *
ev_price(hist_t *h, const char *pid, int64_t old_price, int64_t new_price)
{
    return hist_change(h, EV_PRICE_CHANGED, pid, F_OLD_PRICE_CENTS, old_price, F_NEW_PRICE_CENTS,
                       new_price);
}

static inline event_t *
ev_stock(hist_t *h, const char *pid, int64_t old_stock, int64_t new_stock)
{
    return hist_change(h, EV_STOCK_UPDATED, pid, F_OLD_STOCK, old_stock, F_NEW_STOCK, new_stock);
}

static inline event_t *
ev_sold(hist_t *h, const char *pid, int64_t qty, int64_t unit, int64_t old_stock)
{
    event_t *e = hist_add(h, EV_PRODUCT_SOLD, "product", pid);
    fields_set_str(&e->data, F_ORDER_ID, "o1");
    fields_set_int(&e->data, F_QUANTITY, qty);
    fields_set_int(&e->data, F_UNIT_PRICE_CENTS, unit);
    fields_set_int(&e->data, F_OLD_STOCK, old_stock);
    fields_set_int(&e->data, F_NEW_STOCK, old_stock - qty);
    return e;
}

static inline event_t *
ev_viewed(hist_t *h, const char *pid)
{
    return hist_add(h, EV_PRODUCT_VIEWED, "product", pid);
}

static inline event_t *
ev_review(hist_t *h, const char *pid, const char *rid, int64_t rating)
{
    event_t *e = hist_add(h, EV_REVIEW_SUBMITTED, "product", pid);
    fields_set_str(&e->data, F_REVIEW_ID, rid);
    fields_set_str(&e->data, F_CUSTOMER_ID, "cust1");
    fields_set_int(&e->data, F_RATING, rating);
    fields_set_str(&e->data, F_COMMENT, "fine");
    return e;
}

static inline event_t *
ev_discontinue(hist_t *h, const char *pid, const char *reason)
{
    return hist_add_text(h, EV_PRODUCT_DISCONTINUED, "product", pid, F_REASON, reason);
}

/* Fills env.hash of events 0..last (indexes) as the store would: the
 * chain over the position order (common/store/chain.h), each event's data
 * packed as the store packs it. */
static inline void
hist_chain(hist_t *h, int last)
{
    codec_writer_t w;
    codec_writer_init(&w);
    const uint8_t *prev = chain_genesis;
    for (int i = 0; i <= last && i < h->n; i++) {
        event_t *e = &h->ev[i];
        codec_writer_reset(&w);
        codec_pack_event_data(&w, e->env.type, &e->data);
        const char *type = event_spec(e->env.type)->name;
        chain_event_t cev = {e->env.stream, strlen(e->env.stream), e->env.version, type,
                             strlen(type),  w.buf.data,            w.buf.size,      e->env.recorded_at};
        chain_hash(prev, &cev, e->env.hash);
        prev = e->env.hash;
    }
    codec_writer_fini(&w);
}

#endif
