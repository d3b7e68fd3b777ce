/* test_dqproto: dqlite's wire messages round-trip through their encoders
 * and decoders, requests have the bytes dqlite expects, and malformed
 * bodies (truncated, wrong lengths, huge counts, trailing bytes) are
 * refused without reading past the end. */
#include "dqproto.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static dqbuf_t b;

static void
setup(void)
{
    dqbuf_init(&b);
}

static void
teardown(void)
{
    dqbuf_fini(&b);
}

TestSuite(dqproto, .init = setup, .fini = teardown);

/* The header of the message at b.data; its body follows. */
static dqheader_t
header(void)
{
    dqheader_t h;
    cr_assert_eq(dqproto_header(b.data, &h), DQ_OK);
    cr_assert_eq(b.len, 8 + (size_t)h.words * 8);
    return h;
}

/* A heap copy of the body, so that ASan sees any read past its end. */
static uint8_t *
body_copy(size_t *n)
{
    *n = b.len - 8;
    uint8_t *p = malloc(*n ? *n : 1);
    memcpy(p, b.data + 8, *n);
    return p;
}

Test(dqproto, handshake_is_version_one)
{
    cr_assert_eq(dqproto_handshake(&b), DQ_OK);
    const uint8_t want[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(b.len, 8);
    cr_assert_arr_eq(b.data, want, 8);
}

Test(dqproto, open_bytes)
{
    cr_assert_eq(dqproto_open(&b, "inv", 0, "test"), DQ_OK);
    const uint8_t want[] = {3, 0, 0, 0, DQ_REQ_OPEN, 0, 0, 0, 'i', 'n', 'v', 0,   0, 0, 0, 0,
                            0, 0, 0, 0, 0,           0, 0, 0, 't', 'e', 's', 't', 0, 0, 0, 0};
    cr_assert_eq(b.len, sizeof want);
    cr_assert_arr_eq(b.data, want, sizeof want);
}

Test(dqproto, exec_params_tuple_layout)
{
    dqvalue_t v[] = {dq_int(-2), dq_text("abcdefgh"), dq_null(), dq_blob("xyz", 3)};
    cr_assert_eq(dqproto_exec(&b, 7, 9, v, 4), DQ_OK);
    dqheader_t h = header();
    cr_assert_eq(h.type, DQ_REQ_EXEC);
    const uint8_t *p = b.data + 8;
    cr_assert_eq(p[0], 7);
    cr_assert_eq(p[4], 9);
    const uint8_t types[8] = {4, DQ_INTEGER, DQ_TEXT, DQ_NULL, DQ_BLOB, 0, 0, 0};
    cr_assert_arr_eq(p + 8, types, 8);
    cr_assert_eq(p[16], 0xfe); /* -2 little endian */
    cr_assert_eq(p[23], 0xff);
    cr_assert_eq(memcmp(p + 24, "abcdefgh\0", 9), 0); /* 9 bytes, padded to 16 */
    cr_assert_eq(p[48], 3);                           /* null word at 40, blob length at 48 */
    cr_assert_eq(memcmp(p + 56, "xyz", 3), 0);
    cr_assert_eq(h.words, 8);
}

Test(dqproto, no_params_no_tuple)
{
    cr_assert_eq(dqproto_exec_sql(&b, 1, "SELECT 1", NULL, 0), DQ_OK);
    cr_assert_eq(header().words, 1 + 2);
}

Test(dqproto, bad_params_refused_and_nothing_written)
{
    dqvalue_t v[] = {{.type = 7}};
    cr_assert_eq(dqproto_query(&b, 1, 1, v, 1), DQ_EINVAL);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(dqproto_query(&b, 1, 1, v, 256), DQ_EINVAL);
    dqvalue_t t = {.type = DQ_TEXT, .text = NULL};
    cr_assert_eq(dqproto_exec(&b, 1, 1, &t, 1), DQ_EINVAL);
    cr_assert_eq(b.len, 0);
}

Test(dqproto, every_request_has_a_whole_header)
{
    cr_assert_eq(dqproto_leader(&b), DQ_OK);
    cr_assert_eq(dqproto_client(&b, 5), DQ_OK);
    cr_assert_eq(dqproto_prepare(&b, 1, "SELECT ?"), DQ_OK);
    cr_assert_eq(dqproto_finalize(&b, 1, 2), DQ_OK);
    cr_assert_eq(dqproto_query_sql(&b, 1, "SELECT ?", (dqvalue_t[]){dq_int(1)}, 1), DQ_OK);
    cr_assert_eq(dqproto_cluster(&b), DQ_OK);
    cr_assert_eq(dqproto_add(&b, 2, "127.0.0.1:9002"), DQ_OK);
    cr_assert_eq(dqproto_assign(&b, 2, DQ_VOTER), DQ_OK);
    cr_assert_eq(dqproto_remove(&b, 2), DQ_OK);
    cr_assert_eq(dqproto_transfer(&b, 2), DQ_OK);
    const uint8_t types[] = {DQ_REQ_LEADER,    DQ_REQ_CLIENT,  DQ_REQ_PREPARE, DQ_REQ_FINALIZE,
                             DQ_REQ_QUERY_SQL, DQ_REQ_CLUSTER, DQ_REQ_ADD,     DQ_REQ_ASSIGN,
                             DQ_REQ_REMOVE,    DQ_REQ_TRANSFER};
    size_t at = 0;
    for (size_t i = 0; i < sizeof types; i++) {
        dqheader_t h;
        cr_assert_eq(dqproto_header(b.data + at, &h), DQ_OK);
        cr_assert_eq(h.type, types[i]);
        at += 8 + (size_t)h.words * 8;
    }
    cr_assert_eq(at, b.len);
}

Test(dqproto, failure_round_trip)
{
    cr_assert_eq(dqproto_put_failure(&b, 1, "no such table: x"), DQ_OK);
    cr_assert_eq(header().type, DQ_RES_FAILURE);
    size_t n;
    uint8_t *body = body_copy(&n);
    uint64_t code;
    const char *msg;
    cr_assert_eq(dqproto_failure(body, n, &code, &msg), DQ_OK);
    cr_assert_eq(code, 1);
    cr_assert_str_eq(msg, "no such table: x");
    free(body);
}

Test(dqproto, small_responses_round_trip)
{
    uint64_t u, id;
    uint32_t db, st;
    int64_t last;
    const char *addr;
    cr_assert_eq(dqproto_put_server(&b, 3, "127.0.0.1:9003"), DQ_OK);
    cr_assert_eq(dqproto_server(b.data + 8, b.len - 8, &id, &addr), DQ_OK);
    cr_assert(id == 3 && strcmp(addr, "127.0.0.1:9003") == 0);
    dqbuf_reset(&b);
    cr_assert_eq(dqproto_put_welcome(&b, 15000), DQ_OK);
    cr_assert(dqproto_welcome(b.data + 8, b.len - 8, &u) == DQ_OK && u == 15000);
    dqbuf_reset(&b);
    cr_assert_eq(dqproto_put_db(&b, 4), DQ_OK);
    cr_assert(dqproto_db(b.data + 8, b.len - 8, &db) == DQ_OK && db == 4);
    dqbuf_reset(&b);
    cr_assert_eq(dqproto_put_stmt(&b, 4, 6, 2), DQ_OK);
    cr_assert(dqproto_stmt(b.data + 8, b.len - 8, &db, &st, &u) == DQ_OK);
    cr_assert(db == 4 && st == 6 && u == 2);
    dqbuf_reset(&b);
    cr_assert_eq(dqproto_put_result(&b, INT64_MIN, 10), DQ_OK);
    cr_assert(dqproto_result(b.data + 8, b.len - 8, &last, &u) == DQ_OK);
    cr_assert(last == INT64_MIN && u == 10);
    dqbuf_reset(&b);
    cr_assert_eq(dqproto_put_empty(&b), DQ_OK);
    cr_assert_eq(dqproto_empty(b.data + 8, b.len - 8), DQ_OK);
}

Test(dqproto, servers_round_trip_and_cap)
{
    dqserver_t in[] = {{.id = 1, .address = "127.0.0.1:9001", .role = DQ_VOTER},
                       {.id = 2, .address = "127.0.0.1:9002", .role = DQ_STANDBY},
                       {.id = 3, .address = "h", .role = DQ_SPARE}};
    cr_assert_eq(dqproto_put_servers(&b, in, 3), DQ_OK);
    dqserver_t out[3];
    size_t k;
    cr_assert_eq(dqproto_servers(b.data + 8, b.len - 8, out, 3, &k), DQ_OK);
    cr_assert_eq(k, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(out[i].id, in[i].id);
        cr_assert_str_eq(out[i].address, in[i].address);
        cr_assert_eq(out[i].role, in[i].role);
    }
    cr_assert_eq(dqproto_servers(b.data + 8, b.len - 8, out, 2, &k), DQ_ETOOBIG);
}

Test(dqproto, rows_round_trip_every_type)
{
    const char *names[] = {"i", "f", "t", "b", "n", "u", "d", "bo", "x"};
    dqvalue_t rows[] = {
        dq_int(INT64_MAX),
        {.type = DQ_FLOAT, .f = 2.5},
        dq_text("héllo"),
        dq_blob("\0\1", 2),
        dq_null(),
        {.type = DQ_UNIXTIME, .i = 1700000000},
        {.type = DQ_ISO8601, .text = "2026"},
        {.type = DQ_BOOLEAN, .i = 1},
        dq_int(-1),
        dq_int(0),
        {.type = DQ_FLOAT, .f = -0.0},
        dq_text(""),
        dq_blob(NULL, 0),
        dq_null(),
        {.type = DQ_UNIXTIME, .i = 0},
        {.type = DQ_ISO8601, .text = ""},
        {.type = DQ_BOOLEAN, .i = 0},
        dq_text("1234567"),
    };
    cr_assert_eq(dqproto_put_rows(&b, names, 9, rows, 2, 1), DQ_OK);
    cr_assert_eq(header().type, DQ_RES_ROWS);
    size_t n;
    uint8_t *body = body_copy(&n);
    dqrows_t r;
    cr_assert_eq(dqproto_rows_begin(body, n, &r), DQ_OK);
    cr_assert_eq(r.ncols, 9);
    cr_assert_str_eq(r.names[7], "bo");
    dqvalue_t got[9];
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(dqproto_rows_next(&r, got), 1);
        for (size_t i = 0; i < 9; i++) {
            const dqvalue_t *w = &rows[k * 9 + i];
            cr_assert_eq(got[i].type, w->type);
            if (w->type == DQ_TEXT || w->type == DQ_ISO8601)
                cr_assert_str_eq(got[i].text, w->text);
            else if (w->type == DQ_BLOB)
                cr_assert(got[i].blob.n == w->blob.n &&
                          memcmp(got[i].blob.p, w->blob.p ? w->blob.p : "", w->blob.n) == 0);
            else if (w->type == DQ_FLOAT)
                cr_assert_eq(got[i].f, w->f);
            else if (w->type != DQ_NULL)
                cr_assert_eq(got[i].i, w->i);
        }
    }
    cr_assert_eq(dqproto_rows_next(&r, got), 0);
    cr_assert(r.done && r.more);
    cr_assert_eq(dqproto_rows_next(&r, got), DQ_EMALFORMED);
    free(body);
}

