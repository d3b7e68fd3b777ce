/* Unit tests of alert-service/stockwatch (the pure alert rule) and
 * alertmsg (printed line, published body and its decoder). */
#include "alertmsg.h"
#include "msgtree.h"
#include "stockwatch.h"

#include <criterion/criterion.h>
#include <string.h>

/* Runs a product through a sequence of stocks; returns the alerts. */
static void
run(int64_t created, int64_t threshold, const int64_t *stocks, int n, stockwatch_kind_t *out)
{
    stockwatch_state_t st;
    out[0] = stockwatch_created(created, threshold, &st);
    for (int i = 0; i < n; i++)
        out[i + 1] = stockwatch_step(&st, stocks[i], &st);
}

Test(stockwatch, levels)
{
    cr_assert_eq(stockwatch_level(0, 10), STOCKWATCH_OUT);
    cr_assert_eq(stockwatch_level(0, 0), STOCKWATCH_OUT);
    cr_assert_eq(stockwatch_level(1, 10), STOCKWATCH_LOW);
    cr_assert_eq(stockwatch_level(9, 10), STOCKWATCH_LOW);
    cr_assert_eq(stockwatch_level(10, 10), STOCKWATCH_OK);
    cr_assert_eq(stockwatch_level(5, 0), STOCKWATCH_OK);
}

Test(stockwatch, created_above_threshold_raises_nothing)
{
    stockwatch_state_t st;
    cr_assert_eq(stockwatch_created(40, 10, &st), STOCKWATCH_NONE);
    cr_assert_eq(st.level, STOCKWATCH_OK);
    cr_assert_eq(st.stock, 40);
    cr_assert_eq(st.threshold, 10);
    cr_assert_eq(stockwatch_created(10, 10, &st), STOCKWATCH_NONE);
}

Test(stockwatch, created_below_threshold_raises_low)
{
    stockwatch_state_t st;
    cr_assert_eq(stockwatch_created(3, 10, &st), STOCKWATCH_LOW_STOCK);
    cr_assert_eq(st.level, STOCKWATCH_LOW);
}

Test(stockwatch, created_at_zero_raises_out)
{
    stockwatch_state_t st;
    cr_assert_eq(stockwatch_created(0, 10, &st), STOCKWATCH_OUT_OF_STOCK);
    cr_assert_eq(st.level, STOCKWATCH_OUT);
}

Test(stockwatch, crossing_below_once_not_again_on_later_sales)
{
    const int64_t stocks[] = {11, 9, 7, 3, 1};
    stockwatch_kind_t k[6];
    run(12, 10, stocks, 5, k);
    const stockwatch_kind_t want[6] = {STOCKWATCH_NONE, STOCKWATCH_NONE, STOCKWATCH_LOW_STOCK,
                                       STOCKWATCH_NONE, STOCKWATCH_NONE, STOCKWATCH_NONE};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(k[i], want[i], "step %d", i);
}

Test(stockwatch, out_at_zero_once)
{
    const int64_t stocks[] = {5, 0, 0};
    stockwatch_kind_t k[4];
    run(12, 10, stocks, 3, k);
    cr_assert_eq(k[1], STOCKWATCH_LOW_STOCK);
    cr_assert_eq(k[2], STOCKWATCH_OUT_OF_STOCK);
    cr_assert_eq(k[3], STOCKWATCH_NONE);
}

Test(stockwatch, straight_from_ok_to_zero_is_out_only)
{
    const int64_t stocks[] = {0};
    stockwatch_kind_t k[2];
    run(12, 10, stocks, 1, k);
    cr_assert_eq(k[1], STOCKWATCH_OUT_OF_STOCK);
}

