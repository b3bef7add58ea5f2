-- Locations (apps/locations.json): get {location}, search {locations}
-- (skip + limit as strings, no total: page until a short page), time zones
-- and templates ({templates, totalCount}, skip + limit). A location path
-- parameter other than the token's location is a 403.
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"

local M = {}

local V = "2021-07-28"

local function get(req)
  if not common.own(req, req.params.locationId) then return end
  local loc = state.locations[req.params.locationId]
  if not loc then return common.not_found("Location") end
  return common.reply(200, { location = loc })
end

local SEARCH_FIELDS = { "id", "name", "phone", "email", "address", "city", "state", "country", "postalCode",
  "website", "timezone", "settings", "social", "companyId" }

local function search(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = {}
  local skip = common.int(q("skip"), "skip", { default = 0, min = 0, string = true }, problems)
  local limit = common.int(q("limit"), "limit", { default = 10, min = 1, string = true }, problems)
  local order = q("order") or "asc"
  if order ~= "asc" and order ~= "desc" then problems[#problems + 1] = "order must be one of the following values: asc, desc" end
  if not common.ok(problems) then return end
  -- a location token sees its company's locations
  local own = state.locations[req.token.locationId]
  local company = q("companyId") or (own and own.companyId)
  local email = q("email") and q("email"):lower()
  local all = {}
  for _, loc in pairs(state.locations) do
    if loc.companyId == company and (not email or (loc.email or ""):lower() == email) then all[#all + 1] = loc end
  end
  table.sort(all, function(a, b)
    if order == "desc" then return a._order > b._order end
    return a._order < b._order
  end)
  local page = common.slice(all, skip, limit)
  for i, loc in ipairs(page) do page[i] = common.pick(loc, SEARCH_FIELDS) end
  return common.reply(200, { locations = page })
end

local function timezones(req)
  if not common.own(req, req.params.locationId) then return end
  return common.reply(200, { timeZones = clock.zone_names() })
end

local function templates(req)
  if not common.own(req, req.params.locationId) then return end
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "originId" }, {})
  local skip = common.int(q("skip"), "skip", { default = 0, min = 0, string = true }, problems)
  local limit = common.int(q("limit"), "limit", { default = 25, min = 1, string = true }, problems)
  local kind = q("type")
  if kind and kind ~= "sms" and kind ~= "email" and kind ~= "whatsapp" then
    problems[#problems + 1] = "type must be one of the following values: sms, email, whatsapp"
  end
  if not common.ok(problems) then return end
  local deleted = q("deleted") == "true"
  local all = {}
  for _, t in pairs(state.templates) do
    if t.locationId == req.params.locationId and (not kind or t.type == kind) and (t.deleted == true) == deleted then
      all[#all + 1] = t
    end
  end
  table.sort(all, function(a, b) return (a._order or 1e9) < (b._order or 1e9) or
    ((a._order or 1e9) == (b._order or 1e9) and a.id < b.id) end)
  return common.reply(200, { templates = common.slice(all, skip, limit), totalCount = #all })
end

local function delete_template(req)
  if not common.own(req, req.params.locationId) then return end
  local t = state.templates[req.params.id]
  if not t or t.locationId ~= req.params.locationId then return common.not_found("Template") end
  state.remove("templates", t)
  return common.reply(200, { succeded = true })
end

function M.register(route)
  route("GET", "/locations/search", V, search)
  route("GET", "/locations/{locationId}", V, get)
  route("GET", "/locations/{locationId}/timezones", V, timezones)
  route("GET", "/locations/{locationId}/templates", V, templates)
  route("DELETE", "/locations/{locationId}/templates/{id}", V, delete_template)
end

return M
