/* Response heads (csrc/http_parse.c): the one header walker, through each
 * of its readers. Invariant: a header the table holds is found by name. */
#include "../csrc/http_parse.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = harness_state();
    size_t vlen;
    ghl_push_header_block(L, (const char *)data, size);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        /* joined repeats: the first value is a prefix of the table's */
        size_t nlen;
        const char *name = lua_tolstring(L, -2, &nlen), *joined = lua_tostring(L, -1);
        const char *v = strlen(name) == nlen ? ghl_header_find((const char *)data, size, name, &vlen) : NULL;
        if (strlen(name) == nlen && (!v || strncmp(joined, v, vlen) != 0))
            abort();
        lua_pop(L, 1);
    }
    lua_pushlstring(L, (const char *)data, size);
    ghl_header_number(L, -1, "retry-after");
    lua_settop(L, 0);
    return 0;
}
