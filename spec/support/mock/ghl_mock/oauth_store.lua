-- OAuth state of the local GHL server: the one app's client credentials,
-- authorization codes (made by POST /_mock/oauth/code: there is no browser
-- to consent in), refresh tokens with GHL's rotation, the counters and the
-- knobs tests turn. The access tokens it issues go to state.lua, where the
-- router looks every Bearer token up.
local state = require "ghl_mock.state"
local seed = require "ghl_mock.seed"
local cjson = require "cjson.safe"

local M = {}

-- GHL's numbers (GHL's OAuth docs): an access token lives a day less a second;
-- the same refresh token presented again within 30 s gets the same pair
-- (concurrent refreshes of a distributed client must not lock it out).
-- Location tokens minted from an agency token carry a refresh token since
-- highlevel-api-docs#285; location_refresh_token = false answers as before.
-- inactive_locations: the ids whose refresh and mint GHL answers 400
-- "Location is not active" (highlevel-api-docs#249).
local DEFAULTS = { access_ttl_s = 86399, repeat_window_s = 30, token_style = "snake", location_refresh_token = true,
                   inactive_locations = {} }
local CODE_TTL_S = 600
local REFRESH_TTL_S = 365 * 86400 -- "valid for a year"; never checked here

M.COUNTERS = { "token_calls", "refresh_calls", "code_calls", "location_token_calls", "refresh_repeats",
               "invalid_grants", "issued_access_tokens", "revoked_refresh_tokens" }

-- fixed ids of the mock app's install (24 hex, like GHL's Mongo ids)
M.VERSION_ID = "64f0c1d2e3a4b5c6d7e8fa01"
M.PLAN_ID = "64f0c1d2e3a4b5c6d7e8fb01"

local LOCATION_SCOPES = { "contacts.readonly", "contacts.write", "opportunities.readonly", "opportunities.write",
  "calendars.readonly", "calendars.write", "calendars/events.readonly", "calendars/events.write",
  "conversations.readonly", "conversations.write", "conversations/message.readonly",
  "conversations/message.write", "workflows.readonly", "locations.readonly", "locations/customFields.readonly",
  "locations/customFields.write", "locations/customValues.readonly", "locations/tags.readonly",
  "locations/tags.write", "locations/templates.readonly", "users.readonly" }
M.LOCATION_SCOPE = table.concat(LOCATION_SCOPES, " ")
-- agency tokens can also mint location tokens (oauth.*) and manage sub-accounts
M.COMPANY_SCOPE = M.LOCATION_SCOPE .. " locations.write oauth.readonly oauth.write"

local client = {}
local defaults = {}
local cfg, codes, refresh, counters

