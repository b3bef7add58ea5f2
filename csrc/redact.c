/*
 * Redaction: a secret (token, refresh token, client secret, code) never
 * reaches an error, whatever the server did with it on the way back. A
 * server may echo it as sent, percent-encoded (a form body:
 * client_secret=cs%2B...), or JSON-escaped (pit\u002d..., \/), and mix the
 * three; every such spelling of the secret is replaced by "[REDACTED]".
 * One rule for C and Lua: ghl.oauth scrubs through core.redact.
 */
#include <string.h>

#include "ghl.h"

static const char MARK[] = "[REDACTED]";

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte of text at p, decoded from one of the spellings: as is, %XX,
 * \uXXXX (ASCII), \/ \" \\, or '+' for a space. Its length in *n, or -1. */
static int unit_at(const char *s, size_t len, size_t p, size_t *n) {
    char c = s[p];
    if (c == '%' && p + 2 < len && hexval(s[p + 1]) >= 0 && hexval(s[p + 2]) >= 0) {
        *n = 3;
        return hexval(s[p + 1]) * 16 + hexval(s[p + 2]);
    }
    if (c == '\\' && p + 1 < len) {
        char e = s[p + 1];
        if (e == 'u' && p + 5 < len) {
            int a = hexval(s[p + 2]), b = hexval(s[p + 3]), d = hexval(s[p + 4]), f = hexval(s[p + 5]);
            if (a == 0 && b == 0 && d >= 0 && f >= 0 && d < 8) { /* \u0000 - \u007f */
                *n = 6;
                return d * 16 + f;
            }
        }
        if (e == '/' || e == '"' || e == '\\') {
            *n = 2;
            return (unsigned char)e;
        }
    }
    return -1;
}

/* Where the secret, in any mix of spellings, ends when it starts at i; 0
 * when it does not start there. */
static size_t match_at(const char *s, size_t len, size_t i, const char *secret, size_t slen) {
    size_t j, p = i, n;
    for (j = 0; j < slen; j++) {
        int u;
        if (p >= len)
            return 0;
        if (s[p] == secret[j]) {
            p++;
            continue;
        }
        if (s[p] == '+' && secret[j] == ' ') {
            p++;
            continue;
        }
        u = unit_at(s, len, p, &n);
        if (u < 0 || u != (unsigned char)secret[j])
            return 0;
        p += n;
    }
    return p;
}

/* Copies s to out with every spelling of secret replaced; the number of
 * hits, or -1 when memory ran out. Secrets shorter than GHL_MIN_SECRET
 * are left alone: they would redact innocent text. */
int ghl_redact(ghl_buf *out, const char *s, size_t len, const char *secret) {
    size_t slen = secret ? strlen(secret) : 0, i, start = 0, end;
    char first = slen ? secret[0] : 0;
    int hits = 0;
    ghl_buf_reset(out);
    if (slen >= GHL_MIN_SECRET) {
        for (i = 0; i < len; i++) {
            char c = s[i];
            if (c != first && c != '%' && c != '\\' && c != '+')
                continue; /* the only bytes a spelling of the secret can start with */
            end = match_at(s, len, i, secret, slen);
            if (end) {
                if (ghl_buf_add(out, s + start, i - start) || ghl_buf_add(out, MARK, sizeof MARK - 1))
                    return -1;
                start = end;
                i = end - 1;
                hits++;
            }
        }
    }
    if (ghl_buf_add(out, s + start, len - start))
        return -1;
    return hits;
}

/* core.redact(text, secret, ...) -> text with every spelling of each
 * secret (as sent, percent-encoded, JSON-escaped) replaced. */
int ghl_redact_l(lua_State *L) {
    int i, top = lua_gettop(L);
    ghl_buf *tmp;
    luaL_checkstring(L, 1);
    tmp = ghl_scratch_new(L); /* freed by the GC, also when we raise */
    lua_pushvalue(L, 1);
    for (i = 2; i <= top; i++) {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (lua_type(L, i) != LUA_TSTRING)
            continue;
        if (ghl_redact(tmp, text, len, lua_tostring(L, i)) < 0)
            return luaL_error(L, "ghl: out of memory");
        lua_pop(L, 1);
        lua_pushlstring(L, tmp->data ? tmp->data : "", tmp->len);
    }
    return 1;
}
