/*
 * A growable byte buffer that never raises: callers that run inside libcurl
 * callbacks (where a Lua error would longjmp across libcurl) get -1 on
 * allocation failure and decide what to do.
 */
#ifndef GHL_BUF_H
#define GHL_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} ghl_buf;

int ghl_buf_reserve(ghl_buf *b, size_t extra);
int ghl_buf_add(ghl_buf *b, const void *p, size_t n);
int ghl_buf_addstr(ghl_buf *b, const char *s);
int ghl_buf_addc(ghl_buf *b, char c);
void ghl_buf_reset(ghl_buf *b);
void ghl_buf_free(ghl_buf *b);

#endif
