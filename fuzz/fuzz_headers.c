/* Response head parsing (csrc/http_parse.c). */
#include "../csrc/http_parse.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = harness_state();
    ghl_push_header_block(L, (const char *)data, size);
    lua_settop(L, 0);
    return 0;
}
