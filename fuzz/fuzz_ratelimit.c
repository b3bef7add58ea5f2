/* The rate-limit pacer fed arbitrary X-RateLimit-* values (csrc/limiter.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local max, rem, interval, daily, drem, t = ...\n"
    "local lim = core.limiter()\n"
    "local now = 1.7e12 + (tonumber(t) or 0) % 1e9\n"
    "lim:update({ ['x-ratelimit-max'] = max, ['x-ratelimit-remaining'] = rem,\n"
    "  ['x-ratelimit-interval-milliseconds'] = interval, ['x-ratelimit-limit-daily'] = daily,\n"
    "  ['x-ratelimit-daily-remaining'] = drem }, now)\n"
    "for i = 1, 5 do\n"
    "  local w, err = lim:acquire(now + i)\n"
    "  if w == nil then assert(err.kind == 'rate_limited') else assert(w >= 0 and w == w) end\n"
    "end\n"
    "lim:state()\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 6);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
