#include <string.h>

#include "ghl.h"

/* RFC 9110 tchar: what a header name may contain. */
int ghl_is_token_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control characters (tab allowed) would let a value end a header line. */
int ghl_has_ctl(const char *s, size_t len) {
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Pushes "\"first bytes...\"" of a body, printable, for error messages. */
void ghl_push_excerpt(lua_State *L, const char *s, size_t len, size_t max) {
    char out[256];
    size_t n = len < max ? len : max, i, o = 0;
    if (max > sizeof out - 8)
        n = len < sizeof out - 8 ? len : sizeof out - 8;
    /* do not cut a UTF-8 sequence in half */
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    out[o++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    if (n < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    lua_pushlstring(L, out, o);
}
