/* Response judging (csrc/response.c) and the retry policy (csrc/policy.c):
 * never a retry of a POST that may have reached the server. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local status, body, retry_after, interval, method = ...\n"
    "local c = core.client{ token = 'pit-fuzz-token-0000', base_url = 'https://example.test' }\n"
    "local req = c:prepare(({ 'GET', 'POST', 'PUT' })[(#(method or '') % 3) + 1], '/x')\n"
    "local code = 100 + (#(status or '') * 37 + (status or ''):byte(1, 1) or 0) % 500\n"
    "local function h(k, v) return v and (k .. ': ' .. v .. '\\r\\n') or '' end\n"
    "local head = 'HTTP/1.1 ' .. code .. ' X\\r\\n' .. h('Retry-After', retry_after) .. h('X-RateLimit-Interval-Milliseconds', interval) .. '\\r\\n'\n"
    "local call = { req = req, attempt = 1 + #(method or '') % 5, started = core.now_ms() }\n"
    "local action, a, b = c:interpret(call, code, head, body)\n"
    "assert(action == 'done' or action == 'retry' or action == 'fail')\n"
    "if action == 'retry' then assert(a >= 0 and b.kind) end\n"
    "if action == 'fail' then assert(tostring(a):find('ghl: ', 1, true)) assert(not tostring(a):find('pit-fuzz-token-0000', 1, true)) end\n"
    "local facts = { sent = #(interval or '') % 2 == 0, reused = #(body or '') % 2 == 0, answered = #(status or '') % 3 == 0 }\n"
    "local call2 = { req = req, attempt = 1, started = core.now_ms() }\n"
    "local act2, d = c:interpret(call2, nil, body or 'network', status, facts)\n"
    "if act2 == 'retry' and req.method == 'POST' then assert(not facts.sent, 'a POST that may have been sent is never retried') end\n"
    "assert(act2 == 'retry' or act2 == 'fail' or act2 == 'done')\n"
    "if act2 == 'retry' then assert(d >= 0) end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 5);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
