-- Shared by the examples: lets them run from a checkout without installing,
-- and makes the client.
--
--   GHL_TOKEN=pit-... GHL_LOCATION_ID=... lua5.4 examples/<name>.lua   real GoHighLevel
--   lua5.4 examples/<name>.lua            the local GHL server (spec/support), started for the run
--
-- GHL_BASE_URL points the client elsewhere (e.g. a local server you started with `make mock`).
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua;"):format(root, root, root) .. package.path
package.cpath = ("%s/build/%s/?.so;"):format(root, jit and "luajit" or "lua5.4") .. package.cpath

local ghl = require "ghl"

local M = { ghl = ghl }
local server, client

--- The client, from the environment or against a local GHL server.
function M.client()
  local token, location_id = os.getenv("GHL_TOKEN"), os.getenv("GHL_LOCATION_ID")
  local base_url = os.getenv("GHL_BASE_URL")
  if not token then
    server = require("spec.support.server").start()
    token, location_id, base_url = server.token, server.location_id, server.url
  end
  client = ghl.new{ token = token, location_id = location_id, base_url = base_url }
  M.target = (base_url or "https://services.leadconnectorhq.com") .. (server and " (local GHL server)" or "")
  return client
end

--- Runs main(client) and cleans up; a failure is printed and exits 1.
function M.run(main)
  local ok, err = pcall(main, M.client())
  if client then client:close() end
  if server then server:stop() end
  if not ok then
    io.stderr:write(arg[0], " failed: ", tostring(err), "\n")
    os.exit(1)
  end
end

return M
