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

typedef struct {
    const char *name; /* wire name */
    field_kind_t kind;
    size_t min_len;    /* bytes, text and ids */
    size_t max_len;    /* bytes, text and ids */
    int64_t min_value; /* ints */
    int64_t max_value; /* ints */
    size_t name_len;   /* strlen(name) */
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
const char *fields_check_int(field_id_t f, int64_t v);

void field_errors_add(field_errors_t *errs, const char *field, const char *message);

#endif
