#!/usr/bin/env lua5.4
--[[ The resource pages of the API reference (make docs): one LDoc source a
resource, written into build/docs-src/ (or the folder given), for config.ld.

The methods are read off a real client (ghl.new), so every method a user can
call gets an entry: a declared one (resource.define) from its declaration and
the catalogue entry of its operation (HTTP method and path, Version, token,
scope, path, query and body parameters, which are required and which the
client fills in), a hand-written one from its resource.doc record. A method
with neither stops the build, and so does a record for a method that does not
exist; spec/docs_spec.lua checks the pages the same way.

  lua5.4 tools/gen_docs.lua [dir]        write the pages
  loadfile("tools/gen_docs.lua")("--lib")  the functions, for the specs ]]
local as_lib = ... == "--lib"
if not as_lib then
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = "build/lua5.4/?.so;" .. package.cpath
end
local ghl = require "ghl"
local operations = require "ghl.operations"

local M = {}

-- what operations.complete fills in from the client when a request lacks it
local FILLED = { locationId = "location_id", location_id = "location_id", companyId = "company_id" }

local TOKENS = {
  L = "a location token", Lo = "a location OAuth token", A = "an agency token", Ao = "an agency OAuth token",
  ["A L"] = "an agency or a location token", ["L Lo"] = "a location token",
}

--- A client for reading the resources off (nothing is sent).
function M.client()
  return ghl.new{ token = "pit-docs", location_id = "L", base_url = "http://127.0.0.1:1" }
end

