/*
 * Pagers: one per paging style GHL uses (ghl-api.md §6.8). Given the params
 * of the request that fetched a page and the decoded page, a pager returns
 * the page's items and the params of the next request, or the end. Pure:
 * no I/O, so iterators (Lua closures, which can yield inside nginx) call it
 * between requests.
 *
 *   local p = core.pager{ style = "skip_limit", items = "locations",
 *                         limit_key = "limit", max_items = 500, max_pages = 10 }
 *   params = p:first(params)
 *   local items, next_params = p:next(params, page)   -- next_params nil: the end
 *   -- nil, err when the server misbehaves (a cursor repeats, no items field)
 */
#include <stdlib.h>
#include <string.h>

#include "ghl.h"
#include "class.h"

#define GHL_PAGER_MT "ghl.Pager"

enum {
    PG_SKIP_LIMIT,
    PG_LIMIT_OFFSET,
    PG_PAGE,
    PG_SEARCH_AFTER,
    PG_KEYSET,
    PG_LAST_MESSAGE_ID,
    PG_START_AFTER_DATE,
    PG_CURSOR
};

static const char *const STYLES[] = {"skip_limit",  "limit_offset",    "page",
                                     "search_after", "keyset",         "last_message_id",
                                     "start_after_date", "cursor",     NULL};

typedef struct {
    int style;
    char items[64];     /* items field; "" = find the one array; "[]" = the page is the array */
    char limit_key[32]; /* name of the page-size parameter */
    double max_items, max_pages; /* 0 = no bound */
    double items_seen, pages_seen;
    int ended;
    ghl_buf cursor;     /* the previous cursor (or first item id): a repeat means a loop */
    ghl_buf scratch;
} ghl_pager;

static ghl_pager *check_pager(lua_State *L) { return (ghl_pager *)luaL_checkudata(L, 1, GHL_PAGER_MT); }

static void copy_name(lua_State *L, int opts, const char *field, char *dst, size_t size, const char *dflt) {
    size_t len;
    const char *s;
    lua_getfield(L, opts, field);
    s = lua_isnil(L, -1) ? dflt : lua_tolstring(L, -1, &len);
    if (!s)
        ghl_raise_invalid(L, "pager option '%s' must be a string", field);
    else if (strlen(s) >= size)
        ghl_raise_invalid(L, "pager option '%s' is too long", field);
    else
        strcpy(dst, s);
    lua_pop(L, 1);
}

static double opt_bound(lua_State *L, int opts, const char *field) {
    double v = 0;
    lua_getfield(L, opts, field);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || (v = lua_tonumber(L, -1)) < 1 || v != v)
            ghl_raise_invalid(L, "%s must be a positive number", field);
    }
    lua_pop(L, 1);
    return v;
}

/* core.pager{ style, items, limit_key, max_items, max_pages } */
static int pager_new(lua_State *L) {
    ghl_pager *p;
    const char *style;
    int i;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    p = (ghl_pager *)ghl_new_object(L, sizeof *p, 0, GHL_PAGER_MT);
    lua_getfield(L, 1, "style");
    style = lua_tostring(L, -1);
    for (i = 0; style && STYLES[i]; i++)
        if (strcmp(style, STYLES[i]) == 0)
            break;
    if (!style || !STYLES[i])
        return ghl_raise_invalid(L, "unknown paging style '%s'", style ? style : "nil");
    p->style = i;
    lua_pop(L, 1);
    copy_name(L, 1, "items", p->items, sizeof p->items, "");
    copy_name(L, 1, "limit_key", p->limit_key, sizeof p->limit_key, "limit");
    p->max_items = opt_bound(L, 1, "max_items");
    p->max_pages = opt_bound(L, 1, "max_pages");
    lua_settop(L, 2);
    return 1;
}

/* ----------------------------------------------------------- helpers */

