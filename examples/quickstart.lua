-- Create, read, update and delete a contact, printing each step.
--
--   GHL_TOKEN=pit-... GHL_LOCATION_ID=... lua5.4 examples/quickstart.lua   # real GoHighLevel
--   lua5.4 examples/quickstart.lua                                         # the local GHL server
--
-- Without GHL_TOKEN it starts the local GHL server (spec/support) for the run.

-- Run from a checkout without installing: find lua/ and build/ next to this file.
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua;"):format(root, root, root) .. package.path
package.cpath = ("%s/build/%s/?.so;"):format(root, jit and "luajit" or "lua5.4") .. package.cpath

local ghl = require "ghl"

local token, location_id, base_url = os.getenv("GHL_TOKEN"), os.getenv("GHL_LOCATION_ID"), os.getenv("GHL_BASE_URL")
local server
if not token then
  server = require("spec.support.server").start()
  token, location_id, base_url = server.token, server.location_id, server.url
end

local client = ghl.new{ token = token, location_id = location_id, base_url = base_url }
print(("ghl %s -> %s%s"):format(ghl.VERSION, base_url or "https://services.leadconnectorhq.com",
  server and " (local GHL server)" or ""))

local function show(c)
  return ("%s %s <%s> tags: %s"):format(c.firstName or "", c.lastName or "", c.email or "",
    (c.tags and #c.tags > 0) and table.concat(c.tags, ", ") or "none")
end

local function run()
  local email = ("ada.quickstart.%d@example.com"):format(os.time())
  local c = assert(client.contacts:create{ firstName = "Ada", lastName = "Lovelace", email = email })
  print("created " .. c.id .. ": " .. show(c))

  c = assert(client.contacts:get(c.id))
  print("read    " .. c.id .. ": " .. show(c))

  c = assert(client.contacts:update(c.id, { tags = { "quickstart", "vip" }, phone = "+15555550100" }))
  print("updated " .. c.id .. ": " .. show(c) .. ", phone " .. tostring(c.phone))

  assert(client.contacts:delete(c.id))
  print("deleted " .. c.id)

  local gone, err = client.contacts:get(c.id)
  assert(gone == nil and err, "the contact should be gone")
  print("get after delete -> " .. tostring(err))
end

local ok, err = pcall(run)
client:close()
if server then server:stop() end
if not ok then
  io.stderr:write("quickstart failed: ", tostring(err), "\n")
  os.exit(1)
end
