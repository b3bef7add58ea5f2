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
--
-- Prints one line: ok= failed= items= requests= elapsed_ms= (elapsed: first request to last
-- answer, in this process). Exits 1 when a call failed in w1-w3 or a walk saw the wrong
-- number of contacts; in w4 failed calls are the measurement and are only reported.

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

local TOKEN = "pit-bench-00000000-0000-4000-8000-000000000000"
local LOCATION_ID = "LocBench000000000001"

local workload, base_url, n, concurrency = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4] or "20")
if not (workload and base_url and n) then
  io.stderr:write("usage: ghl_bench.lua w1|w2|w3|w4 <base_url> <n> [concurrency]\n")
  os.exit(2)
end

local function id_of(i) return ("Ct%018d"):format(i) end

local now_ms = core.now_ms
local client = ghl.new{ token = TOKEN, location_id = LOCATION_ID, base_url = base_url }

local ok, failed, items, requests = 0, 0, 0, -1 -- requests: -1 when only the server knows
local function complain(what, err)
  failed = failed + 1
  if failed <= 3 then io.stderr:write("ghl_bench: ", what, ": ", tostring(err), "\n") end
end

local t0 = now_ms()
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
else
  io.stderr:write("ghl_bench: unknown workload ", workload, "\n")
  os.exit(2)
end
local elapsed = now_ms() - t0
client:close()

print(("ok=%d failed=%d items=%d requests=%d elapsed_ms=%.1f"):format(ok, failed, items, requests, elapsed))
if failed > 0 and workload ~= "w4" then os.exit(1) end
