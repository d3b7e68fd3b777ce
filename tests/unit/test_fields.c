/* Unit tests of domain/fields: the per-field rules (UTF-8 itself: test_utf8). */
#include "fields.h"
#include "message.h"

#include <criterion/criterion.h>
#include <string.h>

/* ---- ids ----------------------------------------------------------------- */

Test(fields, id_alphabet)
{
    cr_assert_null(fields_check_str(F_ORDER_ID, "Az09_.:-", 8));
    static const char *const bad[] = {"p 1", "p/1", "p\t", "caf\xc3\xa9", "p1\n", "a+b", "#"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not_null(fields_check_str(F_SUPPLIER_ID, bad[i], strlen(bad[i])), "%s", bad[i]);
    cr_assert_not_null(fields_check_str(F_REVIEW_ID, "a\0b", 3));
    cr_assert(message_id_valid("cmd-1", 5));
    cr_assert_not(message_id_valid("cmd 1", 5));
    cr_assert_not(message_id_valid("", 0));
}

Test(fields, text_and_id_lengths)
{
    static const struct {
        field_id_t field;
        size_t max;    /* the longest accepted */
        bool empty_ok; /* whether "" is accepted */
    } limits[] = {
        {F_PRODUCT_ID, ID_MAX, false},          {F_NAME, NAME_MAX_BYTES, false},
        {F_DESCRIPTION, DESCRIPTION_MAX, true}, {F_COMMENT, COMMENT_MAX, true},
        {F_SKU, SKU_MAX, false},
    };
    char s[DESCRIPTION_MAX + 2];
    memset(s, 'a', sizeof s);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        field_id_t f = limits[i].field;
        cr_assert_eq(fields_check_str(f, s, 0) == NULL, limits[i].empty_ok, "%d: empty", f);
        cr_assert_null(fields_check_str(f, s, 1), "%d: one byte", f);
        cr_assert_null(fields_check_str(f, s, limits[i].max), "%d: the longest", f);
        cr_assert_not_null(fields_check_str(f, s, limits[i].max + 1), "%d: one too long", f);
    }
    cr_assert_not_null(fields_check_str(F_NAME, "a\xff", 2));
    cr_assert_not_null(fields_check_str(F_PRICE_CENTS, "12", 2), "an int field is not text");
}

/* ---- ints ---------------------------------------------------------------- */

Test(fields, int_rules)
{
    cr_assert_not_null(fields_check_int(F_RATING, 0));
    for (int r = 1; r <= 5; r++)
        cr_assert_null(fields_check_int(F_RATING, r));
    cr_assert_not_null(fields_check_int(F_RATING, 6));
    cr_assert_not_null(fields_check_int(F_RATING, -1));
    cr_assert_not_null(fields_check_int(F_QUANTITY, 0));
    cr_assert_not_null(fields_check_int(F_QUANTITY, -3));
    cr_assert_null(fields_check_int(F_QUANTITY, 1));
    cr_assert_null(fields_check_int(F_QUANTITY, INT64_MAX));
    static const field_id_t money[] = {F_PRICE_CENTS, F_COST_PRICE_CENTS, F_OLD_PRICE_CENTS,
                                       F_NEW_PRICE_CENTS, F_UNIT_PRICE_CENTS};
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
        cr_assert_null(fields_check_int(money[i], 0));
        cr_assert_null(fields_check_int(money[i], INT64_MAX));
        cr_assert_not_null(fields_check_int(money[i], -1));
        cr_assert_not_null(fields_check_int(money[i], INT64_MIN));
    }
    static const field_id_t counts[] = {F_STOCK, F_NEW_STOCK, F_OLD_STOCK, F_LOW_STOCK_THRESHOLD};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        cr_assert_null(fields_check_int(counts[i], 0));
        cr_assert_not_null(fields_check_int(counts[i], -1));
    }
    cr_assert_not_null(fields_check_int(F_NAME, 1), "a text field is not an int");
}

/* ---- the table and storage ----------------------------------------------- */

