/*
 * Pagers: a walk through one of GHL's paged lists. Given the params of the
 * request that fetched a page and the decoded page, a pager returns the
 * page's items and the params of the next request, or the end. Pure: no
 * I/O, so iterators (Lua closures, which can yield inside nginx) call it
 * between requests. The styles (how a cursor is read from a page) are in
 * pager_styles.c; what they share is here: the items (by path), the end
 * (an empty or short page, a total reached, hasMore/hasNext/nextPage, the
 * bounds), and the guards against a server that does not move forward.
 *
 *   local p = core.pager{ style = "skip_limit", items = "results.posts",
 *                         size_key = "limit", max_items = 500 }
 *   params = p:first(params)
 *   local items, next_params = p:next(params, page)   -- next_params nil: the end
 *   -- nil, err when the server misbehaves (a cursor repeats, no items)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "pager.h"

#define GHL_PAGER_MT "ghl.Pager"

static ghl_pager *check_pager(lua_State *L) { return (ghl_pager *)luaL_checkudata(L, 1, GHL_PAGER_MT); }

/* ------------------------------------------------------- creation */

static void copy_name(lua_State *L, int opts, const char *field, char *dst, size_t size, const char *dflt) {
    const char *s;
    lua_getfield(L, opts, field);
    s = lua_isnil(L, -1) ? dflt : (lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL);
    if (!s)
        ghl_raise_invalid(L, "pager option '%s' must be a string", field);
    else if (strlen(s) >= size)
        ghl_raise_invalid(L, "pager option '%s' is too long", field);
    else
        strcpy(dst, s);
    lua_pop(L, 1);
}

static double opt_number(lua_State *L, int opts, const char *field, double dflt, double min) {
    double v = dflt;
    lua_getfield(L, opts, field);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || (v = lua_tonumber(L, -1)) < min || v != v)
            ghl_raise_invalid(L, "%s must be a number of at least %d", field, (int)min);
    }
    lua_pop(L, 1);
    return v;
}

/* core.pager{ style, items, cursor_key, size_key (or limit_key), cursor_string,
 *             first_page, max_items, max_pages } */
static int pager_new(lua_State *L) {
    ghl_pager *p;
    const ghl_style *style;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "style");
    style = ghl_style_find(lua_tostring(L, -1));
    if (!style)
        return ghl_raise_invalid(L, "unknown paging style '%s' (styles: %s)",
                                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "nil", ghl_style_list());
    lua_pop(L, 1);
    p = (ghl_pager *)ghl_new_object(L, sizeof *p, 0, GHL_PAGER_MT);
    p->style = style;
    copy_name(L, 1, "items", p->items, sizeof p->items, "");
    copy_name(L, 1, "cursor_key", p->cursor_key, sizeof p->cursor_key, style->cursor);
    lua_getfield(L, 1, "size_key");
    copy_name(L, 1, lua_isnil(L, -1) ? "limit_key" : "size_key", p->size_key, sizeof p->size_key, style->size);
    lua_pop(L, 1);
    lua_getfield(L, 1, "cursor_string");
    p->cursor_string = lua_toboolean(L, -1);
    lua_pop(L, 1);
    p->first_page = opt_number(L, 1, "first_page", 1, 0);
    p->max_items = opt_number(L, 1, "max_items", 0, 1);
    p->max_pages = opt_number(L, 1, "max_pages", 0, 1);
    return 1;
}

/* ------------------------------------------------ helpers (pager.h) */

double ghl_page_number(lua_State *L, int t, const char *k, double dflt) {
    double v = dflt;
    t = ghl_absindex(L, t);
    if (lua_type(L, t) != LUA_TTABLE)
        return dflt;
    lua_getfield(L, t, k);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        v = lua_tonumber(L, -1);
    } else if (lua_type(L, -1) == LUA_TSTRING) { /* skip/limit are strings in some specs */
        char *end;
        const char *s = lua_tostring(L, -1);
        double x = strtod(s, &end);
        if (end != s && *end == '\0')
            v = x;
    }
    lua_pop(L, 1);
    return v;
}

int ghl_page_null(lua_State *L, int idx) {
    return lua_isnil(L, idx) || lua_type(L, idx) == LUA_TLIGHTUSERDATA ||
           (lua_type(L, idx) == LUA_TSTRING && lua_rawlen(L, idx) == 0);
}

