/*
 * One way to register a userdata class, for every C module: its metatable
 * under `name` with the metamethods `meta`, and `methods` as its __index.
 */
#ifndef GHL_CLASS_H
#define GHL_CLASS_H

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

#endif
