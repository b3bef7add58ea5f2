-- Spec-shaped pages for every paged operation that no hand-written route
-- serves (paged_ops.lua, generated from the specs by tools/gen_catalog.lua):
-- each holds `count` plain items (POST /_mock/paged {op, count}; default 7)
-- and answers in its own paging style, with the answer's fields as its
-- spec names them: totals, counts, hasMore/hasNext/nextPage, totalPages,
-- nextCursor, the lastXId the next request sends back. A body cursor typed
-- a string by the spec must come as a string (422 otherwise), as GHL's
-- validation does.
local ops = require "ghl_mock.paged_ops"
local http = require "ghl_mock.http"
local common = require "ghl_mock.common"

local M = {}

local DEFAULT_COUNT = 7
local NO_SIZE_PAGE = 3 -- the page size of an operation that takes none (GHL's own is not documented)

local counts, served = {}, {}

function M.reset() counts, served = {}, {} end

--- {op = key, count = n}: that many items from now on. nil, why when bad.
function M.configure(b)
  if type(b.op) ~= "string" or not ops[b.op] then return nil, "op must be a paged operation of paged_ops.lua" end
  local n = b.count
  if type(n) ~= "number" or n < 0 or n ~= math.floor(n) or n > 10000 then
    return nil, "count must be a whole number from 0 to 10000"
  end
  counts[b.op] = n
  return true
end

--- {key = {count, requests}} for the operations asked about since the reset.
function M.stats()
  local out = {}
  for key, n in pairs(served) do out[key] = { requests = n, count = counts[key] or DEFAULT_COUNT } end
  return out
end

local function item(key, i)
  local id = ("Pg%s%06d"):format(key:gsub("[^%w]", ""):sub(1, 12), i)
  return { id = id, _id = id, name = ("%s item %d"):format(key, i), searchAfter = { i, id }, sort = { i } }
end

local function set_path(t, path, v)
  local head, rest = path:match("^([^.]+)%.(.+)$")
  if not head then
    t[path] = v
    return
  end
  if type(t[head]) ~= "table" then t[head] = {} end
  set_path(t[head], rest, v)
end

local function b64(s) return ngx.encode_base64(s) end
local function unb64(s) return type(s) == "string" and ngx.decode_base64(s) or nil end

-- The request's cursor and page size, where the spec puts them; 422 (nil)
-- for a body cursor of the wrong type.
local function read_args(req, op)
  local src, body = req.query, nil
  if op.m ~= "GET" and op.m ~= "DELETE" then
    body = req.raw_body and req.raw_body ~= "" and require("cjson.safe").decode(req.raw_body)
    if type(body) ~= "table" then body = {} end
  end
  if op.pin == "body" then src = body end
  local cursor = src[op.ck]
  if type(cursor) == "table" and op.pin == "query" then cursor = cursor[1] end
  if op.pin == "body" and cursor ~= nil and op.ct and op.ct ~= "array" then
    local want = op.ct == "integer" and "number" or op.ct
    if type(cursor) ~= want then
      common.invalid{ ("%s must be a %s"):format(op.ck, op.ct) }
      return nil
    end
  end
  local size = op.lk and src[op.lk]
  if type(size) == "table" then size = size[1] end
  size = tonumber(size) or op.ld or (op.lk and 10 or NO_SIZE_PAGE)
  if size < 1 then size = op.ld or 10 end
  return cursor, math.min(size, 1000)
end

-- Where the page starts (0-based), from the cursor in the operation's style.
local function start_of(op, cursor, size, all)
  if op.pg == "skip_limit" or op.pg == "limit_offset" then return tonumber(cursor) or 0 end
  if op.pg == "page" then return ((tonumber(cursor) or op.p0 or 1) - (op.p0 or 1)) * size end
  if op.pg == "search_after" then return type(cursor) == "table" and tonumber(cursor[1]) or 0 end
  if op.pg == "cursor" then return tonumber((unb64(cursor) or ""):match("^at:(%d+)$")) or 0 end
  if cursor == nil or cursor == "" then return 0 end
  for i, it in ipairs(all) do -- last_id, after_item: after the item with that id
    if it.id == cursor then return i end
  end
  return #all -- an unknown id: nothing after it
end

-- The answer's fields as the spec names them, for a page of `n` items.
local function fill(op, body, f)
  local more, page = f.start + f.n < f.total, math.floor(f.start / f.size) + (op.p0 or 1)
  local last = f.items[f.n]
  for path, ty in pairs(op.f) do
    local name = path:match("([^.]+)$")
    local v
    if name == "total" or name == "totalCount" then v = ty == "number" and f.total or nil
    elseif name == "count" then v = ty == "number" and f.n or nil
    elseif name == "hasMore" or name == "hasNext" then v = more
    elseif name == "hasPrev" then v = f.start > 0
    elseif name == "nextPage" then v = ty == "boolean" and more or (more and page + 1 or common.null)
    elseif name == "prevPage" then v = page > (op.p0 or 1) and page - 1 or common.null
    elseif name == "currentPage" or (name == "page" and op.pg == "page") then v = page
    elseif name == "totalPages" then v = math.ceil(f.total / f.size)
    elseif name == "pageSize" or name == "limit" then v = f.size
    elseif name == "offset" or name == "skip" then v = f.start
    elseif name == "nextCursor" then v = more and b64("at:" .. (f.start + f.n)) or common.null
    elseif name == op.ck then v = more and last and last.id or common.null -- lastFaqId, lastKnowledgeBaseId
    elseif name == "success" then v = true
    elseif name == "statusCode" then v = 200
    elseif name == "traceId" then v = http.trace_id()
    end
    if v ~= nil then set_path(body, path, v) end
  end
end

local function handler(key, op)
  return function(req)
    served[key] = (served[key] or 0) + 1
    local required = {}
    for _, name in ipairs(op.rq or {}) do
      if name ~= op.ck then required[#required + 1] = name end -- the first page has no cursor
    end
    local problems = common.required_query(req, required, {})
    if not common.ok(problems) then return end
    local cursor, size = read_args(req, op)
    if not size then return end
    local total = counts[key] or DEFAULT_COUNT
    local all = {}
    for i = 1, total do all[i] = item(key, i) end
    local start = math.max(0, math.min(start_of(op, cursor, size, all), total))
    local items = common.slice(all, start, size)
    local f = { start = start, n = #items, size = size, total = total, items = items }
    if op.it == "[]" then return common.reply(200, #items > 0 and items or {}) end
    local body = {}
    fill(op, body, f)
    set_path(body, op.it == "*" and "data" or op.it, #items > 0 and items or http.EMPTY_ARRAY)
    return common.reply(200, body)
  end
end

-- the route's access (ghl_mock.lua): the token type's alternatives
local function access(t)
  if t == "Ao" then return "agency" end
  if t == "A" then return "agency_access" end
  return nil -- a sub-account token
end

--- Routes for the paged operations that `routed(method, template)` says
-- no other file serves.
function M.register(route, routed)
  for key, op in pairs(ops) do
    if not routed(op.m, op.p) then
      assert(op.pg ~= "keyset" and op.pg ~= "start_after_date",
        key .. ": the generic pages do not do " .. op.pg .. " (hand-write its route)")
      route(op.m, op.p, op.v, handler(key, op), access(op.t))
    end
  end
end

return M
