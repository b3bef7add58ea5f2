/* Request building (csrc/request.c): URL, {name} path parameters, query
 * strings, headers, form bodies. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local method, tmpl, p1, p2, k1, v1, k2, v2, hk, hv = ...\n"
    "local c = core.client{ token = 'pit-fuzz-token-0000', base_url = 'https://example.test' }\n"
    "local q = { [k1 or 'a'] = v1 or '', [k2 or 'b'] = { v2 or '', p1 or '' }, n = #(v1 or '') }\n"
    "local ok, req = pcall(c.prepare, c, method, tmpl, { path = { id = p1, name = p2 }, query = q,\n"
    "  headers = { [hk or 'X'] = hv or '' } })\n"
    "if ok then\n"
    "  assert(req.url:sub(1, 21) == 'https://example.test/', req.url)\n"
    "  assert(not req.url:find('[%s#]'), 'unencoded character in ' .. req.url)\n"
    "  for k, v in pairs(req.headers) do assert(not v:find('[\\r\\n]'), k) end\n"
    "end\n"
    "pcall(c.prepare, c, 'POST', '/f', { form = q })\n"
    "core.percent_encode(tmpl or '')\n"
    "pcall(core.encode_query, q)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 10);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
