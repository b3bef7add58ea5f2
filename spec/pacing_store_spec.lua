-- One rate-limit budget shared by many processes (pacing_store =
-- ghl.store.redis{...}, a real redis-server): 3 OS processes on one location
-- limited to 10 per second stay under it together; the daily budget is
-- shared and fails fast; with Redis down or hanging, calls pace in their
-- process and succeed, and on_wait is told once. And client:batch over the
-- locations of an agency paces each location on its own: a spent location
-- holds up no other.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local redis_server = require "spec.support.redis"
local resp = require "ghl.resp"
local cjson = require "cjson"
local socket = require "socket"

local LUA = jit and "luajit" or "lua5.4"
local C1 = "SeedC000000000000001"

-- the answers the server refused with 429, per its rate limiter
local function rejected(srv)
  local n = 0
  for _, t in ipairs(h.admin(srv, "GET", "/_mock/ratelimit").tokens) do n = n + (t.rejected or 0) end
  return n
end

local function redis_call(r, ...)
  local conn = assert(resp.connect("127.0.0.1", r.port, 2000))
  local v, err = conn:call(...)
  conn:close()
  return v, err
end

-- how many scripts Redis ran (EVALSHA, EVAL, SCRIPT LOAD): the round trips of pacing
local function script_calls(r)
  local info = assert(redis_call(r, "INFO", "commandstats"))
  local n = 0
  for name, calls in info:gmatch("cmdstat_(%a+):calls=(%d+)") do
    if name == "evalsha" or name == "eval" or name == "script" then n = n + tonumber(calls) end
  end
  return n
end

