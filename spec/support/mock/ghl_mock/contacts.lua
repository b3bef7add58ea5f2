-- Contacts (apps/contacts.json): create, get, update, delete, upsert, and a
-- contact's tags, followers, workflow and campaign memberships. Search and
-- the legacy list are in contacts_search.lua; notes and tasks have their own
-- files.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"

local M = {}

local V = "2021-07-28"

local set = common.set

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
  common.whitelist(body, allowed, problems)
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
  return common.ok(problems)
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
  c.followers = c.followers or {}
  c.dateUpdated = state.now_iso()
  c._text = nil -- the search text (contacts_search.lua) is stale
end

local function find_duplicate(location, body)
  local email = type(body.email) == "string" and body.email:lower()
  for _, c in ipairs(state.index("contacts", location)) do
    if email and c.emailLowerCase == email then return c, "email" end
    if body.phone and c.phone == body.phone then return c, "phone" end
  end
end

local function new_contact(location, body)
  local ms = clock.now_ms()
  local c = { id = state.new_id(), locationId = location, type = "lead", source = "public api",
              customFields = {}, dnd = false }
  apply(c, body)
  c.dateAdded = clock.iso(ms)
  c._ms = ms
  return state.add("contacts", c)
end

--- The contact named by the path, or replies 404/403 and returns nil.
function M.load(req)
  return common.load(state.contacts, req.params.contactId, req, "Contact")
end
local load = M.load

local function check_location(req, body)
  if common.empty(body.locationId) then
    common.invalid{ "locationId should not be empty" }
    return false
  end
  return common.own(req, body.locationId)
end

local function create(req)
  local body = http.json_body(req)
  if not body or not validate(body, CREATE) or not check_location(req, body) then return end
  local dup, field = find_duplicate(body.locationId, body)
  if dup then
    return http.error(400, "This location does not allow duplicated contacts.", "Bad Request",
      { meta = { contactName = dup.contactName, contactId = dup.id, matchingField = field } })
  end
  return common.reply(201, { contact = new_contact(body.locationId, body) })
end

local function get(req)
  local c = load(req)
  if c then return common.reply(200, { contact = c }) end
end

local function update(req)
  local c = load(req)
  if not c then return end
  local body = http.json_body(req)
  if not body or not validate(body, UPDATE) then return end
  apply(c, body)
  return common.reply(200, { succeded = true, contact = c })
end

local function delete(req)
  local c = load(req)
  if not c then return end
  state.remove("contacts", c)
  return http.reply(200, { succeded = true })
end

local function upsert(req)
  local body = http.json_body(req)
  if not body or not validate(body, UPSERT) or not check_location(req, body) then return end
  local c = find_duplicate(body.locationId, body)
  if c then
    apply(c, body)
    return common.reply(200, { new = false, contact = c, traceId = http.trace_id() })
  end
  return common.reply(200, { new = true, contact = new_contact(body.locationId, body), traceId = http.trace_id() })
end

-- GET /contacts/search/duplicate?locationId=&email=&number=: the contact
-- with that email (first) or phone, as {contact}, or {contact: null}
-- (GHL documents no answer schema; this is what it sends).
local function duplicate(req)
  local location = common.q(req, "locationId")
  if common.empty(location) then return common.invalid{ "locationId should not be empty" } end
  if not common.own(req, location) then return end
  local email, number = common.q(req, "email"), common.q(req, "number")
  local c
  if not common.empty(email) then c = find_duplicate(location, { email = email }) end
  if not c and not common.empty(number) then c = find_duplicate(location, { phone = number }) end
  return common.reply(200, { contact = c or common.null })
end

