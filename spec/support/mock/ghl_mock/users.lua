-- Users (apps/users.json): get/create/update answer with the bare user
-- (UserSuccessfulResponseDto), delete {succeded, message}; GET /users/search
-- needs companyId even with a location token, pages with skip + limit
-- (strings) and answers {users, count}; the deprecated GET /users/ lists a
-- location's users.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-07-28"

-- a location token reaches the users of its location
local function visible(req, u)
  return u.roles and common.contains(u.roles.locationIds, req.token.locationId)
end

local function load(req)
  local u = state.users[req.params.userId]
  if not u or u.deleted then
    common.not_found("User")
    return nil
  end
  if not visible(req, u) then
    common.forbidden()
    return nil
  end
  return u
end

local function get(req)
  local u = load(req)
  if u then return common.reply(200, u) end
end

local CREATE = { "companyId", "firstName", "lastName", "email", "password", "phone", "type", "role", "locationIds",
  "permissions", "scopes", "scopesAssignedToOnly", "profilePhoto", "twilioPhone", "platformLanguage" }

local function check(body, creating)
  local allowed = common.set(CREATE)
  if not creating then allowed.companyId = nil end
  local problems = common.whitelist(body, allowed, {})
  if creating then
    common.required(body, { "companyId", "firstName", "lastName", "email", "password", "type", "role", "locationIds" },
      problems)
  end
  if body.email ~= nil and (type(body.email) ~= "string" or not body.email:match("^[^@%s]+@[^@%s]+%.[^@%s]+$")) then
    problems[#problems + 1] = "email must be an email"
  end
  if body.locationIds ~= nil and not common.strings(body.locationIds) then
    problems[#problems + 1] = "locationIds must be an array"
  end
  if body.type ~= nil and body.type ~= "account" and body.type ~= "agency" then
    problems[#problems + 1] = "type must be one of the following values: account, agency"
  end
  if body.role ~= nil and body.role ~= "admin" and body.role ~= "user" then
    problems[#problems + 1] = "role must be one of the following values: admin, user"
  end
  return common.ok(problems)
end

local function email_taken(email, except)
  for _, u in pairs(state.users) do
    if not u.deleted and u ~= except and u.email:lower() == email:lower() then return true end
  end
  return false
end

local function apply(u, body)
  for _, k in ipairs{ "firstName", "lastName", "email", "phone", "permissions", "scopes", "profilePhoto",
                      "platformLanguage" } do
    if body[k] ~= nil then u[k] = body[k] end
  end
  u.roles = u.roles or {}
  if body.type then u.roles.type, u.type = body.type, body.type end
  if body.role then u.roles.role = body.role end
  if body.locationIds then u.roles.locationIds = body.locationIds end
  u.name = ((u.firstName or "") .. " " .. (u.lastName or "")):gsub("^ +", ""):gsub(" +$", "")
end

local function create(req)
  local body = http.json_body(req)
  if not body or not check(body, true) then return end
  local own = state.locations[req.token.locationId]
  if not common.contains(body.locationIds, req.token.locationId)
    or (own and body.companyId ~= own.companyId) then
    return common.forbidden()
  end
  if email_taken(body.email) then return common.bad_request("User already exists with this email") end
  local u = { id = state.new_id(), companyId = body.companyId, deleted = false, extension = "",
              dateAdded = state.now_iso(), permissions = common.object(), scopes = {} }
  apply(u, body)
  state.add("users", u)
  return common.reply(201, u)
end

local function update(req)
  local u = load(req)
  if not u then return end
  local body = http.json_body(req)
  if not body or not check(body, false) then return end
  if body.email and email_taken(body.email, u) then return common.bad_request("User already exists with this email") end
  apply(u, body)
  return common.reply(200, u)
end

local function delete(req)
  local u = load(req)
  if not u then return end
  state.remove("users", u)
  return http.reply(200, { succeded = true, message = ("Queued deleting user with e-mail %s and name %s. "
    .. "Will take effect in a few minutes."):format(u.email, u.name) })
end

local SORTS = common.set{ "dateAdded", "firstName", "lastName", "email", "name" }

local function search(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "companyId" }, {})
  local skip = common.int(q("skip"), "skip", { default = 0, min = 0, string = true }, problems)
  local limit = common.int(q("limit"), "limit", { default = 25, min = 1, string = true }, problems)
  local sort = q("sort") or "dateAdded"
  if not SORTS[sort] then
    problems[#problems + 1] = "sort must be one of the following values: dateAdded, firstName, lastName, email, name"
  end
  local dir = q("sortDirection") or "asc"
  if dir ~= "asc" and dir ~= "desc" then
    problems[#problems + 1] = "sortDirection must be one of the following values: asc, desc"
  end
  if not common.ok(problems) then return end
  if q("locationId") and not common.own(req, q("locationId")) then return end
  local ids
  if q("ids") then ids = {} for id in q("ids"):gmatch("[^,]+") do ids[id] = true end end
  local text = q("query") and q("query"):lower()
  local all = {}
  for _, u in pairs(state.users) do
    if not u.deleted and u.companyId == q("companyId") and visible(req, u)
      and (not ids or ids[u.id]) and (not q("type") or u.roles.type == q("type"))
      and (not q("role") or u.roles.role == q("role"))
      and (not text or common.has(u.name, text) or common.has(u.email, text) or common.has(u.phone, text)) then
      all[#all + 1] = u
    end
  end
  table.sort(all, function(a, b)
    local x, y = (a[sort] or ""):lower(), (b[sort] or ""):lower()
    if x == y then return a.id < b.id end
    if dir == "desc" then return x > y end
    return x < y
  end)
  return common.reply(200, { users = common.slice(all, skip, limit), count = #all })
end

local function by_location(req)
  local problems = common.required_query(req, { "locationId" }, {})
  local location = common.q(req, "locationId")
  if not common.ok(problems) or not common.own(req, location) then return end
  local all = {}
  for _, u in pairs(state.users) do
    if not u.deleted and u.roles and common.contains(u.roles.locationIds, location) then all[#all + 1] = u end
  end
  table.sort(all, function(a, b) return a.id < b.id end)
  return common.reply(200, { users = all })
end

function M.register(route)
  route("GET", "/users/search", V, search)
  route("GET", "/users/", V, by_location)
  route("POST", "/users/", V, create)
  route("GET", "/users/{userId}", V, get)
  route("PUT", "/users/{userId}", V, update)
  route("DELETE", "/users/{userId}", V, delete)
end

return M
