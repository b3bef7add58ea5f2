--- Rate-limit pacers shared by every client of this process that uses the
-- same token for the same location/company (GHL counts per app and
-- resource). Keyed by a fingerprint of the token, never the token itself.
local core = require "ghl.core"

local M = {}

local limiters = setmetatable({}, { __mode = "v" }) -- gone with the last client using it

-- A pacer whose state lives in an nginx lua_shared_dict, so every worker
-- paces against the same budget: the C pacer imports the state, decides,
-- and exports it again, under a short lock (an add() with an expiry).
local Shared = {}
Shared.__index = Shared

local function with_state(self, fn, ...)
  local dict, lock = self.dict, self.key .. ":lock"
  for _ = 1, 2000 do -- up to about 2 s; the lock itself expires after 1 s
    if dict:add(lock, true, 1) then break end
    ngx.sleep(0.001)
  end
  local lim = core.limiter()
  local state = dict:get(self.key)
  if state then lim:import(state) end
  local a, b = fn(lim, ...)
  dict:set(self.key, lim:export())
  dict:delete(lock)
  return a, b
end

function Shared:acquire(now) return with_state(self, function(lim) return lim:acquire(now) end) end
function Shared:update(headers, now, sent_at)
  return with_state(self, function(lim) return lim:update(headers, now, sent_at) end)
end
function Shared:state() return with_state(self, function(lim) return lim:state() end) end

--- A pacer shared by the workers of one nginx through lua_shared_dict `dict_name`.
function M.shared(dict_name, fingerprint, resource)
  local dict = ngx and ngx.shared and ngx.shared[dict_name]
  if not dict then
    error(("ghl.new: no lua_shared_dict named %q for pacing_dict (declare it in nginx.conf)"):format(dict_name), 3)
  end
  return setmetatable({ dict = dict, key = "ghl:pace:" .. fingerprint .. "|" .. (resource or "-") }, Shared)
end

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
