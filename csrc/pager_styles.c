/* GHL's paging styles, as tools/spec_paging.lua classifies every paged
 * operation of the services' specs (by its cursor parameter and answer
 * schema): one descriptor each, with the function that reads the
 * next cursor from a page. The walk (pager.c) does the rest: items, end
 * flags, totals, short and empty pages, loop guards, bounds. */
#include <string.h>

#include "pager.h"

/* skip_limit, limit_offset: the cursor counts the items seen so far */
static int advance_offset(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    ghl_page_push_count(L, p, ghl_page_number(L, v->params, p->cursor_key, 0) + v->n);
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

/* page: the page number + 1, up to pagination.totalPages when given */
static int advance_page(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    double page = ghl_page_number(L, v->params, p->cursor_key, p->first_page);
    double pages = -1;
    ghl_page_field(L, v->page, "pagination.totalPages");
    if (lua_type(L, -1) == LUA_TNUMBER)
        pages = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (pages >= 0 && page - p->first_page + 1 >= pages)
        return GHL_PAGE_END;
    ghl_page_push_count(L, p, page + 1);
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

/* search_after: the last item's searchAfter (elasticsearch's sort values) */
static int advance_search_after(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    ghl_page_item_field(L, v->items, v->n, "searchAfter");
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        ghl_page_item_field(L, v->items, v->n, "sort");
    }
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushliteral(L, "the last item has no searchAfter cursor");
        return GHL_PAGE_FAIL;
    }
    lua_setfield(L, v->next, p->cursor_key);
    lua_pushnil(L);
    lua_setfield(L, v->next, "page"); /* page and searchAfter must not be combined */
    return GHL_PAGE_MORE;
}

/* keyset: meta.startAfterId and meta.startAfter (never meta.nextPageUrl,
 * which points at GHL's own test host in the spec) */
static int advance_keyset(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    int more;
    (void)p;
    ghl_page_field(L, v->page, "meta.startAfter");
    ghl_page_field(L, v->page, "meta.startAfterId");
    more = !ghl_page_null(L, -1) && !ghl_page_null(L, -2);
    if (more) {
        lua_setfield(L, v->next, "startAfterId");
        lua_setfield(L, v->next, "startAfter");
    } else {
        lua_pop(L, 2);
    }
    return more ? GHL_PAGE_MORE : GHL_PAGE_END;
}

/* last_id: the page names where to continue under the cursor's own name
 * (lastMessageId, lastFaqId, data.lastKnowledgeBaseId), else the last
 * item's id */
static int advance_last_id(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    lua_getfield(L, v->container, p->cursor_key);
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, v->page, p->cursor_key);
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        ghl_page_item_field(L, v->items, v->n, "id");
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_pushfstring(L, "the page has neither %s nor item ids", p->cursor_key);
        return GHL_PAGE_FAIL;
    }
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

/* cursor: the page's opaque nextCursor, null at the end */
static int advance_cursor(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    lua_getfield(L, v->container, "nextCursor");
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, v->page, "nextCursor");
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        return GHL_PAGE_END;
    }
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

/* after_item: the id of the last item (startAfter "is the agent id to
 * start after"; lastDoc "id for last document") */
static int advance_after_item(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    ghl_page_item_field(L, v->items, v->n, "id");
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        ghl_page_item_field(L, v->items, v->n, "_id");
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "the last item has no id to continue after");
        return GHL_PAGE_FAIL;
    }
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

/* sortBy -> the conversation field it sorts on */
static const char *const SORT_FIELDS[][2] = {{"last_message_date", "lastMessageDate"},
                                             {"last_manual_message_date", "lastManualMessageDate"},
                                             {"overdue_at", "overdueAt"},
                                             {"due_at", "dueAt"}};

/* start_after_date: "the sort value of the last document": its sort[1],
 * else the field that the request's sortBy sorts on */
static int advance_start_after_date(lua_State *L, const ghl_pager *p, const ghl_page_view *v) {
    char by[40] = "last_message_date";
    const char *field = NULL;
    size_t i;
    ghl_page_item_field(L, v->items, v->n, "sort");
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, v->params, "sortBy");
        if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) < sizeof by)
            strcpy(by, lua_tostring(L, -1));
        else if (!lua_isnil(L, -1))
            strcpy(by, "(unknown)");
        lua_pop(L, 1);
        for (i = 0; i < sizeof SORT_FIELDS / sizeof SORT_FIELDS[0]; i++)
            if (strcmp(by, SORT_FIELDS[i][0]) == 0)
                field = SORT_FIELDS[i][1];
        if (field)
            ghl_page_item_field(L, v->items, v->n, field);
        else
            lua_pushnil(L);
    }
    if (ghl_page_null(L, -1)) {
        lua_pop(L, 1);
        lua_pushfstring(L, "the last conversation has no sort value (no sort, and no field for sortBy %s)", by);
        return GHL_PAGE_FAIL;
    }
    lua_setfield(L, v->next, p->cursor_key);
    return GHL_PAGE_MORE;
}

#define T STYLE_TRUSTS_TOTAL
#define S STYLE_SHORT_PAGE_ENDS
#define G STYLE_GUARDS_CURSOR

static const ghl_style STYLES[] = {
    {"skip_limit", "skip", "limit", T | S, advance_offset},
    {"limit_offset", "offset", "limit", T | S, advance_offset},
    {"page", "page", "limit", T | S, advance_page},
    {"search_after", "searchAfter", "limit", T | S | G, advance_search_after},
    {"keyset", "startAfterId", "limit", T | S | G, advance_keyset},
    {"last_id", "lastMessageId", "limit", G, advance_last_id},
    {"cursor", "cursor", "limit", G, advance_cursor},
    {"after_item", "startAfter", "limit", T | S | G, advance_after_item},
    {"start_after_date", "startAfterDate", "limit", T | S | G, advance_start_after_date},
};

const ghl_style *ghl_style_find(const char *name) {
    size_t i;
    for (i = 0; name && i < sizeof STYLES / sizeof STYLES[0]; i++)
        if (strcmp(name, STYLES[i].name) == 0)
            return &STYLES[i];
    return NULL;
}

const char *ghl_style_list(void) {
    return "skip_limit, limit_offset, page, search_after, keyset, last_id, cursor, after_item, start_after_date";
}
