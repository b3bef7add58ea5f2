/*
 * ghl.core: everything that decides and needs no network. Loaded by every
 * host, nginx included; libcurl lives in the separate ghl.curl module.
 */
#include "ghl.h"
#include "http_parse.h"

/* A private lua-cjson instance: the user's cjson settings never change how
 * we encode requests or decode responses. */
static void push_json(lua_State *L) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        luaL_error(L, "ghl: lua-cjson is required (Debian package lua-cjson): %s", lua_tostring(L, -1));
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "encode");
    lua_getfield(L, -2, "decode");
    lua_getfield(L, -4, "null");
    /* stack: cjson, instance, encode, decode, null */
}

GHL_EXPORT int luaopen_ghl_core(lua_State *L) {
    static const luaL_Reg funcs[] = {{"new_error", ghl_error_new_l},
                                     {"parse_retry_after", ghl_parse_retry_after_l},
                                     {"now_ms", ghl_now_ms_l},
                                     {"json_decode", ghl_json_decode_l},
                                     {"auth_refreshable", ghl_auth_refreshable_l},
                                     {"parse_headers", ghl_parse_headers_l},
                                     {"parse_status_line", ghl_parse_status_line_l},
                                     {"parse_chunk_size", ghl_parse_chunk_size_l},
                                     {"parse_url", ghl_parse_url_l},
                                     {"sleep_ms", ghl_sleep_ms_l},
                                     {"percent_encode", ghl_percent_encode_l},
                                     {"encode_query", ghl_encode_query_l},
                                     {NULL, NULL}};
    int top;
    push_json(L);
    top = lua_gettop(L);
    ghl_error_open(L);
    ghl_scratch_open(L);
    ghl_response_open(L);

    lua_newtable(L);
    lua_pushvalue(L, top - 2);
    lua_pushvalue(L, top - 1);
    luaL_setfuncs(L, funcs, GHL_NUPVALUES);
    lua_pushvalue(L, top - 2);
    lua_pushvalue(L, top - 1);
    ghl_client_open(L); /* pushes core.client */
    lua_setfield(L, -4, "client");
    lua_pop(L, 2);
    ghl_pager_open(L); /* pushes core.pager */
    lua_setfield(L, -2, "pager");
    ghl_limiter_open(L); /* pushes core.limiter */
    lua_setfield(L, -2, "limiter");
    ghl_fileio_open(L);
    lua_pushvalue(L, top);
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, GHL_VERSION);
    lua_setfield(L, -2, "VERSION");
    lua_pushliteral(L, GHL_USER_AGENT);
    lua_setfield(L, -2, "USER_AGENT");
    lua_pushliteral(L, GHL_DEFAULT_BASE_URL);
    lua_setfield(L, -2, "DEFAULT_BASE_URL");
    lua_pushliteral(L, GHL_DEFAULT_API_VERSION);
    lua_setfield(L, -2, "DEFAULT_VERSION");
    luaL_getmetatable(L, GHL_ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    return 1;
}
