/* fields: see fields.h.  The spec table is the single statement of every
 * field's limits; codecs and the domain both consult it. */
#include "fields.h"

#include "strcopy.h"

#include <string.h>

#define BIG INT64_MAX

#define MONEY FIELDS_MONEY_MAX
#define COUNT FIELDS_COUNT_MAX

/* max_ is the domain's bound; ints stored before it may reach stored_. */
#define SPEC_STORED(name_, kind_, min_len_, max_len_, min_, max_, stored_)                         \
    {                                                                                              \
        .name = name_, .kind = kind_, .min_len = min_len_, .max_len = max_len_, .min_value = min_, \
        .max_value = max_, .max_stored = stored_, .name_len = sizeof name_ - 1                     \
    }
#define SPEC(name_, kind_, min_len_, max_len_, min_, max_)                                         \
    SPEC_STORED(name_, kind_, min_len_, max_len_, min_, max_, max_)
#define SPEC_INT(name_, min_, max_) SPEC_STORED(name_, FK_INT, 0, 0, min_, max_, BIG)
static const field_spec_t specs[F__COUNT] = {
    [F_PRODUCT_ID] = SPEC("product_id", FK_ID, 1, ID_MAX, 0, 0),
    [F_SUPPLIER_ID] = SPEC("supplier_id", FK_ID, 1, ID_MAX, 0, 0),
    [F_REVIEW_ID] = SPEC("review_id", FK_ID, 1, ID_MAX, 0, 0),
    [F_ORDER_ID] = SPEC("order_id", FK_ID, 1, ID_MAX, 0, 0),
    [F_CUSTOMER_ID] = SPEC("customer_id", FK_ID, 1, ID_MAX, 0, 0),
    [F_SKU] = SPEC("sku", FK_TEXT, 1, SKU_MAX, 0, 0),
    [F_NAME] = SPEC("name", FK_TEXT, 1, NAME_MAX_BYTES, 0, 0),
    [F_OLD_NAME] = SPEC("old_name", FK_TEXT, 1, NAME_MAX_BYTES, 0, 0),
    [F_NEW_NAME] = SPEC("new_name", FK_TEXT, 1, NAME_MAX_BYTES, 0, 0),
    [F_SUPPLIER_NAME] = SPEC("supplier_name", FK_TEXT, 1, NAME_MAX_BYTES, 0, 0),
    [F_DESCRIPTION] = SPEC("description", FK_TEXT, 0, DESCRIPTION_MAX, 0, 0),
    [F_COMMENT] = SPEC("comment", FK_TEXT, 0, COMMENT_MAX, 0, 0),
    [F_REASON] = SPEC("reason", FK_TEXT, 0, REASON_MAX, 0, 0),
    [F_PRICE_CENTS] = SPEC_INT("price_cents", 0, MONEY),
    [F_COST_PRICE_CENTS] = SPEC_INT("cost_price_cents", 0, MONEY),
    [F_STOCK] = SPEC_INT("stock", 0, COUNT),
    [F_LOW_STOCK_THRESHOLD] = SPEC_INT("low_stock_threshold", 0, COUNT),
    [F_OLD_PRICE_CENTS] = SPEC_INT("old_price_cents", 0, MONEY),
    [F_NEW_PRICE_CENTS] = SPEC_INT("new_price_cents", 0, MONEY),
    [F_OLD_STOCK] = SPEC_INT("old_stock", 0, COUNT),
    [F_NEW_STOCK] = SPEC_INT("new_stock", 0, COUNT),
    [F_QUANTITY] = SPEC_INT("quantity", 1, COUNT),
    [F_UNIT_PRICE_CENTS] = SPEC_INT("unit_price_cents", 0, MONEY),
    [F_RATING] = SPEC("rating", FK_INT, 0, 0, 1, 5),
};

#define STR_FIELD(f, member)                                                                       \
    [f] = {.offset = offsetof(fields_t, member), .cap = sizeof(((fields_t *)0)->member)}
static const struct {
    size_t offset;
    size_t cap;
} str_slots[F__COUNT] = {
    STR_FIELD(F_PRODUCT_ID, product_id),
    STR_FIELD(F_SUPPLIER_ID, supplier_id),
    STR_FIELD(F_REVIEW_ID, review_id),
    STR_FIELD(F_ORDER_ID, order_id),
    STR_FIELD(F_CUSTOMER_ID, customer_id),
    STR_FIELD(F_SKU, sku),
    STR_FIELD(F_NAME, name),
    STR_FIELD(F_OLD_NAME, old_name),
    STR_FIELD(F_NEW_NAME, new_name),
    STR_FIELD(F_SUPPLIER_NAME, supplier_name),
    STR_FIELD(F_DESCRIPTION, description),
    STR_FIELD(F_COMMENT, comment),
    STR_FIELD(F_REASON, reason),
};