void ghl_page_item_field(lua_State *L, int items, int i, const char *k) {
    lua_rawgeti(L, items, i);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, k);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

void ghl_page_field(lua_State *L, int t, const char *path) {
    char seg[64];
    const char *dot;
    lua_pushvalue(L, t);
    while (*path) {
        size_t len;
        dot = strchr(path, '.');
        len = dot ? (size_t)(dot - path) : strlen(path);
        if (lua_type(L, -1) != LUA_TTABLE || len >= sizeof seg) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return;
        }
        memcpy(seg, path, len);
        seg[len] = '\0';
        lua_getfield(L, -1, seg);
        lua_remove(L, -2);
        path += len + (dot ? 1 : 0);
    }
}

void ghl_page_push_count(lua_State *L, const ghl_pager *p, double v) {
    if (p->cursor_string) {
        char s[32];
        snprintf(s, sizeof s, "%.0f", v);
        lua_pushstring(L, s);
    } else if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(long long)v) {
        lua_pushinteger(L, (lua_Integer)v); /* 20, not 20.0 */
    } else {
        lua_pushnumber(L, v);
    }
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

/* Whether the table at idx holds a non-empty array within `depth` levels. */
static int holds_array(lua_State *L, int idx, int depth) {
    int found = 0;
    idx = ghl_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || depth < 0)
        return 0;
    if (lua_rawlen(L, idx) > 0)
        return 1;
    luaL_checkstack(L, 3, NULL);
    lua_pushnil(L);
    while (!found && lua_next(L, idx)) {
        found = holds_array(L, -1, depth - 1);
        lua_pop(L, 1);
    }
    if (found)
        lua_pop(L, 1); /* the key lua_next left */
    return found;
}

/* ------------------------------------------------------------ items */

/* The one non-empty array field of the page (no items path known). */
static int find_only_array(lua_State *L, int page) {
    int top = lua_gettop(L), found = 0;
    lua_pushnil(L); /* top + 1: the items */
    lua_pushnil(L);
    while (lua_next(L, page)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
            found++;
            lua_replace(L, top + 1);
        } else {
            lua_pop(L, 1);
        }
    }
    if (found > 1) {
        lua_settop(L, top);
        lua_pushliteral(L, "cannot tell which field of the page holds the items; pass the items option");
        return -1;
    }
    if (found == 0) { /* no list at all: an empty page */
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_pushvalue(L, page);
    lua_insert(L, top + 1);
    return 0;
}

/* Pushes the container of the items and the items (2 values), or an error
 * message (1 value) and returns -1. The path's last step may be wrapped
 * once more ({messages:{messages:[...]}}, seen in the wild). A missing or
 * null field is an empty page, unless the page holds a list elsewhere: then
 * the path is wrong, and saying so beats walking nothing in silence. */
