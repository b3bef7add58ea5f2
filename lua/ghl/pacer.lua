--- Pacers (csrc/pacer.c) shared by every client of this process that uses
-- the same token for the same location/company (GHL counts per app and
-- resource), or by every worker of one nginx through a lua_shared_dict.
-- Keyed by a fingerprint of the token, never the token itself.
-- @internal ghl.pacer
local core = require "ghl.core"
local errors = require "ghl.errors"

local M = {}

local pacers = setmetatable({}, { __mode = "v" }) -- gone with the last client using it

--- The process-wide pacer for (token fingerprint, location or company).
function M.get(fingerprint, resource)
  local key = fingerprint .. "|" .. (resource or "-")
  local p = pacers[key]
  if not p then
    p = core.pacer()
    pacers[key] = p
  end
  return p
end

-- A pacer whose state lives in a lua_shared_dict, so every worker paces
-- against the same budget: the C pacer imports the state, decides and
-- exports it again under a short lock (an add() that expires). The section
-- under the lock never yields, so the lock is always ours to delete.
local Shared = {}
Shared.__index = Shared

local LOCK_TRIES, LOCK_STEP_S = 2000, 0.001 -- about 2 s; the lock itself expires after 1 s

local function with_state(self, fn, ...)
  local dict, lock = self.dict, self.lock
  local locked = false
  for _ = 1, LOCK_TRIES do
    if dict:add(lock, true, 1) then locked = true break end
    ngx.sleep(LOCK_STEP_S)
  end
  if not locked then
    -- never go on with (or delete) another worker's lock: this worker
    -- paces on its own until the shared state can be had again
    return fn(self.fallback, ...)
  end
  local p = core.pacer()
  local state = dict:get(self.key)
  if state then p:import(state) end
  local ok, a, b = pcall(fn, p, ...)
  if ok then dict:set(self.key, p:export()) end
  dict:delete(lock)
  if not ok then error(a, 0) end
  return a, b
end

local function acquire(p, now, max_wait) return p:acquire(now, max_wait) end
local function update(p, head, now, sent_at) return p:update(head, now, sent_at) end
local function state(p) return p:state() end

function Shared:acquire(now, max_wait) return with_state(self, acquire, now, max_wait) end
function Shared:update(head, now, sent_at) return with_state(self, update, head, now, sent_at) end
function Shared:state() return with_state(self, state) end

--- A pacer shared by the workers of one nginx through lua_shared_dict `dict_name`.
function M.shared(dict_name, fingerprint, resource)
  local dict = ngx and ngx.shared and ngx.shared[dict_name]
  if not dict then
    errors.invalid("ghl.new: no lua_shared_dict named %q for pacing_dict (declare it in nginx.conf)", dict_name)
  end
  local key = "ghl:pace:" .. fingerprint .. "|" .. (resource or "-")
  return setmetatable({ dict = dict, key = key, lock = key .. ":lock", fallback = M.get(fingerprint, resource) },
    Shared)
end

return M
