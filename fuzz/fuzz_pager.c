/* The pagers' cursor extraction from arbitrary JSON pages (csrc/pager.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local style_byte, json = ...\n"
    "local styles = { 'skip_limit', 'limit_offset', 'page', 'search_after', 'keyset',\n"
    "  'last_message_id', 'start_after_date', 'cursor' }\n"
    "local style = styles[((style_byte or ''):byte(1) or 0) % #styles + 1]\n"
    "local ok, page = pcall(require('cjson').decode, json or '')\n"
    "if not ok then return end\n"
    "for _, items in ipairs{ 'items', '', '[]' } do\n"
    "  local p = core.pager{ style = style, items = items, max_pages = 3 }\n"
    "  local params = p:first{ limit = 2, page = 1 }\n"
    "  for _ = 1, 3 do\n"
    "    local list, nxt = p:next(params, page)\n"
    "    if list == nil then assert(nxt.kind) break end\n"
    "    assert(type(list) == 'table')\n"
    "    if nxt == nil then break end\n"
    "    params = nxt\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 2);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
