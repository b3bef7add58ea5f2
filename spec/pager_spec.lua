-- The C pagers, one per paging style: pure, fed with decoded pages.
local core = require "ghl.core"

local function ids(n, from)
  local t = {}
  for i = 1, n do t[i] = { id = "id" .. (from + i - 1) } end
  return t
end

describe("pagers", function()
  it("skip_limit: advances skip by the page size and stops on a short page", function()
    local p = core.pager{ style = "skip_limit", items = "locations" }
    local params = p:first{ limit = 2, companyId = "c" }
    local items, nxt = p:next(params, { locations = ids(2, 1) })
    assert.are.equal(2, #items)
    assert.are.same({ limit = 2, companyId = "c", skip = 2 }, nxt)
    items, nxt = p:next(nxt, { locations = ids(1, 3) })
    assert.are.equal(1, #items)
    assert.is_nil(nxt)
  end)

  it("skip_limit: reads skip and limit given as strings", function()
    local p = core.pager{ style = "skip_limit", items = "users" }
    local _, nxt = p:next({ skip = "10", limit = "2" }, { users = ids(2, 1) })
    assert.are.equal(12, nxt.skip)
  end)

  it("limit_offset: follows hasMore", function()
    local p = core.pager{ style = "limit_offset", items = "notes" }
    local _, nxt = p:next({ limit = 2, offset = 0 }, { notes = ids(2, 1), hasMore = true })
    assert.are.equal(2, nxt.offset)
    local items, last = p:next(nxt, { notes = ids(2, 3), hasMore = false })
    assert.are.equal(2, #items)
    assert.is_nil(last)
  end)

  it("page: counts pages and stops at the total", function()
    local p = core.pager{ style = "page", items = "opportunities" }
    local _, nxt = p:next({ limit = 2 }, { opportunities = ids(2, 1), total = 4 })
    assert.are.equal(2, nxt.page)
    local _, last = p:next(nxt, { opportunities = ids(2, 3), total = 4 })
    assert.is_nil(last)
  end)

  it("search_after: takes the last item's searchAfter and drops page", function()
    local p = core.pager{ style = "search_after", items = "contacts", limit_key = "pageLimit" }
    local params = p:first{ pageLimit = 2, page = 1, locationId = "L" }
    local page = { contacts = { { id = "a", searchAfter = { 1, "a" } }, { id = "b", searchAfter = { 2, "b" } } } }
    local _, nxt = p:next(params, page)
    assert.are.same({ 2, "b" }, nxt.searchAfter)
    assert.is_nil(nxt.page)
    assert.are.equal("L", nxt.locationId)
  end)

  it("search_after: first() never sends page with a searchAfter", function()
    local p = core.pager{ style = "search_after", items = "contacts" }
    assert.is_nil(p:first{ page = 3, searchAfter = { 1, "x" } }.page)
  end)

  it("keyset: meta.startAfter + meta.startAfterId, ignoring nextPageUrl", function()
    local p = core.pager{ style = "keyset", items = "opportunities" }
    local page = { opportunities = ids(2, 1),
                   meta = { startAfter = 1700000000000, startAfterId = "id2",
                            nextPageUrl = "http://localhost:5066/opportunities/search?x" } }
    local _, nxt = p:next({ limit = 2, location_id = "L" }, page)
    assert.are.same({ limit = 2, location_id = "L", startAfter = 1700000000000, startAfterId = "id2" }, nxt)
    local _, last = p:next(nxt, { opportunities = ids(2, 3), meta = { startAfterId = core.null } })
    assert.is_nil(last)
  end)

  it("last_id: reads the documented and the double-wrapped answer (lastMessageId)", function()
    local p = core.pager{ style = "last_id", items = "messages" }
    local items, nxt = p:next({}, { messages = { messages = ids(3, 1), lastMessageId = "id3", nextPage = true } })
    assert.are.equal(3, #items)
    assert.are.equal("id3", nxt.lastMessageId)
    local p2 = core.pager{ style = "last_id", items = "messages" }
    local items2, nxt2 = p2:next({}, { messages = ids(2, 1), lastMessageId = "id2", nextPage = false })
    assert.are.equal(2, #items2)
    assert.is_nil(nxt2)
  end)

  it("start_after_date: the sort value of the last conversation", function()
    local p = core.pager{ style = "start_after_date", items = "conversations" }
    local page = { conversations = { { id = "a", sort = { 500 } }, { id = "b", lastMessageDate = 400 } }, total = 9 }
    local _, nxt = p:next({ limit = 2 }, page)
    assert.are.equal(400, nxt.startAfterDate)
  end)

  it("cursor: nextCursor until null", function()
    local p = core.pager{ style = "cursor", items = "messages" }
    local _, nxt = p:next({ limit = 2 }, { messages = ids(2, 1), nextCursor = "abc" })
    assert.are.equal("abc", nxt.cursor)
    local _, last = p:next(nxt, { messages = ids(2, 3), nextCursor = core.null })
    assert.is_nil(last)
  end)

  it("reads bare-array pages and finds an unnamed items field", function()
    local p = core.pager{ style = "skip_limit", items = "[]" }
    local items = p:next({ limit = 5 }, ids(3, 1))
    assert.are.equal(3, #items)
    local p2 = core.pager{ style = "skip_limit" }
    local items2 = p2:next({ limit = 5 }, { funnels = ids(2, 1), count = 2 })
    assert.are.equal(2, #items2)
  end)

  it("treats a missing or null items field as an empty last page", function()
    local p = core.pager{ style = "skip_limit", items = "users" }
    local items, nxt = p:next({ limit = 5 }, { count = 0 })
    assert.are.same({}, items)
    assert.is_nil(nxt)
  end)

  describe("the styles of the other services", function()
    it("last_id: the cursor under its own name, in the items' container, until hasMore is false", function()
      local p = core.pager{ style = "last_id", items = "data.knowledgeBases", cursor_key = "lastKnowledgeBaseId" }
      local page = { success = true, data = { knowledgeBases = ids(2, 1), hasMore = true, lastKnowledgeBaseId = "id2" } }
      local _, nxt = p:next({ limit = 2 }, page)
      assert.are.same({ limit = 2, lastKnowledgeBaseId = "id2" }, nxt)
      local items, last = p:next(nxt, { data = { knowledgeBases = ids(2, 3), hasMore = false, lastKnowledgeBaseId = "id4" } })
      assert.are.equal(2, #items)
      assert.is_nil(last) -- a nested end flag: no request for an empty page
    end)

    it("after_item: the last item's id (startAfter, lastDoc)", function()
      local p = core.pager{ style = "after_item", items = "agents" }
      local _, nxt = p:next({ limit = 2 }, { agents = ids(2, 1), totalCount = 5 })
      assert.are.equal("id2", nxt.startAfter)
      local p2 = core.pager{ style = "after_item", items = "data", cursor_key = "lastDoc" }
      local _, nxt2 = p2:next({ limit = "2", lastDoc = "" }, { data = { { _id = "x1" }, { _id = "x2" } } })
      assert.are.equal("x2", nxt2.lastDoc)
      local _, err = core.pager{ style = "after_item", items = "data" }:next({ limit = 1 }, { data = { { name = "n" } } })
      assert.matches("no id to continue after", err.message)
    end)

    it("page: from the spec's first page (0), with pageSize, until pagination.hasNext or totalPages says so", function()
      local p = core.pager{ style = "page", items = "numbers", size_key = "pageSize", first_page = 0 }
      local _, nxt = p:next(p:first{ pageSize = 2 }, { numbers = ids(2, 1), page = 0 })
      assert.are.equal(1, nxt.page)
      local p2 = core.pager{ style = "page", items = "locations" }
      local _, a = p2:next({ page = 1 }, { locations = ids(3, 1), pagination = { hasNext = true, totalPages = 3 } })
      assert.are.equal(2, a.page)
      local _, b = p2:next(a, { locations = ids(3, 4), pagination = { hasNext = false, totalPages = 3 } })
      assert.is_nil(b)
      local p3 = core.pager{ style = "page", items = "locations" }
      local _, c = p3:next({ page = 3 }, { locations = ids(3, 7), pagination = { totalPages = 3 } })
      assert.is_nil(c, "page 3 of 3 is the last")
      local p4 = core.pager{ style = "page", items = "submissions" }
      local _, d = p4:next({ limit = 2 }, { submissions = ids(2, 1), meta = { nextPage = core.null, total = 9 } })
      assert.is_nil(d, "meta.nextPage null ends the walk")
    end)

    it("sends a cursor the spec types a string as a string", function()
      local p = core.pager{ style = "skip_limit", items = "users", cursor_string = true }
      local _, nxt = p:next({ skip = "0", limit = "2" }, { users = ids(2, 1) })
      assert.are.equal("2", nxt.skip)
      local q = core.pager{ style = "skip_limit", items = "users" }
      local _, n2 = q:next({ limit = 2 }, { users = ids(2, 1) })
      assert.are.equal(math.type and "integer" or "number", math.type and math.type(n2.skip) or type(n2.skip))
    end)

    it("start_after_date: the field sortBy sorts on when the items carry no sort", function()
      local page = { conversations = { { id = "a", lastMessageDate = 9, lastManualMessageDate = 5 },
                                       { id = "b", lastMessageDate = 8, lastManualMessageDate = 4 } } }
      local p = core.pager{ style = "start_after_date", items = "conversations" }
      local _, nxt = p:next({ limit = 2, sortBy = "last_manual_message_date" }, page)
      assert.are.equal(4, nxt.startAfterDate)
      local _, dflt = core.pager{ style = "start_after_date", items = "conversations" }:next({ limit = 2 }, page)
      assert.are.equal(8, dflt.startAfterDate)
      local _, err = core.pager{ style = "start_after_date", items = "conversations" }
        :next({ limit = 2, sortBy = "score_profile" }, page)
      assert.matches("no sort value", err.message)
      assert.matches("score_profile", err.message)
    end)
  end)

  describe("items paths", function()
    it("walks items under a path, and the spec's wrappers around them", function()
      local p = core.pager{ style = "skip_limit", items = "results.tags" }
      local items, nxt = p:next({ limit = 2 }, { success = true, results = { tags = ids(2, 1), count = 2 } })
      assert.are.equal(2, #items)
      assert.are.equal(2, nxt.skip)
      local q = core.pager{ style = "limit_offset", items = "data.data" }
      assert.are.equal(3, #q:next({ limit = 5 }, { data = { data = ids(3, 1), count = 3 } }))
    end)

    it("a path that leads nowhere while the page holds a list is an error, not an empty walk", function()
      local p = core.pager{ style = "skip_limit", items = "results.tag" }
      local items, err = p:next({ limit = 2 }, { results = { tags = ids(2, 1) } })
      assert.is_nil(items)
      assert.are.equal("decode", err.kind)
      assert.matches("no 'results.tag' but holds a list", err.message)
      local q = core.pager{ style = "skip_limit", items = "results.tags" }
      local _, err2 = q:next({ limit = 2 }, { results = { tags = "x" } })
      assert.matches("not an array", err2.message)
    end)

    it("'*': the page's one list, an empty page when there is none, an error when there are two", function()
      local p = core.pager{ style = "skip_limit", items = "*" }
      assert.are.equal(2, #p:next({ limit = 5 }, { funnels = ids(2, 1), count = 2 }))
      local items, nxt = core.pager{ style = "skip_limit", items = "*" }:next({ limit = 5 }, { count = 0 })
      assert.are.same({}, items)
      assert.is_nil(nxt)
      local _, err = core.pager{ style = "skip_limit", items = "*" }:next({ limit = 5 }, { a = ids(1, 1), b = ids(1, 2) })
      assert.matches("cannot tell which field", err.message)
    end)
  end)

  describe("guards", function()
    it("a repeated cursor is an error, never a loop", function()
      local p = core.pager{ style = "keyset", items = "contacts" }
      local items, err = p:next({ startAfterId = "x", startAfter = 1, limit = 1 },
        { contacts = ids(1, 1), meta = { startAfterId = "x", startAfter = 1 } })
      assert.is_nil(items)
      assert.are.equal("decode", err.kind)
      assert.matches("same cursor twice", err.message)
    end)

    it("the same page twice is an error", function()
      local p = core.pager{ style = "skip_limit", items = "users" }
      local _, nxt = p:next({ limit = 2 }, { users = ids(2, 1) })
      local items, err = p:next(nxt, { users = ids(2, 1) })
      assert.is_nil(items)
      assert.matches("same page twice", err.message)
    end)

    it("max_items cuts the page and ends", function()
      local p = core.pager{ style = "skip_limit", items = "users", max_items = 3 }
      local _, nxt = p:next({ limit = 2 }, { users = ids(2, 1) })
      local items, last = p:next(nxt, { users = ids(2, 3) })
      assert.are.equal(1, #items)
      assert.is_nil(last)
    end)

    it("max_pages ends after that many pages", function()
      local p = core.pager{ style = "skip_limit", items = "users", max_pages = 1 }
      local items, nxt = p:next({ limit = 2 }, { users = ids(2, 1) })
      assert.are.equal(2, #items)
      assert.is_nil(nxt)
    end)

    it("a page that is not what the style expects is a decode error", function()
      local p = core.pager{ style = "skip_limit", items = "users" }
      local items, err = p:next({}, { users = "oops" })
      assert.is_nil(items)
      assert.are.equal("decode", err.kind)
      local p2 = core.pager{ style = "search_after", items = "contacts" }
      local _, err2 = p2:next({ pageLimit = 1 }, { contacts = { { id = "a" } } })
      assert.matches("searchAfter", err2.message)
    end)

    it("refuses an unknown style or bad bounds at creation", function()
      assert.has_error(function() core.pager{ style = "telepathy" } end)
      assert.has_error(function() core.pager{ style = "cursor", max_items = 0 } end)
    end)

    it("is done after the end", function()
      local p = core.pager{ style = "cursor", items = "messages" }
      p:next({}, { messages = {}, nextCursor = core.null })
      local items, err = p:next({}, { messages = {} })
      assert.is_nil(items)
      assert.matches("already reached the end", err.message)
    end)
  end)

  describe("a hostile page", function()
    local function nested(depth, leaf)
      local v = leaf
      for _ = 1, depth do v = { v } end
      return v
    end

    for _, depth in ipairs{ 17, 100, 1000, 5000 } do
      it(("refuses an item id nested %d deep, without touching memory it does not own"):format(depth), function()
        local p = core.pager{ style = "skip_limit", items = "locations" }
        local items, err = p:next({ limit = 2 }, { locations = { { id = nested(depth, "x") }, { id = "y" } } })
        assert.is_nil(items)
        assert.are.equal("decode", err.kind)
        assert.matches("nested more than 16 levels", err.message)
      end)

      it(("refuses a searchAfter nested %d deep"):format(depth), function()
        local p = core.pager{ style = "search_after", items = "contacts", limit_key = "pageLimit" }
        local page = { contacts = { { id = "a", searchAfter = { 1, "a" } },
                                    { id = "b", searchAfter = nested(depth, 2) } } }
        local items, err = p:next({ pageLimit = 2 }, page)
        assert.is_nil(items)
        assert.matches("nested more than 16 levels", err.message)
      end)
    end

    it("still takes flat and shallow cursors", function()
      local p = core.pager{ style = "search_after", items = "contacts", limit_key = "pageLimit" }
      local page = { contacts = { { id = "a", searchAfter = { 1, "a" } },
                                  { id = nested(16, "b"), searchAfter = nested(15, 2) } } }
      local items, nxt = p:next({ pageLimit = 2 }, page)
      assert.are.equal(2, #items)
      assert.are.same(nested(15, 2), nxt.searchAfter)
    end)
  end)
end)

describe("a hostile page from the server", function()
  local h = require "spec.support.helpers"
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("ends the walk with a decode error, whatever the depth", function()
    local c = h.client(srv)
    for _, depth in ipairs{ 20, 900 } do
      h.fault(srv, "POST", "/contacts/search", "deep_page=" .. depth, 1)
      local err = h.raised(function()
        for _ in c.contacts:each{ pageLimit = 2 } do end
      end)
      assert.are.equal("decode", err.kind)
      assert.matches("nested more than 16 levels", err.message)
    end
    c:close()
  end)
end)

