/* Paging: the walk (pager.c) and the table of GHL's paging styles
 * (pager_styles.c). A style says where its cursor goes and how it reads the
 * next one from a page; everything the styles share (finding the items,
 * the end flags, totals, the loop guards, max_items/max_pages) is the
 * walk's. Adding a style is one descriptor and one advance function. */
#ifndef GHL_PAGER_H
#define GHL_PAGER_H

#include "ghl.h"

/* A style's traits */
#define STYLE_TRUSTS_TOTAL 1u  /* total/totalCount/meta.total/pagination.total bounds the walk */
#define STYLE_SHORT_PAGE_ENDS 2u /* a page shorter than the page size is the last */
#define STYLE_GUARDS_CURSOR 4u /* the cursor sent again means the server does not move: an error */

typedef struct ghl_style ghl_style;

/* One walk (the userdata). Names are the catalogue's, or the style's defaults. */
typedef struct {
    const ghl_style *style;
    char items[128];     /* items path ("results.posts"); "" = the page's one array; "[]" = the page */
    char cursor_key[32]; /* the parameter the cursor goes in */
    char size_key[32];   /* the page-size parameter */
    int cursor_string;   /* the spec types the cursor a string: send "20", not 20 */
    double first_page;   /* the page number of the first page (page style; spec default) */
    double max_items, max_pages; /* 0 = no bound */
    double items_seen, pages_seen;
    int ended;
    ghl_buf cursor;  /* the previous page's first and last ids: a repeat means a loop */
    ghl_buf scratch;
} ghl_pager;

/* What an advance function sees of one page: stack indexes. */
typedef struct {
    int params;    /* the params that fetched this page */
    int page;      /* the decoded page */
    int container; /* the table holding the items (the page, or an object in it) */
    int items;     /* the items (an array) */
    int next;      /* the next request's params: a copy of params, to fill */
    int n;         /* how many items */
} ghl_page_view;

enum { GHL_PAGE_MORE = 0, GHL_PAGE_END = 1, GHL_PAGE_FAIL = -1 };

/* Sets the next cursor in v->next and says whether the walk goes on; for
 * GHL_PAGE_FAIL pushes a message (the server sent no usable cursor).
 * The stack is as it was on return, the message aside. */
typedef int (*ghl_advance_fn)(lua_State *L, const ghl_pager *p, const ghl_page_view *v);

struct ghl_style {
    const char *name;
    const char *cursor; /* default cursor parameter */
    const char *size;   /* default page-size parameter */
    unsigned traits;
    ghl_advance_fn advance;
};

/* pager_styles.c */
const ghl_style *ghl_style_find(const char *name);
const char *ghl_style_list(void); /* "skip_limit, limit_offset, ..." for messages */

/* pager.c: helpers for the styles */
double ghl_page_number(lua_State *L, int t, const char *k, double dflt); /* number or numeric string */
int ghl_page_null(lua_State *L, int idx);                              /* nil, JSON null or "" */
void ghl_page_item_field(lua_State *L, int items, int i, const char *k); /* pushes items[i][k] (nil) */
void ghl_page_field(lua_State *L, int t, const char *path);             /* pushes t.a.b (nil) */
void ghl_page_push_count(lua_State *L, const ghl_pager *p, double v);   /* v as the cursor's type */

#endif
