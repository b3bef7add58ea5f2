/*
 * Structured errors: plain tables with the ghl.Error metatable, so users can
 * read err.kind / err.status / err.message, print them, and write
 * "failed: " .. err. No field ever holds a request header (the token).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"
#include "class.h"

void ghl_error_push(lua_State *L, const char *kind, int status, const char *msg, size_t len) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    if (status > 0) {
        lua_pushinteger(L, status);
        lua_setfield(L, -2, "status");
    }
    lua_pushlstring(L, msg, len);
    lua_setfield(L, -2, "message");
    luaL_getmetatable(L, GHL_ERROR_MT);
    lua_setmetatable(L, -2);
}

/* err[field] = value at value_idx (when it is not nil). */
void ghl_error_setfield(lua_State *L, int err_idx, const char *field, int value_idx) {
    err_idx = ghl_absindex(L, err_idx);
    if (lua_isnil(L, value_idx))
        return;
    lua_pushvalue(L, value_idx);
    lua_setfield(L, err_idx, field);
}

/* Raises an invalid_argument error object: misuse is reported at the call. */
int ghl_raise_invalid(lua_State *L, const char *fmt, ...) {
    const char *msg;
    va_list ap;
    va_start(ap, fmt);
    msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    ghl_error_push(L, "invalid_argument", 0, msg, strlen(msg));
    lua_error(L);
    abort(); /* not reached: lua_error does not return */
}

/* core.new_error(t): give a Lua-built table the error metatable. */
int ghl_error_new_l(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "kind");
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_argerror(L, 1, "error needs a string 'kind'");
    lua_getfield(L, 1, "message");
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_argerror(L, 1, "error needs a string 'message'");
    lua_settop(L, 1);
    luaL_getmetatable(L, GHL_ERROR_MT);
    lua_setmetatable(L, 1);
    return 1;
}

static const char *field_str(lua_State *L, int t, const char *k) {
    lua_getfield(L, t, k); /* left on the stack: keeps the string alive */
    return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

/* "ghl: http 404: Contact not found (GET /contacts/x) [trace_id abc]" */
static int error_tostring(lua_State *L) {
    const char *kind, *msg, *method, *path, *trace;
    luaL_Buffer b;
    int status;
    luaL_checktype(L, 1, LUA_TTABLE);
    kind = field_str(L, 1, "kind");
    msg = field_str(L, 1, "message");
    method = field_str(L, 1, "method");
    path = field_str(L, 1, "path");
    trace = field_str(L, 1, "trace_id");
    lua_getfield(L, 1, "status");
    status = 0;
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 1 && lua_tonumber(L, -1) < 1000)
        status = (int)lua_tonumber(L, -1);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "ghl: ");
    luaL_addstring(&b, kind ? kind : "error");
    if (status > 0) {
        char num[16];
        size_t n = (size_t)snprintf(num, sizeof num, " %d", status);
        luaL_addlstring(&b, num, n);
    }
    luaL_addstring(&b, ": ");
    luaL_addstring(&b, msg ? msg : "(no message)");
    if (method && path) {
        luaL_addstring(&b, " (");
        luaL_addstring(&b, method);
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, path);
        luaL_addchar(&b, ')');
    }
    if (trace) {
        luaL_addstring(&b, " [trace_id ");
        luaL_addstring(&b, trace);
        luaL_addchar(&b, ']');
    }
    luaL_pushresult(&b);
    return 1;
}

/* Both "x" .. err and err .. "x" work: each side goes through tostring. */
static int error_concat(lua_State *L) {
    int i;
    lua_settop(L, 2);
    for (i = 1; i <= 2; i++) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
    }
    lua_concat(L, 2);
    return 1;
}

void ghl_error_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__tostring", error_tostring}, {"__concat", error_concat}, {NULL, NULL}};
    ghl_new_class(L, GHL_ERROR_MT, meta, NULL, 0);
}

