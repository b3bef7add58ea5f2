--- What ghl.job knows about an operation: its name (aliases such as
-- "create"), whether a write whose answer was lost may be repeated or must
-- be looked up first, the id GHL returned, and the checks a row's params
-- get before anything is sent (names, required parameters, lists, types of
-- the contact fields, what JSON can carry).
-- @internal ghl.job.ops
local core = require "ghl.core"
local operations = require "ghl.operations"

local M = {}

local null = core.null

--- Short names of the contact operations bulk jobs run most.
M.ALIASES = {
  create = "contacts.create-contact",
  upsert = "contacts.upsert-contact",
  update = "contacts.update-contact",
  delete = "contacts.delete-contact",
  add_tags = "contacts.add-tags",
  remove_tags = "contacts.remove-tags",
  add_followers = "contacts.add-followers-contact",
  add_to_workflow = "contacts.add-contact-to-workflow",
  remove_from_workflow = "contacts.delete-contact-from-workflow",
}

--- The catalogue entry and key of `op` (an alias, "service.operationId" or
-- a unique operationId); raises invalid_argument for an unknown one.
function M.resolve(op)
  local e, key = operations.resolve(M.ALIASES[op] or op, "ghl.job")
  return e, key
end

local IDEMPOTENT = { GET = true, PUT = true, DELETE = true, HEAD = true, OPTIONS = true }

-- How a write whose outcome is unknown is settled (see M.resolution):
-- "lookup": look the record up by its natural key (email, phone) first;
-- "keyed": sending it again is safe when the row has a natural key (an
-- upsert matches on email or phone); "again": sending it again is safe (a
-- PUT, DELETE, or adding tags: a set).
local HOW = {
  ["contacts.create-contact"] = "lookup",
  ["contacts.upsert-contact"] = "keyed",
  ["contacts.add-tags"] = "again",
  ["contacts.remove-tags"] = "again",
  ["contacts.add-followers-contact"] = "again",
  ["contacts.remove-followers-contact"] = "again",
}

--- The email or phone of a contact row, as { email = } or { number = }
-- (what contacts.get-duplicate-contact takes), or nil.
function M.natural_key(params)
  if type(params) ~= "table" then return nil end
  local email, phone = params.email, params.phone
  if type(email) == "string" and email ~= "" then return { email = email }, "email" end
  if type(phone) == "string" and phone ~= "" then return { number = phone }, "phone" end
  return nil
end

--- How an ambiguous row of operation `key` is settled: "lookup" (query
-- GHL by its natural key: found is done, not found is sent again),
-- "again" (sent again: repeating it changes nothing), or "report" (no
-- natural key: left ambiguous unless the job may retry ambiguous rows).
function M.resolution(key, e, params)
  local how = HOW[key] or (IDEMPOTENT[e.m] and "again") or "report"
  if how == "keyed" then how = M.natural_key(params) and "again" or "report" end
  if how == "lookup" and not M.natural_key(params) then how = "report" end
  return how
end

--- The lookup call of a contact row (contacts.get-duplicate-contact).
function M.lookup_call(params)
  local q, field = M.natural_key(params)
  if type(params.locationId) == "string" then q.locationId = params.locationId end
  return { op = "contacts.get-duplicate-contact", params = q }, field
end

--- The id of what a lookup found, or nil.
function M.found_id(body)
  if type(body) ~= "table" then return nil end
  local c = body.contact
  if type(c) == "table" and type(c.id) == "string" and c.id ~= "" then return c.id end
  local list = body.contacts
  if type(list) == "table" and type(list[1]) == "table" and type(list[1].id) == "string" then return list[1].id end
  return nil
end

local RETRYABLE_STATUS = { [401] = true, [403] = true, [408] = true, [429] = true }

