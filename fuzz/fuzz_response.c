/* Response judging (csrc/response.c) and the retry policy (csrc/policy.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local status, body, retry_after, interval, method = ...\n"
    "local c = core.client{ token = 'pit-fuzz-token-0000', base_url = 'https://example.test' }\n"
    "local req = c:prepare(({ 'GET', 'POST', 'PUT' })[(#(method or '') % 3) + 1], '/x')\n"
    "local code = 100 + (#(status or '') * 37 + (status or ''):byte(1, 1) or 0) % 500\n"
    "local headers = { ['retry-after'] = retry_after, ['x-ratelimit-interval-milliseconds'] = interval }\n"
    "local action, a, b = c:interpret(req, code, headers, body, 1 + #(method or '') % 5, 0)\n"
    "assert(action == 'done' or action == 'retry' or action == 'fail')\n"
    "if action == 'retry' then assert(a >= 0 and b.kind) end\n"
    "if action == 'fail' then assert(tostring(a):find('ghl: ', 1, true)) assert(not tostring(a):find('pit-fuzz-token-0000', 1, true)) end\n"
    "c:interpret(req, nil, body or 'network', status, 1, 0, #(interval or '') % 2 == 0)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 5);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
