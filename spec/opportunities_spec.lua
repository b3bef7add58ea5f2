-- client.opportunities end to end: CRUD, status, upsert, pipelines,
-- followers, search and keyset iteration.
local h = require "spec.support.helpers"

local PIPE = "PipeMock000000000001"

describe("opportunities", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  it("creates, reads, updates, sets status and deletes", function()
    local contact = assert(client.contacts:create{ firstName = "Deal", email = "deal@example.com" })
    local o = assert(client.opportunities:create{ pipelineId = PIPE, name = "Big deal", status = "open",
                                                  contactId = contact.id, monetaryValue = 1000 })
    assert.are.equal("Big deal", o.name)
    assert.are.equal(o.id, assert(client.opportunities:get(o.id)).id)
    assert.are.equal(2000, assert(client.opportunities:update(o.id, { monetaryValue = 2000 })).monetaryValue)
    assert.is_true(assert(client.opportunities:update_status(o.id, "won")))
    assert.are.equal("won", assert(client.opportunities:get(o.id)).status)
    assert.is_true(assert(client.opportunities:delete(o.id)))
    local gone, err = client.opportunities:get(o.id)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
  end)

  it("upserts", function()
    local contact = assert(client.contacts:create{ firstName = "Up", email = "up@example.com" })
    local a, r1 = assert(client.opportunities:upsert{ pipelineId = PIPE, contactId = contact.id, name = "U",
                                                      status = "open" })
    assert.is_true(r1.body.new)
    local b, r2 = assert(client.opportunities:upsert{ pipelineId = PIPE, contactId = contact.id, name = "U2",
                                                      status = "open" })
    assert.is_false(r2.body.new)
    assert.are.equal(a.id, b.id)
  end)

  it("lists pipelines with their stages", function()
    local pipes = assert(client.opportunities:pipelines())
    assert.are.equal(2, #pipes)
    assert.is_true(#pipes[1].stages >= 4)
  end)

  it("adds and removes followers", function()
    local id = "SeedO000000000000001"
    assert(client.opportunities:add_followers(id, { "UserMock000000000002" }))
    assert(client.opportunities:remove_followers(id, { "UserMock000000000002" }))
  end)

  it("search returns one page with meta; snake_case query passes through", function()
    local items, resp = assert(client.opportunities:search{ pipeline_id = PIPE, limit = 10 })
    assert.are.equal(10, #items)
    assert.are.equal(200, resp.body.meta.total)
    for _, o in ipairs(items) do assert.are.equal(PIPE, o.pipelineId) end
    assert.matches("location_id=" .. srv.location_id, h.last_request(srv).uri)
  end)

  it("each walks all 300 by startAfter/startAfterId, never nextPageUrl", function()
    local seen, n = {}, 0
    for o in client.opportunities:each{ limit = 100 } do
      assert.is_nil(seen[o.id])
      seen[o.id] = true
      n = n + 1
    end
    assert.are.equal(300, n)
    for _, r in ipairs(h.requests(srv)) do
      assert.is_nil(r.uri:find("5066", 1, true))
    end
    local reqs = h.requests(srv)
    assert.matches("startAfterId=", reqs[#reqs].uri)
  end)

  it("each with a filter and max_pages", function()
    local n = 0
    for o in client.opportunities:each{ status = "open", limit = 10, max_pages = 2 } do
      assert.are.equal("open", o.status)
      n = n + 1
    end
    assert.are.equal(20, n)
  end)
end)
