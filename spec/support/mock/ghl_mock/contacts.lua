-- Contacts (apps/contacts.json): create, get, update, delete, upsert.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"

local M = {}

local V = "2021-07-28"

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

-- property names of the request schemas (CreateContactDto, UpdateContactDto,
-- UpsertContactDto); GHL refuses any other property with a 422
local COMMON = { "firstName", "lastName", "name", "email", "phone", "address1", "city", "state",
  "postalCode", "website", "timezone", "dnd", "dndSettings", "inboundDndSettings", "tags",
  "customFields", "source", "dateOfBirth", "country", "assignedTo" }
local CREATE = set(COMMON)
for _, k in ipairs{ "locationId", "gender", "companyName" } do CREATE[k] = true end
local UPDATE = set(COMMON)
local UPSERT = set(COMMON)
for _, k in ipairs{ "locationId", "gender", "companyName", "createNewIfDuplicateAllowed" } do UPSERT[k] = true end

local function validate(body, allowed)
  local problems = {}
  local names = {}
  for k in pairs(body) do names[#names + 1] = tostring(k) end
  table.sort(names)
  for _, k in ipairs(names) do
    if not allowed[k] then problems[#problems + 1] = ("property %s should not exist"):format(k) end
  end
  if body.email ~= nil and (type(body.email) ~= "string" or not body.email:match("^[^@%s]+@[^@%s]+%.[^@%s]+$")) then
    problems[#problems + 1] = "email must be an email"
  end
  if body.tags ~= nil and (type(body.tags) ~= "table" or (next(body.tags) and #body.tags == 0)) then
    problems[#problems + 1] = "tags must be an array"
  end
  for _, k in ipairs{ "firstName", "lastName", "name", "phone", "locationId" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then
      problems[#problems + 1] = ("%s must be a string"):format(k)
    end
  end
  if #problems > 0 then
    http.error(422, problems, "Unprocessable Entity")
    return false
  end
  return true
end

local function public(c)
  local out = {}
  for k, v in pairs(c) do out[k] = v end
  if #out.tags == 0 then out.tags = http.EMPTY_ARRAY end
  if next(out.customFields) == nil then out.customFields = http.EMPTY_ARRAY end
  return out
end

local function apply(c, body)
  for k, v in pairs(body) do
    if k ~= "locationId" and k ~= "createNewIfDuplicateAllowed" then c[k] = v end
  end
  if body.email then c.emailLowerCase = body.email:lower() end
  if body.firstName or body.lastName then
    c.contactName = ((c.firstName or "") .. " " .. (c.lastName or "")):gsub("^ +", ""):gsub(" +$", "")
  end
  c.tags = c.tags or {}
  c.dateUpdated = state.now_iso()
end

local function find_duplicate(location, body)
  local email = type(body.email) == "string" and body.email:lower()
  for _, c in pairs(state.contacts) do
    if c.locationId == location then
      if email and c.emailLowerCase == email then return c, "email" end
      if body.phone and c.phone == body.phone then return c, "phone" end
    end
  end
end

local function new_contact(location, body)
  local now = state.now_iso()
  local c = { id = state.new_id(), locationId = location, dateAdded = now, type = "lead",
              source = "public api", customFields = {}, dnd = false }
  apply(c, body)
  c.dateAdded = now
  state.contacts[c.id] = c
  return c
end

local function forbidden()
  return http.reply(403, { statusCode = 403, message = "The token does not have access to this location",
                           traceId = http.trace_id() })
end

-- The contact named by the path, or replies 404/403 and returns nil.
local function load(req)
  local c = state.contacts[req.params.contactId]
  if not c then
    http.error(404, "Contact not found", "Not Found")
    return nil
  end
  if c.locationId ~= req.token.locationId then
    forbidden()
    return nil
  end
  return c
end

local function check_location(req, body)
  if body.locationId == nil or body.locationId == "" then
    http.error(422, { "locationId should not be empty" }, "Unprocessable Entity")
    return false
  end
  if body.locationId ~= req.token.locationId then
    forbidden()
    return false
  end
  return true
end

local function create(req)
  local body = http.json_body(req)
  if not body or not validate(body, CREATE) or not check_location(req, body) then return end
  local dup, field = find_duplicate(body.locationId, body)
  if dup then
    return http.error(400, "This location does not allow duplicated contacts.", "Bad Request",
      { meta = { contactName = dup.contactName, contactId = dup.id, matchingField = field } })
  end
  return http.reply(201, { contact = public(new_contact(body.locationId, body)) })
end

local function get(req)
  local c = load(req)
  if c then return http.reply(200, { contact = public(c) }) end
end

local function update(req)
  local c = load(req)
  if not c then return end
  local body = http.json_body(req)
  if not body or not validate(body, UPDATE) then return end
  apply(c, body)
  return http.reply(200, { succeded = true, contact = public(c) })
end

local function delete(req)
  local c = load(req)
  if not c then return end
  state.contacts[c.id] = nil
  return http.reply(200, { succeded = true })
end

local function upsert(req)
  local body = http.json_body(req)
  if not body or not validate(body, UPSERT) or not check_location(req, body) then return end
  local c = find_duplicate(body.locationId, body)
  if c then
    apply(c, body)
    return http.reply(200, { new = false, contact = public(c), traceId = http.trace_id() })
  end
  return http.reply(200, { new = true, contact = public(new_contact(body.locationId, body)),
                           traceId = http.trace_id() })
end

function M.register(route)
  route("POST", "/contacts/", V, create)
  route("POST", "/contacts/upsert", V, upsert)
  route("GET", "/contacts/{contactId}", V, get)
  route("PUT", "/contacts/{contactId}", V, update)
  route("DELETE", "/contacts/{contactId}", V, delete)
end

return M
