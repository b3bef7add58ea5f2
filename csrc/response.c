/*
 * Judging a response: status -> result or structured error. Pure: the
 * transport hands over status, headers and body; nothing here does I/O.
 *
 * client:interpret(req, status, headers, body)   after an HTTP exchange
 * client:interpret(req, nil, kind, message)      after a transport failure
 *   -> "done", decoded_body, resp
 *   -> "fail", err
 */
#include <string.h>

#include "ghl.h"

enum { A_CLIENT = 1, A_REQ, A_STATUS, A_HEADERS, A_BODY };

#define EXCERPT_BYTES 80

static int is_blank(const char *s, size_t len) {
    size_t i;
    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Pushes the decoded value (0) or cjson's message (-1). */
static int json_decode(lua_State *L, const char *s, size_t len) {
    lua_pushvalue(L, GHL_UV_DECODE);
    lua_pushlstring(L, s, len);
    return lua_pcall(L, 1, 1, 0) == LUA_OK ? 0 : -1;
}

/* err.method / err.path from the request table. */
static void set_request_fields(lua_State *L, int err) {
    err = ghl_absindex(L, err);
    lua_getfield(L, A_REQ, "method");
    lua_setfield(L, err, "method");
    lua_getfield(L, A_REQ, "path");
    lua_setfield(L, err, "path");
}

static int fail(lua_State *L) {
    lua_pushliteral(L, "fail");
    lua_insert(L, -2);
    return 2;
}

static int transport_failure(lua_State *L) {
    size_t len;
    const char *kind = lua_type(L, A_HEADERS) == LUA_TSTRING ? lua_tostring(L, A_HEADERS) : "network";
    const char *msg = lua_type(L, A_BODY) == LUA_TSTRING ? lua_tolstring(L, A_BODY, &len) : NULL;
    if (!msg) {
        msg = "the transport failed without a message";
        len = strlen(msg);
    }
    ghl_error_push(L, kind, 0, msg, len);
    set_request_fields(L, -1);
    return fail(L);
}

/* A body's traceId, when it is a table that has one. */
static void set_trace_id(lua_State *L, int target, int decoded) {
    target = ghl_absindex(L, target);
    if (lua_type(L, decoded) != LUA_TTABLE)
        return;
    lua_getfield(L, decoded, "traceId");
    if (lua_type(L, -1) == LUA_TSTRING)
        lua_setfield(L, target, "trace_id");
    else
        lua_pop(L, 1);
}

static int success(lua_State *L, int status, const char *body, size_t len) {
    int decoded;
    if (is_blank(body, len)) {
        lua_newtable(L); /* 204 and friends: an empty object, so assert() works */
    } else if (json_decode(L, body, len) != 0) {
        lua_pushfstring(L, "response body is not valid JSON (%s); it starts with ", lua_tostring(L, -1));
        ghl_push_excerpt(L, body, len, EXCERPT_BYTES);
        lua_concat(L, 2);
        ghl_error_push(L, "decode", status, lua_tostring(L, -1), lua_rawlen(L, -1));
        ghl_error_setfield(L, -1, "body", A_BODY);
        set_request_fields(L, -1);
        return fail(L);
    }
    decoded = lua_gettop(L);
    lua_pushliteral(L, "done");
    lua_insert(L, decoded);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    ghl_error_setfield(L, -1, "headers", A_HEADERS);
    set_trace_id(L, -1, decoded + 1);
    return 3;
}

/* GHL's message may be a string or an array of strings (422). */
static void push_message(lua_State *L, int decoded) {
    static const char *const fields[] = {"message", "error", "msg", NULL};
    int i;
    for (i = 0; fields[i]; i++) {
        lua_getfield(L, decoded, fields[i]);
        if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0)
            return;
        if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
            int arr = lua_gettop(L), n = (int)lua_rawlen(L, arr), j, parts = 0;
            for (j = 1; j <= n; j++) {
                lua_rawgeti(L, arr, j);
                if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
                    lua_pop(L, 1);
                    continue;
                }
                if (parts++) {
                    lua_pushliteral(L, "; ");
                    lua_insert(L, -2);
                    lua_concat(L, 3);
                }
            }
            if (parts) {
                lua_remove(L, arr);
                return;
            }
        }
        lua_settop(L, decoded);
    }
    lua_pushnil(L);
}

static const char *kind_of(int status) {
    if (status == 401 || status == 403)
        return "auth";
    if (status == 429)
        return "rate_limited";
    return "http";
}

static int http_failure(lua_State *L, ghl_client *c, int status, const char *body, size_t len) {
    int raw, decoded, msg;
    /* a server that echoes the token back must not put it in our error */
    if (c->token && ghl_redact(&c->scratch, body, len, c->token) > 0)
        lua_pushlstring(L, c->scratch.data, c->scratch.len);
    else
        lua_pushvalue(L, A_BODY);
    raw = lua_gettop(L);
    body = lua_tolstring(L, raw, &len);
    if (!body) {
        body = "";
        len = 0;
    }
    if (is_blank(body, len) || json_decode(L, body, len) != 0 || lua_type(L, -1) != LUA_TTABLE) {
        lua_settop(L, raw);
        lua_pushnil(L);
    }
    decoded = lua_gettop(L);
    if (lua_type(L, decoded) == LUA_TTABLE)
        push_message(L, decoded);
    else
        lua_pushnil(L);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (is_blank(body, len)) {
            lua_pushfstring(L, "HTTP %d with an empty body", status);
        } else {
            lua_pushfstring(L, "HTTP %d; body starts with ", status);
            ghl_push_excerpt(L, body, len, EXCERPT_BYTES);
            lua_concat(L, 2);
        }
    }
    msg = lua_gettop(L);
    ghl_error_push(L, kind_of(status), status, lua_tostring(L, msg), lua_rawlen(L, msg));
    if (lua_type(L, decoded) == LUA_TTABLE)
        ghl_error_setfield(L, -1, "body", decoded);
    else if (len > 0)
        ghl_error_setfield(L, -1, "body", raw);
    set_request_fields(L, -1);
    set_trace_id(L, -1, decoded);
    return fail(L);
}

int ghl_client_interpret(lua_State *L) {
    ghl_client *c = ghl_check_client(L, A_CLIENT);
    const char *body;
    size_t len = 0;
    int status;
    luaL_checktype(L, A_REQ, LUA_TTABLE);
    lua_settop(L, A_BODY);
    if (lua_isnil(L, A_STATUS))
        return transport_failure(L);
    status = (int)luaL_checknumber(L, A_STATUS);
    if (!lua_isnil(L, A_HEADERS))
        luaL_checktype(L, A_HEADERS, LUA_TTABLE);
    body = lua_type(L, A_BODY) == LUA_TSTRING ? lua_tolstring(L, A_BODY, &len) : "";
    if (status >= 200 && status < 300)
        return success(L, status, body, len);
    return http_failure(L, c, status, body, len);
}
