/*
 * ghl.curl: the libcurl transports.
 *
 *   curl.new(opts)              one easy handle, reused, so the connection
 *                               (and TLS session) stays alive across calls
 *   curl.multi(opts, n)         n easy handles on one multi handle, for
 *                               client:batch (connections pooled, HTTP/2
 *                               multiplexed where the server speaks it)
 *
 * A transport reports facts and never decides: it makes one attempt per
 * perform, and says what happened (status, raw head, body; or the failure
 * with whether the request may have reached the server, whether the
 * connection was reused, whether any answer arrived). The C core's policy
 * alone decides whether to try again, so libcurl's own silent re-send (on a
 * reused connection that died before any answer) is stopped: for a POST
 * the server may already have read, it would be a duplicate write.
 *
 * libcurl callbacks touch no Lua API: they append to C buffers owned by the
 * userdata. Everything that can raise happens before or after libcurl runs,
 * never inside it, so no longjmp crosses a libcurl frame.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compat.h"
#include "class.h"
#include "http_parse.h"

#if defined(__GNUC__)
#define GHL_EXPORT __attribute__((visibility("default")))
#else
#define GHL_EXPORT
#endif

#define GHL_CURL_MT "ghl.Curl"
#define GHL_MULTI_MT "ghl.CurlMulti"
#define MAX_HEADER_BYTES (256 * 1024)
#define DEFAULT_MAX_BODY (64.0 * 1024 * 1024)
#define MAX_CONCURRENCY 256
/* A POST or PATCH reuses only a connection idle for under 2 s (libcurl
 * compares whole seconds, "idle > 1"): an idle connection the server is
 * about to close is what turns a write into an ambiguous one. */
#define WRITE_MAXAGE_S 1L
#define READ_MAXAGE_S 118L /* libcurl's default */

#if LIBCURL_VERSION_NUM < 0x075000
#error "ghl needs libcurl 7.80 or later (CURLOPT_PREREQFUNCTION stops libcurl's silent re-sends)"
#endif

/* One transfer: an easy handle and what its callbacks fill. */
typedef struct {
    CURL *easy;
    struct curl_slist *headers; /* of the last request; reused or freed on the next */
    const void *headers_of;     /* the header table it was built from (pinned by the caller) */
    int headers_body;           /* and whether it was for a request with a body */
    ghl_buf body;
    ghl_buf head;
    ghl_buf line;
    size_t max_body;
    long timeout_ms; /* the handle's; a request's own timeout_ms is for that request only */
    int too_large, oom;
    char *proxy_http, *proxy_https; /* from the environment, read once ("" = none) */
    int proxy_scheme;                /* which of them libcurl has: 0 http, 1 https, -1 none yet */
    int starts;      /* prereq calls this transfer: a second one is libcurl re-sending */
    int resend_stopped, answered;
    int head_done;   /* the blank line that ends the head arrived */
    double requests, connects;
    char errbuf[CURL_ERROR_SIZE];
} ghl_xfer;

typedef struct {
    ghl_xfer x;
} ghl_curl;

typedef struct {
    CURLM *multi;
    int n;
    double ids[MAX_CONCURRENCY]; /* the caller's id of each busy transfer */
    unsigned char busy[MAX_CONCURRENCY];
    ghl_xfer xs[1]; /* n of them (allocated with the userdata) */
} ghl_multi;

/***
 * The libcurl transport: what ghl.client uses outside nginx.
 *
 * Internal: ghl.new picks it (transport = "curl", the default without
 * nginx) and client:batch uses `multi`. A transport only moves bytes: a
 * request comes from the core's Client:prepare, and what perform returns is
 * what Client:interpret takes. Redirects are never followed (they would
 * carry the token on), only http and https are allowed, every encoding
 * libcurl decodes is accepted, and bodies are held in memory up to
 * max_body_bytes. Bad options raise plain error strings.
 * @internal ghl.curl
 */
GHL_EXPORT int luaopen_ghl_curl(lua_State *L);

/* ----------------------------------------------------------- callbacks */

