--- OAuth and PIT tokens for calls: which token an operation takes (or why
-- this client cannot call it, said before anything is sent), and a cache
-- of tokens for one call or a whole batch (fetched once and shared by the
-- calls in flight, renewed once when they expire; the store's lock makes
-- that once across processes too). The app (ghl.oauth) reads and writes
-- the store. The table of who sends what is in doc/tokens.md.
-- @internal ghl.tokens
local core = require "ghl.core"
local errors = require "ghl.errors"

local now_ms = core.now_ms

local M = {}

-- The catalogue's token type ("L", "A", "A L", "Lo", "Ao Lo", "" ...):
-- the spec's security alternatives, L a location (sub-account) token, A an
-- agency (Company) one, a trailing o for "OAuth only" (no Private
-- Integration Token). As { loc, agency, pit, known }, read once per type.
local KINDS = {}

local function kinds(t)
  local k = KINDS[t or ""]
  if k then return k end
  k = { loc = false, agency = false, pit = false, known = false }
  for alt in (t or ""):gmatch("%S+") do
    k.known = true
    if alt:sub(1, 1) == "L" then k.loc = true elseif alt:sub(1, 1) == "A" then k.agency = true end
    if alt:sub(2) ~= "o" then k.pit = true end
  end
  -- the spec declares no token: sent with whatever the client has (GHL
  -- still wants one there; these are gaps in the specs)
  if not k.known then k.loc, k.agency, k.pit = true, true, true end
  KINDS[t or ""] = k
  return k
end

--- What an operation's token type means, in words (`ghl ops`, doc/tokens.md).
function M.describe(t)
  local k = kinds(t)
  if not k.known then return "none declared" end
  local who = k.loc and k.agency and "location or agency" or k.loc and "location" or "agency"
  if not k.pit then return who .. ", OAuth only" end
  -- "A Lo": a PIT only at agency level
  local oauth_only = {}
  for alt in t:gmatch("%S+") do
    if alt:sub(2) == "o" then oauth_only[#oauth_only + 1] = alt:sub(1, 1) == "L" and "location" or "agency" end
  end
  if #oauth_only > 0 and k.loc and k.agency then
    return who .. " (a " .. oauth_only[1] .. " token by OAuth only)"
  end
  return who
end

local function refuse(reason, fmt, ...)
  return nil, errors.new{ kind = "auth", reason = reason, message = fmt:format(...) }
end

-- GHL names the location locationId, location_id (opportunities search)
-- or altId with altType "location" (payments, products, medias, invoices)
local function id_in(t)
  if type(t) ~= "table" then return nil end
  local v = rawget(t, "locationId")
  if v == nil then v = rawget(t, "location_id") end
  if v == nil and rawget(t, "altType") == "location" then v = rawget(t, "altId") end
  return type(v) == "string" and v ~= "" and v or nil
end

-- The location a request is about: its locationId parameter (or another
-- spelling of it, id_in), wherever it goes.
local function location_of(opts)
  if type(opts) ~= "table" then return nil end
  return id_in(opts.path) or id_in(opts.query) or id_in(opts.body) or id_in(opts.form)
end

--- Which OAuth token a call sends: the catalogue's token type (nil for a
-- raw request) against the ids the client has, and the request's own
-- locationId (`opts` as for request). Returns user_type, id, or nil and
-- an `auth` error (reason "needs_agency_token" or "needs_location_token")
-- that says what to give the client.
--
-- - location op: the client's location_id; a client with company_id mints
--   the token of the request's locationId (or of location_id)
-- - agency op: the client's company_id; without one, refused
function M.which(client, t, opts)
  local k = kinds(t)
  local auth = client._auth
  -- app:use_company(id) gives every client of the app an agency to mint with
  local loc, company = client.location_id, client.company_id or (type(auth) == "table" and auth.default_company or nil)
  if company then
    -- an agency client can mint for any of its locations: the one asked about
    local asked = location_of(opts)
    if not k.known then
      -- no token declared: these are sub-account operations unless they name no location
      if asked or loc then return "Location", asked or loc end
      return "Company", company
    end
    if k.loc and loc and (asked == nil or asked == loc) then return "Location", loc end
    if k.loc and asked and not k.agency then return "Location", asked end
    if k.agency then return "Company", company end
    return refuse("needs_location_token", "this operation needs a location (sub-account) token and names no "
      .. "location: pass locationId, or give location_id to ghl.new (the agency token of company_id %s mints "
      .. "its token); nothing was sent", company)
  end
  if k.loc and loc then return "Location", loc end
  return refuse("needs_agency_token", "this operation needs an agency (Company) token, and this client has only "
    .. "the token of location %s: make the client with company_id from an agency install "
    .. "(ghl.oauth{ user_type = \"Company\" }, app:exchange(code), then ghl.new{ oauth = app, company_id = ... }); "
    .. "nothing was sent", tostring(loc))
end

--- A Private Integration Token client: nil when the operation takes a PIT,
-- or the `auth` error (reason "oauth_only") that refuses it unsent.
function M.pit_refusal(t)
  if kinds(t).pit then return nil end
  local _, err = refuse("oauth_only", "this operation takes OAuth tokens only (%s): GHL refuses a Private "
    .. "Integration Token here; use ghl.oauth{...} (an agency install for agency operations); nothing was sent",
    M.describe(t))
  return err
end

--- What to add to a 401 a PIT client got: the operation's token level,
-- which a PIT of the other level does not have (nil: no hint).
function M.pit_hint(t)
  local k = kinds(t)
  if not k.known or (k.loc and k.agency) then return nil end
  if k.agency then return " (this operation needs an agency token: a sub-account Private Integration Token cannot call it)" end
  return " (this operation needs a sub-account token: an agency Private Integration Token cannot call it)"
end

local Tokens = {}
Tokens.__index = Tokens

--- The token cache of `client` (an OAuth client) for one call or batch.
function M.new(client)
  return setmetatable({ auth = client._auth, company_id = client.company_id, cache = {} }, Tokens)
end

-- An access token for (user_type, id); `stale` is one GHL refused.
function Tokens:get(user_type, id, stale)
  local key = user_type .. "|" .. id
  local e = self.cache[key]
  local access, fresh_until
  if stale then
    if e and e.access ~= stale then return e.access end -- another call renewed it already
    access, fresh_until = self.auth:renew(user_type, id, stale)
  elseif e and e.fresh_until > now_ms() then
    return e.access
  else
    access, fresh_until = self.auth:token(user_type, id, self.company_id)
  end
  if not access then return nil, fresh_until end
  self.cache[key] = { access = access, fresh_until = tonumber(fresh_until) or 0 }
  return access
end

return M
