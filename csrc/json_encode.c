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
} key_ref;

typedef struct {
    lua_State *L;
    ghl_buf *out, *path, *keys;
    int seen;                /* stack index: tables being written (a cycle comes back to one) */
    int array_mt, object_mt; /* stack indexes of the marks */
    int depth;
    char why[96];
} je;

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

static int put_string(je *e, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    ghl_buf *b = e->out;
    if (ghl_buf_reserve(b, len + 2) || ghl_buf_addc(b, '"'))
        return oom(e);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run && ghl_buf_add(b, run, (size_t)(p - run)))
            return oom(e);
        if (p == end)
            break;
        if (*p >= 0x80) {
            size_t n = utf8_len(p, (size_t)(end - p));
            if (!n)
                return refuse(e, "is not valid UTF-8");
            if (ghl_buf_add(b, p, n))
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
            if (ghl_buf_add(b, esc, n))
                return oom(e);
            p++;
        }
    }
    return ghl_buf_addc(b, '"') ? oom(e) : 0;
}

/* ---------------------------------------------------------------- numbers */

static int put_number(je *e, int idx) {
    lua_State *L = e->L;
    char buf[40];
    int n;
    double x;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) {
        n = snprintf(buf, sizeof buf, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        return ghl_buf_add(e->out, buf, (size_t)n) ? oom(e) : 0;
    }
#endif
    x = lua_tonumber(L, idx);
    if (x != x || x == HUGE_VAL || x == -HUGE_VAL)
        return refuse(e, "is NaN or infinite, which JSON cannot carry");
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        n = snprintf(buf, sizeof buf, "%.0f", x); /* an integer, exactly */
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
    return ghl_buf_add(e->out, buf, (size_t)n) ? oom(e) : 0;
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

/* Appends ".key", ["key"] or [i] to the path; returns its length before. */
static size_t path_push_key(je *e, const char *k, size_t len) {
    size_t before = e->path->len;
    if (is_ident(k, len)) {
        ghl_buf_addc(e->path, '.');
        ghl_buf_add(e->path, k, len > 64 ? 64 : len);
    } else {
        ghl_buf_add(e->path, "[\"", 2);
        ghl_buf_add(e->path, k, len > 64 ? 64 : len);
        ghl_buf_add(e->path, "\"]", 2);
    }
    return before;
}

static size_t path_push_index(je *e, lua_Integer i) {
    size_t before = e->path->len;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%lld]", (long long)i);
    ghl_buf_add(e->path, buf, (size_t)n);
    return before;
}

/* ---------------------------------------------------------------- tables */

enum { K_EMPTY, K_ARRAY, K_OBJECT };

static int value(je *e, int idx, int shape);

/* The shape of a child: shape.a (array items) or shape.o[key]; pushes it
 * (nil when unknown) and returns its index. */
static int push_child_shape(je *e, int shape, const char *field, int key_idx) {
    lua_State *L = e->L;
    if (shape && lua_type(L, shape) == LUA_TTABLE) {
        lua_getfield(L, shape, field);
        if (key_idx) {
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_pushvalue(L, key_idx);
                lua_rawget(L, -2);
                lua_remove(L, -2);
            } else {
                lua_pop(L, 1);
                lua_pushnil(L);
            }
        }
    } else {
        lua_pushnil(L);
    }
    return lua_gettop(L);
}

/* What the shape says a table at this place is: K_ARRAY, K_OBJECT or K_EMPTY (no word). */
static int shape_kind(je *e, int shape) {
    lua_State *L = e->L;
    if (!shape)
        return K_EMPTY;
    if (lua_type(L, shape) == LUA_TSTRING) {
        const char *s = lua_tostring(L, shape);
        return s[0] == 'a' ? K_ARRAY : s[0] == 'o' ? K_OBJECT : K_EMPTY;
    }
    if (lua_type(L, shape) == LUA_TTABLE) {
        int k;
        lua_getfield(L, shape, "a");
        k = lua_isnil(L, -1) ? K_OBJECT : K_ARRAY;
        lua_pop(L, 1);
        return k;
    }
    return K_EMPTY;
}

