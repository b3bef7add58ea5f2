--- client.conversations (spec: apps/conversations.json, Version 2021-04-15).
--
--   conversations:get(id)  create(fields)  update(id, fields)  delete(id)
--   conversations:search{...}   one page;  each{...}  every match (startAfterDate from
--                               the last conversation)
--   conversations:messages(conversation_id, {limit=, type=})   iterator over all messages
--                               (lastMessageId + nextPage; the double-wrapped answer
--                               {messages = {messages = {...}}} is read too)
--   conversations:send{type = "SMS"|"Email"|..., contactId=, message=|html=, subject=, ...}
--   conversations:message(id)
--   conversations:export{channel=, contactId=, ...}   iterator over the location's messages
--   conversations:changed_since(since, params?, opts?)   every conversation with a message
--                               since a time (lastMessageDate, ascending)
--   conversations:cancel_scheduled(message_id)  cancel_scheduled_email(email_message_id)
--   conversations:update_message_status(message_id, status, fields?)
local resource = require "ghl.resource"
local check = require "ghl.check"
local errors = require "ghl.errors"

local function check_send(_, parts, where)
  local b = parts.body
  if type(b.type) ~= "string" or b.type == "" then
    errors.invalid("%s: fields.type is required (\"SMS\", \"Email\", \"WhatsApp\", ...)", where)
  end
  if type(b.contactId) ~= "string" or b.contactId == "" then
    errors.invalid("%s: fields.contactId is required", where)
  end
  if b.message == nil and b.html == nil and b.attachments == nil and b.templateId == nil then
    errors.invalid("%s: give the content: message, html, attachments or templateId", where)
  end
end

local Conversations = resource.define("conversations", {
  get = { op = "conversations.get-conversation", args = { "conversationId" }, returns = "conversation?" },
  create = { op = "conversations.create-conversation", body = true, returns = "conversation" },
  update = { op = "conversations.update-conversation", args = { "conversationId" }, body = true,
             returns = "conversation" },
  delete = { op = "conversations.delete-conversation", args = { "conversationId" }, returns = true },
  search = { op = "conversations.search-conversation", query = true, page = true },
  each = { op = "conversations.search-conversation", query = true, each = true },
  pages = { op = "conversations.search-conversation", query = true, pages = true },
  messages = { op = "conversations.get-messages", args = { "conversationId" }, query = true, each = true,
               doc = "Every message of a conversation, across all pages. The walk continues from" ..
                 " `lastMessageId`; GHL's double-wrapped answer (`{ messages = { messages = {...} } }`) is read too.",
               example = "for msg in client.conversations:messages(conversation_id) do\n" ..
                 "  print(msg.direction, msg.body)\nend" },
  send = { op = "conversations.send-a-new-message", body = true, prepare = check_send,
           doc = "Send a message: SMS, Email, WhatsApp, ... `type` and `contactId` are required, and the" ..
             " content: `message`, `html`, `attachments` or `templateId`; these are checked before anything is sent.",
           example = "local sent = assert(client.conversations:send{ type = \"SMS\", contactId = contact_id,\n" ..
             "  message = \"Your appointment is tomorrow at 10.\" })\nprint(sent.messageId)" },
  message = { op = "conversations.get-message", args = { "id" }, returns = "message?", doc = "One message by its id." },
  export = { op = "conversations.export-messages-by-location", query = true, each = true,
             doc = "Every message of the location, across all pages (by `cursor`); `channel`, `contactId`," ..
               " `startDate` and `endDate` narrow them." },
  cancel_scheduled = { op = "conversations.cancel-scheduled-message", args = { "messageId" }, returns = true,
                       doc = "Cancel a scheduled message." },
  cancel_scheduled_email = { op = "conversations.cancel-scheduled-email-message", args = { "emailMessageId" },
                             returns = true, doc = "Cancel a scheduled email." },
})

resource.about(Conversations, [[
Conversations and their messages: find, read, send, export, cancel what is scheduled, set a
message's status. Conversation operations send Version `2021-04-15`.]])

local status = resource.define("conversations.update_message_status", {
  run = { op = "conversations.update-message-status", args = { "messageId" }, body = true },
})
--- Set a message's delivery status ("delivered", "failed", "read", ...).
function Conversations:update_message_status(message_id, new_status, fields)
  local where = "conversations:update_message_status"
  check.self(self, Conversations, where)
  check.id(new_status, where, "status")
  if fields ~= nil then check.table(fields, where, "fields") end
  local body = resource.copy(fields)
  body.status = new_status
  return status.new(self.client):run(message_id, body)
end
resource.doc(Conversations, "update_message_status", {
  op = "conversations.update-message-status", args = { "messageId" }, body = "optional", except = { "status" },
  doc = "Set a message's delivery status (`delivered`, `failed`, `read`, ...).",
  params = {
    { "messageId", "string", "the `{messageId}` of the path: the message id" },
    { "status", "string", "the new status: the body's `status`" },
    { "fields", "table", "more of the body", opt = true },
  },
  example = "assert(client.conversations:update_message_status(message_id, \"delivered\"))",
})

--- Every conversation whose last message came since a time.
function Conversations:changed_since(since, params, opts)
  check.self(self, Conversations, "conversations:changed_since")
  return require("ghl.export").changed(self.client, "conversations", since, params, opts,
    "conversations:changed_since")
end
resource.doc(Conversations, "changed_since", {
  op = "conversations.search-conversation", each = true, pager = false,
  except = { "sort", "sortBy", "startAfterDate", "limit" },
  doc = "The conversations with a message since a time (their `lastMessageDate`), oldest first: GHL filters" ..
    " and sorts (`sort=asc`, `sortBy=last_message_date`, `startAfterDate`). GHL's cursor skips every" ..
    " conversation of the very date it names, so each page asks from a millisecond earlier and drops the ones" ..
    " it has. A change that is not a message (read, starred) does not count. `ghl.export` keeps a state" ..
    " across runs.",
  params = {
    { "since", "string|number", "ISO 8601, epoch seconds or ms, or a duration back from now (`\"24h\"`)" },
    { "params", "table", "more of the search (`contactId`, `assignedTo`, `status`, ...)", opt = true },
    { "opts", "table", "`page_size` (at most 100)", opt = true },
  },
  example = "for conversation in client.conversations:changed_since(\"1h\") do\n" ..
    "  print(conversation.id, conversation.lastMessageBody)\nend",
})

return Conversations
