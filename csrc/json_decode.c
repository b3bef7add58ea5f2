/*
 * A JSON decoder that builds Lua values straight from the response body:
 * strings without escapes are pushed from the input without a copy,
 * integers stay integers (Lua 5.3+), null is lua-cjson's null (a NULL light
 * userdata) so the two decoders' values mix. Response bodies are decoded on
 * every call, so this is on the hot path; fuzzed against lua-cjson
 * (fuzz/fuzz_json.c). Never raises on bad input: it answers -1 and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"

#define MAX_DEPTH 1000

/* Object keys repeat from response to response ("id", "firstName", ...), so
 * their Lua strings are kept in a small direct-mapped cache: a hit skips
 * Lua's hashing and interning of the key. The strings live in a table (the
 * uservalue of the cache's userdata, one per Lua state, in the registry);
 * a slot's pointer stays valid while that table holds its string. */
#define KEY_SLOTS 512
#define KEY_MAX 40 /* Lua's short strings */

typedef struct {
    const char *s;
    size_t len;
} key_slot;

typedef struct {
    key_slot slot[KEY_SLOTS];
} key_cache;

static const char KEY_CACHE_ID = 'k'; /* its address is the registry key */

typedef struct {
    const char *p, *end, *start;
    lua_State *L;
    ghl_buf *scratch;
    key_cache *keys;
    int keys_idx; /* stack index of the table holding the cached strings */
    const char *err;
    int depth;
    int pending; /* stack slots held by members not yet in their tables, all levels */
} jd;

static int value(jd *d);

/* 1 for the bytes that end a plain run of a string: '"', '\\', controls */
static const unsigned char STOP[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};

static void ws(jd *d) {
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static int fail(jd *d, const char *why) {
    if (!d->err)
        d->err = why;
    return -1;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(ghl_buf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return ghl_buf_add(b, u, n);
}

static unsigned load32(const char *p) {
    unsigned v;
    memcpy(&v, p, 4);
    return v;
}

/* Pushes the key s[0..len), from the cache when it is there. */
static void push_key(jd *d, const char *s, size_t len) {
    lua_State *L = d->L;
    unsigned h;
    key_slot *k;
    if (len > KEY_MAX || len == 0) {
        lua_pushlstring(L, s, len);
        return;
    }
    if (len >= 4) /* keys differ in their first or last four bytes, or length */
        h = (load32(s) * 0x9E3779B1u) ^ (load32(s + len - 4) * 0x85EBCA77u) ^ ((unsigned)len << 5);
    else
        h = ((unsigned char)s[0] * 0x9E3779B1u) ^ ((unsigned char)s[len - 1] * 0x85EBCA77u) ^ (unsigned)len;
    h = (h >> 16) % KEY_SLOTS;
    k = &d->keys->slot[h];
    if (k->len == len && memcmp(k->s, s, len) == 0) {
        lua_rawgeti(L, d->keys_idx, (int)h + 1);
        return;
    }
    lua_pushlstring(L, s, len);
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->keys_idx, (int)h + 1);
    k->s = lua_tostring(L, -1);
    k->len = len;
}

/* Pushes the cache's userdata and its table of strings (made on first use). */
static key_cache *push_key_cache(lua_State *L) {
    key_cache *kc;
    lua_pushlightuserdata(L, (void *)&KEY_CACHE_ID);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_type(L, -1) == LUA_TUSERDATA) {
        kc = (key_cache *)lua_touserdata(L, -1);
        lua_getiuservalue(L, -1, 1);
        return kc;
    }
    lua_pop(L, 1);
    kc = (key_cache *)lua_newuserdatauv(L, sizeof *kc, 1);
    memset(kc, 0, sizeof *kc);
    lua_createtable(L, KEY_SLOTS, 0);
    lua_setiuservalue(L, -2, 1);
    lua_pushlightuserdata(L, (void *)&KEY_CACHE_ID);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_getiuservalue(L, -1, 1);
    return kc;
}

/* d->p is at the opening quote; pushes the string (an object key when
 * is_key) */
