/* Webhook signature headers and public keys (csrc/crypto.c): strict
 * base64, key loading in every accepted form, verification. */
#include "../csrc/crypto.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int luaopen_ghl_crypto(lua_State *L);

static const char CODE[] =
    "local key_text, sig, body = ...\n"
    "local crypto = package.loaded['ghl.crypto']\n"
    "local key, kind = crypto.load_key(key_text or '')\n"
    "if key then assert(kind == 'ed25519' or kind == 'rsa') end\n"
    "local fixed = crypto.load_key('MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=')\n"
    "local ok, why = crypto.verify(fixed, body or '', sig or '')\n"
    "assert(ok == false and type(why) == 'string', 'a random signature verified')\n"
    "if key then crypto.verify(key, body or '', sig or '') end\n"
    "local raw = crypto.base64_decode(sig or '')\n"
    "if raw then assert(#raw <= #(sig or '')) end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ref;
    static int loaded;
    ghl_buf out = {0, 0, 0};
    lua_State *L = harness_state();
    int n;
    if (!loaded) {
        luaL_requiref(L, "ghl.crypto", luaopen_ghl_crypto, 0);
        lua_pop(L, 1);
        loaded = 1;
    }
    ghl_base64_decode((const char *)data, size, &out);
    ghl_buf_free(&out);
    n = push_fields(L, data, size, 3);
    run_chunk(L, &ref, CODE, n);
    return 0;
}