/* Called before the request goes out on a connection (new or reused). A
 * second call in one transfer is libcurl re-sending on a fresh connection
 * after a reused one died: not ours to decide, so it is stopped and
 * reported (the core retries GET/PUT/DELETE; a POST/PATCH may have been
 * processed and is never sent again). */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port) {
    ghl_xfer *x = (ghl_xfer *)ud;
    (void)ip, (void)local_ip, (void)port, (void)local_port;
    if (x->starts++ > 0) {
        x->resend_stopped = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    ghl_xfer *x = (ghl_xfer *)ud;
    size_t len = size * n;
    x->answered = 1;
    if (len > x->max_body - x->body.len) {
        x->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR: stop reading, memory stays bounded */
    }
    if (ghl_buf_add(&x->body, p, len)) {
        x->oom = 1;
        return 0;
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    ghl_xfer *x = (ghl_xfer *)ud;
    size_t len = size * n;
    x->answered = 1;
    /* a 100 Continue or a proxy's CONNECT answer comes first: keep the last block */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        ghl_buf_reset(&x->head);
        x->head_done = 0;
    } else if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
        x->head_done = 1;
    }
    if (x->head.len + len > MAX_HEADER_BYTES) {
        x->too_large = 1;
        return 0;
    }
    if (ghl_buf_add(&x->head, p, len)) {
        x->oom = 1;
        return 0;
    }
    return len;
}

/* ------------------------------------------------------------- options */

static long opt_num(lua_State *L, int t, const char *k, double dflt, double lo, double hi) {
    double v;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return (long)dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER || (v = lua_tonumber(L, -1)) < lo || v > hi)
        return luaL_error(L, "ghl: option '%s' must be a number from %f to %f", k, lo, hi);
    lua_pop(L, 1);
    return (long)v;
}

static const char *opt_str(lua_State *L, int t, const char *k) {
    const char *s;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "ghl: option '%s' must be a string", k);
    s = lua_tostring(L, -1);
    lua_pop(L, 1); /* anchored by the options table until we return */
    return s;
}

/* libcurl reads the proxy environment variables (https_proxy, all_proxy,
 * no_proxy, ...) on every transfer, about 2k instructions each time. They
 * are read once here instead, in libcurl's order, and handed to it. */
static char *env_copy(const char *a, const char *b, const char *c, const char *d) {
    const char *names[4], *v = NULL;
    char *copy;
    int i;
    size_t len;
    names[0] = a, names[1] = b, names[2] = c, names[3] = d;
    for (i = 0; i < 4 && !v; i++)
        v = names[i] ? getenv(names[i]) : NULL;
    len = v ? strlen(v) : 0;
    copy = (char *)malloc(len + 1);
    if (copy) {
        memcpy(copy, v ? v : "", len);
        copy[len] = '\0';
    }
    return copy;
}

static void setup_proxy(lua_State *L, ghl_xfer *x, const char *proxy) {
    char *no_proxy = env_copy("no_proxy", "NO_PROXY", NULL, NULL);
    if (!no_proxy)
        luaL_error(L, "ghl: out of memory");
    curl_easy_setopt(x->easy, CURLOPT_NOPROXY, no_proxy); /* libcurl copies it */
    free(no_proxy);
    if (proxy) { /* the caller's: one for every request */
        curl_easy_setopt(x->easy, CURLOPT_PROXY, proxy);
        return;
    }
    /* as libcurl does: http_proxy has no upper-case form (CGI's HTTP_PROXY is the client's) */
    x->proxy_http = env_copy("http_proxy", "all_proxy", "ALL_PROXY", NULL);
    x->proxy_https = env_copy("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY");
    x->proxy_scheme = -1;
    if (!x->proxy_http || !x->proxy_https)
        luaL_error(L, "ghl: out of memory");
}

/* Creates x's easy handle with the options at `opts`
 * { timeout_ms, connect_timeout_ms, ca_file, proxy, ssl_verify, max_body_bytes }. */
