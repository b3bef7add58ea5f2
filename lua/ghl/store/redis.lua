--- ghl.store.redis{host=, port=, prefix=}: tokens in Redis, shared by many
-- hosts. The refresh lock is SET NX PX (a lease that expires, so a crashed
-- holder blocks nobody past ttl_ms); unlock deletes it only if it is ours.
local redis = require "ghl.resp"
local clock = require "ghl.clock"

local Redis = {}
Redis.__index = Redis

local UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

--- Make a Redis store (what `ghl.store.redis` returns). Each call opens a
-- connection (pooled inside nginx) through ghl.resp.
-- @tparam[opt] table opts `host` (default "127.0.0.1"), `port` (6379),
-- `prefix` of every key (default "ghl:"), `timeout_ms` per connection
-- (2000), `lock_timeout_ms` (30000), `password` (sent with AUTH)
-- @treturn Redis
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

--- A store in Redis, shared by many hosts.
-- @type Redis

--- Read a value (GET).
-- @string key
-- @treturn[1] string|nil the value, or nil when absent
-- @treturn[2] nil
-- @treturn[2] string err
function Redis:get(key)
  local v, err = self:_call("GET", self.prefix .. key)
  if v == nil then return nil, err end
  return v or nil
end

--- Write a value (SET).
-- @string key
-- @string value
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string err
function Redis:set(key, value)
  local ok, err = self:_call("SET", self.prefix .. key, value)
  if not ok then return nil, err end
  return true
end

--- Write a value only if the key is absent (SET NX PX); it expires after
-- ttl_ms.
-- @string key
-- @string value
-- @number ttl_ms
-- @treturn[1] boolean true when written, false when the key exists
-- @treturn[2] nil
-- @treturn[2] string err
function Redis:add(key, value, ttl_ms)
  local ok, err = self:_call("SET", self.prefix .. key, value, "NX", "PX", math.floor(ttl_ms))
  if ok == nil then return nil, err end
  return ok == "OK"
end

--- Remove a key (DEL).
-- @string key
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string err
function Redis:delete(key)
  local ok, err = self:_call("DEL", self.prefix .. key)
  if ok == nil then return nil, err end
  return true
end

--- Take the refresh lock of a key: SET key..":lock" NX PX with a random
-- lease, retried every 20 ms for up to `lock_timeout_ms`.
-- @string key
-- @number ttl_ms the lease expires after this long, so a crashed holder
-- blocks nobody past it
-- @treturn[1] string the lease
-- @treturn[2] nil
-- @treturn[2] string err (a Redis error, or a timeout)
function Redis:lock(key, ttl_ms)
  local lease = ("%s.%d"):format(tostring(clock.now_ms()), math.random(1, 1e9))
  local got, err = clock.poll(function()
    local ok, cerr = self:_call("SET", self.prefix .. key .. ":lock", lease, "NX", "PX", math.floor(ttl_ms))
    if ok == nil then return nil, cerr end
    return ok == "OK" and true or false
  end, self.lock_timeout_ms, 20)
  if not got then return nil, "redis store: cannot lock " .. key .. ": " .. tostring(err) end
  return lease
end

--- Release a lease from `lock`: deletes the lock only while it still holds
-- this lease (one script, so atomic). Redis errors are ignored: the lease
-- expires anyway.
-- @string key
-- @string lease
-- @treturn boolean true
function Redis:unlock(key, lease)
  self:_call("EVAL", UNLOCK, 1, self.prefix .. key .. ":lock", lease)
  return true
end

return Redis
