--- How the ghl command reads its arguments: the signatures of the
-- resource methods (ids, other positional values, a list, name=value
-- fields), their usage lines, and the values of name=value parameters
-- (lists typed as a,b,c; times typed in seconds where GHL takes epoch
-- milliseconds).
--
--   local sig = args.signature("contacts", "add_tags")
--   args.usage("contacts", "add_tags", sig)   "ghl contacts add_tags <contactId> <tag>... (or tags=a,b)"
--   local argv, n = args.bind("contacts", "add_tags", sig, { "C1", "tags=vip,lead" }, fail, note)
--
-- Misuse calls `fail(message, hint)` (hint: the usage line), which must
-- not return; `note(message)`
-- tells what was changed (a time in seconds made milliseconds).
local core = require "ghl.core"
local output = require "ghl.cli.output"
local operations = require "ghl.operations"

local M = {}

-- The methods the resources write by hand (not declared as specs): their
-- arguments. ids: positional ids (the last `optional_ids` may be left
-- out); scalars: positional values after them ({ name, "boolean"?,
-- optional = true }); list: a list taking the remaining words ({ name,
-- item }); table: "body" | "query", name=value fields (`required`: the
-- method needs the table, even an empty one).
local HAND = {
  contacts = {
    add_tags = { op = "contacts.add-tags", ids = { "contactId" }, list = { "tags", "tag" } },
    remove_tags = { op = "contacts.remove-tags", ids = { "contactId" }, list = { "tags", "tag" } },
    add_followers = { op = "contacts.add-followers-contact", ids = { "contactId" }, list = { "followers", "userId" } },
    remove_followers = { op = "contacts.remove-followers-contact", ids = { "contactId" },
                         list = { "followers", "userId" } },
    complete_task = { op = "contacts.update-task-completed", ids = { "contactId", "taskId" },
                      scalars = { { "completed", "boolean", optional = true } } },
    changed_since = { op = "contacts.search-contacts-advanced", scalars = { { "since" } }, table = "body" },
  },
  calendars = {
    free_slots = { op = "calendars.get-slots", ids = { "calendarId" }, table = "query", required = true },
  },
  conversations = {
    update_message_status = { op = "conversations.update-message-status", ids = { "messageId" },
                              scalars = { { "status" } }, table = "body" },
    changed_since = { op = "conversations.search-conversation", scalars = { { "since" } }, table = "query" },
  },
  locations = {
    get = { op = "locations.get-location", ids = { "locationId" }, optional_ids = 1 },
  },
  opportunities = {
    update_status = { op = "opportunities.update-opportunity-status", ids = { "id" }, scalars = { { "status" } } },
    add_followers = { op = "opportunities.add-followers-opportunity", ids = { "id" }, list = { "followers", "userId" } },
    remove_followers = { op = "opportunities.remove-followers-opportunity", ids = { "id" },
                         list = { "followers", "userId" } },
    changed_since = { op = "opportunities.search-opportunity", scalars = { { "since" } }, table = "query" },
  },
  workflows = {
    add_contact = { op = "contacts.add-contact-to-workflow", ids = { "workflowId", "contactId" }, table = "body" },
    remove_contact = { op = "contacts.delete-contact-from-workflow", ids = { "workflowId", "contactId" } },
  },
}
M.HAND = HAND

-- Options of the iterators (ghl.paging), never sent to GHL.
local PAGING_OPTIONS = { max_items = "number", max_pages = "number", items = "string" }

--- The signature of a resource method, or nil (a method nobody described:
-- the caller passes its words as they are).
function M.signature(rname, mname)
  local hand = HAND[rname] and HAND[rname][mname]
  if hand then return hand end
  local class = require("ghl.resources." .. rname)
  local spec = class._specs and class._specs[mname]
  if not spec then return nil end
  return { op = spec.op, ids = spec.args or {}, table = spec.body and "body" or (spec.query and "query") or nil,
           required = spec.body == true, iter = spec.each or spec.pages }
end

