#ifndef GHL_HTTP_PARSE_H
#define GHL_HTTP_PARSE_H

#include <stddef.h>

#include "compat.h"

void ghl_push_header_block(lua_State *L, const char *data, size_t len);
const char *ghl_header_find(const char *data, size_t len, const char *name, size_t *vlen);
int ghl_parse_headers_l(lua_State *L);
int ghl_parse_status_line_l(lua_State *L);
int ghl_parse_chunk_size_l(lua_State *L);
int ghl_parse_url_l(lua_State *L);

#endif