static void xfer_setup(lua_State *L, ghl_xfer *x, int opts) {
    const char *ca = opt_str(L, opts, "ca_file"), *proxy = opt_str(L, opts, "proxy");
    double max_body;
    int verify;
    lua_getfield(L, opts, "ssl_verify");
    verify = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, opts, "max_body_bytes");
    max_body = lua_isnil(L, -1) ? DEFAULT_MAX_BODY : lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (max_body < 1)
        luaL_error(L, "ghl: option 'max_body_bytes' must be a positive number");
    x->max_body = max_body > (double)((size_t)-1 / 2) ? (size_t)-1 / 2 : (size_t)max_body;
    x->easy = curl_easy_init();
    if (!x->easy)
        luaL_error(L, "ghl: curl_easy_init failed");
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    x->timeout_ms = opt_num(L, opts, "timeout_ms", 30000, 1, 86400000);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, x->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, opt_num(L, opts, "connect_timeout_ms", 10000, 1, 86400000));
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (ca)
        curl_easy_setopt(x->easy, CURLOPT_CAINFO, ca);
    setup_proxy(L, x, proxy);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect never carries the token on */
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, (void *)x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, (void *)x);
    curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, (void *)x);
}

static void xfer_free(ghl_xfer *x) {
    if (x->easy)
        curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->headers_of = NULL;
    ghl_buf_free(&x->body);
    ghl_buf_free(&x->head);
    ghl_buf_free(&x->line);
    free(x->proxy_http);
    free(x->proxy_https);
    x->proxy_http = x->proxy_https = NULL;
}

/* ------------------------------------------------------------ requests */

/* "Accept-Encoding: ..." with what this libcurl decodes ("" when nothing).
 * Sent as one of our header lines, libcurl's own (rebuilt with its slow
 * printf on every request) is left out; CURLOPT_ACCEPT_ENCODING still makes
 * libcurl decode the answer. Made once, in luaopen_ghl_curl. */
static char accept_encoding[64];

static void add_encoding(char *list, int have, const char *name) {
    if (!have)
        return;
    if (*list)
        strcat(list, ", ");
    strcat(list, name);
}

static void init_accept_encoding(void) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    char list[40] = ""; /* at most "deflate, gzip, br, zstd" */
    add_encoding(list, v->features & CURL_VERSION_LIBZ, "deflate, gzip");
#ifdef CURL_VERSION_BROTLI
    add_encoding(list, v->features & CURL_VERSION_BROTLI, "br");
#endif
#ifdef CURL_VERSION_ZSTD
    add_encoding(list, v->features & CURL_VERSION_ZSTD, "zstd");
#endif
    accept_encoding[0] = '\0';
    if (*list)
        snprintf(accept_encoding, sizeof accept_encoding, "Accept-Encoding: %s", list);
}

static int is_accept_encoding(const char *k, size_t len) {
    static const char name[] = "accept-encoding";
    size_t i;
    if (len != sizeof name - 1)
        return 0;
    for (i = 0; i < len; i++)
        if ((k[i] >= 'A' && k[i] <= 'Z' ? k[i] - 'A' + 'a' : k[i]) != name[i])
            return 0;
    return 1;
}

static int append(struct curl_slist **list, const char *line) {
    struct curl_slist *next = curl_slist_append(*list, line);
    if (!next)
        return -1;
    *list = next;
    return 0;
}

/* Header lines "Name: value" for libcurl into *out, plus "Expect:" when
 * there is a body (so it is sent at once, not after a 100-continue round
 * trip) and Accept-Encoding unless the caller gave one. 0, or -1 when
 * memory ran out. */
static int build_headers(lua_State *L, ghl_xfer *x, int headers, int with_body, struct curl_slist **out) {
    struct curl_slist *list = NULL;
    int own_encoding = 0;
    if (with_body && append(&list, "Expect:"))
        return -1;
    if (lua_type(L, headers) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, headers)) {
            size_t klen, vlen;
            const char *k, *v;
            if (lua_type(L, -2) == LUA_TSTRING && (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
                k = lua_tolstring(L, -2, &klen);
                v = lua_tolstring(L, -1, &vlen);
                own_encoding = own_encoding || is_accept_encoding(k, klen);
                ghl_buf_reset(&x->line);
                if (ghl_buf_add(&x->line, k, klen) || ghl_buf_add(&x->line, ": ", 2) ||
                    ghl_buf_add(&x->line, v, vlen) || append(&list, x->line.data)) {
                    curl_slist_free_all(list);
                    lua_pop(L, 2);
                    return -1;
                }
            }
            lua_pop(L, 1);
        }
    }
    if (!own_encoding && accept_encoding[0] && append(&list, accept_encoding)) {
        curl_slist_free_all(list);
        return -1;
    }
    *out = list;
    return 0;
}

