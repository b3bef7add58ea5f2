-- The catalogue and client:call's lookup and parameter routing (no network:
-- a recording transport answers).
local ghl = require "ghl"
local h = require "spec.support.helpers"

local function recorder(answer)
  local t = { sent = {} }
  function t.perform(_, req)
    t.sent[#t.sent + 1] = req
    return 200, {}, answer or "{}"
  end
  return t
end

local function client(t, extra)
  local o = { token = "pit-x", location_id = "LOC", company_id = "COMP", transport = t }
  for k, v in pairs(extra or {}) do
    if v == false then v = nil end
    o[k] = v
  end
  return ghl.new(o)
end

local invalid = h.invalid

describe("operations", function()
  it("holds the 576 operations of the specs, keyed service.operationId", function()
    local ops = ghl.operations()
    local n = 0
    for key, e in pairs(ops) do
      n = n + 1
      assert.matches("^[%w-]+%..+$", key)
      assert.matches("^[A-Z]+$", e.m)
      assert.matches("^/", e.p)
    end
    assert.are.equal(576, n)
    assert.are.same({ m = "GET", p = "/contacts/{contactId}", v = "2021-07-28", t = "L", s = "contacts.readonly",
                      pp = { "contactId" }, r = { "contact" } }, ops["contacts.get-contact"])
  end)

  it("resolves the operation of every resource method (they are built on first call)", function()
    local resource = require "ghl.resource"
    local operations = require "ghl.operations"
    local n = 0
    for _, class in ipairs(resource.defined) do
      for mname, spec in pairs(class._specs) do
        local e = operations.resolve(spec.op, class._name .. ":" .. mname)
        assert.is_table(e, spec.op)
        n = n + 1
      end
    end
    assert.is_true(n > 100, "only " .. n .. " methods")
  end)

  it("reads the same keys from the catalogue's text as compiling it gives", function()
    local operations = require "ghl.operations"
    local from_text, compiled = {}, {}
    for _, key in ipairs(operations.keys()) do from_text[#from_text + 1] = key end
    for key in pairs(operations.all()) do compiled[#compiled + 1] = key end
    table.sort(compiled)
    assert.are.equal(576, #from_text)
    assert.are.same(compiled, from_text)
  end)

  it("builds a resource method once, even when the caller kept the first function", function()
    local operations = require "ghl.operations"
    local resolve, resolved = operations.resolve, 0
    operations.resolve = function(...)
      resolved = resolved + 1
      return resolve(...)
    end
    local t = recorder('{"contact":{"id":"c1"}}')
    local c = client(t)
    local get = c.contacts.get
    local ok, err = pcall(function()
      for _ = 1, 3 do assert.are.equal("c1", get(c.contacts, "c1").id) end
    end)
    operations.resolve = resolve
    assert(ok, err)
    assert.is_true(resolved <= 1, "built " .. resolved .. " times")
    assert.are.equal(3, #t.sent)
  end)

  it("compiles only the services it is asked for", function()
    -- (GC stopped in the probe: the memory counts only grow; no comments in it, it runs as one line)
    local probe = ("package.path = %q; package.cpath = %q\n"):format(package.path, package.cpath) .. [[
      local ghl = require "ghl"
      local c = ghl.new{ token = "pit-x", location_id = "loc", base_url = "http://127.0.0.1:9" }
      assert(c.contacts.get and c.calendars.get)
      collectgarbage("stop")
      local before = collectgarbage("count")
      require("ghl.operations").entry("contacts.get-contact")
      local one = collectgarbage("count") - before
      require("ghl.operations").all()
      local all = collectgarbage("count") - before
      print(one > 0 and one < all / 4 and "lazy" or ("eager " .. one .. " " .. all))
    ]]
    local interp = jit and "luajit" or "lua5.4"
    local f = assert(io.popen(("%s -e %q 2>&1"):format(interp, probe)))
    local out = f:read("a")
    f:close()
    assert.matches("^lazy", out)
  end)

  it("calls an operation with its method, path and Version", function()
    local t = recorder('{"contact":{"id":"c1"}}')
    local c = client(t)
    local body = assert(c:call("contacts.get-contact", { contactId = "c1" }))
    assert.are.equal("c1", body.contact.id)
    assert.are.equal("GET", t.sent[1].method)
    assert.are.equal("https://services.leadconnectorhq.com/contacts/c1", t.sent[1].url)
    assert.are.equal("2021-07-28", t.sent[1].headers.Version)
    c:call("calendars.get-calendar", { calendarId = "k" })
    assert.are.equal("2021-04-15", t.sent[2].headers.Version)
  end)

  it("accepts a bare operationId when it is unique", function()
    local t = recorder()
    client(t):call("get-contact", { contactId = "c1" })
    assert.are.equal("/contacts/c1", t.sent[1].path)
  end)

  it("refuses an ambiguous operationId, naming the candidates", function()
    local msg = invalid(client(recorder()).call, client(recorder()), "create-custom-field", {})
    assert.matches("custom%-fields%.create%-custom%-field", msg)
    assert.matches("locations%.create%-custom%-field", msg)
  end)

  it("suggests the closest names for an unknown one", function()
    local c = client(recorder())
    assert.matches("contacts%.get%-contact", invalid(c.call, c, "contacts.get-contcat", {}))
  end)

  it("routes flat params to path, query and body", function()
    local t = recorder()
    local c = client(t)
    c:call("contacts.update-contact", { contactId = "c 1", firstName = "Ada" })
    assert.are.equal("/contacts/c%201", t.sent[1].path)
    assert.are.equal('{"firstName":"Ada"}', t.sent[1].body)
    c:call("opportunities.search-opportunity", { status = "open", limit = 10 })
    assert.matches("location_id=LOC", t.sent[2].url)
    assert.matches("status=open", t.sent[2].url)
  end)

  it("fills locationId and companyId from the client where they are required", function()
    local t = recorder()
    local c = client(t)
    c:call("contacts.create-contact", { firstName = "A" })
    assert.matches('"locationId":"LOC"', t.sent[1].body)
    c:call("users.search-users", {})
    assert.matches("companyId=COMP", t.sent[2].url)
    c:call("locations.get-location-tags")
    assert.are.equal("/locations/LOC/tags", t.sent[3].path)
  end)

  it("checks required parameters before sending anything", function()
    local t = recorder()
    local c = client(t, { location_id = false })
    assert.matches("needs the path parameter 'contactId'", invalid(c.call, c, "contacts.get-contact", {}))
    assert.matches("needs the query parameter 'locationId'", invalid(c.call, c, "workflows.get-workflow", {}))
    assert.matches("needs the body parameter 'tags'", invalid(c.call, c, "contacts.add-tags", { contactId = "x" }))
    assert.matches("has no parameter 'bogus'", invalid(c.call, c, "contacts.get-contact", { contactId = "x", bogus = 1 }))
    assert.matches("must be a string or a number",
      invalid(c.call, c, "contacts.get-contact", { contactId = { "x" } }))
    assert.are.same({}, t.sent)
  end)

  it("keeps ids with / ? # and .. in their segment", function()
    local t = recorder()
    local c = client(t)
    for _, id in ipairs{ "a/b", "x?y", "z#w" } do c:call("contacts.get-contact", { contactId = id }) end
    assert.are.same({ "/contacts/a%2Fb", "/contacts/x%3Fy", "/contacts/z%23w" },
      { t.sent[1].path, t.sent[2].path, t.sent[3].path })
    assert.matches("dot segment", invalid(c.call, c, "contacts.get-contact", { contactId = ".." }))
  end)

  it("sends form-encoded bodies where the spec says so", function()
    local t = recorder()
    -- (an agency OAuth access token: a PIT is refused there, unsent)
    client(t, { token = "eyJhbGciOiJIUzI1NiJ9.e30.x" }):call("oauth.get-location-access-token",
      { companyId = "C", locationId = "L" })
    assert.are.equal("application/x-www-form-urlencoded", t.sent[1].headers["Content-Type"])
    assert.are.equal("companyId=C&locationId=L", t.sent[1].body)
  end)

  it("refuses each_of for an operation without a paging style", function()
    local c = client(recorder())
    assert.matches("no known paging style", invalid(c.each_of, c, "contacts.get-contact", { contactId = "x" }))
  end)
end)
