/*
 * Parsing of HTTP response heads, shared by the transports: pure (no I/O),
 * bounded, and fuzzed (fuzz/fuzz_headers.c).
 */
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define MAX_NAME 255

/* The one walker over a raw head: every reader of headers (the table of
 * resp.headers, one header by name, the pacer's X-RateLimit-* scan) goes
 * through ghl_head_next, so they agree on what a header line is. */
void ghl_head_begin(ghl_head_iter *it, const char *data, size_t len) {
    it->p = data;
    it->end = data ? data + len : data;
    if (data && len >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* skip the status line */
        const char *nl = memchr(data, '\n', len);
        it->p = nl ? nl + 1 : it->end;
    }
}

/* The next "Name: value" line: name up to the colon (as sent), value without
 * the blanks around it. 0 at the blank line that ends the head, or at the
 * end. Lines without a colon, or with an empty name, are skipped. */
int ghl_head_next(ghl_head_iter *it, const char **name, size_t *nlen, const char **value, size_t *vlen) {
    while (it->p && it->p < it->end) {
        const char *p = it->p, *eol = memchr(p, '\n', (size_t)(it->end - p)), *colon, *v, *vend;
        if (!eol)
            eol = it->end;
        if (eol == p || (eol == p + 1 && *p == '\r')) {
            it->p = it->end; /* the blank line ends the head */
            return 0;
        }
        it->p = eol + 1;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            continue;
        v = colon + 1;
        vend = eol;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        *name = p;
        *nlen = (size_t)(colon - p);
        *value = v;
        *vlen = (size_t)(vend - v);
        return 1;
    }
    return 0;
}

static char lower(char c) { return (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c); }

/* Whether the header name n (as sent) is `want` (lower case), ignoring case. */
int ghl_header_is(const char *n, size_t nlen, const char *want, size_t wlen) {
    size_t i;
    if (nlen != wlen)
        return 0;
    for (i = 0; i < nlen; i++)
        if (lower(n[i]) != want[i])
            return 0;
    return 1;
}

/* Pushes { ["lower-case-name"] = "value", ... } for a head that may start
 * with a status line. Repeats are joined with ", "; names longer than 255
 * bytes are skipped. */
void ghl_push_header_block(lua_State *L, const char *data, size_t len) {
    ghl_head_iter it;
    const char *n, *v;
    size_t nlen, vlen, i;
    char name[MAX_NAME];
    int t;
    lua_newtable(L);
    t = lua_gettop(L);
    ghl_head_begin(&it, data, len);
    while (ghl_head_next(&it, &n, &nlen, &v, &vlen)) {
        if (nlen > MAX_NAME)
            continue;
        for (i = 0; i < nlen; i++)
            name[i] = lower(n[i]);
        lua_pushlstring(L, name, nlen);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, v, vlen);
        } else {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, v, vlen);
            lua_concat(L, 3);
        }
        lua_rawset(L, t);
    }
}

/* The value of header `name` (lower case) in a raw head, or NULL (the first
 * one, when it is repeated). */
const char *ghl_header_find(const char *data, size_t len, const char *name, size_t *vlen) {
    ghl_head_iter it;
    const char *n, *v;
    size_t nlen, want = strlen(name);
    ghl_head_begin(&it, data, len);
    while (ghl_head_next(&it, &n, &nlen, &v, vlen))
        if (ghl_header_is(n, nlen, name, want))
            return v;
    return NULL;
}

/* Pushes header `name` (lower case) of the raw head at idx, or nil. */
void ghl_push_header(lua_State *L, int head, const char *name) {
    size_t len, vlen;
    const char *block = lua_type(L, head) == LUA_TSTRING ? lua_tolstring(L, head, &len) : NULL;
    const char *v = block ? ghl_header_find(block, len, name, &vlen) : NULL;
    if (v)
        lua_pushlstring(L, v, vlen);
    else
        lua_pushnil(L);
}

/* A non-negative number in header `name` of the raw head at idx, or -1. */
double ghl_header_number(lua_State *L, int head, const char *name) {
    size_t len, vlen;
    const char *block = lua_type(L, head) == LUA_TSTRING ? lua_tolstring(L, head, &len) : NULL;
    const char *v = block ? ghl_header_find(block, len, name, &vlen) : NULL;
    char buf[32], *stop;
    double x;
    if (!v || vlen == 0 || vlen >= sizeof buf)
        return -1;
    memcpy(buf, v, vlen);
    buf[vlen] = '\0';
    x = strtod(buf, &stop);
    return stop != buf && x == x && x >= 0 ? x : -1;
}