static int string(jd *d, int is_key) {
    const char *s = ++d->p, *p = s;
    while (p < d->end && !STOP[(unsigned char)*p])
        p++;
    if (p < d->end && *p == '"') { /* the common case: no escapes */
        if (is_key)
            push_key(d, s, (size_t)(p - s));
        else
            lua_pushlstring(d->L, s, (size_t)(p - s));
        d->p = p + 1;
        return 0;
    }
    ghl_buf_reset(d->scratch);
    if (ghl_buf_add(d->scratch, s, (size_t)(p - s)))
        return fail(d, "out of memory");
    while (p < d->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            if (is_key)
                push_key(d, d->scratch->data, d->scratch->len);
            else
                lua_pushlstring(d->L, d->scratch->data, d->scratch->len);
            d->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return fail(d, "control character in a string");
        if (c != '\\') {
            const char *q = p;
            while (q < d->end && !STOP[(unsigned char)*q])
                q++;
            if (ghl_buf_add(d->scratch, p, (size_t)(q - p)))
                return fail(d, "out of memory");
            p = q;
            continue;
        }
        if (++p >= d->end)
            break;
        switch (*p) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (d->end - p < 5 || hex4(p + 1, &cp))
                return fail(d, "bad \\u escape");
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                if (d->end - p < 7 || p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(d, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(d, "lone low surrogate");
            }
            if (put_utf8(d->scratch, cp))
                return fail(d, "out of memory");
            p++;
            continue;
        }
        default:
            return fail(d, "bad escape");
        }
        if (ghl_buf_addc(d->scratch, (char)c))
            return fail(d, "out of memory");
        p++;
    }
    return fail(d, "unterminated string");
}

static int number(jd *d) {
    const char *s = d->p, *p = s;
    int is_int = 1, digits = 0;
    char tmp[64];
    size_t len;
    if (p < d->end && *p == '-')
        p++;
    if (p < d->end && *p == '0') {
        p++;
        digits = 1;
    } else {
        while (p < d->end && *p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }
    if (digits == 0)
        return fail(d, "bad number");
    if (p < d->end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "bad number");
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < d->end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        if (p < d->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= d->end || *p < '0' || *p > '9')
            return fail(d, "bad number");
        while (p < d->end && *p >= '0' && *p <= '9')
            p++;
    }
    d->p = p;
#if LUA_VERSION_NUM >= 503
    if (is_int && digits <= 18) {
        lua_Integer v = 0;
        const char *q = *s == '-' ? s + 1 : s;
        for (; q < p; q++)
            v = v * 10 + (*q - '0');
        lua_pushinteger(d->L, *s == '-' ? -v : v);
        return 0;
    }
#else
    (void)is_int;
#endif
    len = (size_t)(p - s);
    if (len >= sizeof tmp) {
        /* JSON sets no length limit: a long number becomes the nearest
         * double, as any decoder does (the scratch buffer, not the stack) */
        ghl_buf_reset(d->scratch);
        if (ghl_buf_add(d->scratch, s, len) || ghl_buf_addc(d->scratch, '\0'))
            return fail(d, "out of memory");
        lua_pushnumber(d->L, (lua_Number)strtod(d->scratch->data, NULL));
        return 0;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    lua_pushnumber(d->L, (lua_Number)strtod(tmp, NULL));
    return 0;
}

static int literal(jd *d, const char *word, size_t n) {
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return fail(d, "unexpected character");
    d->p += n;
    return 0;
}

/* Members and elements wait on the Lua stack until their container is
 * complete, so a table is made with its final size instead of growing by
 * rehashes (a contact's 35 fields would rehash it four times). A container
 * moves what waits into its table after CHUNK of them, or when all levels
 * together hold PENDING_MAX slots: LuaJIT lets a C function use 8000. */
#define CHUNK 64
#define PENDING_MAX 4000

/* Moves the n key/value pairs above base + 1 into the table at base + 1
 * (made here, sized for them, if that slot is still nil), first to last so
 * a repeated key keeps its last value. */
static void flush_members(jd *d, int base, int n) {
    lua_State *L = d->L;
    int t = base + 1, i;
    d->pending -= 2 * n;
    if (lua_isnil(L, t)) {
        lua_createtable(L, 0, n);
        lua_replace(L, t);
    }
    for (i = 0; i < n; i++) {
        lua_pushvalue(L, t + 1 + 2 * i);
        lua_pushvalue(L, t + 2 + 2 * i);
        lua_rawset(L, t);
    }
    lua_settop(L, t);
}

/* The same for n elements of an array, the first of which is number first. */
static void flush_elements(jd *d, int base, int n, int first) {
    lua_State *L = d->L;
    int t = base + 1, i;
    d->pending -= n;
    if (lua_isnil(L, t)) {
        lua_createtable(L, n, 0);
        lua_replace(L, t);
    }
    for (i = first + n - 1; i >= first; i--)
        lua_rawseti(L, t, i); /* pops the top: the last element first */
}

static int object(jd *d) {
    lua_State *L = d->L;
    int base = lua_gettop(L), n = 0;
    d->p++;
    lua_pushnil(L); /* the table, once its size is known */
    ws(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        flush_members(d, base, 0);
        return 0;
    }
    for (;;) {
        if (n == CHUNK || d->pending >= PENDING_MAX) {
            flush_members(d, base, n);
            n = 0;
        }
        ws(d);
        if (d->p >= d->end || *d->p != '"')
            return fail(d, "expected a key");
        if (string(d, 1))
            return -1;
        ws(d);
        if (d->p >= d->end || *d->p != ':')
            return fail(d, "expected ':'");
        d->p++;
        if (value(d))
            return -1;
        n++;
        d->pending += 2;
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            flush_members(d, base, n);
            return 0;
        }
        return fail(d, "expected ',' or '}'");
    }
}

