-- Calendars and calendar groups (apps/calendars.json, Version 2021-04-15):
-- lists without paging ({calendars}, {groups}), get/create/update {calendar}
-- or {group}, delete {success}. Events, slots and notes: calendar_events.lua.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-04-15"

local function ordered(coll, location, keep)
  local out = {}
  for _, r in pairs(coll) do
    if r.locationId == location and (not keep or keep(r)) then out[#out + 1] = r end
  end
  table.sort(out, function(a, b)
    local x, y = a._order or 1e9, b._order or 1e9
    return x < y or (x == y and a.id < b.id)
  end)
  return out
end

local function location_query(req)
  local problems = common.required_query(req, { "locationId" }, {})
  local location = common.q(req, "locationId")
  if not common.ok(problems) or not common.own(req, location) then return nil end
  return location
end

-- groups

local GROUP = { "name", "description", "slug", "isActive" }

local function check_group(body, required, allowed)
  local problems = common.whitelist(body, common.set(allowed), {})
  common.required(body, required, problems)
  for _, k in ipairs{ "name", "description", "slug", "locationId" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if body.isActive ~= nil and type(body.isActive) ~= "boolean" then
    problems[#problems + 1] = "isActive must be a boolean value"
  end
  return common.ok(problems)
end

local function slug_taken(location, slug, except)
  for _, g in pairs(state.groups) do
    if g.locationId == location and g.slug == slug and g ~= except then return true end
  end
  return false
end

local function list_groups(req)
  local location = location_query(req)
  if location then return common.reply(200, { groups = ordered(state.groups, location) }) end
end

local function create_group(req)
  local body = http.json_body(req)
  if not body or not check_group(body, { "locationId", "name", "description", "slug" },
    { "locationId", "name", "description", "slug", "isActive" }) then return end
  if not common.own(req, body.locationId) then return end
  if slug_taken(body.locationId, body.slug) then return common.bad_request("Slug is already taken") end
  local g = common.pick(body, GROUP)
  g.id, g.locationId = state.new_id(), body.locationId
  if g.isActive == nil then g.isActive = true end
  state.add("groups", g)
  return common.reply(201, { group = g })
end

local function validate_slug(req)
  local body = http.json_body(req)
  if not body or not check_group(body, { "locationId", "slug" }, { "locationId", "slug" }) then return end
  if not common.own(req, body.locationId) then return end
  return http.reply(200, { available = not slug_taken(body.locationId, body.slug) })
end

local function load_group(req)
  return common.load(state.groups, req.params.groupId, req, "Group")
end

local function update_group(req)
  local g = load_group(req)
  if not g then return end
  local body = http.json_body(req)
  if not body or not check_group(body, { "name", "description", "slug" }, { "name", "description", "slug" }) then
    return
  end
  if slug_taken(g.locationId, body.slug, g) then return common.bad_request("Slug is already taken") end
  for k, v in pairs(common.pick(body, GROUP)) do g[k] = v end
  return common.reply(200, { group = g })
end

local function group_status(req)
  local g = load_group(req)
  if not g then return end
  local body = http.json_body(req)
  if not body or not check_group(body, {}, { "isActive" }) then return end
  if type(body.isActive) ~= "boolean" then return common.invalid{ "isActive must be a boolean value" } end
  g.isActive = body.isActive
  return http.reply(200, { success = true })
end

local function delete_group(req)
  local g = load_group(req)
  if not g then return end
  state.remove("groups", g)
  for _, c in pairs(state.calendars) do
    if c.groupId == g.id then c.groupId = nil end
  end
  return http.reply(200, { success = true })
end

-- calendars

local NUMBERS = { "slotDuration", "slotInterval", "slotBuffer", "preBuffer", "appoinmentPerSlot",
  "appoinmentPerDay", "allowBookingAfter", "allowBookingFor" }
local STRINGS = { "locationId", "name", "description", "slug", "widgetSlug", "groupId", "calendarType",
  "eventType", "eventTitle", "eventColor", "slotDurationUnit", "slotIntervalUnit" }

local function check_calendar(body, creating)
  local problems = {}
  if creating then common.required(body, { "locationId", "name" }, problems) end
  body.id = nil
  for _, k in ipairs(STRINGS) do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  for _, k in ipairs(NUMBERS) do
    if body[k] ~= nil and type(body[k]) ~= "number" then
      problems[#problems + 1] = k .. " must be a number conforming to the specified constraints"
    end
  end
  for _, k in ipairs{ "slotDuration", "slotInterval" } do
    if type(body[k]) == "number" and body[k] <= 0 then problems[#problems + 1] = k .. " must be a positive number" end
  end
  if body.openHours ~= nil then
    local ok = type(body.openHours) == "table"
    for _, oh in ipairs(ok and body.openHours or {}) do
      if type(oh) ~= "table" or type(oh.daysOfTheWeek) ~= "table" or type(oh.hours) ~= "table" then ok = false end
    end
    if not ok then problems[#problems + 1] = "openHours must be an array of {daysOfTheWeek, hours}" end
  end
  if body.teamMembers ~= nil then
    local ok = type(body.teamMembers) == "table"
    for _, m in ipairs(ok and body.teamMembers or {}) do
      if type(m) ~= "table" or type(m.userId) ~= "string" then ok = false end
    end
    if not ok then problems[#problems + 1] = "teamMembers.userId should not be empty" end
  end
  return common.ok(problems)
end

local DEFAULTS = {
  calendarType = "event", eventType = "RoundRobin_OptimizeForAvailability", widgetType = "classic",
  eventTitle = "{{contact.name}}", eventColor = "#039be5", slotDuration = 30, slotDurationUnit = "mins",
  slotInterval = 30, slotIntervalUnit = "mins", slotBuffer = 0, preBuffer = 0, appoinmentPerSlot = 1,
  appoinmentPerDay = 0, allowBookingAfter = 0, allowBookingFor = 60, allowBookingForUnit = "days",
  autoConfirm = true, allowReschedule = true, allowCancellation = true, isActive = true, enableRecurring = false,
}

local function list_calendars(req)
  local location = location_query(req)
  if not location then return end
  local group = common.q(req, "groupId")
  local drafted = common.q(req, "showDrafted") ~= "false"
  return common.reply(200, { calendars = ordered(state.calendars, location, function(c)
    return (not group or group == "" or c.groupId == group) and (drafted or c.isActive ~= false)
  end) })
end

local function create_calendar(req)
  local body = http.json_body(req)
  if not body or not check_calendar(body, true) or not common.own(req, body.locationId) then return end
  if body.groupId and not state.groups[body.groupId] then return common.bad_request("Group not found") end
  local c = {}
  for k, v in pairs(DEFAULTS) do c[k] = v end
  c.openHours = { { daysOfTheWeek = { 1, 2, 3, 4, 5 },
                    hours = { { openHour = 9, openMinute = 0, closeHour = 17, closeMinute = 0 } } } }
  c.teamMembers, c.notifications, c.availabilities = {}, {}, {}
  for k, v in pairs(body) do c[k] = v end
  c.id = state.new_id()
  c.slug = c.slug or c.name:lower():gsub("[^%w]+", "-")
  c.widgetSlug = c.widgetSlug or c.slug
  state.add("calendars", c)
  return common.reply(200, { calendar = c })
end

local function load_calendar(req)
  return common.load(state.calendars, req.params.calendarId, req, "Calendar")
end
M.load = load_calendar

local function get_calendar(req)
  local c = load_calendar(req)
  if c then return common.reply(200, { calendar = c }) end
end

local function update_calendar(req)
  local c = load_calendar(req)
  if not c then return end
  local body = http.json_body(req)
  if not body or not check_calendar(body, false) then return end
  body.locationId = nil
  for k, v in pairs(body) do c[k] = v end
  return common.reply(200, { calendar = c })
end

local function delete_calendar(req)
  local c = load_calendar(req)
  if not c then return end
  state.remove("calendars", c)
  return http.reply(200, { success = true })
end

function M.register(route)
  -- literal paths before /calendars/{calendarId}: the first matching route wins
  route("GET", "/calendars/groups", V, list_groups)
  route("POST", "/calendars/groups", V, create_group)
  route("POST", "/calendars/groups/validate-slug", V, validate_slug)
  route("PUT", "/calendars/groups/{groupId}", V, update_group)
  route("DELETE", "/calendars/groups/{groupId}", V, delete_group)
  route("PUT", "/calendars/groups/{groupId}/status", V, group_status)
  route("GET", "/calendars/", V, list_calendars)
  route("POST", "/calendars/", V, create_calendar)
  route("GET", "/calendars/{calendarId}", V, get_calendar)
  route("PUT", "/calendars/{calendarId}", V, update_calendar)
  route("DELETE", "/calendars/{calendarId}", V, delete_calendar)
end

return M