/* core.parse_status_line("HTTP/1.1 200 OK") -> status, "HTTP/1.1" | nil, err */
int ghl_parse_status_line_l(lua_State *L) {
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    int status = 0;
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        goto bad;
    for (i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        status = status * 10 + (s[i] - '0');
    }
    if (status < 100 || (len > 12 && s[12] != ' ' && s[12] != '\r'))
        goto bad;
    lua_pushinteger(L, status);
    lua_pushlstring(L, s, 8);
    return 2;
bad:
    lua_pushnil(L);
    lua_pushliteral(L, "malformed status line");
    return 2;
}

/* core.parse_chunk_size("1a;ext=1") -> 26 | nil, err. At most 2^40 bytes:
 * a larger size is a broken or hostile server. */
int ghl_parse_chunk_size_l(lua_State *L) {
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    double size = 0;
    int digits = 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        size = size * 16 + d;
        if (++digits > 10)
            goto bad;
    }
    /* after the digits: optional whitespace, then ";ext" or the end */
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (digits == 0 || (i < len && s[i] != ';' && s[i] != '\r'))
        goto bad;
    lua_pushnumber(L, size);
    return 1;
bad:
    lua_pushnil(L);
    lua_pushliteral(L, "malformed chunk size");
    return 2;
}

/* core.parse_url("https://host:8443/base?q=1") -> { scheme, host, port, path }
 * | nil, err. Only what a request needs: http(s), a host (or [v6]), a port,
 * the request target (path and query); no userinfo, no fragment. */
int ghl_parse_url_l(lua_State *L) {
    size_t len;
    const char *u = luaL_checklstring(L, 1, &len), *p, *host, *host_end, *path;
    int https;
    long port = 0;
    if (len > 7 && memcmp(u, "http://", 7) == 0) {
        https = 0;
        p = u + 7;
    } else if (len > 8 && memcmp(u, "https://", 8) == 0) {
        https = 1;
        p = u + 8;
    } else {
        goto bad;
    }
    host = p;
    if (*p == '[') { /* IPv6 literal */
        const char *close = memchr(p, ']', len - (size_t)(p - u));
        if (!close || close == p + 1) /* "[]" is no host (fuzz_http) */
            goto bad;
        host_end = close + 1;
        p = host_end;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#' && *p != '@')
            p++;
        host_end = p;
    }
    if (host_end == host || *p == '@' || *p == '#')
        goto bad;
    {
        /* the host goes into the Host header: letters, digits, - . _ (and
         * hex, ':' '.' '%' inside [v6]) only (found by fuzz/fuzz_http.c) */
        const char *h;
        for (h = host; h < host_end; h++) {
            unsigned char c = (unsigned char)*h;
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || (*host == '[' && (c == ':' || c == '%' || c == '[' || c == ']'));
            if (!ok)
                goto bad;
        }
    }
    if (*p == ':') {
        p++;
        if (*p < '0' || *p > '9')
            goto bad;
        while (*p >= '0' && *p <= '9') {
            port = port * 10 + (*p - '0');
            if (port > 65535)
                goto bad;
            p++;
        }
        if (port == 0 || (*p && *p != '/' && *p != '?'))
            goto bad;
    } else if (*p && *p != '/' && *p != '?') {
        goto bad;
    }
    {
        /* no control characters, spaces or '#' in the request line */
        const unsigned char *q;
        for (q = (const unsigned char *)p; *q; q++)
            if (*q <= ' ' || *q == 0x7f || *q == '#')
                goto bad;
    }
    if (*p == '?')
        lua_pushfstring(L, "/%s", p); /* "host?q" -> target "/?q" */
    else
        lua_pushstring(L, *p ? p : "/");
    path = lua_tostring(L, -1);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, https ? "https" : "http");
    lua_setfield(L, -2, "scheme");
    if (*host == '[')
        lua_pushlstring(L, host + 1, (size_t)(host_end - host) - 2);
    else
        lua_pushlstring(L, host, (size_t)(host_end - host));
    lua_setfield(L, -2, "host");
    lua_pushinteger(L, port ? port : (https ? 443 : 80));
    lua_setfield(L, -2, "port");
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_remove(L, -2); /* the target string */
    return 1;
bad:
    lua_pushnil(L);
    lua_pushfstring(L, "not an http(s) URL with a host: %s", u);
    return 2;
}

/* core.parse_headers(block) -> table */
int ghl_parse_headers_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ghl_push_header_block(L, s, len);
    return 1;
}

/* core.header(head, name) -> value | nil: one header of a raw head, by its
 * lower-case name (what the nginx transport reads to frame the body). */
int ghl_header_l(lua_State *L) {
    luaL_checktype(L, 1, LUA_TSTRING);
    ghl_push_header(L, 1, luaL_checkstring(L, 2));
    return 1;
}
