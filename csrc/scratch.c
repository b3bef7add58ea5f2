/* Scratch memory that must survive a Lua error lives in a userdata: if a
 * raise unwinds the C function, the GC frees the buffer (LPeg's pattern). */
#include <string.h>

#include "ghl.h"
#include "class.h"

#define GHL_SCRATCH_MT "ghl.Scratch"

static int scratch_gc(lua_State *L) {
    ghl_buf_free((ghl_buf *)luaL_checkudata(L, 1, GHL_SCRATCH_MT));
    return 0;
}

ghl_buf *ghl_scratch_new(lua_State *L) {
    ghl_buf *b = (ghl_buf *)ghl_new_object(L, sizeof *b, 0, GHL_SCRATCH_MT);
    return b;
}

void ghl_scratch_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", scratch_gc}, {NULL, NULL}};
    ghl_new_class(L, GHL_SCRATCH_MT, meta, NULL, 0);
}
