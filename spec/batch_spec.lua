-- client:batch over curl multi: calls in flight at once, results in order,
-- the same tokens, retries and pacing as single calls (one driver).
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local socket = require "socket"

local function get(id, fault)
  return { "GET", "/contacts/{contactId}", { path = { contactId = id },
                                              headers = fault and { ["X-Mock-Fault"] = fault } or nil } }
end

describe("batch (curl multi)", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { max = 1000000, daily = 1000000000 })
  end)

  it("returns results in input order, values and errors alike", function()
    local c = h.client(srv)
    local r = c:batch({
      get("SeedC000000000000003"),
      { op = "contacts.get-contact", params = { contactId = "SeedC000000000000001" } },
      get("missing"),
      { op = "contacts.create-contact", params = { firstName = "Batch" } },
    }, { concurrency = 4 })
    assert.are.equal("SeedC000000000000003", r[1][1].contact.id)
    assert.are.equal(200, r[1][2].status)
    assert.are.equal("SeedC000000000000001", r[2][1].contact.id)
    assert.is_nil(r[3][1])
    assert.are.equal(404, r[3][2].status)
    assert.are.equal("Batch", r[4][1].contact.firstName)
    c:close()
  end)

  it("runs calls at once: 20 calls of 300 ms at concurrency 10 take about 2 rounds", function()
    local c = h.client(srv)
    local calls = {}
    for i = 1, 20 do calls[i] = get(("SeedC%015d"):format(i), "delay=300") end
    local t0 = socket.gettime()
    local r = c:batch(calls, { concurrency = 10 })
    local elapsed = socket.gettime() - t0
    for i = 1, 20 do assert.are.equal(("SeedC%015d"):format(i), r[i][1].contact.id) end
    assert.is_true(elapsed < 3.0, ("20 x 300 ms one after the other would take 6 s; took %.2f s"):format(elapsed))
    assert.is_true(c._multi:stats().connects <= 10)
    c:close()
  end)

  it("retries like a single call: a 503 GET is retried, a 500 POST is not", function()
    local retries = {}
    local c = h.client(srv, { on_retry = function(info) retries[#retries + 1] = info end })
    h.fault(srv, "GET", "/contacts/SeedC000000000000002", "status=503", 1)
    h.fault(srv, "POST", "/contacts/", "status=500", 1)
    local r = c:batch({ get("SeedC000000000000002"), { op = "contacts.create-contact", params = { firstName = "P" } } })
    assert.are.equal("SeedC000000000000002", r[1][1].contact.id)
    assert.are.equal(2, r[1][2].attempts)
    assert.is_nil(r[2][1])
    assert.are.equal(500, r[2][2].status)
    assert.are.equal(1, r[2][2].attempts)
    assert.are.equal(1, #retries)
    c:close()
  end)

  it("paces like single calls: 15 calls under a limit of 5 per 500 ms without a 429", function()
    h.rate_limit(srv, { max = 5, interval_ms = 500 })
    local c = h.client(srv, { max_retries = 0, token = srv.OTHER_TOKEN, location_id = srv.OTHER_LOCATION_ID })
    local mine = assert(c.contacts:create{ firstName = "Paced" })
    local calls = {}
    for i = 1, 15 do calls[i] = get(mine.id) end
    local r = c:batch(calls, { concurrency = 15 })
    for i = 1, 15 do assert.is_table(r[i][1], tostring(r[i][2])) end
    c:close()
  end)

  it("raises for misuse before sending anything", function()
    local c = h.client(srv)
    local err = h.raised(c.batch, c, { get("SeedC000000000000001"), { "GET", "/contacts/{contactId}" } })
    assert.matches("contactId", err.message)
    assert.are.equal("invalid_argument", h.raised(c.batch, c, "calls").kind)
    assert.are.same({}, h.requests(srv))
    c:close()
  end)

  it("a closed client answers every call with a closed error", function()
    local c = h.client(srv)
    c:close()
    local r = c:batch{ get("a"), get("b") }
    assert.are.equal("closed", r[1][2].kind)
    assert.are.equal("closed", r[2][2].kind)
  end)
end)

describe("batch with an OAuth client (curl multi)", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { max = 1000000, daily = 1000000000 })
  end)

  local function stats() return h.admin(srv, "GET", "/_mock/oauth") end

  -- a client whose tokens come from an app that went through the OAuth flow
  local function oauth_client(app_extra)
    local ghl = require "ghl"
    local o = { client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                store = ghl.store.memory() }
    for k, v in pairs(app_extra or {}) do o[k] = v end
    local app = ghl.oauth(o)
    assert(app:exchange(h.admin(srv, "POST", "/_mock/oauth/code",
      { userType = "Location", locationId = srv.location_id }).code))
    return ghl.new{ oauth = app, location_id = srv.location_id, base_url = srv.url, retry_base_ms = 5,
                    retry_max_delay_ms = 20 }
  end

  local function ids(n)
    local out = {}
    for i = 1, n do out[i] = ("SeedC%015d"):format(i) end
    return out
  end

  it("runs 8 slow calls at concurrency 8 in about one call's time", function()
    local c = oauth_client()
    local calls = {}
    for i, id in ipairs(ids(8)) do calls[i] = get(id, "delay=500") end
    local t0 = socket.gettime()
    local r = c:batch(calls, { concurrency = 8 })
    local elapsed = socket.gettime() - t0
    for i, id in ipairs(ids(8)) do assert.are.equal(id, r[i][1] and r[i][1].contact.id, tostring(r[i][2])) end
    assert.is_true(elapsed < 1.0, ("8 x 500 ms one after the other take 4 s; took %.2f s"):format(elapsed))
    assert.are.equal(0, stats().refresh_calls)
    c:close()
  end)

  it("renews a token that expires during the batch once, for every call after it", function()
    h.admin(srv, "POST", "/_mock/oauth", { access_ttl_s = 1 })
    local c = oauth_client{ refresh_skew_ms = 0 }
    local calls = {}
    for i, id in ipairs(ids(32)) do calls[i] = get(id, "delay=400") end
    local r = c:batch(calls, { concurrency = 8 }) -- four rounds of 400 ms: the token dies before the fourth
    for i, id in ipairs(ids(32)) do assert.are.equal(id, r[i][1] and r[i][1].contact.id, tostring(r[i][2])) end
    assert.are.equal(1, stats().refresh_calls)
    c:close()
  end)

  it("renews once when GHL refuses the token of every call in flight", function()
    local c = oauth_client()
    local calls = {}
    for i, id in ipairs(ids(8)) do
      h.fault(srv, "GET", "/contacts/" .. id, "auth_expired", 1)
      calls[i] = get(id, nil)
      calls[i][3].headers = { ["X-Mock-Delay"] = "x" } -- (ignored by the server) so every call is distinct
    end
    local r = c:batch(calls, { concurrency = 8 })
    for i, id in ipairs(ids(8)) do
      assert.are.equal(id, r[i][1] and r[i][1].contact.id, tostring(r[i][2]))
      assert.are.equal(2, r[i][2].attempts)
    end
    assert.are.equal(1, stats().refresh_calls)
    c:close()
  end)
end)

describe("bounded pacing", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("a call that would need an hour-long pacing wait fails at once with rate_limited, sending nothing", function()
    -- the server says: nothing left, and the window is an hour long
    h.rate_limit(srv, { max = 1, interval_ms = 3600000 })
    local c = h.client(srv, { token = srv.OTHER_TOKEN, location_id = srv.OTHER_LOCATION_ID, max_retries = 0 })
    local mine = assert(c.contacts:create{ firstName = "Hour" })
    local before = #h.requests(srv)
    local t0 = socket.gettime()
    local v, err = c.contacts:get(mine.id)
    assert.is_true(socket.gettime() - t0 < 0.5, "no pacing wait was slept")
    assert.is_nil(v)
    assert.are.equal("rate_limited", err.kind)
    assert.is_true(err.retry_after_ms > 0)
    assert.matches("pacing would wait", err.message)
    assert.are.equal("GET", err.method)
    assert.are.equal(before, #h.requests(srv), "nothing was sent")
    -- in a batch too: every call fails at once
    local r = c:batch({ get(mine.id), get(mine.id) })
    assert.are.equal("rate_limited", r[1][2].kind)
    assert.are.equal("rate_limited", r[2][2].kind)
    assert.are.equal(before, #h.requests(srv))
    c:close()
  end)
end)

