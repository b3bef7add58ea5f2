-- One OS process of the refresh-race specs: waits for a common start time,
-- then makes an API call with tokens that need renewing, from a shared store.
--   lua5.4 spec/support/oauth_worker.lua <base_url> <file|redis> <path|host:port> <start_at_ms> [crash|agency]
-- "crash" exits the process right after GHL answered the refresh, before the
-- new tokens are stored (the store's set() kills it). "agency": the client
-- has the agency's company_id, and the location token is minted from the
-- agency token (Redis keys under "mint:" rather than "race:").
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "build/" .. (jit and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath

local ghl = require "ghl"
local server = require "spec.support.server"
local clock = require "ghl.clock"

local base_url, kind, where, start_at = arg[1], arg[2], arg[3], tonumber(arg[4])
local crash, agency = arg[5] == "crash", arg[5] == "agency"

local store
if kind == "file" then
  store = ghl.store.file(where)
else
  local host, port = where:match("^(.-):(%d+)$")
  store = ghl.store.redis{ host = host, port = tonumber(port), prefix = agency and "mint:" or "race:" }
end
if crash then
  local set = store.set
  store.set = function(self, key, value)
    if value:find("refresh_token", 1, true) then os.exit(3) end -- dies holding the new pair
    return set(self, key, value)
  end
end

-- a short lease: a crashed holder of a Redis lock must not stall the others for long
local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = base_url,
                       store = store, refresh_skew_ms = 0, timeout_ms = 3000, lock_ttl_ms = 4000 }
local client = ghl.new{ oauth = app, location_id = server.LOCATION_ID, company_id = agency and server.COMPANY_ID or nil,
                        base_url = base_url, max_retries = 0, pacing = false }
while clock.now_ms() < start_at do clock.sleep_ms(2) end
local c, err = client.contacts:get("SeedC000000000000001")
if not c then
  io.stderr:write("worker failed: ", tostring(err), "\n")
  os.exit(1)
end
print("ok " .. c.id)