--- The resources of `client`, sorted by name: a list of { name =, class = }.
function M.resources(client)
  local out = {}
  for name, v in pairs(client) do
    local class = type(v) == "table" and getmetatable(v)
    if type(class) == "table" and class._specs then out[#out + 1] = { name = name, class = class } end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- The methods a user can call on a resource class, sorted.
function M.methods(class)
  local out = {}
  for k, v in pairs(class) do
    if type(k) == "string" and type(v) == "function" and k ~= "new" and not k:find("^_") then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

local function singular(plural)
  if plural:find("ies$") then return (plural:gsub("ies$", "y")) end
  return (plural:gsub("s$", ""))
end

local function article(noun)
  return (noun:find("^[aeiou]") and "an " or "a ") .. noun
end

-- contactId -> contact_id; `id` takes the noun of the method (get_note -> note_id)
local function var(name, rname, mname)
  if name == "id" then
    local noun = mname:match("^%l+_(.+)$")
    return (noun and singular(noun) or singular(rname)) .. "_id"
  end
  return (name:gsub("(%l)(%u)", function(a, b) return a .. "_" .. b:lower() end):gsub("^%u", string.lower))
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

-- The first sentence of a description by the method's name, for declared
-- methods without a `doc` of their own.
local function summary_by_name(rname, mname)
  local one = singular(rname)
  local fixed = {
    get = "One " .. one .. " by its id",
    create = "Create " .. article(one),
    update = "Update " .. article(one),
    delete = "Delete " .. article(one),
    upsert = "Create " .. article(one) .. ", or update the one that matches",
    search = "One page of the " .. rname .. " that match",
    each = "Every " .. one .. " that matches, across all pages",
    pages = "Every page of the " .. rname .. " that match, one at a time",
  }
  if fixed[mname] then return fixed[mname] end
  local verb, noun = mname:match("^(%l+)_(.+)$")
  if not verb then return nil end
  noun = noun:gsub("_", " ")
  local by_verb = {
    get = "One " .. singular(noun) .. " by its id",
    create = "Create " .. article(singular(noun)),
    update = "Update " .. article(singular(noun)),
    delete = "Delete " .. article(singular(noun)),
    each = "Every " .. singular(noun) .. ", across all pages",
  }
  return by_verb[verb]
end

local function describe_type(e, field)
  local shape = e.bs and e.bs.o and e.bs.o[field]
  if shape == "a" or (type(shape) == "table" and shape.a) then return "a list" end
  if type(shape) == "table" then return "a table" end
  return nil
end

-- The sub-parameters of a table parameter: the operation's body fields or
-- query parameters, required ones first.
local function fields_of(e, where, pname, except, paged, defaults)
  local names = where == "body" and (e.bf or {}) or (e.q or {})
  local required = set_of(where == "body" and e.rb or e.rq)
  local out = {}
  for _, n in ipairs(names) do
    if not except[n] then
      local text, opt = {}, true
      local default = defaults[n]
      if default ~= nil then
        text[#text + 1] = ("default `%s`"):format(tostring(default))
      elseif required[n] and FILLED[n] then
        text[#text + 1] = ("required; default: the client's `%s`"):format(FILLED[n])
      elseif required[n] and not (paged and n == e.ck) then
        text[#text + 1] = "required"
        opt = false
      end
      if where == "body" then
        local t = describe_type(e, n)
        if t then text[#text + 1] = t end
      end
      if paged and n == e.ck then text[#text + 1] = "the cursor: set by the iterator from page to page" end
      if paged and n == (e.lk or "limit") then text[#text + 1] = "the page size" end
      out[#out + 1] = { name = pname .. "." .. n, text = table.concat(text, "; "), opt = opt,
                        req = (not opt) and true or false, plain = opt and #text == 0 }
    end
  end
  table.sort(out, function(a, b)
    if a.req ~= b.req then return a.req end
    return a.name < b.name
  end)
  return out
end

-- Positional parameters of a method, each { name, type, text, opt, subs }.
local function parameters(d, e, rname, mname)
  local except = set_of(d.except)
  local paged = (d.each or d.pages) and d.pager ~= false
  local out = {}
  if d.params then
    for _, p in ipairs(d.params) do
      out[#out + 1] = { name = p[1], type = p[2], text = p[3], opt = p.opt }
    end
  else
    for _, a in ipairs(d.args or {}) do
      out[#out + 1] = { name = a, type = "string", text = ("the `{%s}` of the path: the %s"):format(a,
        (var(a, rname, mname):gsub("_", " "))) }
    end
    if d.list then
      out[#out + 1] = { name = d.list, type = "table", text = ("a list, sent as the body's `%s`"):format(d.list) }
    end
    if d.body then
      out[#out + 1] = { name = "fields", type = "table", opt = d.body == "optional",
                        text = "the JSON body, with GHL's field names" }
    end
    if d.query then
      out[#out + 1] = { name = "params", type = "table", opt = true, text = "query parameters, by GHL's names" }
    end
  end
  for _, p in ipairs(out) do
    if p.name == "fields" and e.b then
      if e.bf then
        p.subs = fields_of(e, "body", "fields", except, paged and e.pin == "body", d.defaults or {})
      else
        p.text = p.text .. " (its spec lists no fields, so their names are not checked)"
      end
      if paged and e.pin == "body" then p.paging = true end
    elseif p.name == "params" and e.q then
      p.subs = fields_of(e, "query", "params", except, paged and e.pin ~= "body", d.defaults or {})
      if paged and e.pin ~= "body" then p.paging = true end
    end
    if p.paging then
      p.subs = p.subs or {}
      p.subs[#p.subs + 1] = { name = p.name .. ".max_items", opt = true,
                              text = "stop after this many items (never sent to GHL)" }
      p.subs[#p.subs + 1] = { name = p.name .. ".max_pages", opt = true,
                              text = "stop after this many pages (never sent to GHL)" }
    end
  end
  return out
end

local function field_list(names)
  local t = {}
  for _, n in ipairs(names) do t[#t + 1] = "`" .. n .. "`" end
  return table.concat(t, ", ")
end

-- @return lines: what the method gives back
local function returns(d, e, rname)
  local one, it = singular(rname), e.it or "items"
  local resp = "`resp`: `status`, `headers`, `trace_id`, `attempts`"
  local fail = { "-- @return[2] `nil, err`: `err` is a structured error (@{errors.md|the errors topic})" }
  local lines
  if d.each then
    return { ("-- @treturn function an iterator over every item (the `%s` of each page): a failed page raises"
              .. " the structured error"):format(it) }
  elseif d.pages then
    return { ("-- @treturn function an iterator of `items, page` for each page (`items` is the page's `%s`,"
              .. " `page` the whole answer); a failed page raises the structured error"):format(it) }
  elseif d.returns_text then
    lines = {}
    for _, r in ipairs(d.returns_text) do lines[#lines + 1] = "-- @treturn[1] " .. r end
  elseif d.page then
    lines = { ("-- @treturn[1] table the page's `%s` list"):format(it),
              "-- @treturn[1] table " .. resp .. ", and the whole answer in `resp.body`" }
  elseif d.returns == true then
    lines = { "-- @treturn[1] boolean true", "-- @treturn[1] table " .. resp .. ", and GHL's answer in `resp.body`" }
  elseif type(d.returns) == "string" and d.returns:sub(-1) == "?" then
    local f = d.returns:sub(1, -2)
    lines = { ("-- @treturn[1] table the %s: GHL's answer, or its `%s` field when the answer is wrapped"):format(
                one, f),
              "-- @treturn[1] table " .. resp .. ", and the whole answer in `resp.body`" }
  elseif type(d.returns) == "string" then
    lines = { ("-- @treturn[1] table the answer's `%s`, unwrapped (a `decode` error when it is missing)"):format(
                d.returns),
              "-- @treturn[1] table " .. resp .. ", and the whole answer in `resp.body`" }
  else
    local shape = e.r and #e.r > 0 and (" (fields " .. field_list(e.r) .. ")") or ""
    if e.r and e.r[1] == "[]" then shape = " (a list)" end
    lines = { "-- @treturn[1] table GHL's answer, decoded" .. shape, "-- @treturn[1] table " .. resp }
  end
  for _, l in ipairs(fail) do lines[#lines + 1] = l end
  return lines
end

-- Example values for body fields and query parameters.
local SAMPLES = {
  firstName = '"Ada"', lastName = '"Lovelace"', name = '"Ada Lovelace"', email = '"ada@example.com"',
  phone = '"+15555550100"', title = '"Call back"', body = '"Met at the conference"', status = '"open"',
  dueDate = '"2030-01-31T17:00:00Z"', completed = "false", type = '"SMS"', message = '"Hello!"',
  query = '"ada"', value = '"..."', dataType = '"TEXT"', description = '"..."', slug = '"sales"',
  startTime = "os.time()", endTime = "os.time() + 7 * 86400", startDate = "os.time()",
  endDate = "os.time() + 7 * 86400", limit = "50", originId = "location_id",
}

local function sample(name, rname)
  if name == "name" and rname ~= "contacts" then return '"Sales"' end
  if SAMPLES[name] then return SAMPLES[name] end
  if name:find("Id$") then return var(name) end
  return '"..."'
end

-- The fields an example shows: the required ones the client does not fill,
-- else a few well-known ones.
local function example_fields(p, rname)
  local t = {}
  for _, s in ipairs(p.subs or {}) do
    local n = s.name:match("%.(.+)$")
    if s.req and #t < 4 then t[#t + 1] = n .. " = " .. sample(n, rname) end
  end
  if #t == 0 then
    for _, s in ipairs(p.subs or {}) do
      local n = s.name:match("%.(.+)$")
      if SAMPLES[n] and not s.name:find("%.max_") and #t < 3 then t[#t + 1] = n .. " = " .. sample(n, rname) end
    end
  end
  return t
end

-- A table constructor, one field a line when asked.
local function constructor(fields, multiline)
  if #fields == 0 then return "{}" end
  if not multiline then return "{ " .. table.concat(fields, ", ") .. " }" end
  return "{\n  " .. table.concat(fields, ",\n  ") .. ",\n}"
end

local function longest(text)
  local n = 0
  for line in text:gmatch("[^\n]+") do n = math.max(n, #line) end
  return n
end

local function example(d, e, rname, mname, params, multiline)
  if d.example then return d.example end
  local one = singular(rname)
  local args = {}
  local table_arg
  for _, p in ipairs(params) do
    if p.subs then
      local t = example_fields(p, rname)
      if not p.opt or #t > 0 then table_arg = constructor(t, multiline) end
    elseif p.type == "table" then
      args[#args + 1] = '{ "..." }'
    elseif not p.opt then
      args[#args + 1] = var(p.name, rname, mname)
    end
  end
  local call
  if table_arg and #args == 0 then
    call = ("client.%s:%s%s"):format(rname, mname, table_arg)
  else
    if table_arg then args[#args + 1] = table_arg end
    call = ("client.%s:%s(%s)"):format(rname, mname, table.concat(args, ", "))
  end
  if d.each then
    local item = singular((e.it or "items"):match("([^.]+)$"))
    if item == "item" or item == "[]" then item = one end
    return ("for %s in %s do\n  print(%s.id)\nend"):format(item, call, item)
  elseif d.pages then
    return ("for items, page in %s do\n  print(#items)\nend"):format(call)
  elseif d.page then
    return ("local items, resp = assert(%s)\nprint(#items, resp.status)"):format(call)
  elseif d.returns == true then
    return ("assert(%s)"):format(call)
  elseif type(d.returns) == "string" then
    local v = var(d.returns:gsub("%?$", ""))
    return ("local %s = assert(%s)"):format(v, call)
  end
  return ("local answer = assert(%s)"):format(call)
end

-- Where the operation sends, and what it needs.
local function details(d, e, key)
  local t = { ("Operation `%s`, Version `%s`"):format(key, e.v or "none") }
  if e.t and TOKENS[e.t] then t[#t + 1] = ("; needs %s (`%s`)"):format(TOKENS[e.t], e.t) end
  if e.s then t[#t + 1] = ("; scope `%s`"):format(e.s:gsub(" ", "`, `")) end
  t[#t + 1] = "."
  local filled = {}
  local given = set_of(d.args)
  for _, n in ipairs(e.pp or {}) do
    if FILLED[n] and not given[n] then filled[#filled + 1] = ("`{%s}` in the path is the client's `%s`"):format(n, FILLED[n]) end
  end
  if #filled > 0 then t[#t + 1] = " " .. table.concat(filled, "; ") .. "." end
  if (d.each or d.pages) and e.pg and d.pager ~= false then
    t[#t + 1] = (" Pages in the `%s` style (see the README's paging table); `max_items` and `max_pages`"
                 .. " bound the walk."):format(e.pg)
  end
  if e.dep then t[#t + 1] = " GHL marks this operation deprecated." end
  return table.concat(t)
end

local function comment(text)
  local out = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line == "" and "--" or "-- " .. line end
  return out
end

--- The LDoc entry of one method: a list of lines.
function M.entry(rname, class, mname)
  local spec, hand = class._specs[mname], class._docs[mname]
  local d = hand or spec
  if not d then
    error(("gen_docs: client.%s:%s has no declaration and no resource.doc record: document it in"
           .. " lua/ghl/resources/%s.lua"):format(rname, mname, rname), 0)
  end
  local e, key = operations.resolve(d.op, rname .. ":" .. mname)
  local params = parameters(d, e, rname, mname)
  local usage = example(d, e, rname, mname, params)
  if longest(usage) > 100 then usage = example(d, e, rname, mname, params, true) end
  local text = d.doc
  if not text then
    text = summary_by_name(rname, mname)
    if not text then
      error(("gen_docs: client.%s:%s needs a `doc` in its declaration (its name says too little)"):format(
        rname, mname), 0)
    end
    text = text .. "."
  end
  -- the first sentence is the summary: it gets the HTTP request
  local first, rest = text:match("^(.-)%.%s+(.*)$")
  if not first then first, rest = (text:gsub("%.%s*$", "")), "" end
  local lines = comment(("%s (`%s %s`).\n\n%s%s"):format(first, e.m, e.p,
    rest ~= "" and (rest .. "\n\n") or "", details(d, e, key)))
  lines[1] = "-" .. lines[1]
  lines[#lines + 1] = "-- @function " .. mname
  for _, p in ipairs(params) do
    -- the fields with nothing to say are named in the table's own line
    local plain, shown = {}, {}
    for _, s in ipairs(p.subs or {}) do
      if s.plain then plain[#plain + 1] = "`" .. s.name:match("%.(.+)$") .. "`" else shown[#shown + 1] = s end
    end
    local text = p.text or ""
    if #plain > 0 then
      local what = p.name == "fields" and "fields" or "parameters"
      text = ("%s. %s %s: %s"):format(text, #shown > 0 and "Other" or "Its", what, table.concat(plain, ", "))
    end
    lines[#lines + 1] = ("-- @tparam%s %s %s %s"):format(p.opt and "[opt]" or "", p.type or "string", p.name, text)
    for _, s in ipairs(shown) do
      lines[#lines + 1] = ("-- @param%s %s %s"):format(s.opt and "[opt]" or "", s.name, s.text)
    end
  end
  for _, l in ipairs(returns(d, e, rname)) do lines[#lines + 1] = l end
  lines[#lines + 1] = "-- @usage"
  for _, l in ipairs(comment(usage)) do lines[#lines + 1] = l end
  lines[#lines + 1] = ""
  return lines
end

--- The LDoc source of one resource's page.
function M.page(r)
  local name, class = r.name, r.class
  if not class._about then
    error(("gen_docs: client.%s has no resource.about text (lua/ghl/resources/%s.lua)"):format(name, name), 0)
  end
  local methods = M.methods(class)
  local callable = set_of(methods)
  for m in pairs(class._docs) do
    if not callable[m] then error(("gen_docs: resource.doc for client.%s:%s, which does not exist"):format(name, m), 0) end
  end
  local sample = callable.get and "get(id)" or callable.list and "list()" or (methods[1] .. "(...)")
  local lines = comment(class._about .. "\n\n" .. ([[
Call the methods with a colon: `client.%s:%s`. Each returns `value, resp`, or `nil, err`
when GHL or the network fails (@{errors.md|the errors topic}); the iterators (`each`, `pages`, ...)
raise `err` instead of ending early. Misuse (a missing or mistyped argument, a query parameter
or body field the operation does not take) raises an `invalid_argument` error before anything
is sent; wrap a table in `ghl.unchecked{...}` to send a name GHL's spec does not list.
`locationId` and `companyId` default to the client's `location_id` and `company_id` where an
operation requires them.

Generated by tools/gen_docs.lua from lua/ghl/resources/%s.lua and the catalogue.]]):format(name, sample, name))
  lines[1] = "-" .. lines[1]
  lines[#lines + 1] = "-- @module client." .. name
  lines[#lines + 1] = ""
  for _, m in ipairs(methods) do
    for _, l in ipairs(M.entry(name, class, m)) do lines[#lines + 1] = l end
  end
  return table.concat(lines, "\n")
end

--- Every page: resource name -> LDoc source.
function M.pages(client)
  local out = {}
  for _, r in ipairs(M.resources(client or M.client())) do out[r.name] = M.page(r) end
  return out
end

--- Writes the pages into `dir`; returns how many.
function M.write(dir)
  -- the folder holds these pages only: one of a resource that is gone must not stay
  os.execute("mkdir -p '" .. dir .. "' && rm -f '" .. dir .. "'/*.lua")
  local n = 0
  for name, text in pairs(M.pages()) do
    local f = assert(io.open(("%s/%s.lua"):format(dir, name), "w"))
    f:write(text)
    f:close()
    n = n + 1
  end
  return n
end

if as_lib then return M end
local dir = arg[1] or "build/docs-src"
local ok, err = pcall(M.write, dir)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(("gen_docs: %d resource pages in %s"):format(err, dir))
