/*
 * Building a request: URL join, {name} path parameters, query string,
 * headers and JSON body. Pure: touches no network, so it is tested directly
 * from Lua and shared by every transport.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"

static const char HEX[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 3986: everything but the unreserved set is %XX-encoded, so a value
 * can never add a path segment, a query parameter or a fragment. */
static int pct_encode(ghl_buf *b, const char *s, size_t len) {
    size_t i;
    if (len > ((size_t)-1) / 4 || ghl_buf_reserve(b, len * 3))
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = HEX[c >> 4];
            b->data[b->len++] = HEX[c & 15];
        }
    }
    b->data[b->len] = '\0';
    return 0;
}

static void check_mem(lua_State *L, int rc) {
    if (rc)
        luaL_error(L, "ghl: out of memory");
}

/* Shortest text that reads back as the same number; integral values
 * print without ".0" (limit=100, not limit=100.0). NULL when not finite. */
static const char *number_text(lua_State *L, int idx, char *out, size_t outsz) {
    lua_Number x;
    int prec;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) {
        snprintf(out, outsz, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        return out;
    }
#endif
    x = lua_tonumber(L, idx);
    if (x != x || x == HUGE_VAL || x == -HUGE_VAL)
        return NULL;
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(out, outsz, "%.0f", (double)x);
        return out;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(out, outsz, "%.*g", prec, (double)x);
        if (strtod(out, NULL) == (double)x)
            break;
    }
    return out;
}

/* Text of a scalar for a URL; NULL for anything else. */
static const char *scalar_text(lua_State *L, int idx, char *num, size_t numsz, size_t *len) {
    const char *s = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        return lua_tolstring(L, idx, len);
    case LUA_TNUMBER:
        s = number_text(L, idx, num, numsz);
        break;
    case LUA_TBOOLEAN:
        s = lua_toboolean(L, idx) ? "true" : "false";
        break;
    default:
        return NULL;
    }
    if (s)
        *len = strlen(s);
    return s;
}

/* ---------------------------------------------------------------- path */

static int template_char_ok(unsigned char c) {
    return is_unreserved(c) || (c != 0 && strchr("/:@!$&'()*+,;=", c) != NULL);
}

static void check_template(lua_State *L, const char *t, size_t len) {
    size_t i;
    if (len == 0 || t[0] != '/')
        ghl_raise_invalid(L, "path must start with '/' (got \"%s\")", t);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '{' || c == '}')
            continue;
        if (!template_char_ok(c))
            ghl_raise_invalid(L,
                              "path \"%s\" contains a character that is not allowed there (%c); "
                              "put query parameters in opts.query",
                              t, (c < 0x20 || c >= 0x7f) ? '?' : c);
        if (c == '/' && i + 1 < len && t[i + 1] == '/')
            ghl_raise_invalid(L, "path \"%s\" contains an empty segment", t);
        if (c == '/' && t[i + 1] == '.' && (t[i + 2] == '/' || t[i + 2] == '\0' ||
                                            (t[i + 2] == '.' && (t[i + 3] == '/' || t[i + 3] == '\0'))))
            ghl_raise_invalid(L, "path \"%s\" contains a dot segment", t);
    }
}

