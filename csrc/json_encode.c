/*
 * Request bodies as JSON: the core writes what goes on the wire, next to
 * the decoder that reads what comes back.
 *
 *   core.json_encode(value [, shape]) -> text   (raises invalid_argument)
 *
 * - An empty table is `[]` where the shape (the operation's body schema, see
 *   ghl.operations) or a mark (ghl.array / ghl.object) says array, `{}`
 *   otherwise; a mark wins over the shape. A non-empty table is an array
 *   when its keys are 1..n, an object when they are all strings.
 * - Integers are exact (Lua 5.4 integers in full, doubles up to 2^53);
 *   other numbers are written in the shortest form that reads back the same.
 * - null is cjson.null. NaN, infinities, functions, userdata, cycles, sparse
 *   or mixed arrays, other keys and invalid UTF-8 are refused, naming the
 *   path of the value ("body.customFields[2].value"), before anything is sent.
 * - Object keys are sorted (the same input gives the same bytes); '/' is not
 *   escaped.
 * Memory lives in scratch userdata, so a raise frees it; recursion is
 * bounded (MAX_DEPTH) and checks its stack.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"

#define MAX_DEPTH 200 /* GHL's bodies are a few levels deep */
#define ARRAY_MT "ghl.array"
#define OBJECT_MT "ghl.object"

typedef struct {
    const char *s;
    size_t len;
    int idx; /* stack index of its value (small objects), or 0 */
} key_ref;

/* One step of the path to the value being written: a field or an index.
 * Kept as data, made into text only for an error. */
typedef struct {
    const char *key;
    size_t len;
    lua_Integer index; /* when key is NULL */
} segment;

#define SEEN_FROM 8        /* tables below this depth are not tracked: a cycle is caught deeper */
#define STACK_KEYS 128     /* objects up to this many fields keep their values on the Lua stack */

typedef struct {
    lua_State *L;
    ghl_buf *out, *keys;
    int seen;                /* stack index of the tables being written (0: none yet) */
    int seen_slot;           /* where that table goes when needed */
    int array_mt, object_mt; /* stack indexes of the marks */
    int depth;
    segment path[MAX_DEPTH + 1];
    char why[96];
} je;

/* The output's fast path: no call while there is room (ghl_buf keeps a
 * NUL after len; nothing reads it before the end). */
static inline int out_add(ghl_buf *b, const void *p, size_t n) {
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    return ghl_buf_add(b, p, n);
}

static inline int out_c(ghl_buf *b, char c) {
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        return 0;
    }
    return ghl_buf_addc(b, c);
}

static int oom(je *e) {
    snprintf(e->why, sizeof e->why, "out of memory");
    return -1;
}

static int refuse(je *e, const char *why) {
    snprintf(e->why, sizeof e->why, "%s", why);
    return -1;
}

/* ---------------------------------------------------------------- strings */

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left) {
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) /* overlong, surrogate */
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) /* overlong, past U+10FFFF */
            return 0;
        return 4;
    }
    return 0;
}

/* 1 for the bytes that end a plain run of a string: controls, '"', '\\'
 * and every byte of a multi-byte UTF-8 sequence (checked on its own) */
static const unsigned char STOP[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static int put_string(je *e, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    ghl_buf *b = e->out;
    if (ghl_buf_reserve(b, len + 2) || out_c(b, '"'))
        return oom(e);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && !STOP[*p])
            p++;
        if (p > run && out_add(b, run, (size_t)(p - run)))
            return oom(e);
        if (p == end)
            break;
        if (*p >= 0x80) {
            size_t n = utf8_len(p, (size_t)(end - p));
            if (!n)
                return refuse(e, "is not valid UTF-8");
            if (out_add(b, p, n))
                return oom(e);
            p += n;
            continue;
        }
        {
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t n = 2;
            switch (*p) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
                n = 6;
            }
            if (out_add(b, esc, n))
                return oom(e);
            p++;
        }
    }
    return out_c(b, '"') ? oom(e) : 0;
}

/* ---------------------------------------------------------------- numbers */

/* An integer's digits, without printf (the common number of a body). */
static int put_integer(je *e, long long v) {
    char buf[24], *p = buf + sizeof buf;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return out_add(e->out, p, (size_t)(buf + sizeof buf - p)) ? oom(e) : 0;
}

