/* chain: the event log's hash chain (docs/protocol.md, "The hash chain").
 *
 * Every event's hash is BLAKE2b-256 (libsodium's crypto_generichash, no
 * key) over the previous position's hash and the event's canonical bytes:
 *
 *   prev_hash (32 bytes; 32 zero bytes before position 1)
 *   u32be len(stream)  stream   (UTF-8, no terminator)
 *   i64be version
 *   u32be len(type)    type     (the event's wire type, "ProductSold")
 *   u32be len(payload) payload  (the stored msgpack data map, as sent on
 *                                the wire under "data")
 *   i64be recorded_at           (microseconds since the Unix epoch)
 *
 * One chain over the whole log, in position order: changing, removing or
 * reordering any event changes every hash from it on.  Pure: no I/O. */
#ifndef INV_CHAIN_H
#define INV_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAIN_HASH_LEN 32
#define CHAIN_HEX_LEN (2 * CHAIN_HASH_LEN)

/* What is hashed of one event besides the previous hash. */
typedef struct {
    const char *stream;
    size_t stream_len;
    int64_t version;
    const char *type;
    size_t type_len;
    const void *payload;
    size_t payload_len;
    int64_t recorded_at;
} chain_event_t;

/* The previous hash of position 1: 32 zero bytes. */
extern const uint8_t chain_genesis[CHAIN_HASH_LEN];

/* out = BLAKE2b-256(prev || canonical bytes of ev).  out may alias prev. */
void chain_hash(const uint8_t prev[CHAIN_HASH_LEN], const chain_event_t *ev,
                uint8_t out[CHAIN_HASH_LEN]);
/* True when the event's hash is `hash` given the previous one. */
bool chain_check(const uint8_t prev[CHAIN_HASH_LEN], const chain_event_t *ev,
                 const uint8_t hash[CHAIN_HASH_LEN]);
/* Lower-case hex, NUL-terminated (CHAIN_HEX_LEN + 1 bytes). */
void chain_hex(const uint8_t hash[CHAIN_HASH_LEN], char out[CHAIN_HEX_LEN + 1]);

#endif
