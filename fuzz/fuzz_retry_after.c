/* Retry-After values and HTTP dates (csrc/http_date.c). */
#include <stdlib.h>
#include <string.h>

#include "../csrc/ghl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    double ms;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    ms = ghl_parse_retry_after(s, 1.7e9);
    if (ms != ms || ms < -1 || ms > 1e12)
        abort(); /* -1 means "not a Retry-After"; a wait is 0 .. 1e12 ms, never NaN */
    ghl_parse_http_date(s);
    free(s);
    return 0;
}
