/*
 * Retry policy: what happens after a failed attempt. One place, used by
 * every transport through client:interpret().
 *
 * - 429: retried for every method (GHL did not process it), after
 *   Retry-After (seconds or HTTP-date) or X-RateLimit-Interval-Milliseconds.
 * - 500/502/503/504 and timeouts: retried for idempotent methods only
 *   (GET, PUT, DELETE); a POST may have been processed.
 * - a connection that failed before the request was sent: every method.
 * - any other 4xx: never (GHL answers 422 and may still have created the
 *   record).
 * Backoff is exponential with full jitter, capped per attempt
 * (retry_max_delay_ms) and in total (max_retry_time_ms).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#endif
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ghl.h"
#include "http_parse.h"

double ghl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

/* xorshift64*: per-client, seeded from the clock and the object's address */
double ghl_random(ghl_client *c) {
    uint64_t x = c->rng;
    if (x == 0)
        x = (uint64_t)ghl_now_ms() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0; /* [0, 1) */
}

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
        if (*end != '\0' || secs != secs || secs > 1e9)
            return -1;
        return secs * 1000.0;
    }
    secs = ghl_parse_http_date(p);
    if (secs < 0)
        return -1;
    return secs > now_s ? (secs - now_s) * 1000.0 : 0;
}

/* Pushes header `name` (lower case) of the headers at idx: a table, or a
 * raw response head as the curl transport hands it over. nil when absent. */
void ghl_push_header(lua_State *L, int headers, const char *name) {
    if (lua_type(L, headers) == LUA_TTABLE) {
        lua_getfield(L, headers, name);
    } else if (lua_type(L, headers) == LUA_TSTRING) {
        size_t len, vlen;
        const char *block = lua_tolstring(L, headers, &len);
        const char *v = ghl_header_find(block, len, name, &vlen);
        if (v)
            lua_pushlstring(L, v, vlen);
        else
            lua_pushnil(L);
    } else {
        lua_pushnil(L);
    }
}

/* A number in a header, or -1. */
double ghl_header_number(lua_State *L, int headers, const char *name) {
    double v = -1;
    char buf[32];
    const char *s = NULL;
    size_t len = 0;
    headers = ghl_absindex(L, headers);
    if (lua_type(L, headers) == LUA_TSTRING) { /* no Lua string for each lookup */
        size_t blen;
        const char *block = lua_tolstring(L, headers, &blen);
        s = ghl_header_find(block, blen, name, &len);
    } else if (lua_type(L, headers) == LUA_TTABLE) {
        lua_getfield(L, headers, name);
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
            s = lua_tolstring(L, -1, &len);
        lua_pop(L, 1); /* s stays valid: the string is in the table */
    }
    if (s && len > 0 && len < sizeof buf) {
        char *end;
        double x;
        memcpy(buf, s, len);
        buf[len] = '\0';
        x = strtod(buf, &end);
        if (end != buf && x == x && x >= 0)
            v = x;
    }
    return v;
}

static int idempotent(const char *m) {
    return strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
           strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* The server's own hint of when to come back (ms), or -1. */
double ghl_server_hint_ms(lua_State *L, int headers, int status) {
    double hint = -1;
    ghl_push_header(L, headers, "retry-after");
    if (lua_type(L, -1) == LUA_TSTRING)
        hint = ghl_parse_retry_after(lua_tostring(L, -1), ghl_now_ms() / 1000.0);
    lua_pop(L, 1);
    if (hint < 0 && status == 429)
        hint = ghl_header_number(L, headers, "x-ratelimit-interval-milliseconds");
    return hint;
}

/* Delay before the next attempt in ms, or -1 when the failure is final.
 * status 0 = the transport failed with `kind`; `sent` = whether any byte
 * of the request left. */
double ghl_retry_delay(lua_State *L, ghl_client *c, const ghl_attempt *a) {
    int retry = 0;
    double delay, hint = -1, ceiling;
    if (a->status == 0) {
        if (strcmp(a->kind, "network") == 0 || strcmp(a->kind, "timeout") == 0)
            retry = !a->sent || idempotent(a->method);
    } else if (a->status == 429) {
        retry = 1;
        hint = ghl_server_hint_ms(L, a->headers, 429);
    } else if (a->status == 500 || a->status == 502 || a->status == 503 || a->status == 504) {
        retry = idempotent(a->method);
        if (a->status == 503)
            hint = ghl_server_hint_ms(L, a->headers, 503);
    }
    if (!retry || a->attempt > c->max_retries)
        return -1;
    if (hint >= 0) {
        /* the server said when: a little jitter so clients do not return in lockstep */
        delay = hint + ghl_random(c) * (hint * 0.1 < 1000 ? hint * 0.1 : 1000);
    } else {
        ceiling = c->retry_base_ms * pow(2.0, a->attempt - 1);
        if (ceiling > c->retry_max_delay_ms)
            ceiling = c->retry_max_delay_ms;
        delay = ghl_random(c) * ceiling; /* full jitter */
    }
    if (a->elapsed_ms + delay > c->max_retry_time_ms)
        return -1;
    return floor(delay);
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

/* core.now_ms() -> wall-clock milliseconds */
int ghl_now_ms_l(lua_State *L) {
    lua_pushnumber(L, ghl_now_ms());
    return 1;
}

/* core.sleep_ms(ms): blocking sleep, for hosts without an event loop */
int ghl_sleep_ms_l(lua_State *L) {
    double ms = luaL_checknumber(L, 1);
    struct timespec ts;
    if (ms <= 0)
        return 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1000000);
    while (nanosleep(&ts, &ts) != 0) /* resume after a signal */
        ;
    return 0;
}
