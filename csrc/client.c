/*
 * ghl.Client: the core's per-client state (base URL, token, default
 * Version). The userdata is zeroed and given its metatable before anything
 * is allocated, so __gc always sees a valid object; close, __gc and
 * __close are one idempotent function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"
#include "class.h"

ghl_client *ghl_check_client(lua_State *L, int idx) {
    return (ghl_client *)luaL_checkudata(L, idx, GHL_CLIENT_MT);
}

/* Overwrite a secret before freeing it; volatile so it is not optimised out. */
static void wipe_free(char *s) {
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

static char *dup_field(lua_State *L, int opts, const char *name, const char *dflt, int secret) {
    size_t len;
    const char *s;
    char *copy;
    lua_getfield(L, opts, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (!dflt)
            return NULL;
        s = dflt;
        len = strlen(dflt);
    } else {
        if (lua_type(L, -1) != LUA_TSTRING)
            ghl_raise_invalid(L, "option '%s' must be a string, got %s", name, luaL_typename(L, -1));
        s = lua_tolstring(L, -1, &len);
        if (len == 0)
            ghl_raise_invalid(L, "option '%s' must not be empty", name);
        if (ghl_has_ctl(s, len) || strlen(s) != len)
            ghl_raise_invalid(L, "option '%s' contains a control character", name);
        if (secret) {
            size_t i;
            for (i = 0; i < len; i++)
                if (s[i] == ' ' || s[i] == '\t')
                    ghl_raise_invalid(L, "option '%s' contains whitespace", name);
        }
        lua_pop(L, 1); /* still anchored by the options table */
    }
    copy = (char *)malloc(len + 1);
    if (!copy)
        luaL_error(L, "ghl: out of memory");
    memcpy(copy, s, len + 1);
    return copy;
}

static void check_base_url(lua_State *L, ghl_client *c) {
    char *u = c->base_url, *host;
    size_t len = strlen(u), i;
    if (strncmp(u, "https://", 8) == 0)
        host = u + 8;
    else if (strncmp(u, "http://", 7) == 0)
        host = u + 7;
    else
        ghl_raise_invalid(L, "option 'base_url' must start with https:// or http:// (got \"%s\")", u);
    if (*host == '\0' || *host == '/')
        ghl_raise_invalid(L, "option 'base_url' has no host (got \"%s\")", u);
    for (i = 0; i < len; i++)
        if (u[i] == '?' || u[i] == '#' || u[i] == ' ' || u[i] == '@')
            ghl_raise_invalid(L, "option 'base_url' must not contain '?', '#', '@' or spaces");
    while (len > 0 && u[len - 1] == '/') /* paths bring their own '/' */
        u[--len] = '\0';
}

static double opt_number(lua_State *L, int opts, const char *name, double dflt, double lo, double hi) {
    double v = dflt;
    lua_getfield(L, opts, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || (v = lua_tonumber(L, -1)) < lo || v > hi || v != v)
            ghl_raise_invalid(L, "option '%s' must be a number from %d to %d", name, (int)lo, (int)hi);
    }
    lua_pop(L, 1);
    return v;
}

/* core.client{ token, base_url, version, location_id, max_retries,
 *              max_retry_time_ms, retry_base_ms, retry_max_delay_ms } */
static int client_new(lua_State *L) {
    ghl_client *c;
    size_t i;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    c = (ghl_client *)ghl_new_object(L, sizeof *c, 1, GHL_CLIENT_MT);
    lua_newtable(L); /* the header tables prepare() reuses */
    lua_setiuservalue(L, -2, 1);

    c->token = dup_field(L, 1, "token", NULL, 1);
    c->base_url = dup_field(L, 1, "base_url", GHL_DEFAULT_BASE_URL, 0);
    check_base_url(L, c);
    c->version = dup_field(L, 1, "version", GHL_DEFAULT_API_VERSION, 0);
    for (i = 0; c->version[i]; i++)
        if (!ghl_is_token_char((unsigned char)c->version[i]))
            ghl_raise_invalid(L, "option 'version' must be an API version such as \"2021-07-28\"");
    c->location_id = dup_field(L, 1, "location_id", NULL, 0);
    c->max_retries = opt_number(L, 1, "max_retries", 3, 0, 100);
    c->max_retry_time_ms = opt_number(L, 1, "max_retry_time_ms", 60000, 0, 86400000);
    c->retry_base_ms = opt_number(L, 1, "retry_base_ms", 500, 0, 3600000);
    c->retry_max_delay_ms = opt_number(L, 1, "retry_max_delay_ms", 10000, 0, 86400000);
    return 1;
}