describe("a Redis pacing_store", function()
  local srv = h.server()
  local redis
  setup(function()
    srv.start()
    redis = redis_server.start()
  end)
  teardown(function()
    srv.stop()
    if redis then redis.stop() end
  end)
  before_each(srv.reset)

  -- runs n pace_worker processes at once, `calls` calls each; their reports
  -- and the wall time from the common start
  local function workers(n, calls, prefix)
    local start_at = math.floor(socket.gettime() * 1000 + 700)
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local cmds = {}
    for i = 1, n do
      cmds[i] = ("(%s spec/support/pace_worker.lua %s %d %s %d %d >%s/out.%d 2>&1) &")
        :format(LUA, srv.url, redis.port, prefix, start_at, calls, dir, i)
    end
    os.execute(table.concat(cmds, " ") .. " wait")
    local elapsed = socket.gettime() - start_at / 1000
    local outs = {}
    for i = 1, n do
      local text = require("spec.support.sys").read(dir .. "/out." .. i) or ""
      local ok, v = pcall(cjson.decode, text)
      assert(ok and type(v) == "table", "worker " .. i .. ": " .. text)
      outs[i] = v
    end
    os.execute("rm -rf " .. dir)
    return outs, elapsed
  end

  it("3 processes on one location at 10/s: all 60 calls succeed, at most 3 are 429s, in about 6 s", function()
    h.rate_limit(srv, { max = 10, interval_ms = 1000 })
    local scripts0 = script_calls(redis)
    local outs, elapsed = workers(3, 20, "three:")
    local ok, retries = 0, 0
    for i, o in ipairs(outs) do
      assert.is_nil(o.failed, "worker " .. i .. ": " .. cjson.encode(o))
      ok, retries = ok + o.ok, retries + o.retries_429
    end
    local refused = rejected(srv)
    local api = 0
    for _, r in ipairs(h.requests(srv)) do
      if r.path:find("^/contacts/") then api = api + 1 end
    end
    local per_request = (script_calls(redis) - scripts0) / api
    print(("\n    3 processes x 20 calls at 10/s: %.2f s, %d answers 429, %.2f Redis round trips per request")
      :format(elapsed, refused, per_request))
    assert.are.equal(60, ok)
    assert.are.equal(60 + refused, api, "every call was sent once, and a 429 once more")
    assert.is_true(refused <= 3, refused .. " answers were 429s")
    assert.are.equal(refused, retries, "the workers retried each 429")
    assert.is_true(elapsed >= 4.5 and elapsed <= 12, ("took %.2f s: 60 calls at 10 per second take about 6"):format(elapsed))
    assert.is_true(per_request <= 2, per_request .. " round trips per request")
    -- the state's key names a fingerprint of the token, never the token
    local keys = assert(redis_call(redis, "KEYS", "three:*"))
    assert.are.equal(1, #keys)
    assert.matches("^three:pace:%x+|" .. server.LOCATION_ID .. "$", keys[1])
    local dump = table.concat(keys, " ") .. " " .. table.concat(assert(redis_call(redis, "HGETALL", keys[1])), " ")
    h.assert_no_secret(dump, server.TOKEN, "the Redis state")
  end)

  it("shares the daily budget between 2 processes, and fails fast once it is spent", function()
    h.rate_limit(srv, { daily = 10 })
    local outs = workers(2, 10, "daily:")
    local ok, fast = 0, 0
    for _, o in ipairs(outs) do
      ok = ok + o.ok
      for _, f in ipairs(o.failed or {}) do
        assert.matches("^rate_limited: ", f)
        if f:find("daily request budget", 1, true) then fast = fast + 1 end
      end
    end
    assert.are.equal(10, ok)
    local refused = rejected(srv)
    assert.is_true(refused <= 2, refused .. " answers were 429s")
    assert.is_true(fast >= 8, "the pacer refused the calls past the budget: " .. fast)
    assert.are.equal(10 + refused, #h.requests(srv), "no call past the budget was sent but the 429s")
  end)

  it("with Redis down, calls succeed paced by their process, and on_wait is told once", function()
    h.rate_limit(srv, { max = 5, interval_ms = 500 })
    local told = {}
    local c = h.client(srv, { max_retries = 0, pacing_store = ghl.store.redis{ port = h.closed_port() },
                              on_wait = function(i) told[#told + 1] = i end })
    for _ = 1, 12 do assert(c.contacts:get(C1)) end -- paced: max_retries = 0 would fail a 429
    local down = {}
    for _, i in ipairs(told) do
      if i.reason == "store_unreachable" then down[#down + 1] = i end
    end
    assert.are.equal(1, #down)
    assert.are.equal(0, down[1].wait_ms)
    assert.are.equal("GET", down[1].method)
    assert.matches("pacing store could not be asked", down[1].message)
    assert.matches("paces on its own", down[1].message)
    h.assert_no_secret(down[1].message, srv.token, "the message")
    assert.is_true(#told > 1, "the process pacer held calls back")
    assert.are.equal(0, rejected(srv))
    assert.are.equal(5, c:rate_limit().max)
    c:close()
  end)

  it("with Redis hanging, a call waits pacing_timeout_ms at most, then paces by its process", function()
    h.rate_limit(srv, { max = 100, interval_ms = 10000 })
    local r = redis_server.start()
    local told = 0
    local c = h.client(srv, { max_retries = 0, pacing_store = ghl.store.redis{ port = r.port, pacing_timeout_ms = 200 },
                              on_wait = function(i) if i.reason == "store_unreachable" then told = told + 1 end end })
    assert(c.contacts:get(C1))
    r.pause(0, 2)
    socket.sleep(0.1)
    local t0 = socket.gettime()
    for _ = 1, 5 do assert(c.contacts:get(C1)) end
    local took = socket.gettime() - t0
    assert.are.equal(1, told)
    assert.is_true(took < 1.2, ("5 calls took %.2f s: Redis was asked once, then left alone"):format(took))
    socket.sleep(2)
    r.stop()
    c:close()
  end)

  it("dates the window anew when the server's began later than the stored one", function()
    local store = ghl.store.redis{ port = redis.port, prefix = "late:" }
    local p = store:pacer("k" .. os.time(), require("ghl.core").pacer())
    local function hd(rem)
      return ("HTTP/1.1 200 OK\r\nX-RateLimit-Max: 10\r\nX-RateLimit-Remaining: %d\r\n"
        .. "X-RateLimit-Interval-Milliseconds: 2000\r\n\r\n"):format(rem)
    end
    local now = function() return socket.gettime() * 1000 end
    local t = now()
    assert(p:update(hd(3), t, t))
    local reset0 = assert(p:state().window_reset_ms)
    socket.sleep(0.3)
    for _ = 1, 3 do assert.is_true(p:acquire(now()) < 2000) end
    local w, again = p:acquire(now()) -- spent: sleep until the stored window ends, then ask again
    assert.are.equal("window", again)
    assert.is_true(w < reset0 - now() + 100, "until the stored window's end")
    t = now()
    assert(p:update(hd(9), t, t - 5)) -- the first request of a window the server began just now
    local reset1 = assert(p:state().window_reset_ms)
    assert.is_true(reset1 - reset0 >= 250, ("the window's end moved %.0f ms"):format(reset1 - reset0))
    w, again = p:acquire(now())
    assert.is_true(w >= 1500, "asked again, it waits for the server's window")
    assert.are.equal("window", again)
  end)

  it("reports the shared budget through rate_limit()", function()
    h.rate_limit(srv, { max = 7, interval_ms = 2000 })
    local store = ghl.store.redis{ port = redis.port, prefix = "report:" }
    local a = h.client(srv, { pacing_store = store })
    local b = h.client(srv, { pacing_store = ghl.store.redis{ port = redis.port, prefix = "report:" } })
    assert(a.contacts:get(C1))
    assert(a.contacts:get(C1))
    assert(b.contacts:get(C1))
    local st = b:rate_limit()
    assert.are.equal(7, st.max)
    assert.are.equal(2000, st.interval_ms)
    assert.are.equal(4, st.remaining, "b counts a's calls too")
    assert.is_true(st.window_reset_ms > socket.gettime() * 1000)
    a:close()
    b:close()
  end)

  it("the ghl command paces through GHL_PACING_REDIS", function()
    local sys = require "spec.support.sys"
    local env = ("env -u GHL_CLIENT_ID -u GHL_COMPANY_ID GHL_TOKEN=%s GHL_LOCATION_ID=%s GHL_BASE_URL=%s")
      :format(sys.q(srv.token), sys.q(srv.location_id), sys.q(srv.url))
    local out = sys.capture(("%s GHL_PACING_REDIS=redis://127.0.0.1:%d/0 %s bin/ghl contacts get %s 2>&1")
      :format(env, redis.port, LUA, C1))
    assert.matches(C1, out)
    local keys = assert(redis_call(redis, "KEYS", "ghl:pace:*|" .. srv.location_id))
    assert.are.equal(1, #keys, "the command's pacer state is in Redis")
    local ok, code = sys.sh(("%s GHL_PACING_REDIS=http://127.0.0.1 %s bin/ghl contacts get %s >/dev/null 2>&1")
      :format(env, LUA, C1))
    assert.is_false(ok)
    if code > 255 then code = code / 256 end -- LuaJIT's os.execute gives the wait status
    assert.are.equal(2, code, "a malformed GHL_PACING_REDIS is a usage error")
  end)

  it("validates the option like every option of ghl.new", function()
    local function new(o)
      o.token, o.location_id = o.token or srv.token, srv.location_id
      return ghl.new(o)
    end
    assert.matches("this store cannot pace", h.invalid(new, { pacing_store = ghl.store.memory() }))
    assert.matches("must be a store", h.invalid(new, { pacing_store = "redis://127.0.0.1" }))
    assert.matches("not both", h.invalid(new, { pacing_store = ghl.store.redis{}, pacing_dict = "ghl_pacing" }))
    assert.matches("pacing_timeout_ms", h.invalid(ghl.store.redis, { pacing_timeout_ms = "fast" }))
  end)
end)

describe("client:batch over many locations", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  local A, B = server.LOCATION_ID, server.OTHER_LOCATION_ID

  local function agency_client()
    local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                           store = ghl.store.memory(), user_type = "Company" }
    local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = server.COMPANY_ID }).code
    assert(app:exchange(code))
    return ghl.new{ oauth = app, company_id = server.COMPANY_ID, base_url = srv.url, max_retries = 0,
                    retry_base_ms = 5, retry_max_delay_ms = 20 }
  end

  local function tags(loc) return { op = "locations.get-location-tags", params = { locationId = loc } } end

  it("paces each location on its own: a spent one holds up no other, and none goes over", function()
    -- the process keeps a pacer per (app, location) while a client holds it:
    -- not those of earlier specs (the same app and locations, other limits)
    require("ghl.pacer")._forget()
    h.rate_limit(srv, { max = 5, interval_ms = 1000 })
    local c = agency_client()
    local calls = {}
    for _ = 1, 14 do calls[#calls + 1] = tags(A) end -- needs 3 windows of A's budget
    for _ = 1, 4 do calls[#calls + 1] = tags(B) end -- fits in B's first window
    local t0 = socket.gettime()
    local results = c:batch(calls, { concurrency = 4 })
    local elapsed = socket.gettime() - t0
    for i, r in ipairs(results) do assert.is_table(r[1], "call " .. i .. ": " .. tostring(r[2])) end
    assert.are.equal(0, rejected(srv), "no location went over its limit") -- max_retries = 0: a 429 would fail
    -- in the order the server saw them: every call of B before A's 11th,
    -- which waits for A's third window
    local seen_a, last_b_at_a = 0, nil
    for _, r in ipairs(h.requests(srv)) do
      if r.path == "/locations/" .. A .. "/tags" then seen_a = seen_a + 1 end
      if r.path == "/locations/" .. B .. "/tags" then last_b_at_a = seen_a end
    end
    assert.are.equal(14, seen_a)
    -- B's go in A's first window, or (on a loaded machine, where a probe's
    -- answer comes late and B's budget is taken as spent once) in its second:
    -- never after A's third window began, as when batch paced them as one
    assert.is_true(last_b_at_a <= 10, "B's calls went while A waited (A had sent " .. last_b_at_a .. " before B's last)")
    assert.is_true(elapsed >= 1.9 and elapsed < 4, ("took %.2f s: A's 14 calls at 5 per second"):format(elapsed))
    -- one budget each
    assert.are.equal(5, c:rate_limit(A).max)
    assert.is_true(c:rate_limit(B).remaining >= 1, "B spent 4 of 5")
    assert.are_not.equal(c:rate_limit(A).waits, c:rate_limit(B).waits)
    c:close()
  end)
end)
