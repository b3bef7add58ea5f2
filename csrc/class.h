/*
 * One way to register a userdata class, for every C module: its metatable
 * under `name` with the metamethods `meta`, and `methods` as its __index;
 * and one way to make an instance of it.
 */
#ifndef GHL_CLASS_H
#define GHL_CLASS_H

#include <string.h>

#include "compat.h"

/* meta and methods may be NULL. The methods share the nup values on top of
 * the stack as upvalues; they are left there for the caller to pop. */
static inline void ghl_new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods,
                                 int nup) {
    int i;
    luaL_newmetatable(L, name);
    if (meta)
        luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -2 - nup); /* the upvalues, in order */
        luaL_setfuncs(L, methods, nup);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* A zeroed instance of the class `name` (size bytes, nuv user values), on
 * top of the stack. */
static inline void *ghl_new_object(lua_State *L, size_t size, int nuv, const char *name) {
    void *p = lua_newuserdatauv(L, size, nuv);
    (void)nuv; /* 5.1 / LuaJIT: one environment table, no count */
    memset(p, 0, size);
    luaL_setmetatable(L, name);
    return p;
}

#endif