static int put_number(je *e, int idx) {
    lua_State *L = e->L;
    char buf[40];
    int n;
    double x;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx))
        return put_integer(e, (long long)lua_tointeger(L, idx));
#endif
    x = lua_tonumber(L, idx);
    if (x != x || x == HUGE_VAL || x == -HUGE_VAL)
        return refuse(e, "is NaN or infinite, which JSON cannot carry");
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        if (x == 0 && signbit(x)) /* "-0" would read back as the integer 0 */
            return out_add(e->out, "-0.0", 4) ? oom(e) : 0;
        return put_integer(e, (long long)x); /* an integer, exactly */
    } else {
        int prec;
        for (prec = 15;; prec++) { /* the shortest form that reads back the same */
            n = snprintf(buf, sizeof buf, "%.*g", prec, x);
            if (prec >= 17 || strtod(buf, NULL) == x)
                break;
        }
        {
            int i; /* a locale with a decimal comma must not reach the wire */
            for (i = 0; i < n; i++)
                if (buf[i] == ',')
                    buf[i] = '.';
        }
    }
    return out_add(e->out, buf, (size_t)n) ? oom(e) : 0;
}

/* ---------------------------------------------------------------- paths */

static int is_ident(const char *s, size_t len) {
    size_t i;
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Pushes "body.customFields[2].value" for the path to the failing value. */
static void push_path(je *e, const char *name) {
    lua_State *L = e->L;
    luaL_Buffer b;
    int i;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, name);
    for (i = 1; i <= e->depth && i <= MAX_DEPTH; i++) {
        segment *g = &e->path[i];
        char num[32];
        if (e->depth > 12 && i == 7) { /* a long way down (a cycle): its start and its end */
            luaL_addstring(&b, "...");
            i = e->depth - 4;
            continue;
        }
        if (!g->key) {
            snprintf(num, sizeof num, "[%lld]", (long long)g->index);
            luaL_addstring(&b, num);
        } else if (is_ident(g->key, g->len)) {
            luaL_addchar(&b, '.');
            luaL_addlstring(&b, g->key, g->len > 64 ? 64 : g->len);
        } else {
            luaL_addstring(&b, "[\"");
            luaL_addlstring(&b, g->key, g->len > 64 ? 64 : g->len);
            luaL_addstring(&b, "\"]");
        }
    }
    luaL_pushresult(&b);
}

/* ---------------------------------------------------------------- tables */

enum { K_EMPTY, K_ARRAY, K_OBJECT };

static int value(je *e, int idx, int shape);

/* What the shape says a table at this place is: K_ARRAY, K_OBJECT or
 * K_EMPTY (no word). Shapes: "a" | { a = items } | { o = { name = shape } }. */
static int shape_kind(lua_State *L, int shape) {
    if (!shape)
        return K_EMPTY;
    if (lua_type(L, shape) == LUA_TSTRING)
        return lua_tostring(L, shape)[0] == 'a' ? K_ARRAY : K_EMPTY;
    if (lua_type(L, shape) == LUA_TTABLE) {
        int k;
        lua_getfield(L, shape, "a");
        k = lua_isnil(L, -1) ? K_OBJECT : K_ARRAY;
        lua_pop(L, 1);
        return k;
    }
    return K_EMPTY;
}

/* Pushes shape[field] when shape is a table (else nil); its index, or 0
 * for nil (the callee then knows nothing). */
static int push_sub(lua_State *L, int shape, const char *field) {
    if (shape && lua_type(L, shape) == LUA_TTABLE) {
        lua_getfield(L, shape, field);
        if (!lua_isnil(L, -1))
            return lua_gettop(L);
    } else {
        lua_pushnil(L);
    }
    return 0;
}

