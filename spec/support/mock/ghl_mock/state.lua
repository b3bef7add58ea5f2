-- In-memory state of the local GHL server (one nginx worker holds it all).
-- Each collection maps id -> record; records carry their locationId. Lists
-- that are paged by time (contacts, opportunities, messages) are also kept
-- in sorted order per location (see sorted.lua).
local sorted = require "ghl_mock.sorted"

local M = {}

local tokens, issued
local log, log_max = {}, 500

M.COLLECTIONS = { "contacts", "notes", "tasks", "opportunities", "pipelines", "lost_reasons", "calendars",
  "groups", "events", "appointment_notes", "workflows", "campaigns", "conversations", "messages", "locations",
  "tags", "custom_fields", "custom_values", "templates", "users", "redirects" }

-- collections that also have a per-location sorted list
local INDEXED = { contacts = true, opportunities = true, messages = true }

local indexes = {}

function M.configure(c)
  tokens = {}
  for _, t in ipairs(c.tokens) do tokens[t.token] = t end
  math.randomseed(c.seed or os.time())
  M.reset()
end

--- The record of an accepted Bearer token: a static one from config.lua
-- ({token, locationId}: PITs, they never expire) or an OAuth access token
-- issued by oauth_store.lua, until its `expires` (seconds, ngx.now()). An
-- expired token is forgotten: it is then just an unknown one.
function M.token(tok)
  local t = tokens[tok]
  if t then return t end
  t = issued[tok]
  if not t then return nil end
  if ngx.now() < t.expires then return t end
  issued[tok] = nil
  return nil
end

--- Accept an issued access token {token, expires, oauth = true, userType, locationId?, companyId, ...}.
function M.issue_token(t) issued[t.token] = t end

--- Expire every issued access token now (tests need not sleep), or only those of
-- {locationId=} or {companyId=} (agency tokens); how many were alive.
function M.expire_tokens(only)
  local now, n = ngx.now(), 0
  local loc, company = only and only.locationId, only and only.companyId
  for _, t in pairs(issued) do
    local hit = (not loc and not company) or (loc and t.userType == "Location" and t.locationId == loc)
      or (company and t.userType == "Company" and t.companyId == company)
    if hit then
      if t.expires > now then n = n + 1 end
      t.expires = 0
    end
  end
  return n
end

--- Empty every collection, then build the seed again (seed.lua). Issued
-- access tokens are forgotten too; the static ones stay.
function M.reset()
  issued = {}
  for _, name in ipairs(M.COLLECTIONS) do M[name] = {} end
  indexes = {}
  M.enrolments = {}   -- contactId -> { workflowId -> enrolment }
  M.campaign_members = {} -- contactId -> { campaignId -> true }
  M.email_ids = {}    -- emailMessageId -> message
  log = {}
  require("ghl_mock.seed").build(M)
end

--- The sorted list of a collection for one location.
function M.index(name, location)
  local per = indexes[name]
  if not per then
    per = {}
    indexes[name] = per
  end
  local list = per[location]
  if not list then
    list = {}
    per[location] = list
  end
  return list
end

--- Store a record (and keep its sorted list in order).
function M.add(name, r)
  M[name][r.id] = r
  if INDEXED[name] then sorted.insert(M.index(name, r.locationId), r) end
  return r
end

function M.remove(name, r)
  M[name][r.id] = nil
  if INDEXED[name] then sorted.remove(M.index(name, r.locationId), r) end
end

--- Many records at once: append, then sort each touched list once.
function M.add_many(name, list)
  local touched = {}
  for _, r in ipairs(list) do
    M[name][r.id] = r
    if INDEXED[name] then
      local l = M.index(name, r.locationId)
      l[#l + 1] = r
      touched[l] = true
    end
  end
  for l in pairs(touched) do sorted.sort(l) end
end

function M.counts()
  local out = {}
  for _, name in ipairs(M.COLLECTIONS) do
    local n = 0
    for _ in pairs(M[name]) do n = n + 1 end
    out[name] = n
  end
  return out
end

--- Keep a request for /_mock/requests, with the nginx connection it came on:
-- its serial (`connection`) and how many requests that connection had
-- carried, this one included (`connection_requests`; over 1: a kept-alive
-- connection the client reused).
function M.log(req)
  req.connection = req.connection or tonumber(ngx.var.connection)
  req.connection_requests = tonumber(ngx.var.connection_requests)
  log[#log + 1] = req
  if #log > log_max then table.remove(log, 1) end
end

function M.requests() return log end

local ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

-- GHL ids look like "seD4PfOuKoVMLkEZqohJ": 20 alphanumerics.
function M.new_id()
  local t = {}
  for i = 1, 20 do
    local k = math.random(1, #ALNUM)
    t[i] = ALNUM:sub(k, k)
  end
  return table.concat(t)
end

function M.now_iso()
  local t = ngx.now()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. (".%03dZ"):format(math.floor((t % 1) * 1000))
end

return M