/* A shallow copy of the table at idx (the next request's params). */
static void push_copy(lua_State *L, int idx) {
    idx = ghl_absindex(L, idx);
    luaL_checkstack(L, 4, NULL);
    lua_newtable(L);
    if (lua_type(L, idx) != LUA_TTABLE)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

static double num_field(lua_State *L, int t, const char *k, double dflt) {
    double v = dflt;
    t = ghl_absindex(L, t);
    if (lua_type(L, t) != LUA_TTABLE)
        return dflt;
    lua_getfield(L, t, k);
    if (lua_type(L, -1) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (lua_type(L, -1) == LUA_TSTRING) { /* skip/limit are strings in some specs */
        char *end;
        const char *s = lua_tostring(L, -1);
        double x = strtod(s, &end);
        if (end != s && *end == '\0')
            v = x;
    }
    lua_pop(L, 1);
    return v;
}

static int is_array(lua_State *L, int idx) {
    idx = ghl_absindex(L, idx); /* lua_pushnil below would shift a relative index */
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    if (lua_rawlen(L, idx) > 0)
        return 1;
    lua_pushnil(L);
    if (lua_next(L, idx)) { /* not empty and no [1]: an object */
        lua_pop(L, 2);
        return 0;
    }
    return 1; /* {} decodes the same as [] */
}

static int is_null(lua_State *L, int idx) {
    return lua_isnil(L, idx) || lua_type(L, idx) == LUA_TLIGHTUSERDATA ||
           (lua_type(L, idx) == LUA_TSTRING && lua_rawlen(L, idx) == 0);
}

/* Pushes the container of the items (the page, or the inner object of a
 * double-wrapped page such as {messages:{messages:[...]}}) and the items.
 * Returns 0, or -1 with an error message pushed instead. */
static int find_items(lua_State *L, ghl_pager *p, int page) {
    int top = lua_gettop(L);
    if (strcmp(p->items, "[]") == 0 || (p->items[0] == '\0' && is_array(L, page))) {
        if (!is_array(L, page)) {
            lua_pushliteral(L, "the page is not an array");
            return -1;
        }
        lua_pushvalue(L, page);
        lua_pushvalue(L, page);
        return 0;
    }
    if (lua_type(L, page) != LUA_TTABLE) {
        lua_pushfstring(L, "the page is a %s, not an object", luaL_typename(L, page));
        return -1;
    }
    if (p->items[0] == '\0') { /* no name given: the one non-empty array field */
        int found = 0;
        lua_pushnil(L); /* top + 1: the name */
        lua_pushnil(L);
        while (lua_next(L, page)) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
                found++;
                lua_pushvalue(L, -2);
                lua_replace(L, top + 1);
            }
            lua_pop(L, 1);
        }
        if (found != 1) {
            lua_settop(L, top);
            lua_pushliteral(L, "cannot tell which field of the page holds the items; pass the items option");
            return -1;
        }
        lua_pushvalue(L, page);
        lua_pushvalue(L, top + 1);
        lua_rawget(L, page);
        lua_remove(L, top + 1);
        return 0;
    }
    lua_pushvalue(L, page);
    lua_getfield(L, page, p->items);
    if (lua_type(L, -1) == LUA_TTABLE && !is_array(L, -1)) {
        lua_getfield(L, -1, p->items);
        if (is_array(L, -1)) {
            lua_remove(L, top + 1); /* the wrapper is the container */
            return 0;
        }
        lua_pop(L, 1);
    }
    if (is_null(L, -1)) { /* no field, or null: an empty page */
        lua_pop(L, 1);
        lua_newtable(L);
        return 0;
    }
    if (!is_array(L, -1)) {
        lua_settop(L, top);
        lua_pushfstring(L, "field '%s' of the page is not an array", p->items);
        return -1;
    }
    return 0;
}

/* Cursors and ids are flat (a string, a number, an array of a few): a
 * deeper value comes from a broken or hostile server. The walk below is
 * bounded by this depth and checks its stack, so no page can overflow the
 * C stack or the Lua stack (found by the red team: 1000 nested arrays). */
#define MAX_CURSOR_DEPTH 16

/* Appends a text form of the value at idx to b (for cursor comparison).
 * -1 when the value is nested deeper than MAX_CURSOR_DEPTH. */
static int add_fingerprint_at(lua_State *L, ghl_buf *b, int idx, int depth) {
    size_t len;
    const char *s;
    idx = ghl_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        size_t i, n = lua_rawlen(L, idx);
        if (depth >= MAX_CURSOR_DEPTH)
            return -1;
        luaL_checkstack(L, 2, "paging: a cursor too deep for the stack");
        for (i = 1; i <= n; i++) {
            int r;
            lua_rawgeti(L, idx, (int)i);
            r = add_fingerprint_at(L, b, -1, depth + 1);
            lua_pop(L, 1);
            if (r)
                return r;
            ghl_buf_addc(b, '\x1f');
        }
        return 0;
    }
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        s = lua_tolstring(L, -1, &len);
        ghl_buf_add(b, s, len);
        lua_pop(L, 1);
    }
    return 0;
}

static int add_fingerprint(lua_State *L, ghl_buf *b, int idx) { return add_fingerprint_at(L, b, idx, 0); }

#define TOO_DEEP "paging: the server sent an id or cursor nested more than 16 levels deep; stopping"

static void item_field(lua_State *L, int items, int i, const char *k) {
    lua_rawgeti(L, items, i);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, k);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

static int fail(lua_State *L, const char *kind, const char *msg) {
    lua_pushnil(L);
    ghl_error_push(L, kind, 0, msg, strlen(msg));
    return 2;
}

/* ------------------------------------------------------------- API */

enum { A_PAGER = 1, A_PARAMS, A_PAGE };

