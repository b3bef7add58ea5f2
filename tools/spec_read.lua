--- Reading GHL's OpenAPI specs (apps/*.json, common/common-schemas.json)
-- for the generators in tools/: documents, $ref, schema shapes.
--
--   local specs = require("spec_read").open(dir)   -- nil, why when dir has no specs
--   for _, file in ipairs(specs.files()) do local doc = specs.doc(file) ... end
local cjson = require "cjson"

local M = {}

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.sorted_keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

function M.uniq_sorted(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then seen[v] = true out[#out + 1] = v end
  end
  table.sort(out)
  return out
end

--- The specs under `dir`, or nil and why.
function M.open(dir)
  if not M.read(dir .. "/apps/contacts.json") then return nil, "no specs at " .. dir .. "/apps" end
  local S = { dir = dir }
  local docs = {}

  function S.load_doc(path)
    if not docs[path] then docs[path] = cjson.decode((assert(M.read(path), path))) end
    return docs[path]
  end

  --- The spec files (sorted names, "contacts.json", ...).
  function S.files()
    local p = assert(io.popen(("ls '%s/apps'"):format(dir)))
    local files = {}
    for name in p:lines() do
      if name:match("%.json$") then files[#files + 1] = name end
    end
    p:close()
    table.sort(files)
    return files
  end

  function S.path(file) return dir .. "/apps/" .. file end

  -- Follows a $ref (local or into ../common/common-schemas.json); returns the
  -- schema and the document it lives in.
  function S.deref(doc_path, node, depth)
    depth = depth or 0
    while type(node) == "table" and node["$ref"] and depth < 20 do
      local file, frag = node["$ref"]:match("^([^#]*)#(.*)$")
      if file and file ~= "" then doc_path = dir .. "/apps/" .. file end
      local target = S.load_doc(doc_path)
      for part in frag:gmatch("[^/]+") do target = type(target) == "table" and target[part] or nil end
      -- links.json points at schemas it does not define: the common ones
      if target == nil and file == "" then
        local common = S.load_doc(dir .. "/common/common-schemas.json")
        target = common.components.schemas[frag:match("([^/]+)$")]
        doc_path = dir .. "/common/common-schemas.json"
      end
      node = target
      depth = depth + 1
    end
    return node, doc_path
  end

  -- Top-level properties and required names of a schema (allOf merged), and
  -- whether it takes properties it does not list (additionalProperties).
  function S.shape(doc_path, schema)
    local props, required, is_array, open = {}, {}, false, false
    local function walk(node, dp, depth)
      node, dp = S.deref(dp, node)
      if type(node) ~= "table" or depth > 8 then return end
      if node.type == "array" then is_array = true end
      if node.additionalProperties and node.additionalProperties ~= false then open = true end
      for _, sub in ipairs(node.allOf or {}) do walk(sub, dp, depth + 1) end
      for name, p in pairs(node.properties or {}) do
        local pd = S.deref(dp, p)
        props[name] = type(pd) == "table" and pd.type or true
      end
      for _, r in ipairs(node.required or {}) do required[#required + 1] = r end
    end
    walk(schema, doc_path, 0)
    return props, required, is_array, open
  end

  -- Where a body has arrays, at any depth (through $ref, allOf, arrays of
  -- objects): the JSON encoder sends an empty table there as [] (elsewhere as
  -- {}). Objects are the default, so only the way to each array is kept:
  -- "a" an array; {a = items} an array whose items lead to arrays;
  -- {o = {name = ...}} an object with arrays under those names; nil: none.
  function S.array_shape(doc_path, node, depth)
    node, doc_path = S.deref(doc_path, node)
    if type(node) ~= "table" or depth > 12 then return nil end
    if node.type == "array" then
      local items = S.array_shape(doc_path, node.items, depth + 1)
      return items and { a = items } or "a"
    end
    local props = {}
    local function walk(n, dp, d)
      n, dp = S.deref(dp, n)
      if type(n) ~= "table" or d > 8 then return end
      for _, sub in ipairs(n.allOf or {}) do walk(sub, dp, d + 1) end
      for name, p in pairs(n.properties or {}) do
        local sh = S.array_shape(dp, p, depth + 1)
        if sh then props[name] = sh end
      end
    end
    walk(node, doc_path, 0)
    if next(props) then return { o = props } end
    return nil
  end

  return S
end

return M
