--- Pacers (csrc/pacer.c) shared by every client of this process that uses
-- the same token for the same location/company (GHL counts per app and
-- resource), by every worker of one nginx through a lua_shared_dict, or by
-- every process and host through a store (pacing_store: ghl.store.redis).
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

-- For specs: clients made from now on get new pacers (those in use are kept
-- by their clients), so a spec's budget starts from what its server says.
function M._forget()
  for k in pairs(pacers) do pacers[k] = nil end
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

--- A pacer whose state is `key` in shared dict `dict` (ghl.store.shm's
-- pacer); `fallback` decides while another worker holds the lock too long.
function M.in_dict(dict, key, fallback)
  return setmetatable({ dict = dict, key = key, lock = key .. ":lock", fallback = fallback }, Shared)
end

local function key_of(fingerprint, resource) return fingerprint .. "|" .. (resource or "-") end

--- A pacer shared by the workers of one nginx through lua_shared_dict
-- `dict_name` (pacing_dict: the short form of pacing_store = ghl.store.shm(dict_name)).
function M.shared(dict_name, fingerprint, resource)
  local dict = ngx and ngx.shared and ngx.shared[dict_name]
  if not dict then
    errors.invalid("ghl.new: no lua_shared_dict named %q for pacing_dict (declare it in nginx.conf)", dict_name)
  end
  return M.in_dict(dict, "ghl:pace:" .. key_of(fingerprint, resource), M.get(fingerprint, resource))
end

-- A pacer in a store that can fail (Redis): its methods answer nil and a
-- message (a string) when the store could not be asked. Then the process
-- pacer decides, the store is left alone for a while (1 s, doubling while
-- it keeps failing, up to 30 s), and `unreachable` holds the message until
-- the driver has told the client's on_wait hook. The process pacer learns
-- every answer too, so it is ready to take over.
local Stored = {}
Stored.__index = Stored

local RETRY_MS, RETRY_MAX_MS = 1000, 30000

local function down(self, now, msg)
  self.retry_at = now + math.min(RETRY_MAX_MS, RETRY_MS * 2 ^ self.failures)
  self.failures = self.failures + 1
  self.unreachable = msg
end

function Stored:acquire(now, max_wait)
  if now >= self.retry_at then
    local ms, x = self.remote:acquire(now, max_wait)
    if ms ~= nil or type(x) ~= "string" then
      self.failures = 0
      return ms, x
    end
    down(self, now, x)
  end
  return self.fallback:acquire(now, max_wait)
end

function Stored:update(head, now, sent_at)
  self.fallback:update(head, now, sent_at)
  if now >= self.retry_at then
    local ok, err = self.remote:update(head, now, sent_at)
    if ok == nil and type(err) == "string" then down(self, now, err) end
  end
end

function Stored:state()
  if self.failures > 0 then return self.fallback:state() end
  return self.remote:state()
end

--- A pacer whose state lives in `store` (pacing_store): ghl.store.redis,
-- ghl.store.shm or any object with pacer(key, fallback). One per client
-- and budget: what it has to tell (store_unreachable) is the client's.
function M.stored(store, fingerprint, resource)
  local key, fallback = key_of(fingerprint, resource), M.get(fingerprint, resource)
  return setmetatable({ remote = store:pacer(key, fallback), fallback = fallback, retry_at = 0, failures = 0 },
    Stored)
end

return M
