/* chain: see chain.h. */
#include "chain.h"

#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

const uint8_t chain_genesis[CHAIN_HASH_LEN] = {0};

/* sodium_init picks the fastest BLAKE2b for the CPU; it is thread-safe and
 * idempotent but takes a lock, so it runs once. */
static void
chain_ready(void)
{
    static atomic_int ready;
    if (!atomic_load_explicit(&ready, memory_order_acquire)) {
        int rc = sodium_init(); /* < 0: no CPU-specific BLAKE2b; the portable one is the same hash */
        (void)rc;
        atomic_store_explicit(&ready, 1, memory_order_release);
    }
}

static void
put_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(st, b, sizeof b);
}

static void
put_i64(crypto_generichash_state *st, int64_t s)
{
    uint64_t v = (uint64_t)s;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

static void
put_bytes(crypto_generichash_state *st, const void *p, size_t len)
{
    put_u32(st, (uint32_t)len);
    if (len)
        crypto_generichash_update(st, p, len);
}

void
chain_hash(const uint8_t prev[CHAIN_HASH_LEN], const chain_event_t *ev,
           uint8_t out[CHAIN_HASH_LEN])
{
    chain_ready();
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CHAIN_HASH_LEN);
    crypto_generichash_update(&st, prev, CHAIN_HASH_LEN);
    put_bytes(&st, ev->stream, ev->stream_len);
    put_i64(&st, ev->version);
    put_bytes(&st, ev->type, ev->type_len);
    put_bytes(&st, ev->payload, ev->payload_len);
    put_i64(&st, ev->recorded_at);
    crypto_generichash_final(&st, out, CHAIN_HASH_LEN);
}

bool
chain_check(const uint8_t prev[CHAIN_HASH_LEN], const chain_event_t *ev,
            const uint8_t hash[CHAIN_HASH_LEN])
{
    uint8_t h[CHAIN_HASH_LEN];
    chain_hash(prev, ev, h);
    return memcmp(h, hash, CHAIN_HASH_LEN) == 0;
}

void
chain_hex(const uint8_t hash[CHAIN_HASH_LEN], char out[CHAIN_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < CHAIN_HASH_LEN; i++) {
        out[2 * i] = digits[hash[i] >> 4];
        out[2 * i + 1] = digits[hash[i] & 15];
    }
    out[CHAIN_HEX_LEN] = '\0';
}
