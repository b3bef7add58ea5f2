-- Test-only endpoints of the local GHL server, under /_mock/ (no auth).
--   POST /_mock/reset              back to the seed (and an empty request log)
--   POST /_mock/seed?contacts=N    N more seeded contacts (&locationId=, default location A)
--   GET  /_mock/state              record counts per collection
--   GET  /_mock/requests           the requests received since the last reset, each with the
--                                  `fault` it met (header or queue) and the `status` answered
--   GET  /_mock/contacts           {count} of contacts
--   POST /_mock/faults             queue a fault: {"method":"GET","path":"/contacts/x","fault":"status=503","times":2}
--                                  ("skip":N lets the first N matching requests through first;
--                                  "chance":0.05: only that share of the matching requests meets it)
--   GET  /_mock/faults             the queued faults left, in order
--   DELETE /_mock/faults           empty the queue
--   POST /_mock/ratelimit          {"max":,"interval_ms":,"daily":,"daily_interval_ms":,"retry_after":} (any subset)
--   GET  /_mock/ratelimit          the limits and the counters per token
--   POST /_mock/oauth/code         an authorization code: {"userType":"Location","locationId":...} or
--                                  {"userType":"Company","companyId":...} (+ "scope", "ttl_s") -> {code}
--   GET  /_mock/oauth              the OAuth counters (oauth_store.lua)
--   POST /_mock/oauth              {"access_ttl_s":,"repeat_window_s":,"token_style":,
--                                  "location_refresh_token":,"inactive_locations":[]} (any subset)
--   POST /_mock/oauth/expire       expire every issued access token now -> {ok, expired};
--                                  {"locationId":} or {"companyId":}: only that location's or
--                                  agency's (userType Company) tokens
--   POST /_mock/paged              {"op":"forms.get-forms-submissions","count":N}: the items of a
--                                  paged operation served by paged.lua (default 7)
--   GET  /_mock/paged              {ops = {key = {requests, count}}} since the reset
--   POST /_mock/oauth/revoke       {"locationId":} or {"companyId":}: their refresh tokens die
--                                  (a reconnect, a revoked install) -> {ok, revoked}
--   GET  /_mock/routes             {routes = [{method, path, generic}]}: what the server serves
--                                  (generic: spec-shaped pages of paged.lua), by path
-- The reset also empties the fault queue, puts GHL's rate limits back and
-- forgets OAuth codes, tokens, counters and settings. The request log shows
-- bodies with OAuth secrets replaced (redact.lua).
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local seed = require "ghl_mock.seed"
local faults = require "ghl_mock.faults"
local fault_queue = require "ghl_mock.fault_queue"
local ratelimit = require "ghl_mock.ratelimit"
local oauth_store = require "ghl_mock.oauth_store"
local paged = require "ghl_mock.paged"
local cjson = require "cjson.safe"

local M = {}

local MAX_SEED = 200000

local function bad(message) return http.error(400, message, "Bad Request") end

-- The JSON object body of an admin call ({} when there is none), or nil.
local function body()
  ngx.req.read_body()
  local raw = ngx.req.get_body_data()
  if not raw or raw == "" then return {} end
  local b = cjson.decode(raw)
  if type(b) ~= "table" then return nil end
  return b
end

