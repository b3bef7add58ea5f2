-- ghl.webhook: signatures checked in C (libcrypto), failing closed, with
-- replay and duplicate protection, against keys made here with openssl.
local ghl = require "ghl"
local signing = require "spec.support.signing"
local h = require "spec.support.helpers"
local cjson = require "cjson"

local webhook = ghl.webhook

describe("webhook.verify", function()
  local k
  setup(function() k = signing.keys() end)

  local function opts(extra)
    local o = { keys = { k.ed_public, k.rsa_public }, seen = false }
    for key, v in pairs(extra or {}) do o[key] = v end
    return o
  end

  local function rejected(reason, body, headers, o)
    local ev, err = webhook.verify(body, headers, o or opts())
    assert.is_nil(ev)
    assert.are.equal("webhook", err.kind)
    assert.are.equal(reason, err.reason, tostring(err))
    return err
  end

  it("accepts an Ed25519-signed event and decodes it", function()
    local body = signing.event()
    local ev, info = webhook.verify(body, { ["X-GHL-Signature"] = signing.ed25519(body) }, opts())
    assert.are.equal("ContactCreate", ev.type)
    assert.are.equal("ed25519", info.scheme)
  end)

  it("accepts the legacy RSA-SHA256 signature, unless refused", function()
    local body = signing.event()
    local sig = signing.rsa(body)
    local ev, info = webhook.verify(body, { ["x-wh-signature"] = sig }, opts())
    assert.are.equal("rsa", info.scheme)
    assert.is_table(ev)
    rejected("legacy_refused", body, { ["x-wh-signature"] = sig }, opts{ allow_legacy_rsa = false })
  end)

  it("prefers Ed25519: with both headers a bad Ed25519 signature is not saved by RSA", function()
    local body = signing.event()
    rejected("bad_signature", body, { ["x-ghl-signature"] = signing.ed25519(body, "other"),
                                      ["x-wh-signature"] = signing.rsa(body) })
  end)

  it("rejects a tampered body", function()
    local body = signing.event()
    local sig = signing.ed25519(body)
    rejected("bad_signature", body:gsub("ContactCreate", "ContactDelete"), { ["x-ghl-signature"] = sig })
    rejected("bad_signature", body .. " ", { ["x-ghl-signature"] = sig })
  end)

  it("rejects a signature by another key", function()
    local body = signing.event()
    rejected("bad_signature", body, { ["x-ghl-signature"] = signing.ed25519(body, "other") })
  end)

  it("rejects a missing signature and a missing key", function()
    local body = signing.event()
    rejected("missing_signature", body, {})
    rejected("missing_signature", body, { ["x-other"] = "x" })
    rejected("no_key", body, { ["x-ghl-signature"] = signing.ed25519(body) }, opts{ keys = { k.rsa_public } })
  end)

  it("rejects base64 garbage and signatures of the wrong size", function()
    local body = signing.event()
    for _, sig in ipairs{ "", "!!!!", "abc", "QUJD", ("A"):rep(5000), "AAAA=AAA" } do
      rejected("bad_signature", body, { ["x-ghl-signature"] = sig })
    end
  end)

  it("rejects a signed body that is not a JSON object", function()
    local body = "not json"
    rejected("malformed", body, { ["x-ghl-signature"] = signing.ed25519(body) })
  end)

  it("admits GHL's redeliveries (80 minutes) but not older or future events", function()
    local retry = signing.event{ timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - 70 * 60) }
    assert.is_table((webhook.verify(retry, { ["x-ghl-signature"] = signing.ed25519(retry) }, opts())))
    local old = signing.event{ timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - 3 * 3600) }
    rejected("stale", old, { ["x-ghl-signature"] = signing.ed25519(old) })
    local future = signing.event{ timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() + 600) }
    rejected("stale", future, { ["x-ghl-signature"] = signing.ed25519(future) })
    local garbled = signing.event{ timestamp = "yesterday" }
    rejected("stale", garbled, { ["x-ghl-signature"] = signing.ed25519(garbled) })
    -- most documented events carry no timestamp: accepted on their signature, unless required
    local none = signing.event{ timestamp = false }
    assert.is_table((webhook.verify(none, { ["x-ghl-signature"] = signing.ed25519(none) }, opts())))
    rejected("stale", none, { ["x-ghl-signature"] = signing.ed25519(none) }, opts{ require_timestamp = true })
    -- a narrower window, or none at all, when asked
    rejected("stale", retry, { ["x-ghl-signature"] = signing.ed25519(retry) }, opts{ max_age_s = 300 })
    assert.is_table((webhook.verify(old, { ["x-ghl-signature"] = signing.ed25519(old) }, opts{ max_age_s = false })))
  end)

  it("rejects a repeated webhookId (in-memory LRU, or any store with add)", function()
    local body = signing.event()
    local headers = { ["x-ghl-signature"] = signing.ed25519(body) }
    local seen = webhook.lru(100)
    assert.is_table((webhook.verify(body, headers, opts{ seen = seen })))
    rejected("duplicate", body, headers, opts{ seen = seen })
    local store = ghl.store.memory()
    assert.is_table((webhook.verify(body, headers, opts{ seen = webhook.seen_in(store) })))
    rejected("duplicate", body, headers, opts{ seen = webhook.seen_in(store) })
  end)

  it("does not remember ids of deliveries that failed verification", function()
    local body = signing.event()
    local seen = webhook.lru(100)
    rejected("bad_signature", body, { ["x-ghl-signature"] = signing.ed25519(body, "other") }, opts{ seen = seen })
    assert.is_table((webhook.verify(body, { ["x-ghl-signature"] = signing.ed25519(body) }, opts{ seen = seen })))
  end)

  it("rejects an oversized body and a repeated signature header", function()
    local body = signing.event{ pad = ("x"):rep(2048) }
    rejected("too_large", body, { ["x-ghl-signature"] = signing.ed25519(body) }, opts{ max_body_bytes = 1024 })
    rejected("malformed", body, { ["x-ghl-signature"] = { "a", "b" } })
  end)

  it("raises for misuse", function()
    assert.are.equal("invalid_argument", h.raised(webhook.verify, nil, {}).kind)
    assert.are.equal("invalid_argument", h.raised(webhook.verify, "{}", "headers").kind)
    assert.are.equal("invalid_argument", h.raised(webhook.verify, "{}", {}, { keys = { "not a key" } }).kind)
  end)
