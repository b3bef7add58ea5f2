--- Rate-limit pacers shared by every client of this process that uses the
-- same token for the same location/company (GHL counts per app and
-- resource). Keyed by a fingerprint of the token, never the token itself.
local core = require "ghl.core"

local M = {}

local limiters = setmetatable({}, { __mode = "v" }) -- gone with the last client using it

--- The pacer for (token fingerprint, location or company).
function M.get(fingerprint, resource)
  local key = fingerprint .. "|" .. (resource or "-")
  local lim = limiters[key]
  if not lim then
    lim = core.limiter()
    limiters[key] = lim
  end
  return lim
end

return M
