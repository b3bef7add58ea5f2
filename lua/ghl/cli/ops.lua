--- The operations of the catalogue for the ghl command: finding one by
-- name (with suggestions for a typo), the one-line summary `ghl ops`
-- lists, and the whole description of one operation (its parameters,
-- where each goes, which are required, the token and the Version header).
local operations = require "ghl.operations"
local tokens = require "ghl.tokens"
local messages = require "ghl.cli.messages"

local M = {}

-- "service.operationId" keys, and bare operationId -> keys
local keys_cache, by_id_cache
local function keys()
  if keys_cache then return keys_cache, by_id_cache end
  keys_cache, by_id_cache = operations.keys(), {}
  for _, k in ipairs(keys_cache) do
    local id = k:match("^[^.]+%.(.+)$")
    local list = by_id_cache[id] or {}
    list[#list + 1] = k
    by_id_cache[id] = list
  end
  return keys_cache, by_id_cache
end
M.keys = keys

--- The keys `name` names exactly: itself ("service.operationId"), or the
-- keys of a bare operationId; case does not count when nothing matches
-- with it. An empty list: no operation has that name.
function M.named(name)
  local all, by_id = keys()
  if operations.entry(name) then return { name } end
  if by_id[name] then return by_id[name] end
  local lname, out = name:lower(), {}
  for _, k in ipairs(all) do
    if k:lower() == lname or k:match("^[^.]+%.(.+)$"):lower() == lname then out[#out + 1] = k end
  end
  return out
end

--- Up to three keys that look like `name` (a typo of a key or of a bare
-- operationId), or an empty list.
function M.suggest(name)
  local all = keys()
  local with_service = name:find(".", 1, true) ~= nil
  return messages.suggest(name, all, 3, function(k)
    return with_service and k or k:match("^[^.]+%.(.+)$")
  end)
end

--- The keys whose name holds `filter` (case does not count), sorted.
function M.matching(filter)
  local lf, out = filter:lower(), {}
  for _, k in ipairs(keys()) do
    if k:lower():find(lf, 1, true) then out[#out + 1] = k end
  end
  return out
end

--- The line of `ghl ops`: key, method, path, (paging style), token.
function M.summary(key)
  local e = operations.entry(key)
  return table.concat{ key, "  ", e.m, " ", e.p, e.pg and ("  (" .. e.pg .. ")") or "", "  token: ",
    tokens.describe(e.t), e.dep and "  [deprecated]" or "" }
end

--- The token an operation takes, in words.
function M.token_words(t)
  local loc, agency, pit_loc, pit_agency = false, false, false, false
  for alt in (t or ""):gmatch("%S+") do
    if alt:sub(1, 1) == "L" then loc = true; pit_loc = pit_loc or alt == "L" end
    if alt:sub(1, 1) == "A" then agency = true; pit_agency = pit_agency or alt == "A" end
  end
  if not (loc or agency) then return "none declared by the spec" end
  local who = loc and agency and "either: a location (sub-account) or an agency token"
    or loc and "location: a sub-account token" or "agency: an agency (company) token"
  if not (pit_loc or pit_agency) then
    return who .. "; OAuth only (GHL refuses a Private Integration Token here)"
  end
  if loc and agency and pit_loc ~= pit_agency then
    return who .. ("; the %s token by OAuth only"):format(pit_loc and "agency" or "location")
  end
  return who .. " (a Private Integration Token or an OAuth token)"
end

local function set_of(list)
  local t = {}
  for _, v in ipairs(list or {}) do t[v] = true end
  return t
end

--- The parameters of an operation: a list of { name, where ("path",
-- "query", "body"), required, list (an array of the body), ms (epoch
-- milliseconds), default ("GHL_LOCATION_ID"...) }.
function M.params(e)
  local out = {}
  local rq, rb, ms = set_of(e.rq), set_of(e.rb), set_of(e.ms)
  local defaults = { locationId = "GHL_LOCATION_ID", location_id = "GHL_LOCATION_ID", companyId = "GHL_COMPANY_ID" }
  local function add(name, where, required)
    local o = type(e.bs) == "table" and e.bs.o
    out[#out + 1] = { name = name, where = where, required = required or nil,
                      list = where == "body" and type(o) == "table" and o[name] ~= nil or nil,
                      ms = ms[name] or nil, default = required and defaults[name] or nil }
  end
  for _, n in ipairs(e.pp or {}) do add(n, "path", true) end
  for _, n in ipairs(e.q or {}) do add(n, "query", rq[n]) end
  if e.bf then
    for _, n in ipairs(e.bf) do add(n, "body", rb[n]) end
  elseif e.rb then
    for _, n in ipairs(e.rb) do add(n, "body", true) end
  end
  return out
end

local BODY = { json = "JSON", form = "a form (x-www-form-urlencoded)", multipart = "multipart/form-data" }

--- The description of one operation, for `ghl ops <operation>`.
function M.detail(key)
  local e = operations.entry(key)
  local lines = { M.summary(key) }
  local function add(fmt, ...) lines[#lines + 1] = "  " .. fmt:format(...) end
  add("Version header: %s", e.v or "(none)")
  add("token: %s", M.token_words(e.t))
  if e.s then add("scopes: %s", e.s) end
  local params = M.params(e)
  if #params == 0 then
    add("parameters: none")
  else
    add("parameters (name, where it goes: path, query or body):")
    local width = 0
    for _, p in ipairs(params) do width = math.max(width, #p.name) end
    for _, p in ipairs(params) do
      local notes = {}
      if p.default then notes[#notes + 1] = "default: $" .. p.default end
      if p.list then notes[#notes + 1] = "a list: " .. p.name .. "=a,b or " .. p.name .. ":='[...]'" end
      if p.ms then notes[#notes + 1] = "epoch milliseconds (seconds are converted)" end
      local line = ("    %-" .. width .. "s  %-5s  %s"):format(p.name, p.where, p.required and "required" or "")
      if #notes > 0 then
        line = ("%-" .. (width + 21) .. "s  %s"):format(line, table.concat(notes, "; "))
      end
      lines[#lines + 1] = (line:gsub("%s+$", ""))
    end
  end
  if e.b then
    local how = BODY[e.b] or e.b
    if e.b == "json" and not e.bf then
      add("body: %s; the spec lists no fields: every other name=value goes into it", how)
    else
      add("body: %s", how)
    end
  end
  if e.pg then
    add("paging: %s; `ghl call --each %s` prints every item, one JSON per line", e.pg, key)
  elseif e.nx then
    add("paging: not walked (%s)", e.nx)
  end
  if e.dep then add("deprecated by GHL") end
  local example = { "ghl call", key }
  for _, p in ipairs(params) do
    if p.required and not p.default then example[#example + 1] = p.name .. "=..." end
  end
  add("usage: %s", table.concat(example, " "))
  return table.concat(lines, "\n") .. "\n"
end

--- The catalogue's facts of an operation for `ghl ops --json`.
function M.json(key)
  local e = operations.entry(key)
  return { key = key, method = e.m, path = e.p, paging = e.pg, version = e.v, scopes = e.s,
           token = tokens.describe(e.t), deprecated = e.dep or nil, body = e.b, params = M.params(e) }
end

return M
