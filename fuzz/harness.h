/* Shared by the libFuzzer harnesses: one Lua state with ghl.core loaded,
 * and a splitter that turns the input into NUL-separated fields. */
#ifndef GHL_FUZZ_HARNESS_H
#define GHL_FUZZ_HARNESS_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

int luaopen_ghl_core(lua_State *L);

static lua_State *harness_state(void) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "ghl.core", luaopen_ghl_core, 0);
        lua_setglobal(L, "core");
    }
    lua_settop(L, 0);
    return L;
}

/* Pushes up to max fields of the input split at NUL bytes; returns how many. */
static int push_fields(lua_State *L, const uint8_t *data, size_t size, int max) {
    int n = 0;
    size_t start = 0, i;
    for (i = 0; i <= size && n < max; i++) {
        if (i == size || data[i] == 0) {
            lua_pushlstring(L, (const char *)data + start, i - start);
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* Runs a Lua chunk (compiled once per harness) with the fields as `...`.
 * ghl's errors for bad input are expected; a failed assert() of the chunk
 * (an invariant) is a finding: abort so libFuzzer keeps the input. */
static void run_chunk(lua_State *L, int *ref, const char *code, int nargs) {
    if (*ref == 0) {
        if (luaL_loadstring(L, code) != LUA_OK)
            abort();
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
    lua_insert(L, -nargs - 1);
    if (lua_pcall(L, nargs, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg && strstr(msg, "assertion failed")) {
            fprintf(stderr, "invariant broken: %s\n", msg);
            abort();
        }
    }
    lua_settop(L, 0);
}

#endif
