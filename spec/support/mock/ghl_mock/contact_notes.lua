-- Notes of a contact (apps/contacts.json): list {notes}, get/create/update
-- {note}, delete {succeded}. The list has no paging in GHL.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local contacts = require "ghl_mock.contacts"

local M = {}

local V = "2021-07-28"
local FIELDS = { "userId", "body", "title", "color", "pinned" }
local ALLOWED = common.set(FIELDS)

local function load_note(req, c)
  local n = state.notes[req.params.id]
  if not n or n.contactId ~= c.id then
    common.not_found("Note")
    return nil
  end
  return n
end

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

local function list(req)
  local c = contacts.load(req)
  if not c then return end
  local out = {}
  for _, n in pairs(state.notes) do
    if n.contactId == c.id then out[#out + 1] = n end
  end
  table.sort(out, function(a, b) return a.dateAdded > b.dateAdded or (a.dateAdded == b.dateAdded and a.id < b.id) end)
  return common.reply(200, { notes = out })
end

local function create(req)
  local c = contacts.load(req)
  if not c then return end
  local body = http.json_body(req)
  if not body or not check(body, true) then return end
  local n = common.pick(body, FIELDS)
  n.id, n.contactId, n.locationId, n.dateAdded = state.new_id(), c.id, c.locationId, state.now_iso()
  state.add("notes", n)
  return common.reply(201, { note = n })
end

local function get(req)
  local c = contacts.load(req)
  local n = c and load_note(req, c)
  if n then return common.reply(200, { note = n }) end
end

local function update(req)
  local c = contacts.load(req)
  local n = c and load_note(req, c)
  if not n then return end
  local body = http.json_body(req)
  if not body or not check(body, false) then return end
  for k, v in pairs(common.pick(body, FIELDS)) do n[k] = v end
  return common.reply(200, { note = n })
end

local function delete(req)
  local c = contacts.load(req)
  local n = c and load_note(req, c)
  if not n then return end
  state.remove("notes", n)
  return http.reply(200, { succeded = true })
end

function M.register(route)
  route("GET", "/contacts/{contactId}/notes", V, list)
  route("POST", "/contacts/{contactId}/notes", V, create)
  route("GET", "/contacts/{contactId}/notes/{id}", V, get)
  route("PUT", "/contacts/{contactId}/notes/{id}", V, update)
  route("DELETE", "/contacts/{contactId}/notes/{id}", V, delete)
end

return M
