/*
 * Parsing of HTTP response heads, shared by the transports: pure (no I/O),
 * bounded, and fuzzed (fuzz/fuzz_headers.c).
 */
#include <string.h>

#include "http_parse.h"

#define MAX_NAME 255

/* Pushes { ["lower-case-name"] = "value", ... } for a header block that may
 * start with a status line ("HTTP/1.1 200 OK\r\n") and ends at its blank
 * line or at len. Repeats are joined with ", "; lines without a colon,
 * empty names and names longer than 255 bytes are skipped. */
void ghl_push_header_block(lua_State *L, const char *data, size_t len) {
    const char *p = data, *end = data + len;
    char name[MAX_NAME + 1];
    int t;
    lua_newtable(L);
    t = lua_gettop(L);
    if (!data || len == 0)
        return;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* skip the status line */
        p = memchr(data, '\n', len);
        if (!p)
            return;
        p++;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *vend;
        size_t nlen, i;
        if (!eol)
            eol = end;
        if (eol == p || (eol == p + 1 && *p == '\r'))
            break; /* the blank line ends the head */
        colon = memchr(p, ':', (size_t)(eol - p));
        nlen = colon ? (size_t)(colon - p) : 0;
        if (colon && nlen > 0 && nlen <= MAX_NAME) {
            for (i = 0; i < nlen; i++)
                name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] - 'A' + 'a' : p[i]);
            v = colon + 1;
            vend = eol;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            lua_pushlstring(L, name, nlen);
            lua_pushvalue(L, -1);
            lua_rawget(L, t);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(vend - v));
            } else {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(vend - v));
                lua_concat(L, 3);
            }
            lua_rawset(L, t);
        }
        p = eol + 1;
    }
}

/* core.parse_headers(block) -> table */
int ghl_parse_headers_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ghl_push_header_block(L, s, len);
    return 1;
}
