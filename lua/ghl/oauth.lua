--- ghl.oauth{...}: a Marketplace app's OAuth 2.0 tokens, kept in a store
-- and renewed so that no refresh token is ever lost. What GHL's token
-- endpoint does (refresh tokens rotate; a refresh repeated within 30 s gets
-- the same pair) is described below with what ghl does about it; the local
-- GHL server (spec/support/mock) answers the same way, so the specs check
-- the library against that behaviour.
--
--     local app = ghl.oauth{ client_id = ..., client_secret = ..., redirect_uri = ...,
--                            store = ghl.store.file("/var/lib/myapp/tokens.json") }
--     print(app:authorize_url{ scope = { "contacts.readonly", "contacts.write" }, state = s })
--     local session = assert(app:exchange(code))              -- on the redirect
--     local client = ghl.new{ oauth = app, location_id = session.location_id }
--
-- Refresh tokens rotate: each refresh returns a new one and the old one
-- dies. So a refresh runs under the store's lock, reads the store again
-- inside it (another caller may have refreshed already), writes the new
-- pair to the store *before* the new access token is used, and on
-- invalid_grant reads the store once more before giving up. GHL answers a
-- repeat of the same refresh within 30 s with the same pair, which is what
-- saves a caller that died between receiving a pair and storing it.
--
-- An agency (Company) install mints location tokens from its token, under
-- the location's lock; they refresh like any other, and are minted again
-- when their refresh token is refused. Which token a call takes:
-- @{tokens.md|the tokens topic} (doc/tokens.md).
local core = require "ghl.core"
local errors = require "ghl.errors"
local stores = require "ghl.store"
local clock = require "ghl.clock"

local M = {}

local App = {}
App.__index = App

local AUTHORIZE_HOSTS = {
  [false] = "https://marketplace.gohighlevel.com",
  [true] = "https://marketplace.leadconnectorhq.com", -- white label
}

local OPTIONS = {
  client_id = "string", client_secret = "string", redirect_uri = "string", store = "store",
  user_type = "string", base_url = "string", refresh_skew_ms = "number", lock_ttl_ms = "number",
  timeout_ms = "number", connect_timeout_ms = "number", ca_file = "string", proxy = "string",
  ssl_verify = "boolean", transport = "any", max_retries = "number", on_store_error = "function",
}

local function invalid(fmt, ...) errors.invalid("ghl.oauth: " .. fmt, ...) end

--- Make an app. Options: client_id, client_secret (both required),
-- redirect_uri, store (default ghl.store.memory()), user_type ("Location"
-- or "Company": what exchange() asks for), base_url, refresh_skew_ms
-- (renew this long before expiry, default 60000), lock_ttl_ms (how long a
-- refresh lock lasts unless its holder extends it; longer than timeout_ms),
-- on_store_error (function(info): a store failure that left something to
-- repair, see App:_report), and the transport options of ghl.new
-- (timeout_ms, ca_file, proxy, ...).
function M.new(opts)
  if type(opts) ~= "table" then invalid("expects an options table, got %s", type(opts)) end
  for k, v in pairs(opts) do
    local kind = OPTIONS[k]
    if not kind then invalid("unknown option '%s'", tostring(k)) end
    if kind ~= "any" and kind ~= "store" and type(v) ~= kind then
      invalid("option '%s' must be a %s, got %s", k, kind, type(v))
    end
  end
  for _, k in ipairs{ "client_id", "client_secret" } do
    if type(opts[k]) ~= "string" or opts[k] == "" then invalid("option '%s' is required and must not be empty", k) end
  end
  local store = opts.store or stores.memory()
  local ok, why = stores.check(store)
  if not ok then invalid("option 'store': %s", why) end
  local user_type = opts.user_type or "Location"
  if user_type ~= "Location" and user_type ~= "Company" then
    invalid("option 'user_type' must be \"Location\" or \"Company\", got %q", user_type)
  end
  local self = setmetatable({
    client_id = opts.client_id, redirect_uri = opts.redirect_uri, store = store, user_type = user_type,
    skew_ms = opts.refresh_skew_ms or 60000, app_id = opts.client_id:match("^([^-]+)"),
  }, App)
  -- the secret lives in a closure, not in a field someone could print
  local secret = opts.client_secret
  self._secret = function() return secret end
  -- what clients made by app:client() share with the app's own calls
  self._conn = { base_url = opts.base_url, timeout_ms = opts.timeout_ms, connect_timeout_ms = opts.connect_timeout_ms,
                 ca_file = opts.ca_file, proxy = opts.proxy, ssl_verify = opts.ssl_verify, transport = opts.transport,
                 max_retries = opts.max_retries }
  local Client = require "ghl.client"
  local o = { pacing = false }
  for k, v in pairs(self._conn) do o[k] = v end
  self._http = Client.new(o)
  -- the longest one token request may take; a lease must outlast it
  self._attempt_ms = opts.timeout_ms or 30000
  self.lock_ttl_ms = opts.lock_ttl_ms or 2 * self._attempt_ms + 5000
  if self.lock_ttl_ms <= self._attempt_ms then
    invalid("option 'lock_ttl_ms' (%d) must be longer than timeout_ms (%d): the lease must outlast a token request",
      self.lock_ttl_ms, self._attempt_ms)
  end
  self._on_store_error = opts.on_store_error
  -- store faults left to repair: rotated pairs the store did not take, and
  -- locks whose release failed, by store key
  self._kept, self._unlocks = {}, {}
  return self
