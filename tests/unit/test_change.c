/* Unit tests of audit-service/change: the text of every event type, hostile
 * strings (always one line), truncation and the ISO time. */
#include "change.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static event_t ev; /* large: kept off the stack */

static const char *
describe(event_type_t type)
{
    static char out[CHANGE_MAX];
    ev.env.type = type;
    change_describe(&ev, out, sizeof out);
    return out;
}

static void
reset(void)
{
    memset(&ev, 0, sizeof ev);
}

TestSuite(change, .init = reset);

Test(change, stock_updated)
{
    fields_set_int(&ev.data, F_OLD_STOCK, 12);
    fields_set_int(&ev.data, F_NEW_STOCK, 3);
    cr_assert_str_eq(describe(EV_STOCK_UPDATED), "stock 12 -> 3");
}

Test(change, price_changed)
{
    fields_set_int(&ev.data, F_OLD_PRICE_CENTS, 1999);
    fields_set_int(&ev.data, F_NEW_PRICE_CENTS, 1499);
    cr_assert_str_eq(describe(EV_PRICE_CHANGED), "price 1999 -> 1499");
}

Test(change, supplier_renamed)
{
    fields_set_str(&ev.data, F_OLD_NAME, "Acme");
    fields_set_str(&ev.data, F_NEW_NAME, "Acme Ltd");
    cr_assert_str_eq(describe(EV_SUPPLIER_RENAMED), "name \"Acme\" -> \"Acme Ltd\"");
}

Test(change, supplier_registered)
{
    fields_set_str(&ev.data, F_NAME, "Acme");
    cr_assert_str_eq(describe(EV_SUPPLIER_REGISTERED), "registered \"Acme\"");
}

Test(change, product_created)
{
    fields_set_str(&ev.data, F_NAME, "Widget");
    fields_set_int(&ev.data, F_PRICE_CENTS, 1999);
    fields_set_int(&ev.data, F_STOCK, 40);
    fields_set_int(&ev.data, F_LOW_STOCK_THRESHOLD, 10);
    cr_assert_str_eq(describe(EV_PRODUCT_CREATED),
                     "created \"Widget\" price 1999 stock 40 threshold 10");
}

Test(change, product_sold)
{
    fields_set_int(&ev.data, F_QUANTITY, 5);
    fields_set_str(&ev.data, F_ORDER_ID, "o1");
    fields_set_int(&ev.data, F_OLD_STOCK, 12);
    fields_set_int(&ev.data, F_NEW_STOCK, 7);
    cr_assert_str_eq(describe(EV_PRODUCT_SOLD), "sold 5 (order o1) stock 12 -> 7");
}

Test(change, review_viewed_discontinued)
{
    fields_set_str(&ev.data, F_REVIEW_ID, "r1");
    fields_set_int(&ev.data, F_RATING, 4);
    cr_assert_str_eq(describe(EV_REVIEW_SUBMITTED), "review r1 rating 4");
    cr_assert_str_eq(describe(EV_PRODUCT_VIEWED), "viewed");
    cr_assert_str_eq(describe(EV_PRODUCT_DISCONTINUED), "discontinued");
    fields_set_str(&ev.data, F_REASON, "end of line");
    cr_assert_str_eq(describe(EV_PRODUCT_DISCONTINUED), "discontinued: end of line");
}

Test(change, every_type_has_a_text)
{
    for (int t = 0; t < EV__COUNT; t++) {
        const char *s = describe((event_type_t)t);
        cr_assert(strlen(s) > 0, "type %d", t);
        cr_assert_null(strstr(s, "unknown"), "type %d", t);
    }
}

Test(change, hostile_name_stays_on_one_line)
{
    fields_set_str(&ev.data, F_OLD_NAME, "a\"b\\c\nd\re\tf\x1b[31mg\x7f");
    fields_set_str(&ev.data, F_NEW_NAME, "x\xe2\x80\xa8y\xc2\x85z caf\xc3\xa9");
    cr_assert_str_eq(describe(EV_SUPPLIER_RENAMED),
                     "name \"a\\\"b\\\\c\\nd\\re\\tf\\x1b[31mg\\x7f\" -> "
                     "\"x\\u2028y\\u0085z caf\xc3\xa9\"");
}

