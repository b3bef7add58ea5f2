/*
 * Judging one attempt: status -> result, or a structured error and what to
 * do next. Pure: the transport hands over what happened; nothing here does
 * I/O.
 *
 * client:interpret(call, status, head, body)        after an HTTP exchange
 * client:interpret(call, nil, kind, message, facts) after a transport failure
 *   call  = { req = <from prepare>, attempt = 1.., started = ms,
 *             can_refresh = bool, reconnected = bool } (the driver's call)
 *   head  = the raw response head (the one shape every transport gives)
 *   facts = { sent =, reused =, answered = } (or just `sent`; nil counts as
 *           sent, so a POST is never repeated on a guess)
 *   -> "done", decoded_body, resp
 *   -> "retry", delay_ms, err  (the policy of policy.c; call.attempt is
 *                               advanced, call.reconnected set for the free
 *                               reconnect)
 *   -> "refresh", err          (a 401 that says the token expired, when
 *                               call.can_refresh; it is cleared)
 *   -> "fail", err
 */
#include <string.h>

#include "ghl.h"
#include "class.h"
#include "http_parse.h"

#define GHL_RESP_MT "ghl.Response"

enum { A_CLIENT = 1, A_CALL, A_STATUS, A_HEADERS, A_BODY, A_FACTS, A_REQ };

/* The call's numbers and flags. A success needs only the attempt; the rest
 * is read when an attempt failed (rest_read). */
typedef struct {
    double attempt, started;
    int can_refresh, reconnected, rest_read;
} call_state;

