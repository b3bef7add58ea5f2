-- ghl.job: bulk jobs with a journal. The CSV reader and the journal file
-- (core.appender) on their own; then jobs against the local GHL server:
-- resume, changed and fixed rows, failures, ambiguous writes and how each
-- kind of operation settles them, the journal's lock and format, custom
-- fields by name, progress; and the batch hooks the journal rides on.
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"
local core = require "ghl.core"
local csv = require "ghl.csv"
local ghl = require "ghl"

local q, read, write, sh, capture = sys.q, sys.read, sys.write, sys.sh, sys.capture

local WORKFLOW = "3f1e0000-0000-4000-a000-000000000001"

-- every record of a CSV text, as { line, cells... } lists
local function records(src)
  local out = {}
  for cells, line in csv.reader(src) do
    local r = { line }
    for _, c in ipairs(cells) do r[#r + 1] = c end
    out[#out + 1] = r
  end
  return out
end

-- a file handle that gives `step` bytes a read, whatever is asked
local function trickle(s, step)
  local pos = 1
  return { read = function()
    if pos > #s then return nil end
    local chunk = s:sub(pos, pos + step - 1)
    pos = pos + step
    return chunk
  end }
end

describe("ghl.csv", function()
  it("reads RFC 4180: quotes, doubled quotes, commas and line breaks in cells, CRLF", function()
    assert.are.same({
      { 1, "a", "b", "c" },
      { 2, "1", "x,y", "say \"hi\"" },
      { 3, "multi\r\nline", "", "" },
      { 5, "last", "x" },
    }, records('a,b,c\r\n1,"x,y","say ""hi"""\r\n"multi\r\nline",,\r\nlast,x'))
  end)

  it("drops a byte order mark, skips empty lines, ends records at LF, CRLF or a lone CR", function()
    assert.are.same({ { 1, "h1", "h2" }, { 3, "a", "b" }, { 4, "c", "d" }, { 6, "e", "" } },
      records("\239\187\191h1,h2\n\na,b\rc,d\r\n\r\ne,\n\n"))
  end)

  it("is lenient where spreadsheets are: a stray quote is kept, text after a closing quote appended", function()
    assert.are.same({ { 1, 'x"y', "ab", "c" } }, records('x"y,"a"b,c'))
  end)

  it("reads the same records whatever the chunks a file gives (every split point)", function()
    local text = '\239\187\191id,"name, full",note\r\n1,"Ada ""the first""","two\r\nlines"\r\n\r\n2,Bob,\r3,"",x'
    local want = records(text)
    for step = 1, 9 do
      local got = {}
      for cells, line in csv.reader(trickle(text, step)) do
        local r = { line }
        for _, c in ipairs(cells) do r[#r + 1] = c end
        got[#got + 1] = r
      end
      assert.are.same(want, got, "chunks of " .. step)
    end
  end)

  it("refuses a quoted cell left open at the end, naming the line its record starts on", function()
    local msg = h.invalid(function() return records('a,b\n1,"open\nstill open\n') end)
    assert.matches("line 2", msg)
  end)
end)

describe("core.appender (the journal file)", function()
  local dir
  setup(function() dir = h.private_dir() end)
  teardown(function() sh("rm -rf " .. q(dir)) end)

  it("appends records, mode 0600, and refuses a second opener while it is open", function()
    local path = dir .. "/a.journal"
    local ap, dropped = assert(core.appender(path))
    assert.are.equal(0, dropped)
    assert.is_true(ap:append('{"a":1}\n'))
    local none, err, why = core.appender(path)
    assert.is_nil(none)
    assert.are.equal("locked", why)
    assert.matches("in use by another runner", err)
    ap:close()
    ap:close() -- idempotent
    assert.has_error(function() ap:append("x\n") end)
    assert.are.equal("600", capture("stat -c %a " .. q(path)):gsub("%s+", ""))
    local again = assert(core.appender(path))
    again:close()
  end)

  it("cuts a torn last line off when it is opened, so the next record starts on a line of its own", function()
    local path = dir .. "/torn.journal"
    write(path, '{"a":1}\n{"b":2}\n{"c":')
    local ap, dropped = assert(core.appender(path))
    assert.are.equal(5, dropped)
    assert(ap:append('{"d":4}\n'))
    ap:close()
    assert.are.equal('{"a":1}\n{"b":2}\n{"d":4}\n', read(path))
    write(path, "no newline at all")
    ap, dropped = assert(core.appender(path))
    assert.are.equal(17, dropped)
    ap:close()
    assert.are.equal("", read(path))
  end)

  it("refuses a symbolic link and what is not a regular file", function()
    write(dir .. "/target", "")
    sh(("ln -s %s %s"):format(q(dir .. "/target"), q(dir .. "/link")))
    local ap, err = core.appender(dir .. "/link")
    assert.is_nil(ap)
    assert.matches("symbolic link", err)
    ap, err = core.appender(dir)
    assert.is_nil(ap)
    assert.is_truthy(err)
  end)
end)

describe("ghl.job", function()
  local srv = h.server()
  local dir
  setup(function()
    srv.start()
    dir = h.private_dir()
  end)
  teardown(function()
    srv.stop()
    sh("rm -rf " .. q(dir))
  end)
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { max = 1000000, interval_ms = 100 })
  end)

  local function people(name, n, extra)
    local lines = { "First Name,Last Name,Email,Phone,Tags" }
    for i = 1, n do
      lines[#lines + 1] = ('P%d,"Job, Spec",p%d@job.example.com,+1666%07d,"a;b"'):format(i, i, i)
    end
    for _, l in ipairs(extra or {}) do lines[#lines + 1] = l end
    local path = dir .. "/" .. name
    write(path, table.concat(lines, "\r\n") .. "\r\n")
    return path
  end

  local function journal_records(path)
    local out = {}
    for line in io.lines(path) do out[#out + 1] = require("cjson").decode(line) end
    return out
  end

  local function count(srv_)
    return h.admin(srv_, "GET", "/_mock/contacts").count
  end

  it("imports a CSV, and a second run with the same journal sends nothing", function()
    local file, jpath = people("a.csv", 30), dir .. "/a.journal"
    local client = h.client(srv)
    local before = count(srv)
    local job = ghl.job{ client = client, rows = file, op = "create", journal = jpath }
    local r = assert(job:run())
    assert.are.same({ 30, 30, 0, 0, 30, 0, true },
      { r.rows, r.done, r.failed, r.ambiguous, r.sent, r.skipped, r.ok })
    assert.are.equal(before + 30, count(srv))
    local found = assert(client.contacts:search{ query = "p7@job.example.com" })[1]
    assert.are.equal("P7", found.firstName)
    assert.are.equal("Job, Spec", found.lastName)
    assert.are.same({ "a", "b" }, found.tags) -- a;b: a list field
    local r2 = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 30, 30, 0, 30, true }, { r2.rows, r2.done, r2.sent, r2.skipped, r2.resumed })
    assert.are.equal(before + 30, count(srv))
    -- the journal: a job record, a record of each run, sent then done for each row
    local recs = journal_records(jpath)
    assert.are.equal("job", recs[1].t)
    assert.are.equal("contacts.create-contact", recs[1].op)
    assert.are.equal("run", recs[2].t)
    assert.are.equal("sent", recs[3].t)
    local done = 0
    for _, x in ipairs(recs) do
      if x.t == "done" then
        done = done + 1
        assert.is_string(x.id)
        assert.matches("^%x+$", x.hash)
        assert.are.equal(16, #x.hash)
      end
    end
    assert.are.equal(30, done)
    assert.are.equal("run", recs[#recs].t)
    -- no token, no field of a row
    local text = read(jpath)
    h.assert_no_secret(text, srv.token, "the journal")
    assert.is_nil(text:find("job.example.com", 1, true))
    assert.is_nil(text:find("Spec", 1, true))
  end)

  it("reports a row that changed after it was done instead of sending it, and sends a fixed failed row", function()
    local file = people("b.csv", 3, { "Bad,Row,not-an-email,," })
    local jpath = dir .. "/b.journal"
    local client = h.client(srv)
    local r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 3, 1, 1 }, { r.done, r.failed, r.invalid })
    assert.are.equal("invalid", r.failures[1].state)
    assert.are.equal(4, r.failures[1].row)
    assert.matches("email", r.failures[1].error)
    -- row 2 edited after it was done; row 4 fixed
    local text = read(file):gsub("P2,", "P2-edited,"):gsub("not%-an%-email", "fixed@job.example.com")
    write(file, text)
    r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 3, 0, 1, 1, false }, { r.done, r.failed, r.changed, r.sent, r.ok })
    assert.are.equal(2, r.failures[1].row)
    assert.are.equal("changed", r.failures[1].state)
    assert.matches("changed since it was done", r.failures[1].error)
  end)

  it("does not send again a row GHL refused for a reason of its own, unless retry_failed", function()
    local file, jpath = people("c.csv", 2), dir .. "/c.journal"
    local client = h.client(srv)
    h.fault(srv, "POST", "/contacts/", "status=422", 1)
    local r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath, concurrency = 1 }:run())
    assert.are.same({ 1, 1 }, { r.done, r.failed })
    assert.are.equal(422, r.failures[1].status)
    r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 1, 1, 0 }, { r.done, r.failed, r.sent })
    assert.matches("earlier run", r.failures[1].error)
    r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath, retry_failed = true }:run())
    assert.are.same({ 2, 0, 1 }, { r.done, r.failed, r.sent })
  end)

  it("leaves a row ambiguous when it cannot be looked up, and the next run settles it", function()
    local file, jpath = people("d.csv", 1), dir .. "/d.journal"
    local client = h.client(srv, { max_retries = 1 })
    h.fault(srv, "POST", "/contacts/", "status=503", 1) -- a 503 to a POST: ambiguous...
    h.fault(srv, "GET", "/contacts/search/duplicate", "status=503", 10) -- ...and it cannot be looked up
    local r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 0, 1 }, { r.done, r.ambiguous })
    assert.matches("looking it up by email failed", r.failures[1].error)
    h.admin(srv, "DELETE", "/_mock/faults")
    r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    -- the 503 answered instead of GHL: nothing was created, so it is not found and sent again
    assert.are.same({ 1, 0, 1, 1 }, { r.done, r.ambiguous, r.sent, r.resolved })
  end)

  it("settles an ambiguous create by looking it up: found is done, not found is sent again", function()
    local file, jpath = people("e.csv", 2), dir .. "/e.journal"
    local client = h.client(srv)
    local before = count(srv)
    h.fault(srv, "POST", "/contacts/", "after=close", 1) -- processed, no answer
    h.fault(srv, "POST", "/contacts/", "close", 1)       -- not processed, no answer
    local r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath, concurrency = 1 }:run())
    assert.are.same({ 2, 0, 0, 2, 3 }, { r.done, r.failed, r.ambiguous, r.resolved, r.sent })
    assert.are.equal(before + 2, count(srv))
    local how = {}
    for _, x in ipairs(journal_records(jpath)) do
      if x.t == "done" then how[x.row] = x.how end
      if x.t == "ambiguous" then assert.matches("may have reached GHL", x.error) end
    end
    assert.are.equal("found by email", how[1])
    assert.are.equal("not found by email: sent again", how[2])
  end)

  it("settles an ambiguous upsert by sending it again (it matches on email)", function()
    local file, jpath = people("f.csv", 2), dir .. "/f.journal"
    local client = h.client(srv)
    local before = count(srv)
    h.fault(srv, "POST", "/contacts/upsert", "after=close", 1)
    local r = assert(ghl.job{ client = client, rows = file, op = "upsert", journal = jpath, concurrency = 1 }:run())
    assert.are.same({ 2, 0, 1, 3 }, { r.done, r.ambiguous, r.resolved, r.sent })
    assert.are.equal(before + 2, count(srv))
  end)

  it("reports an ambiguous write without a natural key, and sends it again only with retry_ambiguous", function()
    local path, jpath = dir .. "/w.jsonl", dir .. "/w.journal"
    write(path, ('{"contactId":"SeedC000000000000001"}\n{"contactId":"SeedC000000000000002"}\n'))
    local client = h.client(srv)
    h.fault(srv, "POST", "/contacts/SeedC000000000000002/workflow/" .. WORKFLOW, "after=close", 1)
    local function job(extra)
      local o = { client = client, rows = path, op = "add_to_workflow", params = { workflowId = WORKFLOW }, journal = jpath }
      for k, v in pairs(extra or {}) do o[k] = v end
      return ghl.job(o)
    end
    local r = assert(job():run())
    assert.are.same({ 1, 1, false }, { r.done, r.ambiguous, r.ok })
    assert.are.equal("ambiguous", r.failures[1].state)
    assert.matches("retry_ambiguous", r.failures[1].error)
    r = assert(job():run())
    assert.are.same({ 1, 1, 0 }, { r.done, r.ambiguous, r.sent })
    r = assert(job{ retry_ambiguous = true }:run())
    assert.are.same({ 2, 0, 1 }, { r.done, r.ambiguous, r.sent })
  end)

  it("resolves rows left in flight by a killed run (sent, no outcome) on the next run", function()
    local file, jpath = people("g.csv", 3), dir .. "/g.journal"
    local client = h.client(srv)
    assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    -- as if rows 2 and 3 were in flight when the runner died: row 2 had reached GHL, row 3 not
    local recs = journal_records(jpath)
    local hashes = {}
    for _, x in ipairs(recs) do if x.row then hashes[x.row] = x.hash end end
    local c3 = assert(client.contacts:search{ query = "p3@job.example.com" })[1]
    assert(client.contacts:delete(c3.id))
    local tail = ('{"t":"run","at":1}\n{"t":"sent","row":2,"hash":"%s","at":2}\n{"t":"sent","row":3,"hash":"%s","at":3}\n{"t":"do')
      :format(hashes[2], hashes[3])
    local f = assert(io.open(jpath, "ab"))
    f:write(tail) -- and the kill tore the last line
    f:close()
    local r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 3, 1, 2, 1, 8 }, { r.done, r.skipped, r.resolved, r.sent, r.dropped }) -- 8 bytes: {"t":"do
  end)

  it("refuses a journal another runner has open, and one of another job", function()
    local file, jpath = people("h.csv", 1), dir .. "/h.journal"
    local client = h.client(srv)
    assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    local ap = assert(core.appender(jpath))
    local r, err = ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run()
    ap:close()
    assert.is_nil(r)
    assert.are.equal("job", err.kind)
    assert.are.equal("locked", err.reason)
    r, err = ghl.job{ client = client, rows = file, op = "upsert", journal = jpath }:run()
    assert.is_nil(r)
    assert.are.equal("journal", err.reason)
    assert.matches("contacts.create%-contact", err.message)
    write(dir .. "/junk.journal", "not json\n")
    r, err = ghl.job{ client = client, rows = file, op = "create", journal = dir .. "/junk.journal" }:run()
    assert.is_nil(r)
    assert.are.equal("journal", err.reason)
  end)

  it("keeps the journal in a token store: a job resumed elsewhere skips what is done", function()
    local store = ghl.store.memory()
    local client = h.client(srv)
    local rows = {}
    for i = 1, 5 do rows[i] = { firstName = "S" .. i, email = ("s%d@store.example.com"):format(i) } end
    local r = assert(ghl.job{ client = client, rows = rows, op = "create", journal = store, name = "mig" }:run())
    assert.are.same({ 5, 5 }, { r.done, r.sent })
    rows[6] = { firstName = "S6", email = "s6@store.example.com" }
    local other = h.client(srv)
    r = assert(ghl.job{ client = other, rows = rows, op = "create", journal = store, name = "mig" }:run())
    assert.are.same({ 6, 5, 1 }, { r.done, r.skipped, r.sent })
    assert.is_string(store:get("mig:job"))
    assert.matches('"t":"done"', store:get("mig:row:6"))
  end)

  it("keeps the journal in Redis: a second host resumes it, and is refused while the first holds it", function()
    local redis = require("spec.support.redis").start()
    local ok, err = pcall(function()
      local function store() return ghl.store.redis{ host = redis.host, port = redis.port, lock_timeout_ms = 200 } end
      local file = people("r.csv", 6)
      local r = assert(ghl.job{ client = h.client(srv), rows = file, op = "upsert", journal = store(),
                                name = "job:r" }:run())
      assert.are.same({ 6, 6 }, { r.done, r.sent })
      local held = store()
      local lease = assert(held:lock("job:r:runner", 5000)) -- another host's run under way
      local none, lerr = ghl.job{ client = h.client(srv), rows = file, op = "upsert", journal = store(),
                                  name = "job:r" }:run()
      assert.is_nil(none)
      assert.are.equal("locked", lerr.reason)
      held:unlock("job:r:runner", lease)
      r = assert(ghl.job{ client = h.client(srv), rows = file, op = "upsert", journal = store(), name = "job:r" }:run())
      assert.are.same({ 6, 6, 0 }, { r.done, r.skipped, r.sent })
    end)
    redis.stop()
    assert(ok, err)
  end)

  it("maps columns by a table and by a function, custom fields by name; the map can leave rows out", function()
    local path = dir .. "/m.csv"
    write(path, "E-mail,Given,Score,Colour,Skip\nm1@map.example.com,Mia,42,Red,x\nm2@map.example.com,Max,7,Blue,y\n")
    local client = h.client(srv)
    local r = assert(ghl.job{ client = client, rows = path, op = "create", map = {
      ["E-mail"] = "email", Given = "firstName", Score = "customField:Lead Score",
      Colour = "customField:contact.favourite_colour", Skip = "-" } }:run())
    assert.are.same({ 2, 0 }, { r.done, r.failed })
    local c = assert(client.contacts:search{ query = "m1@map.example.com" })[1]
    assert.are.equal("Mia", c.firstName)
    local cf = {}
    for _, x in ipairs(c.customFields) do cf[x.id] = x.field_value end
    assert.are.equal(42, cf.CfMock00000000000001) -- NUMERICAL: a number
    assert.are.equal("Red", cf.CfMock00000000000002)
    -- a custom field the location lacks stops the job before anything is sent
    local bad, err = ghl.job{ client = client, rows = path, op = "create",
                              map = { Score = "customField:Lead Scor", Skip = false } }:run()
    assert.is_nil(bad)
    assert.are.equal("map", err.reason)
    assert.matches("did you mean Lead Score", err.message)
    assert.matches("column 'Given' is not a parameter of contacts.create%-contact", err.message) -- E-mail is email
    -- a function, over a Lua iterator; false leaves a row out
    local list = { { mail = "f1@map.example.com" }, { mail = "skip" }, { mail = "f2@map.example.com" } }
    local i = 0
    r = assert(ghl.job{ client = client, op = "create",
      rows = function() i = i + 1 return list[i] end,
      map = function(row) if row.mail == "skip" then return false end return { email = row.mail, tags = { "fn" } } end,
    }:run())
    assert.are.same({ 3, 2, 1, true }, { r.rows, r.done, r.ignored, r.ok })
  end)

  it("tells on_progress when the pacer holds the job back", function()
    h.rate_limit(srv, { max = 10, interval_ms = 1000 })
    local file = people("p.csv", 25)
    local seen = {}
    local r = assert(ghl.job{ client = h.client(srv), rows = file, op = "create", on_progress = function(p)
      seen[#seen + 1] = p
    end }:run())
    assert.are.equal(25, r.done)
    local waiting, last = false, seen[#seen]
    for _, p in ipairs(seen) do
      waiting = waiting or (p.waiting and p.max == 10 and p.interval_ms == 1000)
      assert.are.equal(25, p.total)
    end
    assert.is_true(waiting)
    assert.are.same({ 25, 25, 0, 0 }, { last.rows, last.done, last.failed, last.ambiguous })
  end)

  it("stops with the journal's error when it cannot be written, and the next run resumes", function()
    local file, jpath = people("io.csv", 10), dir .. "/io.journal"
    local client = h.client(srv)
    local journal = require "ghl.job.journal"
    local put = journal.file("x").put
    local calls = 0
    local File = getmetatable(journal.file("x"))
    File.put = function(self, list)
      calls = calls + 1
      if calls == 7 then return journal.problem("io", "journal %s: cannot write the journal: No space left on device", self.path) end
      return put(self, list)
    end
    local r, err = ghl.job{ client = client, rows = file, op = "create", journal = jpath, concurrency = 2 }:run()
    File.put = put
    assert.is_nil(r)
    assert.are.equal("io", err.reason)
    r = assert(ghl.job{ client = client, rows = file, op = "create", journal = jpath }:run())
    assert.are.same({ 10, 0, 0 }, { r.done, r.failed, r.ambiguous })
    assert.is_true(r.skipped >= 2)
    -- the client still works after a batch that a hook ended
    assert(client.contacts:get("SeedC000000000000001"))
  end)

  it("refuses misuse when the job is made", function()
    local client = h.client(srv)
    assert.matches("unknown option 'colum'", h.invalid(ghl.job, { client = client, rows = {}, op = "create", colum = 1 }))
    assert.matches("unknown operation", h.invalid(ghl.job, { client = client, rows = {}, op = "creat-contact" }))
    assert.matches("rows must be", h.invalid(ghl.job, { client = client, rows = 5, op = "create" }))
    assert.matches("needs name", h.invalid(ghl.job, { client = client, rows = {}, op = "create",
                                                      journal = ghl.store.memory() }))
    assert.matches("concurrency", h.invalid(ghl.job, { client = client, rows = {}, op = "create", concurrency = 0 }))
  end)
end)

describe("client:batch hooks", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { max = 1000000, interval_ms = 100 }) -- a 429 holds calls back for 100 ms
  end)

  it("calls on_send before a call's first request and on_done when it has its result", function()
    local c = h.client(srv)
    local events = {}
    local calls = {}
    for i = 1, 6 do calls[i] = { op = "contacts.get-contact", params = { contactId = ("SeedC%015d"):format(i) } } end
    calls[3].opts = { headers = { ["X-Mock-Fault"] = "429" } } -- retried: on_send once
    h.fault(srv, "GET", "/contacts/SeedC000000000000004", "429", 1)
    local r = c:batch(calls, { concurrency = 3,
      on_send = function(i) events[#events + 1] = "send " .. i end,
      on_done = function(i, body, x) events[#events + 1] = ("done %d %s"):format(i, body and "ok" or x.kind) end })
    local sends, dones, order = 0, 0, {}
    for k, e in ipairs(events) do
      local what, i = e:match("^(%a+) (%d+)")
      order[what .. i] = k
      if what == "send" then sends = sends + 1 else dones = dones + 1 end
    end
    assert.are.same({ 6, 6 }, { sends, dones })
    for i = 1, 6 do assert.is_true(order["send" .. i] < order["done" .. i]) end
    assert.are.equal("rate_limited", r[3][2].kind) -- the header fault meets every retry
    assert.is_truthy(r[4][1])
    c:close()
  end)

  it("ends the batch with a hook's error, and the client's next batch works", function()
    local c = h.client(srv)
    local calls = {}
    for i = 1, 8 do calls[i] = { op = "contacts.get-contact", params = { contactId = ("SeedC%015d"):format(i) } } end
    local n = 0
    local ok, err = pcall(c.batch, c, calls, { concurrency = 4, on_done = function()
      n = n + 1
      if n == 2 then error({ mine = true }, 0) end
    end })
    assert.is_false(ok)
    assert.is_true(err.mine)
    local r = c:batch(calls, { concurrency = 4 })
    for i = 1, 8 do assert.is_truthy(r[i][1], "call " .. i) end
    assert.matches("on_send must be a function", h.invalid(c.batch, c, calls, { on_send = 1 }))
    c:close()
  end)
end)