Test(change, escape_invalid_utf8_and_nul_safe)
{
    char out[64];
    const char raw[] = {'a', (char)0xff, (char)0xc3, 'b', (char)0xed, (char)0xa0, (char)0x80, 0};
    change_escape(raw, sizeof raw - 1, out, sizeof out);
    cr_assert_str_eq(out, "a\\xff\\xc3b\\xed\\xa0\\x80");
    change_escape("a\0b", 3, out, sizeof out);
    cr_assert_str_eq(out, "a\\x00b");
}

/* Issue 23, item 6: bidi overrides passed the escaping, and could make a
 * terminal show the audit line in another order than it is written. */
Test(change, escape_bidi_controls)
{
    char out[128];
    const char raw[] = "a\xe2\x80\xae"
                       "b\xe2\x80\xaa"
                       "c\xe2\x81\xa6"
                       "d\xe2\x81\xa9"
                       "e\xe2\x80\x8f"
                       "f\xd8\x9c"
                       "g\xe2\x80\x8e"
                       "h\xe2\x80\xad";
    change_escape(raw, sizeof raw - 1, out, sizeof out);
    cr_assert_str_eq(out, "a\\u202eb\\u202ac\\u2066d\\u2069e\\u200ff\\u061cg\\u200eh\\u202d");
    /* their neighbours pass through */
    change_escape("\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa", 9, out, sizeof out);
    cr_assert_str_eq(out, "\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
}

Test(change, worst_case_reason_fits)
{
    char reason[REASON_MAX + 1];
    memset(reason, 0x01, REASON_MAX);
    reason[REASON_MAX] = '\0';
    fields_set_str(&ev.data, F_REASON, reason);
    const char *s = describe(EV_PRODUCT_DISCONTINUED);
    cr_assert_eq(strlen(s), strlen("discontinued: ") + 4 * REASON_MAX);
    cr_assert_null(strstr(s, "..."));
}

Test(change, truncation_keeps_escapes_whole)
{
    char out[16];
    size_t n = change_escape("\n\n\n\n\n\n\n\n\n\n", 10, out, sizeof out);
    cr_assert_eq(n, strlen(out));
    cr_assert(n < sizeof out);
    cr_assert_str_eq(out, "\\n\\n\\n\\n\\n\\n...");
    n = change_escape("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 15, out,
                      sizeof out);
    cr_assert_str_eq(out, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac...");
}

/* Runs of plain ASCII are copied whole only when they fit: a cut falls
 * where appending one escape or byte at a time would have put it. */
Test(change, truncation_of_plain_runs_matches_byte_by_byte)
{
    const char raw[] = "abc\"defghij\nklmnopqrstuvwxyz0123456789";
    for (size_t cap = 4; cap <= sizeof raw * 2 + 8; cap++) {
        char want[128], got[128], piece[8];
        size_t len = 0;
        want[0] = '\0';
        for (size_t i = 0; i < sizeof raw - 1; i++) {
            snprintf(piece, sizeof piece, "%s",
                     raw[i] == '"'    ? "\\\""
                     : raw[i] == '\n' ? "\\n"
                                      : (char[]){raw[i], 0});
            if (len + strlen(piece) + 4 > cap) {
                strcpy(want + len, "...");
                break;
            }
            strcpy(want + len, piece);
            len += strlen(piece);
        }
        size_t n = change_escape(raw, sizeof raw - 1, got, cap);
        cr_assert_str_eq(got, want, "cap %zu", cap);
        cr_assert_eq(n, strlen(want), "cap %zu", cap);
    }
}

Test(change, format_int)
{
    char buf[CHANGE_INT_MAX];
    cr_assert_eq(change_format_int(0, buf), 1);
    cr_assert_str_eq(buf, "0");
    change_format_int(-1234567, buf);
    cr_assert_str_eq(buf, "-1234567");
    change_format_int(INT64_MIN, buf);
    cr_assert_str_eq(buf, "-9223372036854775808");
    change_format_int(INT64_MAX, buf);
    cr_assert_str_eq(buf, "9223372036854775807");
}

Test(change, iso_time)
{
    char buf[CHANGE_TIME_MAX];
    cr_assert_str_eq(change_iso_time(0, buf), "1970-01-01T00:00:00.000Z");
    cr_assert_str_eq(change_iso_time(1795446684123999, buf), "2026-11-23T15:11:24.123Z");
    cr_assert_str_eq(change_iso_time(-1, buf), "1969-12-31T23:59:59.999Z");
}
