-- The fault matrix: every fault of the local server (spec/support/fault_cases.lua)
-- against GET, PUT, DELETE, POST and PATCH, over the three request paths:
-- curl easy (a single call), curl multi (client:batch) and the nginx
-- transport inside the real nginx test application. For each: the error
-- kind or success, the attempts, how many requests reached the server, no
-- POST or PATCH sent twice once it may have been read, no hang (the
-- client's own timeouts bound every case) and, with libcurl, the connection
-- reused afterwards.
local h = require "spec.support.helpers"
local cases = require "spec.support.fault_cases"
local nginx_app = require "spec.support.nginx_app"
local cjson = require "cjson"
local socket = require "socket"
local http = require "socket.http"

local C1 = cases.C1
local MAX_RETRIES = cases.MAX_RETRIES -- so "retried" means 3 attempts

-- The matrix's clients. No pacing: it would carry a 429's "nothing left in
-- this window" into the next test (the pacing is tested at the end).
local function client_opts(extra)
  local o = { max_retries = MAX_RETRIES, timeout_ms = cases.TIMEOUT_MS, max_body_bytes = cases.MAX_BODY_BYTES,
              pacing = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- What a call gave, in the shape the nginx handler answers too.
local function outcome(v, x, delays, t0)
  local r = { ok = v ~= nil, attempts = x.attempts, status = x.status, delays = delays,
              elapsed_ms = (socket.gettime() - t0) * 1000 }
  if v == nil then
    r.kind, r.sent, r.message, r.retry_after_ms = x.kind, x.sent, x.message, x.retry_after_ms
  end
  return r
end

-- How many requests the connection of log[i] had carried up to it, that
-- one included: as the server recorded it (state.lua), or, where
-- /_mock/requests does not show that field, counted in the log (a lower
-- bound: the log starts at the last reset and keeps 500 requests).
local function connection_requests(log, i)
  local r = log[i]
  if r.connection_requests then return r.connection_requests end
  local n = 0
  for j = 1, i do
    if log[j].connection == r.connection then n = n + 1 end
  end
  return n
end

-- The path and body of a call of `method`, made fresh where the call
-- changes it: a new contact to DELETE, a new redirect to PATCH (created by
-- another client, before the fault is queued).
local function new_target(srv, setup_client, method, seq)
  local loc = srv.location_id
  if method == "GET" then
    return "/contacts/" .. C1
  elseif method == "PUT" then
    return "/contacts/" .. C1, { lastName = "M" .. seq }
  elseif method == "POST" then
    return "/contacts/", { locationId = loc, firstName = "Fault", email = ("fault%d@example.com"):format(seq) }
  elseif method == "DELETE" then
    local v = assert(setup_client:request("POST", "/contacts/", { body = { locationId = loc, firstName = "Doomed",
      email = ("doomed%d@example.com"):format(seq) } }))
    return "/contacts/" .. v.contact.id
  end
  local v = assert(setup_client:request("POST", "/funnels/lookup/redirect", { body = { locationId = loc,
    domain = "example.com", path = "/old-" .. seq, target = "https://example.com/a", action = "url" } }))
  return "/funnels/lookup/redirect/" .. v.data.id,
    { locationId = loc, target = "https://example.com/b" .. seq, action = "url" }
end

-- The matrix does not reset the server between its tests (a reset
-- rebuilds the whole seed, 25 ms): each test starts with a request of its
-- own, GET /_mark/<n> (a 404 the log keeps), and reads the log after it.
local function mark(srv, n)
  assert(http.request(srv.url .. "/_mark/" .. n))
end

local function log_since(srv, n)
  local log, from = h.requests(srv), nil
  for i = #log, 1, -1 do
    if log[i].path == "/_mark/" .. n then from = i break end
  end
  assert(from, "the log lost the test's mark")
  return log, from
end

local function check(srv, n, c, method, path, want, r)
  local what = cjson.encode(r)
  if want.kind then
    assert.is_false(r.ok, what)
    assert.are.equal(want.kind, r.kind, what)
    if want.status then assert.are.equal(want.status, r.status, what) end
    if want.sent ~= nil then assert.are.equal(want.sent, r.sent, what) end
    if want.retry_after_ms then assert.are.equal(want.retry_after_ms, r.retry_after_ms, what) end
    if not cases.idempotent(method) and r.sent and (r.kind == "network" or r.kind == "timeout") then
      assert.matches(cases.NOT_SENT_AGAIN, r.message, 1, true)
    end
  else
    assert.is_true(r.ok, what)
  end
  assert.are.equal(want.attempts, r.attempts, what)
  assert.are.equal(want.attempts - 1, #r.delays, what) -- on_retry saw every retry
  if want.wait_ms then
    assert.is_true(r.delays[1] >= want.wait_ms, what)
    assert.is_true(r.elapsed_ms >= want.wait_ms * 0.99, what)
  end
  local log, from = log_since(srv, n)
  local got = {}
  for i = from + 1, #log do
    if log[i].method == method and log[i].path == path then got[#got + 1] = i end
  end
  assert.are.equal(want.arrived or want.attempts, #got, "arrived: " .. what)
  if not cases.idempotent(method) and not c.refused and not c.fault:find("^429") then
    assert.are.equal(1, #got, "a POST or PATCH that may have been read is never sent again") -- GHL may have done it
  end
  if want.reused then
    local first = log[got[1]]
    assert.is_true(connection_requests(log, got[1]) > 1,
      "the faulted request came on a new connection: " .. cjson.encode(first))
    if got[2] then
      assert.are_not.equal(first.connection, log[got[2]].connection, "sent again on the connection that died")
    end
  end
end

--- The matrix over one request path. path: run(method, path, body, case) ->
-- the outcome; after(case, want) (optional) checks the client afterwards.
local seq = 0 -- numbers the tests: marks, e-mail addresses and paths stay unique
local function matrix(srv, path)
  local setup_client
  before_each(function()
    h.admin(srv, "DELETE", "/_mock/faults") -- what an earlier test's call left unused
    h.rate_limit(srv, cases.RATE_LIMIT) -- and the counters start again
    setup_client = setup_client or h.client(srv, { pacing = false })
  end)
  teardown(function()
    if setup_client then setup_client:close() end
  end)
  for _, c in ipairs(cases.CASES) do
    for _, method in ipairs(c.methods) do
      local want = c.expect[method]
      local title = ("%s on %s: %d attempt(s), %s"):format(c.name, method, want.attempts, want.kind or "success")
      it(title, function()
        seq = seq + 1
        mark(srv, seq)
        local p, body = new_target(srv, setup_client, method, seq)
        if c.fault then h.fault(srv, method, p, c.fault, c.times) end
        local r = path.run(method, p, body, c)
        check(srv, seq, c, method, p, want, r)
        if path.after and not c.refused then path.after(c, want) end
      end)
    end
  end
end

-- the GETs that follow a fault on the client all go out on one connection
local function one_connection(get)
  local conns, n = {}, 0
  for _ = 1, 3 do
    local _, resp = assert(get())
    conns[resp.headers["x-mock-connection"]] = true
  end
  for _ in pairs(conns) do n = n + 1 end
  return n
end

describe("fault matrix", function()
  local srv = h.server{ tls = true } -- the nginx test application trusts its CA
  setup(srv.start) teardown(srv.stop)

  local function closed_url() return "http://127.0.0.1:" .. h.closed_port() end

  describe("curl easy", function()
    local client, delays, before
    local function new_client(extra)
      local o = client_opts{ on_retry = function(info) delays[#delays + 1] = info.delay_ms end }
      for k, v in pairs(extra or {}) do o[k] = v end
      return h.client(srv, o)
    end
    before_each(function()
      delays = {}
      client = new_client()
    end)
    after_each(function() client:close() end)

    matrix(srv, {
      run = function(method, path, body, c)
        local cl = c.refused and new_client{ base_url = closed_url() } or client
        before = cl:transport_stats().connects
        if c.warm then
          local w = cases.warm_up(method, srv.location_id)
          assert(cl:request(w[1], w[2], { body = w[3] }))
          delays = {}
        end
        local t0 = socket.gettime()
        local v, x = cl:request(method, path, { body = body })
        if cl ~= client then cl:close() end
        return outcome(v, x, delays, t0)
      end,
      after = function(c, want)
        -- afterwards: one connection serves the next calls
        h.admin(srv, "DELETE", "/_mock/faults")
        assert.are.equal(1, one_connection(function() return client.contacts:get(C1) end))
        -- a connection per attempt at most, and one for the calls after; after a
        -- warm-up, libcurl connects again for its own re-send before it is stopped
        local connects = client:transport_stats().connects - before
        assert.is_true(connects <= want.attempts + 1 + (c.warm and 1 or 0), connects .. " connections")
      end,
    })
  end)

  describe("curl multi", function()
    local client, delays
    local function new_client(extra)
      local o = client_opts{ on_retry = function(info) delays[#delays + 1] = info.delay_ms end }
      for k, v in pairs(extra or {}) do o[k] = v end
      return h.client(srv, o)
    end
    before_each(function()
      delays = {}
      client = new_client()
    end)
    after_each(function() client:close() end)

    matrix(srv, {
      run = function(method, path, body, c)
        local cl = c.refused and new_client{ base_url = closed_url() } or client
        if c.warm then -- a batch before, on the same client: its connection stays in the multi handle's pool
          local w = cases.warm_up(method, srv.location_id)
          assert(cl:batch{ { w[1], w[2], { body = w[3] } } }[1][1])
          delays = {}
        end
        local t0 = socket.gettime()
        local res = cl:batch{ { method, path, { body = body } } }
        if cl ~= client then cl:close() end
        return outcome(res[1][1], res[1][2], delays, t0)
      end,
      after = function()
        h.admin(srv, "DELETE", "/_mock/faults")
        assert.are.equal(1, one_connection(function()
          local res = client:batch{ { "GET", "/contacts/" .. C1 } }
          return res[1][1], res[1][2]
        end))
      end,
    })
  end)

  describe("nginx transport inside nginx #nginx", function()
    local app
    setup(function() app = nginx_app.start(srv) end)
    teardown(function() if app then app:stop() end end)

    matrix(srv, {
      run = function(method, path, body, c)
        local q = { method = method, path = path, body = body and cjson.encode(body) or nil,
                    timeout_ms = cases.TIMEOUT_MS, base = c.refused and closed_url() or nil }
        if c.warm then
          local w = cases.warm_up(method, srv.location_id)
          q.warm_method, q.warm_path, q.warm_body = w[1], w[2], w[3] and cjson.encode(w[3]) or nil
        end
        local code, r = nginx_app.get(app, "/t/fault_call?" .. nginx_app.query(q))
        assert.are.equal(200, code, cjson.encode(r))
        assert.is_nil(r.warm_up_failed)
        return r
      end,
    })
  end)

  describe("single cases", function()
    local client, retries
    before_each(function()
      srv.reset()
      h.rate_limit(srv, cases.RATE_LIMIT) -- 429s ask to come back in 200 ms, not GHL's 10 s
      retries = {}
      client = h.client(srv, { max_retries = MAX_RETRIES, timeout_ms = cases.TIMEOUT_MS,
                               max_body_bytes = cases.MAX_BODY_BYTES,
                               on_retry = function(info) retries[#retries + 1] = info end })
    end)
    after_each(function() client:close() end)

    local function attempts(path)
      local n = 0
      for _, r in ipairs(h.requests(srv)) do
        if r.path == path then n = n + 1 end
      end
      return n
    end

    it("a POST that got 422 yet created the contact is not retried: exactly one record", function()
      h.fault(srv, "POST", "/contacts/", "after=422", 5)
      local v, err = client.contacts:create{ firstName = "Once", email = "once@example.com" }
      assert.is_nil(v)
      assert.are.equal(422, err.status)
      h.admin(srv, "DELETE", "/_mock/faults")
      local found = assert(client.contacts:search{ query = "once@example.com" })
      assert.are.equal(1, #found)
    end)

    it("a POST refused with 429 is retried and creates exactly one record", function()
      h.fault(srv, "POST", "/contacts/", "429", 1)
      local v = assert(client.contacts:create{ firstName = "Twice", email = "twice@example.com" })
      assert.is_string(v.id)
      assert.are.equal(2, attempts("/contacts/"))
      local found = assert(client.contacts:search{ query = "twice@example.com" })
      assert.are.equal(1, #found)
    end)

    it("a POST whose connection failed before sending is retried", function()
      local c = h.client(srv, { base_url = closed_url(), max_retries = 2 })
      local v, err = c.contacts:create{ firstName = "Nowhere" }
      assert.is_nil(v)
      assert.are.equal("network", err.kind)
      assert.are.equal(3, err.attempts)
      c:close()
    end)

    it("honours Retry-After in seconds and as an HTTP date", function()
      for _, fault in ipairs{ "429_retry_after=1", "429_retry_after_date=2" } do
        h.fault(srv, "GET", "/contacts/" .. C1, fault, 1)
        retries = {}
        local t0 = socket.gettime()
        assert(client.contacts:get(C1))
        assert.are.equal(1, #retries)
        assert.is_true(retries[1].delay_ms >= 900, fault .. " " .. retries[1].delay_ms)
        assert.is_true(socket.gettime() - t0 >= 0.9)
      end
    end)

    it("the on_retry hook sees what failed, never the token", function()
      h.fault(srv, "GET", "/contacts/" .. C1, "status=503", 1)
      assert(client.contacts:get(C1))
      assert.are.equal(1, #retries)
      local info = retries[1]
      assert.are.equal(1, info.attempt)
      assert.are.equal(503, info.status)
      assert.are.equal("GET", info.method)
      assert.is_number(info.delay_ms)
      assert.is_nil(cjson.encode{ info.message, info.path, info.kind, tostring(info.error) }:find(srv.token, 1, true))
    end)

    it("gives up within max_retry_time_ms", function()
      local c = h.client(srv, { max_retries = 50, retry_base_ms = 50, retry_max_delay_ms = 50,
                                max_retry_time_ms = 300 })
      h.fault(srv, "GET", "/contacts/" .. C1, "status=503", 100)
      local t0 = socket.gettime()
      local v, err = c.contacts:get(C1)
      assert.is_nil(v)
      assert.are.equal(503, err.status)
      assert.is_true(socket.gettime() - t0 < 1.5)
      assert.is_true(err.attempts < 50)
      c:close()
    end)
  end)
end)

describe("rate-limit pacing", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("slows down before the server says 429", function()
    h.rate_limit(srv, { max = 5, interval_ms = 500 })
    local c = h.client(srv, { max_retries = 0 })
    local t0 = socket.gettime()
    for _ = 1, 16 do assert(c.contacts:get(C1)) end -- no 429: max_retries = 0 would fail it
    assert.is_true(socket.gettime() - t0 >= 1.0, "16 requests at 5 per 500 ms take over 1 s")
    local st = c:rate_limit()
    assert.are.equal(5, st.max)
    assert.are.equal(500, st.interval_ms)
    assert.is_true(st.waits > 0)
    c:close()
  end)

  it("tells on_wait why and how long each held-back call waits", function()
    h.rate_limit(srv, { max = 5, interval_ms = 500 })
    local seen = {}
    local c = h.client(srv, { max_retries = 0, on_wait = function(info) seen[#seen + 1] = info end })
    local before = c:rate_limit().waited_ms or 0
    for _ = 1, 12 do assert(c.contacts:get(C1)) end
    assert.is_true(#seen > 0)
    local total = 0
    for _, info in ipairs(seen) do
      assert.is_true(info.wait_ms > 0)
      assert.is_true(info.reason == "rate_limit" or info.reason == "probe", info.reason)
      assert.are.equal("GET", info.method)
      assert.matches("^/contacts/", info.path)
      assert.are.equal(math.floor(info.remaining), info.remaining)
      total = total + info.wait_ms
    end
    assert.are.equal(5, seen[#seen].max)
    assert.are.equal(500, seen[#seen].interval_ms)
    -- every wait is told (each rounded up to a whole ms)
    assert.is_true(math.abs(c:rate_limit().waited_ms - before - total) <= #seen, "told waits add up to the pacer's")
    c:close()
  end)

  it("shares the budget between clients of one token and location", function()
    h.rate_limit(srv, { max = 4, interval_ms = 400 })
    local a, b = h.client(srv, { max_retries = 0 }), h.client(srv, { max_retries = 0 })
    for _ = 1, 6 do
      assert(a.contacts:get(C1))
      assert(b.contacts:get(C1))
    end
    a:close()
    b:close()
  end)

  it("fails fast once the daily budget is spent, without sending", function()
    -- the other token and location: the budget it spends stays with it for the process
    h.rate_limit(srv, { daily = 3 })
    local c = h.client(srv, { max_retries = 0, token = srv.OTHER_TOKEN, location_id = srv.OTHER_LOCATION_ID })
    local mine = assert(c.contacts:create{ firstName = "Daily" })
    for _ = 1, 2 do assert(c.contacts:get(mine.id)) end
    local v, err = c.contacts:get(mine.id)
    assert.is_nil(v)
    assert.are.equal("rate_limited", err.kind)
    assert.matches("daily", err.message)
    assert.is_true(err.retry_after > 0)
    assert.are.equal(3, #h.requests(srv))
    assert.are.equal(0, c:rate_limit().daily_remaining)
    c:close()
  end)

  it("can be turned off", function()
    h.rate_limit(srv, { max = 2, interval_ms = 10000 })
    local c = h.client(srv, { max_retries = 0, pacing = false })
    assert(c.contacts:get(C1))
    assert(c.contacts:get(C1))
    local v, err = c.contacts:get(C1)
    assert.is_nil(v)
    assert.are.equal("rate_limited", err.kind)
    assert.are.equal(429, err.status)
    c:close()
  end)
end)
