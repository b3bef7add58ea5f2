#!/usr/bin/env lua5.4
--[[ Writes lua/ghl/catalog.lua, the endpoint catalogue (by service, as text), from GHL's own
OpenAPI specs (apps/*.json). Only facts needed to call an operation are
kept; no prose from the specs goes in.

  lua5.4 tools/gen_catalog.lua [SPECS_DIR] [OUT] [MOCK_OUT]          write the catalogue
  lua5.4 tools/gen_catalog.lua --check [SPECS_DIR] [OUT] [MOCK_OUT]  exit 1 if one is stale

MOCK_OUT is the local GHL server's table of the paged operations (how each
reads its cursor, what its answer holds), from the same paging rules
(tools/spec_paging.lua). A paged operation that no rule classifies fails.

SPECS_DIR defaults to ../shared/ghl-openapi (next to the checkout).]]

local check = arg[1] == "--check"
local args = { table.unpack(arg, check and 2 or 1) }
local here = (arg[0]:match("^(.*)/tools/[^/]*$") or ".")
local specs = args[1] or (here .. "/../shared/ghl-openapi")
local out_path = args[2] or (here .. "/lua/ghl/catalog.lua")
-- the local GHL server's table of paged operations (spec/support/mock)
local mock_path = args[3] or (here .. "/spec/support/mock/ghl_mock/paged_ops.lua")

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local spec_read = require "spec_read"
local paging = require "spec_paging"

local read, sorted_keys, uniq_sorted = spec_read.read, spec_read.sorted_keys, spec_read.uniq_sorted
local S, why = spec_read.open(specs)
if not S then
  io.stderr:write(("gen_catalog: %s: catalogue check skipped\n"):format(why))
  os.exit(check and 0 or 1)
end
local deref, shape, array_shape, load_doc, list_specs = S.deref, S.shape, S.array_shape, S.load_doc, S.files

-- security scheme -> token code: L location, A agency; "o" = OAuth only (no PIT)
local TOKEN = { bearer = "L", ["Location-Access"] = "L", ["Location-Access-Only"] = "Lo",
                ["Agency-Access"] = "A", ["Agency-Access-Only"] = "Ao" }

-- Required-body lists that are artefacts of the specs, replaced by what GHL
-- really needs (each entry says why). Everything else is taken from the specs
-- as they are.
local REQUIRED_BODY = {
  -- subType and status were added to `required` in the 2026-05 sync; a send has neither
  ["conversations.send-a-new-message"] = { "contactId", "type" },
  -- the follower fields are options of an upsert, not requirements
  ["opportunities.Upsert-opportunity"] = { "locationId", "pipelineId" },
  -- the spec's body schema is empty, yet GHL answers 422 without locationId
  -- (highlevel-api-docs#31); listing it lets call() fill it from the client
  ["contacts.search-contacts-advanced"] = { "locationId" },
}

-- Body fields of operations whose spec lists none although GHL's API
-- reference documents them (contacts search: its "Search Contacts" page):
-- with this list their names are checked like the rest.
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

-- The local server's facts of a paged operation (its paged_ops.lua): the
-- request's cursor and page size as the spec types them, and the answer's
-- scalar fields to fill in (totals, flags, cursors).
-- Whether a parameter or body field is a time in epoch milliseconds: the
-- spec says "millis"/"milliseconds" or gives a 13-digit example, and the name
-- reads as a time (the CLI turns a value in seconds into milliseconds there).
local function epoch_ms(name, ...)
  local n = name:lower()
  if not (n:find("date", 1, true) or n:find("time", 1, true) or n:match("at$") or n:match("after$")) then
    return false
  end
  for _, node in ipairs{ ... } do
    if type(node) == "table" then
      local text = (type(node.description) == "string" and node.description or ""):lower()
      if text:find("millis", 1, true) then return true end
      local ex = tonumber(node.example)
      if ex and ex >= 1e12 and ex < 1e13 and ex == math.floor(ex) then return true end
    end
  end
  return false
end

-- The top-level properties of a body schema that are epoch milliseconds.
local function body_ms(deref, doc_path, schema, out)
  local function walk(node, dp, depth)
    node, dp = deref(dp, node)
    if type(node) ~= "table" or depth > 8 then return end
    for _, sub in ipairs(node.allOf or {}) do walk(sub, dp, depth + 1) end
    for name, p in pairs(node.properties or {}) do
      if epoch_ms(name, deref(dp, p)) then out[#out + 1] = name end
    end
  end
  walk(schema, doc_path, 0)
end

local function mock_entry(e, pparams, fields)
  local cursor, size = pparams[e.ck], pparams[e.lk or "limit"]
  return { m = e.m, p = e.p, v = e.v, t = e.t, pg = e.pg, pin = e.pin, ck = e.ck, ct = cursor and cursor.type,
           lk = size and (e.lk or "limit") or nil, ld = size and tonumber(size.default) or nil, p0 = e.p0,
           it = e.it, rq = e.rq, f = fields }
end

local entries = {}
local count = 0
-- paged operations left out, and cursor-named parameters that are not
-- paging (key -> reason); the local server's table
local excluded, not_paged, mock_pages = {}, {}, {}
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
        local q, rq, pp, ms = {}, {}, {}, {}
        local pparams = {} -- query parameters and body fields, for the paging rules
        for name in path:gmatch("{([^}]+)}") do pp[#pp + 1] = name end
        for _, prm in ipairs(op.parameters or {}) do
          prm = deref(doc_path, prm)
          if prm["in"] == "header" and prm.name == "Version" then
            local s = deref(doc_path, prm.schema) or {}
            e.v = (s.enum and s.enum[1]) or s.default
          elseif prm["in"] == "query" then
            q[#q + 1] = prm.name
            local ps = deref(doc_path, prm.schema) or {}
            pparams[prm.name] = { where = "query", type = ps.type, default = ps.default }
            if prm.required then rq[#rq + 1] = prm.name end
            if epoch_ms(prm.name, prm, ps) then ms[#ms + 1] = prm.name end
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
        local rb = op.requestBody and deref(doc_path, op.requestBody)
        if rb and rb.content then
          local ct = next(rb.content)
          e.b = ct == "application/json" and "json"
            or ct == "application/x-www-form-urlencoded" and "form"
            or ct == "multipart/form-data" and "multipart" or ct
          local media = rb.content[ct]
          local props, req, _, open = shape(doc_path, media and media.schema)
          if e.b == "json" then
            for name, ty in pairs(props) do
              if not pparams[name] then pparams[name] = { where = "body", type = ty ~= true and ty or nil } end
            end
          end
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
          if e.b == "json" and media then body_ms(deref, doc_path, media.schema, ms) end
        end
        local answer
        local codes = sorted_keys(op.responses or {})
        for _, code in ipairs(codes) do
          local resp = op.responses[code]
          if tostring(code):match("^2") then
            resp = deref(doc_path, resp)
            local media = resp and resp.content and resp.content["application/json"]
            if media and media.schema then
              answer = media.schema
              local props, _, is_array = shape(doc_path, media.schema)
              local names = sorted_keys(props)
              if is_array then e.r = "[]" elseif #names > 0 and #names <= 12 then e.r = names end
            end
            break
          end
        end
        local ok, pg, why = pcall(paging.classify, S, doc_path, key, pparams, answer)
        if not ok then
          io.stderr:write("gen_catalog: ", tostring(pg), "\n")
          os.exit(1)
        end
        if pg then
          for k, v in pairs(pg) do e[k] = v end
          mock_pages[key] = mock_entry(e, pparams, answer and paging.page_fields(S, doc_path, answer, e.it) or {})
        elseif why:match("^excluded: ") then
          excluded[key] = why:sub(11)
          e.nx = why:sub(11) -- each_of says why it does not walk it
        elseif paging.NOT_PAGED[key] then
          not_paged[key] = why
        end
        if op.deprecated then e.dep = true end
        -- a paging cursor is the server's to give, not a time to type
        for i = #ms, 1, -1 do if ms[i] == e.ck then table.remove(ms, i) end end
        if #ms > 0 then e.ms = uniq_sorted(ms) end
        entries[key] = e
      end
    end
  end
end

-- one operation a line, keys sorted: diffs stay readable
local function lua_value(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then return v == math.floor(v) and ("%d"):format(v) or ("%.17g"):format(v) end
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
                 "ck", "ct", "p0", "nx", "ms", "dep" }
local lines = {
  "-- Generated by tools/gen_catalog.lua from GHL's OpenAPI specs (apps/*.json). Do not edit;",
  "-- run `make catalog`. Key: service; value: the text of a Lua table operationId -> entry, which",
  "-- ghl.operations compiles the first time one of the service's operations is asked for (a",
  "-- script that talks to contacts does not parse the other 500). Fields: m method, p path,",
  "-- v Version, t token (L location, A agency, o = OAuth only), s scopes, pp path params, q query",
  "-- params, rq required query, qc query params sent comma-joined (explode: false), b body",
  "-- (json|form|multipart), rb required body fields, bf body fields (names are checked against",
  "-- them), bs where the body has arrays (an empty table there is sent as []), r response fields",
  "-- ('[]' = bare array), pg paging style (csrc/pager_styles.c), pin where the cursor goes",
  "-- (query|body), it where the items are (a path: 'results.posts'; '[]' the page; '*' found at",
  "-- run time), lk page-size parameter when not `limit`, ck cursor parameter, ct 's' when the",
  "-- cursor is typed a string, p0 first page number when not 1, nx why a paged operation is not",
  "-- walked by each_of, ms times in epoch milliseconds (query or body), dep deprecated.",
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
do
  local keys, paged = sorted_keys(excluded), 0
  for _, e in pairs(entries) do if e.pg then paged = paged + 1 end end
  lines[#lines + 1] = ("-- Paged operations: %d walked by each_of; %d left out:"):format(paged, #keys)
  for _, k in ipairs(keys) do lines[#lines + 1] = ("-- %s: %s"):format(k, excluded[k]) end
  keys = sorted_keys(not_paged)
  lines[#lines + 1] = ("-- Not paging, though a parameter is named like a cursor (%d):"):format(#keys)
  for _, k in ipairs(keys) do lines[#lines + 1] = ("-- %s: %s"):format(k, not_paged[k]) end
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

-- the local server's table: one paged operation a line
local mock_lines = {
  "-- Generated by tools/gen_catalog.lua from GHL's OpenAPI specs. Do not edit; run `make catalog`.",
  "-- The paged operations, for the local server's spec-shaped pages (paged.lua): m method, p path,",
  "-- v Version, t token, pg paging style, pin where the cursor is (query|body), ck cursor parameter,",
  "-- ct its type in the spec, lk page-size parameter and ld its default, p0 first page, it where",
  "-- the items go, rq required query, f the answer's other scalar fields (path -> type).",
  "return {",
}
for _, key in ipairs(sorted_keys(mock_pages)) do
  mock_lines[#mock_lines + 1] = ("[%q]=%s,"):format(key, lua_value(mock_pages[key]))
end
mock_lines[#mock_lines + 1] = "}"
local mock_text = table.concat(mock_lines, "\n") .. "\n"

local outputs = { { out_path, text }, { mock_path, mock_text } }
if check then
  for _, o in ipairs(outputs) do
    if read(o[1]) ~= o[2] then
      io.stderr:write(("gen_catalog: %s is stale against %s (run `make catalog`)\n"):format(o[1], specs))
      os.exit(1)
    end
  end
  print(("gen_catalog: %s and %s match the specs (%d operations)"):format(out_path, mock_path, count))
else
  for _, o in ipairs(outputs) do
    local f = assert(io.open(o[1], "wb"))
    f:write(o[2])
    f:close()
  end
  print(("gen_catalog: wrote %s and %s (%d operations)"):format(out_path, mock_path, count))
end
