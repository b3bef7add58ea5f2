-- Notes of a contact (apps/contacts.json): list {notes}, get/create/update
-- {note}, delete {succeded}. The list has no paging in GHL.
local common = require "ghl_mock.common"
local children = require "ghl_mock.contact_children"

local M = {}

local V = "2021-07-28"
local FIELDS = { "userId", "body", "title", "color", "pinned" }
local ALLOWED = common.set(FIELDS)

local function check(body, creating)
  local problems = common.whitelist(body, ALLOWED, {})
  if creating then common.required(body, { "body" }, problems) end
  for _, k in ipairs{ "userId", "body", "title", "color" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if body.pinned ~= nil and type(body.pinned) ~= "boolean" then
    problems[#problems + 1] = "pinned must be a boolean value"
  end
  return common.ok(problems)
end

local h = children.handlers{
  collection = "notes", singular = "note", label = "Note", id_param = "id", fields = FIELDS, check = check,
  order = function(a, b) return a.dateAdded > b.dateAdded or (a.dateAdded == b.dateAdded and a.id < b.id) end,
}

function M.register(route)
  route("GET", "/contacts/{contactId}/notes", V, h.list)
  route("POST", "/contacts/{contactId}/notes", V, h.create)
  route("GET", "/contacts/{contactId}/notes/{id}", V, h.get)
  route("PUT", "/contacts/{contactId}/notes/{id}", V, h.update)
  route("DELETE", "/contacts/{contactId}/notes/{id}", V, h.delete)
end

return M
