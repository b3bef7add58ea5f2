-- A bulk import that is killed (SIGKILL) at random points and resumed with
-- the same journal each time, against the local GHL server with faults
-- injected: connection resets, 429s, POSTs the server processes and then
-- drops without an answer, 500s after the write. It must end with exactly
-- one contact per row (none lost, none twice) and every ambiguous row
-- resolved. The importer is `bin/ghl import contacts` in a process of its
-- own, run with the interpreter of this suite.
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"
local cjson = require "cjson"
local socket = require "socket"

local LUA = jit and "luajit" or "lua5.4"
local q, read, sh, capture = sys.q, sys.read, sys.sh, sys.capture

local ROWS = 2000
local KILLS = 5

local function lines_of(path)
  local s = read(path) or ""
  local n = 0
  for _ in s:gmatch("\n") do n = n + 1 end
  return n
end

local function alive(pid)
  return sh(("kill -0 %d 2>/dev/null"):format(pid))
end

describe("a bulk import killed and resumed #subprocess", function()
  local srv = h.server()
  local dir
  setup(function()
    srv.start()
    dir = capture("mktemp -d /tmp/ghl-job-crash.XXXXXX"):gsub("%s+$", "")
  end)
  teardown(function()
    srv.stop()
    if dir then sh("rm -rf " .. q(dir)) end
  end)

  local function env()
    return ("env -u GHL_COMPANY_ID -u GHL_CLIENT_ID -u GHL_CLIENT_SECRET -u GHL_PACING_REDIS GHL_BASE_URL=%s "
      .. "GHL_TOKEN=%s GHL_LOCATION_ID=%s"):format(q(srv.url), q(srv.token), q(srv.location_id))
  end

  local function import_cmd(file, journal)
    return ("%s %s bin/ghl import contacts %s --journal %s --concurrency 8"):format(env(), LUA, q(file), q(journal))
  end

  it("ends with every row created exactly once, after 5 kills and resumes under faults", function()
    local t0 = socket.gettime()
    srv.reset()
    -- the pacer is not what this is about: a budget no run spends, in windows of 100 ms (a 429 holds
    -- the calls back until the window ends)
    h.rate_limit(srv, { max = 1000000, interval_ms = 100 })
    local before = h.admin(srv, "GET", "/_mock/contacts").count
    local file, journal = dir .. "/people.csv", dir .. "/people.journal"
    local f = assert(io.open(file, "wb"))
    f:write("First Name,Last Name,Email,Phone,Tags\r\n")
    for i = 1, ROWS do
      f:write(('Row%d,"Crash, Test",row%d@crash.example.com,+1555%07d,"import,crash"\r\n'):format(i, i, i))
    end
    f:close()
    -- faults over the whole run: each matching request meets them by chance
    local faults = {
      { "POST", "/contacts/", "after=close", 0.02, 40 }, -- processed, then no answer: ambiguous, it exists
      { "POST", "/contacts/", "after=500", 0.01, 20 },   -- processed, then a 500: ambiguous, it exists
      { "POST", "/contacts/", "close", 0.01, 20 },       -- dropped unread: ambiguous, it does not exist
      { "POST", "/contacts/", "reset", 0.01, 20 },       -- a broken answer, nothing processed
      { "POST", "/contacts/", "429", 0.02, 20 },         -- retried by the client
      { "GET", "/contacts/search/duplicate", "429", 0.1, 5 },
    }
    for _, x in ipairs(faults) do
      h.admin(srv, "POST", "/_mock/faults", { method = x[1], path = x[2], fault = x[3], chance = x[4], times = x[5] })
    end
    math.randomseed(os.time())
    local kills, resumes, grown = 0, 0, {}
    local out, err = dir .. "/out", dir .. "/err"
    for _ = 1, KILLS do
      local start = lines_of(journal)
      -- kill after this many more journal lines (two a row: sent, then its outcome), spread over the run
      local want = start + math.random(math.floor(2 * ROWS / (KILLS + 1) * 0.5), math.floor(2 * ROWS / (KILLS + 1) * 1.1))
      local pid = tonumber(capture(("(exec %s >%s 2>%s) & echo $!"):format(import_cmd(file, journal), q(out),
        q(err))):match("%d+"))
      if start > 0 then resumes = resumes + 1 end
      local deadline = socket.gettime() + 20
      while alive(pid) and lines_of(journal) < want and socket.gettime() < deadline do socket.sleep(0.005) end
      socket.sleep(math.random() * 0.05)
      local was_running = alive(pid)
      sh(("kill -KILL %d 2>/dev/null"):format(pid))
      while alive(pid) do socket.sleep(0.01) end
      if was_running then
        kills = kills + 1
        grown[#grown + 1] = lines_of(journal) - start
      end
    end
    assert.are.equal(KILLS, kills, "the importer ended before it was killed: " .. (read(err) or ""))
    -- resume until it is done
    local code = sh(import_cmd(file, journal) .. " >" .. q(out) .. " 2>" .. q(err))
    resumes = resumes + 1
    local final = cjson.decode(read(out))
    assert.is_true(code, "the last run did not exit 0:\n" .. (read(err) or ""))
    assert.are.equal(ROWS, final.done)
    assert.are.equal(0, final.failed)
    assert.are.equal(0, final.ambiguous)
    -- exactly one contact a row, at the server
    assert.are.equal(before + ROWS, h.admin(srv, "GET", "/_mock/contacts").count)
    local client = h.client(srv)
    local by_email = {}
    for c in client.contacts:each{ query = "crash.example.com", pageLimit = 500 } do
      if type(c.email) == "string" and c.email:find("@crash%.example%.com$") then
        by_email[c.email] = (by_email[c.email] or 0) + 1
      end
    end
    local distinct, twice = 0, 0
    for _, n in pairs(by_email) do
      distinct = distinct + 1
      if n > 1 then twice = twice + 1 end
    end
    assert.are.equal(ROWS, distinct)
    assert.are.equal(0, twice)
    -- the journal: its last record of each row is done, with the contact's id; what it saw
    local last, ambiguous_seen, in_flight_seen, ids, open = {}, {}, {}, {}, {}
    for line in io.lines(journal) do
      local r = cjson.decode(line)
      if r.t == "run" then -- a run starts: what the last one had in flight it never heard back about
        for row in pairs(open) do in_flight_seen[row] = true end
        open = {}
      elseif r.t == "sent" then
        open[r.row], last[r.row] = true, r
      elseif r.row then
        open[r.row], last[r.row] = nil, r
        if r.t == "ambiguous" then ambiguous_seen[r.row] = true end
      end
    end
    local resolved_how = {}
    for row = 1, ROWS do
      local r = last[row]
      assert.are.equal("done", r and r.t, "row " .. row)
      assert.is_string(r.id)
      assert.is_nil(ids[r.id], "two rows have the id " .. tostring(r.id))
      ids[r.id] = true
      if r.how then resolved_how[r.how] = (resolved_how[r.how] or 0) + 1 end
    end
    -- no create was sent again where the first one had happened: GHL would have refused it as a
    -- duplicate, and the job would have taken that refusal for done
    assert.is_nil(resolved_how["GHL has it already (email)"])
    local requests = h.admin(srv, "GET", "/_mock/ratelimit").tokens[1].daily_used
    -- a run after the end sends nothing
    assert.is_true(sh(import_cmd(file, journal) .. " >" .. q(out) .. " 2>" .. q(err)))
    local again = cjson.decode(read(out))
    assert.are.equal(0, again.sent)
    assert.are.equal(ROWS, again.skipped)
    local n_amb, n_flight = 0, 0
    for _ in pairs(ambiguous_seen) do n_amb = n_amb + 1 end
    for _ in pairs(in_flight_seen) do n_flight = n_flight + 1 end
    local hows = {}
    for how, n in pairs(resolved_how) do hows[#hows + 1] = ("%s: %d"):format(how, n) end
    table.sort(hows)
    print(("\n  job crash: %d rows, %d kills (journal lines between: %s), %d resumes; %d requests for %d rows; "
      .. "%d rows ambiguous, %d in flight at a kill; settled: %s; 0 duplicates; %.1f s")
      :format(ROWS, kills, table.concat(grown, " "), resumes, requests, ROWS, n_amb, n_flight, table.concat(hows, ", "),
        socket.gettime() - t0))
  end)
end)
