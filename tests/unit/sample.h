/* sample: deterministic sample values for every field, command and event,
 * shared by the unit tests of common/ (codec, event store).  Header-only;
 * everything is static inline so a test file uses what it needs. */
#ifndef INV_TEST_SAMPLE_H
#define INV_TEST_SAMPLE_H

#include "codec.h"
#include "message.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* A value that obeys the field's rules and differs between fields and seeds. */
static inline void
sample_field(fields_t *fs, field_id_t f, int seed)
{
    const field_spec_t *sp = fields_spec(f);
    char buf[128];
    if (sp->kind == FK_INT) {
        int64_t v;
        if (f == F_RATING)
            v = 1 + (seed + (int)f) % 5;
        else if (f == F_QUANTITY)
            v = 1 + seed;
        else
            v = 1000 * (int64_t)f + seed;
        fields_set_int(fs, f, v);
    } else if (sp->kind == FK_ID) {
        snprintf(buf, sizeof buf, "%.3s-%d:x_y.z", sp->name, seed);
        fields_set_str(fs, f, buf);
    } else {
        /* multi-byte UTF-8: e-acute, euro sign, and U+1F528 (hammer) */
        snprintf(buf, sizeof buf, "%s %d caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa8", sp->name,
                 seed);
        fields_set_str(fs, f, buf);
    }
}

/* Fills every field of `which` with sample values. */
static inline void
sample_fields(fields_t *fs, uint32_t which, int seed)
{
    memset(fs, 0, sizeof *fs);
    for (int f = 0; f < F__COUNT; f++)
        if (which & FIELD_BIT(f))
            sample_field(fs, (field_id_t)f, seed);
}

/* A command of type t with every required and optional field. */
static inline void
sample_command(command_t *cmd, command_type_t t, int seed)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->type = t;
    snprintf(cmd->command_id, sizeof cmd->command_id, "cmd-%d-%d", (int)t, seed);
    if (seed % 2 == 0)
        snprintf(cmd->correlation_id, sizeof cmd->correlation_id, "corr-%d", seed);
    if (seed % 3 == 0) {
        cmd->has_expected_version = true;
        cmd->expected_version = seed;
    }
    const command_spec_t *sp = command_spec(t);
    sample_fields(&cmd->data, sp->required | sp->optional, seed);
}

/* An event of type t with all its fields and a full envelope. */
static inline void
sample_event(event_t *ev, event_type_t t, const char *stream, int64_t version, int seed)
{
    memset(ev, 0, sizeof *ev);
    envelope_t *e = &ev->env;
    e->position = 0;
    snprintf(e->stream, sizeof e->stream, "%s", stream);
    e->version = version;
    e->type = t;
    e->schema = event_spec(t)->schema;
    snprintf(e->event_id, sizeof e->event_id, "%032x", (unsigned)(seed * 7919 + 1));
    snprintf(e->command_id, sizeof e->command_id, "cmd-%d", seed);
    snprintf(e->correlation_id, sizeof e->correlation_id, "corr-%d", seed);
    e->recorded_at = 1700000000000000LL + seed;
    sample_fields(&ev->data, event_spec(t)->fields, seed);
}

/* Field-by-field comparison of the fields in `which`. */
static inline void
sample_assert_fields_eq(const fields_t *a, const fields_t *b, uint32_t which)
{
    cr_assert_eq(a->present & which, b->present & which, "present bits %#x vs %#x",
                 a->present & which, b->present & which);
    for (int f = 0; f < F__COUNT; f++) {
        if (!(which & a->present & FIELD_BIT(f)))
            continue;
        if (fields_spec((field_id_t)f)->kind == FK_INT)
            cr_assert_eq(fields_int(a, f), fields_int(b, f), "field %s",
                         fields_spec((field_id_t)f)->name);
        else
            cr_assert_str_eq(fields_cstr(a, f), fields_cstr(b, f), "field %s",
                             fields_spec((field_id_t)f)->name);
    }
}

static inline void
sample_assert_envelope_eq(const envelope_t *a, const envelope_t *b)
{
    cr_assert_eq(a->position, b->position);
    cr_assert_str_eq(a->stream, b->stream);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->type, b->type);
    cr_assert_eq(a->schema, b->schema);
    cr_assert_str_eq(a->event_id, b->event_id);
    cr_assert_str_eq(a->command_id, b->command_id);
    cr_assert_str_eq(a->correlation_id, b->correlation_id);
    cr_assert_eq(a->recorded_at, b->recorded_at);
}

#endif