end)

describe("webhook keys", function()
  local k
  setup(function() k = signing.keys() end)

  it("parses GHL's published keys", function()
    local kinds = {}
    for _, text in ipairs(webhook.GHL_KEYS) do
      local key, kind = webhook.load_key(text)
      assert.is_userdata(key)
      kinds[#kinds + 1] = kind
    end
    assert.are.same({ "ed25519", "rsa" }, kinds)
  end)

  it("takes PEM, base64 SPKI DER, and a raw Ed25519 key in base64 or hex", function()
    local der_b64 = k.ed_public:gsub("%-%-%-%-%-[^%-]+%-%-%-%-%-", ""):gsub("%s", "")
    local raw = require("ghl.crypto").base64_decode(der_b64):sub(-32)
    local raw_b64 = require("mime").b64(raw)
    local raw_hex = raw:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    local body = signing.event()
    local sig = signing.ed25519(body)
    for _, form in ipairs{ k.ed_public, der_b64, raw_b64, raw_hex } do
      local ev = webhook.verify(body, { ["x-ghl-signature"] = sig }, { keys = { form }, seen = false })
      assert.is_table(ev, form)
    end
  end)

  it("reads a bundle of PEM keys from a file, and says why it cannot", function()
    local k = signing.keys()
    local path = k.dir .. "/bundle.pem"
    require("spec.support.sys").write(path, "comment\n" .. k.ed_public .. "\n" .. k.rsa_public)
    local keys = assert(webhook.read_keys(path))
    assert.are.equal(2, #keys)
    local body = '{"type":"ContactCreate","id":"c1","webhookId":"w-bundle","timestamp":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '"}'
    assert.truthy(webhook.verify(body, { ["x-ghl-signature"] = signing.ed25519(body) }, { keys = keys, seen = false }))
    local none, err = webhook.read_keys(k.dir .. "/missing.pem")
    assert.is_nil(none)
    assert.matches("webhook keys:", err)
    require("spec.support.sys").write(path, "no key here")
    assert.matches("holds no PEM public key", select(2, webhook.read_keys(path)))
  end)

  it("refuses what is not a usable key", function()
    for _, bad in ipairs{ "", "hello", ("g"):rep(64), ("Q"):rep(44), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" } do
      assert.is_nil((webhook.load_key(bad)), bad)
    end
  end)
end)

describe("test webhooks: ghl.crypto's signing, ghl webhook key and sign", function()
  local crypto = require "ghl.crypto"
  local cli_webhook = require "ghl.cli.webhook"
  local sys = require "spec.support.sys"

  it("signs as openssl does (Ed25519 over the raw bytes), with a new pair or an openssl key", function()
    local k = signing.keys()
    local body = signing.event()
    -- Ed25519 is deterministic: the same key gives openssl's very signature
    local sig, pub = crypto.ed25519_sign(sys.slurp(k.dir .. "/ed.pem"), body)
    assert.are.equal(signing.ed25519(body), crypto.base64_encode(sig))
    assert.are.equal(cli_webhook.public_text(pub, true), (k.ed_public:gsub("%s+$", "")))
    assert.is_table(webhook.verify(body, { ["x-ghl-signature"] = crypto.base64_encode(sig) },
      { keys = { crypto.base64_encode(pub) }, seen = false }))

    local private, public = crypto.ed25519_keypair()
    assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", private)
    assert.are.equal(32, #public)
    local sig2, pub2 = crypto.ed25519_sign(private, body)
    assert.are.equal(64, #sig2)
    assert.are.equal(public, pub2)
    local o = { keys = { crypto.base64_encode(public) }, seen = false }
    assert.is_table(webhook.verify(body, { ["x-ghl-signature"] = crypto.base64_encode(sig2) }, o))
    local _, err = webhook.verify(body .. " ", { ["x-ghl-signature"] = crypto.base64_encode(sig2) }, o)
    assert.are.equal("bad_signature", err.reason)
  end)

  it("takes a 32-byte seed in base64 or hex, and refuses anything else", function()
    local seed = ("\7"):rep(32)
    local hex = seed:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    local a, pa = crypto.ed25519_sign(crypto.base64_encode(seed), "x")
    local b, pb = crypto.ed25519_sign(hex, "x")
    assert.are.equal(a, b)
    assert.are.equal(pa, pb)
    for _, bad in ipairs{ "", "nope", crypto.base64_encode(("\7"):rep(31)), signing.keys().ed_public,
                          sys.slurp(signing.keys().dir .. "/rsa.pem") } do
      local none, why = crypto.ed25519_sign(bad, "x")
      assert.is_nil(none)
      assert.is_string(why)
    end
    assert.are.equal("", crypto.base64_encode(""))
    assert.are.equal("YWJj", crypto.base64_encode("abc"))
    assert.are.equal("YWI=", crypto.base64_encode("ab"))
  end)

  it("ghl webhook key makes the pair once (mode 0600) and prints its public key; sign builds the event", function()
    local dir = h.private_dir()
    local path = dir .. "/test.key"
    local cli = require "ghl.cli"
    local function run(args, env)
      local out, err = {}, {}
      local function sink(t)
        return { write = function(self, ...)
                   for _, v in ipairs{ ... } do t[#t + 1] = v end
                   return self
                 end,
                 flush = function() end }
      end
      local code = cli.main(args, { stdout = sink(out), stderr = sink(err), stdout_tty = false, stderr_tty = false,
                                    getenv = function(k) return (env or {})[k] end })
      return code, table.concat(out), table.concat(err)
    end
    local code, pub, err = run{ "webhook", "key", path }
    assert.are.equal(0, code, err)
    assert.matches("made the key pair", err)
    assert.are.equal("600", sys.capture("stat -c %a " .. sys.q(path)):match("%d+"))
    local again
    code, again, err = run{ "webhook", "key", path }
    assert.are.equal(0, code)
    assert.are.equal(pub, again)
    assert.matches("the key pair in", err)

    local curl
    code, curl, err = run({ "webhook", "sign", "--key", path, "--url", "http://127.0.0.1:1/h", "id=C1", "n:=5",
                            "timestamp:=null" }, { GHL_LOCATION_ID = "LocX" })
    assert.are.equal(0, code, err)
    assert.is_truthy(err:find("trust this public key: " .. pub:gsub("\n", ""), 1, true), err)
    local body = curl:match("%-%-data%-binary '([^']*)'")
    local sig = curl:match("'x%-ghl%-signature: ([^']*)'")
    local ev = cjson.decode(body)
    assert.are.same({ "ContactCreate", "C1", 5, "LocX" }, { ev.type, ev.id, ev.n, ev.locationId })
    assert.is_nil(ev.timestamp)
    assert.matches("^test%-%x+$", ev.webhookId)
    assert.is_table(webhook.verify(body, { ["x-ghl-signature"] = sig }, { keys = { (pub:gsub("\n", "")) }, seen = false }))
    assert.matches("'http://127.0.0.1:1/h'\n$", curl)

    -- --body as it is; misuse is exit 2
    code, curl = run{ "webhook", "sign", "--key", path, "--body", '{"type":"X"}' }
    assert.are.equal(0, code)
    assert.is_truthy(curl:find([[--data-binary '{"type":"X"}' ']] .. cli_webhook.DEFAULT_URL, 1, true), curl)
    for _, args in ipairs{ { "webhook" }, { "webhook", "nope" }, { "webhook", "key" },
                           { "webhook", "sign", "--body", "{}", "a=b" }, { "webhook", "sign", "bare" },
                           { "webhook", "sign", "--key", dir .. "/none/x.key" } } do
      assert.are.equal(2, (run(args)), table.concat(args, " "))
    end
    sys.sh("rm -rf " .. sys.q(dir))
  end)
end)

describe("webhook.dispatch and install handlers", function()
  it("calls the handler of the event type, or *", function()
    local got
    assert.are.equal("c", webhook.dispatch({ type = "ContactCreate" }, { ContactCreate = function() return "c" end }))
    webhook.dispatch({ type = "Other" }, { ["*"] = function(e) got = e.type end })
    assert.are.equal("Other", got)
    local v, err = webhook.dispatch({ type = "Nope" }, {})
    assert.is_nil(v)
    assert.are.equal("unhandled", err.reason)
  end)

  describe("INSTALL through an OAuth app", function()
    local srv = h.server()
    setup(srv.start) teardown(srv.stop) before_each(srv.reset)

    it("mints a location token once, however often INSTALL is delivered; UNINSTALL forgets", function()
      local server = require "spec.support.server"
      local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                             user_type = "Company" }
      local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = server.COMPANY_ID }).code
      assert(app:exchange(code))
      local handlers = webhook.install_handlers(app)
      local install = { type = "INSTALL", companyId = server.COMPANY_ID, locationId = server.LOCATION_ID }
      assert(webhook.dispatch(install, handlers))
      assert(webhook.dispatch(install, handlers))
      assert.are.equal(1, h.admin(srv, "GET", "/_mock/oauth").location_token_calls)
      assert(app:client{ location_id = server.LOCATION_ID }.contacts:get("SeedC000000000000001"))
      assert(webhook.dispatch({ type = "UNINSTALL", locationId = server.LOCATION_ID }, handlers))
      assert.is_nil(app:session(server.LOCATION_ID))
    end)

    it("receive with app = app: INSTALL remembered and minted once, UNINSTALL forgets, redeliveries answered", function()
      local server = require "spec.support.server"
      local k = signing.keys()
      local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                             user_type = "Company" }
      assert(app:exchange(h.admin(srv, "POST", "/_mock/oauth/code",
        { userType = "Company", companyId = server.COMPANY_ID }).code))
      local store, seen = ghl.store.memory(), {}
      local function deliver(fields)
        local body = signing.event(fields)
        return webhook.receive(body, { ["x-ghl-signature"] = signing.ed25519(body) },
          function(e) seen[#seen + 1] = e.type return true end, { keys = { k.ed_public }, store = store, app = app })
      end
      local install = { type = "INSTALL", companyId = server.COMPANY_ID, locationId = server.LOCATION_ID,
                        installType = "Location", webhookId = "wh-install-1" }
      assert.are.equal(200, (deliver(install)))
      assert.are.equal(200, (deliver(install))) -- GHL's redelivery: answered, not done again
      assert.are.equal(1, h.admin(srv, "GET", "/_mock/oauth").location_token_calls)
      assert.are.same({ "INSTALL" }, seen)
      assert.are.equal("Location", app:installed(server.LOCATION_ID).installType)
      assert(app:client{ location_id = server.LOCATION_ID }.contacts:get("SeedC000000000000001"))
      assert.are.equal(200, (deliver{ type = "UNINSTALL", locationId = server.LOCATION_ID, companyId = false,
                                      webhookId = "wh-uninstall-1" }))
      assert.is_nil(app:session(server.LOCATION_ID))
      assert.is_nil(app:installed(server.LOCATION_ID))
      -- an install the app cannot mint for (no agency tokens for that company) is still remembered
      assert.are.equal(200, (deliver{ type = "INSTALL", companyId = "CompOther0000000001", locationId = "LocOther1",
                                      webhookId = "wh-install-2" }))
      assert.is_table(app:installed("LocOther1"))
    end)
  end)
end)

describe("plain-Lua receiver (examples/webhook_server.lua)", function()
  local k, port, pid_file
  setup(function()
    k = signing.keys()
    port = h.closed_port()
    local keyfile = signing.trusted_keys_file("trusted.pem")
    pid_file = k.dir .. "/server.pid"
    os.execute(("%s examples/webhook_server.lua %d '%s' >'%s/server.out' 2>&1 & echo $! > '%s'")
      :format(jit and "luajit" or "lua5.4", port, keyfile, k.dir, pid_file))
    local socket = require "socket"
    for _ = 1, 100 do
      local c = socket.tcp()
      if c:connect("127.0.0.1", port) then c:close() break end
      c:close()
      socket.sleep(0.05)
    end
  end)
  teardown(function()
    local f = io.open(pid_file)
    if f then os.execute("kill " .. f:read("*l") .. " 2>/dev/null") f:close() end
  end)

  local function post(body, headers)
    local http, ltn12 = require "socket.http", require "ltn12"
    local hd = { ["content-type"] = "application/json", ["content-length"] = #body }
    for name, v in pairs(headers) do hd[name] = v end
    local out = {}
    local _, code = http.request{ url = ("http://127.0.0.1:%d/webhooks/ghl"):format(port), method = "POST",
      source = ltn12.source.string(body), sink = ltn12.sink.table(out), headers = hd }
    return code, cjson.decode(table.concat(out))
  end

  it("answers 200 for a signed event, 401 for a bad one, 200 for a redelivery", function()
    local body = signing.event()
    local sig = signing.ed25519(body)
    local first, r1 = post(body, { ["x-ghl-signature"] = sig })
    assert.are.equal(200, first)
    assert.is_true(r1.handled)
    local code, r = post(body, { ["x-ghl-signature"] = sig })
    assert.are.equal(200, code)
    assert.is_true(r.duplicate)
    code, r = post(body:gsub("Contact", "Kontact"), { ["x-ghl-signature"] = sig })
    assert.are.equal(401, code)
    assert.are.equal("bad_signature", r.error)
    code, r = post(signing.event(), {})
    assert.are.equal(401, code)
    assert.are.equal("missing_signature", r.error)
  end)
end)
