/*
 * ghl.core: everything that decides and needs no network. Loaded by every
 * host, nginx included; libcurl lives in the separate ghl.curl module.
 *
 * The LDoc reference of the whole module (functions, fields, Client, Pager,
 * Pacer, FileLock) is kept in this file, below luaopen_ghl_core: LDoc 1.4
 * allows one @module per file, and its @submodule puts another file's items
 * in a section of their own, so @type sections cannot live beside their
 * implementations in client.c, pager.c, ... Update it with them.
 */
#include "ghl.h"
#include "http_parse.h"

/***
 * The C core: builds requests, judges responses, pages and paces calls.
 * It does no network I/O, so every host loads it, nginx included.
 *
 * Internal: these are the building blocks of the Lua modules (ghl.client,
 * ghl.driver, ghl.paging, ghl.pacer, ...); applications use the ghl module. Misuse (a
 * bad argument, a closed client) raises; what depends on data from the
 * network returns nil and a message or an error table instead. JSON goes
 * both ways through the core's own encoder and decoder: the module needs no
 * lua-cjson, and a caller's cjson settings change nothing here.
 * @internal ghl.core
 */
GHL_EXPORT int luaopen_ghl_core(lua_State *L) {
    static const luaL_Reg funcs[] = {{"new_error", ghl_error_new_l},
                                     {"parse_retry_after", ghl_parse_retry_after_l},
                                     {"now_ms", ghl_now_ms_l},
                                     {"json_decode", ghl_json_decode_l},
                                     {"json_encode", ghl_json_encode_l},
                                     {"auth_refreshable", ghl_auth_refreshable_l},
                                     {"parse_headers", ghl_parse_headers_l},
                                     {"header", ghl_header_l},
                                     {"redact", ghl_redact_l},
                                     {"parse_status_line", ghl_parse_status_line_l},
                                     {"parse_chunk_size", ghl_parse_chunk_size_l},
                                     {"parse_url", ghl_parse_url_l},
                                     {"sleep_ms", ghl_sleep_ms_l},
                                     {"percent_encode", ghl_percent_encode_l},
                                     {"encode_query", ghl_encode_query_l},
                                     {NULL, NULL}};
    ghl_error_open(L);
    ghl_scratch_open(L);
    ghl_response_open(L);

    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    ghl_client_open(L); /* pushes core.client */
    lua_setfield(L, -2, "client");
    ghl_pager_open(L); /* pushes core.pager */
    lua_setfield(L, -2, "pager");
    ghl_pacer_open(L); /* pushes core.pacer */
    lua_setfield(L, -2, "pacer");
    ghl_ratelimit_headers_open(L); /* pushes core.ratelimit_headers */
    lua_setfield(L, -2, "ratelimit_headers");
    ghl_fileio_open(L);
    ghl_json_encode_open(L);
    lua_pushlightuserdata(L, NULL); /* JSON null: the same value as lua-cjson's cjson.null */
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, GHL_VERSION);
    lua_setfield(L, -2, "VERSION");
    lua_pushliteral(L, GHL_USER_AGENT);
    lua_setfield(L, -2, "USER_AGENT");
    lua_pushliteral(L, GHL_DEFAULT_BASE_URL);
    lua_setfield(L, -2, "DEFAULT_BASE_URL");
    lua_pushliteral(L, GHL_DEFAULT_API_VERSION);
    lua_setfield(L, -2, "DEFAULT_VERSION");
    luaL_getmetatable(L, GHL_ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    return 1;
}

/* ------------------------------------------------------------------------
 * LDoc reference of ghl.core (see the top of this file for why it is here).
 */

/***
 * Give a table built in Lua the metatable of ghl's errors.
 * Used by ghl.errors and the nginx transport, so errors made in Lua print
 * and concatenate like the ones the core makes.
 * @function new_error
 * @tparam table t the error fields; `kind` and `message` must be strings
 * @treturn table t itself, now with `error_mt`
 * @raise when t is not a table, or its `kind` or `message` is not a string
 */

