-- Response interpretation of the C core and the error object: pure, no network.
local core = require "ghl.core"
local ghl = require "ghl"

local TOKEN = "pit-11111111-2222-4333-8444-555555555555"

describe("response interpretation", function()
  local c = core.client{ token = TOKEN, base_url = "https://example.test" }
  local req = c:prepare("GET", "/contacts/{contactId}", { path = { contactId = "abc" } })

  local function interpret(status, body, headers)
    return c:interpret(req, status, headers or {}, body)
  end

  it("decodes a 2xx JSON body and reports status, headers and traceId", function()
    local action, body, resp = interpret(200, '{"contact":{"id":"abc"},"traceId":"t-1"}', { ["x-a"] = "1" })
    assert.are.equal("done", action)
    assert.are.equal("abc", body.contact.id)
    assert.are.equal(200, resp.status)
    assert.are.equal("1", resp.headers["x-a"])
    assert.are.equal("t-1", resp.trace_id)
  end)

  it("gives an empty table for an empty 2xx body", function()
    local action, body, resp = interpret(204, "")
    assert.are.equal("done", action)
    assert.are.same({}, body)
    assert.are.equal(204, resp.status)
  end)

  it("reports a 2xx body that is not JSON as a decode error with its first bytes", function()
    local action, err = interpret(200, "<html><body>maintenance</body></html>")
    assert.are.equal("fail", action)
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
    assert.matches("<html><body>maintenance", err.message, 1, true)
    assert.are.equal("GET", err.method)
    assert.are.equal("/contacts/abc", err.path)
  end)

  it("maps statuses to kinds", function()
    local kinds = { [400] = "http", [401] = "auth", [403] = "auth", [404] = "http", [422] = "http",
                    [429] = "rate_limited", [500] = "http", [502] = "http" }
    for status, kind in pairs(kinds) do
      local action, err = interpret(status, '{"statusCode":' .. status .. ',"message":"m"}')
      assert.are.equal("fail", action)
      assert.are.equal(kind, err.kind, "status " .. status)
      assert.are.equal(status, err.status)
    end
  end)

  it("reads GHL's error body: message string, error and traceId", function()
    local _, err = interpret(401, '{"statusCode":401,"message":"Invalid JWT","traceId":"tr-9"}')
    assert.are.equal("Invalid JWT", err.message)
    assert.are.equal("tr-9", err.trace_id)
    assert.are.equal(401, err.body.statusCode)
  end)

  it("joins a message array (422)", function()
    local _, err = interpret(422,
      '{"statusCode":422,"message":["email must be an email","phone must be a string"],"error":"Unprocessable Entity"}')
    assert.are.equal("email must be an email; phone must be a string", err.message)
    assert.are.same({ "email must be an email", "phone must be a string" }, err.body.message)
  end)

  it("falls back to `error` when there is no message", function()
    local _, err = interpret(404, '{"statusCode":404,"error":"Not Found"}')
    assert.are.equal("Not Found", err.message)
  end)

  it("describes a non-JSON error page by status and first bytes", function()
    local _, err = interpret(502, "<html><head><title>502 Bad Gateway</title></head></html>")
    assert.are.equal("http", err.kind)
    assert.matches("HTTP 502", err.message)
    assert.matches("502 Bad Gateway", err.message, 1, true)
    assert.matches("<html>", err.body, 1, true)
  end)

  it("never puts the token in an error, even when the server echoes it", function()
    local _, err = interpret(400, '{"statusCode":400,"message":"bad token Bearer ' .. TOKEN .. '"}')
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
    assert.is_nil(err.message:find(TOKEN, 1, true))
    assert.matches("[REDACTED]", err.message, 1, true)
    local _, err2 = interpret(502, "proxy saw " .. TOKEN)
    assert.is_nil(err2.body:find(TOKEN, 1, true))
  end)

  it("turns a transport failure into a structured error", function()
    local action, err = c:interpret(req, nil, "timeout", "Operation timed out after 100 ms")
    assert.are.equal("fail", action)
    assert.are.equal("timeout", err.kind)
    assert.is_nil(err.status)
    assert.are.equal("Operation timed out after 100 ms", err.message)
    assert.are.equal("/contacts/abc", err.path)
  end)
end)

describe("error object", function()
  local c = core.client{ token = TOKEN, base_url = "https://example.test" }
  local req = c:prepare("GET", "/contacts/{contactId}", { path = { contactId = "abc" } })
  local _, err = c:interpret(req, 404, {}, '{"statusCode":404,"message":"Contact not found","traceId":"t1"}')

  it("prints kind, status, message, request and trace id", function()
    assert.are.equal("ghl: http 404: Contact not found (GET /contacts/abc) [trace_id t1]", tostring(err))
  end)

  it("concatenates on either side", function()
    assert.are.equal("failed: " .. tostring(err), "failed: " .. err)
    assert.are.equal(tostring(err) .. "!", err .. "!")
  end)

  it("is recognised by ghl.is_error", function()
    assert.is_true(ghl.is_error(err))
    assert.is_false(ghl.is_error({ kind = "http" }))
  end)

  it("can be raised and caught as itself", function()
    local ok, e = pcall(error, err)
    assert.is_false(ok)
    assert.are.equal(err, e)
  end)
end)