/* Sets up x for the request table at `req` (method, url, headers, body,
 * timeout_ms). copy_body: libcurl copies the body (the multi path, where the
 * Lua string may be collected before the transfer ends). pin: the stack
 * index of the userdata that owns x; the header table is kept in its
 * uservalue (slot `slot`), so an unchanged table (ghl.core caches them)
 * can reuse the header list. */
static void xfer_request(lua_State *L, ghl_xfer *x, int req, int copy_body, int pin, int slot) {
    const char *method, *url, *body;
    size_t body_len = 0;
    int top = lua_gettop(L), with_body;
    CURL *e = x->easy;
    lua_getfield(L, req, "method");
    lua_getfield(L, req, "url");
    lua_getfield(L, req, "headers");
    lua_getfield(L, req, "body");
    lua_getfield(L, req, "timeout_ms");
    method = lua_tostring(L, top + 1);
    url = lua_tostring(L, top + 2);
    if (!method || !url)
        luaL_error(L, "ghl: request needs a method and a url");
    body = lua_tolstring(L, top + 4, &body_len);
    with_body = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    if (!x->headers_of || lua_type(L, top + 3) != LUA_TTABLE || lua_topointer(L, top + 3) != x->headers_of ||
        with_body != x->headers_body) {
        curl_slist_free_all(x->headers);
        x->headers = NULL;
        x->headers_of = NULL;
        if (build_headers(L, x, top + 3, with_body, &x->headers))
            luaL_error(L, "ghl: out of memory");
        x->headers_body = with_body;
        if (lua_type(L, top + 3) == LUA_TTABLE) {
            lua_getiuservalue(L, pin, 1); /* pin the table: its address stays its own */
            lua_pushvalue(L, top + 3);
            lua_rawseti(L, -2, slot);
            lua_pop(L, 1);
            x->headers_of = lua_topointer(L, top + 3);
        }
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (x->proxy_https) { /* the environment's proxy for this URL's scheme ("" = none) */
        int https = strncmp(url, "https:", 6) == 0;
        if (https != x->proxy_scheme) {
            curl_easy_setopt(e, CURLOPT_PROXY, https ? x->proxy_https : x->proxy_http);
            x->proxy_scheme = https;
        }
    }
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    if (with_body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (copy_body)
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "");
        else /* the body string is anchored on the caller's stack for the whole perform */
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0) ? NULL : method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN,
                     (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) ? WRITE_MAXAGE_S : READ_MAXAGE_S);
    {
        /* every request sets it: a request's own timeout must not stick to the handle */
        double t = lua_type(L, top + 5) == LUA_TNUMBER ? lua_tonumber(L, top + 5) : (double)x->timeout_ms;
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t >= 1 && t <= 86400000 ? (long)t : x->timeout_ms);
    }
    ghl_buf_reset(&x->body);
    ghl_buf_reset(&x->head);
    x->too_large = x->oom = 0;
    x->starts = x->resend_stopped = x->answered = x->head_done = 0;
    x->errbuf[0] = '\0';
    lua_settop(L, top);
}

/* The facts of a failed attempt: { sent, reused, answered }. */
static void push_facts(lua_State *L, ghl_xfer *x, long connects) {
    lua_createtable(L, 0, 3);
    /* the request may have left once libcurl was about to send it */
    lua_pushboolean(L, x->starts > 0);
    lua_setfield(L, -2, "sent");
    /* a re-send is only tried after a reused connection died */
    lua_pushboolean(L, x->resend_stopped || (x->starts > 0 && connects == 0));
    lua_setfield(L, -2, "reused");
    lua_pushboolean(L, x->answered);
    lua_setfield(L, -2, "answered");
}

