--- What the ghl command prints: JSON (compact, or pretty for a terminal)
-- and CSV cells and rows (RFC 4180 quoting).
--
--   output.json(value)           compact JSON, one line
--   output.json(value, true)     2-space indent, keys sorted
--   output.csv_row{ "a", "b,c" } a,"b,c"
--   output.csv_row{ "=1+2" }     '=1+2   (OWASP: no cell starts a formula)
--
-- JSON null (ghl.null, which is also cjson.null) prints as null. A table whose keys are
-- exactly 1..n is an array; an empty table is printed as [] (GHL's empty
-- values are lists far more often than objects, and the decoder does not
-- tell them apart). Integers keep every digit; other numbers round-trip.
-- Pretty JSON indents 32 levels at most: deeper values (what a hostile
-- server can nest) are printed compact on their line, so a 500-deep answer
-- does not print 500 levels of indentation; any value the decoder accepts
-- (1000 levels) prints, deeper ones (a cycle) raise an error.
local core = require "ghl.core"

local M = {}

local null = core.null
local floor, huge = math.floor, math.huge
local concat, sort, fmt = table.concat, table.sort, string.format
local mtype = math.type -- nil under LuaJIT

local find, gsub = string.find, string.gsub

-- A string as JSON: quotes, backslashes and control characters escaped,
-- every other byte as it came (what a server sends need not be UTF-8, and
-- the core's encoder refuses what is not).
local ESCAPE = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                 ["\r"] = "\\r", ["\t"] = "\\t" }
for c = 0, 31 do
  local ch = string.char(c)
  ESCAPE[ch] = ESCAPE[ch] or fmt("\\u%04x", c)
end
local SPECIAL = '[%z\1-\31"\\]'
local function str(s)
  if not find(s, SPECIAL) then return '"' .. s .. '"' end
  return '"' .. gsub(s, SPECIAL, ESCAPE) .. '"'
end

-- '"key":' / '"key": ' of the keys seen so far (objects repeat their keys)
local key_cache, key_count = { [false] = {}, [true] = {} }, 0

local function key_text(k, pretty)
  local cache = key_cache[pretty]
  local t = cache[k]
  if t then return t end
  local ks = type(k) == "string" and k or (type(k) == "number" and M.number(k) or tostring(k))
  t = str(ks) .. (pretty and ": " or ":")
  if key_count > 10000 then -- a map with ids for keys: do not grow without bound
    key_cache, key_count = { [false] = {}, [true] = {} }, 0
    cache = key_cache[pretty]
  end
  cache[k] = t
  key_count = key_count + 1
  return t
end

--- A number as JSON: integers with every digit, others the shortest form
-- that reads back the same; NaN and infinities (not JSON) as null.
local function number(v)
  if v ~= v or v == huge or v == -huge then return "null" end
  if mtype and mtype(v) == "integer" then return fmt("%d", v) end
  if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return fmt("%.0f", v) end
  for p = 15, 16 do
    local s = fmt("%." .. p .. "g", v)
    if tonumber(s) == v then return s end
  end
  return fmt("%.17g", v)
end
M.number = number

