#ifndef GHL_HTTP_PARSE_H
#define GHL_HTTP_PARSE_H

#include <stddef.h>

#include "compat.h"

/* A walk over the header lines of a raw head (see http_parse.c). */
typedef struct {
    const char *p, *end;
} ghl_head_iter;

void ghl_head_begin(ghl_head_iter *it, const char *data, size_t len);
int ghl_head_next(ghl_head_iter *it, const char **name, size_t *nlen, const char **value, size_t *vlen);
int ghl_header_is(const char *n, size_t nlen, const char *want, size_t wlen);
void ghl_push_header(lua_State *L, int head, const char *name);
double ghl_header_number(lua_State *L, int head, const char *name);
void ghl_push_header_block(lua_State *L, const char *data, size_t len);
const char *ghl_header_find(const char *data, size_t len, const char *name, size_t *vlen);
int ghl_header_l(lua_State *L);
int ghl_parse_headers_l(lua_State *L);
int ghl_parse_status_line_l(lua_State *L);
int ghl_parse_chunk_size_l(lua_State *L);
int ghl_parse_url_l(lua_State *L);

#endif