/* Fills {name} from the table at `params`, percent-encoded. */
static void fill_path(lua_State *L, ghl_buf *b, const char *t, size_t tlen, int params) {
    size_t i = 0;
    char num[64];
    while (i < tlen) {
        const char *close;
        const char *val;
        size_t nlen, vlen;
        if (t[i] == '}')
            ghl_raise_invalid(L, "path \"%s\" has a '}' without '{'", t);
        if (t[i] != '{') {
            size_t j = i;
            while (j < tlen && t[j] != '{' && t[j] != '}')
                j++;
            check_mem(L, ghl_buf_add(b, t + i, j - i));
            i = j;
            continue;
        }
        close = memchr(t + i + 1, '}', tlen - i - 1);
        nlen = close ? (size_t)(close - (t + i + 1)) : 0;
        if (!close || nlen == 0 || memchr(t + i + 1, '{', nlen))
            ghl_raise_invalid(L, "path \"%s\" has an unclosed or empty '{}'", t);
        lua_pushlstring(L, t + i + 1, nlen); /* the name, for messages */
        if (lua_type(L, params) != LUA_TTABLE)
            ghl_raise_invalid(L, "path parameter '%s' is required by \"%s\" (pass opts.path.%s)",
                              lua_tostring(L, -1), t, lua_tostring(L, -1));
        lua_pushvalue(L, -1);
        lua_rawget(L, params);
        if (lua_isnil(L, -1))
            ghl_raise_invalid(L, "path parameter '%s' is required by \"%s\" (pass opts.path.%s)",
                              lua_tostring(L, -2), t, lua_tostring(L, -2));
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            ghl_raise_invalid(L, "path parameter '%s' must be a string or a number, got %s",
                              lua_tostring(L, -2), luaL_typename(L, -1));
        val = scalar_text(L, -1, num, sizeof num, &vlen);
        if (!val || vlen == 0)
            ghl_raise_invalid(L, "path parameter '%s' must not be empty", lua_tostring(L, -2));
        /* "." and ".." are dot segments even percent-encoded (RFC 3986
         * 6.2.2.2): a normalising proxy would send the call elsewhere */
        if ((vlen == 1 && val[0] == '.') || (vlen == 2 && val[0] == '.' && val[1] == '.'))
            ghl_raise_invalid(L, "path parameter '%s' must not be \"%s\" (a dot segment: it would change the path)",
                              lua_tostring(L, -2), val);
        check_mem(L, pct_encode(b, val, vlen));
        lua_pop(L, 2);
        i = (size_t)(close - t) + 1;
    }
    if (lua_type(L, params) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, params)) {
            const char *k;
            size_t klen;
            int found = 0;
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                ghl_raise_invalid(L, "opts.path keys must be strings");
            k = lua_tolstring(L, -1, &klen);
            for (i = 0; i + klen + 2 <= tlen && !found; i++)
                found = t[i] == '{' && t[i + klen + 1] == '}' && memcmp(t + i + 1, k, klen) == 0;
            if (!found)
                ghl_raise_invalid(L, "path parameter '%s' is not in \"%s\"", k, t);
        }
    }
}

/* --------------------------------------------------------------- query */

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_pair(lua_State *L, ghl_buf *b, size_t start, const char *k, size_t klen, int vidx) {
    char num[64];
    size_t vlen;
    const char *v = scalar_text(L, vidx, num, sizeof num, &vlen);
    if (!v)
        ghl_raise_invalid(L, "query parameter '%s' must be a string, number, boolean or array of them, got %s",
                          k, lua_type(L, vidx) == LUA_TNUMBER ? "a non-finite number" : luaL_typename(L, vidx));
    if (b->len > start)
        check_mem(L, ghl_buf_addc(b, '&'));
    check_mem(L, pct_encode(b, k, klen));
    check_mem(L, ghl_buf_addc(b, '='));
    check_mem(L, pct_encode(b, v, vlen));
}

/* k=v1,v2 for an array of a parameter the spec declares explode: false
 * (each value percent-encoded, so a comma in one is %2C, never a separator). */
static void add_joined(lua_State *L, ghl_buf *b, size_t start, const char *k, size_t klen, int arr, size_t len) {
    size_t j;
    if (b->len > start)
        check_mem(L, ghl_buf_addc(b, '&'));
    check_mem(L, pct_encode(b, k, klen));
    check_mem(L, ghl_buf_addc(b, '='));
    for (j = 1; j <= len; j++) {
        char num[64];
        size_t vlen;
        const char *v;
        lua_rawgeti(L, arr, (int)j);
        v = scalar_text(L, -1, num, sizeof num, &vlen);
        if (!v)
            ghl_raise_invalid(L, "query parameter '%s' must be an array of strings, numbers or booleans", k);
        if (j > 1)
            check_mem(L, ghl_buf_addc(b, ','));
        check_mem(L, pct_encode(b, v, vlen));
        lua_pop(L, 1);
    }
}

/* Appends k=v&... for the table at q (keys sorted, so the same call always
 * gives the same URL); arrays repeat the key (OpenAPI form + explode), or
 * are joined with commas for the keys of the table at `comma` (explode:
 * false in the spec; 0: none). */
