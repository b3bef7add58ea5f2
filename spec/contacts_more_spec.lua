-- client.contacts beyond CRUD: search and iteration (past GHL's 10,000
-- page cap), tags, notes, tasks, followers, appointments, workflows, campaigns.
local h = require "spec.support.helpers"

local C1 = "SeedC000000000000001"
local WORKFLOW = "3f1e0000-0000-4000-a000-000000000001"
local CAMPAIGN = "CmpgMock000000000001"

describe("contacts", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  describe("search and each", function()
    it("search returns one page and the total", function()
      local items, resp = assert(client.contacts:search{ pageLimit = 25 })
      assert.are.equal(25, #items)
      assert.are.equal(2500, resp.body.total)
      assert.is_table(items[1].searchAfter)
    end)

    it("each walks every contact past the 10,000 page cap, in constant pages", function()
      h.admin(srv, "POST", "/_mock/seed?contacts=10000")
      local seen, n = {}, 0
      for c in client.contacts:each{ pageLimit = 500 } do
        assert.is_nil(seen[c.id], "contact seen twice: " .. c.id)
        seen[c.id] = true
        n = n + 1
      end
      assert.are.equal(12500, n)
      -- the first page by page, the rest by the last contact's searchAfter, never both
      local reqs = h.requests(srv)
      local cjson = require "cjson"
      local with_after = 0
      for _, r in ipairs(reqs) do
        if r.path == "/contacts/search" then
          local b = cjson.decode(r.body)
          assert.is_false(b.page ~= nil and b.searchAfter ~= nil)
          if b.searchAfter then with_after = with_after + 1 end
          assert.are.equal(500, b.pageLimit)
          assert.are.equal(srv.location_id, b.locationId)
        end
      end
      assert.are.equal(24, with_after) -- 25 pages; the total ends the walk without an empty page
    end)

    it("each filters with the search body and honours max_items", function()
      local n = 0
      for c in client.contacts:each{ query = "seed00", pageLimit = 20, max_items = 30 } do
        assert.matches("seed00", c.email)
        n = n + 1
      end
      assert.are.equal(30, n)
    end)

    it("pages yields whole pages with their total", function()
      local pages = 0
      for items, page in client.contacts:pages{ pageLimit = 500 } do
        pages = pages + 1
        assert.are.equal(2500, page.total)
        assert.is_true(#items <= 500)
      end
      assert.are.equal(5, pages)
    end)

    it("raises the structured error when a page fails, instead of stopping", function()
      local it = client.contacts:each{ pageLimit = 501 } -- over GHL's cap: 422
      local ok, err = pcall(it)
      assert.is_false(ok)
      assert.are.equal("http", err.kind)
      assert.are.equal(422, err.status)
    end)
  end)

  it("adds and removes tags", function()
    local tags = assert(client.contacts:add_tags(C1, { "ghl-a", "ghl-b" }))
    assert.is_truthy(tostring(table.concat(tags, ",")):find("ghl%-a"))
    assert(client.contacts:remove_tags(C1, { "ghl-a" }))
    local c = assert(client.contacts:get(C1))
    local has = {}
    for _, t in ipairs(c.tags) do has[t] = true end
    assert.is_true(has["ghl-b"])
    assert.is_nil(has["ghl-a"])
  end)

  it("creates, lists, reads, updates and deletes notes", function()
    local note = assert(client.contacts:create_note(C1, { body = "called, no answer" }))
    assert.are.equal("called, no answer", note.body)
    local notes = assert(client.contacts:list_notes(C1))
    local found = false
    for _, n in ipairs(notes) do found = found or n.id == note.id end
    assert.is_true(found)
    assert.are.equal(note.id, assert(client.contacts:get_note(C1, note.id)).id)
    assert.are.equal("call back", assert(client.contacts:update_note(C1, note.id, { body = "call back" })).body)
    assert.is_true(assert(client.contacts:delete_note(C1, note.id)))
    local gone, err = client.contacts:get_note(C1, note.id)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
  end)

  it("creates, lists, reads, updates, completes and deletes tasks", function()
    local task = assert(client.contacts:create_task(C1, { title = "Follow up", dueDate = "2030-01-01T10:00:00Z",
                                                          completed = false }))
    assert.are.equal("Follow up", task.title)
    assert.is_table(assert(client.contacts:list_tasks(C1)))
    assert.are.equal(task.id, assert(client.contacts:get_task(C1, task.id)).id)
    assert.are.equal("Call", assert(client.contacts:update_task(C1, task.id, { title = "Call" })).title)
    assert.is_true(assert(client.contacts:complete_task(C1, task.id)).completed)
    assert.is_false(assert(client.contacts:complete_task(C1, task.id, false)).completed)
    assert.is_true(assert(client.contacts:delete_task(C1, task.id)))
  end)

  it("adds and removes followers", function()
    local f = assert(client.contacts:add_followers(C1, { "UserMock000000000001" }))
    assert.is_table(f)
    assert(client.contacts:remove_followers(C1, { "UserMock000000000001" }))
  end)

  it("lists a contact's appointments", function()
    local events = assert(client.contacts:list_appointments(C1))
    assert.is_true(#events >= 1)
    assert.are.equal(C1, events[1].contactId)
  end)

  it("adds to and removes from a workflow and campaigns", function()
    assert.is_true(assert(client.contacts:add_to_workflow(C1, WORKFLOW)))
    assert.is_true(assert(client.contacts:add_to_workflow(C1, WORKFLOW, { eventStartTime = "2030-01-01T10:00:00Z" })))
    assert.is_true(assert(client.contacts:remove_from_workflow(C1, WORKFLOW)))
    local v, err = client.contacts:add_to_workflow(C1, "no-such-workflow")
    assert.is_nil(v)
    assert.are.equal(404, err.status)
    assert.is_true(assert(client.contacts:add_to_campaign(C1, CAMPAIGN)))
    assert.is_true(assert(client.contacts:remove_from_campaign(C1, CAMPAIGN)))
    assert.is_true(assert(client.contacts:remove_from_all_campaigns(C1)))
  end)

  it("names the argument on misuse", function()
    local err = h.raised(client.contacts.add_tags, client.contacts, C1, "vip")
    assert.matches("contacts:add_tags: tags must be a table", err.message)
    err = h.raised(client.contacts.get_note, client.contacts, C1, "")
    assert.matches("contacts:get_note: id must be a non%-empty string", err.message)
  end)
end)
