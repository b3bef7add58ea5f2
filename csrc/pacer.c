/*
 * Pacing: slow down before GHL says 429. A pacer is fed the X-RateLimit-*
 * headers of every response (GHL: 100 requests per 10 s and 200,000 a day,
 * per app and location/company) and asked before every request how long to
 * wait:
 *
 *   local p = core.pacer()
 *   local wait_ms, again = p:acquire(now_ms, max_wait_ms)
 *       -- nil, err: the daily budget is spent, or the wait would be longer
 *       --           than max_wait_ms (nothing is counted then);
 *       -- again: sleep wait_ms, then ask again (nothing was counted):
 *       --   "probe" (a probe is out) or "window" (the window is spent)
 *   p:update(raw_head, now_ms, sent_ms)
 *   p:state()                                  -- what client:rate_limit() reports
 *
 * Below `reserve` (20 %) of the burst window, requests are spaced at
 * interval/max; with nothing left they wait for the window to roll over.
 * Before the first response shows the limits, at most PROBE_BURST requests
 * go (probes), so a burst of concurrent calls cannot overrun a budget
 * nobody has seen yet; 8 (a batch's default concurrency) is well under
 * GHL's 100, and a 429 from a budget others spent is retried. Header values are never trusted: an interval over
 * MAX_INTERVAL_MS is taken as that, a Remaining over the Max as the Max.
 * Pure: times are passed in, so the same object serves curl and nginx.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ghl.h"
#include "class.h"
#include "http_parse.h"

#define GHL_PACER_MT "ghl.Pacer"
#define DAY_MS 86400000.0
#define MARGIN_MS 20.0 /* after a window's end, before its first request */
#define PROBE_MS 2000.0 /* how long probes may hold the others back */
#define PROBE_BURST 8
#define PROBE_POLL_MS 20.0
#define MAX_INTERVAL_MS 60000.0 /* GHL's is 10 s; an hour from a broken server is not slept */

typedef struct {
    double max, remaining, interval_ms; /* burst window; -1 = not seen yet */
    double reported;                    /* Remaining in the last response */
    double daily_limit, daily_remaining;
    double window_start_ms;             /* when we first saw the current window */
    double opened_ms;                   /* when we opened the current window ourselves (-1: no) */
    double next_slot_ms;                /* pacing: earliest time of the next request */
    double updated_ms;
    double reserve;
    double waits, waited_ms;            /* what pacing cost, for reports */
    double probe_until_ms;              /* nothing known yet: a few requests go first ... */
    double probes;                      /* ... this many are out */
    double headerless;                  /* 1: the server sends no X-RateLimit-* headers */
} ghl_pacer;

static ghl_pacer *check_pacer(lua_State *L) {
    return (ghl_pacer *)luaL_checkudata(L, 1, GHL_PACER_MT);
}

/* A time argument: a NaN or an infinity would poison every comparison
 * of the state after it, so it is refused. */
static double check_time(lua_State *L, int arg) {
    double t = luaL_checknumber(L, arg);
    if (!(t - t == 0))
        luaL_argerror(L, arg, "a finite time in ms expected");
    return t;
}

/* core.pacer{ reserve = 0.2 } */
static int pacer_new(lua_State *L) {
    ghl_pacer *l = (ghl_pacer *)ghl_new_object(L, sizeof *l, 0, GHL_PACER_MT);
    l->max = l->remaining = l->interval_ms = l->reported = -1;
    l->daily_limit = l->daily_remaining = -1;
    l->window_start_ms = l->opened_ms = -1;
    l->reserve = 0.2;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "reserve");
        if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0 && lua_tonumber(L, -1) < 1)
            l->reserve = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return 1;
}

/* The next UTC midnight after now: GHL does not say when the daily budget
 * resets, so this is an estimate (and a request after it finds out). */
static double next_midnight(double now_ms) { return (floor(now_ms / DAY_MS) + 1) * DAY_MS; }

/* A header's count: plain digits (the usual case, without strtod), or any
 * number strtod reads whole; -1 for anything else, or a negative. */
static double parse_count(const char *s, size_t n) {
    char buf[32], *stop;
    double x = 0;
    size_t i;
    for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        x = x * 10 + (s[i] - '0');
    if (i == n && n > 0 && n <= 15)
        return x;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    x = strtod(buf, &stop);
    return stop == buf + n && x == x && x >= 0 && x < HUGE_VAL ? x : -1;
}

