-- Conversations (apps/conversations.json, Version 2021-04-15): create,
-- get, update, delete, and GET /conversations/search, paged by
-- startAfterDate = the sort value (lastMessageDate, epoch ms) of the last
-- item; each item carries it in `sort`. Messages: messages.lua.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"

local M = {}

local V = "2021-04-15"
local SEARCH_MAX = 100 -- the spec gives no maximum; GHL's other message lists stop at 100
local SORT_BY = common.set{ "last_manual_message_date", "last_message_date", "score_profile", "overdue_at", "due_at" }

--- A new conversation with a contact (no messages yet).
function M.new(location, contact, id, ms)
  ms = ms or clock.now_ms()
  return state.add("conversations", {
    id = id or state.new_id(), locationId = location, contactId = contact.id, type = 1, inbox = true,
    deleted = false, starred = false, unreadCount = 0, assignedTo = contact.assignedTo, dateAdded = ms,
    dateUpdated = ms, _messages = {},
  })
end

function M.for_contact(location, contact_id)
  for _, cv in pairs(state.conversations) do
    if cv.locationId == location and cv.contactId == contact_id then return cv end
  end
end

--- A message was added: it becomes the conversation's last message
-- (scheduled ones only once they are sent).
function M.push(cv, m)
  if m._scheduled then return end
  cv.lastMessageBody, cv.lastMessageDate, cv.lastMessageType = m.body, m._ms, m.messageType
  cv.lastMessageDirection, cv.dateUpdated = m.direction, m._ms
  if m.direction == "inbound" then cv.unreadCount = (cv.unreadCount or 0) + 1 end
end

local function sort_value(cv) return cv.lastMessageDate or cv.dateAdded end

-- ConversationSchema plus the fields the search is observed to return
local function search_item(cv)
  local c = state.contacts[cv.contactId] or {}
  local r = common.out(cv)
  r.type = "TYPE_PHONE"
  r.fullName = c.contactName
  r.contactName = c.contactName
  r.email, r.phone = c.email, c.phone
  r.lastMessageDate = sort_value(cv)
  r.sort = { sort_value(cv) }
  return r
end

-- GetConversationByIdResponse
local function get_out(cv)
  return common.out(common.pick(cv, { "id", "contactId", "locationId", "deleted", "inbox", "type", "unreadCount",
    "assignedTo", "starred", "lastMessageBody", "lastMessageDate", "lastMessageType", "dateAdded", "dateUpdated" }))
end

local function load(req)
  return common.load(state.conversations, req.params.conversationId, req, "Conversation")
end
M.load = load

local function create(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, { locationId = true, contactId = true }, {})
  common.required(body, { "locationId", "contactId" }, problems)
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  local c = state.contacts[body.contactId]
  if not c or c.locationId ~= body.locationId then return common.bad_request("Contact not found") end
  local existing = M.for_contact(body.locationId, c.id)
  if existing then
    return http.error(400, "Conversation already exists", "Bad Request", { conversationId = existing.id })
  end
  local cv = M.new(body.locationId, c)
  return common.reply(201, { success = true, conversation = {
    id = cv.id, dateUpdated = clock.iso(cv.dateUpdated), dateAdded = clock.iso(cv.dateAdded), deleted = false,
    contactId = cv.contactId, locationId = cv.locationId, lastMessageDate = clock.iso(cv.dateAdded),
    assignedTo = cv.assignedTo } })
end

local function get(req)
  local cv = load(req)
  if cv then return http.reply(200, get_out(cv)) end
end

