-- client.conversations end to end: CRUD, search/each (startAfterDate),
-- messages (lastMessageId, double-wrapped), send, export (cursor), scheduling.
local h = require "spec.support.helpers"

local CONV = "ConvMock000000000001" -- 120 messages

describe("conversations", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  it("creates, reads, updates and deletes a conversation", function()
    local contact = assert(client.contacts:create{ firstName = "Chat", email = "chat@example.com" })
    local conv = assert(client.conversations:create{ contactId = contact.id })
    assert.is_string(conv.id)
    assert.are.equal(conv.id, assert(client.conversations:get(conv.id)).id)
    assert(client.conversations:update(conv.id, { starred = true }))
    assert.is_true(assert(client.conversations:delete(conv.id)))
    assert.are.equal("2021-04-15", h.last_request(srv).headers.version)
  end)

  it("search returns a page; each walks all by startAfterDate", function()
    local items, resp = assert(client.conversations:search{ limit = 2 })
    assert.are.equal(2, #items)
    assert.are.equal(6, resp.body.total)
    local n = 0
    for _ in client.conversations:each{ limit = 2 } do n = n + 1 end
    assert.are.equal(6, n)
    assert.matches("startAfterDate=", h.last_request(srv).uri)
  end)

  it("messages iterates all 120 messages of the double-wrapped answer", function()
    local seen, n = {}, 0
    for m in client.conversations:messages(CONV, { limit = 50 }) do
      assert.is_nil(seen[m.id])
      seen[m.id] = true
      n = n + 1
    end
    assert.are.equal(120, n)
    assert.matches("lastMessageId=", h.last_request(srv).uri)
  end)

  it("sends an SMS and reads the message back", function()
    local sent = assert(client.conversations:send{ type = "SMS", contactId = "SeedC000000000000001",
                                                   message = "hello" })
    assert.is_string(sent.messageId)
    assert.is_string(sent.conversationId)
    local m = assert(client.conversations:message(sent.messageId))
    assert.are.equal(sent.messageId, m.id)
    assert.are.equal("hello", m.body)
  end)

  it("sends an email with a subject", function()
    local sent = assert(client.conversations:send{ type = "Email", contactId = "SeedC000000000000001",
                                                   html = "<p>Hi</p>", subject = "Welcome" })
    assert.is_string(sent.messageId)
  end)

  it("refuses a send without type, contact or content before sending", function()
    local cs = client.conversations
    assert.matches("fields.type is required", h.raised(cs.send, cs, { contactId = "x", message = "m" }).message)
    assert.matches("fields.contactId is required", h.raised(cs.send, cs, { type = "SMS", message = "m" }).message)
    assert.matches("give the content", h.raised(cs.send, cs, { type = "SMS", contactId = "x" }).message)
    assert.are.same({}, h.requests(srv))
  end)

  it("cancels a scheduled message and updates a message status", function()
    local sent = assert(client.conversations:send{ type = "SMS", contactId = "SeedC000000000000002",
                                                   message = "later", scheduledTimestamp = os.time() + 3600 })
    assert.is_true(assert(client.conversations:cancel_scheduled(sent.messageId)))
    local again = assert(client.conversations:send{ type = "SMS", contactId = "SeedC000000000000002",
                                                    message = "now" })
    assert(client.conversations:update_message_status(again.messageId, "delivered"))
  end)

  it("cancels a scheduled email (an operation without a Version in the spec)", function()
    local sent = assert(client.conversations:send{ type = "Email", contactId = "SeedC000000000000003",
                                                   html = "<p>x</p>", subject = "s",
                                                   scheduledTimestamp = os.time() + 3600 })
    assert.is_string(sent.emailMessageId)
    assert.is_true(assert(client.conversations:cancel_scheduled_email(sent.emailMessageId)))
  end)

  it("export walks every message of the location by cursor", function()
    local n = 0
    for m in client.conversations:export{ limit = 50 } do
      assert.is_string(m.id)
      n = n + 1
    end
    assert.is_true(n >= 120)
    assert.matches("cursor=", h.last_request(srv).uri)
  end)
end)
