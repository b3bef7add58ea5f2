/*
 * Time for the core: the wall clock in milliseconds and a blocking sleep
 * (for hosts without an event loop; nginx sleeps with ngx.sleep instead).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#endif
#include <time.h>

#include "ghl.h"

double ghl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

/* core.now_ms() -> wall-clock milliseconds */
int ghl_now_ms_l(lua_State *L) {
    lua_pushnumber(L, ghl_now_ms());
    return 1;
}

/* core.sleep_ms(ms): blocking sleep, resumed after signals */
int ghl_sleep_ms_l(lua_State *L) {
    double ms = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(ms > 0)) /* also NaN */
        return 0;
    if (ms > 86400000.0) /* a day: nothing in ghl sleeps longer */
        ms = 86400000.0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1000000);
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}
