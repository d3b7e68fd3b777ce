/* auditapi: the requests the audit-service answers on its ROUTER besides
 * Status (which the subscriber runtime answers itself).
 *
 * Invariants: every parameter's type and value is checked before use; a bad
 * request gets a `malformed` (wrong shape or type, unknown or repeated
 * parameter) or `validation` (a value breaks its rule; `fields` names it)
 * reply and never reaches SQLite.  Requests and replies: see
 * docs/protocol.md, section 9. */
#ifndef INV_AUDITAPI_H
#define INV_AUDITAPI_H

#include "codec.h"

/* A subscriber_control_fn (common/subscriber/subscriber.h); arg is an auditlog_t **
 * (the live model's slot, which a Rebuild swap changes; NULL there gets an
 * `unavailable` reply).
 * Packs exactly one reply map into w and returns 0, or returns -1 for a
 * request type it does not know (the runtime then replies malformed). */
int auditapi_handle(void *arg, const char *type, const mpread_t *req, codec_writer_t *w);

#endif
