-- The curl transport end to end: errors by kind, timeouts, keep-alive,
-- body caps, and no secret in any error.
local h = require "spec.support.helpers"
local socket = require "socket"

local function fault(name)
  return { headers = { ["X-Mock-Fault"] = name } }
end

describe("curl transport", function()
  local srv = h.server{ tls = true }
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  describe("errors", function()
    it("401 for an unknown token, without the token in the error", function()
      local token = "pit-00000000-dead-4bad-8bad-000000000000"
      local c = h.client(srv, { token = token })
      local v, err = c.contacts:get("abc")
      assert.is_nil(v)
      assert.are.equal("auth", err.kind)
      assert.are.equal(401, err.status)
      assert.are.equal("Invalid JWT", err.message)
      assert.are.equal("GET", err.method)
      assert.are.equal("/contacts/abc", err.path)
      local text = tostring(err) .. require("cjson").encode(err.body)
      assert.is_nil(text:find(token, 1, true))
      c:close()
    end)

    it("redacts the token when the server echoes it back", function()
      local c = h.client(srv)
      local v, err = c:request("GET", "/contacts/x", fault("echo_token"))
      assert.is_nil(v)
      assert.are.equal(400, err.status)
      local text = tostring(err) .. require("cjson").encode(err.body)
      assert.is_nil(text:find(srv.token, 1, true))
      assert.matches("[REDACTED]", err.message, 1, true)
      c:close()
    end)

    it("redacts the token in every spelling the server echoes it in (percent-encoded, JSON-escaped, mixed)", function()
      local c = h.client(srv)
      local v, err = c:request("GET", "/contacts/x", fault("echo_encoded"))
      assert.is_nil(v)
      assert.are.equal(400, err.status)
      local text = tostring(err) .. require("cjson").encode(err.body) .. tostring(err.body.received)
        .. tostring(err.body.mixed)
      h.assert_no_secret(text, srv.token, "the error")
      assert.matches("[REDACTED]", err.body.received, 1, true)
      assert.matches("[REDACTED]", err.body.mixed, 1, true)
      assert.matches("[REDACTED]", err.message, 1, true)
      c:close()
    end)

    it("400 when the Version header is missing", function()
      -- the server's own check; the client always sends one, so strip it with a raw transport
      local curl = require "ghl.curl"
      local t = curl.new{}
      local req = h.client(srv)._core:prepare("GET", "/contacts/x")
      req.headers.Version = nil
      local status, _, body = t:perform(req)
      assert.are.equal(400, status)
      assert.matches("Version", body)
      t:close()
    end)

    it("network error when nothing listens", function()
      local c = h.client(srv, { base_url = "http://127.0.0.1:" .. h.closed_port() })
      local v, err = c.contacts:get("abc")
      assert.is_nil(v)
      assert.are.equal("network", err.kind)
      assert.is_nil(err.status)
      assert.matches("onnect", err.message)
      assert.matches("^ghl: network: ", tostring(err))
      c:close()
    end)

    it("timeout against a server that never answers", function()
      local c = h.client(srv, { timeout_ms = 300 })
      local t0 = socket.gettime()
      local v, err = c:request("GET", "/contacts/x", fault("hang"))
      assert.is_nil(v)
      assert.are.equal("timeout", err.kind)
      assert.matches("timed out", err.message)
      assert.is_true(socket.gettime() - t0 < 5, "the call must end by the client's timeout")
      c:close()
    end)

    it("timeout against a socket that accepts but never reads", function()
      local listener = assert(socket.bind("127.0.0.1", 0))
      local _, port = listener:getsockname()
      local c = h.client(srv, { base_url = "http://127.0.0.1:" .. port, timeout_ms = 300 })
      local v, err = c.contacts:get("abc")
      assert.is_nil(v)
      assert.are.equal("timeout", err.kind)
      c:close()
      listener:close()
    end)

    it("decode error with the first bytes when a 200 is not JSON", function()
      local c = h.client(srv)
      local v, err = c:request("GET", "/contacts/x", fault("notjson"))
      assert.is_nil(v)
      assert.are.equal("decode", err.kind)
      assert.are.equal(200, err.status)
      assert.matches("<!DOCTYPE html>", err.message, 1, true)
      c:close()
    end)

    it("http error for an HTML 502 page", function()
      local c = h.client(srv)
      local v, err = c:request("GET", "/contacts/x", fault("html502"))
      assert.is_nil(v)
      assert.are.equal("http", err.kind)
      assert.are.equal(502, err.status)
      assert.matches("502 Bad Gateway", err.message, 1, true)
      c:close()
    end)

    it("too_large when a body passes max_body_bytes, and the connection recovers", function()
      local c = h.client(srv, { max_body_bytes = 64 * 1024 })
      local v, err = c:request("GET", "/contacts/x", fault("big=1000000"))
      assert.is_nil(v)
      assert.are.equal("too_large", err.kind)
      assert.matches("max_body_bytes", err.message)
      local ok = assert(c.contacts:create{ firstName = "After" })
      assert.is_string(ok.id)
      c:close()
    end)

    it("reads bodies under the cap whole", function()
      local c = h.client(srv)
      local v = assert(c:request("GET", "/contacts/x", fault("big=300000")))
      assert.are.equal(300000 - 10, #v.pad)
      c:close()
    end)
  end)

  describe("HTTP", function()
    it("accepts gzip and decodes it", function()
      local c = h.client(srv)
      local v, resp = assert(c:request("GET", "/contacts/x", fault("big=5000")))
      assert.are.equal(4990, #v.pad)
      assert.are.equal("gzip", resp.headers["content-encoding"])
      assert.matches("gzip", h.last_request(srv).headers["accept-encoding"])
      c:close()
    end)

    it("asks for compression once, and lets the caller's Accept-Encoding replace it", function()
      local c = h.client(srv)
      assert(c:request("GET", "/contacts/x", fault("big=100")))
      local sent = h.last_request(srv).headers
      assert.is_string(sent["accept-encoding"]) -- one line, not two
      assert.matches("gzip", sent["accept-encoding"])
      assert.is_nil(sent.expect)
      assert(c.contacts:create{ firstName = "Posted" })
      sent = h.last_request(srv).headers
      assert.is_string(sent["accept-encoding"])
      assert.is_nil(sent.expect)
      local v, resp = assert(c:request("GET", "/contacts/x", { headers = {
        ["X-Mock-Fault"] = "big=5000", ["Accept-Encoding"] = "identity" } }))
      assert.are.equal(4990, #v.pad)
      assert.are.equal("identity", h.last_request(srv).headers["accept-encoding"])
      assert.is_nil(resp.headers["content-encoding"])
      c:close()
    end)

    it("goes through the proxy option", function()
      -- the local server plays the proxy; the host name never resolves
      local c = h.client(srv, { base_url = "http://ghl-api.invalid", proxy = srv.url })
      local contact = assert(c.contacts:create{ firstName = "Proxied" })
      assert.is_string(contact.id)
      assert.are.equal("ghl-api.invalid", h.last_request(srv).headers.host)
      c:close()
    end)
  end)

  describe("keep-alive", function()
    it("runs many calls over one connection", function()
      local c = h.client(srv)
      local contact = assert(c.contacts:create{ firstName = "Keep" })
      local conns = {}
      for _ = 1, 50 do
        local _, resp = assert(c.contacts:get(contact.id))
        conns[resp.headers["x-mock-connection"]] = true
      end
      local n = 0
      for _ in pairs(conns) do n = n + 1 end
      assert.are.equal(1, n)
      assert.are.equal(1, c:transport_stats().connects)
      assert.are.equal(51, c:transport_stats().requests)
      c:close()
    end)

    it("keeps the connection across errors and methods", function()
      local c = h.client(srv)
      local contact = assert(c.contacts:create{ firstName = "Mixed" })
      assert.is_nil((c.contacts:get("missing")))
      assert(c.contacts:update(contact.id, { lastName = "M" }))
      assert.is_nil((c:request("GET", "/contacts/x", fault("status=500"))))
      assert(c.contacts:delete(contact.id))
      assert.are.equal(1, c:transport_stats().connects)
      local seen = {}
      for _, r in ipairs(h.requests(srv)) do seen[r.connection] = true end
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.are.equal(1, n)
      c:close()
    end)

    it("reconnects after the server dropped the connection", function()
      local c = h.client(srv)
      assert(c.contacts:create{ firstName = "Before" })
      srv.restart()
      local after = assert(c.contacts:create{ firstName = "After" })
      assert.are.equal("After", after.firstName)
      assert.are.equal(2, c:transport_stats().connects)
      c:close()
    end)
  end)

  describe("TLS", function()
    it("refuses a certificate it cannot verify", function()
      local c = h.client(srv, { base_url = srv.tls_url })
      local v, err = c.contacts:get("x")
      assert.is_nil(v)
      assert.are.equal("network", err.kind)
      assert.matches("certificate", err.message)
      c:close()
    end)

    it("accepts it when ca_file names its CA", function()
      local c = h.client(srv, { base_url = srv.tls_url, ca_file = srv.ca_file })
      local contact = assert(c.contacts:create{ firstName = "Tls" })
      assert(c.contacts:get(contact.id))
      assert.are.equal(1, c:transport_stats().connects)
      c:close()
    end)

    it("skips verification only when ssl_verify = false", function()
      local c = h.client(srv, { base_url = srv.tls_url, ssl_verify = false })
      assert(c.contacts:create{ firstName = "Unverified" })
      c:close()
    end)
  end)
end)
