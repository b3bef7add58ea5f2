-- pages{...} of every resource that pages: whole pages with their answer.
local h = require "spec.support.helpers"

describe("pages", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)
  local client
  before_each(function() client = h.client(srv, { company_id = "CompMock000000000001" }) end)
  after_each(function() client:close() end)

  local function count(it)
    local pages, items = 0, 0
    for list, page in it do
      assert.is_table(page)
      pages, items = pages + 1, items + #list
    end
    return pages, items
  end

  it("opportunities:pages (keyset)", function()
    local pages, items = count(client.opportunities:pages{ limit = 100 })
    assert.are.same({ 3, 300 }, { pages, items })
  end)

  it("conversations:pages (startAfterDate)", function()
    local pages, items = count(client.conversations:pages{ limit = 4 })
    assert.are.same({ 2, 6 }, { pages, items })
  end)

  it("locations:pages (skip/limit, no total)", function()
    local pages, items = count(client.locations:pages{ companyId = "CompMock000000000001", limit = 10 })
    assert.are.same({ 3, 25 }, { pages, items })
  end)

  it("users:pages (skip/limit)", function()
    local pages, items = count(client.users:pages{ limit = 10 })
    assert.are.same({ 3, 30 }, { pages, items })
  end)
end)
