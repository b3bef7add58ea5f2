--- ghl.store.shm(dict_name): tokens in an nginx lua_shared_dict, shared by
-- every worker; the refresh lock is an add() with an expiry.
--   http { lua_shared_dict ghl_tokens 1m; }
local wait = require "ghl.wait"

local Shm = {}
Shm.__index = Shm

function Shm.new(name, opts)
  local dict = ngx and ngx.shared and ngx.shared[name]
  if not dict then
    error(("ghl.store.shm: no lua_shared_dict named %q (declare it in nginx.conf)"):format(tostring(name)), 2)
  end
  opts = opts or {}
  return setmetatable({ dict = dict, lock_timeout_ms = opts.lock_timeout_ms or 30000 }, Shm)
end

function Shm:get(key) return self.dict:get(key) end

function Shm:set(key, value)
  local ok, err = self.dict:set(key, value)
  if not ok then return nil, "shm store: " .. tostring(err) end
  return true
end

function Shm:add(key, value, ttl_ms)
  local ok, err = self.dict:add(key, value, ttl_ms / 1000)
  if ok then return true end
  if err == "exists" then return false end
  return nil, "shm store: " .. tostring(err)
end

function Shm:delete(key)
  self.dict:delete(key)
  return true
end

function Shm:lock(key, ttl_ms)
  local lease = ("%d.%d.%d"):format(ngx.worker.pid(), ngx.now() * 1000, math.random(1, 1e9))
  local ok, err = wait.poll(function()
    local added, aerr = self.dict:add(key .. ":lock", lease, ttl_ms / 1000)
    if added then return true end
    if aerr == "exists" then return false end
    return nil, aerr
  end, self.lock_timeout_ms)
  if not ok then return nil, "shm store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

function Shm:unlock(key, lease)
  if self.dict:get(key .. ":lock") == lease then self.dict:delete(key .. ":lock") end
  return true
end

return Shm