static int client_close(lua_State *L) {
    ghl_client *c = ghl_check_client(L, 1);
    wipe_free(c->token);
    free(c->base_url);
    free(c->version);
    free(c->location_id);
    if (c->scratch.data) /* it may have held a redacted error body */
        memset(c->scratch.data, 0, c->scratch.cap);
    ghl_buf_free(&c->scratch);
    ghl_buf_free(&c->json);
    if (c->body.data) /* it held a request body */
        memset(c->body.data, 0, c->body.cap);
    ghl_buf_free(&c->body);
    ghl_buf_free(&c->body_keys);
    c->token = c->base_url = c->version = c->location_id = NULL;
    c->closed = 1;
    lua_newtable(L); /* drop the cached headers (they hold the token) */
    lua_setiuservalue(L, 1, 1);
    return 0;
}

/* client:set_token(token | nil): the access token of the next requests
 * (OAuth clients switch between location and agency tokens and renew them). */
static int client_set_token(lua_State *L) {
    ghl_client *c = ghl_check_client(L, 1);
    size_t len, i;
    const char *tok = lua_isnil(L, 2) ? NULL : luaL_checklstring(L, 2, &len);
    char *copy = NULL;
    if (c->closed)
        return ghl_raise_invalid(L, "client is closed");
    if (tok) {
        if (len == 0 || ghl_has_ctl(tok, len) || strlen(tok) != len)
            return ghl_raise_invalid(L, "a token must be non-empty without control characters");
        for (i = 0; i < len; i++)
            if (tok[i] == ' ' || tok[i] == '\t')
                return ghl_raise_invalid(L, "a token must not contain whitespace");
        if (c->token && strcmp(c->token, tok) == 0)
            return 0; /* the same token: nothing to do (the common case) */
        copy = (char *)malloc(len + 1);
        if (!copy)
            return luaL_error(L, "ghl: out of memory");
        memcpy(copy, tok, len + 1);
    }
    wipe_free(c->token);
    c->token = copy;
    lua_newtable(L); /* the cached header tables carry the old token */
    lua_setiuservalue(L, 1, 1);
    return 0;
}

static int client_closed(lua_State *L) {
    lua_pushboolean(L, ghl_check_client(L, 1)->closed);
    return 1;
}

/* Non-secret settings, for diagnostics and the Lua layer. */
static int client_config(lua_State *L) {
    ghl_client *c = ghl_check_client(L, 1);
    if (c->closed)
        return ghl_raise_invalid(L, "client is closed");
    lua_createtable(L, 0, 5);
    lua_pushstring(L, c->base_url);
    lua_setfield(L, -2, "base_url");
    lua_pushstring(L, c->version);
    lua_setfield(L, -2, "version");
    if (c->location_id) {
        lua_pushstring(L, c->location_id);
        lua_setfield(L, -2, "location_id");
    }
    lua_pushnumber(L, c->max_retries);
    lua_setfield(L, -2, "max_retries");
    lua_pushnumber(L, c->max_retry_time_ms);
    lua_setfield(L, -2, "max_retry_time_ms");
    lua_pushnumber(L, c->retry_base_ms);
    lua_setfield(L, -2, "retry_base_ms");
    lua_pushnumber(L, c->retry_max_delay_ms);
    lua_setfield(L, -2, "retry_max_delay_ms");
    lua_pushboolean(L, c->token != NULL);
    lua_setfield(L, -2, "has_token");
    return 1;
}

/* A short non-secret fingerprint of the token (FNV-1a 64), to key shared
 * state such as rate limits by token without keeping the token itself. */
static int client_fingerprint(lua_State *L) {
    ghl_client *c = ghl_check_client(L, 1);
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)(c->token ? c->token : "");
    char out[17];
    for (; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    snprintf(out, sizeof out, "%016llx", (unsigned long long)h);
    lua_pushstring(L, out);
    return 1;
}

static int client_tostring(lua_State *L) {
    ghl_client *c = ghl_check_client(L, 1);
    lua_pushfstring(L, "ghl.Client (%p%s)", (void *)c, c->closed ? ", closed" : "");
    return 1;
}

/* The Lua API registered here is documented (LDoc) in core.c. */
void ghl_client_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"prepare", ghl_client_prepare},
                                       {"interpret", ghl_client_interpret},
                                       {"config", client_config},
                                       {"fingerprint", client_fingerprint},
                                       {"set_token", client_set_token},
                                       {"closed", client_closed},
                                       {"close", client_close},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", client_close},
                                    {"__close", client_close},
                                    {"__tostring", client_tostring},
                                    {NULL, NULL}};
    ghl_new_class(L, GHL_CLIENT_MT, meta, methods, 0);
    lua_pushcfunction(L, client_new);
}
