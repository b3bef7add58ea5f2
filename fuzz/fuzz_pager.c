/* The pagers' cursor extraction from arbitrary JSON pages (csrc/pager.c,
 * every style of csrc/pager_styles.c, items paths),
 * and from pages whose ids and cursors are nested up to 2040 deep (the
 * third field's first byte times 8): the recursion over them is bounded. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local style_byte, json, deep = ...\n"
    "local styles = { 'skip_limit', 'limit_offset', 'page', 'search_after', 'keyset',\n"
    "  'last_id', 'start_after_date', 'cursor', 'after_item' }\n"
    "local style = styles[((style_byte or ''):byte(1) or 0) % #styles + 1]\n"
    "local ok, page = pcall(core.json_decode, json or '')\n"
    "if not ok then return end\n"
    "local depth = ((deep or ''):byte(1) or 0) * 8\n"
    "local function nest(v) for _ = 1, depth do v = { v } end return v end\n"
    "if depth > 0 then\n"
    "  if type(page) ~= 'table' then page = {} end\n"
    "  local list = { { id = nest('a'), searchAfter = nest(1), sort = nest(5) }, { id = nest('b'), searchAfter = nest(2) } }\n"
    "  page.items, page.nextCursor, page.lastMessageId = list, nest('c'), nest('m')\n"
    "  page.meta = { startAfterId = nest('d'), startAfter = nest(3) }\n"
    "  page.data = { items = list, lastFaqId = nest('f'), hasMore = true }\n"
    "end\n"
    "for _, items in ipairs{ 'items', '', '[]', '*', 'data.items', 'data.items.x' } do\n"
    "  local p = core.pager{ style = style, items = items, max_pages = 3, cursor_string = depth % 16 == 8,\n"
    "                        cursor_key = depth % 24 == 0 and 'lastFaqId' or nil, first_page = depth % 2 }\n"
    "  local params = p:first{ limit = 2, page = 1, searchAfter = depth > 0 and nest(0) or nil,\n"
    "                          sortBy = depth % 3 == 0 and 'due_at' or nil }\n"
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
    int n = push_fields(L, data, size, 3);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
