--- ghl.store.memory(): tokens in this process only (scripts, tests).
local wait = require "ghl.wait"

local Memory = {}
Memory.__index = Memory

function Memory.new(opts)
  opts = opts or {}
  return setmetatable({ data = {}, locks = {}, lock_timeout_ms = opts.lock_timeout_ms or 30000, seq = 0 }, Memory)
end

function Memory:get(key) return self.data[key] end

function Memory:set(key, value)
  self.data[key] = value
  return true
end

function Memory:add(key, value, ttl_ms)
  local now = wait.now_ms()
  self.expiry = self.expiry or {}
  if self.data[key] ~= nil and (self.expiry[key] or math.huge) > now then return false end
  self.data[key], self.expiry[key] = value, now + ttl_ms
  return true
end

function Memory:delete(key)
  self.data[key] = nil
  return true
end

-- A lease in this process (coroutines in nginx can contend for it).
function Memory:lock(key, ttl_ms)
  local lease, err = wait.poll(function()
    local held = self.locks[key]
    if held and held.expires > wait.now_ms() then return false end
    self.seq = self.seq + 1
    self.locks[key] = { id = self.seq, expires = wait.now_ms() + ttl_ms }
    return self.seq
  end, self.lock_timeout_ms)
  if not lease then return nil, "memory store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

function Memory:unlock(key, lease)
  local held = self.locks[key]
  if held and held.id == lease then self.locks[key] = nil end
  return true
end

return Memory