-- A body {<field>: [strings]} (TagsDTO, FollowersDTO): the list, or a 422.
local function string_list(req, field)
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, { [field] = true }, {})
  if common.empty(body[field]) then
    problems[#problems + 1] = field .. " should not be empty"
  elseif type(body[field]) ~= "table" then
    problems[#problems + 1] = field .. " must be an array"
  elseif not common.strings(body[field]) then
    problems[#problems + 1] = "each value in " .. field .. " must be a string"
  end
  if not common.ok(problems) then return nil end
  return body[field]
end

-- Adding tags to a contact creates the location tags GHL does not have yet.
local function ensure_location_tag(location, name)
  for _, t in pairs(state.tags) do
    if t.locationId == location and t.name == name then return end
  end
  state.add("tags", { id = state.new_id(), name = name, locationId = location })
end

local function add_tags(req)
  local c = load(req)
  if not c then return end
  local tags = string_list(req, "tags")
  if not tags then return end
  for _, t in ipairs(tags) do
    if not common.contains(c.tags, t) then
      c.tags[#c.tags + 1] = t
      ensure_location_tag(c.locationId, t)
    end
  end
  c.dateUpdated = state.now_iso()
  return common.reply(201, { tags = c.tags })
end

local function remove_tags(req)
  local c = load(req)
  if not c then return end
  local tags = string_list(req, "tags")
  if not tags then return end
  local keep = {}
  for _, t in ipairs(c.tags) do
    if not common.contains(tags, t) then keep[#keep + 1] = t end
  end
  c.tags = keep
  c.dateUpdated = state.now_iso()
  return common.reply(200, { tags = c.tags })
end

--- Followers of a contact or an opportunity (same DTOs in both specs).
function M.add_followers(r, list)
  r.followers = r.followers or {}
  local added = {}
  for _, u in ipairs(list) do
    if not common.contains(r.followers, u) then
      r.followers[#r.followers + 1] = u
      added[#added + 1] = u
    end
  end
  return { followers = r.followers, followersAdded = added }
end

function M.remove_followers(r, list)
  local keep, removed = {}, {}
  for _, u in ipairs(r.followers or {}) do
    if common.contains(list, u) then removed[#removed + 1] = u else keep[#keep + 1] = u end
  end
  r.followers = keep
  return { followers = keep, followersRemoved = removed }
end

local function add_followers(req)
  local c = load(req)
  if not c then return end
  local list = string_list(req, "followers")
  if list then return common.reply(201, M.add_followers(c, list)) end
end

local function remove_followers(req)
  local c = load(req)
  if not c then return end
  local list = string_list(req, "followers")
  if list then return common.reply(200, M.remove_followers(c, list)) end
end

-- The body of the workflow ops (CreateWorkflowDto) is optional in practice.
local function workflow_body(req)
  if not req.raw_body or req.raw_body == "" then return {} end
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, { eventStartTime = true }, {})
  if body.eventStartTime ~= nil and not clock.parse(body.eventStartTime) then
    problems[#problems + 1] = "eventStartTime must be a valid ISO 8601 date string"
  end
  if not common.ok(problems) then return nil end
  return body
end

local function workflow(req)
  local c = load(req)
  if not c then return end
  local w = common.load(state.workflows, req.params.workflowId, req, "Workflow")
  if not w then return end
  local body = workflow_body(req)
  if not body then return end
  local per = state.enrolments[c.id] or {}
  state.enrolments[c.id] = per
  if req.method == "POST" then
    per[w.id] = { workflowId = w.id, eventStartTime = body.eventStartTime, dateAdded = state.now_iso() }
  else
    per[w.id] = nil
  end
  return http.reply(200, { succeded = true })
end

local function campaign(req)
  local c = load(req)
  if not c then return end
  local cp = common.load(state.campaigns, req.params.campaignId, req, "Campaign")
  if not cp then return end
  local per = state.campaign_members[c.id] or {}
  state.campaign_members[c.id] = per
  if req.method == "POST" then
    per[cp.id] = true
    return http.reply(201, { succeded = true })
  end
  per[cp.id] = nil
  return http.reply(200, { succeded = true })
end

local function remove_all_campaigns(req)
  local c = load(req)
  if not c then return end
  state.campaign_members[c.id] = nil
  return http.reply(200, { succeded = true })
end

function M.register(route)
  route("POST", "/contacts/", V, create)
  route("POST", "/contacts/upsert", V, upsert)
  route("GET", "/contacts/search/duplicate", V, duplicate)
  route("GET", "/contacts/{contactId}", V, get)
  route("PUT", "/contacts/{contactId}", V, update)
  route("DELETE", "/contacts/{contactId}", V, delete)
  route("POST", "/contacts/{contactId}/tags", V, add_tags)
  route("DELETE", "/contacts/{contactId}/tags", V, remove_tags)
  route("POST", "/contacts/{contactId}/followers", V, add_followers)
  route("DELETE", "/contacts/{contactId}/followers", V, remove_followers)
  route("POST", "/contacts/{contactId}/workflow/{workflowId}", V, workflow)
  route("DELETE", "/contacts/{contactId}/workflow/{workflowId}", V, workflow)
  -- removeAll before {campaignId}: the first matching route wins
  route("DELETE", "/contacts/{contactId}/campaigns/removeAll", V, remove_all_campaigns)
  route("POST", "/contacts/{contactId}/campaigns/{campaignId}", V, campaign)
  route("DELETE", "/contacts/{contactId}/campaigns/{campaignId}", V, campaign)
end

return M
