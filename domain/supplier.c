/* supplier: see supplier.h.  Rules (DOMAIN.md): register only once; rename
 * only an existing supplier and only to a different name. */
#include "supplier.h"

#include "strcopy.h"

#include <string.h>

void
supplier_init(supplier_t *s)
{
    memset(s, 0, sizeof *s);
}

void
supplier_apply(supplier_t *s, const event_t *ev)
{
    const fields_t *d = &ev->data;
    if (ev->env.type == EV_SUPPLIER_REGISTERED) {
        s->exists = true;
        strcopy(s->supplier_id, sizeof s->supplier_id, d->supplier_id);
        strcopy(s->name, sizeof s->name, d->name);
    } else if (ev->env.type == EV_SUPPLIER_RENAMED) {
        strcopy(s->name, sizeof s->name, d->new_name);
    }
    s->version = ev->env.version;
}

static void
supplier_register(const supplier_t *s, const command_t *cmd, decision_t *out)
{
    if (s->exists) {
        decision_reject(out, REJ_ALREADY_EXISTS, "supplier %s already exists",
                        cmd->data.supplier_id);
        return;
    }
    decision_accept(out, EV_SUPPLIER_REGISTERED);
    fields_set_str(&out->data, F_SUPPLIER_ID, cmd->data.supplier_id);
    fields_set_str(&out->data, F_NAME, cmd->data.name);
}

static void
supplier_rename(const supplier_t *s, const command_t *cmd, decision_t *out)
{
    if (!s->exists) {
        decision_reject(out, REJ_NOT_FOUND, "supplier %s not found", cmd->data.supplier_id);
        return;
    }
    if (strcmp(s->name, cmd->data.name) == 0) {
        decision_invalid(out, "name", "is already the supplier's name");
        return;
    }
    decision_accept(out, EV_SUPPLIER_RENAMED);
    fields_set_str(&out->data, F_SUPPLIER_ID, s->supplier_id);
    fields_set_str(&out->data, F_OLD_NAME, s->name);
    fields_set_str(&out->data, F_NEW_NAME, cmd->data.name);
}

void
supplier_decide(const supplier_t *s, const command_t *cmd, decision_t *out)
{
    decision_clear(out);
    if (cmd->type == CMD_REGISTER_SUPPLIER)
        supplier_register(s, cmd, out);
    else if (cmd->type == CMD_RENAME_SUPPLIER)
        supplier_rename(s, cmd, out);
    else
        decision_reject(out, REJ_MALFORMED, "not a supplier command");
}
