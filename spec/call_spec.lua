-- client:call and client:each_of end to end: any operation by operationId,
-- and every paging style through the generic iterator.
local h = require "spec.support.helpers"

describe("call and each_of", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv, { company_id = "CompMock000000000001" }) end)
  after_each(function() client:close() end)

  it("calls an operation with flat params", function()
    local body = assert(client:call("contacts.get-contact", { contactId = "SeedC000000000000001" }))
    assert.are.equal("SeedC000000000000001", body.contact.id)
    local created = assert(client:call("create-contact", { firstName = "Flat", email = "flat@example.com" }))
    assert.are.equal(srv.location_id, created.contact.locationId)
  end)

  it("fills locationId into the body of a contacts search (the spec's body schema is empty)", function()
    local body = assert(client:call("search-contacts-advanced", { pageLimit = 3 }))
    assert.are.equal(3, #body.contacts)
    local req = h.requests(srv)[1]
    assert.are.equal(srv.location_id, require("cjson").decode(req.body).locationId)
  end)

  it("sends nothing when a required parameter is missing", function()
    local err = h.raised(client.call, client, "contacts.get-contact", {})
    assert.matches("needs the path parameter 'contactId'", err.message)
    assert.are.same({}, h.requests(srv))
  end)

  it("keeps hostile ids inside their path segment", function()
    for _, id in ipairs{ "a/../b", "x?y=1#z" } do
      local v, err = client:call("contacts.get-contact", { contactId = id })
      assert.is_nil(v)
      assert.are.equal(404, err.status)
    end
    assert.matches("dot segment", h.invalid(client.call, client, "contacts.get-contact", { contactId = ".." }))
  end)

  it("keyset: the deprecated GET /contacts/ by startAfter + startAfterId", function()
    local n = 0
    for _ in client:each_of("contacts.get-contacts", { limit = 100 }) do n = n + 1 end
    assert.are.equal(2500, n)
  end)

  it("page: POST /opportunities/search by page", function()
    local n = 0
    for _ in client:each_of("opportunities.search-opportunities-advanced", {
      limit = 50, page = 1, query = "", searchAfter = {}, additionalDetails = {},
    }) do n = n + 1 end
    assert.are.equal(300, n)
  end)

  it("skip_limit and limit_offset", function()
    local users = 0
    for _ in client:each_of("users.search-users", { limit = 8 }) do users = users + 1 end
    assert.are.equal(30, users)
    local notes = 0
    for _ in client:each_of("calendars.get-appointment-notes",
      { appointmentId = "SeedE000000000000001", limit = 10, offset = 0 }) do notes = notes + 1 end
    assert.are.equal(25, notes)
  end)

  it("pages_of yields pages; max_items bounds a walk", function()
    local pages = 0
    for items, page in client:pages_of("conversations.get-messages", { conversationId = "ConvMock000000000001",
                                                                      limit = 40 }) do
      pages = pages + 1
      assert.is_table(page.messages)
      assert.is_true(#items <= 40)
    end
    assert.are.equal(3, pages)
    local n = 0
    for _ in client:each_of("conversations.export-messages-by-location", { limit = 50 }, { max_items = 75 }) do
      n = n + 1
    end
    assert.are.equal(75, n)
  end)

  it("raises the structured error when a page fails", function()
    local ok, err = pcall(function()
      for _ in client:each_of("contacts.get-contacts", { limit = 1000 }) do end
    end)
    assert.is_false(ok)
    assert.are.equal("http", err.kind)
    assert.are.equal(422, err.status)
  end)
end)
