#ifndef GHL_CRYPTO_H
#define GHL_CRYPTO_H

#include <stddef.h>

#include "buf.h"

/* Strict base64 (standard or URL alphabet, optional padding, whitespace
 * skipped) into out: 0, or -1 for anything else. */
int ghl_base64_decode(const char *s, size_t len, ghl_buf *out);

#endif