--- What a failed call means for its row: "ambiguous" (the write may have
-- been applied: a POST or PATCH whose request may have reached GHL with no
-- answer, or answered 5xx) or "failed"; and, for a failure, whether the
-- next run sends the row again (a 4xx that is about the row is final
-- until the row changes; rate limits, auth, network, 5xx are not).
function M.classify(err, method)
  local kind, status = err and err.kind, err and err.status
  if not IDEMPOTENT[method] then
    if (kind == "network" or kind == "timeout") and err.sent ~= false then return "ambiguous", true end
    if status == 500 or status == 502 or status == 503 or status == 504 then return "ambiguous", true end
  end
  if kind == "invalid_argument" then return "failed", false end
  if type(status) == "number" and status >= 400 and status < 500 and not RETRYABLE_STATUS[status] then
    return "failed", false
  end
  return "failed", true
end

--- The id of the record a successful call made or changed: `id` of the
-- answer or of its wrapped record (`contact`, `opportunity`, ...), else
-- the value of the first path parameter (an update names its record).
function M.id_of(e, body, params)
  if type(body) == "table" then
    if type(body.id) == "string" then return body.id end
    for _, f in ipairs(e.r or {}) do
      local v = body[f]
      if type(v) == "table" then
        local id = v.id or v._id
        if type(id) == "string" then return id end
      end
    end
  end
  local pp = e.pp and e.pp[1]
  local v = pp and type(params) == "table" and params[pp]
  if type(v) == "string" then return v end
  return nil
end

-- checks -------------------------------------------------------------------

