/* The pacer fed arbitrary X-RateLimit-* values (csrc/pacer.c): waits are
 * never negative, never NaN, and never longer than the caller allowed. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local max, rem, interval, daily, drem, t = ...\n"
    "local p = core.pacer()\n"
    "local now = 1.7e12 + (tonumber(t) or 0) % 1e9\n"
    "local function h(k, v) return v and (k .. ': ' .. v:gsub('[\\r\\n]', ' ') .. '\\r\\n') or '' end\n"
    "p:update('HTTP/1.1 200 OK\\r\\n' .. h('X-RateLimit-Max', max) .. h('X-RateLimit-Remaining', rem)\n"
    "  .. h('X-RateLimit-Interval-Milliseconds', interval) .. h('X-RateLimit-Limit-Daily', daily)\n"
    "  .. h('X-RateLimit-Daily-Remaining', drem) .. '\\r\\n', now)\n"
    "local budget = (#(t or '') * 997) % 70000\n"
    "for i = 1, 5 do\n"
    "  local w, err = p:acquire(now + i, budget)\n"
    "  if w == nil then assert(err.kind == 'rate_limited') else assert(w >= 0 and w == w and (w == 0 or w <= budget + 1)) end\n"
    "end\n"
    "local imported = core.pacer()\n"
    "assert(imported:import(p:export()))\n"
    "p:state()\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 6);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
