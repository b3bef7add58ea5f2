-- ghl.webhook.receive as GHL really delivers: redelivered only after a 429,
-- up to six times about 10 minutes apart, with the same payload. A delivery
-- is claimed, handled, then committed or given back, so an event whose
-- handler failed is handled on a later try, and once only, on one worker
-- or many hosts.
local ghl = require "ghl"
local signing = require "spec.support.signing"
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"

local webhook = ghl.webhook

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%S.000Z", t) end

describe("webhook.receive", function()
  local k
  setup(function() k = signing.keys() end)

  local function deliver(body, handler, extra)
    local o = { keys = { k.ed_public } }
    for key, v in pairs(extra or {}) do o[key] = v end
    return webhook.receive(body, { ["x-ghl-signature"] = signing.ed25519(body) }, handler, o)
  end

  it("replays GHL's schedule: failed -> 429, redelivered 10 min later -> 200, then only 200s", function()
    local t0 = 1800000000 -- the event's time, and the simulated clock
    local body = signing.event{ timestamp = iso(t0), webhookId = "wh-schedule-1" }
    local store = ghl.store.memory()
    local calls, fail = 0, true
    local function handler()
      calls = calls + 1
      if fail then return nil, "the CRM behind us is down (secret: pit-should-not-show)" end
      return true
    end
    local errors_seen = {}
    local opts = { store = store, on_error = function(info) errors_seen[#errors_seen + 1] = info end }
    -- first delivery: the handler fails, GHL is told to come back
    opts.now = t0 + 1
    local status, reply = deliver(body, handler, opts)
    assert.are.equal(429, status)
    assert.is_true(reply.retry)
    assert.is_nil(require("cjson").encode(reply):find("pit%-should%-not%-show"))
    assert.are.equal("handler", errors_seen[1].stage)
    assert.matches("CRM behind us is down", errors_seen[1].message)
    -- 10 minutes later: handled, once
    fail = false
    opts.now = t0 + 600 + 17
    status, reply = deliver(body, handler, opts)
    assert.are.equal(200, status)
    assert.is_true(reply.handled)
    assert.are.equal(2, calls)
    -- the four retries GHL may still send: 200, handler not called
    for i = 1, 4 do
      opts.now = t0 + 600 * (i + 1) + i * 31
      status, reply = deliver(body, handler, opts)
      assert.are.equal(200, status)
      assert.is_true(reply.duplicate)
    end
    assert.are.equal(2, calls)
  end)

  it("accepts a 40-minute-old redelivery and refuses a 3-hour-old one (or one from the future)", function()
    local t0 = 1800000000
    local ok_calls = 0
    local status = deliver(signing.event{ timestamp = iso(t0) }, function() ok_calls = ok_calls + 1 return true end,
      { now = t0 + 40 * 60 })
    assert.are.equal(200, status)
    assert.are.equal(1, ok_calls)
    local reply
    status, reply = deliver(signing.event{ timestamp = iso(t0) }, function() error("must not run") end,
      { now = t0 + 3 * 3600 })
    assert.are.equal(401, status)
    assert.are.equal("stale", reply.error)
    status, reply = deliver(signing.event{ timestamp = iso(t0 + 3600) }, function() error("must not run") end,
      { now = t0 })
    assert.are.equal(401, status)
    assert.matches("from now", reply.message)
  end)

  it("accepts a signed event without timestamp or webhookId once, and refuses its replay", function()
    local body = signing.event{ timestamp = false, webhookId = false, type = "ContactTagUpdate" }
    local calls = 0
    local store = ghl.store.memory()
    local status, reply = deliver(body, function() calls = calls + 1 return true end, { store = store })
    assert.are.equal(200, status)
    assert.is_true(reply.handled)
    status, reply = deliver(body, function() calls = calls + 1 return true end, { store = store })
    assert.are.equal(200, status)
    assert.is_true(reply.duplicate)
    assert.are.equal(1, calls)
    -- unless a timestamp is required
    status, reply = deliver(body, function() return true end, { store = ghl.store.memory(), require_timestamp = true })
    assert.are.equal(401, status)
    assert.are.equal("stale", reply.error)
  end)

  it("answers 429 while another worker has the delivery, and 200 once it is done", function()
    local body = signing.event{ webhookId = "wh-busy-1" }
    local store = ghl.store.memory()
    local inner_status
    local status = deliver(body, function()
      inner_status = deliver(body, function() error("must not run twice") end, { store = store })
      return true
    end, { store = store })
    assert.are.equal(200, status)
    assert.are.equal(429, inner_status)
    local again, reply = deliver(body, function() error("must not run") end, { store = store })
    assert.are.equal(200, again)
    assert.is_true(reply.duplicate)
  end)

  it("gives the claim back when the handler raises, so the redelivery is handled", function()
    local body = signing.event{ webhookId = "wh-raise-1" }
    local store = ghl.store.memory()
    assert.are.equal(429, (deliver(body, function() error({ secret = "x" }) end, { store = store,
      on_error = function() end })))
    local calls = 0
    assert.are.equal(200, (deliver(body, function() calls = calls + 1 return true end, { store = store })))
    assert.are.equal(1, calls)
  end)

  it("answers 429 and reports when the store fails, never raises", function()
    local broken = ghl.store.memory()
    broken.add = function() return nil, "connection refused" end
    local seen
    local status, reply = deliver(signing.event(), function() error("must not run") end,
      { store = broken, on_error = function(info) seen = info end })
    assert.are.equal(429, status)
    assert.are.equal("store", reply.error)
    assert.are.equal("store", seen.stage)
    assert.matches("connection refused", seen.message)
  end)

  it("refuses a bad signature (401), a signed array (400), a body over the limit (413)", function()
    local body = signing.event()
    assert.are.equal(401, (webhook.receive(body, { ["x-ghl-signature"] = signing.ed25519(body, "other") },
      function() error("no") end, { keys = { k.ed_public } })))
    local arr = "[1,2,3]"
    local status, reply = deliver(arr, function() error("no") end)
    assert.are.equal(400, status)
    assert.are.equal("malformed", reply.error)
    assert.are.equal(413, (deliver(signing.event{ pad = ("x"):rep(4096) }, function() error("no") end,
      { max_body_bytes = 1024 })))
  end)

  it("dispatches by type; a type without a handler is done at once", function()
    local got
    local status, reply = deliver(signing.event{ type = "InboundMessage" }, {
      ContactCreate = function() error("wrong handler") end,
      InboundMessage = function(e) got = e.type return true end,
    })
    assert.are.equal(200, status)
    assert.is_true(reply.handled)
    assert.are.equal("InboundMessage", got)
    status, reply = deliver(signing.event{ type = "NoteCreate" }, { ContactCreate = function() end })
    assert.are.equal(200, status)
    assert.are.equal("NoteCreate", reply.ignored)
  end)

  it("refuses unknown and mistyped options like ghl.new, for verify too", function()
    local body = signing.event()
    assert.matches("unknown option 'public_key'", h.invalid(webhook.receive, body, {}, function() end,
      { public_key = k.ed_public }))
    assert.matches("unknown option 'public_key'", h.invalid(webhook.verify, body, {}, { public_key = k.ed_public }))
    assert.matches("'max_age_s' must be", h.invalid(webhook.verify, body, {}, { max_age_s = "300" }))
    assert.matches("handler must be", h.invalid(webhook.receive, body, {}, 42))
  end)

  it("verify: a failing seen store is an error return, not a raise", function()
    local body = signing.event()
    local ev, err = webhook.verify(body, { ["x-ghl-signature"] = signing.ed25519(body) },
      { keys = { k.ed_public }, seen = function() return nil, "store down" end })
    assert.is_nil(ev)
    assert.are.equal("store", err.reason)
  end)
end)

describe("webhook.receive across two processes sharing Redis", function()
  local redis_srv
  setup(function() redis_srv = require("spec.support.redis").start() end)
  teardown(function() if redis_srv then redis_srv.stop() end end)

  it("handles the same delivery sent to both at once exactly once", function()
    local k = signing.keys()
    local dir = h.private_dir()
    local body = signing.event{ webhookId = "wh-race-" .. os.time() }
    sys.write(dir .. "/body", body)
    sys.write(dir .. "/key.pem", k.ed_public)
    local sig = signing.ed25519(body)
    local lua = arg and arg[-1] or "lua5.4"
    local start_at = math.floor(require("ghl.clock").now_ms() + 600)
    local cmds = {}
    for i = 1, 2 do
      cmds[i] = ("(%s spec/support/webhook_worker.lua %d %s %s %s %d %s > %s/out.%d 2>&1) &"):format(
        lua, redis_srv.port, sys.q(dir .. "/body"), sys.q(sig), sys.q(dir .. "/key.pem"), start_at,
        sys.q(dir .. "/handled"), dir, i)
    end
    os.execute(table.concat(cmds, " ") .. " wait")
    local handled = select(2, (sys.read(dir .. "/handled") or ""):gsub("handled", ""))
    local outs = (sys.read(dir .. "/out.1") or "") .. (sys.read(dir .. "/out.2") or "")
    assert.are.equal(1, handled, outs)
    assert.matches("200 [^\n]*handled", outs)
    assert.matches("429 [^\n]*in_progress", outs) -- the other one: GHL comes back later
    os.execute("rm -rf " .. sys.q(dir))
  end)
end)