static double num_field(lua_State *L, int t, const char *k, double dflt) {
    double v;
    lua_getfield(L, t, k);
    v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static int bool_field(lua_State *L, int t, const char *k, int dflt) {
    int v;
    lua_getfield(L, t, k);
    v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static void read_rest(lua_State *L, call_state *cs) {
    if (cs->rest_read)
        return;
    cs->started = num_field(L, A_CALL, "started", 0);
    cs->can_refresh = bool_field(L, A_CALL, "can_refresh", 0);
    cs->reconnected = bool_field(L, A_CALL, "reconnected", 0);
    cs->rest_read = 1;
}

static void set_bool(lua_State *L, int t, const char *k, int v) {
    lua_pushboolean(L, v);
    lua_setfield(L, t, k);
}

#define EXCERPT_BYTES 80

static int is_blank(const char *s, size_t len) {
    size_t i;
    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Pushes the decoded value (0) or the decoder's message (-1). */
static int json_decode(lua_State *L, ghl_client *c, const char *s, size_t len) {
    return ghl_json_decode(L, s, len, &c->json);
}

/* err.method / err.path from the request table. */
static void set_request_fields(lua_State *L, int err) {
    err = ghl_absindex(L, err);
    lua_getfield(L, A_REQ, "method");
    lua_setfield(L, err, "method");
    lua_getfield(L, A_REQ, "path");
    lua_setfield(L, err, "path");
}

/* The error on top of the stack ends this attempt: retry or fail. */
static int conclude(lua_State *L, ghl_client *c, call_state *cs, int status, const char *kind) {
    int err = lua_gettop(L), free_retry;
    ghl_attempt a;
    double delay;
    memset(&a, 0, sizeof a);
    lua_getfield(L, A_REQ, "method");
    a.method = lua_tostring(L, -1) ? lua_tostring(L, -1) : "GET";
    a.kind = kind;
    a.status = status;
    a.sent = 1;
    if (status == 0) { /* the transport's facts; one that cannot tell counts as "sent" */
        if (lua_type(L, A_FACTS) == LUA_TTABLE) {
            a.sent = bool_field(L, A_FACTS, "sent", 1);
            a.reused = bool_field(L, A_FACTS, "reused", 0);
            a.answered = bool_field(L, A_FACTS, "answered", 0);
        } else if (!lua_isnil(L, A_FACTS)) {
            a.sent = lua_toboolean(L, A_FACTS);
        }
        set_bool(L, err, "sent", a.sent);
    }
    read_rest(L, cs);
    a.reconnected = cs->reconnected;
    a.head = status ? A_HEADERS : 0;
    a.attempt = cs->attempt;
    a.elapsed_ms = cs->started > 0 ? ghl_now_ms() - cs->started : 0;
    lua_pushnumber(L, a.attempt);
    lua_setfield(L, err, "attempts");
    if (status == 429) {
        double hint = ghl_server_hint_ms(L, A_HEADERS, 429);
        if (hint >= 0) {
            lua_pushnumber(L, hint);
            lua_setfield(L, err, "retry_after_ms");
            lua_pushnumber(L, hint / 1000.0);
            lua_setfield(L, err, "retry_after");
        }
    }
    delay = ghl_retry_delay(L, c, &a, &free_retry);
    if (delay >= 0) {
        lua_pushnumber(L, a.attempt + 1);
        lua_setfield(L, A_CALL, "attempt");
        if (free_retry)
            set_bool(L, A_CALL, "reconnected", 1);
        lua_settop(L, err);
        lua_pushliteral(L, "retry");
        lua_pushnumber(L, delay);
        lua_pushvalue(L, err);
        return 3;
    }
    if (status == 0 && a.sent && !ghl_idempotent(a.method)) {
        /* the one case a caller must handle: say so in the message */
        lua_getfield(L, err, "message");
        lua_pushfstring(L, "%s; the %s may have reached GHL and been processed, so it was not sent again",
                        lua_tostring(L, -1) ? lua_tostring(L, -1) : "", a.method);
        lua_setfield(L, err, "message");
    }
    lua_settop(L, err);
    lua_pushliteral(L, "fail");
    lua_insert(L, -2);
    return 2;
}

static int transport_failure(lua_State *L, ghl_client *c, call_state *cs) {
    size_t len;
    const char *kind = lua_type(L, A_HEADERS) == LUA_TSTRING ? lua_tostring(L, A_HEADERS) : "network";
    const char *msg = lua_type(L, A_BODY) == LUA_TSTRING ? lua_tolstring(L, A_BODY, &len) : NULL;
    if (!msg) {
        msg = "the transport failed without a message";
        len = strlen(msg);
    }
    ghl_error_push(L, kind, 0, msg, len);
    set_request_fields(L, -1);
    return conclude(L, c, cs, 0, kind);
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

/* Pushes the body with the client's token redacted (a server may echo the
 * Authorization header back); the text of every error comes from it. */
static int push_redacted(lua_State *L, ghl_client *c) {
    size_t len;
    const char *body = lua_tolstring(L, A_BODY, &len);
    if (body && c->token && ghl_redact(&c->scratch, body, len, c->token) > 0)
        lua_pushlstring(L, c->scratch.data, c->scratch.len);
    else if (body)
        lua_pushvalue(L, A_BODY);
    else
        lua_pushliteral(L, "");
    return lua_gettop(L);
}

static int success(lua_State *L, ghl_client *c, call_state *cs, int status, const char *body, size_t len) {
    int decoded;
    if (is_blank(body, len)) {
        lua_newtable(L); /* 204 and friends: an empty object, so assert() works */
    } else if (json_decode(L, c, body, len) != 0) {
        int raw = push_redacted(L, c);
        body = lua_tolstring(L, raw, &len);
        lua_pushfstring(L, "response body is not valid JSON (%s); it starts with ", lua_tostring(L, raw - 1));
        ghl_push_excerpt(L, body, len, EXCERPT_BYTES);
        lua_concat(L, 2);
        ghl_error_push(L, "decode", status, lua_tostring(L, -1), lua_rawlen(L, -1));
        ghl_error_setfield(L, -1, "body", raw);
        set_request_fields(L, -1);
        return conclude(L, c, cs, status, "decode");
    }
    decoded = lua_gettop(L);
    lua_pushliteral(L, "done");
    lua_insert(L, decoded);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    /* most callers never read the headers, so they are parsed on first use */
    lua_pushvalue(L, A_HEADERS);
    lua_setfield(L, -2, "_head");
    luaL_setmetatable(L, GHL_RESP_MT);
    lua_pushnumber(L, cs->attempt);
    lua_setfield(L, -2, "attempts");
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

/* Whether a 401's message says the token is expired or invalid (renewing
 * helps), as opposed to a token that lacks a scope or the location (it does
 * not, and burning a refresh token on it would be a waste). */
int ghl_auth_refreshable(const char *message) {
    static const char *const never[] = {"scope", "location", "not authorized", "not accessible", "iam",
                                        "permission", "agency", "forbidden", NULL};
    static const char *const renew[] = {"jwt", "expired", "invalid token", "token is invalid",
                                        "access token is invalid", "unauthorized", NULL};
    char low[256];
    size_t i;
    int k;
    if (!message)
        return 1; /* a bare 401 */
    for (i = 0; i < sizeof low - 1 && message[i]; i++)
        low[i] = (char)((message[i] >= 'A' && message[i] <= 'Z') ? message[i] - 'A' + 'a' : message[i]);
    low[i] = '\0';
    for (k = 0; never[k]; k++)
        if (strstr(low, never[k]))
            return 0;
    if (i == 0)
        return 1;
    for (k = 0; renew[k]; k++)
        if (strstr(low, renew[k]))
            return 1;
    return 0;
}

/* resp.headers of a response whose head came raw: parsed and kept on first read */
static int resp_index(lua_State *L) {
    size_t len;
    const char *block;
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "headers") != 0)
        return 0;
    lua_getfield(L, 1, "_head");
    block = lua_tolstring(L, -1, &len);
    ghl_push_header_block(L, block, block ? len : 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "headers");
    return 1;
}

void ghl_response_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__index", resp_index}, {NULL, NULL}};
    ghl_new_class(L, GHL_RESP_MT, meta, NULL, 0);
}

/* core.auth_refreshable(message) -> boolean (the rule interpret() applies) */
int ghl_auth_refreshable_l(lua_State *L) {
    lua_pushboolean(L, ghl_auth_refreshable(luaL_optstring(L, 1, NULL)));
    return 1;
}

static const char *kind_of(int status) {
    if (status == 401 || status == 403)
        return "auth";
    if (status == 429)
        return "rate_limited";
    return "http";
}

static int http_failure(lua_State *L, ghl_client *c, call_state *cs, int status, const char *body, size_t len) {
    int raw, decoded, msg;
    raw = push_redacted(L, c);
    body = lua_tolstring(L, raw, &len);
    if (is_blank(body, len) || json_decode(L, c, body, len) != 0 || lua_type(L, -1) != LUA_TTABLE) {
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
    read_rest(L, cs);
    if (status == 401 && cs->can_refresh && ghl_auth_refreshable(lua_tostring(L, msg))) {
        lua_pushnumber(L, cs->attempt);
        lua_setfield(L, -2, "attempts");
        lua_pushnumber(L, cs->attempt + 1);
        lua_setfield(L, A_CALL, "attempt");
        set_bool(L, A_CALL, "can_refresh", 0);
        lua_pushliteral(L, "refresh");
        lua_insert(L, -2);
        return 2;
    }
    return conclude(L, c, cs, status, kind_of(status));
}

int ghl_client_interpret(lua_State *L) {
    ghl_client *c = ghl_check_client(L, A_CLIENT);
    const char *body;
    size_t len = 0;
    int status;
    call_state cs;
    luaL_checktype(L, A_CALL, LUA_TTABLE);
    lua_settop(L, A_FACTS);
    lua_getfield(L, A_CALL, "req"); /* A_REQ */
    if (lua_type(L, A_REQ) != LUA_TTABLE)
        return luaL_error(L, "ghl: interpret needs call.req, the request from prepare");
    cs.attempt = num_field(L, A_CALL, "attempt", 1);
    cs.rest_read = 0;
    if (lua_isnil(L, A_STATUS))
        return transport_failure(L, c, &cs);
    {
        lua_Number st = luaL_checknumber(L, A_STATUS);
        if (!(st >= 100 && st < 1000))
            return luaL_error(L, "ghl: the transport returned an invalid HTTP status (%f)", st);
        status = (int)st;
    }
    if (!lua_isnil(L, A_HEADERS))
        luaL_checktype(L, A_HEADERS, LUA_TSTRING);
    body = lua_type(L, A_BODY) == LUA_TSTRING ? lua_tolstring(L, A_BODY, &len) : "";
    if (status >= 200 && status < 300)
        return success(L, c, &cs, status, body, len);
    return http_failure(L, c, &cs, status, body, len);
}
