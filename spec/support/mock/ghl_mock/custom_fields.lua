-- A location's custom fields and custom values (apps/locations.json):
-- lists without paging ({customFields}, {customValues}), get/create/update
-- ({customField}, {customValue}), delete {succeded}.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-07-28"
local DATA_TYPES = { "TEXT", "LARGE_TEXT", "NUMERICAL", "PHONE", "MONETORY", "CHECKBOX", "SINGLE_OPTIONS",
  "MULTIPLE_OPTIONS", "FLOAT", "TIME", "DATE", "TEXTBOX_LIST", "FILE_UPLOAD", "SIGNATURE" }
local DATA_TYPE = common.set(DATA_TYPES)

local function key_of(name) return (name:lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")) end

local function load(coll, req, thing)
  if not common.own(req, req.params.locationId) then return nil end
  local r = coll[req.params.id]
  if not r or r.locationId ~= req.params.locationId then
    common.not_found(thing)
    return nil
  end
  return r
end

local function by_position(a, b)
  local x, y = a.position or 0, b.position or 0
  return x < y or (x == y and a.id < b.id)
end

-- custom fields

local FIELD_PROPS = { "name", "dataType", "placeholder", "acceptedFormat", "isMultipleFile", "maxNumberOfFiles",
  "textBoxListOptions", "position", "model" }

local function check_field(body, creating)
  local allowed = common.set(FIELD_PROPS)
  if not creating then allowed.dataType = nil end
  local problems = common.whitelist(body, allowed, {})
  common.required(body, creating and { "name", "dataType" } or { "name" }, problems)
  if body.name ~= nil and type(body.name) ~= "string" then problems[#problems + 1] = "name must be a string" end
  if creating and body.dataType ~= nil and not DATA_TYPE[body.dataType] then
    problems[#problems + 1] = "dataType must be one of the following values: " .. table.concat(DATA_TYPES, ", ")
  end
  if body.model ~= nil and body.model ~= "contact" and body.model ~= "opportunity" then
    problems[#problems + 1] = "model must be one of the following values: contact, opportunity"
  end
  if body.position ~= nil and type(body.position) ~= "number" then
    problems[#problems + 1] = "position must be a number conforming to the specified constraints"
  end
  return common.ok(problems)
end

local function list_fields(req)
  if not common.own(req, req.params.locationId) then return end
  local model = common.q(req, "model")
  if model and model ~= "" and model ~= "contact" and model ~= "opportunity" and model ~= "all" then
    return common.invalid{ "model must be one of the following values: contact, opportunity, all" }
  end
  local all = {}
  for _, f in pairs(state.custom_fields) do
    if f.locationId == req.params.locationId and (not model or model == "" or model == "all" or f.model == model) then
      all[#all + 1] = f
    end
  end
  table.sort(all, by_position)
  return common.reply(200, { customFields = all })
end

local function create_field(req)
  if not common.own(req, req.params.locationId) then return end
  local body = http.json_body(req)
  if not body or not check_field(body, true) then return end
  local f = common.pick(body, FIELD_PROPS)
  f.id, f.locationId = state.new_id(), req.params.locationId
  f.model = f.model or "contact"
  f.fieldKey = f.model .. "." .. key_of(f.name)
  f.position = f.position or 0
  state.add("custom_fields", f)
  return common.reply(201, { customField = f })
end

local function get_field(req)
  local f = load(state.custom_fields, req, "Custom field")
  if f then return common.reply(200, { customField = f }) end
end

local function update_field(req)
  local f = load(state.custom_fields, req, "Custom field")
  if not f then return end
  local body = http.json_body(req)
  if not body or not check_field(body, false) then return end
  for k, v in pairs(common.pick(body, FIELD_PROPS)) do f[k] = v end
  return common.reply(200, { customField = f })
end

local function delete_field(req)
  local f = load(state.custom_fields, req, "Custom field")
  if not f then return end
  state.remove("custom_fields", f)
  return http.reply(200, { succeded = true })
end

-- custom values

local function check_value(body)
  local problems = common.whitelist(body, { name = true, value = true }, {})
  common.required(body, { "name", "value" }, problems)
  for _, k in ipairs{ "name", "value" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  return common.ok(problems)
end

local function list_values(req)
  if not common.own(req, req.params.locationId) then return end
  local all = {}
  for _, v in pairs(state.custom_values) do
    if v.locationId == req.params.locationId then all[#all + 1] = v end
  end
  table.sort(all, function(a, b) return a.id < b.id end)
  return common.reply(200, { customValues = all })
end

local function create_value(req)
  if not common.own(req, req.params.locationId) then return end
  local body = http.json_body(req)
  if not body or not check_value(body) then return end
  local v = state.add("custom_values", {
    id = state.new_id(), name = body.name, value = body.value, locationId = req.params.locationId,
    fieldKey = ("{{ custom_values.%s }}"):format(key_of(body.name)) })
  return common.reply(201, { customValue = v })
end

local function get_value(req)
  local v = load(state.custom_values, req, "Custom value")
  if v then return common.reply(200, { customValue = v }) end
end

local function update_value(req)
  local v = load(state.custom_values, req, "Custom value")
  if not v then return end
  local body = http.json_body(req)
  if not body or not check_value(body) then return end
  v.name, v.value = body.name, body.value
  v.fieldKey = ("{{ custom_values.%s }}"):format(key_of(body.name))
  return common.reply(200, { customValue = v })
end

local function delete_value(req)
  local v = load(state.custom_values, req, "Custom value")
  if not v then return end
  state.remove("custom_values", v)
  return http.reply(200, { succeded = true })
end

function M.register(route)
  route("GET", "/locations/{locationId}/customFields", V, list_fields)
  route("POST", "/locations/{locationId}/customFields", V, create_field)
  route("GET", "/locations/{locationId}/customFields/{id}", V, get_field)
  route("PUT", "/locations/{locationId}/customFields/{id}", V, update_field)
  route("DELETE", "/locations/{locationId}/customFields/{id}", V, delete_field)
  route("GET", "/locations/{locationId}/customValues", V, list_values)
  route("POST", "/locations/{locationId}/customValues", V, create_value)
  route("GET", "/locations/{locationId}/customValues/{id}", V, get_value)
  route("PUT", "/locations/{locationId}/customValues/{id}", V, update_value)
  route("DELETE", "/locations/{locationId}/customValues/{id}", V, delete_value)
end

return M