end

function App:__tostring() return ("ghl.OAuthApp (%s)"):format(self.client_id) end

--- Constant-time comparison of the `state` sent with authorize_url and the
-- one that came back to the redirect handler.
function M.check_state(expected, received)
  if type(expected) ~= "string" or expected == "" or type(received) ~= "string" or #expected ~= #received then
    return nil, errors.new{ kind = "auth", message = "OAuth state mismatch: the redirect was not started by us" }
  end
  local diff = 0
  for i = 1, #expected do
    if expected:byte(i) ~= received:byte(i) then diff = diff + 1 end
  end
  if diff ~= 0 then
    return nil, errors.new{ kind = "auth", message = "OAuth state mismatch: the redirect was not started by us" }
  end
  return true
end

--- The URL to send the installing user to (the /v2/oauth/chooselocation form).
-- opts: scope (list or space-separated string), state, white_label,
-- login_window = "self" (log in in the same tab), redirect_uri.
function App:authorize_url(opts)
  opts = opts or {}
  local scope = opts.scope or {}
  if type(scope) == "table" then scope = table.concat(scope, " ") end
  local q = { response_type = "code", client_id = self.client_id, scope = scope,
              redirect_uri = opts.redirect_uri or self.redirect_uri, state = opts.state }
  if not q.redirect_uri then invalid("authorize_url needs a redirect_uri (in ghl.oauth or here)") end
  if opts.login_window then q.loginWindowOpenMode = opts.login_window end
  return AUTHORIZE_HOSTS[opts.white_label and true or false] .. "/v2/oauth/chooselocation?" .. core.encode_query(q)
end

-- storage ----------------------------------------------------------------

function App:_key(user_type, id)
  return ("%s:%s:%s"):format(self.app_id or self.client_id, user_type, id)
end

