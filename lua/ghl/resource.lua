--- Builds resource classes from short declarations over the catalogue.
--
--     resource.define("contacts", {
--       get    = { op = "contacts.get-contact", args = { "contactId" }, returns = "contact" },
--       create = { op = "contacts.create-contact", body = true, returns = "contact" },
--       search = { op = "contacts.search-contacts-advanced", body = true, page = true },
--       each   = { op = "contacts.search-contacts-advanced", body = true, each = true },
--     })
--
-- Positional arguments: the `args` (path parameters, non-empty strings),
-- then the body table (`body = true`, or "optional"), then a table of query
-- parameters (`query = true`, optional). `returns` unwraps a field of the
-- answer (`true`: return true; "field?": unwrap only when the wrapper is
-- there). `page` returns the items of one page,
-- `each` iterates every item, `pages` every page. `prepare(self, parts,
-- where)` may check or adjust `parts` ({path, query, body}: copies) before
-- the client's ids are filled in and anything is sent.
--
-- `doc` (Markdown: what the method does), `example` (Lua) and `defaults`
-- (parameter -> the value `prepare` gives it when the caller does not) are
-- read by tools/gen_docs.lua only, for the resource's page of the reference;
-- so are `resource.about` and `resource.doc`, which describe a resource and
-- its hand-written methods.
-- @internal ghl.resource
local check = require "ghl.check"
local errors = require "ghl.errors"
local operations = require "ghl.operations"
local paging = require "ghl.paging"
local unwrap = require "ghl.unwrap"

local M = {}

--- Every class defined so far (for the spec that resolves all their operations).
M.defined = {}

-- What a method returns from a 2xx body, after its `returns`: true, the
-- unwrapped field (required, or "field?": when there), or the body; the
-- whole body stays in resp.body.
local function shape(returns, body, resp)
  if returns and returns ~= true and returns:sub(-1) ~= "?" then return unwrap(body, resp, returns) end
  resp.body = body
  if returns == true then return true, resp end
  if returns then
    -- the spec says unwrapped, the wild has seen a wrapper: take either
    local field = returns:sub(1, -2)
    if type(body) == "table" and type(body[field]) == "table" then return body[field], resp end
  end
  return body, resp
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- The hot path of the simplest and most frequent calls (get/delete by id):
-- only path parameters, nothing to fill or copy.
local function lean(class, where, e, spec)
  local args = spec.args
  local simple = not (spec.body or spec.query or spec.each or spec.pages or spec.page or spec.prepare)
    and args and #args >= 1 and #args <= 2 and not e.rq and not e.b
  if not simple then return nil end
  for _, name in ipairs(e.pp or {}) do
    local given = false
    for _, a in ipairs(args) do given = given or a == name end
    if not given then return nil end -- a path parameter filled from the client (locationId)
  end
  local a1, a2 = args[1], args[2]
  local returns = spec.returns
  local method, template, version, token = e.m, e.p, e.v, e.t
  return function(self, x, y)
    if getmetatable(self) ~= class then check.self(self, class, where) end
    if type(x) ~= "string" or x == "" then check.id(x, where, a1) end
    local path
    if a2 then
      if type(y) ~= "string" or y == "" then check.id(y, where, a2) end
      path = { [a1] = x, [a2] = y }
    else
      path = { [a1] = x }
    end
    local body, resp = self.client:_request(method, template, { path = path, version = version }, token)
    if body == nil then return nil, resp end
    return shape(returns, body, resp)
  end
end

