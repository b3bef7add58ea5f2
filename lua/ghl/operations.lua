--- The endpoint catalogue by operation: lookup by `service.operationId` (or
-- a bare operationId where it is unique), and the routing of flat params
-- into path, query and body.
-- @internal ghl.operations
local services = require "ghl.catalog" -- service -> text of its entries
local errors = require "ghl.errors"

local M = {}

local load = loadstring or load -- luacheck: ignore 113 (loadstring: Lua 5.1 / LuaJIT)

-- "service.operationId" -> entry, filled one service at a time, when one of
-- its operations is first asked for
local entries, compiled = {}, {}

local function compile(service)
  compiled[service] = true
  local text = services[service]
  if not text then return end
  local chunk = assert(load("return " .. text, "=ghl.catalog[" .. service .. "]"))
  for id, e in pairs(chunk()) do entries[service .. "." .. id] = e end
end

--- The catalogue entry of "service.operationId", or nil.
function M.entry(key)
  local e = entries[key]
  if e or type(key) ~= "string" then return e end
  local service = key:match("^([^.]+)%.")
  if service and not compiled[service] then
    compile(service)
    return entries[key]
  end
end

-- operationId -> list of "service.operationId" keys; read from the text of
-- the catalogue (entry keys are its only `["..."]={`), without compiling it
local by_id
local function ids()
  if by_id then return by_id end
  by_id = {}
  for service, text in pairs(services) do
    for id in text:gmatch('%["([^"]+)"%]={') do
      local list = by_id[id] or {}
      list[#list + 1] = service .. "." .. id
      by_id[id] = list
    end
  end
  for _, list in pairs(by_id) do table.sort(list) end
  return by_id
end

--- Every "service.operationId", sorted (without compiling anything).
function M.keys()
  local out = {}
  for _, list in pairs(ids()) do
    for _, key in ipairs(list) do out[#out + 1] = key end
  end
  table.sort(out)
  return out
end

--- Every entry: "service.operationId" -> entry (compiles what is not yet).
function M.all()
  for service in pairs(services) do
    if not compiled[service] then compile(service) end
  end
  local out = {}
  for k, v in pairs(entries) do out[k] = v end
  return out
end

--- Edit distance (Levenshtein) of two strings: the suggestions' measure
-- (the command line's too).
local function distance(a, b)
  if #a > #b then a, b = b, a end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = ca == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end
M.distance = distance

--- Up to five known keys that look like `name`.
function M.suggest(name)
  local scored = {}
  local lname = name:lower()
  for id, keys in pairs(ids()) do
    local lid = id:lower()
    for _, key in ipairs(keys) do
      local d = math.min(distance(lname, key:lower()), distance(lname, lid))
      if key:lower():find(lname, 1, true) then d = math.min(d, 1) end
      scored[#scored + 1] = { key = key, d = d }
    end
  end
  table.sort(scored, function(x, y) return x.d < y.d or (x.d == y.d and x.key < y.key) end)
  local out = {}
  for i = 1, math.min(5, #scored) do out[i] = scored[i].key end
  return out
end

--- The catalogue entry and key for `name`; raises for unknown or ambiguous names.
function M.resolve(name, where)
  if type(name) ~= "string" or name == "" then
    errors.invalid("%s: operation must be a non-empty string like \"contacts.get-contact\", got %s",
      where, type(name))
  end
  local e = M.entry(name)
  if e then return e, name end
  local keys = ids()[name]
  if keys and #keys == 1 then return M.entry(keys[1]), keys[1] end
  if keys then
    errors.invalid("%s: operationId '%s' is in several services; name one of: %s",
      where, name, table.concat(keys, ", "))
  end
  errors.invalid("%s: unknown operation '%s'; did you mean %s?", where, name,
    table.concat(M.suggest(name), ", "))
end

-- The sets of an entry's names, made once: path, query, body fields, and
-- the query parameters sent comma-joined (what client:prepare takes).
local function sets(e)
  local s = e._sets
  if s then return s end
  local function set_of(list)
    if not list then return nil end
    local t = {}
    for _, v in ipairs(list) do t[v] = true end
    return t
  end
  s = { pp = set_of(e.pp) or {}, q = set_of(e.q) or {}, bf = set_of(e.bf), qc = set_of(e.qc) }
  e._sets = s
  return s
end
M.sets = sets

-- case, "_" and "-" do not count when names are compared for a suggestion
local function norm(s) return (s:lower():gsub("[_%-]", "")) end

--- Up to three of `names` (a list) that look like `name`: pipelineId ->
-- pipeline_id, firstname -> firstName.
function M.closest(name, names)
  local scored, n = {}, norm(name)
  for _, cand in ipairs(names) do
    local c = norm(cand)
    local d = distance(n, c)
    if c:find(n, 1, true) or n:find(c, 1, true) then d = math.min(d, 1) end
    if d <= math.max(2, math.floor(#n / 3)) then scored[#scored + 1] = { name = cand, d = d } end
  end
  table.sort(scored, function(x, y) return x.d < y.d or (x.d == y.d and x.name < y.name) end)
  local out = {}
  for i = 1, math.min(3, #scored) do out[i] = scored[i].name end
  return out
end

--- The metatable of ghl.unchecked{...}: a params table whose names are sent
-- as they are, for fields GHL takes that its spec does not list.
M.UNCHECKED = { __name = "ghl.unchecked" }

local function unknown(where, key, what, name, known)
  local near = M.closest(name, known)
  local hint = #near > 0 and ("; did you mean %s?"):format(table.concat(near, ", "))
    or (#known > 0 and ("; it takes: %s"):format(table.concat(known, ", ")) or "")
  errors.invalid("%s: %s has no %s '%s'%s (a field the spec does not list: wrap the table in ghl.unchecked{...})",
    where, key, what, name, hint)
end

-- every name an operation takes, for suggestions
local function all_names(e)
  local out = {}
  for _, list in ipairs{ e.pp or {}, e.q or {}, e.bf or {} } do
    for _, v in ipairs(list) do out[#out + 1] = v end
  end
  return out
end
M.all_names = all_names

--- Refuses query parameters the operation does not have and body fields
-- its schema does not list (where it lists them), with the closest names:
-- nothing is sent with a misspelt name. `unchecked`: the caller's table was
-- marked with ghl.unchecked.
function M.check_names(e, key, parts, where, unchecked)
  if unchecked then return end
  local s = sets(e)
  for k in pairs(parts.query or {}) do
    if not s.q[k] then unknown(where, key, "query parameter", tostring(k), e.q or {}) end
  end
  if s.bf and parts.body then
    for k in pairs(parts.body) do
      if not s.bf[k] then unknown(where, key, "body field", tostring(k), e.bf) end
    end
  end
end

--- Splits flat params into {path, query, body} by the entry's parameters.
-- Names that are neither path nor query go to the body of operations that
-- take one, when the body schema lists them (or does not list any); any
-- other name is an error with the closest names.
function M.split(e, key, params, where)
  local parts = { path = {}, query = {} }
  local s = sets(e)
  local unchecked = getmetatable(params) == M.UNCHECKED
  for k, v in pairs(params or {}) do
    if type(k) ~= "string" then
      errors.invalid("%s: parameter names must be strings, got %s", where, type(k))
    end
    if s.pp[k] then
      parts.path[k] = v
    elseif s.q[k] then
      parts.query[k] = v
    elseif e.b and (unchecked or not s.bf or s.bf[k]) then
      parts.body = parts.body or {}
      parts.body[k] = v
    elseif not unchecked then
      unknown(where, key, e.b and "parameter or body field" or "parameter", k, all_names(e))
    else
      parts.query[k] = v -- unchecked, no body: the query is the only place left
    end
  end
  return parts
end

local DEFAULTS = {
  locationId = "location_id", location_id = "location_id", companyId = "company_id",
}

--- Fills required locationId / location_id / companyId from the client
-- and checks every required parameter is there (nothing is sent otherwise).
function M.complete(client, e, key, parts, where)
  local function fill(list, tbl)
    for _, name in ipairs(list or {}) do
      if tbl[name] == nil and DEFAULTS[name] then tbl[name] = client[DEFAULTS[name]] end
    end
  end
  fill(e.pp, parts.path)
  fill(e.rq, parts.query)
  if e.rb and e.b then
    parts.body = parts.body or {}
    fill(e.rb, parts.body)
  end
  local function need(list, tbl, what)
    for _, name in ipairs(list or {}) do
      if tbl == nil or tbl[name] == nil then
        local hint = DEFAULTS[name] and (" (or give %s to ghl.new)"):format(DEFAULTS[name]) or ""
        errors.invalid("%s: %s needs the %s parameter '%s'%s", where, key, what, name, hint)
      end
    end
  end
  need(e.pp, parts.path, "path")
  need(e.rq, parts.query, "query")
  if e.b == "json" or e.b == "form" then need(e.rb, parts.body, "body") end
  return parts
end

return M