--- The sessions of this app in its store, sorted. A list of
-- `{ user_type = "Location" or "Company", id = id }`; it needs a store that
-- can list its keys (`keys()`: the memory and file stores).
-- @treturn[1] table
-- @treturn[2] nil
-- @treturn[2] string err
function App:sessions()
  if type(self.store.keys) ~= "function" then return nil, "this token store cannot list its sessions" end
  local keys, err = self.store:keys()
  if not keys then return nil, err end
  local prefix = self:_key("", ""):sub(1, -2) -- "<app>:"
  local out = {}
  for _, key in ipairs(keys) do
    if type(key) == "string" and key:sub(1, #prefix) == prefix then
      local user_type, id = key:sub(#prefix + 1):match("^(%a+):(.+)$")
      if user_type == "Location" or user_type == "Company" then out[#out + 1] = { user_type = user_type, id = id } end
    end
  end
  table.sort(out, function(a, b) return a.user_type .. a.id < b.user_type .. b.id end)
  return out
end

-- The fields the token logic computes with, and their types. A record
-- with another type (a hand edit, another program, a store shared with a
-- different version) is refused as corrupt when read, instead of failing
-- later in arithmetic or in the C core with a Lua error.
local RECORD_FIELDS = { { "access_token", "string" }, { "refresh_token", "string" }, { "expires_at", "number" },
  { "user_type", "string" }, { "location_id", "string" }, { "company_id", "string" }, { "minted_from", "string" } }

function App:_read(user_type, id)
  local raw, err = self.store:get(self:_key(user_type, id))
  if raw == nil then
    if err then return nil, errors.new{ kind = "auth", message = "token store: " .. tostring(err) } end
    return nil
  end
  local rec = type(raw) == "string" and core.json_decode(raw)
  if type(rec) ~= "table" then
    return nil, errors.new{ kind = "auth", message = "token store: the stored record is not valid JSON" }
  end
  for _, f in ipairs(RECORD_FIELDS) do
    local name, want = f[1], f[2]
    local v = rec[name]
    if v == core.null then
      rec[name] = nil -- this library never writes null: read as absent
    elseif v ~= nil and type(v) ~= want then
      return nil, errors.new{ kind = "auth", message = ("token store: the stored record of %s %s is corrupt (%s is a %s, "
        .. "not a %s): authorise the app again"):format(user_type, id, name, type(v), want) }
    end
  end
  return rec
end

function App:_write(rec)
  local id = rec.user_type == "Company" and rec.company_id or rec.location_id
  local ok, err = self.store:set(self:_key(rec.user_type, id), core.json_encode(rec))
  if not ok then
    return nil, errors.new{ kind = "auth", message = "token store: cannot save the new tokens: " .. tostring(err) }
  end
  return true
end

-- What callers may see of a record: never a token.
local function session(rec)
  return {
    user_type = rec.user_type, location_id = rec.location_id, company_id = rec.company_id, user_id = rec.user_id,
    scope = rec.scope, expires_at = rec.expires_at, has_refresh_token = rec.refresh_token ~= nil,
    minted_from = rec.minted_from, approved_locations = rec.approved_locations,
  }
end

-- token endpoint --------------------------------------------------------------

-- Replaces every secret in an error's message and body, in every spelling
-- a server may echo it in (as sent, percent-encoded, JSON-escaped): the C
-- core's rule (core.redact), so C and Lua redact alike.
local function scrub(err, secrets)
  local function walk(v, depth)
    if type(v) == "string" then
      for _, secret in pairs(secrets) do v = core.redact(v, secret) end -- (a list with holes)
      return v
    end
    if type(v) == "table" and depth < 8 then
      for k, x in pairs(v) do v[k] = walk(x, depth + 1) end
    end
    return v
  end
  if type(err) == "table" then
    err.message = walk(err.message, 0)
    err.body = walk(err.body, 0)
  end
  return err
end

local function field(body, snake, camel)
  local v = body[snake]
  if v == nil or v == core.null then v = body[camel] end
  if v == core.null then return nil end
  return v
end

-- A token answer as a record; both key styles (access_token/accessToken).
local function record_of(body, user_type)
  -- a 200 whose JSON is not an object (true, null, a number: a proxy's)
  if type(body) ~= "table" then return nil, "the token answer has no access_token (it is not a JSON object)" end
  local rec = {
    access_token = field(body, "access_token", "accessToken"),
    refresh_token = field(body, "refresh_token", "refreshToken"),
    user_type = field(body, "userType", "user_type") or user_type,
    location_id = field(body, "locationId", "location_id"),
    company_id = field(body, "companyId", "company_id"),
    user_id = field(body, "userId", "user_id"),
    scope = field(body, "scope", "scope"),
    approved_locations = field(body, "approvedLocations", "approved_locations"),
  }
  if type(rec.access_token) ~= "string" or rec.access_token == "" then
    return nil, "the token answer has no access_token"
  end
  local expires_in = tonumber(field(body, "expires_in", "expiresIn")) or 86399 -- GHL's documented day
  rec.expires_at = clock.now_ms() + expires_in * 1000
  rec.updated_at = clock.now_ms()
  if rec.user_type ~= "Company" and rec.user_type ~= "Location" then rec.user_type = user_type end
  if rec.user_type == "Location" and not rec.location_id then return nil, "the token answer has no locationId" end
  if rec.user_type == "Company" and not rec.company_id then return nil, "the token answer has no companyId" end
  return rec
end

-- Raised by a lease_keeper's wait when the refresh lock cannot be kept.
local LEASE_LOST = setmetatable({}, { __tostring = function() return "ghl.oauth: the refresh lock was lost" end })

-- A 200 whose JSON is false is no answer: without this its `resp` would be
-- taken for the error.
local function answer(body, resp)
  if body ~= false then return body, resp end
  return nil, errors.new{ kind = "decode", status = type(resp) == "table" and resp.status or nil,
                          message = "the answer is JSON false, not an object" }
end

-- A call of the app's own client; `hold` (a lease_keeper, for a call made
-- under the refresh lock) takes the place of its sleep, so that its waits
-- before a retry keep the lock's lease. With hold it takes no spare call
-- table of the app's client: that one may be in use by another coroutine.
-- `base`: the client to call with (default the app's own).
function App:_call(operation, params, hold, base)
  base = base or self._http
  if not hold then return answer(base:call(operation, params)) end
  local retried
  local http = setmetatable({ _sleep = hold, _on_retry = function(info) retried = info.error end,
                              _spare_call = false }, { __index = base })
  local ok, body, err = pcall(http.call, http, operation, params)
  if ok then return answer(body, err) end
  if body ~= LEASE_LOST then error(body, 0) end
  -- give up with what was to be retried: it was not processed (only
  -- those are retried), so a refresh token is not spent
  err = retried or errors.new{ kind = "timeout", message = "the token request" }
  err.message = tostring(err.message) .. " (not retried: the refresh lock could not be kept that long)"
  err.method, err.path = err.method or "POST", err.path or "/oauth/token"
  return nil, err
end

-- The text of an OAuth error answer: {error, error_description} or GHL's
-- usual {statusCode, message}.
local function oauth_text(err)
  local b = type(err.body) == "table" and err.body or {}
  local text = b.error ~= "Bad Request" and b.error or b.message or b.error_description or err.body
  if type(text) == "table" then
    -- GHL's 422 lists its messages; anything else in the list (null, an object) is left out
    local parts = {}
    for _, v in ipairs(text) do
      if type(v) == "string" then parts[#parts + 1] = v end
    end
    text = #parts > 0 and table.concat(parts, "; ") or nil
  end
  return type(text) == "string" and text or nil
end

function App:_token_call(form, secrets, hold)
  form.client_id, form.client_secret = self.client_id, self._secret()
  secrets[#secrets + 1] = form.client_secret
  local body, err = self:_call("oauth.get-access-token", form, hold)
  if not body then
    scrub(err, secrets)
    err.oauth_error = oauth_text(err)
    err.kind = err.kind == "http" and "auth" or err.kind
    return nil, err
  end
  return body
end

local function is_invalid_grant(err)
  return err and (err.oauth_error == "invalid_grant"
    or (type(err.message) == "string" and err.message:find("invalid_grant", 1, true) ~= nil))
end

-- GHL's 400 "Location is not active" (highlevel-api-docs#249): the
-- location was deactivated (suspended by SaaS, say). Its install stands; a
-- new consent or a new token would not help, and neither would a retry.
local function is_location_inactive(err)
  if not err or err.status ~= 400 then return false end
  for _, v in ipairs{ err.message, err.oauth_error, type(err.body) == "table" and err.body.message or nil,
                      type(err.body) == "table" and err.body.error_description or nil } do
    if type(v) == "string" and v:lower():find("location is not active", 1, true) then return true end
  end
  return false
end

local function inactive(err, what, id)
  err.kind, err.reason = "auth", "location_inactive"
  err.message = ("%s %s: GHL answered \"Location is not active\" (the location is deactivated or suspended): "
    .. "its tokens cannot be renewed until it is active again; not retried, and no re-authorisation is needed")
    :format(what, id)
  return err
end

--- Exchange the code of the redirect for tokens, store them, and return
-- the session (never the tokens themselves).
function App:exchange(code, opts)
  if type(code) ~= "string" or code == "" then invalid("exchange: code must be a non-empty string") end
  opts = opts or {}
  local user_type = opts.user_type or self.user_type
  local body, err = self:_token_call({ grant_type = "authorization_code", code = code, user_type = user_type,
                                       redirect_uri = opts.redirect_uri or self.redirect_uri }, { code })
  if not body then return nil, err end
  local rec, why = record_of(body, user_type)
  if not rec then return nil, errors.new{ kind = "decode", message = "exchange: " .. why } end
  if not rec.refresh_token then return nil, errors.new{ kind = "decode", message = "exchange: the token answer has no refresh_token" } end
  local ok, werr = self:_write(rec)
  if not ok then return nil, werr end
  return session(rec)
end

-- renewal -----------------------------------------------------------------

local function fresh(self, rec)
  return rec and rec.access_token and rec.expires_at and rec.expires_at - self.skew_ms > clock.now_ms()
end

local function usable(rec) return rec and rec.access_token and rec.expires_at and rec.expires_at > clock.now_ms() end

-- The refresh lock's lease while a token call waits to retry: this wait
-- function takes the place of the client's sleep. A 429's Retry-After can
-- be longer than the lease, and a lease that ends mid-refresh lets another
-- process refresh with the same refresh token. So the store extends the
-- lease (store:extend) until it outlasts the wait and the request after it
-- (timeout_ms), waking with half of it left to extend again; a crashed
-- holder's lease still ends lock_ttl_ms after its last extension. A store
-- that cannot extend leases gets no retry that would end after its lease.
-- Raises LEASE_LOST when the lease cannot be kept.
local function lease_keeper(self, key, lease, until_ms)
  local store, ttl, need, sleep = self.store, self.lock_ttl_ms, self._attempt_ms, self._http._sleep
  local extend = type(store.extend) == "function" and store.extend or nil
  return function(ms)
    local wake = clock.now_ms() + ms
    while true do
      if extend then
        local asked = clock.now_ms()
        local ok = extend(store, key, lease, ttl)
        if ok then
          until_ms = asked + ttl
        elseif ok == false then
          error(LEASE_LOST, 0) -- expired, maybe taken by another process
        end
        -- nil: the store failed (a blip); the lease known so far stands
      end
      local now = clock.now_ms()
      local left = wake - now
      if left <= 0 or until_ms >= wake + need then
        if until_ms < math.max(now, wake) + need then error(LEASE_LOST, 0) end
        if left > 0 then sleep(left) end
        return
      end
      local chunk = math.min(left, math.floor((until_ms - now) / 2))
      if not extend or chunk < 10 then error(LEASE_LOST, 0) end
      sleep(chunk)
    end
  end
end

-- Waits before trying a failed store write or unlock again: a blip (a
-- restart, a failover) of about a second is ridden out while the caller
-- waits; a longer one is reported and repaired at a later call. No try
-- starts after the budget: a store that hangs until its own timeout must
-- not hold the caller for four of them.
local STORE_RETRY_MS, STORE_RETRY_BUDGET_MS = { 50, 200, 800 }, 3000

local function with_retries(fn)
  local started = clock.now_ms()
  local ok, err = fn()
  local attempts = 1
  for _, ms in ipairs(STORE_RETRY_MS) do
    if ok or clock.now_ms() + ms - started > STORE_RETRY_BUDGET_MS then break end
    clock.sleep_ms(ms)
    ok, err = fn()
    attempts = attempts + 1
  end
  return ok, err, attempts
end

-- A store failure that left something to repair, for on_store_error:
-- { op = "save" | "unlock", user_type, id, attempts, message, kept (save:
-- the new pair is kept in this process) }; never a token. Without the hook
-- (or when it fails) it goes to nginx's error log, or stderr.
function App:_report(info)
  if self._on_store_error then
    local ok, herr = pcall(self._on_store_error, info)
    if ok then return end
    info.message = info.message .. " (and on_store_error failed: " .. tostring(herr) .. ")"
  end
  local line = ("ghl.oauth: token store: %s for %s %s failed after %d attempts: %s")
    :format(info.op, info.user_type, info.id, info.attempts, info.message)
  local nginx = rawget(_G, "ngx")
  if nginx and nginx.log then nginx.log(nginx.ERR, line) else io.stderr:write(line, "\n") end
end

-- Stores a rotated pair that replaces the stored record whose refresh
-- token is `replaces`, retrying when the store fails. If it still fails,
-- the pair is not dropped (GHL has spent the old refresh token): this
-- process keeps it, goes on with it, reports it, and saves it at a later
-- call (App:token, _take_kept). True when stored.
function App:_save(user_type, id, new, replaces)
  local key = self:_key(user_type, id)
  local ok, err, attempts = with_retries(function() return self:_write(new) end)
  if ok then
    self._kept[key] = nil
    return true
  end
  self._kept[key] = { rec = new, replaces = replaces, retry_at = clock.now_ms() + 1000 }
  scrub(err, { new.access_token, new.refresh_token, replaces })
  self:_report{ op = "save", user_type = user_type, id = id, attempts = attempts, kept = true,
                message = tostring(err.message) .. "; the new tokens are kept in this process and saved at a later call" }
  return false
end

-- Under the lock: the pair this process kept (_save) against the record
-- the store holds now. Still the one it replaced: ours is newer, saved now
-- (or kept again). Anything else (our own pair, stored by a process that
-- repeated the spent refresh token; a newer one; none: forgotten): the
-- store's wins. The record to go on with.
function App:_take_kept(user_type, id, rec)
  local key = self:_key(user_type, id)
  local kept = self._kept[key]
  if rec and rec.refresh_token == kept.replaces then
    self:_save(user_type, id, kept.rec, kept.replaces)
    return kept.rec
  end
  self._kept[key] = nil
  return rec
end

-- Releases the refresh lock, retrying when the store fails: a lock left
-- behind stalls every host's refresh until its lease ends. Still failing:
-- reported, and tried again at this process's next call.
function App:_unlock(user_type, id, key, lease)
  local ok, err, attempts = with_retries(function()
    local done, uerr = self.store:unlock(key, lease)
    return done ~= nil or uerr == nil, uerr -- a store of one's own may return nothing
  end)
  if ok then return end
  self._unlocks[key] = lease
  self:_report{ op = "unlock", user_type = user_type, id = id, attempts = attempts,
                message = "cannot release the refresh lock: " .. tostring(err)
                  .. "; tried again at the next call (the lease ends by itself after lock_ttl_ms)" }
end

-- The unlocks that failed (_unlock), once more each.
function App:_retry_unlocks()
  for key, lease in pairs(self._unlocks) do
    local done, err = self.store:unlock(key, lease)
    if done ~= nil or err == nil then self._unlocks[key] = nil end
  end
end

-- New tokens for (user_type, id), under the store's lock (hold keeps it
-- while a token call waits: lease_keeper): a refresh; for a location token
-- minted from the agency token, minted again when its refresh token is
-- refused (or when it has none); with `how.company_id` and no record yet,
-- the first location token, minted once however many callers ask at once;
-- with `how.mint`, a new one minted whatever is stored (with
-- `how.keep_usable`: unless the stored one has not expired, as another
-- caller may have minted it while we waited for the lock).
function App:_renew_locked(user_type, id, stale_access, hold, how)
  local rec, rerr = self:_read(user_type, id)
  if rerr then return nil, rerr end
  local key = self:_key(user_type, id)
  -- a pair this process could not store at its last refresh
  if self._kept[key] then rec = self:_take_kept(user_type, id, rec) end
  if how and how.mint and not (how.keep_usable and usable(rec)) then return self:_mint(how.company_id, id, hold) end
  if not rec then
    if user_type == "Location" and how and how.company_id then return self:_mint(how.company_id, id, hold) end
    return nil, errors.new{ kind = "auth", reason = "no_tokens", message = ("no tokens for %s %s: run the OAuth flow "
      .. "(exchange) first%s"):format(user_type, id, user_type == "Location"
        and ", or give company_id (an agency install) to ghl.new so that the agency token mints one" or "") }
  end
  -- someone renewed while we waited for the lock
  if rec.access_token ~= stale_access and usable(rec) then return rec end
  local err
  if rec.refresh_token then
    local used = rec.refresh_token
    -- the refresh token of the stored record, which the new pair replaces
    local replaces = self._kept[key] and self._kept[key].replaces or used
    local body
    body, err = self:_token_call({ grant_type = "refresh_token", refresh_token = used, user_type = rec.user_type },
      { used, rec.access_token }, hold)
    if not body and is_invalid_grant(err) then
      -- another process may have rotated it without our lock (another store?)
      local again = self:_read(user_type, id)
      if again and again.refresh_token and again.refresh_token ~= used then
        if usable(again) then return again end
        rec, replaces = again, again.refresh_token
        body, err = self:_token_call({ grant_type = "refresh_token", refresh_token = again.refresh_token,
                                       user_type = rec.user_type }, { again.refresh_token }, hold)
      end
    end
    if body then
      local new, why = record_of(body, rec.user_type)
      if not new then return nil, errors.new{ kind = "decode", message = "refresh: " .. why } end
      if not new.refresh_token then
        return nil, errors.new{ kind = "decode", message = "refresh: the token answer has no refresh_token" }
      end
      new.location_id = new.location_id or rec.location_id
      new.company_id = new.company_id or rec.company_id
      new.approved_locations = new.approved_locations or rec.approved_locations
      new.minted_from = rec.minted_from -- still the agency's to mint again
      -- stored before anyone uses the new access token; when the store
      -- cannot take it, kept in this process instead of lost (_save)
      self:_save(user_type, id, new, replaces)
      return new
    end
    if is_location_inactive(err) then return nil, inactive(err, "the refresh of " .. user_type, id) end
    if not is_invalid_grant(err) then return nil, err end
    if not rec.minted_from then
      err.kind, err.reason = "auth", "reauthorize"
      err.message = ("the refresh token of %s %s was rejected (%s): re-authorisation is needed (run the OAuth flow again)")
        :format(user_type, id, tostring(err.oauth_error or err.message))
      return nil, err
    end
    -- revoked, or the install was reconnected: the agency token mints a new one (once)
  end
  if rec.minted_from then return self:_mint(rec.minted_from, rec.location_id or id, hold, err) end
  return nil, errors.new{ kind = "auth", reason = "reauthorize", message = ("the token of %s %s expired and cannot "
    .. "be renewed (no refresh token, and not minted from an agency token): run the OAuth flow again")
    :format(user_type, id) }
end

-- how: see _renew_locked
function App:_renew(user_type, id, stale_access, how)
  local key = self:_key(user_type, id)
  -- our own lock, left behind by a store failure: released, not waited for
  if self._unlocks[key] then self:_retry_unlocks() end
  local until_ms = clock.now_ms() + self.lock_ttl_ms -- the lease lasts at least until then
  local lease, lerr = self.store:lock(key, self.lock_ttl_ms)
  if not lease then
    return nil, errors.new{ kind = "auth", message = "token store: " .. tostring(lerr) }
  end
  local ok, rec, err = pcall(self._renew_locked, self, user_type, id, stale_access,
    lease_keeper(self, key, lease, until_ms), how)
  self:_unlock(user_type, id, key, lease)
  if not ok then error(rec, 0) end
  return rec, err
end

--- A valid access token for (user_type, id), renewed first when it expires
-- within refresh_skew_ms, and until when (epoch ms) it stays that fresh.
-- Used by clients made with ghl.new{oauth = app}; company_id lets it mint
-- a location token from the agency token.
function App:token(user_type, id, company_id)
  local rec, err = self:_read(user_type, id)
  if not err and next(self._unlocks) then self:_retry_unlocks() end -- the store answers again
  local kept = self._kept[self:_key(user_type, id)]
  if kept then
    -- a rotated pair the store missed (_save): saved first, under the lock
    -- (at most once a second); until then the process goes on with it
    local saved = not err and kept.retry_at <= clock.now_ms() and self:_renew(user_type, id, nil)
    rec, err = saved or kept.rec, nil
  end
  if err then return nil, err end
  if fresh(self, rec) then return rec.access_token, rec.expires_at - self.skew_ms end
  company_id = company_id or self.default_company
  -- no location token yet: minted from the agency token, under the lock
  -- (one mint however many processes ask at once)
  local how = not rec and user_type == "Location" and company_id and { company_id = company_id } or nil
  local new, rerr = self:_renew(user_type, id, rec and rec.access_token, how)
  if new then return new.access_token, new.expires_at - self.skew_ms end
  -- the refresh failed, but the old token has not expired yet: keep going
  -- with it (fresh until now: the next call tries to renew again)
  if usable(rec) then return rec.access_token, clock.now_ms() end
  return nil, rerr
end

--- After a 401 that says the token is invalid: renew once (unless another
-- caller already did) and return the new access token and until when it is
-- fresh (as `token`).
function App:renew(user_type, id, used_access)
  local rec, err = self:_renew(user_type, id, used_access)
  if not rec then return nil, err end
  return rec.access_token, rec.expires_at - self.skew_ms
end

--- Force a refresh of the tokens of a location or company id.
function App:refresh(resource_id)
  if type(resource_id) ~= "string" or resource_id == "" then invalid("refresh: resource_id must be a non-empty string") end
  local user_type = self:_read("Location", resource_id) and "Location" or "Company"
  local rec, err = self:_read(user_type, resource_id)
  if err then return nil, err end
  local new, rerr = self:_renew(user_type, resource_id, rec and rec.access_token or "")
  if not new then return nil, rerr end
  return session(new)
end

-- agency -> location ---------------------------------------------------------

-- A location token from the agency token (POST /oauth/locationToken),
-- stored; under the location's lock (_renew_locked). `after`: the refresh
-- error that made it mint again. The record, or nil and an `auth` error
-- that says why it could not.
function App:_mint(company_id, location_id, hold, after)
  local function failed(err)
    if is_location_inactive(err) then return nil, inactive(err, "minting the token of Location", location_id) end
    err.kind = err.kind == "http" and "auth" or err.kind
    err.reason = err.reason or "mint_failed"
    err.message = ("%scannot mint a token for location %s from the agency token of company %s: %s"):format(
      after and ("the refresh token of Location %s was rejected (%s) and "):format(location_id,
        tostring(after.oauth_error or after.message)) or "", location_id, company_id, tostring(err.message))
    return nil, err
  end
  local started = clock.now_ms()
  local agency, err = self:token("Company", company_id)
  if not agency then return failed(err) end
  local function mint(token)
    -- getting the agency token may have waited for the agency's lock and
    -- its refresh longer than this location's lease lasts: a lease lost
    -- meanwhile may be another caller's now, who mints too. Kept (extended)
    -- here, or nothing is sent
    if hold then
      local ok, lerr = pcall(hold, 0)
      if not ok then
        if lerr ~= LEASE_LOST then error(lerr, 0) end
        return nil, nil, true
      end
    end
    -- the agency token on a core of this request's own, not on the app's:
    -- that one is shared by every coroutine (nginx light threads), whose
    -- token requests would carry the agency token meanwhile, and whose
    -- errors would not have it redacted
    local http = setmetatable({ _core = core.client{ token = token, base_url = self._conn.base_url,
                                                    max_retries = self._conn.max_retries },
                                _spare_call = false }, { __index = self._http })
    return self:_call("oauth.get-location-access-token", { companyId = company_id, locationId = location_id },
      hold, http)
  end
  -- the lease was lost: the token another caller minted meanwhile, or nothing minted
  local function lost()
    local again = self:_read("Location", location_id)
    if usable(again) and type(again.updated_at) == "number" and again.updated_at >= started then return again end
    return nil, errors.new{ kind = "auth", reason = "mint_failed", message = ("cannot mint a token for location %s "
      .. "from the agency token of company %s: getting the agency token took longer than the location's lock "
      .. "lasts (lock_ttl_ms), and another caller may be minting it now: not minted; try again")
      :format(location_id, company_id) }
  end
  local body, cerr, gone = mint(agency)
  if gone then return lost() end
  if not body and cerr.status == 401 and core.auth_refreshable(cerr.message) then
    -- the agency token was refused as expired: renew it once and mint again
    local renewed, rerr = self:renew("Company", company_id, agency)
    if not renewed then return failed(rerr) end
    agency = renewed
    body, cerr, gone = mint(agency)
    if gone then return lost() end
  end
  if not body then return failed(scrub(cerr, { agency })) end
  local rec, why = record_of(body, "Location")
  if not rec then
    return nil, errors.new{ kind = "decode", reason = "mint_failed", message = ("cannot mint a token for location %s "
      .. "from the agency token of company %s: %s"):format(location_id, company_id, why) }
  end
  rec.location_id = rec.location_id or location_id
  rec.company_id = company_id
  -- renewed with its refresh token (GHL's answers carry one since
  -- highlevel-api-docs#285; older ones do not), and minted again from the
  -- agency token when that fails or there is none
  rec.minted_from = company_id
  local ok, werr = with_retries(function() return self:_write(rec) end)
  if not ok then return nil, scrub(werr, { rec.access_token, rec.refresh_token }) end
  return rec
end

--- Mint a location token from the agency (Company) token (POST
-- /oauth/locationToken) and store it, under the location's lock. It is
-- renewed with its refresh token, and minted again from the agency token
-- when that is refused (revoked, reconnected) or the answer had none.
function App:location_token(company_id, location_id)
  if type(company_id) ~= "string" or company_id == "" then invalid("location_token: company_id must be a non-empty string") end
  if type(location_id) ~= "string" or location_id == "" then invalid("location_token: location_id must be a non-empty string") end
  local rec, err = self:_renew("Location", location_id, nil, { company_id = company_id, mint = true })
  if not rec then return nil, err end
  return session(rec)
end

--- Iterate the locations where the app is installed (agency token).
-- params: companyId (default: the app's company), isInstalled, query, ...
function App:installed_locations(params)
  params = params or {}
  local company = params.companyId or self.default_company
  if not company then invalid("installed_locations: pass companyId") end
  local p = {}
  for k, v in pairs(params) do p[k] = v end
  p.companyId, p.appId = company, p.appId or self.app_id
  return self:client{ company_id = company }:each_of("oauth.get-installed-location", p)
end

--- The stored session (no tokens) of a location or company id.
function App:session(resource_id)
  local rec = self:_read("Location", resource_id) or self:_read("Company", resource_id)
  return rec and session(rec) or nil
end

--- Forget the tokens of a location or company id (on UNINSTALL, say).
function App:forget(resource_id)
  self.store:delete(self:_key("Location", resource_id))
  self.store:delete(self:_key("Company", resource_id))
  self._kept[self:_key("Location", resource_id)], self._kept[self:_key("Company", resource_id)] = nil, nil
  return true
end

-- where an install event of a location or company is remembered (no secrets in it)
function App:_install_key(id) return self:_key("install", id) end

--- What an install event said about a location or company id: { type =
-- "INSTALL", installType, locationId, companyId, appId, at (epoch ms) }, or
-- nil (never installed, or uninstalled since).
function App:installed(id)
  local raw = self.store:get(self:_install_key(id))
  local rec = type(raw) == "string" and core.json_decode(raw)
  return type(rec) == "table" and rec or nil
end

--- The app's part of its Marketplace lifecycle events (ghl.webhook.receive
-- calls it with `app = this app`): INSTALL remembers the install
-- (`app:installed(id)`) and, for a location under an agency whose tokens the
-- app holds, mints the location token (once, however often GHL delivers
-- the event); UNINSTALL forgets the tokens of that location or company,
-- which GHL has made dead, and the install. Other events: nothing.
-- -> true | nil, err
function App:on_webhook(event)
  if type(event) ~= "table" then invalid("on_webhook: event must be a table") end
  local loc, company = event.locationId, event.companyId
  local id = type(loc) == "string" and loc ~= "" and loc or (type(company) == "string" and company ~= "" and company)
  if event.type == "UNINSTALL" then
    if not id then return nil, errors.new{ kind = "webhook", message = "UNINSTALL names no location or company" } end
    self:forget(id)
    self.store:delete(self:_install_key(id))
    return true
  end
  if event.type ~= "INSTALL" then return true end
  if not id then return nil, errors.new{ kind = "webhook", message = "INSTALL names no location or company" } end
  local ok, werr = self.store:set(self:_install_key(id), core.json_encode{
    type = "INSTALL", installType = event.installType, locationId = loc, companyId = company,
    appId = event.appId, at = clock.now_ms() })
  if not ok then return nil, errors.new{ kind = "auth", message = "token store: " .. tostring(werr) } end
  if type(loc) ~= "string" or type(company) ~= "string" or not self:_read("Company", company) then
    return true -- no agency tokens to mint with: the install is remembered
  end
  local s = self:session(loc)
  if s and s.expires_at and s.expires_at > clock.now_ms() then return true end -- delivered again: done
  -- the same look again under the lock: another worker or host may be
  -- handling the same event (its claim is in a store of its own)
  local rec, err = self:_renew("Location", loc, nil, { company_id = company, mint = true, keep_usable = true })
  if not rec then return nil, err end
  return true
end

--- A client that uses this app's tokens (options as ghl.new).
function App:client(opts)
  local o = {}
  for k, v in pairs(self._conn) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  o.oauth = self
  return require("ghl").new(o)
end

--- Remember the agency's company id: clients can then mint location tokens
-- for locations that have none yet.
function App:use_company(company_id)
  self.default_company = company_id
  return self
end

M.App = App
return M
