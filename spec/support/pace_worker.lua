-- One OS process of the shared-pacing specs (spec/pacing_store_spec.lua):
-- waits for a common start time, then makes `n` calls for the seeded
-- location, pacing through a Redis pacing_store, and prints one JSON line:
-- { ok, failed = { kind, ... }, retries_429, told = { reason, ... }, sent_ms }.
--   lua5.4 spec/support/pace_worker.lua <base_url> <redis_port> <prefix> <start_at_ms> <n>
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "build/" .. (jit and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath

local ghl = require "ghl"
local server = require "spec.support.server"
local clock = require "ghl.clock"
local cjson = require "cjson"

local base_url, port, prefix, start_at, n = arg[1], tonumber(arg[2]), arg[3], tonumber(arg[4]), tonumber(arg[5])

local out = { ok = 0, failed = {}, retries_429 = 0, told = {} }
local client = ghl.new{
  token = server.TOKEN, location_id = server.LOCATION_ID,
  base_url = base_url, timeout_ms = 10000, retry_base_ms = 5, retry_max_delay_ms = 50,
  max_retries = 3, max_retry_time_ms = 10000,
  pacing_store = ghl.store.redis{ port = port, prefix = prefix },
  on_retry = function(i) if i.status == 429 then out.retries_429 = out.retries_429 + 1 end end,
  on_wait = function(i) if i.reason == "store_unreachable" then out.told[#out.told + 1] = i.reason end end,
}
while clock.now_ms() < start_at do clock.sleep_ms(2) end
local t0 = clock.now_ms()
for _ = 1, n do
  local c, err = client.contacts:get("SeedC000000000000001")
  if c then out.ok = out.ok + 1 else out.failed[#out.failed + 1] = err.kind .. ": " .. tostring(err.message) end
end
out.sent_ms = clock.now_ms() - t0
if #out.failed == 0 then out.failed = nil end
if #out.told == 0 then out.told = nil end
print(cjson.encode(out))