/***
 * Milliseconds to wait from a Retry-After header value.
 * @function parse_retry_after
 * @tparam string value delta-seconds ("120") or an HTTP-date
 * @tparam[opt] number now_s the current time in epoch seconds (default: the clock)
 * @treturn[1] number milliseconds (0 for a date in the past)
 * @treturn[2] nil when the value is neither form (or over 1e9 seconds)
 */

/***
 * Wall-clock time in whole milliseconds since the epoch.
 * @function now_ms
 * @treturn number milliseconds
 */

/***
 * Block the whole process for `ms` milliseconds (nanosleep, resumed after
 * signals). For hosts without an event loop: ghl.wait uses ngx.sleep inside
 * nginx instead.
 * @function sleep_ms
 * @tparam number ms how long; 0 or less returns at once
 */

/***
 * Decode JSON with the core's decoder (the one response bodies go through).
 * Integers stay integers on Lua 5.3+, null is `null`, nesting is limited to
 * 1000 levels. Bad input never raises.
 * @function json_decode
 * @tparam string text JSON text
 * @treturn[1] any the value
 * @treturn[2] nil
 * @treturn[2] string what is wrong and at which byte
 */

/***
 * Whether a 401's message means the token is expired or invalid, so a
 * refresh may help (the rule `Client:interpret` applies). False for
 * messages about scopes, locations or permissions, where it would not.
 * @function auth_refreshable
 * @tparam[opt] string message GHL's message; nil counts as a bare 401
 * @treturn boolean
 */

/***
 * Parse an HTTP response head into a table.
 * A leading status line is skipped and parsing stops at the blank line.
 * Names are lower-cased, repeated headers are joined with ", ", and lines
 * without a colon or with names over 255 bytes are skipped.
 * @function parse_headers
 * @tparam string block the raw head
 * @treturn table `{ [lower-case name] = value }`
 */

/***
 * One header of a raw response head, by name (the walker every reader of
 * headers in the core shares).
 * @function header
 * @tparam string head the raw head, as transports hand it over
 * @tparam string name the header's name in lower case
 * @treturn string|nil its value (the first, when repeated), without the
 * blanks around it
 */

/***
 * Replace every spelling of each secret in a text: as sent, percent-encoded
 * (%XX, '+' for a space), JSON-escaped (\uXXXX, \/), or a mix; each
 * becomes "[REDACTED]". Secrets under 6 bytes are left alone. The rule the
 * core applies to error bodies, and ghl.oauth to its errors.
 * @function redact
 * @tparam string text
 * @tparam string ... the secrets (non-strings are skipped)
 * @treturn string
 */

/***
 * Parse an HTTP/1.0 or HTTP/1.1 status line.
 * @function parse_status_line
 * @tparam string line such as "HTTP/1.1 200 OK"
 * @treturn[1] int the status (100-999)
 * @treturn[1] string the version, "HTTP/1.0" or "HTTP/1.1"
 * @treturn[2] nil
 * @treturn[2] string "malformed status line"
 */

/***
 * Parse the size line of a chunked body: hex digits, optionally followed by
 * ";extensions". At most 10 digits (under 2^40 bytes).
 * @function parse_chunk_size
 * @tparam string line such as "1a;ext=1"
 * @treturn[1] number the size in bytes
 * @treturn[2] nil
 * @treturn[2] string "malformed chunk size"
 */

/***
 * Split an http(s) URL into what a request line needs.
 * Refused: other schemes, userinfo, fragments, hosts with characters other
 * than letters, digits, '-', '.', '_' (or an [IPv6] literal), ports outside
 * 1-65535, and spaces or control characters anywhere.
 * @function parse_url
 * @tparam string url such as "https://host:8443/base?q=1"
 * @treturn[1] table `{ scheme, host, port, path }`: host without brackets,
 * port defaulted to 443 or 80, path the request target with the query
 * ("/" when empty)
 * @treturn[2] nil
 * @treturn[2] string why
 */

