-- Messages (apps/conversations.json, Version 2021-04-15): a conversation's
-- messages (lastMessageId + nextPage, double-wrapped as observed in issue
-- #54), send, get, the location export (opaque base64 cursor ->
-- nextCursor), scheduled-message cancels and status updates.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"
local sorted = require "ghl_mock.sorted"
local cjson = require "cjson.safe"
local conversations = require "ghl_mock.conversations"

local M = {}

local V = "2021-04-15"

-- message type numbers (the `type` field) are the mock's own: the spec only
-- says it is a number
local TYPES = { TYPE_CALL = 1, TYPE_SMS = 2, TYPE_EMAIL = 3, TYPE_SMS_REVIEW_REQUEST = 4, TYPE_WEBCHAT = 5,
  TYPE_FACEBOOK = 11, TYPE_GMB = 15, TYPE_INSTAGRAM = 18, TYPE_WHATSAPP = 19, TYPE_CUSTOM_SMS = 20,
  TYPE_CUSTOM_EMAIL = 21, TYPE_LIVE_CHAT = 29, TYPE_RCS = 40, TYPE_TIKTOK = 41 }
-- SendMessageBodyDto.type -> messageType
local SEND_TYPES = { "SMS", "RCS", "Email", "WhatsApp", "IG", "FB", "Custom", "Live_Chat", "TIKTOK" }
local CHANNEL = { SMS = "TYPE_SMS", RCS = "TYPE_RCS", Email = "TYPE_EMAIL", WhatsApp = "TYPE_WHATSAPP",
  IG = "TYPE_INSTAGRAM", FB = "TYPE_FACEBOOK", Custom = "TYPE_CUSTOM_SMS", Live_Chat = "TYPE_LIVE_CHAT",
  TIKTOK = "TYPE_TIKTOK", Call = "TYPE_CALL" }
-- export's channel filter
local EXPORT_CHANNEL = { Call = "TYPE_CALL", SMS = "TYPE_SMS", Email = "TYPE_EMAIL", WhatsApp = "TYPE_WHATSAPP",
  Instagram = "TYPE_INSTAGRAM", Facebook = "TYPE_FACEBOOK" }
local LIST_MAX, EXPORT_MIN, EXPORT_MAX = 100, 10, 500
local STATUSES = { "delivered", "failed", "pending", "read" }

--- Add a message to a conversation. spec: id, channel (a send type or
-- "Call"), direction, body, subject, status, userId, source, attachments,
-- scheduled_at (ms).
function M.new(cv, spec, ms)
  local mt = CHANNEL[spec.channel] or "TYPE_SMS"
  local id = spec.id or state.new_id()
  local m = {
    id = id, type = TYPES[mt], messageType = mt, locationId = cv.locationId, contactId = cv.contactId,
    conversationId = cv.id, dateAdded = clock.iso(ms), dateUpdated = clock.iso(ms), body = spec.body,
    direction = spec.direction or "outbound", status = spec.status or "pending",
    contentType = mt == "TYPE_EMAIL" and "text/html" or "text/plain", attachments = spec.attachments or {},
    source = spec.source, userId = spec.userId, _ms = ms, _updated = ms,
  }
  if mt == "TYPE_EMAIL" then
    m._emailMessageId = spec.emailMessageId or ("Email" .. id:sub(6))
    m._subject = spec.subject
    m.meta = { email = { messageIds = { m._emailMessageId } } }
    state.email_ids[m._emailMessageId] = m
  elseif mt == "TYPE_CALL" then
    m.meta = { callDuration = 120, callStatus = "completed" }
  end
  if spec.scheduled_at then
    m._scheduled, m._send_at, m.status = true, spec.scheduled_at, "scheduled"
  end
  state.add("messages", m)
  sorted.insert(cv._messages, m)
  conversations.push(cv, m)
  return m
end

local function load(req, id)
  return common.load(state.messages, id, req, "Message")
end

