--- Building ghl's structured errors from Lua (the C core builds the rest).
-- @internal ghl.errors
local core = require "ghl.core"

local M = {}

--- Raise an `invalid_argument` error: misuse is reported at the call.
function M.invalid(fmt, ...)
  error(core.new_error{ kind = "invalid_argument", message = string.format(fmt, ...) }, 0)
end

--- A new error object (fields as in the C core).
function M.new(fields)
  return core.new_error(fields)
end

return M
