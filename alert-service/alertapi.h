/* alertapi: the requests the alert-service answers on its API ROUTER
 * besides Status (answered by the subscriber runtime).
 *
 * Invariants: every parameter's type and value is checked before use; a bad
 * request gets a `malformed` (wrong shape or type, unknown or repeated
 * parameter) or `validation` (a value breaks its rule; `fields` names it)
 * reply and never reaches SQLite.  See docs/protocol.md, section 10. */
#ifndef INV_ALERTAPI_H
#define INV_ALERTAPI_H

#include "codec.h"

/* A subscriber_control_fn (common/subscriber/subscriber.h); arg is an alerts_t ** (the
 * live model's slot, which a Rebuild swap changes; NULL there gets an
 * `unavailable` reply).
 * Packs exactly one reply map into w and returns 0, or returns -1 for an
 * unknown request type (the runtime then replies malformed). */
int alertapi_handle(void *arg, const char *type, const mpread_t *req, codec_writer_t *w);

#endif