/***
 * Percent-encode every byte but RFC 3986's unreserved characters, so a
 * value can never add a path segment, a query parameter or a fragment.
 * Letters, digits and "-", ".", "_", "~" stay as they are.
 * @function percent_encode
 * @tparam string s
 * @treturn string
 */

/***
 * Encode a table as a query string (also the form-urlencoded body).
 * Keys are sorted, so a table always gives the same text; an array value
 * repeats its key; booleans are "true"/"false"; numbers use their shortest
 * exact form (100, not 100.0).
 * @function encode_query
 * @tparam table t string keys; values are strings, numbers, booleans or
 * arrays of them
 * @treturn string "a=1&b=x" ("" for an empty table)
 * @raise an `invalid_argument` error (a ghl error table) for other keys or
 * values, or NaN and infinite numbers
 */

/***
 * Make the core's half of a client.
 * @function client
 * @tparam table opts
 * `token` (optional; no whitespace), `base_url` (default
 * `DEFAULT_BASE_URL`; http:// or https://, no query, fragment or userinfo;
 * trailing slashes dropped), `version` (default `DEFAULT_VERSION`),
 * `location_id`, `max_retries` (0-100, default 3), `max_retry_time_ms`
 * (default 60000), `retry_base_ms` (default 500), `retry_max_delay_ms`
 * (default 10000). Strings must be non-empty and free of control characters.
 * @treturn Client
 * @raise an `invalid_argument` error for a bad option (a plain error when
 * opts is not a table)
 */

/***
 * Make a pager for one of GHL's paging styles (the table in
 * csrc/pager_styles.c): "skip_limit" and "limit_offset" (skip/offset +
 * the items seen), "page" (page + 1; totalPages), "search_after" (the last
 * item's searchAfter or sort), "keyset" (meta.startAfterId and
 * meta.startAfter, else the last item), "last_id" (the cursor under its own
 * name on the page or the items' wrapper, else the last item's id),
 * "cursor" (nextCursor), "after_item" (the last item's id or _id),
 * "start_after_date" (the last item's sort[1], else the field sortBy names).
 * Every style also ends on an empty or short page, a trusted total, or
 * hasMore/hasNext/nextPage false at the top or under meta, pagination or
 * the items' wrapper.
 * @function pager
 * @tparam table opts
 * `style` (required, one of the above), `items` (a dotted path to the
 * items, "results.posts"; "[]": the page is the array; nil, "" or "*": the
 * page itself when it is an array, else its only array field, an error when
 * there are two), `cursor_key` (the cursor parameter when not the style's),
 * `size_key` (the page-size parameter, default "limit"; `limit_key` is the
 * old name), `cursor_string` (send numeric cursors as strings),
 * `first_page` (the number of the first page, default 1), `max_items` and
 * `max_pages` (positive numbers; default no bound)
 * @treturn Pager
 * @raise an `invalid_argument` error for an unknown style or a bad option
 */

/***
 * Make a rate-limit pacer (one per token and location; ghl.pacer keeps
 * them). Never raises.
 * @function pacer
 * @tparam[opt] table opts `reserve`: below this share of the burst window
 * (from 0 up to, not including, 1; default 0.2) requests are spread out;
 * other values are ignored
 * @treturn Pacer
 */

/***
 * The X-RateLimit-* values of a raw response head, as a pacer takes them:
 * an interval over 60 s as 60 s, a Remaining over the Max as the Max. For
 * pacers whose state lives in a store (ghl.store.redis decides in Redis).
 * Never raises for what the head holds.
 * @function ratelimit_headers
 * @string head the raw response head
 * @treturn number max (-1 for each value absent or not a count)
 * @treturn number remaining
 * @treturn number interval_ms
 * @treturn number daily_limit
 * @treturn number daily_remaining
 */

