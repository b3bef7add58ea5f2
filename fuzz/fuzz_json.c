/* The JSON decoder of the hot path (csrc/json_decode.c), against lua-cjson:
 * where both accept a text they must give equal values. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local text = ...\n"
    "local function same(a, b, depth)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return a == b or (a ~= a and b ~= b) end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if depth > 200 then return true end\n"
    "  for k, v in pairs(a) do if not same(v, b[k], depth + 1) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local ours, why = core.json_decode(text)\n"
    "local ok, theirs = pcall(require('cjson').decode, text)\n"
    "if ours ~= nil and ok then assert(same(ours, theirs, 0), 'decoders disagree') end\n"
    "if ours == nil then assert(type(why) == 'string') end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    lua_pushlstring(L, (const char *)data, size);
    run_chunk(L, &ref, CODE, 1);
    return 0;
}