/* After a transfer: pushes status, head, body (3) or nil, kind, message,
 * facts (4). */
static int xfer_result(lua_State *L, ghl_xfer *x, CURLcode rc) {
    long status = 0, connects = 0;
    x->requests++;
    if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        x->connects += (double)connects;
    if (rc == CURLE_OK && !x->head_done) {
        /* libcurl 7.88 takes a connection closed in the middle of the head
         * for a whole answer with no body: it is not one */
        lua_pushnil(L);
        lua_pushliteral(L, "network");
        lua_pushliteral(L, "the connection was closed in the middle of the response head");
        push_facts(L, x, connects);
        return 4;
    }
    if (rc != CURLE_OK) {
        lua_pushnil(L);
        if (x->too_large) {
            char msg[96];
            lua_pushliteral(L, "too_large");
            snprintf(msg, sizeof msg, "response exceeds max_body_bytes (%.0f bytes)", (double)x->max_body);
            lua_pushstring(L, msg);
        } else if (x->oom) {
            lua_pushliteral(L, "network");
            lua_pushliteral(L, "out of memory while reading the response");
        } else if (x->resend_stopped) {
            lua_pushliteral(L, "network");
            lua_pushliteral(L, "the kept-alive connection was closed after the request was sent, before any answer");
        } else {
            lua_pushstring(L, rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network");
            lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        }
        push_facts(L, x, connects);
        return 4;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    lua_pushinteger(L, status);
    /* the raw head: ghl.core reads what it needs from it, and resp.headers
     * is parsed only if someone asks */
    lua_pushlstring(L, x->head.data ? x->head.data : "", x->head.len);
    lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
    return 3;
}

/* ------------------------------------------------------------ ghl.Curl */

static ghl_curl *check_curl(lua_State *L) { return (ghl_curl *)luaL_checkudata(L, 1, GHL_CURL_MT); }

/***
 * One easy handle, reused, so the connection (and TLS session) stays open
 * between calls.
 * @function new
 * @tparam table opts `timeout_ms` (whole call, default 30000),
 * `connect_timeout_ms` (default 10000), `ca_file`, `proxy`, `ssl_verify`
 * (default true), `max_body_bytes` (default 64 MiB)
 * @treturn Curl
 * @raise when opts is not a table, an option is out of range, or libcurl
 * cannot make a handle
 */
static int curl_new(lua_State *L) {
    ghl_curl *t;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    t = (ghl_curl *)ghl_new_object(L, sizeof *t, 1, GHL_CURL_MT);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    xfer_setup(L, &t->x, 1);
    return 1;
}

/***
 * A transport of one call at a time (ghl.Curl).
 * @type Curl
 */

/***
 * Run one request and wait for it.
 * @function perform
 * @tparam table req `{ method, url, headers, body }` as Client:prepare
 * makes it, with an optional `timeout_ms` for this call
 * @treturn[1] int the status
 * @treturn[1] string the raw head of the final response (headers are
 * parsed only on demand)
 * @treturn[1] string the body
 * @treturn[2] nil
 * @treturn[2] string kind "timeout", "network" or "too_large" ("closed"
 * after `close`)
 * @treturn[2] string message
 * @treturn[2] table facts `{ sent, reused, answered }`: whether the request
 * may have reached the server, whether the connection was kept alive from
 * before, whether any byte of an answer arrived (missing when closed)
 * @raise when req is not a table or has no method or url, or memory runs
 * out
 */
static int curl_perform(lua_State *L) {
    ghl_curl *t = check_curl(L);
    CURLcode rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (!t->x.easy) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        lua_pushliteral(L, "the transport is closed");
        return 3;
    }
    xfer_request(L, &t->x, 2, 0, 1, 1);
    rc = curl_easy_perform(t->x.easy); /* no Lua API until it returns */
    return xfer_result(L, &t->x, rc);
}

static void push_stats(lua_State *L, double requests, double connects) {
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, requests);
    lua_setfield(L, -2, "requests");
    lua_pushnumber(L, connects);
    lua_setfield(L, -2, "connects");
}

/***
 * Counters since the transport was made.
 * @function stats
 * @treturn table `{ requests, connects }`: connects below requests means
 * connections were reused
 */