static int find_items(lua_State *L, const ghl_pager *p, int page) {
    const char *path = strcmp(p->items, "*") == 0 ? "" : p->items, *last; /* "*": found at run time */
    int top = lua_gettop(L);
    if (strcmp(path, "[]") == 0 || (path[0] == '\0' && is_array(L, page))) {
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
    if (path[0] == '\0')
        return find_only_array(L, page);
    last = strrchr(path, '.');
    if (last) { /* the container: the path up to its last step */
        lua_pushlstring(L, path, (size_t)(last - path));
        ghl_page_field(L, page, lua_tostring(L, -1));
        lua_remove(L, -2);
        last++;
    } else {
        lua_pushvalue(L, page);
        last = path;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        lua_pushnil(L);
    else
        lua_getfield(L, -1, last);
    if (lua_type(L, -1) == LUA_TTABLE && !is_array(L, -1)) { /* wrapped once more */
        lua_getfield(L, -1, last);
        if (is_array(L, -1)) {
            lua_remove(L, -3);
            return 0;
        }
        lua_pop(L, 1);
    }
    if (is_array(L, -1))
        return 0;
    if (!ghl_page_null(L, -1)) {
        lua_settop(L, top);
        lua_pushfstring(L, "field '%s' of the page is not an array", path);
        return -1;
    }
    if (lua_isnil(L, -1) && holds_array(L, page, 3)) {
        lua_settop(L, top);
        lua_pushfstring(L, "the page has no '%s' but holds a list elsewhere: pass the items option", path);
        return -1;
    }
    lua_settop(L, top); /* null or nothing: an empty page */
    lua_pushvalue(L, page);
    lua_newtable(L);
    return 0;
}

/* ------------------------------------------------------ the end */

/* A flag that says there is no next page: hasMore or hasNext false, or
 * nextPage false or null, on the page, the items' container, page.meta or
 * page.pagination. */
static int says_end(lua_State *L, int page, int container) {
    static const char *const places[] = {NULL, NULL, "meta", "pagination"};
    int i, end = 0;
    for (i = 0; i < 4 && !end; i++) {
        int t;
        if (i == 0)
            lua_pushvalue(L, page);
        else if (i == 1)
            lua_pushvalue(L, container);
        else
            lua_getfield(L, page, places[i]);
        t = lua_gettop(L);
        if (lua_type(L, t) == LUA_TTABLE) {
            lua_getfield(L, t, "hasMore");
            lua_getfield(L, t, "hasNext");
            lua_getfield(L, t, "nextPage");
            end = (lua_type(L, -3) == LUA_TBOOLEAN && !lua_toboolean(L, -3)) ||
                  (lua_type(L, -2) == LUA_TBOOLEAN && !lua_toboolean(L, -2)) ||
                  (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
                  lua_type(L, -1) == LUA_TLIGHTUSERDATA; /* JSON null */
        }
        lua_settop(L, t - 1);
    }
    return end;
}

/* The page's total, where GHL gives one; -1 when none. ("count" is not
 * read: on some endpoints it is the page's own size, and trusting it would
 * cut a walk short in silence.) */
static double page_total(lua_State *L, int page, int container) {
    static const char *const paths[] = {"total", "totalCount", "meta.total", "pagination.total"};
    size_t i;
    double total = -1;
    for (i = 0; i < sizeof paths / sizeof paths[0] && total < 0; i++) {
        ghl_page_field(L, page, paths[i]);
        if (lua_type(L, -1) == LUA_TNUMBER)
            total = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    if (total < 0 && container != page) {
        lua_getfield(L, container, "total");
        if (lua_type(L, -1) == LUA_TNUMBER)
            total = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return total;
}

/* ------------------------------------------------------ loop guards */

/* Cursors and ids are flat (a string, a number, an array of a few): a
 * deeper value comes from a broken or hostile server. The walk below is
 * bounded by this depth and checks its stack, so no page can overflow the
 * C stack or the Lua stack (found by the red team: 1000 nested arrays). */
#define MAX_CURSOR_DEPTH 16
#define TOO_DEEP "paging: the server sent an id or cursor nested more than 16 levels deep; stopping"

/* Appends a text form of the value at idx to b (for comparison). -1 when
 * the value is nested deeper than MAX_CURSOR_DEPTH. */
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

static int fail(lua_State *L, const char *kind, const char *msg) {
    lua_pushnil(L);
    ghl_error_push(L, kind, 0, msg, strlen(msg));
    return 2;
}

/* The same first and last item ids as the page before: a server that
 * answers the same page again would loop us forever. NULL, or the error. */
static const char *repeated_page(lua_State *L, ghl_pager *p, int items, int n) {
    ghl_buf *fp = &p->scratch;
    int deep;
    ghl_buf_reset(fp);
    ghl_page_item_field(L, items, 1, "id");
    deep = add_fingerprint(L, fp, -1);
    lua_pop(L, 1);
    ghl_buf_addc(fp, '|');
    ghl_page_item_field(L, items, n, "id");
    deep = deep || add_fingerprint(L, fp, -1);
    lua_pop(L, 1);
    if (deep)
        return TOO_DEEP;
    if (fp->len > 2 && p->cursor.len == fp->len && memcmp(p->cursor.data, fp->data, fp->len) == 0)
        return "paging: the server returned the same page twice; stopping instead of looping";
    ghl_buf_reset(&p->cursor);
    ghl_buf_add(&p->cursor, fp->data, fp->len);
    return NULL;
}

/* The cursor of the next request is the one just sent: the server is not
 * moving forward. NULL, or the error. */
static const char *repeated_cursor(lua_State *L, ghl_pager *p, int params, int next) {
    ghl_buf *a = &p->scratch;
    size_t before;
    int same, deep;
    ghl_buf_reset(a);
    lua_getfield(L, params, p->cursor_key);
    deep = add_fingerprint(L, a, -1);
    before = a->len;
    lua_getfield(L, next, p->cursor_key);
    deep = deep || add_fingerprint(L, a, -1);
    same = a->len - before == before && before > 0 && memcmp(a->data, a->data + before, before) == 0;
    lua_pop(L, 2);
    if (deep)
        return TOO_DEEP;
    return same ? "paging: the server returned the same cursor twice; stopping instead of looping" : NULL;
}

/* ------------------------------------------------------------- API */

enum { A_PAGER = 1, A_PARAMS, A_PAGE };

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

/* p:first(params) -> a copy of params ready for the first request */
static int pager_first(lua_State *L) {
    ghl_pager *p = check_pager(L);
    lua_settop(L, A_PARAMS);
    p->items_seen = p->pages_seen = 0;
    p->ended = 0;
    ghl_buf_reset(&p->cursor);
    push_copy(L, A_PARAMS);
    /* never both: searchAfter continues where page would restart */
    if (strcmp(p->style->name, "search_after") == 0) {
        lua_getfield(L, -1, p->cursor_key);
        if (!lua_isnil(L, -1)) {
            lua_pushnil(L);
            lua_setfield(L, -3, "page");
        }
        lua_pop(L, 1);
    }
    return 1;
}

/* Cuts the items at `items` to the first `want` (max_items). */
static void cut_items(lua_State *L, int items, int want) {
    int i;
    lua_createtable(L, want, 0);
    for (i = 1; i <= want; i++) {
        lua_rawgeti(L, items, i);
        lua_rawseti(L, -2, i);
    }
    lua_replace(L, items);
}

/* Whether this page is the last one, before the style reads a cursor. */
static int is_last(lua_State *L, ghl_pager *p, const ghl_page_view *v) {
    unsigned traits = p->style->traits;
    double size = ghl_page_number(L, v->params, p->size_key, 0), total;
    if (v->n == 0 || (p->max_pages > 0 && p->pages_seen >= p->max_pages) ||
        (p->max_items > 0 && p->items_seen >= p->max_items))
        return 1;
    if ((traits & STYLE_SHORT_PAGE_ENDS) && size > 0 && v->n < size)
        return 1;
    if (traits & STYLE_TRUSTS_TOTAL) {
        total = page_total(L, v->page, v->container);
        if (total >= 0 && p->items_seen >= total)
            return 1;
    }
    return says_end(L, v->page, v->container);
}

/* p:next(params, page) -> items, next_params | items (the end) | nil, err */
static int pager_next(lua_State *L) {
    ghl_pager *p = check_pager(L);
    ghl_page_view v;
    const char *why;
    int end, r;
    lua_settop(L, A_PAGE);
    luaL_checkstack(L, 24, NULL);
    if (p->ended)
        return fail(L, "invalid_argument", "this pager has already reached the end");
    if (find_items(L, p, A_PAGE) != 0) {
        lua_pushfstring(L, "paging: %s", lua_tostring(L, -1));
        return fail(L, "decode", lua_tostring(L, -1));
    }
    v.params = A_PARAMS;
    v.page = A_PAGE;
    v.container = A_PAGE + 1;
    v.items = A_PAGE + 2;
    v.n = (int)lua_rawlen(L, v.items);
    p->pages_seen++;
    if (v.n > 0 && (why = repeated_page(L, p, v.items, v.n)) != NULL)
        return fail(L, "decode", why);
    p->items_seen += v.n;
    if (p->max_items > 0 && p->items_seen > p->max_items) {
        cut_items(L, v.items, v.n - (int)(p->items_seen - p->max_items));
        p->items_seen = p->max_items;
    }
    end = is_last(L, p, &v);
    push_copy(L, A_PARAMS);
    v.next = lua_gettop(L);
    if (!end) {
        r = p->style->advance(L, p, &v);
        if (r == GHL_PAGE_FAIL) {
            lua_pushfstring(L, "paging: %s", lua_tostring(L, -1));
            return fail(L, "decode", lua_tostring(L, -1));
        }
        end = r == GHL_PAGE_END;
    }
    if (!end && (p->style->traits & STYLE_GUARDS_CURSOR) && (why = repeated_cursor(L, p, A_PARAMS, v.next)) != NULL)
        return fail(L, "decode", why);
    if (end) {
        p->ended = 1;
        lua_settop(L, v.items);
        return 1;
    }
    lua_pushvalue(L, v.items);
    lua_insert(L, v.next);
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