local function copy(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return r
end

--- Back to the defaults: codes, refresh tokens and counters forgotten
-- (state.reset forgets the access tokens).
function M.reset()
  cfg = copy(defaults)
  codes, refresh, counters = {}, {}, {}
  for _, k in ipairs(M.COUNTERS) do counters[k] = 0 end
end

local function check(b)
  local problems = {}
  local ttl = b.access_ttl_s
  if ttl ~= nil and (type(ttl) ~= "number" or ttl < 1 or ttl ~= math.floor(ttl)) then
    problems[#problems + 1] = "access_ttl_s must be a whole number of at least 1"
  end
  local w = b.repeat_window_s
  if w ~= nil and (type(w) ~= "number" or w < 0) then
    problems[#problems + 1] = "repeat_window_s must be a number of at least 0"
  end
  if b.token_style ~= nil and b.token_style ~= "snake" and b.token_style ~= "camel" then
    problems[#problems + 1] = 'token_style must be "snake" or "camel"'
  end
  if b.location_refresh_token ~= nil and type(b.location_refresh_token) ~= "boolean" then
    problems[#problems + 1] = "location_refresh_token must be a boolean"
  end
  local inactive = b.inactive_locations
  if inactive ~= nil then
    local ok = type(inactive) == "table"
    for k, v in pairs(ok and inactive or {}) do
      if type(k) ~= "number" or type(v) ~= "string" then ok = false end
    end
    if not ok then problems[#problems + 1] = "inactive_locations must be a list of location ids" end
  end
  return problems
end

--- Change any of access_ttl_s, repeat_window_s, token_style,
-- location_refresh_token, inactive_locations until the next reset. Returns nil and the problems when some are bad.
function M.configure(b)
  local problems = check(b)
  if #problems > 0 then return nil, problems end
  for k in pairs(DEFAULTS) do
    if b[k] ~= nil then cfg[k] = b[k] end
  end
  return true
end

function M.config() return copy(cfg) end

--- Whether GHL answers "Location is not active" for this location.
function M.inactive(location_id)
  for _, id in ipairs(cfg.inactive_locations) do
    if id == location_id then return true end
  end
  return false
end

--- Revoke the refresh tokens of a location ({locationId=}) or a company's
-- agency tokens ({companyId=}): what a reconnect or a revoked install
-- leaves. How many were revoked.
function M.revoke(b)
  local n = 0
  for token, r in pairs(refresh) do
    local g = r.grant
    if (b.locationId and g.userType == "Location" and g.locationId == b.locationId)
      or (b.companyId and g.userType == "Company" and g.companyId == b.companyId) then
      refresh[token] = nil
      n = n + 1
    end
  end
  counters.revoked_refresh_tokens = counters.revoked_refresh_tokens + n
  return n
end

--- From config.lua's `oauth`: client_id, client_secret, and optionally the
-- three knobs, which then become what a reset goes back to.
function M.init(c)
  c = c or {}
  client = { client_id = c.client_id, client_secret = c.client_secret,
             app_id = type(c.client_id) == "string" and c.client_id:match("^[^-]*") or nil }
  local problems = check(c)
  assert(#problems == 0, "config.lua oauth: " .. table.concat(problems, "; "))
  defaults = copy(DEFAULTS)
  for k in pairs(DEFAULTS) do
    if c[k] ~= nil then defaults[k] = c[k] end
  end
  M.reset()
end

--- {client_id, client_secret, app_id}; the app id is the client id's part before the first "-".
function M.client() return client end

function M.count(name) counters[name] = counters[name] + 1 end

function M.counters() return copy(counters) end

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = ("%x"):format(math.random(0, 15)) end
  return table.concat(t)
end

local function b64url(s)
  return (ngx.encode_base64(s, true):gsub("[+/]", { ["+"] = "-", ["/"] = "_" }))
end

local JWT_HEADER = b64url('{"alg":"HS256","typ":"JWT"}')

-- GHL's tokens are JWTs (bearerFormat JWT): same shape and about the same
-- length, so header sizes and log redaction are tested on the real thing.
-- The signature is random: only this server reads them.
local function jwt(grant, ttl, kind)
  local now = math.floor(ngx.now())
  local sig = {}
  for i = 1, 32 do sig[i] = string.char(math.random(0, 255)) end
  return JWT_HEADER .. "." .. b64url(assert(cjson.encode{
    authClass = grant.userType, authClassId = grant.locationId or grant.companyId, source = "INTEGRATION",
    sourceId = client.client_id, channel = "OAUTH", kind = kind, iat = now, exp = now + ttl, jti = hex(16),
  })) .. "." .. b64url(table.concat(sig))
end

--- A code for a JSON body {userType = "Location", locationId} or
-- {userType = "Company", companyId} (optional scope, ttl_s). Returns the
-- code, or nil and what is wrong with the body.
function M.new_code(b)
  local grant
  if b.userType == "Location" then
    local loc = type(b.locationId) == "string" and state.locations[b.locationId]
    if not loc then return nil, "locationId must be the id of a seeded location" end
    grant = { userType = "Location", locationId = loc.id, companyId = loc.companyId, scope = M.LOCATION_SCOPE }
  elseif b.userType == "Company" then
    if b.companyId ~= seed.ids.company then return nil, "companyId must be " .. seed.ids.company end
    grant = { userType = "Company", companyId = b.companyId, scope = M.COMPANY_SCOPE }
  else
    return nil, 'userType must be "Location" or "Company"'
  end
  if b.scope ~= nil then
    if type(b.scope) ~= "string" then return nil, "scope must be a space-separated string" end
    grant.scope = b.scope
  end
  local ttl = b.ttl_s == nil and CODE_TTL_S or b.ttl_s
  if type(ttl) ~= "number" or ttl <= 0 then return nil, "ttl_s must be a positive number" end
  grant.userId = seed.user_id(1) -- the installing user
  local code = hex(40)
  codes[code] = { grant = grant, expires = ngx.now() + ttl }
  return code
end

--- The grant of a code, used up by this call; nil and why when there is none.
function M.take_code(code)
  local c = codes[code]
  if not c then return nil, "Invalid authorization code" end
  if c.used then return nil, "The authorization code has already been used" end
  c.used = true
  if ngx.now() >= c.expires then return nil, "The authorization code has expired" end
  return c.grant
end

--- A new access token for a grant {userType, locationId?, companyId,
-- userId, scope}, registered with state.lua, and a refresh token when
-- `with_refresh`. Returns the pair {grant, access_token, expires_in, refresh_token?}.
function M.issue(grant, with_refresh)
  local ttl = cfg.access_ttl_s
  local pair = { grant = grant, access_token = jwt(grant, ttl, "access"), expires_in = ttl }
  state.issue_token{
    token = pair.access_token, oauth = true, userType = grant.userType, locationId = grant.locationId,
    companyId = grant.companyId, userId = grant.userId, scope = grant.scope, expires = ngx.now() + ttl,
    -- GHL counts rate limits per app and location (or company): a new token does not reset them
    bucket = "oauth:" .. (grant.locationId or grant.companyId),
  }
  counters.issued_access_tokens = counters.issued_access_tokens + 1
  if with_refresh then
    pair.refresh_token = jwt(grant, REFRESH_TTL_S, "refresh")
    refresh[pair.refresh_token] = { grant = grant }
  end
  return pair
end

--- Rotation: a refresh token is good for one new pair. Presented again
-- within repeat_window_s of its first use it gets that same pair back;
-- later, or never issued, it is refused. `user_type`, when given, must be
-- the token's. Returns the pair, or nil and why.
function M.refresh(token, user_type)
  local r = refresh[token]
  if not r then return nil, "Invalid refresh token" end
  if r.grant.userType == "Location" and M.inactive(r.grant.locationId) then return nil, "inactive" end
  if user_type and user_type ~= r.grant.userType then
    return nil, ("The refresh token is a %s token, not a %s token"):format(r.grant.userType, user_type)
  end
  if r.used_at then
    if ngx.now() - r.used_at < cfg.repeat_window_s then
      counters.refresh_repeats = counters.refresh_repeats + 1
      return r.pair
    end
    return nil, "The refresh token has already been used"
  end
  r.used_at = ngx.now()
  r.pair = M.issue(r.grant, true)
  return r.pair
end

return M