Test(fields, lookup_and_storage)
{
    for (int f = 0; f < F__COUNT; f++) {
        const char *name = fields_spec((field_id_t)f)->name;
        cr_assert_eq(fields_lookup(name, strlen(name)), f, "%s", name);
    }
    cr_assert_eq(fields_lookup("colour", 6), -1);
    cr_assert_eq(fields_lookup("product_i", 9), -1);
    cr_assert_eq(fields_lookup("product_idx", 11), -1);

    fields_t fs;
    memset(&fs, 0, sizeof fs);
    cr_assert_not(fields_has(&fs, F_NAME));
    fields_set_str(&fs, F_NAME, "Hammer");
    cr_assert(fields_has(&fs, F_NAME));
    cr_assert_str_eq(fields_cstr(&fs, F_NAME), "Hammer");
    cr_assert_str_eq(fs.name, "Hammer");
    cr_assert_null(fields_str(&fs, F_STOCK));
    fields_set_int(&fs, F_STOCK, 7);
    cr_assert_eq(fields_int(&fs, F_STOCK), 7);
    cr_assert_eq(fields_str_cap(F_SKU), SKU_MAX + 1);
    /* fields_set_str truncates at the capacity */
    char big[NAME_MAX_BYTES + 50];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fields_set_str(&fs, F_NAME, big);
    cr_assert_eq(strlen(fs.name), NAME_MAX_BYTES);
    cr_assert_eq(fs.old_name[0], '\0', "the neighbour is untouched");
}

Test(fields, errors_are_bounded)
{
    field_errors_t errs;
    memset(&errs, 0, sizeof errs);
    for (int i = 0; i < FIELD_ERRORS_MAX + 5; i++)
        field_errors_add(&errs, "a_field_name_that_is_rather_long_indeed", "message");
    cr_assert_eq(errs.count, FIELD_ERRORS_MAX);
    cr_assert_eq(strlen(errs.items[0].field), sizeof errs.items[0].field - 1);
}

Test(fields, message_tables)
{
    for (int t = 0; t < CMD__COUNT; t++) {
        const char *n = command_spec((command_type_t)t)->name;
        cr_assert_eq(command_type_lookup(n, strlen(n)), t);
    }
    for (int t = 0; t < EV__COUNT; t++) {
        const char *n = event_spec((event_type_t)t)->name;
        cr_assert_eq(event_type_lookup(n, strlen(n)), t);
        cr_assert_geq(event_spec((event_type_t)t)->schema, 1);
    }
    cr_assert_eq(command_type_lookup("Sell", 4), -1);
    cr_assert_eq(event_type_lookup("ProductSold2", 12), -1);
    cr_assert_str_eq(reject_code_name(REJ_INSUFFICIENT_STOCK), "insufficient_stock");
    cr_assert_str_eq(reject_code_name(REJ_MALFORMED), "malformed");
    cr_assert_str_eq(reject_code_name((reject_code_t)99), "unknown");
}

/* fields_copy gives what a struct copy gives, field by field. */
Test(fields, copy_equals_a_struct_copy)
{
    static fields_t src, dst, whole;
    memset(&dst, 'x', sizeof dst); /* stale bytes everywhere */
    dst.present = ~0u;
    fields_clear(&src);
    fields_set_str(&src, F_PRODUCT_ID, "p42");
    fields_set_str(&src, F_DESCRIPTION, "a long description");
    fields_set_int(&src, F_STOCK, 9);
    fields_set_int(&src, F_QUANTITY, 2);
    fields_copy(&dst, &src);
    whole = src;
    cr_assert_eq(dst.present, whole.present);
    for (int f = 0; f < F__COUNT; f++) {
        if (fields_spec((field_id_t)f)->kind == FK_INT)
            cr_assert_eq(fields_int(&dst, (field_id_t)f), fields_int(&whole, (field_id_t)f), "%s",
                         fields_spec((field_id_t)f)->name);
        else
            cr_assert_str_eq(fields_cstr(&dst, (field_id_t)f), fields_cstr(&whole, (field_id_t)f),
                             "%s", fields_spec((field_id_t)f)->name);
    }
}

/* ---- the domain's bounds (issue 23, item 3) ------------------------------- */

