-- The refresh under store faults, with a real redis-server: a token call
-- that waits out a 429 Retry-After longer than the lock's lease keeps the
-- lock (no second process refreshes with the same refresh token), a Redis
-- restart during a refresh loses neither the rotated pair nor the lock,
-- and a longer outage keeps the pair in the process, says so, and saves it
-- when Redis is back.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local redis_server = require "spec.support.redis"
local sys = require "spec.support.sys"
local clock = require "ghl.clock"
local socket = require "socket"
local cjson = require "cjson"

local LUA = jit and "luajit" or "lua5.4"
local LOC = server.LOCATION_ID
local PREFIX = "race:" -- spec/support/oauth_worker.lua's

describe("token store faults", function()
  local srv = h.server()
  local redis
  setup(function()
    srv.start()
    redis = redis_server.start{ persist = true } -- a restart keeps the data, as a real deployment's would
  end)
  teardown(function()
    srv.stop()
    if redis then redis.stop() end
  end)
  before_each(function()
    srv.reset()
    redis.wait_up(10) -- the outage of a test that failed may not be over
    local conn = assert(require("ghl.resp").connect(redis.host, redis.port, 1000))
    assert(conn:call("FLUSHALL"))
    conn:release()
  end)

  local function stats() return h.admin(srv, "GET", "/_mock/oauth") end

  local function redis_store(extra)
    local o = { host = redis.host, port = redis.port, prefix = PREFIX, timeout_ms = 300 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.store.redis(o)
  end

  local function app(extra)
    local o = { client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                refresh_skew_ms = 0, timeout_ms = 5000 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.oauth(o)
  end

  local function client(a)
    return ghl.new{ oauth = a, location_id = LOC, base_url = srv.url, max_retries = 0, pacing = false }
  end

  local function key(a) return a:_key("Location", LOC) end

  local function stored(a)
    return cjson.decode((assert(a.store:get(key(a)))))
  end

  -- tokens for the location, then expired on both sides; the record
  local function expired_tokens(a)
    local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Location", locationId = LOC }).code
    assert(a:exchange(code))
    local rec = stored(a)
    rec.expires_at = 0
    assert(a.store:set(key(a), cjson.encode(rec)))
    h.admin(srv, "POST", "/_mock/oauth/expire")
    return rec
  end

  -- another process (another host) that makes a call at start_at with the
  -- same Redis store; returns a function that waits for it: exit code,
  -- output. The test waits for it even when it fails, so that it cannot
  -- run into the next test.
  local function other_process(start_at)
    local dir = os.tmpname()
    os.remove(dir)
    assert(sys.sh("mkdir -p " .. dir))
    assert(sys.sh(("(%s spec/support/oauth_worker.lua %s redis %s:%d %d >%s/out 2>&1; echo $? >%s/rc) &")
      :format(LUA, srv.url, redis.host, redis.port, math.floor(start_at), dir, dir)))
    local code, out
    local function wait()
      for _ = 1, 1500 do
        if code then break end
        local rc = sys.read(dir .. "/rc")
        if rc and rc:match("%d") then
          code, out = tonumber(rc:match("%d+")), sys.read(dir .. "/out") or ""
          sys.sh("rm -rf " .. dir)
          break
        end
        socket.sleep(0.02)
      end
      assert(code, "the other process did not finish")
      return code, out
    end
    finally(function() pcall(wait) end)
    return wait
  end

  local function one_refresh()
    local st = stats()
    assert.are.equal(1, st.refresh_calls)
    assert.are.equal(0, st.refresh_repeats) -- nobody sent a spent refresh token again
    assert.are.equal(0, st.invalid_grants)
  end

  it("keeps the lock while a token call waits out a 429 Retry-After longer than the lease", function()
    local a = app{ store = redis_store(), timeout_ms = 1000, lock_ttl_ms = 1500 }
    expired_tokens(a)
    h.fault(srv, "POST", "/oauth/token", "429_retry_after=3", 1)
    -- another host needs the token while we wait: it must wait for our pair, not refresh
    local other = other_process(clock.now_ms() + 700)
    local t0 = clock.now_ms()
    assert(client(a).contacts:get("SeedC000000000000001"))
    assert.is_true(clock.now_ms() - t0 >= 3000, "the 429's Retry-After was not waited out")
    local code, out = other()
    assert.are.equal(0, code, out)
    one_refresh()
  end)

  for _, kind in ipairs{ "memory", "file" } do
    it(("extends the lease of a %s store while a token call waits out a Retry-After"):format(kind), function()
      local path = h.private_dir() .. "/tokens.json"
      local store = kind == "memory" and ghl.store.memory() or ghl.store.file(path)
      local a = app{ store = store, timeout_ms = 1000, lock_ttl_ms = 1500 }
      expired_tokens(a)
      h.fault(srv, "POST", "/oauth/token", "429_retry_after=2", 1)
      local t0 = clock.now_ms()
      assert(a:refresh(LOC))
      assert.is_true(clock.now_ms() - t0 >= 2000)
      one_refresh()
      sys.sh("rm -f " .. sys.q(path) .. " " .. sys.q(path) .. ".*")
    end)
  end

  it("a store that cannot extend its lease gets no retry that would outlast it", function()
    local store = ghl.store.memory()
    store.extend = false -- a store of one's own without extend()
    local a = app{ store = store, timeout_ms = 1000, lock_ttl_ms = 1500 }
    local old = expired_tokens(a)
    h.fault(srv, "POST", "/oauth/token", "429_retry_after=3", 1)
    local t0 = clock.now_ms()
    local s, err = a:refresh(LOC)
    assert.is_nil(s)
    assert.are.equal("rate_limited", err.kind)
    assert.matches("not retried", err.message)
    assert.is_true(clock.now_ms() - t0 < 1000)
    -- the refresh token was not spent: the next refresh works
    assert.are.equal(old.refresh_token, stored(a).refresh_token)
    assert(a:refresh(LOC))
    one_refresh()
  end)

  for _, blip in ipairs{ "restart", "pause" } do
    it(("Redis %s during a refresh: the write is retried, the lock released, another host goes on"):format(
      blip == "restart" and "restarts" or "pauses"), function()
      local a = app{ store = redis_store(), lock_ttl_ms = 20000 }
      local old = expired_tokens(a)
      h.fault(srv, "POST", "/oauth/token", "delay=1000", 1) -- the new pair arrives at about 1 s
      redis[blip == "restart" and "outage" or "pause"](0.3, 1.0) -- Redis is gone from 0.3 s to about 1.3 s
      -- another host needs the token once Redis is back, while we may still hold the lock
      local other = other_process(clock.now_ms() + 1800)
      assert(client(a).contacts:get("SeedC000000000000001"))
      local code, out = other()
      assert.are.equal(0, code, out)
      assert.are_not.equal(old.refresh_token, stored(a).refresh_token)
      assert.is_nil(a.store:get(key(a) .. ":lock"))
      one_refresh()
    end)
  end

  it("Redis stays down past the write's retries: the pair is kept, reported, and saved when Redis is back", function()
    local reports = {}
    local a = app{ store = redis_store(), lock_ttl_ms = 20000,
                   on_store_error = function(info) reports[#reports + 1] = info end }
    local old = expired_tokens(a)
    h.fault(srv, "POST", "/oauth/token", "delay=1000", 1)
    redis.outage(0.3, 4.0) -- down from 0.3 s to about 4.3 s
    local c = client(a)
    -- the call goes on with the pair only this process holds
    assert(c.contacts:get("SeedC000000000000001"))
    local by_op = {}
    for _, r in ipairs(reports) do by_op[r.op] = r end
    assert.is_truthy(by_op.save, "the lost save was not reported")
    assert.is_true(by_op.save.kept)
    assert.are.equal("Location", by_op.save.user_type)
    assert.are.equal(LOC, by_op.save.id)
    assert.matches("cannot save the new tokens", by_op.save.message)
    assert.is_truthy(by_op.unlock, "the failed unlock was not reported")
    redis.wait_up(8)
    assert.are.equal(old.refresh_token, stored(a).refresh_token) -- the store missed the new pair
    -- the next call saves the kept pair and releases the lock
    assert(c.contacts:get("SeedC000000000000002"))
    local now = stored(a)
    assert.are_not.equal(old.refresh_token, now.refresh_token)
    assert.is_nil(a.store:get(key(a) .. ":lock"))
    -- another host goes on with the saved pair at once
    local t0 = clock.now_ms()
    assert(client(app{ store = redis_store() }).contacts:get("SeedC000000000000001"))
    assert.is_true(clock.now_ms() - t0 < 1000)
    one_refresh()
    -- and the reports hold no secret
    local text = cjson.encode(reports)
    for _, secret in ipairs{ server.CLIENT_SECRET, old.refresh_token, old.access_token, now.refresh_token,
                             now.access_token } do
      assert.is_nil(text:find(secret, 1, true), "a secret leaked into a report: " .. text)
    end
  end)

  it("an unlock that fails is tried again: the lock is not left for lock_ttl_ms", function()
    local store = redis_store()
    local unlock, fails = store.unlock, 4 -- every try of the refresh's own unlock fails
    store.unlock = function(self, k, lease)
      if fails > 0 then
        fails = fails - 1
        return nil, "redis store: redis: timeout"
      end
      return unlock(self, k, lease)
    end
    local reports = {}
    local a = app{ store = store, lock_ttl_ms = 20000,
                   on_store_error = function(info) reports[#reports + 1] = info end }
    expired_tokens(a)
    local c = client(a)
    assert(c.contacts:get("SeedC000000000000001"))
    assert.are.equal(1, #reports)
    assert.are.same({ "unlock", 4 }, { reports[1].op, reports[1].attempts })
    assert.is_truthy(store:get(key(a) .. ":lock"))
    -- the next call (no refresh needed) releases it
    assert(c.contacts:get("SeedC000000000000002"))
    assert.is_nil(store:get(key(a) .. ":lock"))
    one_refresh()
  end)

  it("a waiter rides out a Redis restart and takes the lock when Redis is back", function()
    local store = redis_store{ lock_timeout_ms = 5000 }
    redis.outage(0, 1.0)
    -- wait until it is down
    for _ = 1, 200 do
      local s = socket.tcp()
      s:settimeout(0.05)
      local up = s:connect(redis.host, redis.port)
      s:close()
      if not up then break end
      socket.sleep(0.01)
    end
    local lease, err = store:lock("k", 5000)
    assert.is_truthy(lease, tostring(err))
    assert.is_true(store:unlock("k", lease))
    assert.is_nil(store:get("k:lock"))
  end)
end)
