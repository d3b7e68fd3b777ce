/* decision: see decision.h. */
#include "decision.h"
#include "strcopy.h"

#include <stdio.h>
#include <string.h>

void
decision_clear(decision_t *d)
{
    d->code = REJ_NONE;
    d->message[0] = '\0';
    d->fields.count = 0;
    d->type = 0;
    fields_clear(&d->data);
}

void
decision_accept(decision_t *d, event_type_t type)
{
    decision_clear(d);
    d->type = type;
}

void
decision_reject(decision_t *d, reject_code_t code, const char *fmt, ...)
{
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
}

void
decision_invalid(decision_t *d, const char *field, const char *message)
{
    decision_reject(d, REJ_VALIDATION, "%s %s", field, message);
    field_errors_add(&d->fields, field, message);
}

void
decision_event(const decision_t *d, const char *stream, int64_t version, event_t *ev)
{
    memset(&ev->env, 0, sizeof ev->env);
    strcopy(ev->env.stream, sizeof ev->env.stream, stream);
    ev->env.version = version;
    ev->env.type = d->type;
    ev->env.schema = event_spec(d->type)->schema;
    fields_copy(&ev->data, &d->data);
}
