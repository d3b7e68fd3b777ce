/* fuzz_dqproto: bytes as a dqlite server could send them to the store's
 * client (common/wire/dqproto.h): a sequence of messages, each header
 * decoded by dqproto_header and its body, on a heap copy of exactly its
 * size, by the decoder its type names (ROWS row by row to the marker).
 * Whatever the bytes: nothing is read outside the body, the column count
 * stays under its cap, and text and blobs lie inside the body. */
#include "dqproto.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
inside(const uint8_t *body, size_t n, const void *p, size_t len)
{
    const uint8_t *q = p;
    return q >= body && len <= n && (size_t)(q - body) <= n - len;
}

static void
check_value(const uint8_t *body, size_t n, const dqvalue_t *v)
{
    if (v->type == DQ_TEXT || v->type == DQ_ISO8601)
        FUZZ_CHECK(inside(body, n, v->text, strlen(v->text) + 1), "text outside the body");
    if (v->type == DQ_BLOB)
        FUZZ_CHECK(inside(body, n, v->blob.p, v->blob.n), "blob outside the body");
}

static void
rows(const uint8_t *body, size_t n)
{
    dqrows_t r;
    dqvalue_t row[DQPROTO_MAX_COLUMNS];
    if (dqproto_rows_begin(body, n, &r) != DQ_OK)
        return;
    FUZZ_CHECK(r.ncols <= DQPROTO_MAX_COLUMNS, "%zu columns", r.ncols);
    int rc;
    while ((rc = dqproto_rows_next(&r, row)) == 1)
        for (size_t i = 0; i < r.ncols; i++)
            check_value(body, n, &row[i]);
    FUZZ_CHECK(rc <= 0 && (rc < 0 || r.done), "rows ended without a marker");
}

static void
decode(uint8_t type, const uint8_t *body, size_t n)
{
    uint64_t u, id;
    uint32_t db, st;
    int64_t last;
    const char *s;
    dqserver_t servers[8];
    size_t k;
    switch (type) {
    case DQ_RES_FAILURE:
        if (dqproto_failure(body, n, &u, &s) == DQ_OK)
            FUZZ_CHECK(inside(body, n, s, strlen(s) + 1), "message outside the body");
        break;
    case DQ_RES_SERVER:
        if (dqproto_server(body, n, &id, &s) == DQ_OK)
            FUZZ_CHECK(inside(body, n, s, strlen(s) + 1), "address outside the body");
        break;
    case DQ_RES_WELCOME:
        dqproto_welcome(body, n, &u);
        break;
    case DQ_RES_SERVERS:
        if (dqproto_servers(body, n, servers, 8, &k) == DQ_OK)
            FUZZ_CHECK(k <= 8, "%zu servers", k);
        break;
    case DQ_RES_DB:
        dqproto_db(body, n, &db);
        break;
    case DQ_RES_STMT:
        dqproto_stmt(body, n, &db, &st, &u);
        break;
    case DQ_RES_RESULT:
        dqproto_result(body, n, &last, &u);
        break;
    case DQ_RES_ROWS:
        rows(body, n);
        break;
    default:
        dqproto_empty(body, n);
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size >= 8) {
        dqheader_t h;
        if (dqproto_header(data, &h) != DQ_OK)
            return 0;
        size_t n = (size_t)h.words * 8;
        if (n > size - 8)
            n = size - 8; /* the harness's own cut: still a whole body to the decoder */
        uint8_t *body = malloc(n ? n : 1);
        memcpy(body, data + 8, n);
        decode(h.type, body, n);
        free(body);
        data += 8 + n;
        size -= 8 + n;
    }
    return 0;
}
