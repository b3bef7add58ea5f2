-- OAuth 2.0 (apps/oauth.json) as GHL does it. POST /oauth/token takes a
-- form body, no token and no Version, and answers errors in OAuth's
-- {error, error_description} shape; POST /oauth/locationToken and GET
-- /oauth/installedLocations take agency OAuth tokens only (the router
-- checks that) and answer GHL's usual error bodies. Codes, rotation and
-- counters are in oauth_store.lua.
local http = require "ghl_mock.http"
local common = require "ghl_mock.common"
local state = require "ghl_mock.state"
local auth = require "ghl_mock.auth"
local store = require "ghl_mock.oauth_store"

local M = {}

local V = "2021-07-28"

local function oauth_error(status, err, description)
  if err == "invalid_grant" then store.count("invalid_grants") end
  return http.reply(status, { error = err, error_description = description })
end

-- The form fields, one string each (the first of repeated ones, "" for a
-- bare name); replies 422 and returns nil for any other kind of body.
local function form(req)
  local ct = req.headers["content-type"]
  if type(ct) == "table" then ct = ct[1] end
  if type(ct) ~= "string" or not ct:lower():find("^%s*application/x%-www%-form%-urlencoded") then
    common.invalid("the body must be application/x-www-form-urlencoded")
    return nil
  end
  local f = {}
  for k, v in pairs(ngx.decode_args(req.raw_body or "", 100)) do
    if type(v) == "table" then v = v[1] end
    f[k] = v == true and "" or v
  end
  return f
end

local function given(v) return v ~= nil and v ~= "" end

-- The company's locations in seed order (A, B, ...).
local function company_locations(company)
  local list = {}
  for _, loc in pairs(state.locations) do
    if loc.companyId == company then list[#list + 1] = loc end
  end
  table.sort(list, function(a, b) return (a._order or 1e9) < (b._order or 1e9) end)
  return list
end

-- The token keys in the configured style: GHL answers snake_case; "camel"
-- lets a client be tested against the other spelling it may meet.
local function put_tokens(pair, body)
  local camel = store.config().token_style == "camel"
  body[camel and "accessToken" or "access_token"] = pair.access_token
  body[camel and "tokenType" or "token_type"] = "Bearer"
  body[camel and "expiresIn" or "expires_in"] = pair.expires_in
  if pair.refresh_token then body[camel and "refreshToken" or "refresh_token"] = pair.refresh_token end
  return body
end

local function token_answer(pair)
  local g = pair.grant
  local body = put_tokens(pair, { scope = g.scope, userType = g.userType, locationId = g.locationId,
                                  companyId = g.companyId, userId = g.userId, isBulkInstallation = false })
  if g.userType == "Company" then
    local ids = {}
    for i, loc in ipairs(company_locations(g.companyId)) do ids[i] = loc.id end
    body.approvedLocations = ids
    body.installToFutureLocations = true
    body.approveAllLocations = true
  end
  return common.reply(200, body)
end

local function by_code(f)
  store.count("code_calls")
  if not given(f.code) then
    return oauth_error(400, "invalid_request", "code is required with grant_type authorization_code")
  end
  local grant, why = store.take_code(f.code)
  if not grant then return oauth_error(400, "invalid_grant", why) end
  if given(f.user_type) and f.user_type ~= grant.userType then
    return oauth_error(400, "invalid_grant", ("The code is for a %s token, not a %s token")
      :format(grant.userType, f.user_type))
  end
  return token_answer(store.issue(grant, true))
end

local function by_refresh(f)
  store.count("refresh_calls")
  if not given(f.refresh_token) then
    return oauth_error(400, "invalid_request", "refresh_token is required with grant_type refresh_token")
  end
  local pair, why = store.refresh(f.refresh_token, given(f.user_type) and f.user_type or nil)
  if not pair and why == "inactive" then return common.bad_request("Location is not active") end
  if not pair then return oauth_error(400, "invalid_grant", why) end
  return token_answer(pair)
end

local function token(req)
  store.count("token_calls")
  local f = form(req)
  if not f then return end
  local c = store.client()
  if not given(f.client_id) or not given(f.client_secret) then
    return oauth_error(401, "invalid_client", "client_id and client_secret are required")
  end
  if f.client_id ~= c.client_id or f.client_secret ~= c.client_secret then
    return oauth_error(401, "invalid_client", "Invalid client credentials")
  end
  local grant = f.grant_type
  if grant == "authorization_code" then return by_code(f) end
  if grant == "refresh_token" then return by_refresh(f) end
  -- the spec lists client_credentials but never says what it does
  if not given(grant) then return oauth_error(400, "unsupported_grant_type", "grant_type is required") end
  return oauth_error(400, "unsupported_grant_type", ("grant_type %s is not supported"):format(grant))
end

-- An agency token mints a location token, with a refresh token unless
-- location_refresh_token is off (GHL's answers before docs issue #285).
local function location_token(req)
  store.count("location_token_calls")
  local f = form(req)
  if not f or not common.ok(common.required(f, { "companyId", "locationId" }, {})) then return end
  if f.companyId ~= req.token.companyId then return auth.company() end
  local loc = state.locations[f.locationId]
  if not loc or loc.companyId ~= f.companyId then
    return common.bad_request(("Location %s not found in company %s"):format(f.locationId, f.companyId))
  end
  if store.inactive(loc.id) then return common.bad_request("Location is not active") end
  local pair = store.issue({ userType = "Location", locationId = loc.id, companyId = loc.companyId,
                             userId = req.token.userId, scope = store.LOCATION_SCOPE },
                           store.config().location_refresh_token)
  return common.reply(200, put_tokens(pair, {
    scope = pair.grant.scope, locationId = loc.id, planId = store.PLAN_ID, userId = req.token.userId,
    appId = store.client().app_id, versionId = store.VERSION_ID,
  }))
end

local function full_address(loc)
  return ("%s, %s, %s %s, %s"):format(loc.address, loc.city, loc.state, loc.postalCode, loc.country)
end

-- Every location of the company has the app (installToFutureLocations).
local function installed_locations(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "companyId", "appId" }, {})
  local skip = common.int(q("skip"), "skip", { default = 0, min = 0, string = true }, problems)
  local limit = common.int(q("limit"), "limit", { default = 20, min = 1, string = true }, problems)
  local installed = q("isInstalled")
  if installed and installed ~= "true" and installed ~= "false" then
    problems[#problems + 1] = "isInstalled must be a boolean value"
  end
  if not common.ok(problems) then return end
  if q("appId") ~= store.client().app_id then
    return common.bad_request(("App %s is not the app of this token"):format(q("appId")))
  end
  if q("companyId") ~= req.token.companyId then return auth.company() end
  local name, only = q("query"), q("locationId")
  local all = {}
  for _, loc in ipairs(company_locations(q("companyId"))) do
    if installed ~= "false" and (not name or common.has(loc.name, name:lower())) and (not only or loc.id == only) then
      all[#all + 1] = { _id = loc.id, name = loc.name, address = full_address(loc), isInstalled = true }
    end
  end
  return http.reply(200, { locations = #all > skip and common.slice(all, skip, limit) or http.EMPTY_ARRAY,
                           count = #all, installToFutureLocations = true })
end

function M.register(route)
  route("POST", "/oauth/token", nil, token, "none")
  route("POST", "/oauth/locationToken", V, location_token, "agency")
  route("GET", "/oauth/installedLocations", V, installed_locations, "agency")
end

return M
