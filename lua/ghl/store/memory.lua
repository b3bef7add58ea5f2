--- ghl.store.memory(): tokens in this process only (scripts, tests).
local clock = require "ghl.clock"

local Memory = {}
Memory.__index = Memory

--- Make a memory store (what `ghl.store.memory` returns).
-- @tparam[opt] table opts `lock_timeout_ms`: how long `lock` waits
-- (default 30000)
-- @treturn Memory
function Memory.new(opts)
  opts = require("ghl.check").options("ghl.store.memory", opts, { lock_timeout_ms = "number" })
  return setmetatable({ data = {}, locks = {}, lock_timeout_ms = opts.lock_timeout_ms or 30000, seq = 0 }, Memory)
end

--- A store in a Lua table of this process.
-- @type Memory

--- Read a value (whatever was stored, even an `add` entry past its ttl).
-- @string key
-- @return the value, or nil
function Memory:get(key)
  local exp = self.expiry and self.expiry[key]
  if exp and exp <= clock.now_ms() then -- an add entry that expired
    self.data[key], self.expiry[key] = nil, nil
    return nil
  end
  return self.data[key]
end

--- Write a value.
-- @string key
-- @param value
-- @treturn boolean true
function Memory:set(key, value)
  self.data[key] = value
  return true
end

--- Write a value only if the key is absent or its `add` entry expired.
-- @string key
-- @param value
-- @number ttl_ms how long the entry blocks later adds
-- @treturn boolean true when written, false when the key is taken
function Memory:add(key, value, ttl_ms)
  local now = clock.now_ms()
  self.expiry = self.expiry or {}
  if self.data[key] ~= nil and (self.expiry[key] or math.huge) > now then return false end
  self.data[key], self.expiry[key] = value, now + ttl_ms
  return true
end

--- Delete a key only while it holds `value`.
-- @string key
-- @param value
-- @treturn boolean true when deleted
function Memory:delete_if(key, value)
  if self:get(key) ~= value then return false end
  self.data[key] = nil
  if self.expiry then self.expiry[key] = nil end
  return true
end

--- Every key held, in no order (what `App:sessions` lists).
-- @treturn {string,...}
function Memory:keys()
  local out = {}
  for k in pairs(self.data) do out[#out + 1] = k end
  return out
end

--- Remove a key.
-- @string key
-- @treturn boolean true
function Memory:delete(key)
  self.data[key] = nil
  if self.expiry then self.expiry[key] = nil end
  return true
end

--- Take the refresh lock of a key: a lease in this process (coroutines in
-- nginx can contend for it). Waits, polling (ngx.sleep inside nginx), up to
-- `lock_timeout_ms`.
-- @string key
-- @number ttl_ms the lease ends by itself after this long
-- @treturn[1] number the lease
-- @treturn[2] nil
-- @treturn[2] string err (on timeout)
function Memory:lock(key, ttl_ms)
  local lease, err = clock.poll(function()
    local held = self.locks[key]
    if held and held.expires > clock.now_ms() then return false end
    self.seq = self.seq + 1
    self.locks[key] = { id = self.seq, expires = clock.now_ms() + ttl_ms }
    return self.seq
  end, self.lock_timeout_ms)
  if not lease then return nil, "memory store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

--- Extend a lease from `lock` by ttl_ms from now, while it is still held.
-- @string key
-- @param lease
-- @number ttl_ms
-- @treturn boolean true when extended, false when the lease is lost
function Memory:extend(key, lease, ttl_ms)
  local held = self.locks[key]
  if not (held and held.id == lease and held.expires > clock.now_ms()) then return false end
  held.expires = clock.now_ms() + ttl_ms
  return true
end

--- Release a lease from `lock`; a lease that expired and was taken by
-- someone else is left alone.
-- @string key
-- @param lease
-- @treturn boolean true
function Memory:unlock(key, lease)
  local held = self.locks[key]
  if held and held.id == lease then self.locks[key] = nil end
  return true
end

return Memory
