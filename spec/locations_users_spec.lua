-- client.locations, client.users and client.workflows end to end.
local h = require "spec.support.helpers"

describe("locations", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv, { company_id = "CompMock000000000001" }) end)
  after_each(function() client:close() end)

  it("gets the client's location by default", function()
    assert.are.equal(srv.location_id, assert(client.locations:get()).id)
    assert.are.equal(srv.location_id, assert(client.locations:get(srv.location_id)).id)
  end)

  it("search pages by skip/limit and each stops on the short page (no total)", function()
    local items = assert(client.locations:search{ companyId = "CompMock000000000001", limit = 10 })
    assert.are.equal(10, #items)
    local n = 0
    for _ in client.locations:each{ companyId = "CompMock000000000001", limit = 10 } do n = n + 1 end
    assert.are.equal(25, n)
    assert.matches("skip=20", h.last_request(srv).uri)
  end)

  it("tags: list, get, create, update, delete", function()
    assert.are.equal(12, #assert(client.locations:list_tags()))
    local t = assert(client.locations:create_tag{ name = "ghl-new" })
    assert.are.equal(t.id, assert(client.locations:get_tag(t.id)).id)
    assert.are.equal("ghl-newer", assert(client.locations:update_tag(t.id, { name = "ghl-newer" })).name)
    assert.is_true(assert(client.locations:delete_tag(t.id)))
  end)

  it("custom fields and values", function()
    assert.are.equal(8, #assert(client.locations:list_custom_fields()))
    local f = assert(client.locations:create_custom_field{ name = "Shoe size", dataType = "NUMERICAL" })
    assert.are.equal(f.id, assert(client.locations:get_custom_field(f.id)).id)
    assert(client.locations:update_custom_field(f.id, { name = "Size" }))
    assert.is_true(assert(client.locations:delete_custom_field(f.id)))
    assert.are.equal(6, #assert(client.locations:list_custom_values()))
    local v = assert(client.locations:create_custom_value{ name = "Promo", value = "X1" })
    assert.are.equal(v.id, assert(client.locations:get_custom_value(v.id)).id)
    assert(client.locations:update_custom_value(v.id, { name = "Promo", value = "X2" }))
    assert.is_true(assert(client.locations:delete_custom_value(v.id)))
  end)

  it("templates and tasks page by skip/limit", function()
    local page = assert(client.locations:list_templates{ originId = "origin", limit = 10 })
    assert.are.equal(10, #page)
    local n = 0
    for _ in client.locations:each_template{ originId = "origin", limit = 7 } do n = n + 1 end
    assert.are.equal(30, n)
    assert.are.equal(25, #assert(client.locations:search_tasks()))
    local t = 0
    for _ in client.locations:each_task{ limit = 25 } do t = t + 1 end
    assert.are.equal(60, t)
  end)

  it("timezones", function()
    local tz = assert(client.locations:timezones())
    assert.is_table(tz)
  end)

  it("another location's id is an auth error", function()
    local v, err = client.locations:get("LocMockB0000000000002")
    assert.is_nil(v)
    assert.are.equal("auth", err.kind)
  end)
end)

describe("users", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv, { company_id = "CompMock000000000001" }) end)
  after_each(function() client:close() end)

  it("get, create, update, delete", function()
    assert.are.equal("UserMock000000000001", assert(client.users:get("UserMock000000000001")).id)
    local u = assert(client.users:create{ companyId = "CompMock000000000001", firstName = "New", lastName = "User",
      email = "new.user@example.com", password = "s3cret-Passw0rd", type = "account", role = "user",
      locationIds = { srv.location_id } })
    assert.are.equal("New", u.firstName)
    assert.are.equal("Renamed", assert(client.users:update(u.id, { firstName = "Renamed" })).firstName)
    assert.is_true(assert(client.users:delete(u.id)))
  end)

  it("search fills companyId from the client; each walks all 30", function()
    local items, resp = assert(client.users:search{ limit = 10 })
    assert.are.equal(10, #items)
    assert.are.equal(30, resp.body.count)
    assert.matches("companyId=CompMock000000000001", h.last_request(srv).uri)
    local n = 0
    for _ in client.users:each{ limit = 7 } do n = n + 1 end
    assert.are.equal(30, n)
  end)

  it("search without a company is refused before sending", function()
    local c = h.client(srv)
    local err = h.raised(c.users.search, c.users, {})
    assert.matches("companyId", err.message)
    assert.matches("company_id", err.message)
    c:close()
  end)
end)

describe("workflows", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("lists workflows and enrols and removes a contact", function()
    local client = h.client(srv)
    local wfs = assert(client.workflows:list())
    assert.are.equal(5, #wfs)
    assert.is_true(assert(client.workflows:add_contact(wfs[1].id, "SeedC000000000000004")))
    assert.matches("/contacts/SeedC000000000000004/workflow/" .. wfs[1].id, h.last_request(srv).path, 1, true)
    assert.is_true(assert(client.workflows:remove_contact(wfs[1].id, "SeedC000000000000004")))
    client:close()
  end)
end)
