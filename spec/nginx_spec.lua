-- ghl inside a real nginx (Debian nginx + lua module): the nginx transport
-- against the local GHL server (itself another nginx), every phase that
-- has cosockets, a phase that has none, TLS, keep-alive, batch, the
-- non-blocking proof, and state shared by 4 workers.
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local socket = require "socket"
local cjson = require "cjson"

local nginx_app = require "spec.support.nginx_app"

local read = require("spec.support.sys").slurp

local function start_app(mock, other, workers)
  return nginx_app.start(mock, { untrusted = other, workers = workers })
end

local get = nginx_app.get

-- runs `n` curl requests at once in the background; returns a function that
-- waits for them and gives their times in seconds
local function background(url, n)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local cmds = {}
  for i = 1, n do
    cmds[i] = ("curl -s -o %s/%d.body -w '%%{http_code} %%{time_total}' '%s' > %s/%d &"):format(dir, i, url, dir, i)
  end
  os.execute("(" .. table.concat(cmds, " ") .. " wait; touch " .. dir .. "/done) >/dev/null 2>&1 &")
  return function()
    for _ = 1, 1000 do
      local f = io.open(dir .. "/done")
      if f then f:close() break end
      socket.sleep(0.02)
    end
    local out = {}
    for i = 1, n do
      local code, t = read(dir .. "/" .. i):match("(%d+) ([%d.]+)")
      out[i] = { code = tonumber(code), time = tonumber(t), body = read(dir .. "/" .. i .. ".body") }
    end
    os.execute("rm -rf " .. dir)
    return out
  end
end

