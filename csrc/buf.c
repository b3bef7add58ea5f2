#include "buf.h"

#include <stdlib.h>
#include <string.h>

int ghl_buf_reserve(ghl_buf *b, size_t extra) {
    size_t need, cap;
    char *p;
    if (extra > (size_t)-1 - b->len - 1)
        return -1;
    need = b->len + extra + 1; /* room for a terminating NUL */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ghl_buf_add(ghl_buf *b, const void *p, size_t n) {
    if (ghl_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ghl_buf_addstr(ghl_buf *b, const char *s) { return ghl_buf_add(b, s, strlen(s)); }

int ghl_buf_addc(ghl_buf *b, char c) { return ghl_buf_add(b, &c, 1); }

void ghl_buf_reset(ghl_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ghl_buf_free(ghl_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
