-- Incremental export: ghl.export (what changed since a time or the last run, with a state
-- file), the resources' changed_since, and `ghl contacts export --since/--state` run as a
-- subprocess, against the local GHL server: what a run reads, how many requests it sends,
-- and that a run stopped anywhere (an error on page 3, SIGKILL) resumes without losing or
-- repeating a record.
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"
local socket = require "socket"
local ghl = require "ghl"
local export = require "ghl.export"

local ghl_cli = require "spec.support.ghl_cli"
local q, read, capture, sh = sys.q, sys.read, sys.capture, sys.sh

local function decode(text) return require("cjson").decode(text) end

-- the requests the server got since the index `from` (1: since the reset) to `path`
local function requests_to(srv, path, from)
  local n = 0
  for i, r in ipairs(h.requests(srv)) do
    if i >= (from or 1) and r.path == path then n = n + 1 end
  end
  return n
end

local function count_of(list)
  local n = 0
  for _ in pairs(list) do n = n + 1 end
  return n
end

-- queue a fault for a path's requests after the first `skip` of them went through
local function fault_after(srv, method, path, fault, skip, times)
  h.admin(srv, "POST", "/_mock/faults", { method = method, path = path, fault = fault, skip = skip, times = times or 1 })
end

describe("ghl.export times", function()
  it("reads ISO 8601 as GHL writes it, with offsets, dates alone and no zone (UTC)", function()
    assert.are.equal(1751345981427, export.parse_iso("2025-07-01T04:59:41.427Z"))
    assert.are.equal(1751345981427, export.parse_iso("2025-07-01T10:29:41.427+05:30"))
    assert.are.equal(1751345981427, export.parse_iso("2025-06-30T20:59:41.427-0800"))
    assert.are.equal(1751345981000, export.parse_iso("2025-07-01T04:59:41"))
    assert.are.equal(1751345981427, export.parse_iso("2025-07-01T04:59:41.427981Z")) -- microseconds: dropped
    assert.are.equal(1751328000000, export.parse_iso("2025-07-01"))
    assert.are.equal(1751345940000, export.parse_iso("2025-07-01 04:59Z"))
    for _, bad in ipairs{ "2025-13-01", "2025-02-30", "2025-07-01T25:00:00Z", "2025-07-01T04:59:41+5", "yesterday", "" } do
      assert.is_nil(export.parse_iso(bad), bad)
    end
    assert.are.equal("2025-07-01T04:59:41.427Z", export.iso(1751345981427))
    assert.are.equal("1970-01-01T00:00:00.000Z", export.iso(0))
    assert.are.equal("2024-02-29T23:59:59.999Z", export.iso(export.parse_iso("2024-02-29T23:59:59.999Z")))
  end)

  it("takes epoch seconds or ms (numbers or digits), durations back from now, and says what it takes", function()
    local now = 1796000000000
    assert.are.equal(1767225600000, export.time(1767225600, now))     -- seconds (below 1e11)
    assert.are.equal(1767225600000, export.time(1767225600000, now))  -- milliseconds
    assert.are.equal(1767225600000, export.time("1767225600", now))
    assert.are.equal(now - 86400000, export.time("24h", now))
    assert.are.equal(now - 5400000, export.time("1h30m", now))
    assert.are.equal(now - 7 * 86400000, export.time("7d", now))
    assert.are.equal(now - 500, export.time("500ms", now))
    assert.are.equal(1751328000000, export.time("2025-07-01", now))
    assert.are.equal(300000, export.duration("5m"))
    assert.are.equal(0, export.duration("0"))
    assert.is_nil(export.duration("5 min"))
    local v, why = export.time("24hr", now)
    assert.is_nil(v)
    assert.matches("'24hr' is not a time: ISO 8601", why, 1, true)
    assert.is_nil((export.time(-1)))
    assert.is_nil((export.time({})))
  end)
end)

