--- ghl through its public API, one workload per process (bench/run.lua runs it).
--
--   lua5.4 bench/ghl_bench.lua <workload> <base_url> <n> [concurrency]
--   luajit bench/ghl_bench.lua <workload> <base_url> <n> [concurrency]
--
--   w1  n sequential client.contacts:get(id)           (decoded Lua tables)
--   w2  client.contacts:each{pageLimit = 100} over n contacts (POST /contacts/search,
--       first page by page, then the last contact's searchAfter)
--   w3  client:batch(n GETs, {concurrency = c})        (curl multi when the transport has it,
--       otherwise ghl's own fallback)
--   w4  n sequential client.contacts:get(id) with the default pacing, against a rate limit
--   w5  "agency": n locations, <per> GET /locations/{locationId}/tags each (location by
--       location, as a job lists them), one client:batch at <concurrency> of an agency OAuth
--       client (the bench server mints each location's token at once), against a limit per
--       location
--         ghl_bench.lua w5 <base_url> <locations> <concurrency> <per>
--   w6  "many processes": n sequential client.locations:list_tags() of one location (a
--       Private Integration Token), paced through <store> ("redis:<port>": a Redis
--       pacing_store shared with the other processes; "none": this process paces on its own)
--         ghl_bench.lua w6 <base_url> <n> <store>
--   w7  bulk upserts: the n rows of <rows.csv> (a header, then one contact a line with a
--       unique email) as contacts.upsert-contact at <concurrency>, under a rate limit, either
--       "job": ghl.job{op = "upsert", journal = <journal>} (a file: every record written and
--       fdatasync'ed before the next request leaves), or "batch": the same rows read with
--       ghl.csv and sent with one client:batch, no journal
--         ghl_bench.lua w7 <base_url> <n> <concurrency> job|batch <rows.csv> [<journal>]
--   w7append  n records of a journal's size appended to a new file in <dir> with core.appender
--       (a write and an fdatasync each, as the journal does): what one record costs there
--         ghl_bench.lua w7append <dir> <n>          prints append_us= append_cpu_us=
--
-- Prints one line: ok= failed= items= requests= retries= elapsed_ms= cpu_ms= (elapsed: first
-- request to last answer, in this process; cpu: this process's CPU time meanwhile, os.clock;
-- retries: attempts the on_retry hook saw); w7 "job" adds journal_ms= journal_cpu_ms=
-- journal_puts= journal_records= (the time spent in the journal's put, wall and CPU: JSON
-- encoding, the write and its fdatasync; how many puts; the records in the file at the end).
-- Exits 1 when a
-- call failed in w1-w3 or a walk saw the wrong number of contacts; in w4-w6 failed calls are
-- the measurement and are only reported.

-- ghl from this checkout: lua/ and the C modules built for this interpreter
-- (bench/run.lua points GHL_BENCH_GHL_ROOT at a snapshot of both, taken when the run
-- starts, so that a rebuild during the run cannot change what is measured)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local root = os.getenv("GHL_BENCH_GHL_ROOT") or (here .. "/..")
local build = root .. (jit and "/build/luajit" or "/build/lua5.4")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local ghl = require "ghl"
local core = require "ghl.core"
-- a clock finer than core.now_ms (whole milliseconds) for what takes microseconds: luasocket's
local has_socket, socket = pcall(require, "socket")
local fine_ms = has_socket and function() return socket.gettime() * 1000 end or core.now_ms

local TOKEN = "pit-bench-00000000-0000-4000-8000-000000000000"
local LOCATION_ID = "LocBench000000000001"
local COMPANY_ID = "CompBench00000000001" -- the agency of W5 (bench/server/bench_server.lua)

local workload, base_url, n = arg[1], arg[2], tonumber(arg[3])
if workload == "w7append" and base_url and n then
  local path = base_url .. "/w7append.journal"
  os.remove(path)
  local ap = assert(core.appender(path))
  local line = '{"t":"done","row":1234,"hash":"3f79bb7b435b0532","id":"Up000000000000001234","at":1767225600180}\n'
  local w0, c0 = fine_ms(), os.clock()
  for _ = 1, n do assert(ap:append(line)) end
  local w, c = fine_ms() - w0, os.clock() - c0
  ap:close()
  os.remove(path)
  print(("append_us=%.1f append_cpu_us=%.1f"):format(w * 1000 / n, c * 1e6 / n))
  os.exit(0)
end
local concurrency = workload ~= "w6" and tonumber(arg[4] or "20") or nil
if not (workload and base_url and n) then
  io.stderr:write("usage: ghl_bench.lua w1|w2|w3|w4 <base_url> <n> [concurrency]\n"
    .. "       ghl_bench.lua w5 <base_url> <locations> <concurrency> <per location>\n"
    .. "       ghl_bench.lua w6 <base_url> <n> redis:<port>|none\n"
    .. "       ghl_bench.lua w7 <base_url> <n> <concurrency> job|batch <rows.csv> [<journal>]\n")
  os.exit(2)
end

local function id_of(i) return ("Ct%018d"):format(i) end
local function location_of(i) return ("LocAgency%011d"):format(i) end

local now_ms = core.now_ms
local retries = 0
local opts = { token = TOKEN, location_id = LOCATION_ID, base_url = base_url }
if workload == "w4" or workload == "w5" or workload == "w6" or workload == "w7" then
  opts.on_retry = function() retries = retries + 1 end
end
if workload == "w5" then
  -- the agency's job: an agency install of an OAuth app (the code exchanged for the agency's
  -- tokens), a client of its company; every call names its location, whose token is minted
  -- from the agency's when first needed
  local app = ghl.oauth{ client_id = "64f0c1d2e3a4b5c6d7e8f999-benchapp", client_secret = "bench-secret",
                         user_type = "Company", base_url = base_url }
  local session, err = app:exchange("bench-code")
  if not session then
    io.stderr:write("ghl_bench: exchange: ", tostring(err), "\n")
    os.exit(2)
  end
  opts.token, opts.location_id, opts.oauth, opts.company_id = nil, nil, app, COMPANY_ID
elseif workload == "w6" then
  local store = arg[4] or "none"
  local port = store:match("^redis:(%d+)$")
  if port then
    opts.pacing_store = ghl.store.redis{ host = "127.0.0.1", port = tonumber(port), prefix = "ghl-bench:" }
  elseif store ~= "none" then
    io.stderr:write("ghl_bench: w6 store must be redis:<port> or none, got ", store, "\n")
    os.exit(2)
  end
end
local made, client = pcall(ghl.new, opts)
if not made then
  io.stderr:write("ghl_bench: ghl.new: ", tostring(client), "\n")
  os.exit(3) -- this build of ghl cannot run the workload (pacing_store unknown)
end

local ok, failed, items, requests = 0, 0, 0, -1 -- requests: -1 when only the server knows
local function complain(what, err)
  failed = failed + 1
  if failed <= 3 then io.stderr:write("ghl_bench: ", what, ": ", tostring(err), "\n") end
end

-- w7: what the run measures beyond the common fields
local extra = ""
local w7_mode, w7_rows, w7_journal = arg[5], arg[6], arg[7]
if workload == "w7" and not ((w7_mode == "job" and w7_journal) or (w7_mode == "batch" and w7_rows)) then
  io.stderr:write("usage: ghl_bench.lua w7 <base_url> <n> <concurrency> job|batch <rows.csv> [<journal>]\n")
  os.exit(2)
end

local t0, c0 = now_ms(), os.clock()
if workload == "w1" or workload == "w4" then
  for i = 1, n do
    local id = id_of(i)
    local c, err = client.contacts:get(id)
    if c and c.id == id then ok = ok + 1 else complain("get " .. id, err or "wrong contact") end
  end
  items, requests = ok, n
elseif workload == "w2" then
  for c in client.contacts:each{ pageLimit = 100 } do
    items = items + 1
    if type(c.id) ~= "string" then complain("contact", "no id") end
  end
  ok = items
  if items ~= n then complain("walk", ("saw %d contacts, expected %d"):format(items, n)) end
elseif workload == "w3" then
  local calls = {}
  for i = 1, n do
    calls[i] = { "GET", "/contacts/{contactId}", { path = { contactId = id_of(i) } } }
  end
  local results = client:batch(calls, { concurrency = concurrency })
  for i = 1, n do
    local r = results[i]
    local body = r and r[1]
    local c = type(body) == "table" and (body.contact or body)
    if c and c.id == id_of(i) then ok = ok + 1 else complain("batch call " .. i, r and r[2] or "no result") end
  end
  items, requests = ok, n
elseif workload == "w5" then
  local per = tonumber(arg[5] or "20")
  local calls, want = {}, {}
  for l = 1, n do
    local loc = location_of(l)
    for _ = 1, per do
      calls[#calls + 1] = { op = "locations.get-location-tags", params = { locationId = loc } }
      want[#calls] = loc
    end
  end
  local results = client:batch(calls, { concurrency = concurrency })
  for i = 1, #calls do
    local r = results[i]
    local body = r and r[1]
    local tags = type(body) == "table" and body.tags
    if type(tags) == "table" and type(tags[1]) == "table" and tags[1].locationId == want[i] then ok = ok + 1
    else complain("batch call " .. i, r and r[2] or "no result") end
  end
  items, requests = ok, #calls
elseif workload == "w6" then
  for _ = 1, n do
    local tags, err = client.locations:list_tags()
    if type(tags) == "table" and type(tags[1]) == "table" and tags[1].locationId == LOCATION_ID then ok = ok + 1
    else complain("list tags", err or "wrong tags") end
  end
  items, requests = ok, n
elseif workload == "w7" and w7_mode == "job" then
  local job = ghl.job{ client = client, rows = w7_rows, op = "upsert", journal = w7_journal,
                       concurrency = concurrency }
  -- the journal's own cost: every put timed (ghl.job's journal object, an internal field)
  local j = job.journal
  local put, jw, jc, jn = j.put, 0, 0, 0
  j.put = function(self, list)
    local w, c = fine_ms(), os.clock()
    local done, err = put(self, list)
    jw, jc, jn = jw + (fine_ms() - w), jc + (os.clock() - c), jn + 1
    return done, err
  end
  local report, err = job:run()
  if not report then
    complain("job", err)
  else
    ok = report.done
    for i = 1, math.min(3, #report.failures) do
      local f = report.failures[i]
      complain(("row %d (%s)"):format(f.row, f.state), f.error)
    end
    failed = report.failed + report.ambiguous + report.changed
    items = report.rows == n and ok or -1 -- every row of the file read and done
  end
  local records = 0
  for _ in io.lines(w7_journal) do records = records + 1 end
  extra = (" journal_ms=%.1f journal_cpu_ms=%.1f journal_puts=%d journal_records=%d"):format(jw, jc * 1000, jn,
    records)
  requests = report and report.sent or -1
elseif workload == "w7" then
  -- the same rows as the job reads them (its default map: column names as parameters,
  -- tags split at ";"), sent in one batch; locationId is the client's
  local csv = require "ghl.csv"
  local f = assert(io.open(w7_rows, "rb"))
  local read, head, calls = csv.reader(f), nil, {}
  local FIELDS = { ["First Name"] = "firstName", ["Last Name"] = "lastName", Email = "email", Phone = "phone",
                   ["Company Name"] = "companyName", Source = "source", Tags = "tags" }
  for cells in read do
    if not head then
      head = {}
      for i, name in ipairs(cells) do head[i] = assert(FIELDS[name], "w7: unknown column " .. name) end
    else
      local params = {}
      for i, field in ipairs(head) do
        local cell = cells[i]
        if cell and cell ~= "" then
          if field == "tags" then
            local tags = {}
            for t in cell:gmatch("[^,;]+") do tags[#tags + 1] = t end
            params.tags = tags
          else
            params[field] = cell
          end
        end
      end
      calls[#calls + 1] = { op = "contacts.upsert-contact", params = params }
    end
  end
  f:close()
  local results = client:batch(calls, { concurrency = concurrency })
  for i = 1, #calls do
    local r = results[i]
    local body = r and r[1]
    local c = type(body) == "table" and body.contact
    if type(c) == "table" and type(c.id) == "string" and c.email == calls[i].params.email then ok = ok + 1
    else complain("upsert " .. i, r and r[2] or "no contact") end
  end
  items, requests = #calls == n and ok or -1, #calls
else
  io.stderr:write("ghl_bench: unknown workload ", workload, "\n")
  os.exit(2)
end
local elapsed, cpu = now_ms() - t0, (os.clock() - c0) * 1000
client:close()

print(("ok=%d failed=%d items=%d requests=%d retries=%d elapsed_ms=%.1f cpu_ms=%.1f%s"):format(ok, failed, items,
  requests, retries, elapsed, cpu, extra))
if failed > 0 and (workload == "w1" or workload == "w2" or workload == "w3") then os.exit(1) end
