/*
 * The retry policy: what happens after a failed attempt. One place, used by
 * every path (curl easy, curl multi, nginx, a transport of your own)
 * through client:interpret().
 *
 * - 429: retried for every method (GHL did not process it), after
 *   Retry-After (seconds or HTTP-date) or X-RateLimit-Interval-Milliseconds.
 * - 500/502/503/504 and timeouts: retried for idempotent methods only
 *   (GET, PUT, DELETE); a POST or PATCH may have been processed.
 * - a connection that failed before any byte of the request left: every
 *   method.
 * - a reused keep-alive connection that died before any answer: idempotent
 *   methods at once on a fresh connection, once per call, without spending
 *   a retry (the server most likely closed it while idle); a POST or PATCH
 *   never, since the server may have read and processed it.
 * - any other 4xx: never (GHL answers 422 and may still have created the
 *   record).
 * Backoff is exponential with full jitter, capped per attempt
 * (retry_max_delay_ms) and in total (max_retry_time_ms). A wait the server
 * asks for that would end past max_retry_time_ms is not slept: the call
 * fails at once.
 */
#include <math.h>
#include <string.h>

#include "ghl.h"
#include "http_parse.h"

int ghl_idempotent(const char *m) {
    return strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
           strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* The server's own hint of when to come back (ms), or -1. */
double ghl_server_hint_ms(lua_State *L, int head, int status) {
    double hint = -1;
    ghl_push_header(L, head, "retry-after");
    if (lua_type(L, -1) == LUA_TSTRING)
        hint = ghl_parse_retry_after(lua_tostring(L, -1), ghl_now_ms() / 1000.0);
    lua_pop(L, 1);
    if (hint < 0 && status == 429)
        hint = ghl_header_number(L, head, "x-ratelimit-interval-milliseconds");
    return hint;
}

/* Whether a transport failure was a reused connection found dead before
 * any answer: the one failure a fresh connection is likely to cure. */
static int stale_connection(const ghl_attempt *a) {
    return a->status == 0 && a->reused && !a->answered && strcmp(a->kind, "network") == 0;
}

/* Delay before the next attempt in ms, or -1 when the failure is final.
 * *free_retry is set when the retry is the one reconnect that spends no
 * retry. */
double ghl_retry_delay(lua_State *L, ghl_client *c, const ghl_attempt *a, int *free_retry) {
    int retry = 0;
    double delay, hint = -1, ceiling, retries_spent = a->attempt - (a->reconnected ? 1 : 0);
    *free_retry = 0;
    if (a->status == 0) {
        if (strcmp(a->kind, "network") == 0 || strcmp(a->kind, "timeout") == 0)
            retry = !a->sent || ghl_idempotent(a->method);
        if (retry && stale_connection(a) && !a->reconnected && a->elapsed_ms <= c->max_retry_time_ms) {
            *free_retry = 1;
            return 0;
        }
    } else if (a->status == 429) {
        retry = 1;
        hint = ghl_server_hint_ms(L, a->head, 429);
    } else if (a->status == 500 || a->status == 502 || a->status == 503 || a->status == 504) {
        retry = ghl_idempotent(a->method);
        if (a->status == 503)
            hint = ghl_server_hint_ms(L, a->head, 503);
    }
    if (!retry || retries_spent > c->max_retries)
        return -1;
    if (hint >= 0) {
        /* the server said when: a little jitter so clients do not return in lockstep */
        delay = hint + ghl_random(c) * (hint * 0.1 < 1000 ? hint * 0.1 : 1000);
    } else {
        ceiling = c->retry_base_ms * pow(2.0, retries_spent - 1);
        if (ceiling > c->retry_max_delay_ms)
            ceiling = c->retry_max_delay_ms;
        delay = ghl_random(c) * ceiling; /* full jitter */
    }
    if (a->elapsed_ms + delay > c->max_retry_time_ms)
        return -1;
    return floor(delay);
}