static int compare_keys(const void *a, const void *b) {
    const key_ref *x = (const key_ref *)a, *y = (const key_ref *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static void sort_keys(key_ref *r, size_t n) {
    size_t i, j;
    if (n > 16) {
        qsort(r, n, sizeof *r, compare_keys);
        return;
    }
    for (i = 1; i < n; i++) { /* a body's few fields: insertion sort, no calls */
        key_ref k = r[i];
        for (j = i; j > 0 && compare_keys(&r[j - 1], &k) > 0; j--)
            r[j] = r[j - 1];
        r[j] = k;
    }
}

static int put_array(je *e, int t, lua_Integer n, int shape) {
    lua_State *L = e->L;
    lua_Integer i;
    int items = push_sub(L, shape, "a");
    segment *g = &e->path[e->depth];
    if (out_c(e->out, '['))
        return oom(e);
    g->key = NULL;
    for (i = 1; i <= n; i++) {
        g->index = i;
        if (i > 1 && out_c(e->out, ','))
            return oom(e);
        lua_rawgeti(L, t, (int)i);
        if (value(e, lua_gettop(L), items))
            return -1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the items' shape */
    return out_c(e->out, ']') ? oom(e) : 0;
}

/* The n string keys collected by put_table at e->keys[base..] (values on
 * the stack, or looked up again for big objects), sorted: the same table
 * always gives the same bytes. */
static int put_object(je *e, int t, size_t base, size_t n, int shape) {
    lua_State *L = e->L;
    size_t i;
    int props = push_sub(L, shape, "o"), top = lua_gettop(L);
    segment *g = &e->path[e->depth];
    if (n > 1)
        sort_keys((key_ref *)(void *)(e->keys->data + base), n);
    if (out_c(e->out, '{'))
        return oom(e);
    for (i = 0; i < n; i++) {
        key_ref r = ((key_ref *)(void *)(e->keys->data + base))[i]; /* the buffer may move */
        int child = 0, v = r.idx;
        g->key = r.s, g->len = r.len;
        if (i > 0 && out_c(e->out, ','))
            return oom(e);
        if (put_string(e, r.s, r.len) || out_c(e->out, ':'))
            return -1;
        if (!v) {
            lua_pushlstring(L, r.s, r.len);
            lua_rawget(L, t);
            v = lua_gettop(L);
        }
        if (props && lua_type(L, v) == LUA_TTABLE) { /* only a table has a shape to know */
            lua_pushlstring(L, r.s, r.len);
            lua_rawget(L, props);
            child = lua_isnil(L, -1) ? 0 : lua_gettop(L);
        }
        if (value(e, v, child))
            return -1;
        lua_settop(L, top);
    }
    lua_pop(L, 1); /* the props' shape */
    return out_c(e->out, '}') ? oom(e) : 0;
}

/* One pass over the table: what kind it is, and for an object its keys (and,
 * when small, its values, left on the stack). */
static int put_table(je *e, int t, int shape) {
    lua_State *L = e->L;
    int mark = K_EMPTY, kind, rc, top = lua_gettop(L), on_stack = 1;
    size_t n = 0, strings = 0, others = 0, base = e->keys->len;
    lua_Integer ints = 0, max = 0;
    if (lua_getmetatable(L, t)) {
        if (lua_rawequal(L, -1, e->array_mt))
            mark = K_ARRAY;
        else if (lua_rawequal(L, -1, e->object_mt))
            mark = K_OBJECT;
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
        n++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            key_ref r;
            strings++;
            r.s = lua_tolstring(L, -2, &r.len); /* anchored by the table */
            r.idx = 0;
            if (on_stack && strings <= STACK_KEYS && lua_checkstack(L, 3)) {
                r.idx = lua_gettop(L); /* the value stays where lua_next put it */
                lua_pushvalue(L, -2);  /* and the key goes on for the next round */
            } else {
                on_stack = 0;
                lua_pop(L, 1);
            }
            if (ghl_buf_add(e->keys, &r, sizeof r))
                return oom(e);
            continue;
        }
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -2);
            if (k >= 1 && k == floor(k) && k <= 2147483647.0) {
                ints++;
                if ((lua_Integer)k > max)
                    max = (lua_Integer)k;
            } else {
                others++;
            }
        } else {
            others++;
        }
        lua_pop(L, 1);
    }
    if (others)
        return refuse(e, "has a key that is neither a field name nor an index 1..n");
    if (n == 0)
        kind = mark != K_EMPTY ? mark : shape_kind(L, shape) == K_ARRAY ? K_ARRAY : K_OBJECT;
    else if (strings && ints)
        return refuse(e, "mixes array items (keys 1..n) and fields (string keys)");
    else
        kind = ints ? K_ARRAY : K_OBJECT;
    if (kind == K_ARRAY && max != ints)
        return refuse(e, "is a sparse array (its indexes have gaps)");
    if (mark == K_ARRAY && kind != K_ARRAY)
        return refuse(e, "is marked with ghl.array but has string keys");
    if (mark == K_OBJECT && kind != K_OBJECT)
        return refuse(e, "is marked with ghl.object but has array items (keys 1..n)");
    if (e->depth >= MAX_DEPTH)
        return refuse(e, "is nested more than 200 levels deep");
    if (e->depth >= SEEN_FROM) {
        /* deep enough to be a cycle: the tables being written are tracked from here */
        if (!e->seen) {
            lua_newtable(L);
            lua_replace(L, e->seen_slot); /* a slot ghl_json_encode keeps for it */
            e->seen = e->seen_slot;
        }
        lua_pushvalue(L, t);
        lua_rawget(L, e->seen);
        if (!lua_isnil(L, -1))
            return refuse(e, "contains itself (a cycle)");
        lua_pop(L, 1);
        lua_pushvalue(L, t);
        lua_pushboolean(L, 1);
        lua_rawset(L, e->seen);
    }
    if (!lua_checkstack(L, 8))
        return refuse(e, "is nested too deep for the Lua stack");
    e->depth++;
    rc = kind == K_ARRAY ? put_array(e, t, ints, shape) : put_object(e, t, base, strings, shape);
    if (rc)
        return rc;
    e->depth--;
    e->keys->len = base;
    lua_settop(L, top); /* the values collected */
    if (e->seen && e->depth >= SEEN_FROM) {
        lua_pushvalue(L, t);
        lua_pushnil(L);
        lua_rawset(L, e->seen);
    }
    return 0;
}

