-- Listing contacts: POST /contacts/search (page paging up to 10,000 records,
-- searchAfter beyond) and the deprecated GET /contacts/ (startAfter +
-- startAfterId keyset, meta as observed). Both walk the per-location list
-- kept in (dateAdded, id) order: no sorting per request unless the search
-- asks to sort by another field.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"
local sorted = require "ghl_mock.sorted"

local M = {}

local V = "2021-07-28"
local MAX_WINDOW = 10000 -- what page paging can reach (Elasticsearch's result window)

local SEARCH_PROPS = common.set{ "locationId", "page", "pageLimit", "searchAfter", "filters", "sort", "query" }
local OPERATORS = { "eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range" }
local OPERATOR = common.set(OPERATORS)

local function full_name(c)
  return (((c.firstName or "") .. " " .. (c.lastName or "")):gsub("^ +", ""):gsub(" +$", ""))
end

-- value of a filter/sort field; *LowerCase fields are derived as GHL indexes them
local function field(c, name)
  if name == "dateAdded" then return c._ms end
  if name == "dateUpdated" then return clock.parse(c.dateUpdated) end
  if name == "firstNameLowerCase" then return c.firstName and c.firstName:lower() end
  if name == "lastNameLowerCase" then return c.lastName and c.lastName:lower() end
  if name == "fullNameLowerCase" or name == "contactName" then
    local n = full_name(c)
    return n ~= "" and n:lower() or nil
  end
  if name == "email" then return c.emailLowerCase end
  if name == "businessName" then return c.companyName end
  local custom = name:match("^customFields?%.(.+)$")
  if custom then
    for _, f in ipairs(c.customFields or {}) do
      if f.id == custom or f.key == custom then return f.value end
    end
    return nil
  end
  return c[name]
end

local function eq(a, b)
  if type(a) == "string" or type(b) == "string" then return tostring(a):lower() == tostring(b):lower() end
  return a == b
end

local function as_number(v, name)
  if name == "dateAdded" or name == "dateUpdated" then return clock.any(v) end
  return tonumber(v)
end

local function test(c, f)
  local v = field(c, f.field)
  local op, want = f.operator, f.value
  if op == "exists" or op == "not_exists" then
    local has = v ~= nil and v ~= "" and not (type(v) == "table" and next(v) == nil)
    return (op == "exists") == has
  end
  if op == "range" then
    if v == nil then return false end
    local n = as_number(v, f.field)
    for bound, x in pairs(want) do
      local lim = as_number(x, f.field)
      if n == nil or lim == nil then return false end
      if (bound == "gte" and n < lim) or (bound == "gt" and n <= lim) or (bound == "lte" and n > lim)
        or (bound == "lt" and n >= lim) then return false end
    end
    return true
  end
  local hit
  if type(v) == "table" then -- tags: any element
    hit = false
    for _, x in ipairs(v) do
      if (op == "eq" or op == "not_eq") and eq(x, want) or (op == "contains" or op == "not_contains")
        and common.has(tostring(x), tostring(want):lower()) then
        hit = true
        break
      end
    end
  elseif op == "eq" or op == "not_eq" then
    hit = v ~= nil and eq(v, want)
  else
    hit = v ~= nil and common.has(tostring(v), tostring(want):lower())
  end
  if op == "not_eq" or op == "not_contains" then return not hit end
  return hit
end

-- filters: [{field, operator, value}] or {group: "AND"|"OR", filters: [...]}
local function check_filters(list, path, problems)
  if type(list) ~= "table" or (next(list) and #list == 0) then
    problems[#problems + 1] = path .. " must be an array"
    return
  end
  for i, f in ipairs(list) do
    local p = ("%s.%d"):format(path, i - 1)
    if type(f) ~= "table" then
      problems[#problems + 1] = p .. " must be an object"
    elseif f.group ~= nil then
      if f.group ~= "AND" and f.group ~= "OR" then
        problems[#problems + 1] = p .. ".group must be one of the following values: AND, OR"
      end
      check_filters(f.filters, p .. ".filters", problems)
    else
      if type(f.field) ~= "string" or f.field == "" then problems[#problems + 1] = p .. ".field should not be empty" end
      if not OPERATOR[f.operator] then
        problems[#problems + 1] = p .. ".operator must be one of the following values: " .. table.concat(OPERATORS, ", ")
      elseif f.operator == "range" and type(f.value) ~= "table" then
        problems[#problems + 1] = p .. ".value must be an object with gte, gt, lte or lt"
      elseif f.operator ~= "exists" and f.operator ~= "not_exists" and f.operator ~= "range"
        and (f.value == nil or type(f.value) == "table") then
        problems[#problems + 1] = p .. ".value should not be empty"
      end
    end
  end
end

local function match_all(c, list, any)
  for _, f in ipairs(list) do
    local ok
    if f.group then ok = match_all(c, f.filters, f.group == "OR") else ok = test(c, f) end
    if any and ok then return true end
    if not any and not ok then return false end
  end
  return not any or #list == 0
end

-- the lower-cased text a query searches, kept on the contact until it changes
local function text(c)
  local t = c._text
  if not t then
    t = table.concat({ full_name(c), c.email or "", c.phone or "", c.companyName or "" }, "\n"):lower()
    c._text = t
  end
  return t
end

local function matches_query(c, q)
  return text(c):find(q, 1, true) ~= nil
end

-- A predicate for query + filters, or nil when everything matches.
local function predicate(query, filters)
  local q = type(query) == "string" and query ~= "" and query:lower() or nil
  local has_filters = type(filters) == "table" and #filters > 0
  if not q and not has_filters then return nil end
  return function(c)
    if q and not matches_query(c, q) then return false end
    return not has_filters or match_all(c, filters, false)
  end
end

-- The contacts in the requested order: n and get(i). Sorting by dateAdded
-- reads the pre-sorted list (backwards for desc); other fields sort the
-- matches by (value, id) once for this request.
local function ordered(location, pred, sort_field, desc)
  local list = state.index("contacts", location)
  local items = list
  if pred then
    items = {}
    for _, c in ipairs(list) do
      if pred(c) then items[#items + 1] = c end
    end
  end
  local key = function(c) return c._ms end
  if sort_field ~= "dateAdded" then
    key = function(c)
      local v = field(c, sort_field)
      if v == nil then return "" end
      return type(v) == "number" and v or tostring(v):lower()
    end
    if items == list then
      items = {}
      for i, c in ipairs(list) do items[i] = c end
    end
    local keys = {}
    for _, c in ipairs(items) do keys[c] = key(c) end
    table.sort(items, function(a, b)
      local ka, kb = keys[a], keys[b]
      if type(ka) ~= type(kb) then ka, kb = tostring(ka), tostring(kb) end
      return ka < kb or (ka == kb and a.id < b.id)
    end)
  end
  local n = #items
  local get = desc and function(i) return items[n + 1 - i] end or function(i) return items[i] end
  return n, get, key
end

local function key_after(k, id, ck, cid, desc)
  if type(k) ~= type(ck) then k, ck = tostring(k), tostring(ck) end
  if desc then return sorted.key_less(k, id, ck, cid) end
  return sorted.key_less(ck, cid, k, id)
end

local function search(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, SEARCH_PROPS, {})
  common.required(body, { "locationId" }, problems)
  if common.empty(body.pageLimit) then
    problems[#problems + 1] = "pageLimit should not be empty"
  end
  local limit = common.int(body.pageLimit, "pageLimit", { min = 1, max = 500 }, problems)
  local page = common.int(body.page, "page", { min = 1 }, problems)
  local after = body.searchAfter
  if after ~= nil and after ~= common.null then
    if type(after) ~= "table" or #after ~= 2 then
      problems[#problems + 1] = "searchAfter must be an array of the last contact's sort value and id"
      after = nil
    end
  else
    after = nil
  end
  if body.query ~= nil and (type(body.query) ~= "string" or #body.query > 75) then
    problems[#problems + 1] = "query must be shorter than or equal to 75 characters"
  end
  if body.filters ~= nil then check_filters(body.filters, "filters", problems) end
  local sort_field, desc = "dateAdded", true
  if body.sort ~= nil then
    local s = type(body.sort) == "table" and body.sort[1]
    if type(body.sort) ~= "table" or (next(body.sort) and type(s) ~= "table") or (s and (type(s.field) ~= "string"
      or (s.direction ~= nil and s.direction ~= "asc" and s.direction ~= "desc"))) then
      problems[#problems + 1] = "sort must be an array of {field, direction: asc|desc}"
    elseif s then
      sort_field, desc = s.field, s.direction ~= "asc"
    end
  end
  if page and after then
    problems[#problems + 1] = "page and searchAfter cannot be used together: use searchAfter alone"
  end
  if not common.ok(problems) then return end
  if not common.own(req, body.locationId) then return end
  page = page or 1
  if not after and page * limit > MAX_WINDOW then
    return common.invalid{ ("page * pageLimit must not exceed %d: page paging reaches only the first %d "
      .. "records, use searchAfter to go further"):format(MAX_WINDOW, MAX_WINDOW) }
  end

  local n, get, key = ordered(body.locationId, predicate(body.query, body.filters), sort_field, desc)
  local start
  if after then
    local ck, cid = after[1], tostring(after[2])
    if sort_field == "dateAdded" or sort_field == "dateUpdated" then ck = tonumber(ck) or clock.any(ck) or 0 end
    start = sorted.first(n, function(i)
      local c = get(i)
      return key_after(key(c), c.id, ck, cid, desc)
    end)
  else
    start = (page - 1) * limit + 1
  end
  local out = {}
  for i = start, math.min(n, start + limit - 1) do
    local c = common.out(get(i))
    c.searchAfter = { key(get(i)), c.id }
    out[#out + 1] = c
  end
  return common.reply(200, { contacts = out, total = n, traceId = http.trace_id() })
end

-- GET /contacts/: newest first; the cursor is the last contact's dateAdded
-- (ms) and id; meta also numbers pages. nextPageUrl points at GHL's internal
-- host, like the opportunities one: clients must not follow it.
local function list(req)
  local problems = common.required_query(req, { "locationId" }, {})
  local location = common.q(req, "locationId")
  local limit = common.int(common.q(req, "limit"), "limit", { default = 20, min = 1, max = 100 }, problems)
  local start_after = common.q(req, "startAfter")
  if start_after and start_after ~= "" and not tonumber(start_after) then
    problems[#problems + 1] = "startAfter must be a number conforming to the specified constraints"
  end
  if not common.ok(problems) or not common.own(req, location) then return end
  local query = common.q(req, "query")
  local n, get = ordered(location, predicate(query, nil), "dateAdded", true)

  local start = 1
  local after_id = common.q(req, "startAfterId")
  local after_ms = tonumber(start_after)
  if after_id and after_id ~= "" and not after_ms then
    local c = state.contacts[after_id]
    after_ms = c and c._ms
    if not after_ms then start = n + 1 end -- an unknown cursor: nothing after it
  end
  if after_ms then
    after_id = after_id or ""
    start = sorted.first(n, function(i)
      local c = get(i)
      return sorted.key_less(c._ms, c.id, after_ms, after_id)
    end)
  end
  local page = {}
  for i = start, math.min(n, start + limit - 1) do page[#page + 1] = get(i) end
  local more = start + limit - 1 < n
  local last = page[#page]
  local current = math.floor((start - 1) / limit) + 1
  local meta = {
    total = n, currentPage = current,
    nextPage = more and current + 1 or common.null, prevPage = current > 1 and current - 1 or common.null,
    startAfterId = more and last.id or common.null, startAfter = more and last._ms or common.null,
    nextPageUrl = more and ("http://localhost:5066/contacts/?locationId=%s&limit=%d&startAfter=%d&startAfterId=%s")
      :format(location, limit, last._ms, last.id) or common.null,
  }
  return common.reply(200, { contacts = page, count = n, meta = meta, traceId = http.trace_id() })
end

function M.register(route)
  route("POST", "/contacts/search", V, search)
  route("GET", "/contacts/", V, list)
end

return M
