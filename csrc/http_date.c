/*
 * Retry-After values: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850,
 * asctime). Pure and fuzzed (fuzz/fuzz_retry_after.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl.h"

#define RETRY_AFTER_MAX_S 1e9 /* about 31 years: what a larger value is taken as */

/* days since 1970-01-01 of a civil date (Howard Hinnant's algorithm) */
static double days_from_civil(int y, int m, int d) {
    int era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (double)era * 146097.0 + doe - 719468.0;
}

static int month_of(const char *s) {
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int i;
    for (i = 0; i < 12; i++)
        if (strncmp(s, names[i], 3) == 0)
            return i + 1;
    return 0;
}

/* Seconds since the epoch of an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime), or -1. */
double ghl_parse_http_date(const char *v) {
    char mon[4] = {0}, wk[16] = {0};
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, m;
    if (sscanf(v, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT", wk, &d, mon, &y, &hh, &mm, &ss) == 7) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    } else if (sscanf(v, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT", wk, &d, mon, &y, &hh, &mm, &ss) == 7) {
        y += y < 70 ? 2000 : 1900; /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    } else if (sscanf(v, "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d", wk, mon, &d, &hh, &mm, &ss, &y) == 7) {
        /* asctime: Sun Nov  6 08:49:37 1994 */
    } else {
        return -1;
    }
    m = month_of(mon);
    if (!m || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || y > 9999)
        return -1;
    return days_from_civil(y, m, d) * 86400.0 + hh * 3600.0 + mm * 60.0 + ss;
}

/* Milliseconds to wait from a Retry-After value: delta-seconds or an
 * HTTP-date (relative to now_s); -1 when it is neither. */
double ghl_parse_retry_after(const char *v, double now_s) {
    const char *p = v;
    double secs;
    while (*p == ' ' || *p == '\t')
        p++;
    if (isdigit((unsigned char)*p)) {
        char *end;
        secs = strtod(p, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0' || secs != secs)
            return -1;
        /* "come back in a billion seconds" (or 1e999): longer than any
         * budget, never "now" */
        return (secs > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : secs) * 1000.0;
    }
    secs = ghl_parse_http_date(p);
    if (secs < 0)
        return -1;
    secs = secs > now_s ? secs - now_s : 0; /* a date in the past: now */
    return (secs > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : secs) * 1000.0;
}

/* core.parse_retry_after(value [, now_s]) -> ms | nil */
int ghl_parse_retry_after_l(lua_State *L) {
    const char *v = luaL_checkstring(L, 1);
    double now = luaL_optnumber(L, 2, ghl_now_ms() / 1000.0);
    double ms = ghl_parse_retry_after(v, now);
    if (ms < 0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, ms);
    return 1;
}