void
fields_clear(fields_t *fs)
{
    fs->present = 0;
    memset(fs->num, 0, sizeof fs->num);
    for (int f = 0; f < F__COUNT; f++)
        if (str_slots[f].cap)
            ((char *)fs + str_slots[f].offset)[0] = '\0';
}

void
fields_copy(fields_t *dst, const fields_t *src)
{
    dst->present = src->present;
    memcpy(dst->num, src->num, sizeof dst->num);
    for (int f = 0; f < F__COUNT; f++) {
        if (!str_slots[f].cap)
            continue;
        const char *from = (const char *)src + str_slots[f].offset;
        memcpy((char *)dst + str_slots[f].offset, from, strlen(from) + 1);
    }
}

const field_spec_t *
fields_spec(field_id_t f)
{
    return &specs[f];
}

int
fields_lookup(const char *name, size_t len)
{
    for (int i = 0; i < F__COUNT; i++) {
        if (specs[i].name_len == len && specs[i].name[0] == name[0] &&
            memcmp(specs[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

char *
fields_str(fields_t *fs, field_id_t f)
{
    if (specs[f].kind == FK_INT)
        return NULL;
    return (char *)fs + str_slots[f].offset;
}

const char *
fields_cstr(const fields_t *fs, field_id_t f)
{
    if (specs[f].kind == FK_INT)
        return NULL;
    return (const char *)fs + str_slots[f].offset;
}

size_t
fields_str_cap(field_id_t f)
{
    return str_slots[f].cap;
}

bool
fields_has(const fields_t *fs, field_id_t f)
{
    return (fs->present & FIELD_BIT(f)) != 0;
}

int64_t
fields_int(const fields_t *fs, field_id_t f)
{
    return fs->num[f];
}

void
fields_set_int(fields_t *fs, field_id_t f, int64_t v)
{
    fs->num[f] = v;
    fs->present |= FIELD_BIT(f);
}

void
fields_set_str(fields_t *fs, field_id_t f, const char *s)
{
    char *dst = fields_str(fs, f);
    size_t cap = str_slots[f].cap;
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    fs->present |= FIELD_BIT(f);
}

/* [A-Za-z0-9_.:-] as two bitmaps of the ASCII range (bytes 0..63 and
 * 64..127): one shift and test per byte, since every event's envelope ids
 * are checked with it on the subscribers' apply path. */
#define ID_CHARS_LO 0x07ff600000000000ULL /* - . 0-9 : */
#define ID_CHARS_HI 0x07fffffe87fffffeULL /* A-Z _ a-z */
static bool
id_char(unsigned char c)
{
    return c < 64 ? (ID_CHARS_LO >> c) & 1 : c < 128 && ((ID_CHARS_HI >> (c - 64)) & 1);
}

const char *
fields_check_str(field_id_t f, const char *s, size_t len)
{
    const field_spec_t *sp = &specs[f];
    if (sp->kind == FK_INT)
        return "must be an integer";
    if (sp->kind == FK_ID) {
        if (len < sp->min_len || len > sp->max_len)
            return "must be 1..64 bytes of [A-Za-z0-9_.:-]";
        for (size_t i = 0; i < len; i++) {
            if (!id_char((unsigned char)s[i]))
                return "must be 1..64 bytes of [A-Za-z0-9_.:-]";
        }
        return NULL;
    }
    if (!utf8_valid(s, len))
        return "must be valid UTF-8 without NUL";
    if (len < sp->min_len)
        return "must not be empty";
    if (len > sp->max_len)
        return "is too long";
    return NULL;
}

const char *
fields_check_int(field_id_t f, int64_t v)
{
    const field_spec_t *sp = &specs[f];
    if (sp->kind != FK_INT)
        return "must be a string";
    if (v < sp->min_value) {
        if (f == F_RATING)
            return "must be 1..5";
        return sp->min_value == 1 ? "must be >= 1" : "must be >= 0";
    }
    if (v > sp->max_stored)
        return f == F_RATING ? "must be 1..5" : "is too large";
    return NULL;
}

const char *
fields_check_bound(field_id_t f, int64_t v)
{
    const field_spec_t *sp = &specs[f];
    if (sp->kind != FK_INT || v <= sp->max_value)
        return NULL;
    if (f == F_RATING)
        return "must be 1..5";
    bool money = sp->name_len > 6 && memcmp(sp->name + sp->name_len - 6, "_cents", 6) == 0;
    return money ? "must be at most 1000000000 (10,000,000.00)" : "must be at most 1000000000";
}

void
field_errors_add(field_errors_t *errs, const char *field, const char *message)
{
    if (errs->count >= FIELD_ERRORS_MAX)
        return;
    strcopy(errs->items[errs->count].field, sizeof errs->items[0].field, field);
    strcopy(errs->items[errs->count].message, sizeof errs->items[0].message, message);
    errs->count++;
}
