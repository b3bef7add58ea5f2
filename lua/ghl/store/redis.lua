--- ghl.store.redis{host=, port=, prefix=}: tokens in Redis, shared by many
-- hosts. The refresh lock is a lease that expires (SET NX PX), so a crashed
-- holder blocks nobody past ttl_ms; its holder extends it while a refresh
-- waits, and unlock deletes it only if it is still ours.
local redis = require "ghl.resp"
local check = require "ghl.check"
local clock = require "ghl.clock"

local Redis = {}
Redis.__index = Redis

-- Each is one script, so atomic. LOCK also answers 1 when the lock already
-- holds our own lease: a SET NX that timed out during a blip may still
-- have been applied, and a retry with the same lease must not then wait
-- for itself until the lease expires.
local LOCK = "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end "
  .. "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end "
  .. "return 0"
local EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
  .. "else return 0 end"
local UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

-- A lease no other holder can have: 16 bytes of /dev/urandom. The lock
-- takes a lease equal to its own as ours, and LuaJIT's math.random is not
-- seeded: processes started together would draw the same numbers.
local function new_lease()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then f:close() end
  if bytes and #bytes == 16 then
    return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  end
  return ("%s.%s.%d"):format(tostring(clock.now_ms()), tostring({}):match("0x%x+") or "", math.random(1, 1e9))
end

local OPTIONS = { host = "string", port = "number", prefix = "string", timeout_ms = "number",
                  lock_timeout_ms = "number", password = "string", pacing_timeout_ms = "number" }

--- Make a Redis store (what `ghl.store.redis` returns). Each call opens a
-- connection (pooled inside nginx) through ghl.resp.
-- @tparam[opt] table opts
-- @tparam[opt="127.0.0.1"] string opts.host
-- @tparam[opt=6379] number opts.port
-- @tparam[opt="ghl:"] string opts.prefix of every key
-- @tparam[opt=2000] number opts.timeout_ms per connection
-- @tparam[opt=30000] number opts.lock_timeout_ms how long to wait for a lock
-- @tparam[opt] string opts.password sent with AUTH
-- @tparam[opt=500] number opts.pacing_timeout_ms how long a pacing decision (`pacing_store`) waits
-- for Redis before the call paces in its process alone
-- @treturn Redis
-- @usage local store = ghl.store.redis{ host = "10.0.0.5", prefix = "myapp:ghl:" }
function Redis.new(opts)
  opts = check.options("ghl.store.redis", opts, OPTIONS)
  return setmetatable({
    host = opts.host or "127.0.0.1", port = opts.port or 6379, prefix = opts.prefix or "ghl:",
    timeout_ms = opts.timeout_ms or 2000, lock_timeout_ms = opts.lock_timeout_ms or 30000,
    password = opts.password, pacing_timeout_ms = opts.pacing_timeout_ms or 500,
  }, Redis)
end

