-- examples/openresty runs as documented: its nginx.conf and handler, with
-- the local GHL server standing in for GHL.
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local signing = require "spec.support.signing"

local ROOT = io.popen("pwd"):read("*l")

local read = require("spec.support.sys").slurp

local function request(url, method, body, extra)
  local out = {}
  local headers = body and { ["content-type"] = "application/json", ["content-length"] = #body } or nil
  for k, v in pairs(extra or {}) do headers[k] = v end
  local _, code = http.request{ url = url, method = method or "GET", sink = ltn12.sink.table(out),
    source = body and ltn12.source.string(body) or nil, headers = headers }
  local ok, data = pcall(cjson.decode, table.concat(out))
  return code, ok and data or table.concat(out)
end

describe("examples/openresty #nginx", function()
  local mock, app, keys
  setup(function()
    mock = server.start()
    keys = signing.keys()
    local keyfile = signing.trusted_keys_file("openresty.pem")
    os.execute("chmod 755 '" .. keys.dir .. "' && chmod 644 '" .. keyfile .. "'") -- workers run as nobody
    local p = io.popen("mktemp -d /tmp/ghl-example.XXXXXX")
    local prefix = p:read("*l")
    p:close()
    -- chmod: nginx workers (user nobody when run as root) read the handler from here
    os.execute(("mkdir -p '%s/logs' '%s/tmp' && chmod 755 '%s' && cp '%s/examples/openresty/handler.lua' '%s/'")
      :format(prefix, prefix, prefix, ROOT, prefix))
    -- the example as shipped, pointed at this checkout and the local server
    local conf = read(ROOT .. "/examples/openresty/nginx.conf")
      :gsub("listen 8080;", "listen 127.0.0.1:@PORT@;")
      :gsub("%$prefix/%.%./%.%./", ROOT .. "/")
      :gsub("env GHL_TOKEN;", ("env GHL_TOKEN=%s;"):format(mock.token))
      :gsub("env GHL_LOCATION_ID;", ("env GHL_LOCATION_ID=%s;"):format(mock.location_id))
      :gsub("env GHL_BASE_URL;", ("env GHL_BASE_URL=%s;"):format(mock.url))
      :gsub("env GHL_WEBHOOK_KEYS;", ("env GHL_WEBHOOK_KEYS=%s;"):format(keyfile))
      :gsub("load_module[^\n]*\n", "") .. ""
    conf = "@LOAD_MODULES@\n" .. conf
    app = server.nginx{ prefix = prefix, template = conf, what = "examples/openresty" }
  end)
  teardown(function()
    if app then app:stop() end
    if mock then mock:stop() end
  end)

  local function deliver(event, headers)
    return request(app.url .. "/webhooks/ghl", "POST", event, headers or { ["x-ghl-signature"] = signing.ed25519(event) })
  end

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