local function update(req)
  local cv = load(req)
  if not cv then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, common.set{ "locationId", "unreadCount", "starred", "feedback" }, {})
  common.required(body, { "locationId" }, problems)
  if body.unreadCount ~= nil and (type(body.unreadCount) ~= "number" or body.unreadCount < 0) then
    problems[#problems + 1] = "unreadCount must be a number conforming to the specified constraints"
  end
  if body.starred ~= nil and type(body.starred) ~= "boolean" then
    problems[#problems + 1] = "starred must be a boolean value"
  end
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  if body.unreadCount ~= nil then cv.unreadCount = body.unreadCount end
  if body.starred ~= nil then cv.starred = body.starred end
  if type(body.feedback) == "table" then cv.feedback = body.feedback end
  local out = common.out(cv)
  out.userId = cv.assignedTo
  return common.reply(200, { success = true, conversation = out })
end

local function delete(req)
  local cv = load(req)
  if not cv then return end
  for _, m in ipairs(cv._messages) do
    state.remove("messages", m)
    if m._emailMessageId then state.email_ids[m._emailMessageId] = nil end
  end
  state.remove("conversations", cv)
  return http.reply(200, { success = true })
end

local function search(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "locationId" }, {})
  local location = q("locationId")
  local limit = common.int(q("limit"), "limit", { default = 20, min = 1, max = SEARCH_MAX }, problems)
  local order = q("sort") or "desc"
  if order ~= "asc" and order ~= "desc" then problems[#problems + 1] = "sort must be one of the following values: asc, desc" end
  if q("sortBy") and not SORT_BY[q("sortBy")] then
    problems[#problems + 1] = "sortBy must be one of the following values: last_manual_message_date, "
      .. "last_message_date, score_profile, overdue_at, due_at"
  end
  local after = q("startAfterDate")
  if after and not tonumber(after) then problems[#problems + 1] = "startAfterDate must be a number (epoch ms)" end
  local status = q("status") or "all"
  if not common.set{ "all", "read", "unread", "starred", "recents" }[status] then
    problems[#problems + 1] = "status must be one of the following values: all, read, unread, starred, recents"
  end
  local from, to = q("startDate"), q("endDate")
  for k, v in pairs{ startDate = from, endDate = to } do
    if not tonumber(v) and v then problems[#problems + 1] = k .. " must be a number conforming to the specified constraints" end
  end
  if not common.ok(problems) or not common.own(req, location) then return end
  after, from, to = tonumber(after), tonumber(from), tonumber(to)
  local assigned
  if q("assignedTo") then
    assigned = {}
    for id in q("assignedTo"):gmatch("[^,]+") do assigned[id] = true end
  end
  local text = q("query") and q("query"):lower()
  local all = {}
  for _, cv in pairs(state.conversations) do
    local v = sort_value(cv)
    local c = state.contacts[cv.contactId] or {}
    if cv.locationId == location and not cv.deleted
      and (not q("contactId") or cv.contactId == q("contactId")) and (not q("id") or cv.id == q("id"))
      and (not assigned or (cv.assignedTo and assigned[cv.assignedTo]) or (assigned.unassigned and not cv.assignedTo))
      and (not q("lastMessageType") or cv.lastMessageType == q("lastMessageType"))
      and (not q("lastMessageDirection") or cv.lastMessageDirection == q("lastMessageDirection"))
      and (status ~= "unread" or (cv.unreadCount or 0) > 0) and (status ~= "read" or (cv.unreadCount or 0) == 0)
      and (status ~= "starred" or cv.starred)
      and (not from or v >= from) and (not to or v <= to)
      and (not text or common.has(c.contactName, text) or common.has(c.email, text) or common.has(c.phone, text)
        or common.has(cv.lastMessageBody, text)) then
      all[#all + 1] = cv
    end
  end
  local desc = order == "desc"
  table.sort(all, function(a, b)
    local x, y = sort_value(a), sort_value(b)
    if x ~= y then if desc then return x > y end return x < y end
    return a.id < b.id
  end)
  local out = {}
  for _, cv in ipairs(all) do
    local v = sort_value(cv)
    -- strictly after the cursor: equal dates are skipped, as with GHL's date cursor
    if not after or (desc and v < after) or (not desc and v > after) then
      out[#out + 1] = search_item(cv)
      if #out == limit then break end
    end
  end
  return common.reply(200, { conversations = out, total = #all, traceId = http.trace_id() })
end

function M.register(route)
  route("GET", "/conversations/search", V, search)
  route("POST", "/conversations/", V, create)
  route("GET", "/conversations/{conversationId}", V, get)
  route("PUT", "/conversations/{conversationId}", V, update)
  route("DELETE", "/conversations/{conversationId}", V, delete)
end

return M
