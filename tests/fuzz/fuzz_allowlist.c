/* fuzz_allowlist: an allow-list file (docs/protocol.md, section 13), as a
 * daemon reads it at start, on SIGHUP and on ReloadKeys, through
 * allowlist_parse; every key of a parsed list is a valid Z85 key with one
 * role, and a lookup of each finds it. */
#include "fuzz.h"
#include "keyring.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    allowlist_t l;
    char why[256];
    if (allowlist_parse((const char *)data, size, &l, why, sizeof why) != 0)
        return 0;
    for (size_t i = 0; i < l.n; i++) {
        FUZZ_CHECK(key_z85_valid(l.entries[i].key), "entry %zu: not a key", i);
        FUZZ_CHECK(allowlist_role(&l, l.entries[i].key) == l.entries[i].role,
                   "entry %zu: its lookup gives another role", i);
        FUZZ_CHECK(l.entries[i].role != ROLE_NONE, "entry %zu: no role", i);
    }
    allowlist_fini(&l);
    return 0;
}