local function queue_fault()
  local b = body()
  if not b then return bad("the body must be a JSON object") end
  if type(b.path) ~= "string" or b.path:sub(1, 1) ~= "/" or b.path:find("?", 1, true) then
    return bad("path must be the raw request path, without the query")
  end
  if b.method ~= nil and type(b.method) ~= "string" then return bad("method must be a string") end
  if not faults.parse(b.fault) then return bad("unknown fault " .. tostring(b.fault)) end
  local times = b.times == nil and 1 or b.times
  if type(times) ~= "number" or times < 1 or times ~= math.floor(times) then
    return bad("times must be a whole number of at least 1")
  end
  local skip = b.skip == nil and 0 or b.skip
  if type(skip) ~= "number" or skip < 0 or skip ~= math.floor(skip) then
    return bad("skip must be a whole number of at least 0")
  end
  if b.chance ~= nil and (type(b.chance) ~= "number" or b.chance <= 0 or b.chance > 1) then
    return bad("chance must be a number above 0, at most 1")
  end
  fault_queue.add{ method = b.method and b.method:upper(), path = b.path, fault = b.fault, times = times, skip = skip,
                   chance = b.chance }
  return http.reply(200, { ok = true, queued = #fault_queue.list() })
end

local function list_faults()
  local out = {}
  for i, e in ipairs(fault_queue.list()) do
    out[i] = { method = e.method, path = e.path, fault = e.fault, times = e.times, skip = e.skip, chance = e.chance }
  end
  return http.reply(200, { faults = #out > 0 and out or http.EMPTY_ARRAY })
end

local function configure_ratelimit()
  local b = body()
  if not b then return bad("the body must be a JSON object") end
  local ok, problems = ratelimit.configure(b)
  if not ok then return http.error(422, problems, "Unprocessable Entity") end
  return http.reply(200, ratelimit.snapshot())
end

local function configure_oauth()
  local b = body()
  if not b then return bad("the body must be a JSON object") end
  local ok, problems = oauth_store.configure(b)
  if not ok then return http.error(422, problems, "Unprocessable Entity") end
  return http.reply(200, oauth_store.config())
end

local function new_code()
  local b = body()
  if not b then return bad("the body must be a JSON object") end
  local code, problem = oauth_store.new_code(b)
  if not code then return bad(problem) end
  return http.reply(200, { code = code })
end

function M.handle(method, path)
  if path == "/_mock/reset" and method == "POST" then
    state.reset()
    fault_queue.clear()
    ratelimit.reset()
    oauth_store.reset()
    paged.reset()
    return http.reply(200, { ok = true })
  elseif path == "/_mock/paged" then
    if method == "GET" then return http.reply(200, { ops = paged.stats() }) end
    if method == "POST" then
      local b = body()
      if not b then return bad("the body must be a JSON object") end
      local ok, why = paged.configure(b)
      if not ok then return bad(why) end
      return http.reply(200, { ok = true })
    end
  elseif path == "/_mock/oauth" then
    if method == "POST" then return configure_oauth() end
    if method == "GET" then return http.reply(200, oauth_store.counters()) end
  elseif path == "/_mock/oauth/code" and method == "POST" then
    return new_code()
  elseif path == "/_mock/oauth/expire" and method == "POST" then
    local b = body()
    if not b then return bad("the body must be a JSON object") end
    return http.reply(200, { ok = true, expired = state.expire_tokens(b) })
  elseif path == "/_mock/oauth/revoke" and method == "POST" then
    local b = body()
    if not b or (type(b.locationId) ~= "string" and type(b.companyId) ~= "string") then
      return bad("the body must name a locationId or a companyId")
    end
    return http.reply(200, { ok = true, revoked = oauth_store.revoke(b) })
  elseif path == "/_mock/faults" then
    if method == "POST" then return queue_fault() end
    if method == "GET" then return list_faults() end
    if method == "DELETE" then
      fault_queue.clear()
      return http.reply(200, { ok = true })
    end
  elseif path == "/_mock/ratelimit" then
    if method == "POST" then return configure_ratelimit() end
    if method == "GET" then return http.reply(200, ratelimit.snapshot()) end
  elseif path == "/_mock/seed" and method == "POST" then
    local args = ngx.req.get_uri_args()
    local n = tonumber(args.contacts)
    if not n or n < 0 or n ~= math.floor(n) or n > MAX_SEED then
      return http.error(400, ("contacts must be a whole number from 0 to %d"):format(MAX_SEED), "Bad Request")
    end
    local location = type(args.locationId) == "string" and args.locationId or seed.ids.location
    ngx.update_time()
    local t = ngx.now()
    seed.add_contacts(state, n, location)
    ngx.update_time()
    return http.reply(200, { ok = true, added = n, contacts = #state.index("contacts", location),
                             ms = math.floor((ngx.now() - t) * 1000) })
  elseif path == "/_mock/routes" and method == "GET" then
    return http.reply(200, { routes = require("ghl_mock").routes() })
  elseif path == "/_mock/state" and method == "GET" then
    return http.reply(200, state.counts())
  elseif path == "/_mock/requests" and method == "GET" then
    local out = {}
    for i, r in ipairs(state.requests()) do
      out[i] = { method = r.method, uri = r.uri, path = r.path, headers = r.headers,
                 body = r.logged_body, connection = r.connection, connection_requests = r.connection_requests,
                 fault = r.fault, status = r.status }
    end
    return http.reply(200, { requests = #out > 0 and out or http.EMPTY_ARRAY })
  elseif path == "/_mock/contacts" and method == "GET" then
    local n = 0
    for _ in pairs(state.contacts) do n = n + 1 end
    return http.reply(200, { count = n })
  end
  return http.error(404, "unknown admin endpoint " .. path, "Not Found")
end

return M
