--- ghl.webhook: verify GHL's webhook signatures and dispatch the events.
-- Fails closed: no signature, no key, a bad signature, a stale or repeated
-- event: an error, never a silent pass (facts: ghl-api.md §10).
--
--   local event, err = ghl.webhook.verify(raw_body, headers)
--   if not event then return reply(401, err.reason) end
--   ghl.webhook.dispatch(event, { ContactCreate = function(e) ... end })
--
-- x-ghl-signature: Ed25519 over the raw body bytes (base64). x-wh-signature:
-- the legacy RSA-SHA256 (PKCS#1 v1.5). With both, only Ed25519 counts (no
-- falling back to the weaker one). GHL's published keys are built in;
-- opts.keys replaces them (a keyring: several keys, for rotation).
local cjson = require("cjson.safe").new()
local errors = require "ghl.errors"

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
local DEFAULT_MAX_AGE_S = 300

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

--- The default memory of webhook ids: the last `size` ids in this process.
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
-- (ghl.store.shm / redis / memory / file): shared by workers or hosts.
function M.seen_in(store, ttl_ms)
  if type(store) ~= "table" or type(store.add) ~= "function" then
    errors.invalid("webhook.seen_in needs a store with an add method")
  end
  ttl_ms = ttl_ms or 24 * 3600 * 1000
  return function(id)
    local added, err = store:add("webhook:" .. id, "1", ttl_ms)
    if added == nil then error(errors.new{ kind = "webhook", reason = "store", message = "webhook id store: " .. tostring(err) }, 0) end
    return not added
  end
end

local default_seen

--- Verify a delivery and decode its event.
-- opts: keys (a key or a list; default GHL's published keys),
-- allow_legacy_rsa (default true), max_age_s (default 300; false = no
-- timestamp check), now (seconds, for tests), seen (function(id) -> true
-- when already seen; default an in-memory LRU; false = no dedupe),
-- max_body_bytes (default 1 MiB).
-- -> event, info | nil, err (err.kind == "webhook", err.reason one of
-- missing_signature, no_key, bad_signature, legacy_refused, too_large,
-- malformed, stale, duplicate)
function M.verify(raw, headers, opts)
  if type(raw) ~= "string" then
    errors.invalid("webhook.verify: raw_body must be the body's bytes (a string), got %s", type(raw))
  end
  if type(headers) ~= "table" then
    errors.invalid("webhook.verify: headers must be a table, got %s", type(headers))
  end
  opts = opts or {}
  if #raw > (opts.max_body_bytes or DEFAULT_MAX_BODY) then
    return reject("too_large", "the body is larger than %d bytes", opts.max_body_bytes or DEFAULT_MAX_BODY)
  end
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

  local event = cjson.decode(raw)
  if type(event) ~= "table" then return reject("malformed", "the signed body is not a JSON object") end
  if opts.max_age_s ~= false then
    local ts = parse_time(event.timestamp)
    local now = opts.now or (require("ghl.core").now_ms() / 1000)
    if not ts then return reject("stale", "the event has no readable timestamp") end
    if math.abs(now - ts) > (opts.max_age_s or DEFAULT_MAX_AGE_S) then
      return reject("stale", "the event is %d s old (the window is %d s)", math.floor(now - ts),
        opts.max_age_s or DEFAULT_MAX_AGE_S)
    end
  end
  local id = event.webhookId
  if opts.seen ~= false and type(id) == "string" and id ~= "" then
    local seen = opts.seen
    if seen == nil then
      default_seen = default_seen or M.lru()
      seen = default_seen
    end
    if seen(id) then return reject("duplicate", "webhook %s was delivered before", id) end
  end
  return event, { scheme = scheme, webhook_id = id }
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

--- Handlers for INSTALL and UNINSTALL through an OAuth app: an install of
-- a location under an agency whose tokens the app holds mints (and stores)
-- a location token, once; an uninstall forgets the tokens.
function M.install_handlers(app)
  return {
    INSTALL = function(event)
      local loc, company = event.locationId, event.companyId
      if type(loc) ~= "string" or type(company) ~= "string" then
        return true -- an agency-level install: nothing to mint
      end
      local s = app:session(loc)
      if s and s.expires_at and s.expires_at > require("ghl.core").now_ms() then
        return true -- delivered again: already done
      end
      return app:location_token(company, loc)
    end,
    UNINSTALL = function(event)
      return app:forget(event.locationId or event.companyId)
    end,
  }
end

return M