static int curl_stats(lua_State *L) {
    ghl_curl *t = check_curl(L);
    push_stats(L, t->x.requests, t->x.connects);
    return 1;
}

/***
 * Free the handle and its connection. Idempotent; also `__gc` and
 * `__close`. Later calls to perform answer nil, "closed".
 * @function close
 */
static int curl_close(lua_State *L) {
    xfer_free(&check_curl(L)->x);
    return 0;
}

static int curl_tostring(lua_State *L) {
    ghl_curl *t = check_curl(L);
    lua_pushfstring(L, "ghl.Curl (%p%s)", (void *)t, t->x.easy ? "" : ", closed");
    return 1;
}

/* -------------------------------------------------------- ghl.CurlMulti */

static ghl_multi *check_multi(lua_State *L) { return (ghl_multi *)luaL_checkudata(L, 1, GHL_MULTI_MT); }

/*** @section end */

/***
 * Up to n transfers at once on one multi handle: connections are pooled
 * and HTTP/2 is multiplexed where the server speaks it. Used by
 * client:batch.
 * @function multi
 * @tparam table opts the options of `new`, for every transfer
 * @tparam int n how many can run at once, 1 to 256
 * @treturn CurlMulti
 * @raise when n or an option is out of range
 */
static int multi_new(lua_State *L) {
    ghl_multi *m;
    int n, i;
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (int)luaL_checknumber(L, 2);
    if (n < 1 || n > MAX_CONCURRENCY)
        return luaL_error(L, "ghl: concurrency must be from 1 to %d", MAX_CONCURRENCY);
    lua_settop(L, 2);
    m = (ghl_multi *)ghl_new_object(L, sizeof *m + (size_t)(n - 1) * sizeof(ghl_xfer), 1, GHL_MULTI_MT);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    m->multi = curl_multi_init();
    if (!m->multi)
        return luaL_error(L, "ghl: curl_multi_init failed");
    curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    m->n = n; /* set before the handles: __gc frees what exists */
    for (i = 0; i < n; i++) {
        xfer_setup(L, &m->xs[i], 1);
        curl_easy_setopt(m->xs[i].easy, CURLOPT_PRIVATE, (void *)&m->xs[i]);
    }
    return 1;
}

/***
 * Transfers that run side by side (ghl.CurlMulti); `poll` drives them.
 * @type CurlMulti
 */

/***
 * Start a request; it runs during the following `poll` calls. The body is
 * copied, so req may be dropped.
 * @function start
 * @tparam number id the caller's id, given back with the result
 * @tparam table req as for Curl:perform
 * @treturn[1] boolean true
 * @treturn[2] nil
 * @treturn[2] string "busy": every transfer is in use
 * @raise when the transport is closed
 */
static int multi_start(lua_State *L) {
    ghl_multi *m = check_multi(L);
    double id = luaL_checknumber(L, 2);
    int i;
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    if (!m->multi)
        return luaL_error(L, "ghl: the transport is closed");
    for (i = 0; i < m->n && m->busy[i]; i++)
        ;
    if (i == m->n) {
        lua_pushnil(L);
        lua_pushliteral(L, "busy");
        return 2;
    }
    xfer_request(L, &m->xs[i], 3, 1, 1, i + 1);
    if (curl_multi_add_handle(m->multi, m->xs[i].easy) != CURLM_OK)
        return luaL_error(L, "ghl: curl_multi_add_handle failed");
    m->busy[i] = 1;
    m->ids[i] = id;
    lua_pushboolean(L, 1);
    return 1;
}

/* Appends the finished transfers to the table on top; returns how many. */
static int collect(lua_State *L, ghl_multi *m, int done) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        ghl_xfer *x = NULL;
        int i, n, k;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        i = (int)(x - m->xs);
        curl_multi_remove_handle(m->multi, msg->easy_handle);
        m->busy[i] = 0;
        lua_createtable(L, 5, 0);
        lua_pushnumber(L, m->ids[i]);
        lua_rawseti(L, -2, 1);
        n = xfer_result(L, x, msg->data.result);
        for (k = n; k >= 1; k--) /* values 2..n+1 of the entry */
            lua_rawseti(L, -1 - k, k + 1);
        lua_rawseti(L, -2, ++done);
    }
    return done;
}

