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

#if LUA_VERSION_NUM < 503
#define lua_isinteger(L, i) 0
#endif

static inline int ghl_absindex(lua_State *L, int idx) {
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}

#endif
