-- Soak: N requests through one client against the local GHL server, with
-- the process's RSS sampled along the way. Fails when memory keeps growing.
--
--   lua5.4 tools/soak.lua [N]      (make check-memory runs a short one)
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "build/" .. (jit and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath

local ghl = require "ghl"
local server = require "spec.support.server"
local cjson = require "cjson"

local n = tonumber(arg[1]) or 100000

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb
  for line in f:lines() do
    kb = kb or tonumber(line:match("^VmRSS:%s+(%d+)"))
  end
  f:close()
  return kb
end

local srv = server.start()
-- GHL's default 100 per 10 s would make this a 3-hour test
local cfg = cjson.encode{ max = 1000000000, daily = 1000000000 }
os.execute(("curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '%s' %s/_mock/ratelimit")
  :format(cfg, srv.url))

local ok, err = pcall(function()
  local client = ghl.new{ token = srv.token, location_id = srv.location_id, base_url = srv.url }
  local samples, t0 = {}, os.clock()
  for i = 1, n do
    local c = client.contacts:get(("SeedC%015d"):format(i % 2500 + 1))
    assert(c, "request " .. i .. " failed")
    if i % (n // 10) == 0 then
      collectgarbage()
      samples[#samples + 1] = rss_kb()
    end
  end
  client:close()
  local first, last, peak = samples[2], samples[#samples], 0 -- [1] still includes warm-up
  for _, s in ipairs(samples) do peak = math.max(peak, s) end
  print(("soak: %d requests, %.1f s CPU; RSS after 20%%: %d KiB, at the end: %d KiB, peak %d KiB (%+.1f%%)")
    :format(n, os.clock() - t0, first, last, peak, (last - first) * 100 / first))
  assert(last <= first * 1.05 + 512, "RSS grew during the soak")
end)
srv:stop()
if not ok then
  io.stderr:write("soak failed: ", tostring(err), "\n")
  os.exit(1)
end
