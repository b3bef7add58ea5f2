--- The rows of a ghl.job: a CSV file (a header, then one row a record), a
-- JSON Lines file (one JSON object a line), a Lua list or an iterator; each
-- row with its number, the line it starts on, and the hash of its content
-- (its identity in the journal, with the number).
--
--     local src = assert(source.open("people.csv"))
--     for item in src.next do print(item.n, item.line, item.hash) end
--     src.close()
--
-- Row numbers count rows, from 1: not the CSV header, not empty lines.
-- The hash is the first 16 hex digits of the SHA-256 of the row as read:
-- a CSV row's cells, a JSON line's text, a Lua value's JSON (keys sorted).
-- @internal ghl.job.source
local core = require "ghl.core"
local csv = require "ghl.csv"

local M = {}

local sha256 = require("ghl.crypto").sha256_hex

local function hash(s) return sha256(s):sub(1, 16) end

-- A canonical text of a Lua value (sorted keys); what JSON cannot carry by
-- its type name, so a row with NaN still has an identity.
local function canonical(v)
  local ok, text = pcall(core.json_encode, v)
  if ok then return text end
  if type(v) ~= "table" then return type(v) .. ":" .. tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = tostring(k) .. "=" .. canonical(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function cells_hash(cells)
  local parts = {}
  for i, c in ipairs(cells) do parts[i] = #c .. ":" .. c end
  return hash(table.concat(parts, ","))
end

--- The format of a file by its name: "csv", "jsonl" or nil.
function M.format_of(path)
  local ext = tostring(path):lower():match("%.([%w]+)$")
  if ext == "csv" then return "csv" end
  if ext == "jsonl" or ext == "ndjson" or ext == "json" then return "jsonl" end
  return nil
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function open_csv(path, f)
  local read = csv.reader(f)
  local ok, header, hline = pcall(read)
  if not ok then
    f:close()
    return nil, tostring(type(header) == "table" and header.message or header)
  end
  local src = { kind = "csv", name = path, columns = {}, problems = {} }
  if not header then src.problems[#src.problems + 1] = path .. " is empty: a CSV file starts with a header line" end
  local seen = {}
  for i, name in ipairs(header or {}) do
    if i == 1 then name = name:gsub("^\239\187\191", "") end
    name = trim(name)
    src.columns[i] = name
    if name == "" then
      src.problems[#src.problems + 1] = ("column %d of the header (line %d) has no name"):format(i, hline)
    elseif seen[name] then
      src.problems[#src.problems + 1] = ("the header names column '%s' twice (columns %d and %d)"):format(name, seen[name], i)
    end
    seen[name] = seen[name] or i
  end
  local n, ncol = 0, #src.columns
  function src.next()
    local cells, line = read()
    if not cells then return nil end
    n = n + 1
    local item = { n = n, line = line, data = cells, hash = cells_hash(cells) }
    if #cells > ncol then
      item.problem = ("has %d cells, the header %d"):format(#cells, ncol)
    end
    return item
  end
  function src.close() f:close() end
  return src
end

local function open_jsonl(path, f)
  local src = { kind = "jsonl", name = path, problems = {} }
  local n, line = 0, 0
  function src.next()
    while true do
      local text = f:read("*l")
      if not text then return nil end
      line = line + 1
      text = trim(text)
      if line == 1 then text = text:gsub("^\239\187\191", "") end
      if text ~= "" then
        n = n + 1
        local item = { n = n, line = line, text = text, hash = hash(text) }
        local v, err = core.json_decode(text)
        if v == nil and err then
          item.problem = "is not valid JSON: " .. tostring(err)
        elseif type(v) ~= "table" or (next(v) ~= nil and #v > 0) then
          item.problem = "must be a JSON object, got " .. (type(v) == "table" and "an array" or type(v))
        end
        item.data = v
        return item
      end
    end
  end
  function src.close() f:close() end
  return src
end

--- The source of `rows`: a path ("people.csv", "rows.jsonl"; `format`
-- "csv" or "jsonl" when the name does not say), a list, or an iterator
-- (a function returning a row per call, then nil). Returns src | nil, err.
function M.open(rows, format)
  if type(rows) == "string" then
    format = format or M.format_of(rows)
    if not format then return nil, ("cannot tell the format of %s: name it .csv or .jsonl, or give format"):format(rows) end
    local f, err = io.open(rows, "rb")
    if not f then return nil, ("cannot read %s"):format(tostring(err)) end
    if format == "csv" then return open_csv(rows, f) end
    return open_jsonl(rows, f)
  end
  local src = { kind = "lua", problems = {} }
  local n = 0
  local iter
  if type(rows) == "table" then
    iter = function() return rows[n + 1] end
  else
    iter = rows
  end
  function src.next()
    local v = iter()
    if v == nil then return nil end
    n = n + 1
    return { n = n, line = n, data = v, hash = hash(canonical(v)) }
  end
  function src.close() end
  return src
end

--- How many rows a file or a list holds (the bar's total), or nil.
function M.count(rows, format)
  if type(rows) == "table" then return #rows end
  if type(rows) ~= "string" then return nil end
  local src = M.open(rows, format)
  if not src then return nil end
  local n = 0
  local ok = pcall(function()
    while src.next() do n = n + 1 end
  end)
  src.close()
  return ok and n or nil
end

return M
