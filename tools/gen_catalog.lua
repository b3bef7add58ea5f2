#!/usr/bin/env lua5.4
--[[ Writes lua/ghl/catalog.lua, the endpoint catalogue (by service, as text), from GHL's own
OpenAPI specs (apps/*.json). Only facts needed to call an operation are
kept; no prose from the specs goes in.

  lua5.4 tools/gen_catalog.lua [SPECS_DIR] [OUT]          write the catalogue
  lua5.4 tools/gen_catalog.lua --check [SPECS_DIR] [OUT]  exit 1 if OUT is stale

SPECS_DIR defaults to ../shared/ghl-openapi (next to the checkout).]]
local cjson = require "cjson"

local check = arg[1] == "--check"
local args = { table.unpack(arg, check and 2 or 1) }
local here = (arg[0]:match("^(.*)/tools/[^/]*$") or ".")
local specs = args[1] or (here .. "/../shared/ghl-openapi")
local out_path = args[2] or (here .. "/lua/ghl/catalog.lua")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

if not read(specs .. "/apps/contacts.json") then
  io.stderr:write(("gen_catalog: no specs at %s/apps: catalogue check skipped\n"):format(specs))
  os.exit(check and 0 or 1)
end

local function list_specs()
  local p = assert(io.popen(("ls '%s/apps'"):format(specs)))
  local files = {}
  for name in p:lines() do
    if name:match("%.json$") then files[#files + 1] = name end
  end
  p:close()
  table.sort(files)
  return files
end

local docs = {}
local function load_doc(path)
  if not docs[path] then docs[path] = cjson.decode((assert(read(path), path))) end
  return docs[path]
end

-- Follows a $ref (local or into ../common/common-schemas.json); returns the
-- schema and the document it lives in.
local function deref(doc_path, node, depth)
  depth = depth or 0
  while type(node) == "table" and node["$ref"] and depth < 20 do
    local file, frag = node["$ref"]:match("^([^#]*)#(.*)$")
    if file and file ~= "" then doc_path = specs .. "/apps/" .. file end
    local target = load_doc(doc_path)
    for part in frag:gmatch("[^/]+") do target = type(target) == "table" and target[part] or nil end
    -- links.json points at schemas it does not define: the common ones
    if target == nil and file == "" then
      local common = load_doc(specs .. "/common/common-schemas.json")
      target = common.components.schemas[frag:match("([^/]+)$")]
      doc_path = specs .. "/common/common-schemas.json"
    end
    node = target
    depth = depth + 1
  end
  return node, doc_path
end

-- Top-level properties and required names of a schema (allOf merged), and
-- whether it takes properties it does not list (additionalProperties).
local function shape(doc_path, schema)
  local props, required, is_array, open = {}, {}, false, false
  local function walk(node, dp, depth)
    node, dp = deref(dp, node)
    if type(node) ~= "table" or depth > 8 then return end
    if node.type == "array" then is_array = true end
    if node.additionalProperties and node.additionalProperties ~= false then open = true end
    for _, sub in ipairs(node.allOf or {}) do walk(sub, dp, depth + 1) end
    for name, p in pairs(node.properties or {}) do
      local pd = deref(dp, p)
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
local function array_shape(doc_path, node, depth)
  node, doc_path = deref(doc_path, node)
  if type(node) ~= "table" or depth > 12 then return nil end
  if node.type == "array" then
    local items = array_shape(doc_path, node.items, depth + 1)
    return items and { a = items } or "a"
  end
  local props = {}
  local function walk(n, dp, d)
    n, dp = deref(dp, n)
    if type(n) ~= "table" or d > 8 then return end
    for _, sub in ipairs(n.allOf or {}) do walk(sub, dp, d + 1) end
    for name, p in pairs(n.properties or {}) do
      local sh = array_shape(dp, p, depth + 1)
      if sh then props[name] = sh end
    end
  end
  walk(node, doc_path, 0)
  if next(props) then return { o = props } end
  return nil
end

local function sorted_keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

local function uniq_sorted(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then seen[v] = true out[#out + 1] = v end
  end
  table.sort(out)
  return out
end

-- security scheme -> token code: L location, A agency; "o" = OAuth only (no PIT)
local TOKEN = { bearer = "L", ["Location-Access"] = "L", ["Location-Access-Only"] = "Lo",
                ["Agency-Access"] = "A", ["Agency-Access-Only"] = "Ao" }

-- Paging styles that the parameters do not reveal (facts: ghl-api.md §6).
local PAGING = {
  ["contacts.search-contacts-advanced"] = { pg = "search_after", pin = "body", it = "contacts", lk = "pageLimit" },
  ["opportunities.search-opportunities-advanced"] = { pg = "page", pin = "body", it = "opportunities" },
  ["conversations.get-messages"] = { it = "messages" }, -- also double-wrapped {messages:{messages}}
  ["locations.task-search"] = { pg = "skip_limit", pin = "body", it = "tasks" },
  ["users.filter-users-by-email"] = { pg = "skip_limit", pin = "body", it = "users" },
}

-- Required-body lists that are spec artefacts (ghl-api.md §7, §11.10): what
-- GHL really needs. Everything else is taken from the specs as they are.
local REQUIRED_BODY = {
  -- subType and status were added to `required` in the 2026-05 sync; a send has neither
  ["conversations.send-a-new-message"] = { "contactId", "type" },
  -- the follower fields are options of an upsert, not requirements
  ["opportunities.Upsert-opportunity"] = { "locationId", "pipelineId" },
  -- the spec's body schema is empty, yet GHL answers 422 without locationId
  -- (highlevel-api-docs#31); listing it lets call() fill it from the client
  ["contacts.search-contacts-advanced"] = { "locationId" },
}

-- Body fields of operations whose spec lists none although GHL documents
-- them (ghl-api.md): with this list their names are checked like the rest.
-- Every other operation whose JSON body lists no fields is not checked
-- (see UNCHECKED below, written into the catalogue's header).
local BODY_FIELDS = {
  ["contacts.search-contacts-advanced"] = { "locationId", "pageLimit", "page", "searchAfter", "filters", "sort",
                                            "query" },
}

-- Fields GHL takes that the spec's schema leaves out.
local BODY_FIELDS_EXTRA = {
  -- the upsert finds the opportunity by contact and pipeline (the local
  -- server, like GHL, answers 422 without it)
  ["opportunities.Upsert-opportunity"] = { "contactId" },
}

local function infer_paging(q, bprops)
  local has = {}
  for _, n in ipairs(q) do has[n] = true end
  if has.startAfterId and has.startAfter then return "keyset", "query" end
  if has.lastMessageId then return "last_message_id", "query" end
  if has.startAfterDate then return "start_after_date", "query" end
  if has.cursor then return "cursor", "query" end
  if has.skip and has.limit then return "skip_limit", "query" end
  if has.offset and has.limit then return "limit_offset", "query" end
  if bprops.skip and bprops.limit then return "skip_limit", "body" end
  return nil
end

local entries = {}
local count = 0
local unchecked = {} -- JSON bodies whose spec lists no fields: names not checked
for _, file in ipairs(list_specs()) do
  local service = file:gsub("%.json$", "")
  local doc_path = specs .. "/apps/" .. file
  local doc = load_doc(doc_path)
  for path, item in pairs(doc.paths) do
    for method, op in pairs(item) do
      if type(op) == "table" and op.operationId then
        count = count + 1
        local key = service .. "." .. op.operationId
        assert(not entries[key], "duplicate key " .. key)
        local e = { m = method:upper(), p = path }
        local q, rq, pp = {}, {}, {}
        for name in path:gmatch("{([^}]+)}") do pp[#pp + 1] = name end
        for _, prm in ipairs(op.parameters or {}) do
          prm = deref(doc_path, prm)
          if prm["in"] == "header" and prm.name == "Version" then
            local s = deref(doc_path, prm.schema) or {}
            e.v = (s.enum and s.enum[1]) or s.default
          elseif prm["in"] == "query" then
            q[#q + 1] = prm.name
            if prm.required then rq[#rq + 1] = prm.name end
            -- explode: false (form style): an array goes as a=1,2, not a=1&a=2
            if prm.explode == false then e.qc = e.qc or {} table.insert(e.qc, prm.name) end
          end
        end
        local toks, scopes = {}, {}
        for _, alt in ipairs(op.security or doc.security or {}) do
          for scheme, sc in pairs(alt) do
            toks[#toks + 1] = TOKEN[scheme] or scheme
            for _, s in ipairs(sc) do scopes[#scopes + 1] = s end
          end
        end
        e.t = table.concat(uniq_sorted(toks), " ")
        scopes = uniq_sorted(scopes)
        if #scopes > 0 then e.s = table.concat(scopes, " ") end
        if #pp > 0 then e.pp = pp end
        if #q > 0 then e.q = uniq_sorted(q) end
        if #rq > 0 then e.rq = uniq_sorted(rq) end
        local bprops = {}
        local rb = op.requestBody and deref(doc_path, op.requestBody)
        if rb and rb.content then
          local ct = next(rb.content)
          e.b = ct == "application/json" and "json"
            or ct == "application/x-www-form-urlencoded" and "form"
            or ct == "multipart/form-data" and "multipart" or ct
          local media = rb.content[ct]
          local props, req, _, open = shape(doc_path, media and media.schema)
          bprops = props
          if #req > 0 then e.rb = uniq_sorted(req) end
          if REQUIRED_BODY[key] then e.rb = REQUIRED_BODY[key] end
          local names = BODY_FIELDS[key] and uniq_sorted(BODY_FIELDS[key]) or sorted_keys(props)
          for _, extra in ipairs(BODY_FIELDS_EXTRA[key] or {}) do names[#names + 1] = extra end
          names = uniq_sorted(names)
          if #names > 0 and not open then
            e.bf = names
          elseif e.b == "json" then
            unchecked[#unchecked + 1] = key
          end
          if e.b == "json" then e.bs = array_shape(doc_path, media and media.schema, 0) end
        end
        for code, resp in pairs(op.responses or {}) do
          if tostring(code):match("^2") then
            resp = deref(doc_path, resp)
            local media = resp and resp.content and resp.content["application/json"]
            if media and media.schema then
              local props, _, is_array = shape(doc_path, media.schema)
              local names = sorted_keys(props)
              if is_array then e.r = "[]" elseif #names > 0 and #names <= 12 then e.r = names end
              local arrays = {}
              for _, n in ipairs(names) do if props[n] == "array" then arrays[#arrays + 1] = n end end
              if is_array then e.it = "[]" elseif #arrays == 1 then e.it = arrays[1] end
            end
            break
          end
        end
        local pg, pin = infer_paging(e.q or {}, bprops)
        local over = PAGING[key] or {}
        e.pg = over.pg or pg
        if e.pg then
          e.pin = over.pin or pin
          e.it = over.it or e.it
          e.lk = over.lk
        elseif not over.it then
          e.it = nil -- items only matter for paged operations
        end
        if op.deprecated then e.dep = true end
        entries[key] = e
      end
    end
  end
end

-- one operation a line, keys sorted: diffs stay readable
local function lua_value(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "boolean" then return tostring(v) end
  local parts = {}
  for i, x in ipairs(v) do parts[i] = lua_value(x) end
  if #parts == 0 then -- a map (body shapes): names sorted, so the output is stable
    for _, k in ipairs(sorted_keys(v)) do
      parts[#parts + 1] = (k:match("^[%a_][%w_]*$") and k or ("[%q]"):format(k)) .. "=" .. lua_value(v[k])
    end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local FIELDS = { "m", "p", "v", "t", "s", "pp", "q", "rq", "qc", "b", "rb", "bf", "bs", "r", "pg", "pin", "it", "lk",
                 "dep" }
local lines = {
  "-- Generated by tools/gen_catalog.lua from GHL's OpenAPI specs (apps/*.json). Do not edit;",
  "-- run `make catalog`. Key: service; value: the text of a Lua table operationId -> entry, which",
  "-- ghl.operations compiles the first time one of the service's operations is asked for (a",
  "-- script that talks to contacts does not parse the other 500). Fields: m method, p path,",
  "-- v Version, t token (L location, A agency, o = OAuth only), s scopes, pp path params, q query",
  "-- params, rq required query, qc query params sent comma-joined (explode: false), b body",
  "-- (json|form|multipart), rb required body fields, bf body fields (names are checked against",
  "-- them), bs where the body has arrays (an empty table there is sent as []), r response fields",
  "-- ('[]' = bare array), pg paging style, pin where the cursor goes (query|body), it items field,",
  "-- lk page-size parameter when not `limit`, dep deprecated.",
}
table.sort(unchecked)
lines[#lines + 1] = ("-- JSON bodies whose spec lists no fields, so their names are not checked (%d):"):format(#unchecked)
do
  local line = "--"
  for _, k in ipairs(unchecked) do
    if #line + #k + 1 > 100 then lines[#lines + 1] = line line = "--" end
    line = line .. " " .. k
  end
  if line ~= "--" then lines[#lines + 1] = line end
end
lines[#lines + 1] = "return {"
local by_service, services = {}, {}
for _, key in ipairs(sorted_keys(entries)) do
  local service, id = key:match("^([^.]+)%.(.+)$")
  if not by_service[service] then
    by_service[service] = {}
    services[#services + 1] = service
  end
  local e, parts = entries[key], {}
  for _, f in ipairs(FIELDS) do
    if e[f] ~= nil then parts[#parts + 1] = f .. "=" .. lua_value(e[f]) end
  end
  table.insert(by_service[service], ("[%q]={%s},"):format(id, table.concat(parts, ",")))
end
for _, service in ipairs(services) do
  local body = table.concat(by_service[service], "\n")
  local level = ""
  while body:find("]" .. level .. "]", 1, true) do level = level .. "=" end
  lines[#lines + 1] = ("[%q]=[%s[{\n%s\n}]%s],"):format(service, level, body, level)
end
lines[#lines + 1] = "}"
local text = table.concat(lines, "\n") .. "\n"

if check then
  if read(out_path) ~= text then
    io.stderr:write(("gen_catalog: %s is stale against %s (run `make catalog`)\n"):format(out_path, specs))
    os.exit(1)
  end
  print(("gen_catalog: %s matches the specs (%d operations)"):format(out_path, count))
else
  local f = assert(io.open(out_path, "wb"))
  f:write(text)
  f:close()
  print(("gen_catalog: wrote %s (%d operations)"):format(out_path, count))
end
