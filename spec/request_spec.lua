-- The request builder of the C core: pure, no network.
local core = require "ghl.core"
local h = require "spec.support.helpers"

local TOKEN = "pit-11111111-2222-4333-8444-555555555555"

local function client(extra)
  local o = { token = TOKEN, base_url = "https://example.test" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return core.client(o)
end

local invalid = h.invalid

describe("request builder", function()
  local c = client()

  describe("URL", function()
    it("joins the base URL and the path", function()
      assert.are.equal("https://example.test/contacts/", c:prepare("POST", "/contacts/").url)
    end)

    it("drops trailing slashes of the base URL and keeps a path prefix", function()
      local c2 = client{ base_url = "http://127.0.0.1:9/ghl/" }
      assert.are.equal("http://127.0.0.1:9/ghl/contacts/x", c2:prepare("GET", "/contacts/x").url)
    end)

    it("fills {name} segments and percent-encodes them", function()
      local req = c:prepare("GET", "/contacts/{contactId}/notes/{id}",
        { path = { contactId = "a/b?c#d", id = "ü é" } })
      assert.are.equal("https://example.test/contacts/a%2Fb%3Fc%23d/notes/%C3%BC%20%C3%A9", req.url)
      assert.are.equal("/contacts/a%2Fb%3Fc%23d/notes/%C3%BC%20%C3%A9", req.path)
    end)

    it("refuses '.' and '..' (dot segments even percent-encoded, RFC 3986 6.2.2.2)", function()
      assert.matches("must not be \"..\"", invalid(c.prepare, c, "GET", "/contacts/{id}", { path = { id = ".." } }))
      assert.matches("must not be \".\"", invalid(c.prepare, c, "GET", "/contacts/{id}", { path = { id = "." } }))
      assert.are.equal("/contacts/..a", c:prepare("GET", "/contacts/{id}", { path = { id = "..a" } }).path)
      assert.are.equal("/contacts/...", c:prepare("GET", "/contacts/{id}", { path = { id = "..." } }).path)
    end)

    it("accepts numbers as path parameters", function()
      assert.are.equal("/x/42", c:prepare("GET", "/x/{n}", { path = { n = 42 } }).path)
    end)

    it("refuses a missing, empty or unused path parameter", function()
      assert.matches("path parameter 'contactId' is required",
        invalid(c.prepare, c, "GET", "/contacts/{contactId}"))
      assert.matches("path parameter 'contactId' is required",
        invalid(c.prepare, c, "GET", "/contacts/{contactId}", { path = {} }))
      assert.matches("must not be empty",
        invalid(c.prepare, c, "GET", "/contacts/{contactId}", { path = { contactId = "" } }))
      assert.matches("'id' is not in",
        invalid(c.prepare, c, "GET", "/contacts/{contactId}", { path = { contactId = "a", id = "b" } }))
      assert.matches("must be a string or a number",
        invalid(c.prepare, c, "GET", "/contacts/{contactId}", { path = { contactId = {} } }))
    end)

    it("refuses malformed templates", function()
      assert.matches("must start with '/'", invalid(c.prepare, c, "GET", "contacts"))
      assert.matches("must start with '/'", invalid(c.prepare, c, "GET", "https://evil.test/x"))
      assert.matches("not allowed", invalid(c.prepare, c, "GET", "/contacts?x=1"))
      assert.matches("not allowed", invalid(c.prepare, c, "GET", "/contacts/a b"))
      assert.matches("empty segment", invalid(c.prepare, c, "GET", "//evil.test/x"))
      assert.matches("dot segment", invalid(c.prepare, c, "GET", "/contacts/../users"))
      assert.matches("unclosed", invalid(c.prepare, c, "GET", "/contacts/{id"))
      assert.matches("without '{'", invalid(c.prepare, c, "GET", "/contacts/id}"))
    end)
  end)

  describe("query string", function()
    local function url(query) return c:prepare("GET", "/q", { query = query }).url end

    it("sorts keys and encodes values", function()
      assert.are.equal("https://example.test/q?a=1&b=x%20y%26z&c=%C3%A9", url{ c = "é", b = "x y&z", a = 1 })
    end)

    it("writes booleans as true/false and whole numbers without a fraction", function()
      assert.are.equal("https://example.test/q?f=false&l=100&t=true&x=1.5", url{ t = true, f = false, l = 100.0, x = 1.5 })
    end)

    it("repeats the key for arrays and drops empty arrays", function()
      assert.are.equal("https://example.test/q?id=a&id=b%2Fc&n=1", url{ id = { "a", "b/c" }, e = {}, n = 1 })
    end)

    it("encodes key characters too", function()
      assert.are.equal("https://example.test/q?contactId%5B%5D=a", url{ ["contactId[]"] = "a" })
    end)

    it("leaves no '?' for an empty query", function()
      assert.are.equal("https://example.test/q", url{})
    end)

    it("refuses nested tables, functions and non-finite numbers", function()
      assert.matches("query parameter 'x'", invalid(c.prepare, c, "GET", "/q", { query = { x = { a = 1 } } }))
      assert.matches("query parameter 'x'", invalid(c.prepare, c, "GET", "/q", { query = { x = print } }))
      assert.matches("non%-finite", invalid(c.prepare, c, "GET", "/q", { query = { x = 0 / 0 } }))
      assert.matches("query parameter 'x'", invalid(c.prepare, c, "GET", "/q", { query = { x = { { 1 } } } }))
      assert.matches("keys must be strings", invalid(c.prepare, c, "GET", "/q", { query = { 1, 2 } }))
    end)

    it("is available on its own as core.encode_query", function()
      assert.are.equal("a=1&b=true", core.encode_query{ b = true, a = 1 })
      assert.are.equal("%20%2F", core.percent_encode(" /"))
    end)
  end)

  describe("headers", function()
    it("sends Authorization, Version, Accept and User-Agent", function()
      local hd = c:prepare("GET", "/x").headers
      assert.are.equal("Bearer " .. TOKEN, hd.Authorization)
      assert.are.equal("2021-07-28", hd.Version)
      assert.are.equal("application/json", hd.Accept)
      assert.are.equal("ghl-lua/" .. core.VERSION, hd["User-Agent"])
      assert.is_nil(hd["Content-Type"])
    end)

    it("takes the Version from the client, then from the call", function()
      local c2 = client{ version = "2021-04-15" }
      assert.are.equal("2021-04-15", c2:prepare("GET", "/x").headers.Version)
      assert.are.equal("2023-02-21", c2:prepare("GET", "/x", { version = "2023-02-21" }).headers.Version)
    end)

    it("merges caller headers, with one spelling of the managed ones", function()
      local hd = c:prepare("GET", "/x", { headers = { ["X-Trace"] = "t1", version = "2021-04-15" } }).headers
      assert.are.equal("t1", hd["X-Trace"])
      assert.are.equal("2021-04-15", hd.Version)
      assert.is_nil(hd.version)
    end)

    it("refuses CR/LF in values and bad names", function()
      assert.matches("control character",
        invalid(c.prepare, c, "GET", "/x", { headers = { ["X-A"] = "a\r\nInjected: 1" } }))
      assert.matches("not a valid HTTP token",
        invalid(c.prepare, c, "GET", "/x", { headers = { ["X A"] = "1" } }))
      assert.matches("set by ghl",
        invalid(c.prepare, c, "GET", "/x", { headers = { authorization = "Bearer other" } }))
      assert.matches("opts.version", invalid(c.prepare, c, "GET", "/x", { version = "2021\n" }))
    end)

    it("refuses a token that could break the header", function()
      local err = h.raised(core.client, { token = "abc\r\nX: y" })
      assert.are.equal("invalid_argument", err.kind)
      assert.matches("control character", err.message)
    end)
  end)

  describe("body", function()
    it("encodes a table as JSON with a Content-Type", function()
      local req = c:prepare("POST", "/contacts/", { body = { firstName = "Ada", tags = { "a", "b" } } })
      assert.are.equal("application/json", req.headers["Content-Type"])
      local cjson = require "cjson"
      assert.are.same({ firstName = "Ada", tags = { "a", "b" } }, cjson.decode(req.body))
    end)

    it("keeps JSON null", function()
      local req = c:prepare("PUT", "/x", { body = { email = core.null } })
      assert.are.equal('{"email":null}', req.body)
    end)

    it("refuses a body that is not a table or cannot be JSON", function()
      assert.matches("opts.body must be a table", invalid(c.prepare, c, "POST", "/x", { body = "{}" }))
      assert.matches("body.f is a function, which JSON cannot carry",
        invalid(c.prepare, c, "POST", "/x", { body = { f = print } }))
    end)
  end)

  describe("misuse", function()
    it("names a bad method, path or option", function()
      assert.matches("method must be", invalid(c.prepare, c, "FETCH", "/x"))
      assert.matches("method must be a string", invalid(c.prepare, c, nil, "/x"))
      assert.matches("path must be a string", invalid(c.prepare, c, "GET", 12))
      assert.matches("unknown request option 'bogus'", invalid(c.prepare, c, "GET", "/x", { bogus = 1 }))
      assert.matches("options must be a table", invalid(c.prepare, c, "GET", "/x", "opts"))
      assert.matches("opts.query must be a table", invalid(c.prepare, c, "GET", "/x", { query = "a=1" }))
    end)

    it("accepts lower-case methods", function()
      assert.are.equal("DELETE", c:prepare("delete", "/x").method)
    end)
  end)
end)
