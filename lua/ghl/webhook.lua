--- ghl.webhook: receive GHL's webhook deliveries: signatures checked
-- (failing closed), replays refused, every event handled once. GHL delivers
-- again only after a 429, up to six times about ten minutes apart, with the
-- same payload (GHL's Webhook Integration Guide for Marketplace apps and its
-- "Automated Webhook Retries" article); so a delivery is claimed, handled,
-- then committed or given back (429: deliver again).
--
--     local status, reply = ghl.webhook.receive(raw_body, headers, function(event)
--       ... return true end, { store = ghl.store.shm("ghl_webhooks") })
--     -- answer `status` with `reply` (JSON)
--
--     local event, err = ghl.webhook.verify(raw_body, headers)  -- the pieces
--
-- x-ghl-signature: Ed25519 over the raw body bytes (base64). x-wh-signature:
-- the legacy RSA-SHA256 (PKCS#1 v1.5). With both, only Ed25519 counts (no
-- falling back to the weaker one). GHL's published keys are built in;
-- opts.keys replaces them (a keyring: several keys, for rotation).
local core = require "ghl.core"
local errors = require "ghl.errors"
local check = require "ghl.check"
local claims = require "ghl.webhook.claims"

local M = {}

-- GHL's published public keys (Ed25519 for x-ghl-signature, RSA-4096 for x-wh-signature)
M.GHL_KEYS = {
  [[-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----]],
  [[-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----]],
}

local DEFAULT_MAX_BODY = 1024 * 1024
-- GHL's last retry comes about 70 minutes after the first try: a window of
-- 80 admits every redelivery, and refuses an event from hours ago
local DEFAULT_MAX_AGE_S = 80 * 60
local DEFAULT_MAX_FUTURE_S = 5 * 60 -- clocks differ a little; an event from later is forged
local DEFAULT_CLAIM_TTL_MS = 5 * 60 * 1000 -- a handler's lease: shorter than GHL's 10 minutes between tries
local DEFAULT_DONE_TTL_MS = 24 * 3600 * 1000 -- handled deliveries remembered for a day

local crypto
local function lib()
  crypto = crypto or require "ghl.crypto" -- libcrypto, loaded only by those who verify
  return crypto
end

local function reject(reason, fmt, ...)
  return nil, errors.new{ kind = "webhook", reason = reason, message = fmt:format(...) }
end

-- loaded keys by their text, per process
local loaded = {}

--- Load a public key: PEM, base64 SPKI DER, or a raw 32-byte Ed25519 key in
-- base64 or hex. -> key, "ed25519"|"rsa" | nil, err
function M.load_key(text)
  if type(text) ~= "string" then
    if type(text) == "userdata" then return text end
    errors.invalid("webhook key must be a string (PEM, base64 or hex), got %s", type(text))
  end
  local k = loaded[text]
  if k then return k[1], k[2] end
  local key, kind = lib().load_key(text)
  if not key then return nil, kind end
  loaded[text] = { key, kind }
  return key, kind
end

