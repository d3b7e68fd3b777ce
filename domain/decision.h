/* decision: what an aggregate's decide function returns: either one event to
 * append (type + data) or a rejection with its code, a sentence and, for
 * validation, field messages.  Pure data. */
#ifndef INV_DECISION_H
#define INV_DECISION_H

#include "fields.h"
#include "message.h"

#include <stdarg.h>

typedef struct {
    reject_code_t code;    /* REJ_NONE: accepted, `type`/`data` hold the event */
    char message[256];     /* rejection reason for a person */
    field_errors_t fields; /* validation details */
    event_type_t type;     /* event to append when accepted */
    fields_t data;         /* its payload */
} decision_t;

/* Empties d: accepted (REJ_NONE), no message, no field errors, no event
 * type, empty data; without touching all of its ~10 KiB. */
void decision_clear(decision_t *d);
/* Starts an accepted decision for an event of `type` with empty data. */
void decision_accept(decision_t *d, event_type_t type);
/* Records a rejection; the message is printf-formatted. */
void decision_reject(decision_t *d, reject_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A validation rejection naming one field. */
void decision_invalid(decision_t *d, const char *field, const char *message);
/* Makes ev the event the accepted d appends to `stream` as its `version`:
 * the envelope's stream, version, type and schema, and the data; the rest
 * of the envelope (ids, time, position) zero for the caller to fill. */
void decision_event(const decision_t *d, const char *stream, int64_t version, event_t *ev);

#endif
