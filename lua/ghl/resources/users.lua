--- client.users (spec: apps/users.json). Users come back unwrapped by GHL.
--
--   users:get(id)  create(fields)  update(id, fields)  delete(id)
--   users:search{...}   one page (companyId defaults to the client's company_id)
--   users:each{...}     every match (skip + limit)
local resource = require "ghl.resource"

local Users = resource.define("users", {
  get = { op = "users.get-user", args = { "userId" } },
  create = { op = "users.create-user", body = true },
  update = { op = "users.update-user", args = { "userId" }, body = true },
  delete = { op = "users.delete-user", args = { "userId" }, returns = true },
  search = { op = "users.search-users", query = true, page = true },
  each = { op = "users.search-users", query = true, each = true },
  pages = { op = "users.search-users", query = true, pages = true },
})

resource.about(Users, [[
The users of an agency and its locations. GHL answers with the user itself, not wrapped;
searches need the agency's `companyId`: the client's `company_id` unless given.]])

return Users
