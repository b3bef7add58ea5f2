--- Argument checks shared by the resources: misuse raises at the call with
-- a message that names the method and the argument.
-- @internal ghl.check
local errors = require "ghl.errors"

local M = {}

local function describe(v)
  if type(v) == "string" then return ("string %q"):format(v) end
  return type(v)
end

--- `self` must be the resource (catches `client.contacts.get(id)`).
function M.self(self, class, where)
  if getmetatable(self) ~= class then
    errors.invalid("%s: call it with a colon (client.%s)", where, where)
  end
end

--- A non-empty string id.
function M.id(v, where, name)
  if type(v) ~= "string" or v == "" then
    errors.invalid("%s: %s must be a non-empty string, got %s", where, name, describe(v))
  end
end

--- A table argument.
function M.table(v, where, name)
  if type(v) ~= "table" then
    errors.invalid("%s: %s must be a table, got %s", where, name, describe(v))
  end
end

local function type_ok(want, v)
  if want == "any" or type(v) == want then return true end
  if type(want) == "table" then
    for _, t in ipairs(want) do if type(v) == t then return true end end
  end
  return false
end

--- An options table (nil: none) whose keys are in `schema` (name -> a Lua
-- type, a list of them, or "any": checked by the caller), so a misspelt
-- option never goes unnoticed. Returns opts or {}.
function M.options(where, opts, schema)
  if opts == nil then return {} end
  if type(opts) ~= "table" then errors.invalid("%s: options must be a table, got %s", where, type(opts)) end
  for k, v in pairs(opts) do
    local want = schema[k]
    if not want then
      local names = {}
      for n in pairs(schema) do names[#names + 1] = n end
      table.sort(names)
      errors.invalid("%s: unknown option '%s' (known: %s)", where, tostring(k), table.concat(names, ", "))
    end
    if not type_ok(want, v) then
      errors.invalid("%s: option '%s' must be a %s, got %s", where, k,
        type(want) == "table" and table.concat(want, " or a ") or want, type(v))
    end
  end
  return opts
end

return M