/* The five X-RateLimit-* values of a raw head in one pass (-1 when absent):
 * max, remaining, interval, daily limit, daily remaining. */
static void scan_head(const char *head, size_t len, double v[5]) {
    /* after "x-ratelimit-", by length: each suffix has its own */
    static const char *const names[5] = {"max", "remaining", "interval-milliseconds", "limit-daily",
                                         "daily-remaining"};
    static const size_t lens[5] = {3, 9, 21, 11, 15};
    ghl_head_iter it;
    const char *n, *val;
    size_t nlen, vlen;
    int i;
    for (i = 0; i < 5; i++)
        v[i] = -1;
    ghl_head_begin(&it, head, len);
    while (ghl_head_next(&it, &n, &nlen, &val, &vlen)) {
        if (nlen < 15 || (n[0] | 0x20) != 'x' || strncasecmp(n, "x-ratelimit-", 12) != 0)
            continue; /* most headers: one comparison */
        for (i = 0; i < 5; i++) {
            if (nlen - 12 == lens[i] && strncasecmp(n + 12, names[i], lens[i]) == 0) {
                v[i] = parse_count(val, vlen);
                break;
            }
        }
    }
}

/* The five values as the pacer takes them: an interval over
 * MAX_INTERVAL_MS as that, a Remaining over the Max as the Max. */
static void scan_clamped(const char *head, size_t len, double v[5]) {
    scan_head(head, len, v);
    if (v[2] > MAX_INTERVAL_MS)
        v[2] = MAX_INTERVAL_MS;
    if (v[0] > 0 && v[1] > v[0])
        v[1] = v[0];
}

/* core.ratelimit_headers(head) -> max, remaining, interval_ms, daily_limit,
 * daily_remaining (-1 for each one absent or not a count): what a pacer
 * whose state lives elsewhere (ghl.store.redis) sends to decide there. */
static int ratelimit_headers(lua_State *L) {
    size_t len;
    const char *head = luaL_checklstring(L, 1, &len);
    double v[5];
    int i;
    scan_clamped(head, len, v);
    for (i = 0; i < 5; i++)
        lua_pushnumber(L, v[i]);
    return 5;
}

/* p:update(head, now_ms [, sent_ms]); head: the raw response head; nil: a call ended without
 * an answer (it still ends a probe: the next call probes instead of waiting).
 * sent_ms, when the request went out: an answer to a request sent before we
 * opened the current window was counted in the previous one, so it says
 * nothing about where the new window starts. */
static int pacer_update(lua_State *L) {
    ghl_pacer *l = check_pacer(L);
    double now = check_time(L, 3), sent = lua_isnoneornil(L, 4) ? -1 : check_time(L, 4), max, rem, interval, dlimit, drem, others;
    double v[5];
    if (lua_type(L, 2) != LUA_TSTRING) { /* no answer: this probe is over */
        if (l->probes > 0)
            l->probes--;
        return 0;
    }
    {
        size_t len;
        const char *head = lua_tolstring(L, 2, &len);
        scan_clamped(head, len, v);
    }
    max = v[0], rem = v[1], interval = v[2], dlimit = v[3], drem = v[4];
    l->headerless = (max < 0 && rem < 0 && interval < 0 && dlimit < 0 && drem < 0);
    /* the first answer: the other probes still out may not be counted in its Remaining */
    others = l->max <= 0 && l->probes > 1 ? l->probes - 1 : 0;
    l->probe_until_ms = l->probes = 0;
    if (max > 0 && rem >= 0 && interval > 0 &&
        !(sent >= 0 && sent < l->opened_ms && max == l->max && interval == l->interval_ms)) {
        /* A new window: the first one, one we opened ourselves (reported <
         * 0), one our clock says has begun (for a request sent after its
         * start, when we know), or limits that changed. Not Remaining going
         * up: with calls in flight, answers arrive out of order, and an
         * older, higher Remaining is no news. */
        int provisional = l->reported < 0;
        int new_window = l->window_start_ms < 0 || provisional ||
                         (sent >= 0 ? sent : now) >= l->window_start_ms + interval || max != l->max ||
                         interval != l->interval_ms;
        l->max = max;
        l->interval_ms = interval;
        if (new_window) {
            l->window_start_ms = now;
            /* calls we sent in a window we opened are not all counted yet */
            l->remaining = provisional && l->remaining >= 0 && l->remaining < rem ? l->remaining
                           : rem > others                                           ? rem - others
                                                                                    : 0;
        } else {
            /* The first request of a server window, sent after ours began:
             * the server's window began later than we thought (a server
             * that restarted its count, state left from an earlier run), and
             * ends later too. Dated by this answer, so never too early. */
            if (rem == max - 1 && sent >= l->window_start_ms)
                l->window_start_ms = now;
            /* requests of others (or in flight) may have been counted since */
            if (rem < l->remaining)
                l->remaining = rem;
        }
        l->reported = rem;
    }
    if (dlimit >= 0)
        l->daily_limit = dlimit;
    if (drem >= 0)
        l->daily_remaining = drem;
    l->updated_ms = now;
    return 0;
}

