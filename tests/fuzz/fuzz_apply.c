/* fuzz_apply: one `event` message on the bus, decoded as a subscriber
 * decodes it (codec_decode_event) and then applied, as a hostile relay or a
 * damaged store could deliver it, by the three subscribers' models: the
 * projector's read model, the audit model and the alert model, each holding
 * the story's suppliers and products as created (its first FUZZ_APPLY_BASE
 * events, fuzz.h; the seeds are the story's events, so the later ones apply)
 * and each rolling its transaction back after the input (so every input
 * meets the same state).  An apply may refuse an event;
 * it must not crash, leak or overflow. */
#include "alerts.h"
#include "auditlog.h"
#include "codec.h"
#include "fuzzsub.h"
#include "readmodel.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    const subscriber_ops_t *ops;
    void *model;
} model_t;

static model_t models[3];
static event_t ev;

#define FUZZ_APPLY_BASE 5 /* s0, s1, s0 renamed, p0, p1 */

/* Fills m with model, given the story's first events, committed. */
static void
seed_model(model_t *m, const char *name, const subscriber_ops_t *ops, void *model)
{
    fuzz_seed_model(ops, model, FUZZ_APPLY_BASE);
    *m = (model_t){name, ops, model};
}

FUZZ_SETUP

static void
fuzz_setup(void)
{
    const char *why;
    seed_model(&models[0], "projector", &readmodel_ops, readmodel_open(fuzz_path("read.db"), &why));
    seed_model(&models[1], "audit", &auditlog_ops,
               auditlog_open(fuzz_path("audit.db"), NULL, &why));
    seed_model(&models[2], "alerts", &alerts_ops, alerts_open(fuzz_path("alerts.db"), NULL, &why));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why;
    if (codec_decode_event(data, size, &ev, &why) != 0)
        return 0;
    for (int i = 0; i < 3; i++) {
        const model_t *m = &models[i];
        FUZZ_CHECK(m->ops->begin(m->model) == 0, "%s: begin", m->name);
        m->ops->apply(m->model, &ev);
        m->ops->rollback(m->model);
    }
    return 0;
}