static void encode_query(lua_State *L, ghl_buf *b, int q, int comma) {
    size_t n = 0, i, start = b->len;
    const char **keys;
    q = ghl_absindex(L, q);
    lua_pushnil(L);
    while (lua_next(L, q)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            ghl_raise_invalid(L, "query keys must be strings, got %s", luaL_typename(L, -1));
        n++;
    }
    if (n == 0)
        return;
    keys = (const char **)lua_newuserdatauv(L, n * sizeof *keys, 0); /* freed by the GC */
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, q)) {
        lua_pop(L, 1);
        keys[i++] = lua_tostring(L, -1); /* anchored by the query table */
    }
    qsort(keys, n, sizeof *keys, cmp_keys);
    for (i = 0; i < n; i++) {
        size_t klen = strlen(keys[i]);
        lua_pushstring(L, keys[i]);
        lua_rawget(L, q);
        if (lua_type(L, -1) == LUA_TTABLE) {
            size_t len = lua_rawlen(L, -1), j, count = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                count++;
            }
            if (count != len)
                ghl_raise_invalid(L, "query parameter '%s' must be a scalar or an array (a table with keys 1..n)",
                                  keys[i]);
            if (comma && len > 0) {
                int joined;
                lua_pushstring(L, keys[i]);
                lua_rawget(L, comma);
                joined = lua_toboolean(L, -1);
                lua_pop(L, 1);
                if (joined) {
                    add_joined(L, b, start, keys[i], klen, lua_gettop(L), len);
                    lua_pop(L, 1);
                    continue;
                }
            }
            for (j = 1; j <= len; j++) {
                lua_rawgeti(L, -1, (int)j);
                add_pair(L, b, start, keys[i], klen, -1);
                lua_pop(L, 1);
            }
        } else {
            add_pair(L, b, start, keys[i], klen, -1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* keys */
}

/* ------------------------------------------------------------- headers */

static const char *const MANAGED[] = {"authorization", "host", "content-length", "transfer-encoding",
                                      "connection", NULL};
static const char *const CANONICAL[] = {"Version", "Accept", "User-Agent", "Content-Type", NULL};

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static void check_header_value(lua_State *L, const char *name, const char *v, size_t len) {
    if (ghl_has_ctl(v, len))
        ghl_raise_invalid(L, "header '%s' contains a control character (CR/LF are not allowed)", name);
}

/* Caller headers on top of ours: names must be tokens, values must not be
 * able to end the header line. */
static void add_user_headers(lua_State *L, int headers, int user) {
    lua_pushnil(L);
    while (lua_next(L, user)) {
        const char *k, *v;
        size_t klen, vlen, i;
        int m;
        if (lua_type(L, -2) != LUA_TSTRING)
            ghl_raise_invalid(L, "opts.headers keys must be strings");
        k = lua_tolstring(L, -2, &klen);
        for (i = 0; i < klen; i++)
            if (!ghl_is_token_char((unsigned char)k[i]))
                break;
        if (klen == 0 || i < klen)
            ghl_raise_invalid(L, "header name '%s' is not a valid HTTP token", k);
        for (m = 0; MANAGED[m]; m++)
            if (ieq(k, MANAGED[m]))
                ghl_raise_invalid(L, "header '%s' is set by ghl and cannot be given in opts.headers", k);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            ghl_raise_invalid(L, "header '%s' must be a string, got %s", k, luaL_typename(L, -1));
        v = lua_tolstring(L, -1, &vlen);
        check_header_value(L, k, v, vlen);
        for (m = 0; CANONICAL[m]; m++)
            if (ieq(k, CANONICAL[m]))
                k = CANONICAL[m];
        lua_pushvalue(L, -1);
        lua_setfield(L, headers, k);
        lua_pop(L, 1);
    }
}

/* ----------------------------------------------------------- prepare */

/* body_shape and comma_query come from the catalogue (ghl.operations): the
 * body schema's arrays and objects, the query parameters joined with commas */
static const char *const OPT_KEYS[] = {"path", "query", "body", "headers", "version", "form",
                                       "body_shape", "comma_query", NULL};
enum { A_CLIENT = 1, A_METHOD, A_PATH, A_OPTS, O_PATH, O_QUERY, O_BODY, O_HEADERS, O_VERSION, O_FORM,
       O_BODY_SHAPE, O_COMMA_QUERY };

/* Longer URLs are refused before sending: servers and proxies cut them
 * (GHL's front answers 414 well before this). */
#define MAX_URL 16384

/* The header table of a request: built once per (kind of body, Version)
 * and kept in the client's uservalue, so the common call allocates nothing
 * here and a transport can recognise the table it saw last (the curl
 * transport then reuses its header list). Caller headers make a fresh one.
 * The cache is dropped when the token changes (client:set_token). */
static void push_headers(lua_State *L, ghl_client *c, const char *version, size_t vlen, int has_body) {
    int cache = 0;
    if (lua_isnil(L, O_HEADERS)) {
        /* cache[has_body + 1][version] */
        lua_getiuservalue(L, A_CLIENT, 1);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_rawgeti(L, -1, has_body + 1);
            if (lua_type(L, -1) != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_newtable(L);
                lua_pushvalue(L, -1);
                lua_rawseti(L, -3, has_body + 1);
            }
            lua_replace(L, -2);
            cache = lua_gettop(L);
            lua_pushlstring(L, version, vlen);
            lua_pushvalue(L, -1);
            lua_rawget(L, cache);
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_replace(L, cache);
                lua_settop(L, cache);
                return;
            }
            lua_pop(L, 1); /* nil; the key stays at cache + 1 */
        } else {
            lua_pop(L, 1);
        }
    }
    lua_createtable(L, 0, 6);
    if (c->token) {
        lua_pushfstring(L, "Bearer %s", c->token);
        lua_setfield(L, -2, "Authorization");
    }
    lua_pushlstring(L, version, vlen);
    lua_setfield(L, -2, "Version");
    lua_pushliteral(L, "application/json");
    lua_setfield(L, -2, "Accept");
    lua_pushliteral(L, GHL_USER_AGENT);
    lua_setfield(L, -2, "User-Agent");
    if (has_body) {
        if (has_body == 2)
            lua_pushliteral(L, "application/x-www-form-urlencoded");
        else
            lua_pushliteral(L, "application/json");
        lua_setfield(L, -2, "Content-Type");
    }
    if (lua_type(L, O_HEADERS) == LUA_TTABLE)
        add_user_headers(L, lua_gettop(L), O_HEADERS);
    if (cache) { /* stack: cache, key, new table */
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, cache);
        lua_replace(L, cache);
        lua_settop(L, cache);
    }
}