/* A rate_limited error on top of the stack: msg, and when to come back. */
static void push_rate_limited(lua_State *L, const char *msg, double wait_ms) {
    lua_pushnil(L);
    ghl_error_push(L, "rate_limited", 0, msg, strlen(msg));
    lua_pushnumber(L, wait_ms);
    lua_setfield(L, -2, "retry_after_ms");
    lua_pushnumber(L, wait_ms / 1000.0);
    lua_setfield(L, -2, "retry_after");
}

/* p:acquire(now_ms [, max_wait_ms]) -> wait_ms [, true] | nil, err (the
 * daily budget is spent, or the wait would pass max_wait_ms: then nothing
 * is counted, so the call can fail without having cost a slot) */
static int pacer_acquire(lua_State *L) {
    ghl_pacer *l = check_pacer(L), before = *l;
    double now = check_time(L, 2), max_wait = luaL_optnumber(L, 3, HUGE_VAL), wait = 0, spacing;
    if (l->daily_remaining == 0 && now < next_midnight(l->updated_ms)) {
        double reset = next_midnight(l->updated_ms);
        char msg[160];
        /* %.0f, not (int): a server may send any number (found by fuzz/fuzz_ratelimit.c) */
        snprintf(msg, sizeof msg, "the daily request budget (%.0f) is spent; it resets about %.0f s from now (UTC midnight)",
                 l->daily_limit, (reset - now) / 1000);
        push_rate_limited(L, msg, reset - now);
        lua_pushnumber(L, reset / 1000.0);
        lua_setfield(L, -2, "reset_at");
        return 2;
    }
    if (l->max <= 0 || l->interval_ms <= 0) { /* nothing known yet */
        if (l->probe_until_ms <= now)
            l->probes = 0; /* the probes got no answer in time */
        if (l->headerless || l->probes < PROBE_BURST) {
            if (!l->headerless) { /* this request is a probe */
                l->probes++;
                l->probe_until_ms = now + PROBE_MS;
            }
            lua_pushnumber(L, 0);
            return 1;
        }
        wait = PROBE_POLL_MS; /* a probe is out: ask again shortly */
        if (wait > max_wait)
            goto too_long;
        lua_pushnumber(L, wait);
        lua_pushliteral(L, "probe");
        return 2;
    }
    /* A new window starts with its first request at the server, which is
     * after we send it: our start is provisional until a response of the
     * window arrives (reported = -1 makes update() take that response's
     * time, which is never earlier than the server's). */
    if (now >= l->window_start_ms + l->interval_ms) { /* the window rolled over */
        l->window_start_ms = l->opened_ms = now;
        l->remaining = l->max;
        l->reported = -1;
    }
    if (l->remaining <= 0) {
        /* Spent: sleep until the window ends, then ask again. Nothing is
         * counted in the next window yet: an answer that comes meanwhile
         * may show the server's window began later than ours (the first of
         * its window, above), and a slot promised in the next window would
         * then land in the current one. */
        wait = l->window_start_ms + l->interval_ms + MARGIN_MS - now;
        if (wait > max_wait)
            goto too_long;
        l->waits++;
        l->waited_ms += wait;
        lua_pushnumber(L, ceil(wait));
        lua_pushliteral(L, "window");
        return 2;
    } else if (l->remaining <= l->max * l->reserve) {
        /* close to the limit: spread what is left over the window */
        spacing = l->interval_ms / l->max;
        if (l->next_slot_ms < now)
            l->next_slot_ms = now;
        wait = l->next_slot_ms - now;
        l->next_slot_ms += spacing;
    }
    if (wait > 0 && wait > max_wait)
        goto too_long;
    l->remaining -= 1;
    if (wait > 0) {
        l->waits++;
        l->waited_ms += wait;
    }
    /* rounded up: a caller never starts before the slot (or window) it was given */
    lua_pushnumber(L, wait > 0 ? ceil(wait) : 0);
    return 1;
too_long : {
    char msg[200];
    *l = before; /* as if never asked: nothing was counted or reserved */
    snprintf(msg, sizeof msg,
             "pacing would wait %.0f ms for GHL's rate limit, longer than the %.0f ms left of this call's "
             "budget (timeout_ms, max_retry_time_ms); nothing was sent",
             ceil(wait), max_wait > 0 ? floor(max_wait) : 0);
    push_rate_limited(L, msg, ceil(wait));
    return 2;
}
}

