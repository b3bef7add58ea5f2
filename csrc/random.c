/*
 * The jitter of retry backoff: xorshift64* per client, seeded from the
 * clock and the object's address. Not for secrets.
 */
#include <stdint.h>

#include "ghl.h"

double ghl_random(ghl_client *c) {
    uint64_t x = c->rng;
    if (x == 0)
        x = (uint64_t)ghl_now_ms() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0; /* [0, 1) */
}
