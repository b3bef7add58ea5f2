/* Retry-After values and HTTP dates (csrc/policy.c). */
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
    if (ms == ms && ms < -1)
        abort(); /* -1 means "not a Retry-After"; anything below is a bug */
    ghl_parse_http_date(s);
    free(s);
    return 0;
}
