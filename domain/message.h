/* message: the commands and events of DOMAIN.md as C values, and the tables
 * that name them.  A command is a request that may be rejected; an event is
 * an immutable fact with an envelope.  Pure code: no I/O. */
#ifndef INV_MESSAGE_H
#define INV_MESSAGE_H

#include "fields.h"

#include <stdbool.h>
#include <stdint.h>

#define STREAM_MAX (9 + ID_MAX) /* "supplier-" + id */
#define EVENT_ID_MAX 32         /* 128-bit random id in hex */

typedef enum {
    CMD_REGISTER_SUPPLIER,
    CMD_RENAME_SUPPLIER,
    CMD_CREATE_PRODUCT,
    CMD_CHANGE_PRICE,
    CMD_UPDATE_STOCK,
    CMD_SELL_PRODUCT,
    CMD_RECORD_PRODUCT_VIEW,
    CMD_SUBMIT_REVIEW,
    CMD_DISCONTINUE_PRODUCT,
    CMD__COUNT
} command_type_t;

typedef enum {
    EV_SUPPLIER_REGISTERED,
    EV_SUPPLIER_RENAMED,
    EV_PRODUCT_CREATED,
    EV_PRICE_CHANGED,
    EV_STOCK_UPDATED,
    EV_PRODUCT_SOLD,
    EV_PRODUCT_VIEWED,
    EV_REVIEW_SUBMITTED,
    EV_PRODUCT_DISCONTINUED,
    EV__COUNT
} event_type_t;

/* Rejection codes of DOMAIN.md; REJ_NONE means accepted. */
typedef enum {
    REJ_NONE = 0,
    REJ_VALIDATION,
    REJ_NOT_FOUND,
    REJ_ALREADY_EXISTS,
    REJ_CONFLICT,
    REJ_INSUFFICIENT_STOCK,
    REJ_DISCONTINUED,
    REJ_MALFORMED,
    REJ_UNAVAILABLE,
    REJ_FORBIDDEN,  /* the caller's key or role may not do this (docs/protocol.md, 13) */
    REJ_NOT_LEADER, /* this daemon is a standby: the reply's `leader` names the active one
                       (docs/protocol.md, section 2); retrying there is safe */
    REJ__COUNT
} reject_code_t;

/* The kinds of aggregate; aggregate.h has the ops table of each. */
typedef enum { AGG_PRODUCT, AGG_SUPPLIER, AGG__COUNT } agg_kind_t;

typedef struct {
    const char *name;     /* wire type, "SellProduct" */
    uint32_t required;    /* FIELD_BIT set of data fields that must be present */
    uint32_t optional;    /* fields that may be present (defaults: "" or 0) */
    agg_kind_t aggregate; /* the kind it targets: the stream of its id field */
} command_spec_t;

typedef struct {
    const char *name; /* wire type, "ProductSold" */
    int32_t schema;   /* current payload schema version */
    uint32_t fields;  /* FIELD_BIT set carried in data */
} event_spec_t;

typedef struct {
    command_type_t type;
    char command_id[ID_MAX + 1];     /* 1..64 bytes of the id alphabet */
    char correlation_id[ID_MAX + 1]; /* "" when the client sent none */
    bool has_expected_version;
    int64_t expected_version; /* stream version the client saw; 0 = new stream */
    fields_t data;
} command_t;

typedef struct {
    int64_t position;            /* global, 1-based, gap-free; 0 until appended */
    char stream[STREAM_MAX + 1]; /* "product-p1" */
    int64_t version;             /* 1-based within the stream */
    event_type_t type;
    int32_t schema; /* payload schema as stored (upcast on read) */
    char event_id[EVENT_ID_MAX + 1];
    char command_id[ID_MAX + 1];
    char correlation_id[ID_MAX + 1];
    int64_t recorded_at; /* microseconds since the Unix epoch, UTC */
    uint8_t hash[32];    /* the event's link of the log's hash chain (common/store/chain.h);
                            all zero when not known */
} envelope_t;

typedef struct {
    envelope_t env;
    fields_t data;
    const void *raw_data; /* the data map's bytes as read (in the caller's buffer, valid
                             while it is), for the chain check; NULL when not read from bytes */
    size_t raw_len;
} event_t;

const command_spec_t *command_spec(command_type_t t);
const event_spec_t *event_spec(event_type_t t);
/* Lookups by wire name; -1 when unknown. */
int command_type_lookup(const char *name, size_t len);
int event_type_lookup(const char *name, size_t len);
const char *reject_code_name(reject_code_t code);

/* Writes "product-<id>" or "supplier-<id>" for the command's target. */
void command_stream(const command_t *cmd, char out[STREAM_MAX + 1]);

/* Checks that every required field is present, no field outside required |
 * optional is, and fills defaults for absent optional fields.  Returns the
 * number of errors added to `errs` (0 when valid). */
int command_check_fields(command_t *cmd, field_errors_t *errs);

/* True for the identifier alphabet [A-Za-z0-9_.:-], 1..64 bytes. */
bool message_id_valid(const char *s, size_t len);

#endif
