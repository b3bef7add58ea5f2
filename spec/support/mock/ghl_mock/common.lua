-- Helpers shared by the route modules: GHL's error bodies, parameter checks
-- worded like NestJS's class-validator (GHL's 422s), location checks, and
-- JSON output of stored records.
local http = require "ghl_mock.http"
local cjson = require "cjson.safe"

local M = {}

M.null = cjson.null

--- 422 with a message array, as GHL's validation pipe answers.
function M.invalid(messages)
  if type(messages) == "string" then messages = { messages } end
  return http.error(422, messages, "Unprocessable Entity")
end

function M.forbidden()
  return http.reply(403, { statusCode = 403, message = "The token does not have access to this location",
                           traceId = http.trace_id() })
end

function M.not_found(thing)
  return http.error(404, thing .. " not found", "Not Found")
end

function M.bad_request(message)
  return http.error(400, message, "Bad Request")
end

-- Tables marked with this metatable are JSON objects even when empty;
-- every other empty table is written as [] (mpx cjson would write {}).
local OBJECT = {}
function M.object(t) return setmetatable(t or {}, OBJECT) end

--- A deep copy for JSON: keys starting with "_" (internal fields) are left
-- out and empty tables become [] unless marked with M.object.
local function out(v)
  if type(v) ~= "table" then return v end
  if next(v) == nil then
    if getmetatable(v) == OBJECT then return {} end
    return http.EMPTY_ARRAY
  end
  local n = #v
  local r = {}
  if n > 0 then
    for i = 1, n do r[i] = out(v[i]) end
    return r
  end
  for k, x in pairs(v) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then r[k] = out(x) end
  end
  return r
end
M.out = out

function M.reply(status, body)
  return http.reply(status, out(body))
end

--- Shallow copy of the named fields that are set.
function M.pick(src, names)
  local r = {}
  for _, k in ipairs(names) do
    if src[k] ~= nil and src[k] ~= cjson.null then r[k] = src[k] end
  end
  return r
end

--- A query parameter as one string: the first of repeated ones, "" for a bare flag.
function M.q(req, name)
  local v = req.query[name]
  if type(v) == "table" then v = v[1] end
  if v == true then return "" end
  return v
end

local function empty(v)
  return v == nil or v == "" or v == cjson.null
end
M.empty = empty

--- Adds "<name> should not be empty" for each missing field of t.
function M.required(t, names, problems)
  for _, k in ipairs(names) do
    if empty(t[k]) then problems[#problems + 1] = k .. " should not be empty" end
  end
  return problems
end

--- The same for query parameters (a bare "?name" counts as empty).
function M.required_query(req, names, problems)
  for _, k in ipairs(names) do
    if empty(M.q(req, k)) then problems[#problems + 1] = k .. " should not be empty" end
  end
  return problems
end

--- Adds "property <name> should not exist" for each field not in the set.
function M.whitelist(body, allowed, problems)
  local names = {}
  for k in pairs(body) do names[#names + 1] = tostring(k) end
  table.sort(names)
  for _, k in ipairs(names) do
    if not allowed[k] then problems[#problems + 1] = ("property %s should not exist"):format(k) end
  end
  return problems
end

function M.set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

--- A whole number from a query string or JSON number, checked against
-- opts {default, min, max, string = true for params GHL types as strings}.
-- Problems go to the list; returns the number (or the default).
function M.int(v, name, opts, problems)
  if empty(v) then return opts.default end
  local n = tonumber(v)
  if type(v) == "table" or type(v) == "boolean" or not n then
    problems[#problems + 1] = opts.string and (name .. " must be a number string")
      or (name .. " must be a number conforming to the specified constraints")
    return opts.default
  end
  if n ~= math.floor(n) then
    problems[#problems + 1] = name .. " must be an integer number"
    return opts.default
  end
  if opts.min and n < opts.min then
    problems[#problems + 1] = ("%s must not be less than %d"):format(name, opts.min)
  end
  if opts.max and n > opts.max then
    problems[#problems + 1] = ("%s must not be greater than %d"):format(name, opts.max)
  end
  return n
end

--- Replies 422 when there are problems; true when there are none.
function M.ok(problems)
  if #problems > 0 then
    M.invalid(problems)
    return false
  end
  return true
end

--- The token must own the location a request names; otherwise 403.
function M.own(req, location)
  if location ~= req.token.locationId then
    M.forbidden()
    return false
  end
  return true
end

--- A stored record by id that must belong to the caller's location:
-- 404 "<Thing> not found" or 403; nil then.
function M.load(coll, id, req, thing)
  local r = coll[id]
  if not r then
    M.not_found(thing)
    return nil
  end
  if r.locationId and r.locationId ~= req.token.locationId then
    M.forbidden()
    return nil
  end
  return r
end

--- An array of strings from a JSON body field, or nil.
function M.strings(v)
  if type(v) ~= "table" then return nil end
  if next(v) ~= nil and #v == 0 then return nil end
  for _, x in ipairs(v) do
    if type(x) ~= "string" then return nil end
  end
  return v
end

function M.contains(list, x)
  for _, v in ipairs(list or {}) do
    if v == x then return true end
  end
  return false
end

--- Case-insensitive substring test (plain, no patterns).
function M.has(hay, needle)
  if type(hay) ~= "string" then return false end
  return hay:lower():find(needle, 1, true) ~= nil
end

--- skip/limit paging over an array: the slice and the total.
function M.slice(list, skip, limit)
  local page = {}
  for i = skip + 1, math.min(#list, skip + limit) do page[#page + 1] = list[i] end
  return page
end

return M
