/* itest: small helpers the integration tests share (building commands and
 * requests, looking into replies).  Header-only, static inline. */
#ifndef INV_ITEST_H
#define INV_ITEST_H

#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define ITEST_TIMEOUT_MS 5000
#define ITEST_WAIT_MS 20000

static inline void
itest_cmd(command_t *c, command_type_t type, const char *command_id)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    snprintf(c->command_id, sizeof c->command_id, "%s", command_id);
    snprintf(c->correlation_id, sizeof c->correlation_id, "corr-%s", command_id);
}

/* Sends cmd and asserts it was accepted; returns the position of its last
 * event. */
static inline int64_t
itest_accept(harness_t *h, const command_t *c)
{
    command_reply_t r;
    cr_assert_eq(harness_command(h, c, ITEST_TIMEOUT_MS, &r), 0, "%s: no reply", c->command_id);
    cr_assert(r.accepted, "%s rejected: %s %s (%s: %s)", c->command_id,
              reject_code_name(r.error), r.message, r.fields.count ? r.fields.items[0].field : "",
              r.fields.count ? r.fields.items[0].message : "");
    cr_assert_gt(r.position, 0);
    return r.position;
}

/* True when o, or anything inside it, is a string containing `needle`. */
static inline bool
itest_has_text(const msgpack_object *o, const char *needle)
{
    if (!o)
        return false;
    size_t n = strlen(needle);
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        if (o->via.str.size < n)
            return false;
        for (uint32_t i = 0; i + n <= o->via.str.size; i++)
            if (memcmp(o->via.str.ptr + i, needle, n) == 0)
                return true;
        return false;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (itest_has_text(&o->via.array.ptr[i], needle))
                return true;
        return false;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (itest_has_text(&o->via.map.ptr[i].val, needle))
                return true;
        return false;
    default:
        return false;
    }
}

/* True when map o has key whose value is the string s. */
static inline bool
itest_str_is(const msgpack_object *o, const char *key, const char *s)
{
    const msgpack_object *v = codec_map_get(o, key);
    return v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == strlen(s) &&
           memcmp(v->via.str.ptr, s, v->via.str.size) == 0;
}

/* The `items` array of a list reply (asserts it is there). */
static inline const msgpack_object *
itest_items(const harness_reply_t *r)
{
    const msgpack_object *items = harness_reply_get(r, "items");
    cr_assert_not_null(items, "reply has no items");
    cr_assert_eq(items->type, MSGPACK_OBJECT_ARRAY);
    return items;
}

/* The error code of a rejection, "" when the reply has none. */
static inline const char *
itest_error(const harness_reply_t *r, char *buf, size_t cap)
{
    harness_reply_str(r, "error", buf, cap);
    return buf;
}

#endif