/***
 * Take an exclusive lock on a file (flock, created with mode 0600 if
 * missing; a symlink or anything but a regular file is refused). The kernel releases it if the process dies, so a crash never
 * leaves a stale lock. Polls every 10 ms.
 * Used by ghl.store.file.
 * @function file_lock
 * @tparam string path the lock file
 * @tparam[opt=30000] number timeout_ms how long to wait
 * @treturn[1] FileLock
 * @treturn[2] nil
 * @treturn[2] string why: the file cannot be opened or locked, or the
 * timeout passed ("timed out waiting for the lock on" and the path)
 */

/***
 * Replace a file atomically with mode 0600: a new temp file next to it
 * (mkstemp: path.tmp.XXXXXX, never a planted file or link), fsync, rename,
 * fsync of the folder. Readers see the old content or the new one, never a
 * mix. Used by ghl.store.file.
 * @function write_file
 * @tparam string path
 * @tparam string data
 * @treturn[1] boolean true
 * @treturn[2] nil
 * @treturn[2] string why
 */

/***
 * Open a journal file for appending (ghl.job): created with mode 0600 if
 * missing (a symlink or anything but a regular file is refused), locked
 * with flock for as long as it is open (another process is refused at once,
 * the kernel releases it if the holder dies), and a torn last line (bytes
 * after the last newline: a writer killed mid-record) cut off.
 * @function appender
 * @tparam string path
 * @treturn[1] Appender
 * @treturn[1] number how many bytes of a torn last line were cut (0: none)
 * @treturn[2] nil
 * @treturn[2] string why
 * @treturn[2] string "locked" when another process holds the journal
 */

/***
 * Whether the folder of `path` is safe for tokens: owned by this user (or
 * root) and writable by its owner only. Used by ghl.store.file.
 * @function private_dir
 * @tparam string path a file in the folder
 * @treturn[1] boolean true
 * @treturn[2] nil
 * @treturn[2] string why not (another owner, or writable by group or
 * others, with the mode), or that the folder cannot be read
 */

/***
 * lua-cjson's `cjson.null` (a NULL light userdata): JSON null in decoded
 * bodies, from either decoder.
 * @field null
 */

/***
 * The library version (GHL_VERSION in csrc/ghl.h).
 * @field VERSION
 */

/***
 * The User-Agent header of every request: "ghl-lua/" and the VERSION.
 * @field USER_AGENT
 */

/***
 * The base URL when none is given: "https://services.leadconnectorhq.com".
 * @field DEFAULT_BASE_URL
 */

/***
 * The Version header when none is given: "2021-07-28".
 * @field DEFAULT_VERSION
 */

/***
 * The metatable of ghl's error tables; ghl.is_error compares against it.
 * Its `__tostring` gives "ghl: http 404: message (GET /path) [trace_id ...]"
 * and its `__concat` makes `"text" .. err` work.
 * @field error_mt
 */

/***
 * The core's state of one client (csrc/client.c): base URL, token, API
 * version and retry policy. The token lives in C memory, never in a Lua
 * table; `close` wipes it.
 * @type Client
 */

/***
 * Build a request (csrc/request.c). Touches no network.
 * The URL is the base URL, the path with each {name} percent-encoded from
 * opts.path, and the query. The header table is cached per Version and
 * kind of body and shared between calls: do not modify it.
 * @function prepare
 * @tparam string method GET, POST, PUT, PATCH or DELETE (any case)
 * @tparam string path a template such as "/contacts/{contactId}"; no query
 * string, empty or dot segments
 * @tparam[opt] table opts `path` (values for the {name} segments; every
 * one required, no extras), `query` (as for `encode_query`), `body` (a table,
 * sent as JSON), `form` (a table, sent form-encoded; not with body),
 * `headers` (extra headers; not Authorization, Host, Content-Length,
 * Transfer-Encoding or Connection), `version` (this call's Version header)
 * @treturn table `{ method, url, path, headers, body }`: path without
 * the base URL or query; body is a string or nil
 * @raise an `invalid_argument` error for every misuse, and when the client
 * is closed
 */

