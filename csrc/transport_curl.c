/*
 * ghl.curl: the blocking transport, one libcurl easy handle per client so
 * the connection (and TLS session) stays alive across calls.
 *
 * libcurl callbacks touch no Lua API: they append to C buffers owned by the
 * userdata. Everything that can raise happens before or after
 * curl_easy_perform, never inside it, so no longjmp crosses a libcurl frame.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compat.h"
#include "http_parse.h"

#if defined(__GNUC__)
#define GHL_EXPORT __attribute__((visibility("default")))
#else
#define GHL_EXPORT
#endif

#define GHL_CURL_MT "ghl.Curl"
#define MAX_HEADER_BYTES (256 * 1024)
#define DEFAULT_MAX_BODY (64.0 * 1024 * 1024)

typedef struct {
    CURL *easy;
    struct curl_slist *headers; /* of the last request; freed on the next */
    ghl_buf body;
    ghl_buf head;
    ghl_buf line;
    size_t max_body;
    int too_large, oom;
    double requests, connects;
    char errbuf[CURL_ERROR_SIZE];
} ghl_curl;

GHL_EXPORT int luaopen_ghl_curl(lua_State *L);

static ghl_curl *check_curl(lua_State *L) { return (ghl_curl *)luaL_checkudata(L, 1, GHL_CURL_MT); }

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    ghl_curl *t = (ghl_curl *)ud;
    size_t len = size * n;
    if (len > t->max_body - t->body.len) {
        t->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR: stop reading, memory stays bounded */
    }
    if (ghl_buf_add(&t->body, p, len)) {
        t->oom = 1;
        return 0;
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    ghl_curl *t = (ghl_curl *)ud;
    size_t len = size * n;
    /* a 100 Continue or a proxy's CONNECT answer comes first: keep the last block */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        ghl_buf_reset(&t->head);
    if (t->head.len + len > MAX_HEADER_BYTES) {
        t->too_large = 1;
        return 0;
    }
    if (ghl_buf_add(&t->head, p, len)) {
        t->oom = 1;
        return 0;
    }
    return len;
}

static int opt_num(lua_State *L, int t, const char *k, double dflt, double lo, double hi) {
    double v;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return (int)dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER || (v = lua_tonumber(L, -1)) < lo || v > hi)
        return luaL_error(L, "ghl: option '%s' must be a number from %f to %f", k, lo, hi);
    lua_pop(L, 1);
    return (int)v;
}

static const char *opt_str(lua_State *L, int t, const char *k) {
    const char *s;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "ghl: option '%s' must be a string", k);
    s = lua_tostring(L, -1);
    lua_pop(L, 1); /* anchored by the options table until we return */
    return s;
}

/* curl.new{ timeout_ms, connect_timeout_ms, ca_file, proxy, ssl_verify, max_body_bytes } */
static int curl_new(lua_State *L) {
    ghl_curl *t;
    const char *ca, *proxy;
    int verify;
    double max_body;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    t = (ghl_curl *)lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, GHL_CURL_MT);

    lua_getfield(L, 1, "ssl_verify");
    verify = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "max_body_bytes");
    max_body = lua_isnil(L, -1) ? DEFAULT_MAX_BODY : lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (max_body < 1)
        return luaL_error(L, "ghl: option 'max_body_bytes' must be a positive number");
    t->max_body = max_body > (double)((size_t)-1 / 2) ? (size_t)-1 / 2 : (size_t)max_body;
    ca = opt_str(L, 1, "ca_file");
    proxy = opt_str(L, 1, "proxy");

    t->easy = curl_easy_init();
    if (!t->easy)
        return luaL_error(L, "ghl: curl_easy_init failed");
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)opt_num(L, 1, "timeout_ms", 30000, 1, 86400000));
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)opt_num(L, 1, "connect_timeout_ms", 10000, 1, 86400000));
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (ca)
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, ca);
    if (proxy)
        curl_easy_setopt(t->easy, CURLOPT_PROXY, proxy);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect never carries the token on */
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, (void *)t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, (void *)t);
    return 1;
}

/* Header lines "Name: value" for libcurl, plus "Expect:" so a POST body is
 * sent at once instead of after a 100-continue round trip. */