Test(stockwatch, cleared_on_restock_to_threshold_or_above)
{
    const int64_t stocks[] = {3, 9, 10, 12, 4, 0, 50};
    stockwatch_kind_t k[8];
    run(12, 10, stocks, 7, k);
    cr_assert_eq(k[1], STOCKWATCH_LOW_STOCK);
    cr_assert_eq(k[2], STOCKWATCH_NONE, "9 is still below 10: no clear");
    cr_assert_eq(k[3], STOCKWATCH_CLEARED, "10 >= threshold clears");
    cr_assert_eq(k[4], STOCKWATCH_NONE);
    cr_assert_eq(k[5], STOCKWATCH_LOW_STOCK, "a new crossing alerts again");
    cr_assert_eq(k[6], STOCKWATCH_OUT_OF_STOCK);
    cr_assert_eq(k[7], STOCKWATCH_CLEARED, "from out straight to ok clears");
}

Test(stockwatch, partial_restock_from_out_is_low)
{
    const int64_t stocks[] = {0, 4, 2, 0};
    stockwatch_kind_t k[5];
    run(12, 10, stocks, 4, k);
    cr_assert_eq(k[1], STOCKWATCH_OUT_OF_STOCK);
    cr_assert_eq(k[2], STOCKWATCH_LOW_STOCK);
    cr_assert_eq(k[3], STOCKWATCH_NONE);
    cr_assert_eq(k[4], STOCKWATCH_OUT_OF_STOCK);
}

Test(stockwatch, no_clear_without_an_alert)
{
    const int64_t stocks[] = {20, 15, 30};
    stockwatch_kind_t k[4];
    run(12, 10, stocks, 3, k);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(k[i], STOCKWATCH_NONE);
}

Test(stockwatch, discontinued_raises_nothing_but_tracks_stock)
{
    stockwatch_state_t st;
    stockwatch_created(12, 10, &st);
    st.discontinued = true;
    cr_assert_eq(stockwatch_step(&st, 3, &st), STOCKWATCH_NONE);
    cr_assert_eq(st.level, STOCKWATCH_LOW);
    cr_assert_eq(stockwatch_step(&st, 0, &st), STOCKWATCH_NONE);
    cr_assert_eq(st.level, STOCKWATCH_OUT);
    cr_assert_eq(st.stock, 0);
    cr_assert(st.discontinued);
}

Test(stockwatch, names_round_trip)
{
    for (int k = STOCKWATCH_LOW_STOCK; k < STOCKWATCH__KINDS; k++)
        cr_assert_eq(stockwatch_kind_lookup(stockwatch_kind_name(k)), k);
    for (int l = 0; l < STOCKWATCH__LEVELS; l++)
        cr_assert_eq(stockwatch_level_lookup(stockwatch_level_name(l)), l);
    cr_assert_eq(stockwatch_kind_lookup(""), -1);
    cr_assert_eq(stockwatch_kind_lookup("LOW STOCK"), -1);
    cr_assert_str_eq(stockwatch_kind_name(STOCKWATCH_OUT_OF_STOCK), "out_of_stock");
    cr_assert_str_eq(stockwatch_kind_label(STOCKWATCH_CLEARED), "CLEARED");
}

/* ---- alertmsg ------------------------------------------------------------ */

static alertmsg_t
sample_alert(stockwatch_kind_t kind, int64_t stock)
{
    alertmsg_t a = {.kind = kind,
                    .stock = stock,
                    .threshold = 10,
                    .position = 17,
                    .recorded_at = 1795446684123456};
    strcpy(a.product_id, "p1");
    strcpy(a.name, "Widget");
    strcpy(a.correlation_id, "abc");
    return a;
}

Test(alertmsg, lines)
{
    char line[ALERTMSG_LINE_MAX];
    alertmsg_t a = sample_alert(STOCKWATCH_LOW_STOCK, 3);
    alertmsg_line(&a, line, sizeof line);
    cr_assert_str_eq(line, "2026-11-23T15:11:24.123Z LOW STOCK p1 \"Widget\" stock 3 < threshold "
                           "10 (position 17, corr abc)");
    a = sample_alert(STOCKWATCH_OUT_OF_STOCK, 0);
    a.correlation_id[0] = '\0';
    alertmsg_line(&a, line, sizeof line);
    cr_assert_str_eq(line, "2026-11-23T15:11:24.123Z OUT OF STOCK p1 \"Widget\" stock 0, "
                           "threshold 10 (position 17, corr -)");
    a = sample_alert(STOCKWATCH_CLEARED, 40);
    alertmsg_line(&a, line, sizeof line);
    cr_assert_str_eq(line, "2026-11-23T15:11:24.123Z CLEARED p1 \"Widget\" stock 40 >= "
                           "threshold 10 (position 17, corr abc)");
}

