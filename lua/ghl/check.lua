--- Argument checks shared by the resources: misuse raises at the call with
-- a message that names the method and the argument.
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

return M
