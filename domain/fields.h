/* fields: the named values that commands and events carry in their `data`
 * map (DOMAIN.md).  One table describes every field: wire name, kind and
 * limits.  A fields_t holds any subset of them; `present` says which.
 * Pure code: no I/O. */
#ifndef INV_FIELDS_H
#define INV_FIELDS_H

#include "utf8.h" /* utf8_valid, the text fields' rule */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_MAX 64
#define NAME_MAX_BYTES 200
#define DESCRIPTION_MAX 4000
#define COMMENT_MAX 2000
#define REASON_MAX 500
#define SKU_MAX 64

typedef enum {
    F_PRODUCT_ID,
    F_SUPPLIER_ID,
    F_REVIEW_ID,
    F_ORDER_ID,
    F_CUSTOMER_ID,
    F_SKU,
    F_NAME,
    F_OLD_NAME,
    F_NEW_NAME,
    F_SUPPLIER_NAME,
    F_DESCRIPTION,
    F_COMMENT,
    F_REASON,
    F_PRICE_CENTS,
    F_COST_PRICE_CENTS,
    F_STOCK,
    F_LOW_STOCK_THRESHOLD,
    F_OLD_PRICE_CENTS,
    F_NEW_PRICE_CENTS,
    F_OLD_STOCK,
    F_NEW_STOCK,
    F_QUANTITY,
    F_UNIT_PRICE_CENTS,
    F_RATING,
    F__COUNT
} field_id_t;

typedef enum { FK_ID, FK_TEXT, FK_INT } field_kind_t;

/* The domain's bounds (issue 23, item 3), chosen so that every value the
 * domain derives from one event fits in an int64 with room to spare:
 *  - money (price_cents, cost_price_cents and the prices in events): at most
 *    FIELDS_MONEY_MAX = 10^9 cents (10,000,000.00 per unit);
 *  - counts (stock, new_stock, low_stock_threshold, quantity): at most
 *    FIELDS_COUNT_MAX = 10^9 units;
 *  - so a sale's revenue (quantity * unit price) and a product's stock value
 *    (stock * cost) are at most 10^18, below 2^63 - 1 (~9.22 * 10^18).
 * What sums such values over an unbounded history or over every product
 * (units_sold, revenue_cents, the dashboard's inventory value and today's
 * sums) can still pass 2^63 - 1 in theory (ten products at both maxima):
 * it is computed with fields_add_sat / fields_mul_sat (and their SQL
 * counterparts in the read model) and stays at FIELDS_SAT_MAX instead of
 * wrapping.  Events stored before these bounds may hold any int64 >= 0:
 * they still decode (max_stored) and are summed the same way. */
#define FIELDS_MONEY_MAX 1000000000LL
#define FIELDS_COUNT_MAX 1000000000LL
#define FIELDS_SAT_MAX INT64_MAX

typedef struct {
    const char *name; /* wire name */
    field_kind_t kind;
    size_t min_len;     /* bytes, text and ids */
    size_t max_len;     /* bytes, text and ids */
    int64_t min_value;  /* ints */
    int64_t max_value;  /* ints: the domain's bound on what a command carries */
    int64_t max_stored; /* ints: the largest a stored event may hold and still
                           decode (history written before the bounds) */
    size_t name_len;    /* strlen(name) */
} field_spec_t;

typedef struct {
    uint32_t present;      /* bit (1u << field_id) set when the field is there */
    int64_t num[F__COUNT]; /* int fields, indexed by field_id */
    char product_id[ID_MAX + 1];
    char supplier_id[ID_MAX + 1];
    char review_id[ID_MAX + 1];
    char order_id[ID_MAX + 1];
    char customer_id[ID_MAX + 1];
    char sku[SKU_MAX + 1];
    char name[NAME_MAX_BYTES + 1];
    char old_name[NAME_MAX_BYTES + 1];
    char new_name[NAME_MAX_BYTES + 1];
    char supplier_name[NAME_MAX_BYTES + 1];
    char description[DESCRIPTION_MAX + 1];
    char comment[COMMENT_MAX + 1];
    char reason[REASON_MAX + 1];
} fields_t;

#define FIELD_BIT(f) (1u << (f))

/* Validation errors, one message per bad field. */
#define FIELD_ERRORS_MAX 16
typedef struct {
    int count;
    struct {
        char field[32];
        char message[96];
    } items[FIELD_ERRORS_MAX];
} field_errors_t;

const field_spec_t *fields_spec(field_id_t f);
/* Empties fs: no field present, every int 0, every text "" (only the
 * first byte of each buffer is written: fields_t is ~7 KiB and decoders
 * clear one per message). */
void fields_clear(fields_t *fs);
/* Makes dst hold what src holds (present bits, ints, every text up to its
 * NUL) without copying the whole ~7 KiB struct. */
void fields_copy(fields_t *dst, const fields_t *src);
/* Returns the field whose wire name is `name` (len bytes), or -1. */
int fields_lookup(const char *name, size_t len);

/* String storage of a text or id field; NULL for int fields. */
char *fields_str(fields_t *fs, field_id_t f);
const char *fields_cstr(const fields_t *fs, field_id_t f);
size_t fields_str_cap(field_id_t f); /* buffer size including the NUL */

bool fields_has(const fields_t *fs, field_id_t f);
int64_t fields_int(const fields_t *fs, field_id_t f);
void fields_set_int(fields_t *fs, field_id_t f, int64_t v);
/* Copies a NUL-terminated string, truncating at the field's capacity. */
void fields_set_str(fields_t *fs, field_id_t f, const char *s);

/* Checks one raw value against the field's rules before it is stored;
 * returns NULL when valid or a static message ("must be 1..64 bytes of
 * [A-Za-z0-9_.:-]", "invalid UTF-8", ...). */
const char *fields_check_str(field_id_t f, const char *s, size_t len);
/* An int as it may be stored: min_value..max_stored (what a command or a
 * stored event must hold to decode at all). */
const char *fields_check_int(field_id_t f, int64_t v);
/* An int a new command carries: also at most the domain's bound, max_value
 * ("must be at most 10000000000"); NULL when within. */
const char *fields_check_bound(field_id_t f, int64_t v);

/* Sums and products of the domain's non-negative quantities that stay at
 * FIELDS_SAT_MAX instead of overflowing (a or b negative: plain arithmetic
 * rules do not apply; the result is clamped the same way). */
static inline int64_t
fields_add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return a > 0 ? FIELDS_SAT_MAX : INT64_MIN;
    return r;
}

static inline int64_t
fields_mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) == (b < 0) ? FIELDS_SAT_MAX : INT64_MIN;
    return r;
}

void field_errors_add(field_errors_t *errs, const char *field, const char *message);

#endif