/***
 * Judge the outcome of one attempt (csrc/response.c): the result, or an
 * error table and what to do next (csrc/policy.c: 429 always; 5xx and
 * timeouts for GET, PUT and DELETE; connections that sent nothing; a reused
 * connection found dead, once and at once, for GET, PUT and DELETE; with
 * jittered backoff within max_retries and max_retry_time_ms). The client's
 * token is redacted from every error text. ghl.driver is its one caller.
 *
 * After an answer pass status, head, body; after a transport failure pass
 * nil, kind, message, facts: what a transport's perform returns.
 * @function interpret
 * @tparam table call `{ req, attempt, started, can_refresh, reconnected }`:
 * `req` from `prepare` (errors copy its method and path), `attempt` this
 * attempt's number (default 1), `started` when the first began (ms; 0: no
 * budget used), `can_refresh` whether the caller can renew the token,
 * `reconnected` whether the free reconnect was used. Updated in place:
 * `attempt` on "retry" and "refresh", `reconnected` and `can_refresh` when
 * spent.
 * @tparam int|nil status the HTTP status, or nil when the transport failed
 * @tparam string|nil head the raw response head; for a failure, the error
 * kind ("network", "timeout", ...)
 * @tparam string|nil body the body; for a failure, the message
 * @tparam[opt] table|boolean facts for a failure: `{ sent, reused,
 * answered }` (sent: any byte of the request may have left; reused: the
 * connection was kept alive from before; answered: any byte of an answer
 * arrived), or just `sent`; nil counts as sent, so POSTs are not repeated
 * @treturn[1] string "done"
 * @treturn[1] any the decoded body ({} for an empty one)
 * @treturn[1] table resp `{ status, headers, attempts, trace_id }` (the
 * head is parsed when resp.headers is first read)
 * @treturn[2] string "retry"
 * @treturn[2] number delay_ms
 * @treturn[2] table err
 * @treturn[3] string "refresh" (a 401 that `auth_refreshable` accepts, when
 * call.can_refresh)
 * @treturn[3] table err
 * @treturn[4] string "fail"
 * @treturn[4] table err kind "http", "auth", "rate_limited", "decode" or the
 * transport's kind; after a transport failure `sent` says whether the
 * request may have reached the server
 * @raise when call is not a table with a req, or status is not a number
 * from 100 to 999
 */

/***
 * The non-secret settings.
 * @function config
 * @treturn table `{ base_url, version, location_id, max_retries,
 * max_retry_time_ms, retry_base_ms, retry_max_delay_ms, has_token }`
 * @raise an `invalid_argument` error when the client is closed
 */

/***
 * A non-secret fingerprint of the token (FNV-1a 64), to key shared state
 * such as rate limits by token without keeping the token itself.
 * @function fingerprint
 * @treturn string 16 hex digits (the empty token's without one)
 */

/***
 * Replace the token of the next requests (OAuth clients switch between
 * location and agency tokens and renew them). Drops the cached headers.
 * @function set_token
 * @tparam string|nil token nil sends no Authorization header
 * @raise an `invalid_argument` error for an empty token, one with
 * whitespace or control characters, or a closed client
 */

/***
 * Whether `close` was called.
 * @function closed
 * @treturn boolean
 */

/***
 * Wipe the token and free the client's memory. Idempotent; also the
 * `__gc` and `__close` metamethods.
 * @function close
 */

/***
 * The state of one walk through a paged list (csrc/pager.c). Pure: given the
 * params of the request that fetched a page and the decoded page, it gives
 * the items and the next params, so the Lua iterators can yield between
 * requests.
 * @type Pager
 */

/***
 * Start (or restart) a walk.
 * @function first
 * @tparam[opt] table params the first request's query parameters
 * @treturn table a shallow copy of params (for "search_after", without
 * page when searchAfter is given)
 */

