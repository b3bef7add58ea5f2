/*
 * Lua 5.1/LuaJIT .. 5.4 differences, in one place.
 * The sources are written against the 5.4 API; this header maps the few
 * calls LuaJIT (the 5.1 API that OpenResty runs) lacks. Every shim is static
 * so nothing here can clash with a host's own symbols.
 */
#ifndef GHL_COMPAT_H
#define GHL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))
#define lua_rawlen(L, i) lua_objlen((L), (i))
/* The 5.1 uservalue is the environment table; one slot is all we use. */
static inline int ghl_getuservalue51(lua_State *L, int idx) {
    lua_getfenv(L, idx);
    return lua_type(L, -1);
}
#define lua_getiuservalue(L, idx, n) ghl_getuservalue51((L), (idx))
#define lua_setiuservalue(L, idx, n) lua_setfenv((L), (idx))
#endif

/* PUC Lua 5.1 (LuaRocks' default on Debian) lacks two 5.2 calls LuaJIT 2.1
 * has; its lua.h is the one without LUA_OK. A module built so loads in
 * LuaJIT, which shares the 5.1 ABI. */
#if LUA_VERSION_NUM == 501 && !defined(LUA_OK)
#define LUA_OK 0
static inline void ghl_setfuncs51(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs(L, l, nup) ghl_setfuncs51((L), (l), (nup))
#define luaL_setmetatable(L, name) (luaL_getmetatable((L), (name)), lua_setmetatable((L), -2))
#endif

#if LUA_VERSION_NUM < 503
#define lua_isinteger(L, i) 0
#endif

static inline int ghl_absindex(lua_State *L, int idx) {
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}

#endif