static int value(je *e, int idx, int shape) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return out_add(e->out, "null", 4) ? oom(e) : 0;
    case LUA_TBOOLEAN:
        return (lua_toboolean(L, idx) ? out_add(e->out, "true", 4) : out_add(e->out, "false", 5)) ? oom(e)
                                                                                                         : 0;
    case LUA_TNUMBER:
        return put_number(e, idx);
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return put_string(e, s, len);
    }
    case LUA_TTABLE:
        return put_table(e, idx, shape);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) /* cjson.null */
            return out_add(e->out, "null", 4) ? oom(e) : 0;
        return refuse(e, "is a light userdata, which JSON cannot carry");
    default: {
        char why[64];
        snprintf(why, sizeof why, "is a %s, which JSON cannot carry", luaL_typename(L, idx));
        return refuse(e, why);
    }
    }
}

/* Encodes the value at idx (shape at shape_idx, 0 for none) into out,
 * with keys as a scratch list (both owned by the caller, reused between
 * calls); what to call the value in errors is `name` ("body"). Raises
 * invalid_argument, leaving the stack as it was otherwise. */
void ghl_json_encode(lua_State *L, int idx, int shape_idx, ghl_buf *out, ghl_buf *keys, const char *name) {
    je e;
    int top = lua_gettop(L);
    idx = ghl_absindex(L, idx);
    shape_idx = shape_idx ? ghl_absindex(L, shape_idx) : 0;
    luaL_checkstack(L, 16, "ghl: json_encode");
    e.L = L;
    e.out = out;
    e.keys = keys;
    e.seen = 0;
    e.depth = 0;
    e.why[0] = '\0';
    luaL_getmetatable(L, ARRAY_MT);
    e.array_mt = lua_gettop(L);
    luaL_getmetatable(L, OBJECT_MT);
    e.object_mt = lua_gettop(L);
    lua_pushnil(L);
    e.seen_slot = lua_gettop(L);
    ghl_buf_reset(out);
    ghl_buf_reset(keys);
    if (value(&e, idx, shape_idx)) {
        push_path(&e, name);
        ghl_raise_invalid(L, "%s %s", lua_tostring(L, -1), e.why);
    }
    lua_settop(L, top);
}

/* core.json_encode(value [, shape]) -> text */
int ghl_json_encode_l(lua_State *L) {
    ghl_buf *out, *keys;
    lua_settop(L, 2);
    out = ghl_scratch_new(L); /* freed by the GC, also when we raise */
    keys = ghl_scratch_new(L);
    ghl_json_encode(L, 1, lua_isnil(L, 2) ? 0 : 2, out, keys, "value");
    lua_pushlstring(L, out->data ? out->data : "", out->len);
    return 1;
}

/* core.array_mt / core.object_mt: the marks ghl.array and ghl.object set. */
void ghl_json_encode_open(lua_State *L) {
    luaL_newmetatable(L, ARRAY_MT);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "array_mt");
    luaL_newmetatable(L, OBJECT_MT);
    lua_pushliteral(L, "object");
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "object_mt");
}