local function build(class, rname, mname, spec)
  local where = rname .. ":" .. mname
  local e, key = operations.resolve(spec.op, where)
  local args = spec.args or {}
  local fast = lean(class, where, e, spec)
  if fast then return fast end
  return function(self, ...)
    check.self(self, class, where)
    local argv = { ... } -- (no table.pack: LuaJIT)
    local parts = { path = {}, query = {} }
    for i, name in ipairs(args) do
      check.id(argv[i], where, name)
      parts.path[name] = argv[i]
    end
    local k, unchecked = #args + 1, false
    if spec.body then
      local b = argv[k]
      if b ~= nil or spec.body ~= "optional" then check.table(b, where, "fields") end
      parts.body = copy(b) -- the caller's table is never changed
      unchecked = getmetatable(b) == operations.UNCHECKED
      k = k + 1
    end
    if spec.query then
      local q = argv[k]
      if q ~= nil then check.table(q, where, "params") end
      parts.query = copy(q)
      unchecked = unchecked or getmetatable(q) == operations.UNCHECKED
    end
    local o
    if spec.each or spec.pages then
      local target = e.pin == "body" and "body" or "query"
      parts[target], o = paging.take_options(parts[target])
    end
    -- a misspelt name is refused before anything is sent (ghl.unchecked{...} lets it through)
    operations.check_names(e, key, parts, where, unchecked)
    if spec.prepare then spec.prepare(self, parts, where) end
    operations.complete(self.client, e, key, parts, where)
    local client = self.client
    if spec.each or spec.pages then
      local pager = paging.pager(e, key, o, where)
      local target, fetch = paging.fetcher(client, e, parts)
      if spec.pages then return paging.pages(pager, parts[target], fetch) end
      return paging.items(pager, parts[target], fetch)
    end
    local body, resp = client:_send(e, parts)
    if body == nil then return nil, resp end
    if spec.page then
      -- one page: its items (the whole answer stays in resp.body)
      local items = e.it and body[e.it]
      if type(items) == "table" and type(items[e.it]) == "table" then items = items[e.it] end
      resp.body = body
      if type(items) ~= "table" then
        return nil, errors.new{ kind = "decode", status = resp.status, body = body,
                                message = ("response has no '%s' list"):format(tostring(e.it)) }
      end
      return items, resp
    end
    return shape(spec.returns, body, resp)
  end
end

--- A resource class: methods from `specs`, plus plain functions from `extra`
-- (they get `self` with `self.client`).
function M.define(rname, specs, extra)
  local class = {}
  class.__index = class
  for mname, spec in pairs(specs) do
    -- built on first call, so loading ghl compiles only the catalogue
    -- services a script uses (spec/operations_spec.lua resolves them all)
    local method
    class[mname] = function(...) -- (a caller may have kept this function: build once)
      if not method then
        method = build(class, rname, mname, spec)
        class[mname] = method
      end
      return method(...)
    end
  end
  for mname, fn in pairs(extra or {}) do class[mname] = fn end
  function class.new(client) return setmetatable({ client = client }, class) end
  class._name = rname
  class._specs = specs -- for tools/gen_docs.lua
  class._docs = {}     -- hand-written methods' docs (M.doc), for tools/gen_docs.lua
  M.defined[#M.defined + 1] = class
  return class
end

--- What a resource is for: the introduction of its page in the reference
-- (Markdown). Read by tools/gen_docs.lua only.
function M.about(class, text)
  class._about = text
end

--- Documents a method written by hand (a plain function on the class), for
-- tools/gen_docs.lua; nothing else reads it. `d` is a declaration as for
-- `define` (`op`, `args`, `body`, `query`, `returns`, `page`, `each`,
-- `doc`, `example`, `defaults`), describing the operation the method calls,
-- plus: `params`, a list of `{ name, type, text, opt = true }` replacing the
-- positional parameters `args`, `body` and `query` would give (a parameter
-- named `fields` or `params` still lists the operation's body fields or
-- query parameters, less those in `except`); `list`, the name of a body
-- field the method takes as a plain list; `returns_text`, a list of
-- "type text" lines when it returns what no declaration says; `pager = false`, an
-- iterator (`each`) that walks the pages itself, not with the catalogue's pager (no
-- `max_items`, no cursor parameters of the caller).
function M.doc(class, mname, d)
  class._docs[mname] = d
end

M.copy = copy

return M