-- The types of the contact fields (CreateContactDto, UpdateContactDto,
-- UpsertContactDto of GHL's contacts spec), which the catalogue does not
-- carry: "string", "email", "boolean", "strings" (a list of strings),
-- "object", "custom_fields" (a list of { id or key, field_value }).
local CONTACT = {
  firstName = "string", lastName = "string", name = "string", email = "email", phone = "string",
  address1 = "string", city = "string", state = "string", postalCode = "string", website = "string",
  timezone = "string", source = "string", country = "string", companyName = "string", gender = "string",
  assignedTo = "string", dateOfBirth = "string", locationId = "string", dnd = "boolean",
  createNewIfDuplicateAllowed = "boolean", tags = "strings", customFields = "custom_fields",
  dndSettings = "object", inboundDndSettings = "object",
}
M.TYPES = {
  ["contacts.create-contact"] = CONTACT, ["contacts.upsert-contact"] = CONTACT, ["contacts.update-contact"] = CONTACT,
  ["contacts.add-tags"] = { tags = "strings" }, ["contacts.remove-tags"] = { tags = "strings" },
}

--- The type of body field `name` of operation `key`: one of M.TYPES, or
-- "list" where the body schema has an array, or nil.
function M.field_type(e, key, name)
  local t = M.TYPES[key] and M.TYPES[key][name]
  if t then return t end
  local o = type(e.bs) == "table" and e.bs.o
  local s = type(o) == "table" and o[name]
  if s == "a" or (type(s) == "table" and s.a) then return "list" end
  return nil
end

local function describe(v)
  if type(v) == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return ("the string %q"):format(v)
  end
  if type(v) == "number" then return "the number " .. tostring(v) end
  if type(v) == "table" then return next(v) == nil and "an empty table" or (#v > 0 and "a list" or "an object") end
  return type(v)
end
M.describe = describe

local function is_list(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

local function is_object(v)
  if type(v) ~= "table" then return false end
  return next(v) == nil or #v == 0
end

local EMAIL = "^[^@%s]+@[^@%s]+%.[^@%s]+$"

-- The problem with value v of a field typed t, or nil.
local function type_problem(t, v)
  if v == null then return nil end
  if t == "string" then
    if type(v) ~= "string" then return "must be a string, got " .. describe(v) end
  elseif t == "email" then
    if type(v) ~= "string" then return "must be an email address (a string), got " .. describe(v) end
    if not v:match(EMAIL) then return "is not an email address: " .. describe(v) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return "must be true or false, got " .. describe(v) end
  elseif t == "strings" then
    if not is_list(v) then return "must be a list of strings, got " .. describe(v) end
    for i, x in ipairs(v) do
      if type(x) ~= "string" then return ("must be a list of strings: item %d is %s"):format(i, describe(x)) end
    end
  elseif t == "list" then
    if not is_list(v) then return "must be a list (a JSON array), got " .. describe(v) end
  elseif t == "object" then
    if not is_object(v) then return "must be an object, got " .. describe(v) end
  elseif t == "custom_fields" then
    if not is_list(v) then return "must be a list of { id, field_value }, got " .. describe(v) end
    for i, x in ipairs(v) do
      if type(x) ~= "table" or #x > 0 then return ("must be a list of objects: item %d is %s"):format(i, describe(x)) end
      if type(x.id) ~= "string" and type(x.key) ~= "string" then
        return ("item %d names no custom field (an `id` or a `key`)"):format(i)
      end
    end
  end
  return nil
end

local all_names = operations.all_names -- every name an operation takes, for suggestions
M.all_names = all_names

local DEFAULTS = { locationId = "location_id", location_id = "location_id", companyId = "company_id" }

local function scalar(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean"
end

--- Every problem of a row's params for operation `key` (catalogue entry
-- `e`) with `client`'s defaults: a list of { field =, problem = } (empty:
-- none). Names the operation does not take (with the closest ones),
-- required parameters missing, a path parameter that is no id, lists,
-- the contact fields' types, and what the JSON encoder refuses (NaN,
-- infinities, invalid UTF-8, mixed tables), all at once.
function M.check(client, e, key, params)
  local problems = {}
  local function bad(field, msg)
    problems[#problems + 1] = { field = field, problem = msg }
  end
  if type(params) ~= "table" then
    bad(nil, "a row must give a table of parameters, got " .. describe(params))
    return problems
  end
  local s = operations.sets(e)
  local unchecked = getmetatable(params) == operations.UNCHECKED
  local body, known = nil, nil
  for k, v in pairs(params) do
    if type(k) ~= "string" then
      bad(tostring(k), "parameter names must be strings")
    elseif s.pp[k] then
      if (type(v) ~= "string" and type(v) ~= "number") or v == "" or v == "." or v == ".." then
        bad(k, "must be an id (a non-empty string), got " .. describe(v))
      end
    elseif s.q[k] then
      if not scalar(v) and not (is_list(v) and next(v) ~= nil) then
        bad(k, "a query parameter must be a string, number, boolean or list of them, got " .. describe(v))
      end
    elseif e.b and (unchecked or not s.bf or s.bf[k]) then
      body = body or {}
      body[k] = v
    else
      known = known or all_names(e)
      local near = operations.closest(k, known)
      bad(k, ("is not a parameter of %s%s"):format(key,
        #near > 0 and ("; did you mean %s?"):format(table.concat(near, ", ")) or ""))
    end
  end
  local function need(list, where)
    for _, name in ipairs(list or {}) do
      local d = DEFAULTS[name]
      if params[name] == nil and not (d and client[d]) then
        bad(name, ("is required (a %s parameter)%s"):format(where,
          d and (" or give %s to ghl.new"):format(d) or ""))
      end
    end
  end
  need(e.pp, "path")
  need(e.rq, "query")
  if e.b == "json" or e.b == "form" then need(e.rb, "body") end
  if body then
    local clean = {} -- the fields without a type problem go to the encoder
    for k, v in pairs(body) do
      local t = M.field_type(e, key, k)
      local p = t and type_problem(t, v)
      if p then bad(k, p) else clean[k] = v end
    end
    if e.b == "json" then
      local ok, err = pcall(core.json_encode, clean, e.bs)
      if not ok then
        local msg = tostring(type(err) == "table" and err.message or err)
        local path, rest = msg:match("^value%.?(%S*) (.*)$")
        bad(path ~= "" and path or nil, rest or msg)
      end
    end
  end
  return problems
end

return M