/* Whether k (len bytes) is one of OPT_KEYS, without a strcmp for each. */
static int known_opt(const char *k, size_t len) {
    int i;
    for (i = 0; OPT_KEYS[i]; i++)
        if (OPT_KEYS[i][0] == k[0] && strlen(OPT_KEYS[i]) == len && memcmp(OPT_KEYS[i], k, len) == 0)
            return 1;
    return 0;
}

static void check_opts(lua_State *L) {
    int i;
    if (lua_isnil(L, A_OPTS))
        return;
    if (lua_type(L, A_OPTS) != LUA_TTABLE)
        ghl_raise_invalid(L, "request options must be a table, got %s", luaL_typename(L, A_OPTS));
    lua_pushnil(L);
    while (lua_next(L, A_OPTS)) {
        const char *k;
        size_t len;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            ghl_raise_invalid(L, "request option keys must be strings");
        k = lua_tolstring(L, -1, &len);
        if (len == 0 || !known_opt(k, len))
            ghl_raise_invalid(L, "unknown request option '%s' (known: path, query, body, form, headers, version)", k);
    }
    for (i = 0; OPT_KEYS[i]; i++) {
        lua_pushstring(L, OPT_KEYS[i]);
        lua_rawget(L, A_OPTS);
    }
}

static void check_version(lua_State *L, const char *v, size_t len, const char *what) {
    size_t i;
    for (i = 0; i < len; i++)
        if (!ghl_is_token_char((unsigned char)v[i]))
            break;
    if (len == 0 || i < len)
        ghl_raise_invalid(L, "%s must be a non-empty API version such as \"2021-07-28\"", what);
}

/* client:prepare(method, path_template, opts) -> request table
 * { method, url, path, headers = {...}, body = json-or-nil } */