static int compare_keys(const void *a, const void *b) {
    const key_ref *x = (const key_ref *)a, *y = (const key_ref *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static int put_array(je *e, int t, lua_Integer n, int shape) {
    lua_State *L = e->L;
    lua_Integer i;
    int items = push_child_shape(e, shape, "a", 0);
    if (ghl_buf_addc(e->out, '['))
        return oom(e);
    for (i = 1; i <= n; i++) {
        size_t before = path_push_index(e, i);
        if (i > 1 && ghl_buf_addc(e->out, ','))
            return oom(e);
        lua_rawgeti(L, t, (int)i);
        if (value(e, lua_gettop(L), lua_isnil(L, items) ? 0 : items))
            return -1;
        lua_pop(L, 1);
        e->path->len = before;
    }
    lua_pop(L, 1); /* the items' shape */
    return ghl_buf_addc(e->out, ']') ? oom(e) : 0;
}

static int put_object(je *e, int t, size_t n, int shape) {
    lua_State *L = e->L;
    size_t base = e->keys->len, i, count = 0;
    key_ref *refs;
    /* the keys, sorted: the same table always gives the same bytes */
    if (ghl_buf_reserve(e->keys, n * sizeof(key_ref)))
        return oom(e);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        key_ref r;
        lua_pop(L, 1);
        r.s = lua_tolstring(L, -1, &r.len); /* a string key: anchored by the table */
        if (ghl_buf_add(e->keys, &r, sizeof r)) {
            lua_pop(L, 1);
            return oom(e);
        }
        count++;
    }
    refs = (key_ref *)(void *)(e->keys->data + base);
    qsort(refs, count, sizeof *refs, compare_keys);
    if (ghl_buf_addc(e->out, '{'))
        return oom(e);
    for (i = 0; i < count; i++) {
        key_ref r = ((key_ref *)(void *)(e->keys->data + base))[i]; /* the buffer may move */
        size_t before = path_push_key(e, r.s, r.len);
        int child, key;
        if (i > 0 && ghl_buf_addc(e->out, ','))
            return oom(e);
        if (put_string(e, r.s, r.len) || ghl_buf_addc(e->out, ':'))
            return -1;
        lua_pushlstring(L, r.s, r.len);
        key = lua_gettop(L);
        child = push_child_shape(e, shape, "o", key);
        lua_pushvalue(L, key);
        lua_rawget(L, t);
        if (value(e, lua_gettop(L), lua_isnil(L, child) ? 0 : child))
            return -1;
        lua_pop(L, 3);
        e->path->len = before;
    }
    e->keys->len = base;
    return ghl_buf_addc(e->out, '}') ? oom(e) : 0;
}

static int put_table(je *e, int t, int shape) {
    lua_State *L = e->L;
    int mark = K_EMPTY, kind, rc;
    size_t n = 0, strings = 0, others = 0;
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
        lua_pop(L, 1);
        n++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -1);
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
    }
    if (others)
        return refuse(e, "has a key that is neither a field name nor an index 1..n");
    if (n == 0)
        kind = mark != K_EMPTY ? mark : shape_kind(e, shape) == K_ARRAY ? K_ARRAY : K_OBJECT;
    else if (strings && ints)
        return refuse(e, "mixes array items (keys 1..n) and fields (string keys)");
    else if (ints)
        kind = K_ARRAY;
    else
        kind = K_OBJECT;
    if (kind == K_ARRAY && max != ints)
        return refuse(e, "is a sparse array (its indexes have gaps)");
    if (mark == K_ARRAY && kind != K_ARRAY)
        return refuse(e, "is marked with ghl.array but has string keys");
    if (mark == K_OBJECT && kind != K_OBJECT)
        return refuse(e, "is marked with ghl.object but has array items (keys 1..n)");
    /* a table that is already being written: a cycle */
    lua_pushvalue(L, t);
    lua_rawget(L, e->seen);
    if (!lua_isnil(L, -1))
        return refuse(e, "contains itself (a cycle)");
    lua_pop(L, 1);
    if (++e->depth > MAX_DEPTH)
        return refuse(e, "is nested more than 200 levels deep");
    if (!lua_checkstack(L, 8))
        return refuse(e, "is nested too deep for the Lua stack");
    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, e->seen);
    rc = kind == K_ARRAY ? put_array(e, t, ints, shape) : put_object(e, t, n, shape);
    if (rc)
        return rc;
    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, e->seen);
    e->depth--;
    return 0;
}

static int value(je *e, int idx, int shape) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return ghl_buf_add(e->out, "null", 4) ? oom(e) : 0;
    case LUA_TBOOLEAN:
        return (lua_toboolean(L, idx) ? ghl_buf_add(e->out, "true", 4) : ghl_buf_add(e->out, "false", 5)) ? oom(e)
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
            return ghl_buf_add(e->out, "null", 4) ? oom(e) : 0;
        return refuse(e, "is a light userdata, which JSON cannot carry");
    default: {
        char why[64];
        snprintf(why, sizeof why, "is a %s, which JSON cannot carry", luaL_typename(L, idx));
        return refuse(e, why);
    }
    }
}

/* Encodes the value at idx (shape at shape_idx, 0 for none) into out; what
 * to call the value in errors is `name` ("body"). Raises invalid_argument. */
void ghl_json_encode(lua_State *L, int idx, int shape_idx, ghl_buf *out, const char *name) {
    je e;
    int top;
    idx = ghl_absindex(L, idx);
    shape_idx = shape_idx ? ghl_absindex(L, shape_idx) : 0;
    luaL_checkstack(L, 16, "ghl: json_encode");
    memset(&e, 0, sizeof e);
    e.L = L;
    e.out = out;
    e.path = ghl_scratch_new(L);
    e.keys = ghl_scratch_new(L);
    top = lua_gettop(L);
    lua_newtable(L);
    e.seen = lua_gettop(L);
    luaL_getmetatable(L, ARRAY_MT);
    e.array_mt = lua_gettop(L);
    luaL_getmetatable(L, OBJECT_MT);
    e.object_mt = lua_gettop(L);
    ghl_buf_reset(out);
    ghl_buf_addstr(e.path, name);
    if (value(&e, idx, shape_idx)) {
        ghl_buf_addc(e.path, '\0');
        ghl_raise_invalid(L, "%s %s", e.path->data, e.why);
    }
    lua_settop(L, top - 2); /* the scratch buffers go to the GC */
}

/* core.json_encode(value [, shape]) -> text */
int ghl_json_encode_l(lua_State *L) {
    ghl_buf *out;
    lua_settop(L, 2);
    out = ghl_scratch_new(L);
    ghl_json_encode(L, 1, lua_isnil(L, 2) ? 0 : 2, out, "value");
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