Test(dqproto, rows_done_marker)
{
    const char *names[] = {"a"};
    cr_assert_eq(dqproto_put_rows(&b, names, 1, NULL, 0, 0), DQ_OK);
    dqrows_t r;
    dqvalue_t v;
    cr_assert_eq(dqproto_rows_begin(b.data + 8, b.len - 8, &r), DQ_OK);
    cr_assert_eq(dqproto_rows_next(&r, &v), 0);
    cr_assert(r.done && !r.more);
}

/* Every strict prefix of a valid body (on a heap copy) is refused. */
Test(dqproto, truncated_bodies_refused)
{
    const char *names[] = {"id", "name"};
    dqvalue_t rows[] = {dq_int(1), dq_text("apple"), dq_int(2), dq_blob("zz", 2)};
    cr_assert_eq(dqproto_put_rows(&b, names, 2, rows, 2, 0), DQ_OK);
    size_t n;
    uint8_t *full = body_copy(&n);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, full, cut);
        dqrows_t r;
        dqvalue_t v[2];
        int rc = dqproto_rows_begin(p, cut, &r);
        while (rc == DQ_OK && (rc = dqproto_rows_next(&r, v)) == 1)
            rc = DQ_OK;
        cr_assert_lt(rc, 0, "prefix of %zu bytes accepted", cut);
        free(p);
    }
    free(full);
}

