--- The do-it-yourself peer: what a Lua user writes instead of using a library.
-- Lua 5.1, Debian's lua-curl (0.3.0: easy handles only, no getinfo, so the status is
-- read from the status line in the header callback) and lua-cjson, in a loop
-- (bench/run.lua runs it).
--
--   lua5.1 bench/luacurl_bench.lua w1 <base_url> <n>
--
--   w1  n sequential GET /contacts/{id} on ONE reused easy handle, each body decoded with
--       cjson and its contact id checked
--
-- Sends the headers the libraries send (Authorization: Bearer, Version, Accept).
-- Prints one line: ok= failed= items= requests= elapsed_ms=. Exits 1 when a call failed.
local curl = require "curl"
local cjson = require "cjson"
local socket = require "socket" -- only for the clock (Lua 5.1 has no wall clock under a second)

local TOKEN = "pit-bench-00000000-0000-4000-8000-000000000000"

local workload, base_url, n = arg[1], arg[2], tonumber(arg[3])
if workload ~= "w1" or not base_url or not n then
  io.stderr:write("usage: lua5.1 luacurl_bench.lua w1 <base_url> <n>\n")
  os.exit(2)
end

local e = curl.easy_init()
e:setopt(curl.OPT_PROXY, "") -- loopback only, whatever the environment says
e:setopt(curl.OPT_NOSIGNAL, 1)
e:setopt(curl.OPT_TIMEOUT_MS, 30000)
e:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer " .. TOKEN, "Version: 2021-07-28",
                                "Accept: application/json" })
local chunks, nchunks = {}, 0
local status -- of the answer being read
e:setopt(curl.OPT_HEADERFUNCTION, function(s, len)
  local code = s:match("^HTTP/%S+ (%d%d%d)")
  if code then status = tonumber(code) end
  return len
end)
e:setopt(curl.OPT_WRITEFUNCTION, function(s, len)
  nchunks = nchunks + 1
  chunks[nchunks] = s
  return len
end)

local ok, failed = 0, 0
local function complain(what, err)
  failed = failed + 1
  if failed <= 3 then io.stderr:write("luacurl_bench: ", what, ": ", tostring(err), "\n") end
end

local t0 = socket.gettime()
for i = 1, n do
  local id = ("Ct%018d"):format(i)
  nchunks, status = 0, nil
  e:setopt(curl.OPT_URL, base_url .. "/contacts/" .. id)
  local code, err = e:perform()
  local body = table.concat(chunks, "", 1, nchunks)
  if code ~= 0 then
    complain("get " .. id, err or ("curl error " .. tostring(code)))
  elseif status ~= 200 then
    complain("get " .. id, "HTTP " .. tostring(status))
  else
    local decoded = cjson.decode(body)
    local c = type(decoded) == "table" and decoded.contact
    if type(c) == "table" and c.id == id then ok = ok + 1 else complain("get " .. id, "wrong contact") end
  end
end
local elapsed = (socket.gettime() - t0) * 1000

print(("ok=%d failed=%d items=%d requests=%d elapsed_ms=%.1f"):format(ok, failed, ok, n, elapsed))
if failed > 0 then os.exit(1) end
