/* The nginx transport's parsers (csrc/http_parse.c): URLs, status lines,
 * chunk sizes. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CODE[] =
    "local a, b, c = ...\n"
    "local u = core.parse_url(a or '')\n"
    "if u then\n"
    "  assert(u.scheme == 'http' or u.scheme == 'https')\n"
    "  assert(#u.host > 0 and u.port >= 1 and u.port <= 65535)\n"
    "  assert(u.path:sub(1, 1) == '/' and not u.path:find('[%s#]'))\n"
    "end\n"
    "local st = core.parse_status_line(b or '')\n"
    "if st then assert(st >= 100 and st <= 999) end\n"
    "local n = core.parse_chunk_size(c or '')\n"
    "if n then assert(n >= 0 and n < 2^40) end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    lua_State *L = harness_state();
    int n = push_fields(L, data, size, 3);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