Test(dqproto, malformed_inputs)
{
    uint64_t code, id;
    const char *s;
    uint8_t w[24] = {0};
    /* a text with no NUL, one whose padding runs past the end */
    memset(w + 8, 'a', 16);
    cr_assert_eq(dqproto_failure(w, 24, &code, &s), DQ_EMALFORMED);
    w[20] = 0;
    cr_assert_eq(dqproto_failure(w, 20 + 1, &code, &s), DQ_EMALFORMED);
    /* trailing bytes */
    uint8_t e[16] = {0};
    cr_assert_eq(dqproto_empty(e, 16), DQ_EMALFORMED);
    cr_assert_eq(dqproto_empty(e, 7), DQ_EMALFORMED);
    cr_assert_eq(dqproto_server(e, 8, &id, &s), DQ_EMALFORMED);
    /* a huge server count, a huge column count, a huge blob length */
    uint8_t huge[32];
    memset(huge, 0xff, sizeof huge);
    huge[7] = 0x7f;
    dqserver_t out[4];
    size_t k;
    cr_assert_eq(dqproto_servers(huge, 32, out, 4, &k), DQ_ETOOBIG);
    dqrows_t r;
    cr_assert_eq(dqproto_rows_begin(huge, 32, &r), DQ_ETOOBIG);
    uint8_t blob[32] = {1, 0, 0, 0, 0, 0, 0, 0, 'c', 0, 0, 0, 0, 0, 0, 0, DQ_BLOB};
    memset(blob + 24, 0xff, 8);
    cr_assert_eq(dqproto_rows_begin(blob, 32, &r), DQ_OK);
    dqvalue_t v;
    cr_assert_eq(dqproto_rows_next(&r, &v), DQ_EMALFORMED);
    /* an unknown column type */
    blob[16] = 7;
    cr_assert_eq(dqproto_rows_begin(blob, 32, &r), DQ_OK);
    cr_assert_eq(dqproto_rows_next(&r, &v), DQ_EMALFORMED);
    /* a body over the cap */
    uint8_t hdr[8] = {0xff, 0xff, 0xff, 0xff, DQ_RES_ROWS};
    dqheader_t h;
    cr_assert_eq(dqproto_header(hdr, &h), DQ_ETOOBIG);
    cr_assert_str_eq(dq_strerror(DQ_ETIMEOUT), "timed out");
    cr_assert_str_eq(dq_strerror(-100), "unknown error");
}
