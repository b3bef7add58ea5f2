-- examples/openresty runs as documented: its nginx.conf and handler, with
-- the local GHL server standing in for GHL.
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local ROOT = io.popen("pwd"):read("*l")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function request(url, method, body)
  local out = {}
  local _, code = http.request{ url = url, method = method or "GET", sink = ltn12.sink.table(out),
    source = body and ltn12.source.string(body) or nil,
    headers = body and { ["content-type"] = "application/json", ["content-length"] = #body } or nil }
  local ok, data = pcall(cjson.decode, table.concat(out))
  return code, ok and data or table.concat(out)
end

describe("examples/openresty #nginx", function()
  local mock, app
  setup(function()
    mock = server.start()
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
      :gsub("load_module[^\n]*\n", "") .. ""
    conf = "@LOAD_MODULES@\n" .. conf
    app = server.nginx{ prefix = prefix, template = conf, what = "examples/openresty" }
  end)
  teardown(function()
    if app then app:stop() end
    if mock then mock:stop() end
  end)

  it("tags the contact of a ContactCreate webhook", function()
    local event = cjson.encode{ type = "ContactCreate", locationId = mock.location_id, id = "SeedC000000000000007" }
    local code, r = request(app.url .. "/webhooks/ghl", "POST", event)
    assert.are.equal(200, code, cjson.encode(r))
    assert.are.equal("SeedC000000000000007", r.tagged)
    local c = assert(h.client(mock).contacts:get("SeedC000000000000007"))
    local tagged = false
    for _, t in ipairs(c.tags) do tagged = tagged or t == "seen-by-webhook" end
    assert.is_true(tagged)
  end)

  it("answers 429 when GHL rate-limits the lookup, so GHL delivers again", function()
    h.rate_limit(mock, { interval_ms = 100 }) -- retries wait one window: keep it short here
    h.fault(mock, "GET", "/contacts/SeedC000000000000008", "429", 10)
    local event = cjson.encode{ type = "ContactUpdate", id = "SeedC000000000000008" }
    local code = request(app.url .. "/webhooks/ghl", "POST", event)
    assert.are.equal(429, code)
    h.admin(mock, "DELETE", "/_mock/faults")
  end)

  it("refuses a body that is not an event and ignores other event types", function()
    assert.are.equal(400, (request(app.url .. "/webhooks/ghl", "POST", "not json")))
    local code, r = request(app.url .. "/webhooks/ghl", "POST", cjson.encode{ type = "InboundMessage" })
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