-- a connection, authenticated (one from nginx's pool already is)
local function open(self, timeout_ms)
  local conn, err = redis.connect(self.host, self.port, timeout_ms)
  if not conn then return nil, "redis store: " .. err end
  if self.password and not conn.reused then
    local ok, aerr = conn:call("AUTH", self.password)
    if not ok then
      conn:close()
      return nil, "redis store: " .. tostring(aerr)
    end
  end
  return conn
end

-- one command on a fresh (or pooled, in nginx) connection
function Redis:_call(...)
  local conn, err = open(self, self.timeout_ms)
  if not conn then return nil, err end
  local res, cerr = conn:call(...)
  if res == nil then
    conn:close() -- a timed-out connection may still get its reply: never reuse it
    return nil, "redis store: " .. tostring(cerr)
  end
  conn:release()
  return res
end

-- Pacing runs a command per request, so its connection stays open between
-- calls (outside nginx; inside, nginx's pool keeps it). A kept connection
-- found dead (Redis restarted) is replaced once. reply | nil, err [, true
-- when Redis answered with an error]
function Redis:_pace_call(...)
  for _ = 1, 2 do
    local conn, reused = self._pace_conn, true
    if not conn then
      local err
      conn, err = open(self, self.pacing_timeout_ms)
      if not conn then return nil, err end
      reused = conn.reused
    end
    local res, err, replied = conn:call(...)
    if res ~= nil or replied then
      if conn.is_ngx then conn:release() else self._pace_conn = conn end
      if res == nil then return nil, "redis store: " .. tostring(err), true end
      return res
    end
    conn:close() -- it may still get its reply: never used again
    self._pace_conn = nil
    if not reused then return nil, "redis store: " .. tostring(err) end
  end
end

-- The pacing script (ghl.store.redis_pacer): EVALSHA, the script loaded
-- once per process, sent whole (EVAL) after a NOSCRIPT.
function Redis:_pace_script(key, ...)
  local rp = require "ghl.store.redis_pacer"
  if not rp.sha then
    local sha, err = self:_pace_call("SCRIPT", "LOAD", rp.SCRIPT)
    if not sha then return nil, err end
    rp.sha = sha
  end
  local r, err, replied = self:_pace_call("EVALSHA", rp.sha, 1, key, ...)
  if r == nil and replied and tostring(err):find("NOSCRIPT", 1, true) then
    r, err = self:_pace_call("EVAL", rp.SCRIPT, 1, key, ...)
  end
  return r, err
end

--- A store in Redis, shared by many hosts.
-- @type Redis

--- A rate-limit pacer whose state is the Redis hash `prefix.."pace:"..key`
-- (`pacing_store` of ghl.new; key: a token fingerprint and a location,
-- never a token). One round trip per decision (see ghl.store.redis_pacer).
-- @string key
-- @return the pacer
function Redis:pacer(key)
  return require("ghl.store.redis_pacer").new(self, self.prefix .. "pace:" .. key)
end

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

--- Delete a key only while it holds `value` (one script, so atomic).
-- @string key
-- @string value
-- @treturn[1] boolean true when deleted, false when it holds something else
-- @treturn[2] nil
-- @treturn[2] string err
function Redis:delete_if(key, value)
  local n, err = self:_call("EVAL", UNLOCK, 1, self.prefix .. key, value)
  if n == nil then return nil, err end
  return n == 1
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

--- Take the refresh lock of a key: key..":lock" set to a random lease
-- only when absent (with a ttl), retried every 20 ms for up to
-- `lock_timeout_ms`. A Redis error (a restart, a failover) does not end
-- the wait: the lock is tried again until Redis is back or the time is up.
-- @string key
-- @number ttl_ms the lease expires after this long, so a crashed holder
-- blocks nobody past it
-- @treturn[1] string the lease
-- @treturn[2] nil
-- @treturn[2] string err (a timeout, with the last Redis error if any)
function Redis:lock(key, ttl_ms)
  local lease = new_lease()
  local lock_key, last_err = self.prefix .. key .. ":lock", nil
  local got, err = clock.poll(function()
    local n, cerr = self:_call("EVAL", LOCK, 1, lock_key, lease, math.floor(ttl_ms))
    if n == nil then last_err = cerr end
    return n == 1
  end, self.lock_timeout_ms, 20)
  if not got then
    if last_err then
      -- a lock that timed out may have been taken after all: give it back
      -- rather than leave it to block everyone until it expires
      self:_call("EVAL", UNLOCK, 1, lock_key, lease)
      err = tostring(err) .. " (last error: " .. last_err .. ")"
    end
    return nil, "redis store: cannot lock " .. key .. ": " .. tostring(err)
  end
  return lease
end

--- Extend a lease from `lock` by ttl_ms from now, only while the lock still
-- holds it (one script, so atomic): a refresh that waits (a 429's
-- Retry-After) keeps its lock this way, and a crashed holder's still ends.
-- @string key
-- @string lease
-- @number ttl_ms
-- @treturn[1] boolean true when extended, false when the lease is lost
-- (it expired, someone else holds the lock)
-- @treturn[2] nil
-- @treturn[2] string err (Redis could not be asked)
function Redis:extend(key, lease, ttl_ms)
  local n, err = self:_call("EVAL", EXTEND, 1, self.prefix .. key .. ":lock", lease, math.floor(ttl_ms))
  if n == nil then return nil, err end
  return n == 1
end

--- Release a lease from `lock`: deletes the lock only while it still holds
-- this lease (one script, so atomic).
-- @string key
-- @string lease
-- @treturn[1] boolean true (released, or no longer ours)
-- @treturn[2] nil
-- @treturn[2] string err when Redis could not be asked: the lock may still
-- be held (the OAuth app tries again rather than leave it until it expires)
function Redis:unlock(key, lease)
  local ok, err = self:_call("EVAL", UNLOCK, 1, self.prefix .. key .. ":lock", lease)
  if ok == nil then return nil, err end
  return true
end

return Redis