-- "array" (keys exactly 1..n, or empty) or "object"
local function shape(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  if n == 0 then return "array", 0 end
  for i = 1, n do
    if t[i] == nil then return "object", n end
  end
  return "array", n
end

local function mixed_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "string" or ta == "number" then return a < b end
  return tostring(a) < tostring(b)
end

local function sorted_keys(t, n)
  local keys, all_strings = {}, true
  for k in pairs(t) do
    n = n + 1
    keys[n] = k
    if all_strings and type(k) ~= "string" then all_strings = false end
  end
  if all_strings then sort(keys) else sort(keys, mixed_order) end
  return keys
end

-- ghl.core's JSON decoder refuses more than 1000 levels, so this bound is
-- only met by a Lua table that holds itself (or one built that deep by
-- hand). Recursing this deep is well inside the Lua stack of Lua 5.4 and of
-- LuaJIT (spec/cli_spec.lua prints 1000 levels on both).
local MAX_DEPTH = 1000
local PRETTY_DEPTH = 32

-- Appends the text of v to out after its n-th piece; returns the new n.
local function encode(v, out, n, pretty, indent, depth)
  local tv = type(v)
  if tv == "string" then
    n = n + 1
    out[n] = str(v)
  elseif tv == "number" then
    n = n + 1
    out[n] = number(v)
  elseif tv == "boolean" then
    n = n + 1
    out[n] = v and "true" or "false"
  elseif v == nil or v == null then
    n = n + 1
    out[n] = "null"
  elseif tv == "table" then
    if depth > MAX_DEPTH then error(("output: a value nested deeper than %d levels (a cycle?)"):format(MAX_DEPTH), 0) end
    if pretty and depth >= PRETTY_DEPTH then pretty, indent = false, "" end
    local kind, count = shape(v)
    if count == 0 then
      n = n + 1
      out[n] = "[]"
      return n
    end
    local inner = pretty and (indent .. "  ") or ""
    local open = pretty and ("\n" .. inner) or ""
    local sep = pretty and (",\n" .. inner) or ","
    local close = pretty and ("\n" .. indent) or ""
    if kind == "array" then
      n = n + 1
      out[n] = "[" .. open
      for i = 1, count do
        if i > 1 then
          n = n + 1
          out[n] = sep
        end
        n = encode(v[i], out, n, pretty, inner, depth + 1)
      end
      n = n + 1
      out[n] = close .. "]"
    else
      n = n + 1
      out[n] = "{" .. open
      local keys = sorted_keys(v, 0)
      for i = 1, count do
        local k = keys[i]
        if i > 1 then
          n = n + 1
          out[n] = sep
        end
        n = n + 1
        out[n] = key_text(k, pretty)
        n = encode(v[k], out, n, pretty, inner, depth + 1)
      end
      n = n + 1
      out[n] = close .. "}"
    end
  else
    -- functions, userdata other than null: their description, as a string
    n = n + 1
    out[n] = str(tostring(v))
  end
  return n
end

--- `v` as JSON text (no trailing newline); `pretty`: indented, keys sorted.
function M.json(v, pretty)
  local out = {}
  local n = encode(v, out, 0, pretty and true or false, "", 0)
  return concat(out, "", 1, n)
end

--- One CSV cell: nil and null empty; an array's items joined with ";"
-- (tables among them as JSON); an object as JSON; a leading ' when it
-- starts with = + - @ TAB or CR, unless `raw`; quoted when it holds a
-- comma, a quote, CR or LF (quotes doubled).
function M.csv_cell(v, raw)
  local tv = type(v)
  if v == nil or v == null then return "" end
  if tv == "table" then
    if shape(v) == "array" then
      local parts = {}
      for i, x in ipairs(v) do
        if type(x) == "table" then
          parts[i] = M.json(x)
        elseif type(x) == "number" then
          parts[i] = number(x)
        elseif x == null then
          parts[i] = ""
        else
          parts[i] = tostring(x)
        end
      end
      v = concat(parts, ";")
    else
      v = M.json(v)
    end
  elseif tv == "number" then
    v = number(v)
  else
    v = tostring(v)
  end
  -- CSV injection (OWASP): a spreadsheet reads a cell that starts with
  -- = + - @ as a formula (=HYPERLINK(...), =cmd|...), and skips a leading
  -- TAB or CR to find one; a leading ' makes it text. A contact's fields
  -- are whatever the world typed into a form, so every cell gets the rule,
  -- "-5" and "+1415..." too (a number cannot be told from a formula there).
  if not raw and find(v, "^[=+%-@\t\r]") then v = "'" .. v end
  if find(v, '[",\r\n]') then v = '"' .. gsub(v, '"', '""') .. '"' end
  return v
end

--- A CSV line (without its line ending) from a list of n values (nil
-- allowed); `raw`: no formula neutralising (see csv_cell).
function M.csv_row(values, n, raw)
  local cells = {}
  for i = 1, n or #values do cells[i] = M.csv_cell(values[i], raw) end
  return concat(cells, ",")
end

--- The value at a column: a field name, or a dotted path into nested
-- objects ("address.city"; a numeric part indexes a list).
function M.field(t, column)
  local v = t[column]
  if v ~= nil or not column:find(".", 1, true) then return v end
  v = t
  for part in column:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    local x = v[part]
    if x == nil and tonumber(part) then x = v[tonumber(part)] end
    v = x
  end
  return v
end

return M