--- The usage line of a method: "ghl contacts get <contactId>".
function M.usage(rname, mname, sig)
  local parts = { "ghl", rname, mname }
  if not sig then
    parts[#parts + 1] = "[id ...] [name=value ...]"
    return table.concat(parts, " ")
  end
  local ids, opt = sig.ids or {}, sig.optional_ids or 0
  for i, name in ipairs(ids) do
    parts[#parts + 1] = i > #ids - opt and ("[<" .. name .. ">]") or ("<" .. name .. ">")
  end
  for _, s in ipairs(sig.scalars or {}) do
    local word = "<" .. s[1] .. ">"
    if s[2] == "boolean" then word = "<" .. s[1] .. ": true|false>" end
    parts[#parts + 1] = s.optional and ("[" .. word .. "]") or word
  end
  if sig.list then
    parts[#parts + 1] = ("<%s>... (or %s=a,b)"):format(sig.list[2], sig.list[1])
  end
  if sig.table then
    parts[#parts + 1] = sig.iter and "[name=value ...] [max_items=N]" or "[name=value ...]"
  end
  return table.concat(parts, " ")
end

-- JSON numbers with an integer value as Lua integers (5.4), so "5" is sent as 5
local function integers(v)
  if not math.tointeger then return v end
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
  end
  return v
end

--- The value of JSON text, or nil and a message.
function M.decode_json(text, what)
  local v, err = core.json_decode(text)
  if v == nil and err then return nil, ("%s: not valid JSON: %s"):format(what, text) end
  return integers(v), nil
end

--- name=value -> name, "value"; name:=json -> name, decoded (or nil and
-- name and the message of bad JSON: nil, nil, msg); else nil.
function M.parse_pair(word)
  local name, json = word:match("^([%a_][%w_.%-]*):=(.*)$")
  if name then
    local v, err = M.decode_json(json, name .. ":=")
    if err then return nil, nil, err end
    return name, v
  end
  local n2, value = word:match("^([%a_][%w_.%-]*)=(.*)$")
  if n2 then return n2, value end
  return nil
end

--- Takes --flag value / --flag=value options out of args. spec: name ->
-- "value", "switch" or "list" (a value that may repeat: a table of them).
-- Returns the options and the other words; "--" ends the options and stays
-- in the words (the first "--" there is that one). Misuse calls
-- `misuse(format, ...)`, which must not return.
function M.take_flags(args, spec, where, misuse)
  local opts, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i, #args do rest[#rest + 1] = args[j] end
      break
    end
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if name then
      local kind = spec[name]
      if not kind then misuse("%s: unknown option --%s", where, name) end
      if kind == "switch" then
        if inline then misuse("%s: --%s takes no value", where, name) end
        opts[name] = true
      else
        local v = inline
        if v == nil then
          i = i + 1
          v = args[i]
          if v == nil then misuse("%s: --%s needs a value", where, name) end
        end
        if kind == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], v)
        else
          opts[name] = v
        end
      end
    elseif a:match("^%-%a") then
      misuse("%s: unknown option %s", where, a)
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

--- "vip, lead,,x" -> { "vip", "lead", "x" }
function M.split_list(s)
  local out = {}
  for part in s:gmatch("[^,]+") do
    part = part:match("^%s*(.-)%s*$")
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

-- Whether `name` is an array at the top of the entry's JSON body.
local function body_array(e, name)
  local o = type(e.bs) == "table" and e.bs.o
  return type(o) == "table" and o[name] ~= nil
end

-- Whether `name` is an epoch-milliseconds time of the entry.
local function is_ms(e, name)
  for _, n in ipairs(e.ms or {}) do
    if n == name then return true end
  end
  return false
end

-- Seconds (below 1e11: 1e11 ms is 1973, 1e11 s the year 5138) as
-- milliseconds, the type kept; nil when v is no such number.
local function seconds_to_ms(v)
  local n
  if type(v) == "number" then
    n = v
  elseif type(v) == "string" and v:match("^%d+%.?%d*$") then
    n = tonumber(v)
  end
  if not n or n <= 0 or n >= 1e11 then return nil end
  local ms = math.floor(n * 1000 + 0.5)
  if type(v) == "string" then return ("%d"):format(ms) end
  return math.tointeger and math.tointeger(ms) or ms
end

--- Shapes the name=value parameters `params` (changed in place) for the
-- catalogue entry `e`: a string given for an array of the JSON body is
-- split at commas (tags=vip,lead), a time in seconds where the spec takes
-- epoch milliseconds is multiplied by 1000 (with a note), the iterators'
-- max_items / max_pages typed as text are numbers. `body_only`: the names
-- all go to the body (a resource's body table).
function M.shape(e, params, note, body_only)
  if not e then return params end
  local s = operations.sets(e)
  local names = {}
  for k in pairs(params) do
    if type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names) -- the notes in a stable order
  for _, k in ipairs(names) do
    local v = params[k]
    do
      local in_body = body_only or not (s.pp[k] or s.q[k])
      if type(v) == "string" and in_body and e.b == "json" and body_array(e, k) then
        params[k] = M.split_list(v)
      elseif is_ms(e, k) then
        local ms = seconds_to_ms(v)
        if ms then
          params[k] = ms
          if note then
            note(("%s=%s reads as epoch seconds: sent as %s (epoch milliseconds, what GHL takes)")
              :format(k, tostring(v), tostring(ms)))
          end
        end
      elseif PAGING_OPTIONS[k] == "number" and type(v) == "string" and tonumber(v) then
        params[k] = math.tointeger and math.tointeger(tonumber(v)) or tonumber(v)
      end
    end
  end
  return params
end

local DEFAULTS = { locationId = "location", location_id = "location", companyId = "company" }

--- The required parameters of entry `e` missing from the flat `params`, in
-- order (path, query, body): a list of { name, where, default }, where
-- default ("location" / "company") is what the client fills in when
-- `have[default]`. `skip`: names left to someone else (an iterator's
-- cursor).
function M.missing(e, params, have, skip)
  local out = {}
  local function need(list, where)
    for _, name in ipairs(list or {}) do
      local d = DEFAULTS[name]
      if params[name] == nil and not (d and have[d]) and not (skip and skip[name]) then
        out[#out + 1] = { name = name, where = where, default = d }
      end
    end
  end
  need(e.pp, "path")
  need(e.rq, "query")
  if e.b == "json" or e.b == "form" then need(e.rb, "body") end
  return out
end

local function is_true(s)
  local l = s:lower()
  if l == "true" or l == "yes" or l == "1" or l == "on" then return true end
  if l == "false" or l == "no" or l == "0" or l == "off" then return false end
  return nil
end

--- The positional arguments of method `mname` of `rname` from the words
-- after the method name: argv and its length. ids first, then the
-- scalars, the list, the table of name=value fields. A name=value pair
-- names an id, a scalar or the list as well (contactId=..., tags=a,b).
function M.bind(rname, mname, sig, words, fail, note)
  local where = rname .. " " .. mname
  local usage = M.usage(rname, mname, sig)
  local function refuse(fmt, ...)
    fail(("%s: %s"):format(where, fmt:format(...)), "usage: " .. usage)
  end
  local ids, scalars = sig.ids or {}, sig.scalars or {}
  local slots = {} -- ordered positional slots: { name, kind = "id"|"scalar", spec }
  for _, name in ipairs(ids) do slots[#slots + 1] = { name = name, kind = "id" } end
  for _, s in ipairs(scalars) do slots[#slots + 1] = { name = s[1], kind = "scalar", spec = s } end
  local by_name = {}
  for i, slot in ipairs(slots) do by_name[slot.name] = i end
  local values, list, fields = {}, nil, nil
  local next_slot = 1
  local function positional(v, word)
    while next_slot <= #slots and values[next_slot] ~= nil do next_slot = next_slot + 1 end
    if next_slot <= #slots then
      values[next_slot] = v
      next_slot = next_slot + 1
    elseif sig.list then
      list = list or {}
      if type(v) == "table" then
        for _, x in ipairs(v) do list[#list + 1] = x end
      elseif type(v) == "string" then
        for _, x in ipairs(M.split_list(v)) do list[#list + 1] = x end
      else
        list[#list + 1] = v
      end
    elseif sig.table then
      refuse("unexpected argument '%s': fields are given as name=value (firstName=Ada) or name:=json "
        .. "(tags:='[\"vip\"]')", word)
    else
      refuse("unexpected argument '%s'", word)
    end
  end
  local literal = false
  for i, w in ipairs(words) do
    if literal then
      positional(w, w)
    elseif w == "--" then
      literal = true
    elseif w:sub(1, 2) == ":=" then
      local v, err = M.decode_json(w:sub(3), "argument " .. i)
      if err then refuse("%s", err) end
      positional(v, w)
    elseif w:match("^%-%-?%a") then
      refuse("unknown option %s (values are name=value)", w)
    else
      local name, value, err = M.parse_pair(w)
      if err then refuse("%s", err) end
      if not name then
        positional(w, w)
      elseif by_name[name] then
        values[by_name[name]] = value
      elseif sig.list and name == sig.list[1] then
        list = list or {}
        if type(value) == "string" then value = M.split_list(value) end
        if type(value) ~= "table" then value = { value } end
        for _, x in ipairs(value) do list[#list + 1] = x end
      elseif sig.table then
        fields = fields or {}
        fields[name] = value
      else
        local takes = {}
        for _, slot in ipairs(slots) do takes[#takes + 1] = "<" .. slot.name .. ">" end
        refuse("unexpected argument '%s': %s takes %s and no name=value parameters", w, where,
          #takes > 0 and table.concat(takes, " ") or "no arguments")
      end
    end
  end
  -- what is missing, all of it at once
  local missing = {}
  local opt_from = #ids - (sig.optional_ids or 0)
  for i, slot in ipairs(slots) do
    local v = values[i]
    if v == nil then
      local optional = (slot.kind == "id" and i > opt_from) or (slot.spec and slot.spec.optional)
      if not optional then missing[#missing + 1] = "<" .. slot.name .. ">" end
    elseif slot.kind == "id" and (type(v) ~= "string" or v == "") then
      refuse("%s must be a non-empty id, got %s", slot.name, type(v) == "string" and "''" or output.json(v))
    elseif slot.spec and slot.spec[2] == "boolean" and type(v) == "string" then
      local b = is_true(v)
      if b == nil then refuse("%s must be true or false, got '%s'", slot.name, v) end
      values[i] = b
    end
  end
  if sig.list and (list == nil or #list == 0) then
    missing[#missing + 1] = ("<%s>... (or %s=a,b)"):format(sig.list[2], sig.list[1])
  end
  if #missing > 0 then refuse("missing %s", table.concat(missing, ", ")) end
  local argv, n = {}, 0
  for i = 1, #slots do
    n = n + 1
    argv[n] = values[i]
  end
  -- optional slots left out at the end are not passed (nil)
  if sig.list then
    n = n + 1
    argv[n] = list
  end
  if sig.table then
    if fields == nil and sig.required then fields = {} end
    if fields then
      local e = sig.op and operations.entry(sig.op)
      M.shape(e, fields, note, sig.table == "body")
      n = n + 1
      argv[n] = fields
    end
  end
  return argv, n
end

--- The resource's methods and their usage lines, for `ghl help <resource>`:
-- `methods` (sorted names) and `extra` (name -> usage line) for the ones
-- the command adds (contacts export).
function M.help(rname, methods, extra)
  local lines = { ("usage: ghl %s <method> [arguments]    (ids in order, then name=value fields)"):format(rname) }
  local rows, width = {}, 0
  for i, m in ipairs(methods) do
    local line, op
    if extra and extra[m] then
      line = extra[m]
    else
      local sig = M.signature(rname, m)
      line = M.usage(rname, m, sig):gsub("^ghl " .. rname .. " ", "")
      op = sig and sig.op
    end
    rows[i] = { line, op }
    if op and #line <= 56 then width = math.max(width, #line) end
  end
  for _, r in ipairs(rows) do
    local line = "  " .. r[1]
    if r[2] then line = ("%-" .. (width + 2) .. "s  %s"):format(line, r[2]) end
    lines[#lines + 1] = line
  end
  local iterators = {}
  for _, m in ipairs(methods) do
    local sig = M.signature(rname, m)
    if sig and sig.iter then iterators[#iterators + 1] = m end
  end
  if #iterators > 0 then
    lines[#lines + 1] = table.concat(iterators, ", ") .. " print one JSON per line (an item; for pages, a page)."
  end
  lines[#lines + 1] = "`ghl ops <operation>` shows the parameters of an operation."
  return table.concat(lines, "\n") .. "\n"
end

return M