int ghl_client_prepare(lua_State *L) {
    ghl_client *c = ghl_check_client(L, A_CLIENT);
    char method[8];
    const char *m, *tmpl, *version;
    size_t mlen, tlen, vlen, i, path_start, path_end;
    ghl_buf *b = &c->scratch;
    int has_body;

    lua_settop(L, A_OPTS);
    if (c->closed)
        return ghl_raise_invalid(L, "client is closed");
    if (lua_type(L, A_METHOD) != LUA_TSTRING)
        return ghl_raise_invalid(L, "method must be a string, got %s", luaL_typename(L, A_METHOD));
    m = lua_tolstring(L, A_METHOD, &mlen);
    for (i = 0; i < mlen && i < sizeof method - 1; i++)
        method[i] = (char)((m[i] >= 'a' && m[i] <= 'z') ? m[i] - 'a' + 'A' : m[i]);
    method[i] = '\0';
    if (mlen >= sizeof method || strlen(m) != mlen ||
        (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "DELETE") &&
         strcmp(method, "PATCH")))
        return ghl_raise_invalid(L, "method must be GET, POST, PUT, PATCH or DELETE (got \"%s\")", m);
    if (lua_type(L, A_PATH) != LUA_TSTRING)
        return ghl_raise_invalid(L, "path must be a string, got %s", luaL_typename(L, A_PATH));
    tmpl = lua_tolstring(L, A_PATH, &tlen);
    check_template(L, tmpl, tlen);
    check_opts(L);
    lua_settop(L, O_COMMA_QUERY); /* opts fields (nil when opts is nil) */

    if (!lua_isnil(L, O_PATH) && lua_type(L, O_PATH) != LUA_TTABLE)
        return ghl_raise_invalid(L, "opts.path must be a table, got %s", luaL_typename(L, O_PATH));
    if (!lua_isnil(L, O_QUERY) && lua_type(L, O_QUERY) != LUA_TTABLE)
        return ghl_raise_invalid(L, "opts.query must be a table, got %s", luaL_typename(L, O_QUERY));
    if (!lua_isnil(L, O_HEADERS) && lua_type(L, O_HEADERS) != LUA_TTABLE)
        return ghl_raise_invalid(L, "opts.headers must be a table, got %s", luaL_typename(L, O_HEADERS));
    has_body = !lua_isnil(L, O_BODY);
    if (has_body && lua_type(L, O_BODY) != LUA_TTABLE)
        return ghl_raise_invalid(L, "opts.body must be a table (it is sent as JSON), got %s",
                                 luaL_typename(L, O_BODY));
    if (!lua_isnil(L, O_FORM)) {
        if (has_body)
            return ghl_raise_invalid(L, "give opts.body (JSON) or opts.form (form-encoded), not both");
        if (lua_type(L, O_FORM) != LUA_TTABLE)
            return ghl_raise_invalid(L, "opts.form must be a table, got %s", luaL_typename(L, O_FORM));
        has_body = 2;
    }
    if (lua_isnil(L, O_VERSION)) {
        version = c->version;
        vlen = strlen(version);
    } else {
        if (lua_type(L, O_VERSION) != LUA_TSTRING)
            return ghl_raise_invalid(L, "opts.version must be a string, got %s", luaL_typename(L, O_VERSION));
        version = lua_tolstring(L, O_VERSION, &vlen);
        check_version(L, version, vlen, "opts.version");
    }

    /* URL: base + filled path + ?query, built in the client's scratch buffer */
    ghl_buf_reset(b);
    check_mem(L, ghl_buf_addstr(b, c->base_url));
    path_start = b->len;
    fill_path(L, b, tmpl, tlen, O_PATH);
    path_end = b->len;
    if (lua_type(L, O_QUERY) == LUA_TTABLE) {
        check_mem(L, ghl_buf_addc(b, '?'));
        encode_query(L, b, O_QUERY, lua_type(L, O_COMMA_QUERY) == LUA_TTABLE ? O_COMMA_QUERY : 0);
        if (b->len == path_end + 1) /* nothing to send: no '?' either */
            b->len = path_end;
        b->data[b->len] = '\0';
    }
    if (b->len > MAX_URL)
        return ghl_raise_invalid(L, "the URL would be %d bytes long, over the %d a request may have (a query too big?)",
                                 (int)b->len, MAX_URL);

    lua_createtable(L, 0, 6);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_pushlstring(L, b->data, b->len);
    lua_setfield(L, -2, "url");
    lua_pushlstring(L, b->data + path_start, path_end - path_start);
    lua_setfield(L, -2, "path");

    push_headers(L, c, version, vlen, has_body);
    lua_setfield(L, -2, "headers");

    if (has_body == 2) {
        ghl_buf *fb = ghl_scratch_new(L);
        encode_query(L, fb, O_FORM, 0);
        lua_pushlstring(L, fb->data ? fb->data : "", fb->len);
        lua_remove(L, -2);
        lua_setfield(L, -2, "body");
    } else if (has_body) {
        ghl_json_encode(L, O_BODY, lua_isnil(L, O_BODY_SHAPE) ? 0 : O_BODY_SHAPE, &c->body, &c->body_keys, "body");
        lua_pushlstring(L, c->body.data ? c->body.data : "", c->body.len);
        lua_setfield(L, -2, "body");
    }
    return 1;
}

/* core.percent_encode(s) */
int ghl_percent_encode_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer lb;
    size_t i;
    luaL_buffinit(L, &lb);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            luaL_addchar(&lb, (char)c);
        } else {
            luaL_addchar(&lb, '%');
            luaL_addchar(&lb, HEX[c >> 4]);
            luaL_addchar(&lb, HEX[c & 15]);
        }
    }
    luaL_pushresult(&lb);
    return 1;
}

/* core.encode_query(t) -> "a=1&b=x" (also the form-urlencoded body encoder) */
int ghl_encode_query_l(lua_State *L) {
    ghl_buf *b;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    b = ghl_scratch_new(L); /* owned by a userdata: an error cannot leak it */
    encode_query(L, b, 1, 0);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}