--- The PEM public keys in a file (a bundle of one or more), for `opts.keys`.
-- @string path
-- @treturn[1] {string,...} the PEM blocks, in file order
-- @treturn[2] nil
-- @treturn[2] string err when the file cannot be read or holds no PEM public key
function M.read_keys(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "webhook keys: " .. tostring(err) end
  local text = f:read("*a")
  f:close()
  local keys = {}
  for pem in text:gmatch("%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-.-%-%-%-%-%-END PUBLIC KEY%-%-%-%-%-") do
    keys[#keys + 1] = pem
  end
  if #keys == 0 then return nil, ("webhook keys: %s holds no PEM public key"):format(path) end
  return keys
end

-- the keyring: { ed25519 = {...}, rsa = {...} }
local function keyring(opts)
  local ring = { ed25519 = {}, rsa = {} }
  local keys = opts.keys or M.GHL_KEYS
  if type(keys) == "string" then keys = { keys } end
  if type(keys) ~= "table" then errors.invalid("webhook opts.keys must be a list of keys") end
  for i, text in ipairs(keys) do
    local key, kind = M.load_key(text)
    if not key then errors.invalid("webhook opts.keys[%d]: %s", i, kind) end
    table.insert(ring[kind], key)
  end
  return ring
end

-- a header by name in any case; nil, "repeated" when it came twice
local function header(headers, name)
  local found
  for k, v in pairs(headers) do
    if type(k) == "string" and k:lower() == name then
      if found ~= nil or type(v) == "table" then return nil, "repeated" end
      found = v
    end
  end
  return found
end

-- "2026-11-28T17:03:00.123Z" (or with an offset) -> epoch seconds
local function parse_time(s)
  if type(s) == "number" then return s > 1e11 and s / 1000 or s end
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local frac, zone = rest:match("^(%.?%d*)(.*)$")
  local offset = 0
  if zone ~= "Z" and zone ~= "" then
    local sign, oh, om = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from the civil date (no os.time: it reads the local time zone)
  local floor = math.floor -- (no //: LuaJIT)
  local yy = mo <= 2 and y - 1 or y
  local era = floor((yy >= 0 and yy or yy - 399) / 400)
  local yoe = yy - era * 400
  local doy = floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) + (tonumber(frac) or 0) - offset
end
M.parse_time = parse_time

--- The default memory of webhook ids: the last `size` ids in this process
-- (verify's one-phase `seen`; receive dedupes in two phases instead).
function M.lru(size)
  size = size or 10000
  local set, ring, pos = {}, {}, 0
  return function(id)
    if set[id] then return true end
    pos = pos % size + 1
    if ring[pos] then set[ring[pos]] = nil end
    ring[pos], set[id] = id, true
    return false
  end
end

--- A memory of webhook ids in a token store that has add(key, value, ttl_ms)
-- (ghl.store.shm / redis / memory / file): shared by workers or hosts. A
-- store that fails answers "seen" as nil, err: verify reports it.
function M.seen_in(store, ttl_ms)
  if type(store) ~= "table" or type(store.add) ~= "function" then
    errors.invalid("webhook.seen_in needs a store with an add method")
  end
  ttl_ms = ttl_ms or 24 * 3600 * 1000
  return function(id)
    local added, err = store:add("webhook:" .. id, "1", ttl_ms)
    if added == nil then return nil, err end
    return not added
  end
end

local VERIFY_OPTIONS = { keys = "any", allow_legacy_rsa = "boolean", max_age_s = "any", max_future_s = "number",
                         require_timestamp = "boolean", now = "number", seen = "any", max_body_bytes = "number" }
local RECEIVE_OPTIONS = { store = "table", claim_ttl_ms = "number", done_ttl_ms = "number", on_error = "function",
                          app = "table", run_later = "boolean" }
for k, v in pairs(VERIFY_OPTIONS) do RECEIVE_OPTIONS[k] = v end
RECEIVE_OPTIONS.seen = nil -- receive dedupes in two phases itself

-- unknown options are an error (as for ghl.new); "any" is checked here
local function options(where, opts, schema)
  opts = check.options(where, opts, schema)
  if opts.max_age_s ~= nil and opts.max_age_s ~= false and type(opts.max_age_s) ~= "number" then
    errors.invalid("%s: option 'max_age_s' must be a number of seconds, or false", where)
  end
  if opts.seen ~= nil and opts.seen ~= false and type(opts.seen) ~= "function" then
    errors.invalid("%s: option 'seen' must be a function(id), or false", where)
  end
  return opts
end

local function check_args(where, raw, headers)
  if type(raw) ~= "string" then
    errors.invalid("%s: raw_body must be the body's bytes (a string), got %s", where, type(raw))
  end
  if type(headers) ~= "table" then
    errors.invalid("%s: headers must be a table, got %s", where, type(headers))
  end
end

-- The checks every delivery goes through: size, signature, JSON object,
-- timestamp window. -> event, info | nil, err
local function authentic(raw, headers, opts)
  local max_body = opts.max_body_bytes or DEFAULT_MAX_BODY
  if #raw > max_body then return reject("too_large", "the body is larger than %d bytes", max_body) end
  local ed, e1 = header(headers, "x-ghl-signature")
  local rsa, e2 = header(headers, "x-wh-signature")
  if e1 or e2 then return reject("malformed", "a signature header came more than once") end
  local ring = keyring(opts)
  local scheme, sig, keys
  if ed then
    scheme, sig, keys = "ed25519", ed, ring.ed25519
  elseif rsa then
    if opts.allow_legacy_rsa == false then
      return reject("legacy_refused", "only x-ghl-signature (Ed25519) is accepted")
    end
    scheme, sig, keys = "rsa", rsa, ring.rsa
  else
    return reject("missing_signature", "no x-ghl-signature or x-wh-signature header")
  end
  if #keys == 0 then return reject("no_key", "no %s public key to check the signature with", scheme) end
  local ok, why = false, nil
  for _, key in ipairs(keys) do
    ok, why = lib().verify(key, raw, sig)
    if ok then break end
  end
  if not ok then return reject("bad_signature", "%s signature rejected: %s", scheme, tostring(why)) end

  local event = core.json_decode(raw)
  if type(event) ~= "table" or (next(event) ~= nil and event[1] ~= nil) then
    return reject("malformed", "the signed body is not a JSON object")
  end
  local ts = event.timestamp ~= nil and parse_time(event.timestamp) or nil
  if opts.max_age_s ~= false then
    local now = opts.now or (core.now_ms() / 1000)
    if event.timestamp ~= nil and not ts then
      return reject("stale", "the event's timestamp cannot be read")
    end
    if not ts and opts.require_timestamp then return reject("stale", "the event has no timestamp") end
    if ts then
      local max_age, max_future = opts.max_age_s or DEFAULT_MAX_AGE_S, opts.max_future_s or DEFAULT_MAX_FUTURE_S
      if now - ts > max_age then
        return reject("stale", "the event is %d s old (the window is %d s)", math.floor(now - ts), max_age)
      end
      if ts - now > max_future then
        return reject("stale", "the event is dated %d s from now", math.floor(ts - now))
      end
    end
  end
  local id = type(event.webhookId) == "string" and event.webhookId ~= "" and event.webhookId or nil
  -- without an id, the signed bytes themselves name the delivery
  return event, { scheme = scheme, webhook_id = id, key = id or ("body:" .. lib().sha256_hex(raw)) }
end

--- Verify a delivery and decode its event: the checks of `receive`, for
-- those who want the pieces.
-- opts: keys (a key or a list; default GHL's published keys),
-- allow_legacy_rsa (default true), max_age_s (default 4800: GHL's retries
-- come up to about 70 minutes after the first try; false = no timestamp
-- check), max_future_s (300), require_timestamp (default false: an event
-- without one is accepted on its signature), now (seconds, for tests),
-- seen (function(key) -> true when already seen, or nil, err; default none:
-- `receive` dedupes in two phases, which a one-phase check cannot: it
-- would drop GHL's redelivery of an event whose handler failed),
-- max_body_bytes (default 1 MiB). Unknown options are an error.
-- -> event, info ({ scheme, webhook_id, key }) | nil, err (err.kind ==
-- "webhook", err.reason one of missing_signature, no_key, bad_signature,
-- legacy_refused, too_large, malformed, stale, duplicate, store)
function M.verify(raw, headers, opts)
  check_args("webhook.verify", raw, headers)
  opts = options("webhook.verify", opts, VERIFY_OPTIONS)
  local event, info = authentic(raw, headers, opts)
  if not event then return nil, info end
  if opts.seen then
    local seen, serr = opts.seen(info.key)
    if seen == nil and serr then return reject("store", "webhook id store: %s", tostring(serr)) end
    if seen then return reject("duplicate", "webhook %s was delivered before", info.key) end
  end
  return event, info
end

local STATUS = { too_large = 413, malformed = 400 } -- every other refusal: 401

local function report(opts, info)
  if opts.on_error then
    local ok = pcall(opts.on_error, info)
    if ok then return end
  end
  local text = ("ghl.webhook: %s %s: %s"):format(info.stage, tostring(info.webhook_id or info.key or ""),
    tostring(info.message))
  if ngx and ngx.log then ngx.log(ngx.ERR, text) else io.stderr:write(text, "\n") end
end

-- The handler's verdict: true when the event is done.
local function run_handler(handler, event, app)
  if app and (event.type == "INSTALL" or event.type == "UNINSTALL") then
    local ok, res, err = pcall(app.on_webhook, app, event)
    if not ok then return false, res end
    if not res then return false, err end
  end
  local fn = handler
  if type(handler) == "table" then
    fn = handler[event.type] or handler["*"]
    if not fn then return true, nil, true end -- no handler for this type: nothing to do, nothing to retry
  end
  local ok, res, err = pcall(fn, event)
  if not ok then return false, res end
  if not res then return false, err or "the handler answered " .. tostring(res) end
  return true
end

local default_store

--- Receive a delivery: the one call a receiver needs. Returns the HTTP
-- status to answer and a small table to answer as JSON (never the
-- handler's error text: that goes to opts.on_error).
--
-- - 401 (413 too large, 400 not a JSON object): refused, handler not called
-- - 200 handled (handler returned true), or handled before (handler not called)
-- - 429 the handler failed (returned nil/false, or raised): GHL delivers again;
--   also while another worker or host handles the same delivery, and
--   when the store cannot be reached
--
-- handler: function(event) -> true | nil, err, or a table of them by
-- event type ("*" for the rest; a type without one is done at once).
-- opts: those of verify, and store (where deliveries are claimed: default
-- a ghl.store.memory() of this process; ghl.store.shm(dict) for every
-- nginx worker, ghl.store.redis{...} for every host), claim_ttl_ms (a
-- handler's lease, 300000), done_ttl_ms (how long a handled delivery is
-- remembered, a day), on_error(info) ({ stage = "handler" | "store" |
-- "commit", event_type, webhook_id, key, message }), app (an OAuth app:
-- INSTALL / UNINSTALL go to app:on_webhook first), run_later (nginx: answer
-- 200 once claimed and run the handler in a timer; an event whose handler
-- then fails is lost, since GHL has its 200).
function M.receive(raw, headers, handler, opts)
  check_args("webhook.receive", raw, headers)
  if type(handler) ~= "function" and type(handler) ~= "table" then
    errors.invalid("webhook.receive: handler must be a function(event) or a table of them by type, got %s",
      type(handler))
  end
  opts = options("webhook.receive", opts, RECEIVE_OPTIONS)
  if opts.run_later and not (ngx and ngx.timer) then
    errors.invalid("webhook.receive: run_later needs nginx (ngx.timer.at)")
  end
  local store = opts.store
  if not store then
    default_store = default_store or require("ghl.store").memory()
    store = default_store
  end
  if type(store.add) ~= "function" then
    errors.invalid("webhook.receive: the store needs an add(key, value, ttl_ms) method")
  end
  local event, info = authentic(raw, headers, opts)
  if not event then
    return STATUS[info.reason] or 401, { error = info.reason, message = info.message }
  end
  local c = claims.new(store, opts.claim_ttl_ms or DEFAULT_CLAIM_TTL_MS, opts.done_ttl_ms or DEFAULT_DONE_TTL_MS)
  local key = info.key
  local t, why = c:claim(key)
  if t == nil then
    report(opts, { stage = "store", event_type = event.type, webhook_id = info.webhook_id, key = key,
                   message = tostring(why) })
    return 429, { error = "store", message = "the delivery could not be claimed; deliver it again" }
  end
  if not t then
    if why == "done" then return 200, { duplicate = true } end
    return 429, { in_progress = true } -- another worker or host has it: GHL comes back
  end
  local function finish()
    local ok, err, ignored = run_handler(handler, event, opts.app)
    if not ok then
      report(opts, { stage = "handler", event_type = event.type, webhook_id = info.webhook_id, key = key,
                     message = tostring(err) })
      c:release(key, t)
      return 429, { retry = true }
    end
    local committed, cerr = c:commit(key, t)
    if not committed then
      -- handled, but not remembered: a redelivery (there is none after a 200) would run it again
      report(opts, { stage = "commit", event_type = event.type, webhook_id = info.webhook_id, key = key,
                     message = tostring(cerr) })
    end
    if ignored then return 200, { ignored = event.type } end
    return 200, { handled = true }
  end
  if opts.run_later then
    local ok, terr = ngx.timer.at(0, function(premature) if not premature then finish() end end)
    if not ok then
      c:release(key, t)
      return 429, { error = "timer", message = tostring(terr) }
    end
    return 200, { accepted = true }
  end
  return finish()
end

--- Call the handler for event.type (or handlers["*"]). -> the handler's
-- results | nil, err (reason "unhandled").
function M.dispatch(event, handlers)
  if type(event) ~= "table" then errors.invalid("webhook.dispatch: event must be a table") end
  if type(handlers) ~= "table" then errors.invalid("webhook.dispatch: handlers must be a table") end
  local h = handlers[event.type] or handlers["*"]
  if not h then return reject("unhandled", "no handler for %s", tostring(event.type)) end
  return h(event)
end

--- Handlers for INSTALL and UNINSTALL through an OAuth app, for dispatch:
-- app:on_webhook (an install of a location under an agency whose tokens the
-- app holds mints a location token, once; an uninstall forgets the tokens).
-- With receive, `app = app` does the same.
function M.install_handlers(app)
  local function on(event) return app:on_webhook(event) end
  return { INSTALL = on, UNINSTALL = on }
end

return M