/***
 * Run the transfers and collect the finished ones. Waits up to timeout_ms
 * only when none has finished yet.
 * @function poll
 * @tparam[opt=100] number timeout_ms
 * @treturn table a list with an entry per finished transfer, each
 * `{ id, status, head, body }` or `{ id, nil, kind, message, facts }` (the
 * values of Curl:perform); empty when none finished
 * @raise when the transport is closed
 */
static int multi_poll(lua_State *L) {
    ghl_multi *m = check_multi(L);
    int timeout = (int)luaL_optnumber(L, 2, 100), running = 0, done;
    if (!m->multi)
        return luaL_error(L, "ghl: the transport is closed");
    lua_newtable(L);
    curl_multi_perform(m->multi, &running);
    done = collect(L, m, 0);
    if (done == 0 && running) {
        curl_multi_poll(m->multi, NULL, 0, timeout > 0 ? timeout : 0, NULL);
        curl_multi_perform(m->multi, &running);
        collect(L, m, done);
    }
    return 1;
}

/***
 * How many transfers are in flight.
 * @function active
 * @treturn int
 */
static int multi_active(lua_State *L) {
    ghl_multi *m = check_multi(L);
    int i, n = 0;
    for (i = 0; i < m->n; i++)
        n += m->busy[i];
    lua_pushinteger(L, n);
    return 1;
}

/***
 * Counters of all transfers together.
 * @function stats
 * @treturn table `{ requests, connects }`
 */
static int multi_stats(lua_State *L) {
    ghl_multi *m = check_multi(L);
    double requests = 0, connects = 0;
    int i;
    for (i = 0; i < m->n; i++) {
        requests += m->xs[i].requests;
        connects += m->xs[i].connects;
    }
    push_stats(L, requests, connects);
    return 1;
}

/***
 * Abandon the transfers in flight and free everything. Idempotent; also
 * `__gc` and `__close`. Later start and poll calls raise.
 * @function close
 */
static int multi_close(lua_State *L) {
    ghl_multi *m = check_multi(L);
    int i;
    for (i = 0; i < m->n; i++) {
        if (m->multi && m->busy[i])
            curl_multi_remove_handle(m->multi, m->xs[i].easy);
        m->busy[i] = 0;
        xfer_free(&m->xs[i]);
    }
    if (m->multi)
        curl_multi_cleanup(m->multi);
    m->multi = NULL;
    return 0;
}

/* ------------------------------------------------------------- module */

/*** @section end */

/***
 * libcurl's version line (curl_version()), for diagnostics.
 * @function version
 * @treturn string such as "libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 ..."
 */
static int curl_version_l(lua_State *L) {
    lua_pushstring(L, curl_version());
    return 1;
}

GHL_EXPORT int luaopen_ghl_curl(lua_State *L) {
    static int initialised = 0; /* curl_global_init is not thread-safe: once */
    static const luaL_Reg curl_methods[] = {
        {"perform", curl_perform}, {"stats", curl_stats}, {"close", curl_close}, {NULL, NULL}};
    static const luaL_Reg multi_methods[] = {{"start", multi_start}, {"poll", multi_poll},
                                             {"active", multi_active}, {"stats", multi_stats},
                                             {"close", multi_close}, {NULL, NULL}};
    static const luaL_Reg curl_meta[] = {
        {"__gc", curl_close}, {"__close", curl_close}, {"__tostring", curl_tostring}, {NULL, NULL}};
    static const luaL_Reg multi_meta[] = {{"__gc", multi_close}, {"__close", multi_close}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"new", curl_new}, {"multi", multi_new}, {"version", curl_version_l}, {NULL, NULL}};
    if (!initialised) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "ghl: curl_global_init failed");
        init_accept_encoding();
        initialised = 1;
    }
    ghl_new_class(L, GHL_CURL_MT, curl_meta, curl_methods, 0);
    ghl_new_class(L, GHL_MULTI_MT, multi_meta, multi_methods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