static int array(jd *d) {
    lua_State *L = d->L;
    int base = lua_gettop(L), n = 0, done = 0;
    d->p++;
    lua_pushnil(L); /* the table, once its size is known */
    ws(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        flush_elements(d, base, 0, 1);
        return 0;
    }
    for (;;) {
        if (n == CHUNK || d->pending >= PENDING_MAX) {
            flush_elements(d, base, n, done + 1);
            done += n;
            n = 0;
        }
        if (value(d))
            return -1;
        n++;
        d->pending++;
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            flush_elements(d, base, n, done + 1);
            return 0;
        }
        return fail(d, "expected ',' or ']'");
    }
}

static int value(jd *d) {
    int rc;
    ws(d);
    if (d->p >= d->end)
        return fail(d, "unexpected end");
    if (++d->depth > MAX_DEPTH)
        return fail(d, "nested too deep");
    if (!lua_checkstack(d->L, 4))
        return fail(d, "nested too deep");
    switch (*d->p) {
    case '{': rc = object(d); break;
    case '[': rc = array(d); break;
    case '"': rc = string(d, 0); break;
    case 't': rc = literal(d, "true", 4); if (!rc) lua_pushboolean(d->L, 1); break;
    case 'f': rc = literal(d, "false", 5); if (!rc) lua_pushboolean(d->L, 0); break;
    case 'n': rc = literal(d, "null", 4); if (!rc) lua_pushlightuserdata(d->L, NULL); break;
    default:
        if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
            rc = number(d);
        else
            rc = fail(d, "unexpected character");
    }
    d->depth--;
    return rc;
}

/* Pushes the value of the JSON text (0), or leaves the stack as it was and
 * pushes a message (-1). scratch: a buffer for strings with escapes. */
int ghl_json_decode(lua_State *L, const char *s, size_t len, ghl_buf *scratch) {
    jd d;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 8)) {
        lua_pushliteral(L, "nested too deep");
        return -1;
    }
    d.keys = push_key_cache(L);
    d.keys_idx = lua_gettop(L);
    d.p = d.start = s;
    d.end = s + len;
    d.L = L;
    d.scratch = scratch;
    d.err = NULL;
    d.depth = 0;
    d.pending = 0;
    if (value(&d) == 0) {
        ws(&d);
        if (d.p == d.end) {
            lua_replace(L, top + 1); /* the value in place of the cache */
            lua_settop(L, top + 1);
            return 0;
        }
        d.err = "text after the value";
    }
    lua_settop(L, top);
    lua_pushfstring(L, "%s at byte %d", d.err ? d.err : "invalid JSON", (int)(d.p - s) + 1);
    return -1;
}

/* core.json_decode(text) -> value | nil, err */
int ghl_json_decode_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ghl_buf *b = ghl_scratch_new(L);
    if (ghl_json_decode(L, s, len, b) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}