static struct curl_slist *build_headers(lua_State *L, ghl_curl *t, int headers) {
    struct curl_slist *list = NULL, *next;
    list = curl_slist_append(list, "Expect:");
    if (!list)
        return NULL;
    if (lua_type(L, headers) != LUA_TTABLE)
        return list;
    lua_pushnil(L);
    while (lua_next(L, headers)) {
        size_t klen, vlen;
        const char *k = lua_tolstring(L, -2, &klen), *v = lua_tolstring(L, -1, &vlen);
        if (k && v && lua_type(L, -2) == LUA_TSTRING) {
            ghl_buf_reset(&t->line);
            if (ghl_buf_add(&t->line, k, klen) || ghl_buf_add(&t->line, ": ", 2) ||
                ghl_buf_add(&t->line, v, vlen) || !(next = curl_slist_append(list, t->line.data))) {
                curl_slist_free_all(list);
                lua_pop(L, 2);
                return NULL;
            }
            list = next;
        }
        lua_pop(L, 1);
    }
    return list;
}

/* t:perform(req) -> status, headers, body | nil, kind, message */
static int curl_perform(lua_State *L) {
    ghl_curl *t = check_curl(L);
    const char *method, *url, *body;
    size_t body_len = 0;
    long status = 0, connects = 0, timeout = -1;
    CURLcode rc;
    CURL *e;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (!t->easy) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        lua_pushliteral(L, "the transport is closed");
        return 3;
    }
    e = t->easy;
    lua_getfield(L, 2, "method");   /* 3 */
    lua_getfield(L, 2, "url");      /* 4 */
    lua_getfield(L, 2, "headers");  /* 5 */
    lua_getfield(L, 2, "body");     /* 6 */
    lua_getfield(L, 2, "timeout_ms"); /* 7 */
    method = lua_tostring(L, 3);
    url = lua_tostring(L, 4);
    if (!method || !url)
        return luaL_error(L, "ghl: request needs a method and a url");
    body = lua_tolstring(L, 6, &body_len);
    if (lua_type(L, 7) == LUA_TNUMBER)
        timeout = (long)lua_tonumber(L, 7);

    curl_slist_free_all(t->headers);
    t->headers = build_headers(L, t, 5);
    if (!t->headers)
        return luaL_error(L, "ghl: out of memory");

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        /* the body string is anchored on our stack for the whole perform */
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0) ? NULL : method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (timeout > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    ghl_buf_reset(&t->body);
    ghl_buf_reset(&t->head);
    t->too_large = t->oom = 0;
    t->errbuf[0] = '\0';

    rc = curl_easy_perform(e); /* no Lua API until it returns */

    t->requests++;
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        t->connects += (double)connects;
    if (rc != CURLE_OK) {
        lua_pushnil(L);
        if (t->too_large) {
            lua_pushliteral(L, "too_large");
            char msg[96];
            snprintf(msg, sizeof msg, "response exceeds max_body_bytes (%.0f bytes)", (double)t->max_body);
            lua_pushstring(L, msg);
        } else if (t->oom) {
            lua_pushliteral(L, "network");
            lua_pushliteral(L, "out of memory while reading the response");
        } else {
            lua_pushstring(L, rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network");
            lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
        }
        /* whether any byte of the request left (retry rules for POST need it) */
        {
            long sent = 0;
            curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent);
            lua_pushboolean(L, sent > 0);
        }
        return 4;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    lua_pushinteger(L, status);
    ghl_push_header_block(L, t->head.data, t->head.len);
    lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    return 3;
}

static int curl_stats(lua_State *L) {
    ghl_curl *t = check_curl(L);
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, t->requests);
    lua_setfield(L, -2, "requests");
    lua_pushnumber(L, t->connects);
    lua_setfield(L, -2, "connects");
    return 1;
}

static int curl_close(lua_State *L) {
    ghl_curl *t = check_curl(L);
    if (t->easy)
        curl_easy_cleanup(t->easy);
    t->easy = NULL;
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    ghl_buf_free(&t->body);
    ghl_buf_free(&t->head);
    ghl_buf_free(&t->line);
    return 0;
}

static int curl_tostring(lua_State *L) {
    ghl_curl *t = check_curl(L);
    lua_pushfstring(L, "ghl.Curl (%p%s)", (void *)t, t->easy ? "" : ", closed");
    return 1;
}

static int curl_version_l(lua_State *L) {
    lua_pushstring(L, curl_version());
    return 1;
}

GHL_EXPORT int luaopen_ghl_curl(lua_State *L) {
    static int initialised = 0; /* curl_global_init is not thread-safe: once */
    static const luaL_Reg methods[] = {
        {"perform", curl_perform}, {"stats", curl_stats}, {"close", curl_close}, {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", curl_close}, {"__close", curl_close}, {"__tostring", curl_tostring}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"new", curl_new}, {"version", curl_version_l}, {NULL, NULL}};
    if (!initialised) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "ghl: curl_global_init failed");
        initialised = 1;
    }
    luaL_newmetatable(L, GHL_CURL_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