describe("ghl.export", function()
  local srv = h.server()
  local dir
  setup(function()
    srv.start()
    dir = h.private_dir()
  end)
  teardown(function()
    srv.stop()
    if dir then sh("rm -rf " .. q(dir)) end
  end)
  before_each(function()
    srv.reset()
    -- this file sends thousands of requests from one process: GHL's 100 per 10 s would pace it
    h.rate_limit(srv, { max = 1000000, daily = 1000000000 })
  end)

  local n_state = 0
  local function new_state()
    n_state = n_state + 1
    return ("%s/state-%d.json"):format(dir, n_state)
  end

  -- runs an export to its end: the ids written in order, and the export
  local function run(client, opts)
    opts.client = client
    local ex = assert(ghl.export(opts))
    local ids = {}
    for rec in ex:each() do ids[#ids + 1] = rec.id end
    return ids, ex
  end

  local function set_of(ids)
    local s = {}
    for _, id in ipairs(ids) do
      assert.is_nil(s[id], id .. " written twice")
      s[id] = true
    end
    return s
  end

  describe("contacts", function()
    it("a first run writes all and the state; then exactly what changed; then one request and nothing", function()
      local client = h.client(srv)
      local path = new_state()
      local ids, ex = run(client, { resource = "contacts", state = path })
      assert.are.equal(2500, count_of(set_of(ids)))
      assert.is_true(ex:info().first_run)
      local st = decode(read(path))
      assert.are.equal(1, st.ghl_export)
      assert.are.equal("contacts", st.resource)
      assert.are.equal(2500, st.exported)
      assert.is_number(st.lower)

      local changed = { "SeedC000000000000005", "SeedC000000000001200", "SeedC000000000002499" }
      for _, id in ipairs(changed) do assert(client.contacts:update(id, { firstName = "Changed" })) end
      local before = #h.requests(srv) + 1
      ids, ex = run(client, { resource = "contacts", state = path })
      table.sort(ids)
      assert.are.same(changed, ids)
      assert.is_false(ex:info().first_run)
      assert.are.equal(1, requests_to(srv, "/contacts/search", before))
      -- the request is GHL's dateUpdated range filter, sorted by dateUpdated
      local body = decode(h.last_request(srv).body)
      assert.are.same({ { field = "dateUpdated", direction = "asc" } }, body.sort)
      assert.are.equal("dateUpdated", body.filters[1].field)
      assert.are.equal("range", body.filters[1].operator)
      assert.are.equal(export.iso(st.lower), body.filters[1].value.gte)
      assert.are.equal(500, body.pageLimit)

      -- nothing new: one request; the three changes are read again (the overlap) and dropped
      before = #h.requests(srv) + 1
      ids, ex = run(client, { resource = "contacts", state = path })
      assert.are.same({}, ids)
      assert.are.equal(1, requests_to(srv, "/contacts/search", before))
      assert.are.equal(1, ex:info().requests)
      assert.are.equal(3, ex:info().skipped)
      assert.are.equal(2503, decode(read(path)).exported)
      client:close()
    end)

    it("with no state: changed_since and ghl.export{since=} read what changed since then", function()
      local client = h.client(srv)
      local t0 = os.time() - 2
      assert(client.contacts:update("SeedC000000000000010", { lastName = "Since" }))
      local ids = {}
      for c in client.contacts:changed_since(t0) do ids[#ids + 1] = c.id end
      assert.are.same({ "SeedC000000000000010" }, ids)
      ids = run(client, { resource = "contacts", since = "10m" })
      assert.are.same({ "SeedC000000000000010" }, ids)
      -- narrowed: the search's own filters and query are ANDed with the export's
      ids = {}
      for c in client.contacts:changed_since("10m", { query = "nobody-at-all" }) do ids[#ids + 1] = c.id end
      assert.are.same({}, ids)
      local err = h.invalid(function() client.contacts:changed_since(nil) end)
      assert.matches("since is required", err, 1, true)
      err = h.invalid(function() client.contacts:changed_since("24hr") end)
      assert.matches("'24hr' is not a time", err, 1, true)
      err = h.invalid(function() ghl.export{ client = client, resource = "contacts", params = { sort = {} } } end)
      assert.matches("params.sort is set by the export itself", err, 1, true)
      err = h.invalid(function() ghl.export{ client = client, resource = "users" } end)
      assert.matches("resource must be contacts, opportunities or conversations", err, 1, true)
      err = h.invalid(function() ghl.export{ client = client, resource = "contacts", field = "dateAdded" } end)
      assert.matches("contacts are followed by dateUpdated, not 'dateAdded'", err, 1, true)
      err = h.invalid(function() ghl.export{ client = client, resource = "contacts", page_size = 501 } end)
      assert.matches("page_size must be a whole number from 1 to 500", err, 1, true)
      err = h.invalid(function() ghl.export{ client = client, resource = "contacts", stat = "x" } end)
      assert.matches("unknown option 'stat'", err, 1, true)
      client:close()
    end)

    it("equal dateUpdated at a page boundary: each contact once, and once across a resume", function()
      local client = h.client(srv)
      -- a dateUpdated two seeded contacts share
      local by, tie = {}, nil
      for c in client.contacts:each{ pageLimit = 500 } do
        by[c.dateUpdated] = (by[c.dateUpdated] or 0) + 1
        if by[c.dateUpdated] == 2 and (not tie or c.dateUpdated > tie) then tie = c.dateUpdated end
      end
      assert.is_string(tie, "the seed has no two contacts with one dateUpdated")
      -- only that millisecond, one contact a page: the boundary falls inside the tie
      local only = { filters = { { field = "dateUpdated", operator = "range", value = { lte = tie } } } }
      local ids, ex = run(client, { resource = "contacts", since = tie, params = only, page_size = 1 })
      assert.are.equal(2, count_of(set_of(ids)))
      assert.are.equal(3, ex:info().requests) -- two full pages, then an empty one
      -- stopped after the first page, then resumed from the state: the second one, not the first again
      local path = new_state()
      ex = assert(ghl.export{ client = client, resource = "contacts", since = tie, params = only, page_size = 1,
                              state = path, overlap = 0 })
      local first = assert(ex:next_page())
      assert.are.equal(1, #first)
      assert(ex:commit())
      ex:close()
      local rest = run(client, { resource = "contacts", since = tie, params = only, page_size = 1, state = path,
                                 overlap = 0 })
      assert.are.equal(1, #rest)
      assert.are_not.equal(first[1].id, rest[1])
      client:close()
    end)

    it("a contact changed during the export is written again at its new place; nothing is lost", function()
      local client = h.client(srv)
      local path = new_state()
      local ex = assert(ghl.export{ client = client, resource = "contacts", state = path })
      local seen, latest, n = {}, {}, 0
      local early, late
      for page in ex:pages() do
        n = n + 1
        for _, c in ipairs(page) do
          seen[c.id] = (seen[c.id] or 0) + 1
          latest[c.id] = c.dateUpdated
        end
        assert(ex:commit())
        if n == 1 then
          -- one already written, one the walk has not reached yet
          early, late = page[1].id, nil
          for c in client.contacts:each{ pageLimit = 500 } do
            if not seen[c.id] then late = c.id end
          end
          assert(client.contacts:update(early, { firstName = "Again" }))
          assert(client.contacts:update(late, { firstName = "Moved" }))
        end
      end
      assert.are.equal(2500, count_of(seen))
      assert.are.equal(2, seen[early]) -- its old version, then its new one
      assert.are.equal(1, seen[late])  -- read once, at its new place
      assert.are.equal(assert(client.contacts:get(early)).dateUpdated, latest[early])
      assert.are.equal(assert(client.contacts:get(late)).dateUpdated, latest[late])
      -- and the next run has nothing new
      local ids = run(client, { resource = "contacts", state = path })
      assert.are.same({}, ids)
      client:close()
    end)

    it("an error on page 3 leaves the state at page 2; the rerun resumes without a loss or a repeat", function()
      local client = h.client(srv)
      local path = new_state()
      fault_after(srv, "POST", "/contacts/search", "status=400", 2)
      local ex = assert(ghl.export{ client = client, resource = "contacts", state = path, page_size = 500 })
      local got = {}
      local ok, err = pcall(function()
        for c in ex:each() do got[#got + 1] = c.id end
      end)
      assert.is_false(ok)
      assert.are.equal("http", err.kind)
      assert.are.equal(400, err.status)
      assert.are.equal(1000, #got)
      assert.are.equal(1000, decode(read(path)).exported)
      local rest, again = run(client, { resource = "contacts", state = path })
      assert.are.equal(1500, #rest)
      for _, id in ipairs(rest) do got[#got + 1] = id end
      assert.are.equal(2500, count_of(set_of(got)))
      assert.are.equal(2500, decode(read(path)).exported)
      assert.is_false(again:info().first_run)
      client:close()
    end)

    it("one export at a time on a state file: a second one is refused until the first is closed", function()
      local client = h.client(srv)
      local path = new_state()
      local first = assert(ghl.export{ client = client, resource = "contacts", state = path })
      local second, err = ghl.export{ client = client, resource = "contacts", state = path }
      assert.is_nil(second)
      assert.are.equal("state", err.kind)
      assert.matches("is in use by another export (it holds " .. path .. ".lock)", err.message, 1, true)
      first:close()
      first:close()
      second = assert(ghl.export{ client = client, resource = "contacts", state = path })
      for _ in second:each() do end -- the end of each lets go too
      assert(ghl.export{ client = client, resource = "contacts", state = path }):close()
      client:close()
    end)

    it("the state is written only by commit, and only when it changed", function()
      local client = h.client(srv)
      local path = new_state()
      local ex = assert(ghl.export{ client = client, resource = "contacts", state = path, page_size = 500 })
      assert(ex:next_page())
      assert.is_nil(read(path)) -- read, not committed: no state yet
      assert(ex:commit())
      local text = read(path)
      assert.are.equal(500, decode(text).exported)
      assert(ex:commit())
      assert.are.equal(text, read(path))
      local mode = capture("stat -c %a " .. q(path)):gsub("%s+$", "")
      assert.are.equal("600", mode)
      client:close()
    end)

    it("refuses a state file that is not one, or that of another resource, location or narrowing", function()
      local client = h.client(srv)
      local path = new_state()
      run(client, { resource = "contacts", state = path, params = { query = "seed00" } })
      local ex, err = ghl.export{ client = client, resource = "opportunities", state = path }
      assert.is_nil(ex)
      assert.are.equal("state", err.kind)
      assert.are.equal(path, err.file)
      assert.matches("is the state of contacts by dateUpdated of location " .. srv.location_id, err.message, 1, true)
      ex, err = ghl.export{ client = client, resource = "contacts", state = path }
      assert.is_nil(ex)
      assert.matches("(narrowed); this export is of contacts", err.message, 1, true)
      local other = h.client(srv, { token = srv.OTHER_TOKEN, location_id = srv.OTHER_LOCATION_ID })
      ex, err = ghl.export{ client = other, resource = "contacts", state = path, params = { query = "seed00" } }
      assert.is_nil(ex)
      assert.matches("this export is of contacts by dateUpdated of location " .. srv.OTHER_LOCATION_ID, err.message,
        1, true)
      sys.write(path, "{ not json")
      ex, err = ghl.export{ client = client, resource = "contacts", state = path }
      assert.is_nil(ex)
      assert.matches("is not an export state", err.message, 1, true)
      ex, err = ghl.export{ client = client, resource = "contacts", state = dir }
      assert.is_nil(ex)
      assert.matches("cannot be read", err.message, 1, true)
      ex, err = ghl.export{ client = client, resource = "contacts", state = dir .. "/no/such/folder/s.json" }
      assert.is_nil(ex)
      assert.matches("cannot be locked: cannot open lock file [^\n]*No such file or directory", err.message)
      -- a folder gone in the middle of a run: the commit says so
      local gone = dir .. "/gone"
      assert(sh("mkdir " .. q(gone)))
      ex = assert(ghl.export{ client = client, resource = "contacts", state = gone .. "/s.json", since = "1m" })
      assert(ex:next_page())
      assert(sh("rm -rf " .. q(gone)))
      local ok, cerr = ex:commit()
      assert.is_nil(ok)
      assert.are.equal("state", cerr.kind)
      assert.matches("cannot be written", cerr.message, 1, true)
      ex:close()
      client:close()
      other:close()
    end)
  end)

  describe("opportunities", function()
    local function change_three(client)
      local ids = { "SeedO000000000000003", "SeedO000000000000150", "SeedO000000000000299" }
      for _, id in ipairs(ids) do assert(client.opportunities:update(id, { monetaryValue = 4321 })) end
      return ids
    end

    it("by updatedAt: all, then exactly the changed ones (every run reads every deal: GHL has no such filter)",
      function()
        local client = h.client(srv)
        local path = new_state()
        local ids = run(client, { resource = "opportunities", state = path })
        assert.are.equal(300, count_of(set_of(ids)))
        local changed = change_three(client)
        local before = #h.requests(srv) + 1
        local ex
        ids, ex = run(client, { resource = "opportunities", state = path })
        table.sort(ids)
        assert.are.same(changed, ids)
        assert.are.equal(3, requests_to(srv, "/opportunities/search", before)) -- 300 deals, 100 a page
        assert.are.equal(297, ex:info().skipped)
        ids = run(client, { resource = "opportunities", state = path })
        assert.are.same({}, ids)
        client:close()
      end)

    it("by updatedAt: an error on page 2 of a run; the rerun goes on from where it was", function()
      local client = h.client(srv)
      local path = new_state()
      run(client, { resource = "opportunities", state = path })
      local changed = change_three(client)
      fault_after(srv, "GET", "/opportunities/search", "status=400", 1)
      local ex = assert(ghl.export{ client = client, resource = "opportunities", state = path })
      local got = {}
      local ok = pcall(function()
        for o in ex:each() do got[#got + 1] = o.id end
      end)
      assert.is_false(ok)
      assert.are.same({ changed[1] }, got) -- page 1 holds the first one
      assert.is_table(decode(read(path)).run)
      local before = #h.requests(srv) + 1
      local rest = run(client, { resource = "opportunities", state = path })
      assert.are.same({ changed[2], changed[3] }, rest)
      assert.are.equal(2, requests_to(srv, "/opportunities/search", before)) -- pages 2 and 3 only
      local st = decode(read(path))
      assert.is_nil(st.run)
      client:close()
    end)

    it("by createdAt: GHL filters (date, startAfter), so nothing new is one request", function()
      local client = h.client(srv)
      local path = new_state()
      local ids = run(client, { resource = "opportunities", field = "createdAt", state = path })
      assert.are.equal(300, #ids)
      change_three(client) -- a change is not a creation
      local pipeline = assert(client.opportunities:pipelines())[1]
      local made = {}
      for i = 1, 3 do
        local c = assert(client.contacts:create{ firstName = "Deal" .. i, email = ("deal%d@new.example.com"):format(i) })
        made[i] = assert(client.opportunities:create{ pipelineId = pipeline.id, name = "New " .. i, status = "open",
                                                      contactId = c.id }).id
      end
      local before = #h.requests(srv) + 1
      ids = run(client, { resource = "opportunities", field = "createdAt", state = path })
      -- deals made in the same millisecond come in id order, not creation order
      table.sort(made)
      table.sort(ids)
      assert.are.same(made, ids)
      assert.are.equal(1, requests_to(srv, "/opportunities/search", before))
      local sent = h.last_request(srv).uri
      assert.matches("order=added_asc", sent, 1, true)
      assert.matches("date=%d%d%-%d%d%-%d%d%d%d", sent)
      assert.matches("startAfter=%d+", sent)
      before = #h.requests(srv) + 1
      ids = run(client, { resource = "opportunities", field = "createdAt", state = path })
      assert.are.same({}, ids)
      assert.are.equal(1, requests_to(srv, "/opportunities/search", before))
      client:close()
    end)
  end)

  describe("conversations", function()
    it("by lastMessageDate: all, then the three with a new message, then one request and nothing", function()
      local client = h.client(srv)
      local path = new_state()
      local ids = run(client, { resource = "conversations", state = path })
      assert.are.equal(6, #ids)
      local changed = {}
      for i, cv in ipairs(assert(client.conversations:search{ limit = 3 })) do
        assert(client.conversations:send{ type = "SMS", contactId = cv.contactId, message = "news " .. i })
        changed[#changed + 1] = cv.id
      end
      table.sort(changed)
      ids = run(client, { resource = "conversations", state = path })
      table.sort(ids)
      assert.are.same(changed, ids)
      local before = #h.requests(srv) + 1
      ids = run(client, { resource = "conversations", state = path })
      assert.are.same({}, ids)
      assert.are.equal(1, requests_to(srv, "/conversations/search", before))
      local sent = h.last_request(srv).uri
      assert.matches("sort=asc", sent, 1, true)
      assert.matches("sortBy=last_message_date", sent, 1, true)
      assert.matches("startAfterDate=%d+", sent)
      client:close()
    end)

    -- GHL's startAfterDate skips whatever has that very date: pages ask from a millisecond
    -- earlier and drop what they have (pages written here, served by the X-Mock-Fault json=)
    local function serve(pages)
      for _, body in ipairs(pages) do
        h.fault(srv, "GET", "/conversations/search", "json=" .. body)
      end
    end

    it("equal lastMessageDate at a page boundary: each conversation once", function()
      serve{
        '{"conversations":[{"id":"a","lastMessageDate":1000},{"id":"b","lastMessageDate":2000},'
          .. '{"id":"c","lastMessageDate":2000}],"total":4}',
        '{"conversations":[{"id":"b","lastMessageDate":2000},{"id":"c","lastMessageDate":2000},'
          .. '{"id":"d","lastMessageDate":3000}],"total":4}',
        '{"conversations":[{"id":"d","lastMessageDate":3000}],"total":4}',
      }
      local client = h.client(srv)
      local ids = run(client, { resource = "conversations", page_size = 3 })
      assert.are.same({ "a", "b", "c", "d" }, ids)
      local asked = {}
      for _, r in ipairs(h.requests(srv)) do
        if r.path == "/conversations/search" then asked[#asked + 1] = r.uri:match("startAfterDate=(%d+)") or "-" end
      end
      assert.are.same({ "-", "1999", "2999" }, asked)
      client:close()
    end)

    it("more than a page of one lastMessageDate is an error, not a silent skip", function()
      local page = '{"conversations":[{"id":"a","lastMessageDate":2000},{"id":"b","lastMessageDate":2000}],"total":3}'
      serve{ page, page }
      local client = h.client(srv)
      local ok, err = pcall(run, client, { resource = "conversations", page_size = 2 })
      assert.is_false(ok)
      assert.are.equal("decode", err.kind, tostring(err))
      assert.matches("more than 2 conversations have lastMessageDate 1970-01-01T00:00:02.000Z", err.message, 1, true)
      client:close()
    end)
  end)
end)

describe("ghl contacts export --since / --state", function()
  local srv = h.server()
  local tmp
  setup(function()
    srv.start()
    tmp = h.private_dir()
  end)
  teardown(function()
    srv.stop()
    if tmp then sh("rm -rf " .. q(tmp)) end
  end)
  before_each(srv.reset)

  -- runs bin/ghl: exit code, stdout, stderr
  local function run(args) return ghl_cli.run(srv, tmp, args) end
  local function command(args) return ghl_cli.command(ghl_cli.env(srv, tmp), args) end

  -- the ids of CSV rows (the first column), each once
  local function ids_of(csv, into)
    into = into or {}
    local n = 0
    for id in csv:gmatch("\n([^,\n]+)") do
      assert.is_nil(into[id], id .. " written twice")
      into[id] = true
      n = n + 1
    end
    return into, n
  end

  local function update(ids)
    local client = h.client(srv)
    for _, id in ipairs(ids) do assert(client.contacts:update(id, { firstName = "Changed" })) end
    client:close()
  end

  it("--state: all and the state file; --since STATE: exactly the changed ones; nothing new: one request", function()
    local state = tmp .. "/contacts.state"
    os.remove(state)
    local code, out, err = run{ "contacts", "export", "--state", state }
    assert.are.equal(0, code, err)
    assert.are.equal("id,firstName,lastName,email,phone,tags,dateAdded,dateUpdated\n", out:match("^[^\n]*\n"))
    local _, n = ids_of(out)
    assert.are.equal(2500, n)
    assert.matches("^exported 2500 contacts in %d+%.%d s; changed since the start; state in " .. state:gsub("%p", "%%%0")
      .. " %(next run from %d%d%d%d%-%d%d%-%d%dT[%d:.]+Z%)\n$", err)
    assert.are.equal(2500, decode(read(state)).exported)

    local changed = { "SeedC000000000000001", "SeedC000000000001000", "SeedC000000000002500" }
    update(changed)
    code, out, err = run{ "contacts", "export", "--since", state, "--columns", "id,firstName,dateUpdated" }
    assert.are.equal(0, code, err)
    local got
    got, n = ids_of(out)
    assert.are.equal(3, n)
    for _, id in ipairs(changed) do assert.is_true(got[id], id) end
    assert.matches("\nSeedC000000000001000,Changed,20%d%d%-", out)
    assert.matches("^exported 3 contacts in", err)

    local before = #h.requests(srv) + 1
    code, out, err = run{ "contacts", "export", "--since", state, "--format", "jsonl" }
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
    assert.are.equal(1, requests_to(srv, "/contacts/search", before))
    assert.matches("^exported 0 contacts in %d+%.%d s; changed since [^;]+; 3 already written, left out; state in ", err)
  end)

  it("--since TIME: what changed since then, no state; a word that is no time nor file is a usage error", function()
    update{ "SeedC000000000000042" }
    local code, out, err = run{ "contacts", "export", "--since", "15m", "--columns", "id" }
    assert.are.equal(0, code, err)
    assert.are.equal("id\nSeedC000000000000042\n", out)
    assert.matches("; changed since 20", err)
    assert.is_nil(err:find("state in", 1, true))
    code, out, err = run{ "contacts", "export", "--since", tostring(os.time() - 900), "--columns", "id" }
    assert.are.equal(0, code, err)
    assert.are.equal("id\nSeedC000000000000042\n", out)
    code, out, err = run{ "contacts", "export", "--since", "24hr" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^ghl: contacts export: %-%-since '24hr' is not a time %(ISO 8601", err)
    assert.matches("--state 24hr starts one", err, 1, true)
    code, out, err = run{ "contacts", "export", "--state", tmp .. "/x.state", "--overlap", "soon" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("--overlap must be a duration such as 5m", err, 1, true)
    code, out, err = run{ "contacts", "export", "--since", "1h", "--state", tmp .. "/fresh.state", "--columns", "id" }
    assert.are.equal(0, code, err)
    assert.are.equal("id\nSeedC000000000000042\n", out)
    assert.matches("changed since 20[^;]*; state in", err)
  end)

  it("an error on page 3: exit 1, the state at page 2; the rerun writes the rest, none twice", function()
    local state = tmp .. "/fault.state"
    os.remove(state)
    fault_after(srv, "POST", "/contacts/search", "status=400", 2)
    local code, out, err = run{ "contacts", "export", "--state", state }
    assert.are.equal(1, code)
    assert.matches("^ghl: http 400", err)
    local got, n = ids_of(out)
    assert.are.equal(1000, n)
    assert.are.equal(1000, decode(read(state)).exported)
    code, out, err = run{ "contacts", "export", "--since", state }
    assert.are.equal(0, code, err)
    n = select(2, ids_of(out, got))
    assert.are.equal(1500, n)
    assert.are.equal(2500, count_of(got))
  end)

  it("killed (SIGKILL) while page 3 is on its way: the rerun resumes after page 2, nothing lost", function()
    local state = tmp .. "/kill.state"
    os.remove(state)
    fault_after(srv, "POST", "/contacts/search", "delay=8000", 2)
    local file = tmp .. "/killed.csv"
    local pid = capture(("%s >%s 2>%s </dev/null & echo $!"):format(command{ "contacts", "export", "--state", state },
      q(file), q(tmp .. "/killed.err"))):match("(%d+)")
    assert.is_string(pid)
    local deadline = socket.gettime() + 20
    local st
    repeat
      socket.sleep(0.05)
      local text = read(state)
      st = text and text ~= "" and decode(text)
    until (st and st.exported == 1000) or socket.gettime() > deadline
    assert.are.equal(1000, st and st.exported)
    socket.sleep(0.2) -- page 3 is asked for, and waits
    assert(sh("kill -9 " .. pid))
    repeat socket.sleep(0.05) until not sh("kill -0 " .. pid .. " 2>/dev/null") or socket.gettime() > deadline
    local got, n = ids_of(read(file))
    assert.are.equal(1000, n)
    local code, out, err = run{ "contacts", "export", "--since", state }
    assert.are.equal(0, code, err)
    n = select(2, ids_of(out, got))
    assert.are.equal(1500, n)
    assert.are.equal(2500, count_of(got))
  end)
end)
