--- ghl.store.shm(dict_name): tokens in an nginx lua_shared_dict, shared by
-- every worker; the refresh lock is an add() with an expiry.
--   http { lua_shared_dict ghl_tokens 1m; }
local clock = require "ghl.clock"
local errors = require "ghl.errors"

local Shm = {}
Shm.__index = Shm

--- Make a shared-dict store (what `ghl.store.shm` returns).
-- @string name the lua_shared_dict
-- @tparam[opt] table opts `lock_timeout_ms`: how long `lock` waits
-- (default 30000)
-- @treturn Shm
-- @raise an `invalid_argument` error when there is no lua_shared_dict of
-- that name (or no nginx)
function Shm.new(name, opts)
  local dict = ngx and ngx.shared and ngx.shared[name]
  if not dict then
    errors.invalid("ghl.store.shm: no lua_shared_dict named %q (declare it in nginx.conf)", tostring(name))
  end
  opts = require("ghl.check").options("ghl.store.shm", opts, { lock_timeout_ms = "number" })
  return setmetatable({ dict = dict, lock_timeout_ms = opts.lock_timeout_ms or 30000 }, Shm)
end

--- A store in an nginx lua_shared_dict, shared by every worker.
-- @type Shm

--- Read a value.
-- @string key
-- @return the value, or nil
function Shm:get(key) return self.dict:get(key) end

--- Write a value.
-- @string key
-- @param value
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string err (such as "no memory")
function Shm:set(key, value)
  local ok, err = self.dict:set(key, value)
  if not ok then return nil, "shm store: " .. tostring(err) end
  return true
end

--- Write a value only if the key is absent; it expires after ttl_ms.
-- @string key
-- @param value
-- @number ttl_ms
-- @treturn[1] boolean true when written, false when the key exists
-- @treturn[2] nil
-- @treturn[2] string err
function Shm:add(key, value, ttl_ms)
  local ok, err = self.dict:add(key, value, ttl_ms / 1000)
  if ok then return true end
  if err == "exists" then return false end
  return nil, "shm store: " .. tostring(err)
end

--- Delete a key only while it holds `value` (the get and the delete do
-- not yield, so no other worker runs between them).
-- @string key
-- @param value
-- @treturn boolean true when deleted
function Shm:delete_if(key, value)
  if self.dict:get(key) ~= value then return false end
  self.dict:delete(key)
  return true
end

--- Remove a key.
-- @string key
-- @treturn boolean true
function Shm:delete(key)
  self.dict:delete(key)
  return true
end

--- A rate-limit pacer whose state lives in this dict under
-- "ghl:pace:"..key, shared by every worker (`pacing_store` of ghl.new; what
-- `pacing_dict` makes): the C pacer imports, decides and exports it under a
-- short lock, no I/O.
-- @string key a token fingerprint and a location, never a token
-- @param fallback this process's pacer of the same budget: it decides
-- while another worker holds the lock too long
-- @return the pacer
function Shm:pacer(key, fallback)
  return require("ghl.pacer").in_dict(self.dict, "ghl:pace:" .. key, fallback)
end

--- Take the refresh lock of a key: an add of key..":lock" that expires,
-- retried (ngx.sleep) for up to `lock_timeout_ms`.
-- @string key
-- @number ttl_ms the lease expires after this long
-- @treturn[1] string the lease
-- @treturn[2] nil
-- @treturn[2] string err
function Shm:lock(key, ttl_ms)
  local lease = ("%d.%d.%d"):format(ngx.worker.pid(), ngx.now() * 1000, math.random(1, 1e9))
  local ok, err = clock.poll(function()
    local added, aerr = self.dict:add(key .. ":lock", lease, ttl_ms / 1000)
    if added then return true end
    if aerr == "exists" then return false end
    return nil, aerr
  end, self.lock_timeout_ms)
  if not ok then return nil, "shm store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

--- Extend a lease from `lock` by ttl_ms from now, while the lock still
-- holds it. The get and the set run without yielding, and the OAuth app
-- extends a lease while half of it is left, so no other worker can have
-- taken the lock in between.
-- @string key
-- @string lease
-- @number ttl_ms
-- @treturn[1] boolean true when extended, false when the lease is lost
-- @treturn[2] nil
-- @treturn[2] string err
function Shm:extend(key, lease, ttl_ms)
  if self.dict:get(key .. ":lock") ~= lease then return false end
  local ok, err = self.dict:set(key .. ":lock", lease, ttl_ms / 1000)
  if not ok then return nil, "shm store: " .. tostring(err) end
  return true
end

--- Release a lease from `lock`, if the lock still holds it.
-- @string key
-- @string lease
-- @treturn boolean true
function Shm:unlock(key, lease)
  if self.dict:get(key .. ":lock") == lease then self.dict:delete(key .. ":lock") end
  return true
end

return Shm
