-- ghl.new options and the client's life cycle.
local ghl = require "ghl"
local h = require "spec.support.helpers"

local function invalid(opts) return h.invalid(ghl.new, opts) end

describe("ghl.new", function()
  it("has a version", function()
    assert.matches("^%d+%.%d+%.%d+$", ghl.VERSION)
  end)

  it("accepts every documented option", function()
    local c = ghl.new{
      token = "pit-x", location_id = "loc", base_url = "http://127.0.0.1:1", version = "2021-04-15",
      timeout_ms = 1000, connect_timeout_ms = 500, max_retries = 0, ca_file = "/etc/hosts",
      proxy = "http://127.0.0.1:3", ssl_verify = false, max_body_bytes = 1024, transport = "curl",
    }
    assert.are.equal("loc", c.location_id)
    c:close()
  end)

  it("refuses unknown options, naming them", function()
    assert.matches("unknown option 'tokne'", invalid{ token = "x", tokne = "y" })
  end)

  it("needs a token", function()
    assert.matches("'token' is required", invalid{ location_id = "x" })
  end)

  it("checks option types and values", function()
    assert.matches("'token' must be a non%-empty string", invalid{ token = 12 })
    assert.matches("'token' must be a non%-empty string", invalid{ token = "" })
    assert.matches("'timeout_ms' must be a number of milliseconds from 1", invalid{ token = "x", timeout_ms = -1 })
    assert.matches("'timeout_ms' must be a number of milliseconds from 1", invalid{ token = "x", timeout_ms = "5" })
    assert.matches("'max_retries' must be a whole number", invalid{ token = "x", max_retries = 1.5 })
    assert.matches("'ssl_verify' must be true or false", invalid{ token = "x", ssl_verify = "no" })
    assert.matches("'ca_file' cannot be read", invalid{ token = "x", ca_file = "/nonexistent/ca.pem" })
    assert.matches("'transport' must be", invalid{ token = "x", transport = "carrier-pigeon" })
    assert.matches("options table", invalid("token"))
  end)

  it("checks the base URL", function()
    assert.matches("must start with https://", invalid{ token = "x", base_url = "ftp://x" })
    assert.matches("has no host", invalid{ token = "x", base_url = "https://" })
    assert.matches("must not contain", invalid{ token = "x", base_url = "https://a.test/?x=1" })
  end)

  it("never shows the token when printed", function()
    local token = "pit-secret-value-123456"
    local c = ghl.new{ token = token }
    assert.is_nil(tostring(c):find(token, 1, true))
    assert.is_nil(tostring(c._core):find(token, 1, true))
    for k, v in pairs(c) do
      assert.is_false(type(v) == "string" and v:find(token, 1, true) ~= nil, k)
    end
    assert.is_nil(c._core:config().token)
    c:close()
  end)

  it("accepts a transport object with perform(req)", function()
    local seen
    local c = ghl.new{ token = "pit-x", transport = {
      perform = function(_, req)
        seen = req
        return 200, {}, '{"contact":{"id":"c1"}}'
      end,
    } }
    local contact = assert(c.contacts:get("c1"))
    assert.are.equal("c1", contact.id)
    assert.are.equal("https://services.leadconnectorhq.com/contacts/c1", seen.url)
    assert.are.equal("Bearer pit-x", seen.headers.Authorization)
  end)
end)

describe("client life cycle", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("fails cleanly after close, and close is idempotent", function()
    local c = h.client(srv)
    local contact = assert(c.contacts:create{ firstName = "Closing" })
    c:close()
    c:close()
    local v, err = c.contacts:get(contact.id)
    assert.is_nil(v)
    assert.are.equal("closed", err.kind)
    assert.matches("client is closed", tostring(err))
    local v2, err2 = c:request("GET", "/contacts/{contactId}", { path = { contactId = contact.id } })
    assert.is_nil(v2)
    assert.are.equal("closed", err2.kind)
    assert.matches("closed", tostring(c))
  end)

  it("is collected without close", function()
    for _ = 1, 20 do
      local c = h.client(srv)
      assert(c.contacts:create{ firstName = "Garbage" })
    end
    collectgarbage()
    collectgarbage()
  end)

  if _VERSION == "Lua 5.4" and not jit then
    it("closes at the end of a <close> scope", function()
      local chunk = assert(load([[
        local h, srv = ...
        local kept
        do
          local c <close> = h.client(srv)
          assert(c.contacts:create{ firstName = "Scoped" })
          kept = c
        end
        return kept
      ]]))
      local c = chunk(h, srv)
      local _, err = c.contacts:get("x")
      assert.are.equal("closed", err.kind)
    end)
  end
end)
