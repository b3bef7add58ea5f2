--- ghl.store.redis{host=, port=, prefix=}: tokens in Redis, shared by many
-- hosts. The refresh lock is SET NX PX (a lease that expires, so a crashed
-- holder blocks nobody past ttl_ms); unlock deletes it only if it is ours.
local redis = require "ghl.redis"
local wait = require "ghl.wait"

local Redis = {}
Redis.__index = Redis

local UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

function Redis.new(opts)
  opts = opts or {}
  return setmetatable({
    host = opts.host or "127.0.0.1", port = opts.port or 6379, prefix = opts.prefix or "ghl:",
    timeout_ms = opts.timeout_ms or 2000, lock_timeout_ms = opts.lock_timeout_ms or 30000,
    password = opts.password,
  }, Redis)
end

-- one command on a fresh (or pooled, in nginx) connection
function Redis:_call(...)
  local conn, err = redis.connect(self.host, self.port, self.timeout_ms)
  if not conn then return nil, "redis store: " .. err end
  if self.password then
    local ok, aerr = conn:call("AUTH", self.password)
    if not ok then return nil, "redis store: " .. tostring(aerr) end
  end
  local res, cerr = conn:call(...)
  if res == nil then return nil, "redis store: " .. tostring(cerr) end
  conn:release()
  return res
end

function Redis:get(key)
  local v, err = self:_call("GET", self.prefix .. key)
  if v == nil then return nil, err end
  return v or nil
end

function Redis:set(key, value)
  local ok, err = self:_call("SET", self.prefix .. key, value)
  if not ok then return nil, err end
  return true
end

function Redis:add(key, value, ttl_ms)
  local ok, err = self:_call("SET", self.prefix .. key, value, "NX", "PX", math.floor(ttl_ms))
  if ok == nil then return nil, err end
  return ok == "OK"
end

function Redis:delete(key)
  local ok, err = self:_call("DEL", self.prefix .. key)
  if ok == nil then return nil, err end
  return true
end

function Redis:lock(key, ttl_ms)
  local lease = ("%s.%d"):format(tostring(wait.now_ms()), math.random(1, 1e9))
  local got, err = wait.poll(function()
    local ok, cerr = self:_call("SET", self.prefix .. key .. ":lock", lease, "NX", "PX", math.floor(ttl_ms))
    if ok == nil then return nil, cerr end
    return ok == "OK" and true or false
  end, self.lock_timeout_ms, 20)
  if not got then return nil, "redis store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

function Redis:unlock(key, lease)
  self:_call("EVAL", UNLOCK, 1, self.prefix .. key .. ":lock", lease)
  return true
end

return Redis
