-- The local GHL server's entry: routing, auth and Version checks, rate
-- limits, faults. Runs inside nginx (LuaJIT). Paths and bodies follow GHL's
-- OpenAPI specs.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local faults = require "ghl_mock.faults"
local ratelimit = require "ghl_mock.ratelimit"
local admin = require "ghl_mock.admin"
local auth = require "ghl_mock.auth"
local oauth_store = require "ghl_mock.oauth_store"

local M = {}

local routes = {}

-- route("GET", "/contacts/{contactId}", "2021-07-28", handler[, access])
-- version nil: the spec declares no Version header. access: nil = a
-- sub-account token (OAuth or PIT); "agency_access" = an agency token
-- (OAuth or PIT: the specs' Agency-Access); "agency" = an agency OAuth
-- token only (Agency-Access-Only); "none" = no token at all (/oauth/token).
local function route(method, template, version, handler, access)
  local parts = {}
  for seg in template:gmatch("/([^/]*)") do parts[#parts + 1] = seg end
  routes[#routes + 1] = { method = method, template = template, parts = parts, version = version, handler = handler,
                          access = access }
end

local function load_routes()
  for _, name in ipairs{ "contacts", "contacts_search", "contact_notes", "contact_tasks", "pipelines",
                         "opportunities", "calendar_events", "calendars", "workflows", "conversations",
                         "messages", "locations", "location_tags", "custom_fields", "users", "oauth",
                         "redirects", "companies" } do
    require("ghl_mock." .. name).register(route)
  end
  -- every other paged operation of the specs: generic spec-shaped pages
  local hand_written = #routes
  require("ghl_mock.paged").register(route, function(method, template)
    for _, r in ipairs(routes) do
      if r.method == method and r.template == template then return true end
    end
    return false
  end)
  for i = hand_written + 1, #routes do routes[i].generic = true end
end

--- The routes served, for GET /_mock/routes: {method, path, generic}
-- (generic: a spec-shaped page of paged.lua), sorted by path and method.
function M.routes()
  local out = {}
  for i, r in ipairs(routes) do out[i] = { method = r.method, path = r.template, generic = r.generic == true } end
  table.sort(out, function(a, b)
    if a.path ~= b.path then return a.path < b.path end
    return a.method < b.method
  end)
  return out
end

function M.init(config)
  state.configure(config)
  oauth_store.init(config.oauth)
  load_routes()
end

-- Splits the raw path (not nginx's decoded $uri: %2F must stay inside its segment).
local function segments(path)
  local segs = {}
  for seg in path:gmatch("/([^/]*)") do segs[#segs + 1] = ngx.unescape_uri(seg) end
  return segs
end

-- The most specific route wins: literal segments beat {parameters}, so
-- /calendars/events is never read as /calendars/{calendarId}.
local function match(method, path)
  local segs = segments(path)
  local best, best_params, best_score, path_matched = nil, nil, -1, false
  for _, r in ipairs(routes) do
    if #r.parts == #segs then
      local params, score, ok = {}, 0, true
      for i, p in ipairs(r.parts) do
        local name = p:match("^{(.+)}$")
        if name then
          if segs[i] == "" then ok = false break end
          params[name] = segs[i]
        elseif p ~= segs[i] then
          ok = false break
        else
          score = score + 1
        end
      end
      if ok then
        path_matched = true
        if r.method == method and score > best_score then
          best, best_params, best_score = r, params, score
        end
      end
    end
  end
  if best then return best, best_params end
  return nil, path_matched
end

function M.handle()
  local method = ngx.req.get_method()
  local path = ngx.var.request_uri:match("^[^?]*")
  ngx.header["X-Mock-Connection"] = ngx.var.connection
  ngx.header["X-Mock-Connection-Requests"] = ngx.var.connection_requests

  if path:sub(1, 7) == "/_mock/" then return admin.handle(method, path) end

  local req = http.read_request(method, path)
  state.log(req)
  ngx.ctx.req = req -- for M.logged

  -- a known token is counted (and gets the X-RateLimit-* headers) even when
  -- a fault answers: the request reached GHL
  local token = http.bearer()
  local tok = token and state.token(token)
  local spent, retry_in
  if tok then spent, retry_in = ratelimit.take(tok) end

  local fault = faults.pick(req)
  if fault ~= nil then
    req.fault = fault
    if faults.apply(fault) then return end
  end

  if spent then
    return ratelimit.reject(ratelimit.retry_after() and retry_in, spent == "daily")
  end

  local r, params = match(method, path)
  if not r then
    -- NestJS's answer for a route it does not know
    return http.error(404, ("Cannot %s %s"):format(method, path), "Not Found")
  end

  if r.access ~= "none" then
    -- unknown and expired tokens alike; then the token's kind against the route's
    if not tok then return auth.invalid_jwt() end
    if r.access == "agency" then
      if not auth.is_agency_oauth(tok) then return auth.agency_only() end
    elseif r.access == "agency_access" then
      if tok.userType ~= "Company" then return auth.scope() end -- a sub-account token
    elseif tok.userType == "Company" then
      return auth.scope() -- an agency token must mint a location token first
    end
  end
  local version = ngx.req.get_headers()["version"]
  -- a few operations declare no Version in the specs; the rest need theirs
  if r.version and (not version or version == "") then
    return http.error(400, "Version header is missing", "Bad Request")
  end
  if r.version and version ~= r.version then
    return http.error(400, ("Version %s is not supported by this endpoint; the spec gives %s")
      :format(version, r.version), "Bad Request")
  end
  req.params = params
  req.token = tok
  return r.handler(req)
end

--- Log phase: the status answered, for /_mock/requests. nginx's 444 means
-- the connection was dropped (close, reset, truncated: even when a 200
-- status line went out); none yet while a request is still open (hang).
function M.logged()
  local req = ngx.ctx.req
  if req then req.status = ngx.status end
end

return M
