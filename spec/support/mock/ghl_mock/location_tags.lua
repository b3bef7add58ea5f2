-- Location tags (apps/locations.json): list {tags} (no paging),
-- get/create/update {tag}, delete {succeded}.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-07-28"

local function out(t) return { id = t.id, name = t.name, locationId = t.locationId } end

local function load(req)
  if not common.own(req, req.params.locationId) then return nil end
  local t = state.tags[req.params.tagId]
  if not t or t.locationId ~= req.params.locationId then
    common.not_found("Tag")
    return nil
  end
  return t
end

local function name_body(req)
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, { name = true }, {})
  common.required(body, { "name" }, problems)
  if body.name ~= nil and type(body.name) ~= "string" then problems[#problems + 1] = "name must be a string" end
  if not common.ok(problems) then return nil end
  return body.name
end

local function taken(location, name, except)
  for _, t in pairs(state.tags) do
    if t.locationId == location and t.name:lower() == name:lower() and t ~= except then return true end
  end
  return false
end

local function list(req)
  if not common.own(req, req.params.locationId) then return end
  local all = {}
  for _, t in pairs(state.tags) do
    if t.locationId == req.params.locationId then all[#all + 1] = out(t) end
  end
  table.sort(all, function(a, b) return a.name < b.name or (a.name == b.name and a.id < b.id) end)
  return common.reply(200, { tags = all })
end

local function create(req)
  if not common.own(req, req.params.locationId) then return end
  local name = name_body(req)
  if not name then return end
  if taken(req.params.locationId, name) then return common.bad_request("Tag with this name already exists") end
  local t = state.add("tags", { id = state.new_id(), name = name, locationId = req.params.locationId })
  return common.reply(200, { tag = out(t) })
end

local function get(req)
  local t = load(req)
  if t then return common.reply(200, { tag = out(t) }) end
end

local function update(req)
  local t = load(req)
  local name = t and name_body(req)
  if not name then return end
  if taken(t.locationId, name, t) then return common.bad_request("Tag with this name already exists") end
  t.name = name
  return common.reply(200, { tag = out(t) })
end

local function delete(req)
  local t = load(req)
  if not t then return end
  state.remove("tags", t)
  return http.reply(200, { succeded = true })
end

function M.register(route)
  route("GET", "/locations/{locationId}/tags", V, list)
  route("POST", "/locations/{locationId}/tags", V, create)
  route("GET", "/locations/{locationId}/tags/{tagId}", V, get)
  route("PUT", "/locations/{locationId}/tags/{tagId}", V, update)
  route("DELETE", "/locations/{locationId}/tags/{tagId}", V, delete)
end

return M