Test(alertmsg, hostile_name_is_one_line)
{
    char line[ALERTMSG_LINE_MAX];
    alertmsg_t a = sample_alert(STOCKWATCH_LOW_STOCK, 3);
    strcpy(a.name, "W\"x\ny\r\x1b\xe2\x80\xa9");
    alertmsg_line(&a, line, sizeof line);
    cr_assert_null(strchr(line, '\n'));
    cr_assert_null(strchr(line, '\r'));
    cr_assert_not_null(strstr(line, "\"W\\\"x\\ny\\r\\x1b\\u2029\""));
}

Test(alertmsg, longest_line_fits)
{
    char line[ALERTMSG_LINE_MAX];
    alertmsg_t a = sample_alert(STOCKWATCH_OUT_OF_STOCK, INT64_MAX);
    memset(a.name, 0x01, NAME_MAX_BYTES);
    a.name[NAME_MAX_BYTES] = '\0';
    memset(a.product_id, 0x02, ID_MAX);
    a.product_id[ID_MAX] = '\0';
    memset(a.correlation_id, 0x03, ID_MAX);
    a.correlation_id[ID_MAX] = '\0';
    a.threshold = a.position = a.recorded_at = INT64_MAX;
    size_t n = alertmsg_line(&a, line, sizeof line);
    cr_assert_eq(n, strlen(line));
    cr_assert_not_null(strstr(line, "(position 9223372036854775807, corr \\x03"), "%s", line);
    cr_assert_eq(line[n - 1], ')');
}

Test(alertmsg, pack_decode_round_trip)
{
    for (int k = STOCKWATCH_LOW_STOCK; k < STOCKWATCH__KINDS; k++) {
        alertmsg_t a = sample_alert((stockwatch_kind_t)k, 3), b;
        codec_writer_t w;
        codec_writer_init(&w);
        alertmsg_pack(&w, &a);
        const char *why = NULL;
        cr_assert_eq(alertmsg_decode(w.buf.data, w.buf.size, &b, &why), 0, "%s", why);
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
        codec_writer_fini(&w);
    }
}

Test(alertmsg, decode_rejects_bad_bodies)
{
    alertmsg_t b;
    const char *why;
    codec_writer_t w;
    codec_writer_init(&w);
    cr_assert_eq(alertmsg_decode("\x80", 1, &b, &why), -1); /* empty map */
    cr_assert_eq(alertmsg_decode("\xc1", 1, &b, &why), -1); /* not msgpack */
    alertmsg_t a = sample_alert(STOCKWATCH_LOW_STOCK, 3);
    alertmsg_pack(&w, &a);
    cr_assert_eq(alertmsg_decode(w.buf.data, w.buf.size - 1, &b, &why), -1); /* cut short */
    codec_writer_reset(&w);
    msgpack_pack_map(&w.pk, 8);
    codec_pack_kv_str(&w.pk, "kind", "panic");
    codec_pack_kv_str(&w.pk, "product_id", "p1");
    codec_pack_kv_str(&w.pk, "name", "n");
    codec_pack_kv_int(&w.pk, "stock", 1);
    codec_pack_kv_int(&w.pk, "threshold", 1);
    codec_pack_kv_int(&w.pk, "position", 1);
    codec_pack_kv_int(&w.pk, "recorded_at", 1);
    codec_pack_kv_str(&w.pk, "correlation_id", "");
    cr_assert_eq(alertmsg_decode(w.buf.data, w.buf.size, &b, &why), -1);
    cr_assert_str_eq(why, "unknown alert kind");
    codec_writer_fini(&w);
}
