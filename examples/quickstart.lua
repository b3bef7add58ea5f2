-- Create, read, update and delete a contact, printing each step.
--
--   GHL_TOKEN=pit-... GHL_LOCATION_ID=... lua5.4 examples/quickstart.lua   real GoHighLevel
--   lua5.4 examples/quickstart.lua                                         the local GHL server
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

local function show(c)
  return ("%s %s <%s> tags: %s"):format(c.firstName or "", c.lastName or "", c.email or "",
    (c.tags and #c.tags > 0) and table.concat(c.tags, ", ") or "none")
end

support.run(function(client)
  print(("ghl %s -> %s"):format(support.ghl.VERSION, support.target))
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
end)
