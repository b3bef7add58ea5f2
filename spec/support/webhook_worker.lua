-- One process of the webhook race spec: receives the same signed delivery
-- as another process at the same moment, through a Redis claim store, with
-- a handler that takes a while and notes each run in a file.
--   lua5.4 spec/support/webhook_worker.lua <redis port> <body file> <sig> <pubkey file> <start_at ms> <log>
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (jit and "build/luajit/?.so;" or "build/lua5.4/?.so;") .. package.cpath
local ghl = require "ghl"
local clock = require "ghl.clock"
local port, body_file, sig, key_file, start_at, log = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5]), arg[6]
local function read(p) local f = assert(io.open(p, "rb")) local s = f:read("a") f:close() return s end
local body, key = read(body_file), read(key_file)
local store = ghl.store.redis{ port = tonumber(port), prefix = "race:" }
while clock.now_ms() < start_at do clock.sleep_ms(1) end
local status, reply = ghl.webhook.receive(body, { ["x-ghl-signature"] = sig }, function()
  local f = assert(io.open(log, "a"))
  f:write("handled\n")
  f:close()
  clock.sleep_ms(400) -- long enough for the other process to try meanwhile
  return true
end, { keys = { key }, store = store })
io.write(status, " ", require("cjson").encode(reply), "\n")