Test(fields, bounds_fit_every_derived_value)
{
    int64_t r;
    /* one sale's revenue and one product's stock value fit with room */
    cr_assert_not(__builtin_mul_overflow(FIELDS_COUNT_MAX, FIELDS_MONEY_MAX, &r));
    cr_assert_leq(r, INT64_MAX / 9);
    static const field_id_t money[] = {F_PRICE_CENTS, F_COST_PRICE_CENTS, F_OLD_PRICE_CENTS,
                                       F_NEW_PRICE_CENTS, F_UNIT_PRICE_CENTS};
    static const field_id_t counts[] = {F_STOCK, F_LOW_STOCK_THRESHOLD, F_OLD_STOCK, F_NEW_STOCK,
                                        F_QUANTITY};
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
        cr_assert_null(fields_check_bound(money[i], FIELDS_MONEY_MAX));
        cr_assert_str_eq(fields_check_bound(money[i], FIELDS_MONEY_MAX + 1),
                         "must be at most 1000000000 (10,000,000.00)");
        cr_assert_not_null(fields_check_bound(money[i], INT64_MAX));
        /* what was stored before the bounds still decodes */
        cr_assert_null(fields_check_int(money[i], INT64_MAX));
    }
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        cr_assert_null(fields_check_bound(counts[i], FIELDS_COUNT_MAX));
        cr_assert_str_eq(fields_check_bound(counts[i], FIELDS_COUNT_MAX + 1),
                         "must be at most 1000000000");
        cr_assert_null(fields_check_int(counts[i], INT64_MAX));
    }
    cr_assert_not_null(fields_check_bound(F_RATING, 6));
    cr_assert_not_null(fields_check_int(F_RATING, 6));
}

/* A command above the bounds is a validation error naming each field. */
Test(fields, commands_above_the_bounds_are_validation_errors)
{
    command_t c;
    memset(&c, 0, sizeof c);
    c.type = CMD_CREATE_PRODUCT;
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_SKU, "K1");
    fields_set_str(&c.data, F_NAME, "Widget");
    fields_set_str(&c.data, F_SUPPLIER_ID, "s1");
    fields_set_int(&c.data, F_PRICE_CENTS, FIELDS_MONEY_MAX);
    fields_set_int(&c.data, F_COST_PRICE_CENTS, INT64_C(1) << 29);
    fields_set_int(&c.data, F_STOCK, FIELDS_COUNT_MAX);
    fields_set_int(&c.data, F_LOW_STOCK_THRESHOLD, 0);
    field_errors_t errs = {0};
    cr_assert_eq(command_check_fields(&c, &errs), 0, "at the bounds: %s",
                 errs.count ? errs.items[0].field : "");
    fields_set_int(&c.data, F_PRICE_CENTS, FIELDS_MONEY_MAX + 1);
    fields_set_int(&c.data, F_STOCK, INT64_C(1) << 31);
    cr_assert_eq(command_check_fields(&c, &errs), 2);
    cr_assert_str_eq(errs.items[0].field, "price_cents");
    cr_assert_str_eq(errs.items[1].field, "stock");
    cr_assert_str_eq(errs.items[1].message, "must be at most 1000000000");

    memset(&c, 0, sizeof c);
    c.type = CMD_SELL_PRODUCT;
    fields_set_str(&c.data, F_PRODUCT_ID, "p1");
    fields_set_str(&c.data, F_ORDER_ID, "o1");
    fields_set_int(&c.data, F_QUANTITY, INT64_MAX);
    memset(&errs, 0, sizeof errs);
    cr_assert_eq(command_check_fields(&c, &errs), 1);
    cr_assert_str_eq(errs.items[0].field, "quantity");
}

Test(fields, saturating_arithmetic)
{
    cr_assert_eq(fields_add_sat(INT64_MAX - 1, 1), INT64_MAX);
    cr_assert_eq(fields_add_sat(INT64_MAX, INT64_MAX), INT64_MAX);
    cr_assert_eq(fields_add_sat(3, 4), 7);
    cr_assert_eq(fields_mul_sat(4, INT64_C(1) << 62), INT64_MAX);
    cr_assert_eq(fields_mul_sat(2, INT64_MAX), INT64_MAX);
    cr_assert_eq(fields_mul_sat(INT64_C(1) << 31, INT64_C(1) << 31), INT64_C(1) << 62);
    cr_assert_eq(fields_mul_sat(0, INT64_MAX), 0);
}
