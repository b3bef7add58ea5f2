-- Tasks: a contact's (apps/contacts.json: list {tasks}, get/create/update
-- {task}, delete {succeded}, PUT .../completed) and the location-wide
-- search (apps/locations.json: POST /locations/{locationId}/tasks/search,
-- skip + limit in the body, {tasks} with no total).
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"
local children = require "ghl_mock.contact_children"

local M = {}

local V = "2021-07-28"
local FIELDS = { "title", "body", "dueDate", "completed", "assignedTo" }
local ALLOWED = common.set(FIELDS)

local function by_due(a, b)
  return a.dueDate < b.dueDate or (a.dueDate == b.dueDate and a.id < b.id)
end

local function check(body, creating)
  local problems = common.whitelist(body, ALLOWED, {})
  if creating then common.required(body, { "title", "dueDate" }, problems) end
  for _, k in ipairs{ "title", "body", "assignedTo" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if body.dueDate ~= nil and body.dueDate ~= "" and not clock.parse(body.dueDate) then
    problems[#problems + 1] = "dueDate must be a valid ISO 8601 date string"
  end
  if (creating or body.completed ~= nil) and type(body.completed) ~= "boolean" then
    problems[#problems + 1] = "completed must be a boolean value"
  end
  return common.ok(problems)
end

local h = children.handlers{
  collection = "tasks", singular = "task", label = "Task", id_param = "taskId", fields = FIELDS, check = check,
  order = by_due,
}

local function completed(req)
  local t = h.load(req)
  if not t then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, { completed = true }, {})
  if type(body.completed) ~= "boolean" then problems[#problems + 1] = "completed must be a boolean value" end
  if not common.ok(problems) then return end
  t.completed = body.completed
  return common.reply(200, { task = t })
end

local SEARCH = common.set{ "contactId", "completed", "assignedTo", "query", "limit", "skip", "businessId" }

local function search(req)
  if not common.own(req, req.params.locationId) then return end
  local body = {}
  if req.raw_body and req.raw_body ~= "" then
    body = http.json_body(req)
    if not body then return end
  end
  local problems = common.whitelist(body, SEARCH, {})
  local skip = common.int(body.skip, "skip", { default = 0, min = 0 }, problems)
  local limit = common.int(body.limit, "limit", { default = 25, min = 1 }, problems)
  for _, k in ipairs{ "contactId", "assignedTo" } do
    if body[k] ~= nil and not common.strings(body[k]) then problems[#problems + 1] = k .. " must be an array" end
  end
  if body.completed ~= nil and type(body.completed) ~= "boolean" then
    problems[#problems + 1] = "completed must be a boolean value"
  end
  if not common.ok(problems) then return end
  local q = type(body.query) == "string" and body.query ~= "" and body.query:lower() or nil
  local all = {}
  for _, t in pairs(state.tasks) do
    if t.locationId == req.params.locationId
      and (not body.contactId or #body.contactId == 0 or common.contains(body.contactId, t.contactId))
      and (not body.assignedTo or #body.assignedTo == 0 or common.contains(body.assignedTo, t.assignedTo))
      and (body.completed == nil or t.completed == body.completed)
      and (not q or common.has(t.title, q) or common.has(t.body, q)) then
      all[#all + 1] = t
    end
  end
  table.sort(all, by_due)
  return common.reply(200, { tasks = common.slice(all, skip, limit) })
end

function M.register(route)
  route("GET", "/contacts/{contactId}/tasks", V, h.list)
  route("POST", "/contacts/{contactId}/tasks", V, h.create)
  route("GET", "/contacts/{contactId}/tasks/{taskId}", V, h.get)
  route("PUT", "/contacts/{contactId}/tasks/{taskId}", V, h.update)
  route("DELETE", "/contacts/{contactId}/tasks/{taskId}", V, h.delete)
  route("PUT", "/contacts/{contactId}/tasks/{taskId}/completed", V, completed)
  route("POST", "/locations/{locationId}/tasks/search", V, search)
end

return M
