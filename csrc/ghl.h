/* Declarations shared by the files of the ghl.core module (no libcurl here). */
#ifndef GHL_H
#define GHL_H

#include <stdint.h>

#include "buf.h"
#include "compat.h"

#define GHL_VERSION "0.1.0"
#define GHL_USER_AGENT "ghl-lua/" GHL_VERSION
#define GHL_DEFAULT_BASE_URL "https://services.leadconnectorhq.com"
#define GHL_DEFAULT_API_VERSION "2021-07-28"

/* Only luaopen_* leave the shared object (built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define GHL_EXPORT __attribute__((visibility("default")))
#define GHL_NORETURN __attribute__((noreturn))
#else
#define GHL_EXPORT
#define GHL_NORETURN
#endif

#define GHL_CLIENT_MT "ghl.Client"
#define GHL_ERROR_MT "ghl.Error"


/* ghl.Client: what the core needs to build requests and judge responses.
 * Strings are malloc'ed copies so the secret token never lives in a Lua
 * table a user could print; it is wiped on close. */
typedef struct {
    char *base_url; /* without a trailing slash */
    char *token;    /* may be NULL (no Authorization header) */
    char *version;  /* default Version header */
    char *location_id;
    double max_retries;        /* retries after the first attempt */
    double max_retry_time_ms;  /* no retry would end later than this after the first try */
    double retry_base_ms;      /* first backoff ceiling; doubles per attempt */
    double retry_max_delay_ms; /* backoff ceiling of one wait */
    uint64_t rng;              /* jitter */
    int closed;
    ghl_buf scratch; /* reused by prepare(): no allocation per request */
    ghl_buf json;    /* the JSON decoder's, for strings with escapes */
    ghl_buf body, body_keys; /* the JSON encoder's: the body, its sorted keys */
} ghl_client;

/* core.c */
GHL_EXPORT int luaopen_ghl_core(lua_State *L);

/* One failed attempt, as the retry policy sees it. */
typedef struct {
    const char *method;
    const char *kind; /* transport failures: "network", "timeout", ... */
    int status;       /* 0 when the transport failed */
    int sent;         /* whether any byte of the request may have reached the server */
    int reused;       /* the transport's facts: a kept-alive connection ... */
    int answered;     /* ... and whether any byte of an answer came back */
    int reconnected;  /* the call already had its free reconnect */
    int head;         /* stack index of the raw response head (or 0) */
    double attempt;   /* 1 for the first try */
    double elapsed_ms;
} ghl_attempt;

/* clock.c */
double ghl_now_ms(void);
int ghl_now_ms_l(lua_State *L);
int ghl_sleep_ms_l(lua_State *L);

/* random.c */
double ghl_random(ghl_client *c);

/* http_date.c */
double ghl_parse_http_date(const char *v);
double ghl_parse_retry_after(const char *v, double now_s);
int ghl_parse_retry_after_l(lua_State *L);

/* policy.c */
int ghl_idempotent(const char *method);
double ghl_server_hint_ms(lua_State *L, int head, int status);
double ghl_retry_delay(lua_State *L, ghl_client *c, const ghl_attempt *a, int *free_retry);

/* fileio.c: sets file_lock and write_file on the table at the top */
void ghl_fileio_open(lua_State *L);

/* pacer.c */
void ghl_pacer_open(lua_State *L);
void ghl_ratelimit_headers_open(lua_State *L);

/* client.c */
ghl_client *ghl_check_client(lua_State *L, int idx);
void ghl_client_open(lua_State *L);

/* request.c */
int ghl_client_prepare(lua_State *L);
int ghl_percent_encode_l(lua_State *L);
int ghl_encode_query_l(lua_State *L);

/* pager.c */
void ghl_pager_open(lua_State *L);

/* json_encode.c: request bodies (core.json_encode, the marks of ghl.array / ghl.object) */
void ghl_json_encode(lua_State *L, int idx, int shape_idx, ghl_buf *out, ghl_buf *keys, const char *name);
int ghl_json_encode_l(lua_State *L);
void ghl_json_encode_open(lua_State *L);

/* json_decode.c */
int ghl_json_decode(lua_State *L, const char *s, size_t len, ghl_buf *scratch);
int ghl_json_decode_l(lua_State *L);

/* response.c */
int ghl_client_interpret(lua_State *L);
void ghl_response_open(lua_State *L);
int ghl_auth_refreshable(const char *message);
int ghl_auth_refreshable_l(lua_State *L);

/* error.c */
void ghl_error_open(lua_State *L);
void ghl_error_push(lua_State *L, const char *kind, int status, const char *msg, size_t len);
void ghl_error_setfield(lua_State *L, int err_idx, const char *field, int value_idx);
GHL_NORETURN int ghl_raise_invalid(lua_State *L, const char *fmt, ...);
int ghl_error_new_l(lua_State *L);

/* redact.c: every spelling of a secret (as is, %XX, JSON \u escapes) */
#define GHL_MIN_SECRET 6 /* shorter ones are left alone: they would match innocent text */
int ghl_redact(ghl_buf *out, const char *s, size_t len, const char *secret);
int ghl_redact_l(lua_State *L);

/* scratch.c: a ghl_buf owned by a userdata on the stack, freed by the GC */
ghl_buf *ghl_scratch_new(lua_State *L);
void ghl_scratch_open(lua_State *L);

/* strutil.c */
int ghl_is_token_char(unsigned char c);
int ghl_has_ctl(const char *s, size_t len);
void ghl_push_excerpt(lua_State *L, const char *s, size_t len, size_t max);

#endif