local function list(req)
  local cv = conversations.load(req)
  if not cv then return end
  local problems = {}
  local limit = common.int(common.q(req, "limit"), "limit", { default = 20, min = 1, max = LIST_MAX }, problems)
  local types
  local tq = common.q(req, "type")
  if tq and tq ~= "" then
    types = {}
    for t in tq:gmatch("[^,]+") do
      if not TYPES[t] then problems[#problems + 1] = "type must be a comma-separated list of TYPE_* values" break end
      types[t] = true
    end
  end
  if not common.ok(problems) then return end
  local msgs = cv._messages
  local i = #msgs -- newest first
  local after = common.q(req, "lastMessageId")
  if after and after ~= "" then
    local m = state.messages[after]
    if m and m.conversationId == cv.id then
      i = sorted.lower(msgs, m._ms, m.id) - 1
    else
      i = 0 -- an unknown cursor: nothing after it
    end
  end
  local page = {}
  while i >= 1 and #page < limit do
    local m = msgs[i]
    if not types or types[m.messageType] then page[#page + 1] = m end
    i = i - 1
  end
  local more = false
  while i >= 1 do
    if not types or types[msgs[i].messageType] then more = true break end
    i = i - 1
  end
  local last = page[#page]
  return common.reply(200, { messages = { lastMessageId = last and last.id or common.null, nextPage = more,
                                          messages = page }, traceId = http.trace_id() })
end

local function get(req)
  local m = load(req, req.params.id)
  if m then return common.reply(200, { message = m, traceId = http.trace_id() }) end
end

local SEND = common.set{ "type", "subType", "contactId", "appointmentId", "attachments", "emailFrom", "emailCc",
  "emailBcc", "html", "message", "subject", "replyMessageId", "templateId", "threadId", "scheduledTimestamp",
  "conversationProviderId", "emailTo", "customSubtypeId", "emailReplyMode", "fromNumber", "toNumber", "forward",
  "status", "usesNativeSchedulingAi", "optimizationPeriod" }

local function filled(v) return type(v) == "string" and v ~= "" end

-- SendMessageBodyDto lists subType and status as required: a spec artefact
-- (they came with the 2026-05 sync), so only type + contactId + content are.
local function send(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, SEND, {})
  common.required(body, { "type", "contactId" }, problems)
  if body.type ~= nil and not CHANNEL[body.type] or body.type == "Call" then
    problems[#problems + 1] = "type must be one of the following values: " .. table.concat(SEND_TYPES, ", ")
  end
  local has_files = type(body.attachments) == "table" and #body.attachments > 0
  if body.type == "Email" then
    if not filled(body.html) and not filled(body.message) then
      problems[#problems + 1] = "html or message should not be empty"
    end
    if not filled(body.subject) then problems[#problems + 1] = "subject should not be empty" end
  elseif CHANNEL[body.type] and not filled(body.message) and not has_files then
    problems[#problems + 1] = "message should not be empty"
  end
  if body.scheduledTimestamp ~= nil and type(body.scheduledTimestamp) ~= "number" then
    problems[#problems + 1] = "scheduledTimestamp must be a number conforming to the specified constraints"
  end
  local c = type(body.contactId) == "string" and state.contacts[body.contactId]
  if #problems == 0 and not c then problems[#problems + 1] = "Contact not found" end
  if not common.ok(problems) or not common.own(req, c.locationId) then return end
  local now = clock.now_ms()
  local at = body.scheduledTimestamp and body.scheduledTimestamp * 1000
  local cv = conversations.for_contact(c.locationId, c.id) or conversations.new(c.locationId, c, nil, now)
  local m = M.new(cv, { channel = body.type, direction = "outbound", body = body.html or body.message,
                        subject = body.subject, status = "pending", attachments = body.attachments,
                        source = "api", emailMessageId = body.type == "Email" and state.new_id() or nil,
                        scheduled_at = at and at > now and at or nil }, now)
  return common.reply(200, { conversationId = cv.id, messageId = m.id, emailMessageId = m._emailMessageId,
                             msg = m._scheduled and "Message scheduled successfully." or "Message queued successfully.",
                             status = "pending", traceId = http.trace_id() })
end

-- cursor = base64 of {"lastSort":[ms],"lastId":id}; opaque to clients
local function encode_cursor(ms, id)
  return ngx.encode_base64(cjson.encode({ lastSort = { ms }, lastId = id }))
end

local function decode_cursor(s)
  local raw = ngx.decode_base64(s)
  local t = raw and cjson.decode(raw)
  if type(t) ~= "table" or type(t.lastSort) ~= "table" or type(t.lastSort[1]) ~= "number"
    or type(t.lastId) ~= "string" then return nil end
  return t.lastSort[1], t.lastId
end

local function export(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "locationId" }, {})
  local location = q("locationId")
  local limit = common.int(q("limit"), "limit", { default = 100, min = EXPORT_MIN, max = EXPORT_MAX }, problems)
  local sort_by = q("sortBy") or "createdAt"
  if sort_by ~= "createdAt" and sort_by ~= "updatedAt" then
    problems[#problems + 1] = "sortBy must be one of the following values: createdAt, updatedAt"
  end
  local order = q("sortOrder") or "desc"
  if order ~= "asc" and order ~= "desc" then
    problems[#problems + 1] = "sortOrder must be one of the following values: asc, desc"
  end
  local channel = q("channel")
  if channel and not EXPORT_CHANNEL[channel] then
    problems[#problems + 1] = "channel must be one of the following values: Call, SMS, Email, WhatsApp, Instagram, Facebook"
  end
  local from, to = q("startDate"), q("endDate")
  if from and not clock.any(from) then problems[#problems + 1] = "startDate must be a valid date" end
  if to and not clock.any(to) then problems[#problems + 1] = "endDate must be a valid date" end
  if not common.ok(problems) or not common.own(req, location) then return end
  local cms, cid
  if q("cursor") then
    cms, cid = decode_cursor(q("cursor"))
    if not cms then return common.bad_request("Invalid cursor") end
  end
  from, to = from and clock.any(from), to and clock.any(to)

  local key = sort_by == "createdAt" and function(m) return m._ms end or function(m) return m._updated end
  local mt = channel and EXPORT_CHANNEL[channel]
  local items = {}
  for _, m in ipairs(state.index("messages", location)) do
    if (not mt or m.messageType == mt) and (not q("conversationId") or m.conversationId == q("conversationId"))
      and (not q("contactId") or m.contactId == q("contactId")) and (not from or m._ms >= from)
      and (not to or m._ms <= to) then
      items[#items + 1] = m
    end
  end
  if sort_by == "updatedAt" then -- the index is in createdAt order
    table.sort(items, function(a, b) return sorted.key_less(a._updated, a.id, b._updated, b.id) end)
  end
  local n = #items
  local desc = order == "desc"
  local at = desc and function(i) return items[n + 1 - i] end or function(i) return items[i] end
  local start = 1
  if cms then
    start = sorted.first(n, function(i)
      local m = at(i)
      if desc then return sorted.key_less(key(m), m.id, cms, cid) end
      return sorted.key_less(cms, cid, key(m), m.id)
    end)
  end
  local page = {}
  for i = start, math.min(n, start + limit - 1) do page[#page + 1] = at(i) end
  local last = page[#page]
  local more = start + limit - 1 < n
  return common.reply(200, { messages = page, nextCursor = more and encode_cursor(key(last), last.id) or common.null,
                             total = n, traceId = http.trace_id() })
end

-- A scheduled message is cancelled by deleting it; one already sent (or
-- never scheduled) cannot be.
local function cancel(m)
  if not m._scheduled or m._send_at <= clock.now_ms() then
    return common.bad_request("Failed to cancel the scheduled message: the message is not scheduled")
  end
  local cv = state.conversations[m.conversationId]
  if cv then sorted.remove(cv._messages, m) end
  state.remove("messages", m)
  if m._emailMessageId then state.email_ids[m._emailMessageId] = nil end
  return http.reply(200, { status = 200, message = "Scheduled message cancelled successfully" })
end

local function cancel_scheduled(req)
  local m = load(req, req.params.messageId)
  if m then return cancel(m) end
end

local function cancel_scheduled_email(req)
  local m = state.email_ids[req.params.emailMessageId]
  if not m then return common.not_found("Email message") end
  if not common.own(req, m.locationId) then return end
  return cancel(m)
end

local function status(req)
  local m = load(req, req.params.messageId)
  if not m then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, common.set{ "status", "error", "emailMessageId", "recipients" }, {})
  if not common.set(STATUSES)[body.status] then
    problems[#problems + 1] = "status must be one of the following values: " .. table.concat(STATUSES, ", ")
  end
  if not common.ok(problems) then return end
  m.status = body.status
  local now = clock.now_ms()
  m._updated, m.dateUpdated = now, clock.iso(now)
  return common.reply(200, { conversationId = m.conversationId, messageId = m.id,
                             emailMessageId = m._emailMessageId, status = m.status, traceId = http.trace_id() })
end

function M.register(route)
  route("GET", "/conversations/messages/export", V, export)
  route("POST", "/conversations/messages", V, send)
  route("GET", "/conversations/messages/{id}", V, get)
  route("DELETE", "/conversations/messages/{messageId}/schedule", V, cancel_scheduled)
  -- the spec gives this operation no Version parameter
  route("DELETE", "/conversations/messages/email/{emailMessageId}/schedule", nil, cancel_scheduled_email)
  route("PUT", "/conversations/messages/{messageId}/status", V, status)
  route("GET", "/conversations/{conversationId}/messages", V, list)
end

return M
