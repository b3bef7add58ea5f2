-- The fault matrix: every fault of the local server against GET, PUT and
-- POST, with the number of attempts, the error kind, no duplicate record
-- from a retried POST, no hang (the client's own timeouts bound every
-- case), and the connection reused afterwards.
local h = require "spec.support.helpers"
local cjson = require "cjson"

local C1 = "SeedC000000000000001"
local MAX_RETRIES = 2 -- so "retried" means 3 attempts

-- outcome per method: { attempts, kind } (kind nil = success)
local MATRIX = {
  { fault = "delay=30", GET = { 1 }, PUT = { 1 }, POST = { 1 } },
  { fault = "hang", GET = { 3, "timeout" }, PUT = { 3, "timeout" }, POST = { 1, "timeout" } },
  { fault = "reset", GET = { 3, "network" }, PUT = { 3, "network" }, POST = { 1, "network" } },
  { fault = "close", GET = { 3, "network" }, PUT = { 3, "network" }, POST = { 1, "network" } },
  { fault = "truncated", GET = { 3, "network" }, PUT = { 3, "network" }, POST = { 1, "network" } },
  { fault = "status=500", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "status=502", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "status=503", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "status=504", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "html502", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "429", GET = { 3, "rate_limited" }, PUT = { 3, "rate_limited" }, POST = { 3, "rate_limited" } },
  { fault = "badjson", GET = { 1, "decode" }, PUT = { 1, "decode" }, POST = { 1, "decode" } },
  { fault = "big=200000", GET = { 1, "too_large" }, PUT = { 1, "too_large" }, POST = { 1, "too_large" } },
  { fault = "after=422", GET = { 1, "http" }, PUT = { 1, "http" }, POST = { 1, "http" } },
  { fault = "after=500", GET = { 3, "http" }, PUT = { 3, "http" }, POST = { 1, "http" } },
  { fault = "status=400", GET = { 1, "http" }, PUT = { 1, "http" }, POST = { 1, "http" } },
}

describe("fault matrix", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)
  local client, retries
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { interval_ms = 200 }) -- 429s ask to come back in 200 ms, not GHL's 10 s
    retries = {}
    client = h.client(srv, { max_retries = MAX_RETRIES, timeout_ms = 400, max_body_bytes = 64 * 1024,
                             on_retry = function(info) retries[#retries + 1] = info end })
  end)
  after_each(function() client:close() end)

  local seq = 0
  local function call(method)
    seq = seq + 1
    if method == "GET" then
      return client.contacts:get(C1)
    elseif method == "PUT" then
      return client.contacts:update(C1, { lastName = "M" .. seq })
    end
    return client.contacts:create{ firstName = "Fault", email = ("fault%d@example.com"):format(seq) }
  end

  local function attempts(path)
    local n = 0
    for _, r in ipairs(h.requests(srv)) do
      if r.path == path then n = n + 1 end
    end
    return n
  end

  for _, row in ipairs(MATRIX) do
    for _, method in ipairs{ "GET", "PUT", "POST" } do
      local want = row[method]
      it(("%s on %s: %d attempt(s), %s"):format(row.fault, method, want[1], want[2] or "success"), function()
        local path = method == "POST" and "/contacts/" or "/contacts/" .. C1
        h.fault(srv, method, path, row.fault, 5)
        local before = client:transport_stats().connects
        local v, err = call(method)
        if want[2] then
          assert.is_nil(v)
          assert.are.equal(want[2], err.kind, tostring(err))
          assert.are.equal(want[1], err.attempts, tostring(err))
        else
          assert.is_table(v, tostring(err))
        end
        assert.are.equal(want[1], attempts(path))
        assert.are.equal(want[1] - 1, #retries)
        -- afterwards: one connection serves the next calls
        h.admin(srv, "DELETE", "/_mock/faults")
        local conns = {}
        for _ = 1, 3 do
          local _, resp = assert(client.contacts:get(C1))
          conns[resp.headers["x-mock-connection"]] = true
        end
        local n = 0
        for _ in pairs(conns) do n = n + 1 end
        assert.are.equal(1, n)
        assert.is_true(client:transport_stats().connects - before <= want[1] + 1)
      end)
    end
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
    local c = h.client(srv, { base_url = "http://127.0.0.1:" .. h.closed_port(), max_retries = 2 })
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
      local t0 = require("socket").gettime()
      assert(client.contacts:get(C1))
      assert.are.equal(1, #retries)
      assert.is_true(retries[1].delay_ms >= 900, fault .. " " .. retries[1].delay_ms)
      assert.is_true(require("socket").gettime() - t0 >= 0.9)
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
    local t0 = require("socket").gettime()
    local v, err = c.contacts:get(C1)
    assert.is_nil(v)
    assert.are.equal(503, err.status)
    assert.is_true(require("socket").gettime() - t0 < 1.5)
    assert.is_true(err.attempts < 50)
    c:close()
  end)
end)

describe("rate-limit pacing", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("slows down before the server says 429", function()
    h.rate_limit(srv, { max = 5, interval_ms = 500 })
    local c = h.client(srv, { max_retries = 0 })
    local t0 = require("socket").gettime()
    for _ = 1, 16 do assert(c.contacts:get(C1)) end -- no 429: max_retries = 0 would fail it
    assert.is_true(require("socket").gettime() - t0 >= 1.0, "16 requests at 5 per 500 ms take over 1 s")
    local st = c:rate_limit()
    assert.are.equal(5, st.max)
    assert.are.equal(500, st.interval_ms)
    assert.is_true(st.waits > 0)
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
