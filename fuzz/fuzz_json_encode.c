/* The JSON encoder of request bodies (csrc/json_encode.c), round trip:
 * whatever the core's decoder reads, the encoder writes back so that it
 * decodes to the same value, and writing that again gives the same bytes.
 * Values it refuses (invalid UTF-8, infinities) raise invalid_argument. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local json, mark = ...\n"
    "local v = core.json_decode(json or '')\n"
    "if v == nil then return end\n"
    "if type(v) == 'table' and next(v) == nil and (mark or ''):byte(1) then\n"
    "  setmetatable(v, (mark:byte(1) % 2 == 0) and core.array_mt or core.object_mt)\n"
    "end\n"
    "local ok, text = pcall(core.json_encode, v)\n"
    "if not ok then assert(text.kind == 'invalid_argument', tostring(text)) return end\n"
    "local back = core.json_decode(text)\n"
    "local function same(a, b, depth)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, x in pairs(a) do if not same(x, b[k], depth + 1) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "assert(same(v, back, 0), 'the round trip changed the value: ' .. text)\n"
    "assert(core.json_encode(back) == text or next(back) == nil, 'not byte-stable: ' .. text)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 2);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
