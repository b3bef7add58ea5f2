-- The small findings of the red team: extreme Retry-After values, options
-- out of range, a per-request timeout that stuck to the curl handle, long
-- JSON numbers, and one shape for every misuse of the public API.
local h = require "spec.support.helpers"
local core = require "ghl.core"
local ghl = require "ghl"
local socket = require "socket"

local C1 = "SeedC000000000000001"

describe("hardening", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  for _, value in ipairs{ "1e10", "1e999", "99999999999999999999" } do
    it(("a 429 with Retry-After: %s fails at once with rate_limited, without a retry"):format(value), function()
      local retries = 0
      local c = h.client(srv, { pacing = false, on_retry = function() retries = retries + 1 end })
      h.fault(srv, "GET", "/contacts/" .. C1, "429_raw_retry_after=" .. value, 1)
      local t0 = socket.gettime()
      local v, err = c.contacts:get(C1)
      assert.is_true(socket.gettime() - t0 < 1, "no wait was slept")
      assert.is_nil(v)
      assert.are.equal("rate_limited", err.kind)
      assert.are.equal(429, err.status)
      assert.are.equal(1, err.attempts)
      assert.are.equal(0, retries)
      assert.is_true(err.retry_after_ms >= 1e12, tostring(err.retry_after_ms))
      c:close()
    end)
  end

  it("a request's own timeout_ms is for that request only (curl)", function()
    local t = require("ghl.curl").new{ timeout_ms = 5000 }
    local c = h.client(srv)
    local req = c._core:prepare("GET", "/contacts/{contactId}", { path = { contactId = C1 },
                                                                  headers = { ["X-Mock-Fault"] = "delay=300" } })
    req.timeout_ms = 100
    local status, kind = t:perform(req)
    assert.is_nil(status)
    assert.are.equal("timeout", kind)
    req.timeout_ms = nil
    assert.are.equal(200, (t:perform(req))) -- 300 ms under the handle's 5 s
    t:close()
    c:close()
  end)

  it("decodes a 70-digit JSON number (approximately, as JSON allows)", function()
    local big = ("1234567890"):rep(7)
    assert.are.equal(tonumber(big), core.json_decode("[" .. big .. "]")[1])
    assert.are.equal(-1.5e-300, core.json_decode("-1.5" .. ("0"):rep(80) .. "e-300"))
    local v, err = core.json_decode("1" .. ("0"):rep(100000))
    assert.are.equal(math.huge, v, tostring(err)) -- a double, as any decoder gives
  end)
end)

describe("every misuse of the public API raises one shape: an invalid_argument error", function()
  local function shape(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok, "expected a raise")
    assert.is_true(ghl.is_error(err), "not a ghl error: " .. tostring(err))
    assert.are.equal("invalid_argument", err.kind, tostring(err))
    assert.is_string(err.message)
    return err.message
  end

  local function new(extra)
    local o = { token = "pit-x", location_id = "L1" }
    for k, v in pairs(extra) do o[k] = v end
    return ghl.new(o)
  end

  it("ghl.new options out of range", function()
    assert.matches("timeout_ms", shape(new, { timeout_ms = 1e12 }))
    assert.matches("timeout_ms", shape(new, { timeout_ms = 0.5 }))
    assert.matches("connect_timeout_ms", shape(new, { connect_timeout_ms = 86400001 }))
    assert.matches("max_body_bytes", shape(new, { max_body_bytes = 1e20 }))
    assert.matches("max_body_bytes", shape(new, { max_body_bytes = 0.5 }))
    assert.matches("unknown option", shape(new, { timeout = 5 }))
  end)

  it("stores", function()
    shape(ghl.store.file, 42)
    assert.matches("lua_shared_dict", shape(ghl.store.shm, "nope"))
    assert.matches("unknown option 'hots'", shape(ghl.store.redis, { hots = "127.0.0.1" }))
    assert.matches("'port' must be a number", shape(ghl.store.redis, { port = "6379" }))
    assert.matches("unknown option", shape(ghl.store.memory, { lock_timeout = 5 }))
    assert.matches("options must be a table", shape(ghl.store.memory, "x"))
  end)

  it("client calls", function()
    local c = new{}
    shape(c.request, c, 1, "/x")
    shape(c.request, c, "GET", "/contacts/{contactId}")
    shape(c.batch, c, "calls")
    shape(c.call, c, "no-such-operation")
    shape(c.contacts.get, c.contacts, nil)
    shape(c.each_of, c, "contacts.get-contact", { contactId = "x" })
    c:close()
  end)
end)
