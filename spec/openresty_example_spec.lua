-- examples/openresty runs as the README says: examples/openresty/run (its
-- own prefix, 127.0.0.1, GHL_BASE_URL at the local GHL server standing in
-- for GHL), a key from `ghl webhook key` in GHL_WEBHOOK_PUBLIC_KEY, and test
-- webhooks from `ghl webhook sign`. Port and prefix are the spec's own
-- (GHL_EXAMPLE_PORT, GHL_EXAMPLE_PREFIX), so that runs side by side do not meet.
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local socket = require "socket"
local signing = require "spec.support.signing"
local sys = require "spec.support.sys"

local q, sh, capture = sys.q, sys.sh, sys.capture
local read = sys.read
local LUA = jit and "luajit" or "lua5.4"
-- the ghl command without the caller's GHL_* settings
local GHL = "env -u GHL_TOKEN -u GHL_LOCATION_ID -u GHL_BASE_URL " .. LUA .. " bin/ghl"

local function request(url, method, body, extra)
  local out = {}
  local headers = body and { ["content-type"] = "application/json", ["content-length"] = #body } or nil
  for k, v in pairs(extra or {}) do headers[k] = v end
  local _, code = http.request{ url = url, method = method or "GET", sink = ltn12.sink.table(out),
    source = body and ltn12.source.string(body) or nil, headers = headers }
  local ok, data = pcall(cjson.decode, table.concat(out))
  return code, ok and data or table.concat(out)
end

-- the words of a shell command line in single quotes, unquoted ('\'' inside)
local function quoted_words(cmd)
  local words = {}
  for w in cmd:gsub("'\\''", "\1"):gmatch("'([^']*)'") do words[#words + 1] = (w:gsub("\1", "'")) end
  return words
end

local function gone(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat == nil or stat:match("^%d+ %b() [ZX]") ~= nil
end

describe("examples/openresty #nginx", function()
  local mock, app, keys, key_file, public_key, run_pid
  local tmp = capture("mktemp -d /tmp/ghl-example.XXXXXX"):match("[^\n]+")
  setup(function()
    mock = server.start()
    keys = signing.keys()
    local keyfile = signing.trusted_keys_file("openresty.pem")
    os.execute("chmod 755 '" .. keys.dir .. "' && chmod 644 '" .. keyfile .. "'") -- workers run as nobody
    -- README: export GHL_WEBHOOK_PUBLIC_KEY=$(bin/ghl webhook key /tmp/ghl-webhook.key)
    key_file = tmp .. "/webhook.key"
    public_key = capture(GHL .. " webhook key " .. q(key_file) .. " 2>/dev/null"):match("[^\n]+")
    assert(public_key and #public_key == 44, "ghl webhook key printed no public key")
    local prefix = tmp .. "/prefix"
    assert(sh("mkdir -p " .. q(prefix) .. " && chmod 755 " .. q(tmp)))
    -- README: the export lines of make mock, then examples/openresty/run
    for _ = 1, 3 do -- another process may take the free port first
      local port = server.free_port()
      local env = { GHL_TOKEN = mock.token, GHL_LOCATION_ID = mock.location_id, GHL_BASE_URL = mock.url,
                    GHL_WEBHOOK_PUBLIC_KEY = public_key, GHL_WEBHOOK_KEYS = keyfile,
                    GHL_EXAMPLE_PORT = port, GHL_EXAMPLE_PREFIX = prefix }
      local words = {}
      for k, v in pairs(env) do words[#words + 1] = k .. "=" .. q(v) end
      local log = tmp .. "/run.log"
      run_pid = capture(("env %s examples/openresty/run >%s 2>&1 </dev/null & echo $!"):format(table.concat(words, " "),
        q(log))):match("%d+")
      local up = false
      local deadline = socket.gettime() + 15
      while not up and not gone(run_pid) and socket.gettime() < deadline do
        local c = socket.tcp()
        c:settimeout(0.2)
        up = c:connect("127.0.0.1", port) == 1
        c:close()
        if not up then socket.sleep(0.05) end
      end
      if up then
        app = { url = "http://127.0.0.1:" .. port, prefix = prefix }
        break
      end
      local text = (read(log) or "") .. (read(prefix .. "/logs/error.log") or "")
      if not gone(run_pid) then sh("kill -TERM " .. run_pid) end
      assert(text:find("Address already in use", 1, true), "examples/openresty/run did not start:\n" .. text)
    end
    assert(app, "examples/openresty found no free port")
  end)
  teardown(function()
    if run_pid and not gone(run_pid) then
      sh("kill -TERM " .. run_pid) -- run execs nginx: this is its master, in the foreground
      local deadline = socket.gettime() + 10
      while not gone(run_pid) and socket.gettime() < deadline do socket.sleep(0.05) end
    end
    sh("rm -rf " .. q(tmp))
    if mock then mock:stop() end
  end)

  local function deliver(event, headers)
    return request(app.url .. "/webhooks/ghl", "POST", event, headers or { ["x-ghl-signature"] = signing.ed25519(event) })
  end

  local function tagged(id)
    local c = assert(h.client(mock).contacts:get(id))
    for _, t in ipairs(c.tags) do
      if t == "seen-by-webhook" then return true end
    end
    return false
  end

  it("takes a test webhook of `ghl webhook sign --send`, signed with the key of GHL_WEBHOOK_PUBLIC_KEY", function()
    assert.is_false(tagged("SeedC000000000000011"))
    -- README: bin/ghl webhook sign --key /tmp/ghl-webhook.key --send http://127.0.0.1:8081/webhooks/ghl id=...
    local out = capture(("%s webhook sign --key %s --send %s id=SeedC000000000000011 2>&1; echo \"exit=$?\"")
      :format(GHL, q(key_file), q(app.url .. "/webhooks/ghl")))
    assert.is_truthy(out:find("HTTP 200\n", 1, true), out)
    assert.is_truthy(out:find('{"handled":true}', 1, true), out)
    assert.is_truthy(out:find("exit=0", 1, true), out)
    assert.is_truthy(out:find("trust this public key: " .. public_key, 1, true), out)
    assert.is_true(tagged("SeedC000000000000011"))
  end)

  it("the curl command `ghl webhook sign` prints is verified; tampered, or from a key not trusted, 401", function()
    local cmd = capture(("%s webhook sign --key %s --url %s type=ContactUpdate id=SeedC000000000000012 2>/dev/null")
      :format(GHL, q(key_file), q(app.url .. "/webhooks/ghl"))):match("[^\n]+")
    assert.matches("^curl ", cmd)
    -- curl -sS -X POST -H 'content-type: ...' -H 'x-ghl-signature: SIG' --data-binary 'BODY' 'URL'
    local words = quoted_words(cmd)
    assert.are.equal(4, #words, cmd)
    local sig, body, url = words[2]:match("^x%-ghl%-signature: (.+)$"), words[3], words[4]
    assert.are.equal(app.url .. "/webhooks/ghl", url)
    assert.are.equal("SeedC000000000000012", cjson.decode(body).id)
    if sh("command -v curl >/dev/null 2>&1") then
      local answer = capture(cmd)
      assert.are.equal(true, cjson.decode(answer).handled, answer)
    else
      local code, r = request(url, "POST", body, { ["x-ghl-signature"] = sig })
      assert.are.equal(200, code, cjson.encode(r))
    end
    assert.is_true(tagged("SeedC000000000000012"))
    -- the same signature over a body changed by one contact id
    local tampered = body:gsub("SeedC000000000000012", "SeedC000000000000013")
    local code, r = request(url, "POST", tampered, { ["x-ghl-signature"] = sig })
    assert.are.equal(401, code)
    assert.are.equal("bad_signature", r.error)
    assert.is_false(tagged("SeedC000000000000013"))
    -- signed on the spot with a new key pair, which the receiver does not trust
    local other = capture(("%s webhook sign --url %s id=SeedC000000000000013 2>/dev/null"):format(GHL, q(url)))
    words = quoted_words(other:match("[^\n]+"))
    code, r = request(url, "POST", words[3], { ["x-ghl-signature"] = words[2]:match("^x%-ghl%-signature: (.+)$") })
    assert.are.equal(401, code)
    assert.are.equal("bad_signature", r.error)
  end)

  it("tags the contact of a signed ContactCreate webhook", function()
    local event = signing.event{ type = "ContactCreate", id = "SeedC000000000000007" }
    local code, r = deliver(event)
    assert.are.equal(200, code, cjson.encode(r))
    assert.is_true(r.handled)
    local c = assert(h.client(mock).contacts:get("SeedC000000000000007"))
    local tagged = false
    for _, t in ipairs(c.tags) do tagged = tagged or t == "seen-by-webhook" end
    assert.is_true(tagged)
  end)

  it("answers 429 when GHL rate-limits the lookup, so GHL delivers again", function()
    h.rate_limit(mock, { interval_ms = 100 }) -- retries wait one window: keep it short here
    h.fault(mock, "GET", "/contacts/SeedC000000000000008", "429", 10)
    local event = signing.event{ type = "ContactUpdate", id = "SeedC000000000000008" }
    local code = deliver(event)
    assert.are.equal(429, code)
    h.admin(mock, "DELETE", "/_mock/faults")
    -- GHL's redelivery: the claim was given back, so it is handled now
    local again, r = deliver(event)
    assert.are.equal(200, again, cjson.encode(r))
    assert.is_true(r.handled)
  end)

  it("answers 401 for a missing, wrong or RSA-downgraded signature, a tampered body or a stale event", function()
    local event = signing.event{ id = "SeedC000000000000009" }
    local cases = {
      { {}, "missing_signature" },
      { { ["x-ghl-signature"] = signing.ed25519(event, "other") }, "bad_signature" },
      { { ["x-ghl-signature"] = "bm90IGEgc2lnbmF0dXJl" }, "bad_signature" },
      { { ["x-ghl-signature"] = signing.ed25519(event, "other"), ["x-wh-signature"] = signing.rsa(event) },
        "bad_signature" },
    }
    for _, c in ipairs(cases) do
      local code, r = deliver(event, c[1])
      assert.are.equal(401, code)
      assert.are.equal(c[2], r.error)
    end
    local code, r = deliver(event:gsub("SeedC000000000000009", "SeedC000000000000001"),
      { ["x-ghl-signature"] = signing.ed25519(event) })
    assert.are.equal(401, code)
    assert.are.equal("bad_signature", r.error)
    local old = signing.event{ timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - 3 * 3600) }
    code, r = deliver(old)
    assert.are.equal(401, code)
    assert.are.equal("stale", r.error)
  end)

  it("accepts the legacy RSA signature and answers a redelivery without doing it twice", function()
    local event = signing.event{ type = "ContactUpdate", id = "SeedC000000000000010" }
    local headers = { ["x-wh-signature"] = signing.rsa(event) }
    local code, r = deliver(event, headers)
    assert.are.equal(200, code, cjson.encode(r))
    code, r = deliver(event, headers)
    assert.are.equal(200, code)
    assert.is_true(r.duplicate)
  end)

  it("verifies a body nginx spilled to a temporary file, and refuses one over the limit", function()
    local big = signing.event{ type = "InboundMessage", body = ("x"):rep(200 * 1024) } -- > client_body_buffer_size
    local code, r = deliver(big)
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal("InboundMessage", r.ignored)
    local huge = signing.event{ type = "InboundMessage", body = ("x"):rep(2 * 1024 * 1024) }
    assert.are.equal(413, (request(app.url .. "/webhooks/ghl", "POST", huge, { ["x-ghl-signature"] = "AAAA" })))
  end)

  it("ignores other event types once verified", function()
    local event = signing.event{ type = "InboundMessage" }
    local code, r = deliver(event)
    assert.are.equal(200, code)
    assert.are.equal("InboundMessage", r.ignored)
  end)

  it("lists opportunities as JSON", function()
    local code, r = request(app.url .. "/opportunities?status=open&limit=5")
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal(5, #r.opportunities)
    for _, o in ipairs(r.opportunities) do assert.are.equal("open", o.status) end
  end)
end)