/***
 * Take the items of a page and work out the next request.
 * The walk ends on a short or empty page, at max_items (the page is cut) or
 * max_pages, when total/totalCount/meta.total items were seen, or on the
 * style's own end signal.
 * @function next
 * @tparam table params the params that fetched this page
 * @tparam any page the decoded page
 * @treturn[1] table items
 * @treturn[1] table the next params
 * @treturn[2] table items of the last page (no second value)
 * @treturn[3] nil
 * @treturn[3] table an error of kind "decode" when the page has no usable
 * items, a cursor is missing, or the server repeats a page or cursor (a
 * loop); "invalid_argument" when the walk has already ended
 */

/***
 * Progress of the walk.
 * @function stats
 * @treturn table `{ pages, items, ended }`
 */

/***
 * Rate-limit pacing for one budget (csrc/pacer.c): fed the X-RateLimit-*
 * headers of each response, asked before each request how long to wait.
 * Near the end of the burst window (see `pacer`'s reserve) requests are
 * spread out; until the first response shows the limits, one request goes
 * alone. An interval over 60 s is taken as 60 s, a Remaining over the Max
 * as the Max. Pure: the caller passes the time in, so curl and nginx share
 * it.
 * @type Pacer
 */

/***
 * Learn from a response.
 * @function update
 * @tparam string|nil head the raw response head; nil when the call ended
 * without an answer (that ends a probe too)
 * @tparam number now_ms the current time
 * @tparam[opt] number sent_ms when the request was sent: an answer to a
 * request sent before the pacer opened the current window is not taken as
 * that window's first, and the first of a server window (Remaining one
 * below Max) sent after the current window began dates that window anew
 */

/***
 * Ask before a request; a plain answer counts the request, so sleep that
 * long and send it without asking again.
 * @function acquire
 * @tparam number now_ms the current time
 * @tparam[opt] number max_wait_ms the longest wait the caller can afford
 * (what is left of its call's budget); default no bound
 * @treturn[1] number wait_ms (0: send now)
 * @treturn[2] number wait_ms
 * @treturn[2] string why to sleep, then ask again (nothing counted):
 * "probe" (a probe is out) or "window" (the window is spent; an answer
 * meanwhile may show the next one begins later)
 * @treturn[3] nil
 * @treturn[3] table a "rate_limited" error, with retry_after_ms and
 * retry_after: the daily budget is spent (then also reset_at, the next UTC
 * midnight, an estimate), or the wait would pass max_wait_ms (then nothing
 * is counted)
 */

/***
 * What is known, for client:rate_limit(). Fields not seen yet are absent.
 * @function state
 * @treturn table `{ max, remaining, interval_ms, daily_limit,
 * daily_remaining, window_reset_ms, daily_reset_ms, paced, waits,
 * waited_ms }`
 */

/***
 * The whole state as text, so nginx workers can share one pacer through
 * a lua_shared_dict (ghl.pacer imports and exports it around each call).
 * @function export
 * @treturn string
 */

/***
 * Load a state made by `export`.
 * @function import
 * @tparam string state
 * @treturn[1] boolean true
 * @treturn[2] nil
 * @treturn[2] string "not an exported pacer state"
 */

/***
 * A lock taken by `file_lock` (csrc/fileio.c). Released by `unlock`, by
 * the garbage collector, or when the process exits.
 * @type FileLock
 */

/***
 * Release the lock. Idempotent.
 * @function unlock
 */

/***
 * A journal file opened by `appender` (csrc/fileio.c): it only grows, and
 * holds its lock until closed (by `close`, the garbage collector, or the
 * process's exit).
 * @type Appender
 */

/***
 * Append `data` (whole records, each ending in a newline) and fdatasync:
 * on disk when it returns. A write that fails is cut back off.
 * @function append
 * @tparam string data
 * @treturn[1] boolean true
 * @treturn[2] nil
 * @treturn[2] string why (a full disk, an I/O error)
 */

/***
 * Release the lock and close the file. Idempotent.
 * @function close
 */