static void set_num(lua_State *L, const char *k, double v) {
    if (v >= 0) {
        lua_pushnumber(L, v);
        lua_setfield(L, -2, k);
    }
}

/* p:state() -> { max, remaining, interval_ms, daily_limit, daily_remaining,
 *                  window_reset_ms, daily_reset_ms, paced, waits, waited_ms } */
static int pacer_state(lua_State *L) {
    ghl_pacer *l = check_pacer(L);
    lua_createtable(L, 0, 10);
    set_num(L, "max", l->max);
    set_num(L, "remaining", l->remaining < 0 && l->max > 0 ? 0 : l->remaining);
    set_num(L, "interval_ms", l->interval_ms);
    set_num(L, "daily_limit", l->daily_limit);
    set_num(L, "daily_remaining", l->daily_remaining);
    if (l->window_start_ms >= 0 && l->interval_ms > 0)
        set_num(L, "window_reset_ms", l->window_start_ms + l->interval_ms);
    if (l->updated_ms > 0)
        set_num(L, "daily_reset_ms", next_midnight(l->updated_ms));
    lua_pushboolean(L, l->max > 0 && l->remaining <= l->max * l->reserve);
    lua_setfield(L, -2, "paced");
    set_num(L, "waits", l->waits);
    set_num(L, "waited_ms", l->waited_ms);
    return 1;
}

/* The fields, in the order export/import use. */
#define PACER_FIELDS(l)                                                                                   \
    &(l)->max, &(l)->remaining, &(l)->interval_ms, &(l)->reported, &(l)->daily_limit, &(l)->daily_remaining, \
        &(l)->window_start_ms, &(l)->next_slot_ms, &(l)->updated_ms, &(l)->waits, &(l)->waited_ms,          \
        &(l)->probe_until_ms, &(l)->headerless, &(l)->opened_ms, &(l)->probes

/* p:export() -> string: the state, to share it (nginx workers keep it in
 * a lua_shared_dict and import it around each acquire/update). */
static int pacer_export(lua_State *L) {
    ghl_pacer *l = check_pacer(L);
    double *f[] = {PACER_FIELDS(l)};
    char buf[15 * 32];
    size_t i, n = 0;
    for (i = 0; i < sizeof f / sizeof f[0]; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, i ? ",%.17g" : "%.17g", *f[i]);
    lua_pushlstring(L, buf, n);
    return 1;
}

/* p:import(string) -> true | nil, err */
static int pacer_import(lua_State *L) {
    ghl_pacer *l = check_pacer(L);
    const char *s = luaL_checkstring(L, 2);
    double *f[] = {PACER_FIELDS(l)};
    double v[sizeof f / sizeof f[0]];
    size_t i;
    char *end;
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        v[i] = strtod(s, &end);
        if (end == s || v[i] != v[i] || (*end != ',' && *end != '\0') || (*end == '\0' && i + 1 < sizeof f / sizeof f[0])) {
            lua_pushnil(L);
            lua_pushliteral(L, "not an exported pacer state");
            return 2;
        }
        s = *end ? end + 1 : end;
    }
    for (i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = v[i];
    lua_pushboolean(L, 1);
    return 1;
}

/* The Lua API registered here is documented (LDoc) in core.c. */
void ghl_pacer_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"update", pacer_update}, {"acquire", pacer_acquire},
                                       {"state", pacer_state},   {"export", pacer_export},
                                       {"import", pacer_import}, {NULL, NULL}};
    ghl_new_class(L, GHL_PACER_MT, NULL, methods, 0);
    lua_pushcfunction(L, pacer_new);
}

/* Pushes core.ratelimit_headers. */
void ghl_ratelimit_headers_open(lua_State *L) { lua_pushcfunction(L, ratelimit_headers); }