/* p:first(params) -> a copy of params ready for the first request */
static int pager_first(lua_State *L) {
    ghl_pager *p = check_pager(L);
    lua_settop(L, A_PARAMS);
    p->items_seen = p->pages_seen = 0;
    p->ended = 0;
    ghl_buf_reset(&p->cursor);
    push_copy(L, A_PARAMS);
    /* never both: searchAfter continues where page would restart */
    if (p->style == PG_SEARCH_AFTER) {
        lua_getfield(L, -1, "searchAfter");
        if (!lua_isnil(L, -1)) {
            lua_pushnil(L);
            lua_setfield(L, -3, "page");
        }
        lua_pop(L, 1);
    }
    return 1;
}

/* p:next(params, page) -> items, next_params | items (the end) | nil, err */
static int pager_next(lua_State *L) {
    ghl_pager *p = check_pager(L);
    int container, items, n, short_page, end = 0;
    double limit, total = -1, want;
    lua_settop(L, A_PAGE);
    luaL_checkstack(L, 24, NULL);
    if (p->ended)
        return fail(L, "invalid_argument", "this pager has already reached the end");
    if (find_items(L, p, A_PAGE) != 0) {
        lua_pushfstring(L, "paging: %s", lua_tostring(L, -1));
        ghl_error_push(L, "decode", 0, lua_tostring(L, -1), lua_rawlen(L, -1));
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    container = lua_gettop(L) - 1;
    items = container + 1;
    n = (int)lua_rawlen(L, items);
    p->pages_seen++;

    /* a server that answers the same page again would loop us forever */
    if (n > 0) {
        ghl_buf *fp = &p->scratch;
        int deep;
        ghl_buf_reset(fp);
        item_field(L, items, 1, "id");
        deep = add_fingerprint(L, fp, -1);
        lua_pop(L, 1);
        ghl_buf_addc(fp, '|');
        item_field(L, items, n, "id");
        deep = deep || add_fingerprint(L, fp, -1);
        lua_pop(L, 1);
        if (deep)
            return fail(L, "decode", TOO_DEEP);
        if (fp->len > 2 && p->cursor.len == fp->len && memcmp(p->cursor.data, fp->data, fp->len) == 0)
            return fail(L, "decode", "paging: the server returned the same page twice; stopping instead of looping");
        ghl_buf_reset(&p->cursor);
        ghl_buf_add(&p->cursor, fp->data, fp->len);
    }

    limit = num_field(L, A_PARAMS, p->limit_key, 0);
    short_page = n == 0 || (limit > 0 && n < limit);
    /* the total, where GHL gives one ("count" is not trusted: on some
     * endpoints it may be the page's own size, and trusting it would cut
     * a walk short in silence) */
    total = num_field(L, A_PAGE, "total", -1);
    if (total < 0)
        total = num_field(L, A_PAGE, "totalCount", -1);
    if (total < 0) {
        lua_getfield(L, A_PAGE, "meta");
        total = num_field(L, lua_gettop(L), "total", -1);
        lua_pop(L, 1);
    }
    p->items_seen += n;

    /* max_items: cut the page and stop */
    if (p->max_items > 0 && p->items_seen >= p->max_items) {
        want = n - (p->items_seen - p->max_items);
        if (want < n) {
            int i;
            lua_createtable(L, (int)want, 0);
            for (i = 1; i <= (int)want; i++) {
                lua_rawgeti(L, items, i);
                lua_rawseti(L, -2, i);
            }
            lua_replace(L, items);
        }
        end = 1;
    }
    if (p->max_pages > 0 && p->pages_seen >= p->max_pages)
        end = 1;
    if (total >= 0 && p->items_seen >= total && p->style != PG_LAST_MESSAGE_ID && p->style != PG_CURSOR)
        end = 1;

    push_copy(L, A_PARAMS); /* next params at items + 1 */
    switch (p->style) {
    case PG_SKIP_LIMIT:
    case PG_LIMIT_OFFSET: {
        const char *key = p->style == PG_SKIP_LIMIT ? "skip" : "offset";
        if (short_page)
            end = 1;
        if (p->style == PG_LIMIT_OFFSET) {
            lua_getfield(L, container, "hasMore");
            if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
                end = 1;
            lua_pop(L, 1);
        }
        lua_pushnumber(L, num_field(L, A_PARAMS, key, 0) + n);
        lua_setfield(L, -2, key);
        break;
    }
    case PG_PAGE:
        if (short_page)
            end = 1;
        lua_pushnumber(L, num_field(L, A_PARAMS, "page", 1) + 1);
        lua_setfield(L, -2, "page");
        break;
    case PG_SEARCH_AFTER:
        if (short_page)
            end = 1;
        if (!end) {
            item_field(L, items, n, "searchAfter");
            if (lua_type(L, -1) != LUA_TTABLE) {
                lua_pop(L, 1);
                return fail(L, "decode", "paging: the last item has no searchAfter cursor");
            }
            lua_setfield(L, -2, "searchAfter");
            lua_pushnil(L);
            lua_setfield(L, -2, "page"); /* page and searchAfter must not be combined */
        }
        break;
    case PG_KEYSET: {
        int meta;
        if (short_page)
            end = 1;
        lua_getfield(L, A_PAGE, "meta");
        meta = lua_gettop(L);
        if (lua_type(L, meta) != LUA_TTABLE) {
            end = 1;
        } else {
            lua_getfield(L, meta, "startAfterId");
            lua_getfield(L, meta, "startAfter");
            if (is_null(L, -2) || is_null(L, -1))
                end = 1;
            lua_setfield(L, meta - 1, "startAfter"); /* meta - 1: the next params */
            lua_setfield(L, meta - 1, "startAfterId");
        }
        lua_settop(L, meta);
        lua_pop(L, 1);
        break;
    }
    case PG_LAST_MESSAGE_ID:
        lua_getfield(L, container, "nextPage");
        if (!lua_toboolean(L, -1) || n == 0)
            end = 1;
        lua_pop(L, 1);
        lua_getfield(L, container, "lastMessageId");
        if (is_null(L, -1)) {
            lua_pop(L, 1);
            item_field(L, items, n, "id");
        }
        if (is_null(L, -1) && !end) {
            lua_pop(L, 1);
            return fail(L, "decode", "paging: the page has neither lastMessageId nor message ids");
        }
        lua_setfield(L, -2, "lastMessageId");
        break;
    case PG_START_AFTER_DATE:
        if (short_page)
            end = 1;
        if (!end) {
            item_field(L, items, n, "sort");
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_rawgeti(L, -1, 1);
                lua_remove(L, -2);
            }
            if (is_null(L, -1)) {
                lua_pop(L, 1);
                item_field(L, items, n, "lastMessageDate");
            }
            if (is_null(L, -1)) {
                lua_pop(L, 1);
                return fail(L, "decode", "paging: the last conversation has no sort value for startAfterDate");
            }
            lua_setfield(L, -2, "startAfterDate");
        }
        break;
    case PG_CURSOR:
        lua_getfield(L, A_PAGE, "nextCursor");
        if (is_null(L, -1))
            end = 1;
        lua_setfield(L, -2, "cursor");
        break;
    }

    /* a cursor we already sent means the server is not moving forward */
    if (!end && (p->style == PG_SEARCH_AFTER || p->style == PG_KEYSET || p->style == PG_LAST_MESSAGE_ID ||
                 p->style == PG_START_AFTER_DATE || p->style == PG_CURSOR)) {
        static const char *const keys[] = {"searchAfter", "startAfterId", "lastMessageId", "startAfterDate", "cursor"};
        const char *k = keys[p->style == PG_SEARCH_AFTER ? 0 : p->style == PG_KEYSET ? 1
                             : p->style == PG_LAST_MESSAGE_ID ? 2 : p->style == PG_START_AFTER_DATE ? 3 : 4];
        ghl_buf *a = &p->scratch;
        int same, deep;
        ghl_buf_reset(a);
        lua_getfield(L, A_PARAMS, k);
        deep = add_fingerprint(L, a, -1);
        lua_getfield(L, -2, k);
        {
            size_t before = a->len;
            deep = deep || add_fingerprint(L, a, -1);
            same = a->len - before == before && before > 0 && memcmp(a->data, a->data + before, before) == 0;
        }
        lua_pop(L, 2);
        if (deep)
            return fail(L, "decode", TOO_DEEP);
        if (same)
            return fail(L, "decode", "paging: the server returned the same cursor twice; stopping instead of looping");
    }

    if (end) {
        p->ended = 1;
        lua_pop(L, 1);
        lua_pushvalue(L, items);
        return 1;
    }
    lua_pushvalue(L, items);
    lua_insert(L, -2);
    return 2;
}

static int pager_stats(lua_State *L) {
    ghl_pager *p = check_pager(L);
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, p->pages_seen);
    lua_setfield(L, -2, "pages");
    lua_pushnumber(L, p->items_seen);
    lua_setfield(L, -2, "items");
    lua_pushboolean(L, p->ended);
    lua_setfield(L, -2, "ended");
    return 1;
}

static int pager_gc(lua_State *L) {
    ghl_pager *p = check_pager(L);
    ghl_buf_free(&p->cursor);
    ghl_buf_free(&p->scratch);
    return 0;
}

/* The Lua API registered here is documented (LDoc) in core.c. */
void ghl_pager_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"first", pager_first}, {"next", pager_next}, {"stats", pager_stats}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", pager_gc}, {NULL, NULL}};
    ghl_new_class(L, GHL_PAGER_MT, meta, methods, 0);
    lua_pushcfunction(L, pager_new);
}