describe("inside nginx #nginx", function()
  local mock, other, app, app4
  setup(function()
    mock = server.start{ tls = true }
    other = server.start{ tls = true } -- a certificate the application does not trust
    app = start_app(mock, other, 1)
    app4 = start_app(mock, other, 4)
  end)
  teardown(function()
    for _, s in ipairs{ app4, app, other, mock } do
      if s then s:stop() end
    end
  end)
  before_each(function()
    h.admin(mock, "POST", "/_mock/reset")
    -- only the pacing spec is about GHL's limit: a generous one for the rest
    h.rate_limit(mock, { max = 1000000, daily = 1000000000 })
  end)

  it("loads ghl in init without libcurl and runs in content_by_lua", function()
    local code, r = get(app, "/t/crud")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.same({ "created", "read", "updated", "upserted", "deleted", "404" }, r.steps)
    assert.are.equal("ngx", r.transport)
  end)

  it("runs in access_by_lua", function()
    local code, r = get(app, "/a/crud")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal(6, #r.steps)
  end)

  it("runs inside an ngx.timer.at callback", function()
    local code, r = get(app, "/t/timer")
    assert.are.equal(200, code)
    assert.is_true(r.scheduled)
    local result
    for _ = 1, 100 do
      local _, t = get(app, "/t/timer_result")
      result = t.result
      if result then break end
      socket.sleep(0.05)
    end
    assert.is_string(result, "the timer never finished")
    assert.are.equal(6, #cjson.decode(result).steps)
  end)

  it("runs every resource and paging style through the nginx transport", function()
    local code, r = get(app, "/t/resources")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal(250, r.contacts)
    assert.are.equal(2500, r.search_total)
    assert.are.equal(300, r.opportunities)
    assert.are.equal(120, r.messages)
    assert.are.equal(6, r.conversations)
    assert.are.equal(150, r.export)
    assert.are.equal(25, r.locations)
    assert.are.equal(30, r.users)
    assert.are.equal(25, r.notes)
    assert.are.equal(2500, r.legacy)
    assert.are.equal(5, r.workflows)
    assert.are.equal(2, r.pipelines)
    assert.is_true(r.free_days > 20)
    assert.is_true(r.sent)
  end)

  it("keeps connections alive in the worker's pool", function()
    local _, a = get(app, "/t/keepalive")
    local _, b = get(app, "/t/keepalive")
    local seen = {}
    for _, c in ipairs(a.connections) do seen[c] = true end
    for _, c in ipairs(b.connections) do seen[c] = true end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(1, n, cjson.encode{ a, b })
  end)

  it("batch runs calls at once in light threads, results in order", function()
    local code, r = get(app, "/t/batch")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.same({ "SeedC000000000000001", "SeedC000000000000002", "SeedC000000000000003",
                      "SeedC000000000000004", "SeedC000000000000005" }, r.ids)
    assert.are.equal(404, r.missing_status)
    assert.is_true(r.elapsed_ms < 1500, "five 500 ms calls together: " .. r.elapsed_ms .. " ms")
  end)

  it("says why in a phase without cosockets, and points to ngx.timer.at", function()
    get(app, "/header_filter")
    local _, r = get(app, "/t/phase_error")
    assert.matches("header_filter phase", r.message)
    assert.matches("ngx.timer.at", r.message, 1, true)
    assert.matches("invalid_argument", r.message)
  end)

  it("verifies TLS against lua_ssl_trusted_certificate and refuses others", function()
    local code, r = get(app, "/t/tls")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal("SeedC000000000000001", r.trusted)
    assert.are.equal("network", r.untrusted_kind)
    assert.matches("certificate", r.untrusted)
    for i, kind in ipairs(r.untrusted_kinds) do assert.are.equal("network", kind, "attempt " .. i) end
  end)

  it("paces on its own when another worker holds the pacing lock, and leaves that lock alone", function()
    local code, r = get(app, "/t/pace_locked")
    assert.are.equal(200, code, cjson.encode(r))
    assert.is_true(r.ok, r.err)
    assert.are.equal("another worker", r.lock_left)
    assert.is_true(r.waited_s >= 1.5, "it waited for the lock first: " .. r.waited_s)
  end)

  it("releases the pacing lock when the decision raises", function()
    local code, r = get(app, "/t/pace_raise")
    assert.are.equal(200, code, cjson.encode(r))
    assert.is_true(r.raised)
    assert.is_nil(r.lock_left)
  end)

  it("never blocks the worker: a fast request is answered while 20 slow GHL calls are in flight", function()
    local wait = background(app.url .. "/t/slow", 20)
    socket.sleep(0.3) -- the 20 are now waiting on GHL in the one worker
    local t0 = socket.gettime()
    local code = get(app, "/t/fast")
    local fast = socket.gettime() - t0
    local slow = wait()
    assert.are.equal(200, code)
    local min_slow = math.huge
    for _, s in ipairs(slow) do
      assert.are.equal(200, s.code)
      min_slow = math.min(min_slow, s.time)
    end
    io.stderr:write(("\n  non-blocking proof: fast request %.1f ms while 20 slow calls (%.2f-2.x s each) were in flight\n")
      :format(fast * 1000, min_slow))
    assert.is_true(min_slow >= 1.9, "the slow calls really took 2 s")
    assert.is_true(fast < min_slow - 0.5, ("fast %.3f s vs slow %.3f s"):format(fast, min_slow))
  end)

  it("4 workers share the OAuth token store: one refresh for all of them", function()
    local code = h.admin(mock, "POST", "/_mock/oauth/code", { userType = "Location", locationId = mock.location_id }).code
    local c, r = get(app4, "/t/oauth_setup?code=" .. code)
    assert.are.equal(200, c, cjson.encode(r))
    h.admin(mock, "POST", "/_mock/oauth/expire")
    local results = background(app4.url .. "/t/oauth_call", 16)()
    for _, s in ipairs(results) do assert.are.equal(200, s.code) end
    assert.are.equal(1, h.admin(mock, "GET", "/_mock/oauth").refresh_calls)
  end)

  it("4 workers: a refresh that waits out a Retry-After longer than its lease keeps the shm lock", function()
    local code = h.admin(mock, "POST", "/_mock/oauth/code", { userType = "Location", locationId = mock.location_id }).code
    local c, r = get(app4, "/t/oauth_setup?code=" .. code)
    assert.are.equal(200, c, cjson.encode(r))
    h.admin(mock, "POST", "/_mock/oauth/expire")
    h.fault(mock, "POST", "/oauth/token", "429_retry_after=3", 1)
    local results = background(app4.url .. "/t/oauth_call?short_lease=1", 16)()
    for _, s in ipairs(results) do assert.are.equal(200, s.code) end
    c, r = get(app4, "/t/oauth_call?short_lease=1")
    assert.are.equal(200, c, cjson.encode(r))
    assert.is_true(r.ok, r.err)
    local st = h.admin(mock, "GET", "/_mock/oauth")
    assert.are.equal(1, st.refresh_calls)
    assert.are.equal(0, st.refresh_repeats) -- no other worker refreshed with the same refresh token
  end)

  it("4 workers, an agency install: one mint, one refresh, one mint after a revoke", function()
    local comp = mock.company_id
    local code = h.admin(mock, "POST", "/_mock/oauth/code", { userType = "Company", companyId = comp }).code
    local c, r = get(app4, "/t/oauth_agency_setup?code=" .. code)
    assert.are.equal(200, c, cjson.encode(r))
    local function all_ok()
      local results = background(app4.url .. "/t/oauth_agency_call?company=" .. comp, 16)()
      for _, s in ipairs(results) do
        assert.are.equal(200, s.code)
        local body = cjson.decode(s.body)
        assert.is_true(body.ok, body.err)
      end
    end
    local function stats()
      local st = h.admin(mock, "GET", "/_mock/oauth")
      return { st.location_token_calls, st.refresh_calls, st.invalid_grants }
    end
    local function expire()
      c, r = get(app4, "/t/oauth_expire_location?id=" .. mock.location_id)
      assert.are.equal(200, c, cjson.encode(r))
      assert.is_true(r.has_refresh_token)
      assert.are.equal(comp, r.minted_from)
      h.admin(mock, "POST", "/_mock/oauth/expire", { locationId = mock.location_id })
    end
    local before = stats()
    all_ok()
    assert.are.same({ before[1] + 1, before[2], before[3] }, stats())
    expire()
    all_ok()
    assert.are.same({ before[1] + 1, before[2] + 1, before[3] }, stats())
    h.admin(mock, "POST", "/_mock/oauth/revoke", { locationId = mock.location_id })
    expire()
    all_ok()
    assert.are.same({ before[1] + 2, before[2] + 2, before[3] + 1 }, stats())
  end)

  it("an OAuth client's batch runs in light threads at once and renews the expired token once", function()
    local code = h.admin(mock, "POST", "/_mock/oauth/code", { userType = "Location", locationId = mock.location_id }).code
    local c, r = get(app, "/t/oauth_setup?code=" .. code) -- stored, then marked expired
    assert.are.equal(200, c, cjson.encode(r))
    local before = h.admin(mock, "GET", "/_mock/oauth").refresh_calls
    c, r = get(app, "/t/oauth_batch")
    assert.are.equal(200, c, cjson.encode(r))
    assert.are.equal(8, r.ok, r.err)
    assert.is_true(r.elapsed_ms < 1200, "8 calls of 500 ms at once took " .. r.elapsed_ms .. " ms")
    assert.are.equal(before + 1, h.admin(mock, "GET", "/_mock/oauth").refresh_calls)
  end)

  it("4 workers sharing a lua_shared_dict handle the same webhook delivery exactly once", function()
    local signing = require "spec.support.signing"
    local sys = require "spec.support.sys"
    local k = signing.keys()
    local dir = h.private_dir()
    sys.write(dir .. "/key.pem", k.ed_public)
    local body = signing.event{ webhookId = "wh-nginx-" .. os.time() }
    sys.write(dir .. "/body", body)
    local sig = signing.ed25519(body)
    local url = app4.url .. "/t/webhook_receive?keys=" .. dir .. "/key.pem"
    local cmds = {}
    for i = 1, 8 do
      cmds[i] = ("curl -s -o %s/out.%d -H 'x-ghl-signature: %s' -H 'content-type: application/json' "
        .. "--data-binary @%s/body '%s' &"):format(dir, i, sig, dir, url)
    end
    os.execute("(" .. table.concat(cmds, " ") .. " wait) >/dev/null 2>&1")
    local statuses = {}
    for i = 1, 8 do
      local r = cjson.decode(sys.read(dir .. "/out." .. i) or "{}")
      statuses[#statuses + 1] = ("%d"):format(r.status or 0) .. (r.reply and r.reply.handled and "h" or "")
    end
    local _, count = get(app4, "/t/webhook_count")
    assert.are.equal(1, count.handled, table.concat(statuses, " "))
    local handled = 0
    for _, s in ipairs(statuses) do
      if s == "200h" then handled = handled + 1 end
      assert.is_true(s == "200h" or s == "200" or s == "429", s) -- done, already done, or come back later
    end
    assert.are.equal(1, handled, table.concat(statuses, " "))
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("4 workers share one pacing budget and stay under GHL's limit", function()
    h.rate_limit(mock, { max = 10, interval_ms = 1000 })
    local t0 = socket.gettime()
    local results = background(app4.url .. "/t/pace", 40)()
    local elapsed = socket.gettime() - t0
    for _, s in ipairs(results) do assert.are.equal(200, s.code) end
    local rl = h.admin(mock, "GET", "/_mock/ratelimit")
    local rejected = 0
    for _, t in ipairs(rl.tokens) do rejected = rejected + (t.rejected or 0) end
    assert.are.equal(0, rejected, cjson.encode(rl))
    assert.is_true(elapsed >= 2.5, ("40 requests at 10 per second took %.2f s"):format(elapsed))
  end)

  for _, via in ipairs{ "shm", "redis" } do
    it("4 workers share one budget through pacing_store = ghl.store." .. via .. " too", function()
      h.rate_limit(mock, { max = 10, interval_ms = 1000 })
      local redis = via == "redis" and require("spec.support.redis").start()
      local url = redis and app4.url .. "/t/pace_redis?port=" .. redis.port or app4.url .. "/t/pace_store"
      local t0 = socket.gettime()
      local results = background(url, 40)()
      local elapsed = socket.gettime() - t0
      if redis then -- the state is in Redis: the workers did not fall back to pacing alone
        local conn = assert(require("ghl.resp").connect("127.0.0.1", redis.port, 2000))
        local keys = conn:call("KEYS", "ngx:pace:*")
        conn:close()
        redis.stop()
        assert.are.equal(1, #keys)
      end
      for _, s in ipairs(results) do
        assert.are.equal(200, s.code, s.body)
        assert.is_true(cjson.decode(s.body).ok, s.body)
      end
      local rl = h.admin(mock, "GET", "/_mock/ratelimit")
      local rejected = 0
      for _, t in ipairs(rl.tokens) do rejected = rejected + (t.rejected or 0) end
      assert.are.equal(0, rejected, cjson.encode(rl))
      assert.is_true(elapsed >= 2.5, ("40 requests at 10 per second took %.2f s"):format(elapsed))
    end)
  end
end)
