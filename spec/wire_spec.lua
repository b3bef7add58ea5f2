-- What goes on the wire, byte for byte as the local server received it:
-- bodies typed from the operation's schema (an empty table is [] where the
-- schema has an array), exact integers, comma-joined explode:false query
-- parameters, and no misspelt name sent or dropped in silence.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local resource = require "ghl.resource"
local operations = require "ghl.operations"

local C1 = "SeedC000000000000001"

describe("the wire", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  local function sent() return h.last_request(srv) end

  it("clears a contact's tags with [] (the schema says array), not {}", function()
    assert(client.contacts:update(C1, { tags = {} }))
    assert.matches('"tags":[]', sent().body, 1, true)
    -- and a contact created with no tags and an empty custom-field list
    assert(client.contacts:create{ firstName = "Empty", tags = {}, customFields = {} })
    assert.matches('"customFields":[]', sent().body, 1, true)
    assert.matches('"tags":[]', sent().body, 1, true)
  end)

  it("sends searchAfter [] next to additionalDetails {} in the advanced opportunity search", function()
    assert(client:call("opportunities.search-opportunities-advanced",
      { query = "", limit = 10, page = 1, searchAfter = {}, additionalDetails = {} }))
    local body = sent().body
    assert.matches('"searchAfter":[]', body, 1, true)
    assert.matches('"additionalDetails":{}', body, 1, true)
  end)

  it("honours ghl.array() and ghl.object() in client:request, which has no schema", function()
    client:request("POST", "/contacts/", { body = { locationId = srv.location_id, firstName = "Marks",
      tags = ghl.array(), customFields = ghl.object(), plain = {}, list = ghl.array{ "a" } } })
    local body = sent().body
    assert.matches('"tags":[]', body, 1, true)
    assert.matches('"customFields":{}', body, 1, true)
    assert.matches('"plain":{}', body, 1, true) -- no schema, no mark: an object (documented)
    assert.matches('"list":["a"]', body, 1, true)
    -- a mark wins over the schema
    assert(client.contacts:update(C1, { tags = ghl.object() }) or true)
    assert.matches('"tags":{}', sent().body, 1, true)
  end)

  it("sends integers exactly: 123456789012345 and 9007199254740991", function()
    client:request("POST", "/contacts/", { body = { locationId = srv.location_id, a = 123456789012345,
                                                    b = 9007199254740991, c = 0.1, d = -2.5e-8 } })
    local body = sent().body
    assert.matches('"a":123456789012345', body, 1, true)
    assert.matches('"b":9007199254740991', body, 1, true)
    assert.matches('"c":0.1', body, 1, true)
    assert.matches('"d":-2.5e-08', body, 1, true)
  end)

  it("joins explode:false query arrays with commas: fields=impressions,clicks", function()
    client:call("ad-manager.fb-get-reporting", { startDate = "2026-01-01", endDate = "2026-01-31",
      fields = { "impressions", "clicks" }, groupBy = "day", type = "campaign" })
    assert.matches("fields=impressions,clicks", sent().uri, 1, true)
    -- the default (form, exploded) repeats the key
    client:call("contacts.get-contacts", { query = { "a", "b" } })
    assert.matches("query=a&query=b", sent().uri, 1, true)
  end)

  it("names the path of a body value JSON cannot carry, before anything is sent", function()
    local bad = { customFields = { { id = "x", value = 1 }, { id = "y", value = 0 / 0 } } }
    local msg = h.invalid(client.contacts.update, client.contacts, C1, bad)
    assert.matches("body.customFields%[2%].value is NaN", msg)
    local settings = {}
    settings.loop = settings
    local msg2 = h.invalid(client.contacts.create, client.contacts, { firstName = "Loop", dndSettings = settings })
    assert.matches("^body%.dndSettings%.loop[%.%w]* contains itself %(a cycle%)", msg2)
    assert.matches("body.tags is a sparse array",
      h.invalid(client.contacts.update, client.contacts, C1, { tags = { [1] = "a", [3] = "c" } }))
    assert.matches('not valid UTF%-8', h.invalid(client.contacts.update, client.contacts, C1, { city = "\255" }))
    assert.are.same({}, h.requests(srv))
  end)

  it("refuses dot segments, a bad method and an over-long URL before sending (never retried)", function()
    assert.matches("dot segment", h.invalid(client.contacts.delete_note, client.contacts, C1, ".."))
    assert.matches("dot segment", h.invalid(client.contacts.remove_tags, client.contacts, "..", { "x" }))
    assert.matches("method must be", h.invalid(client.request, client, "get\0", "/contacts/x"))
    assert.matches("method must be", h.invalid(client.request, client, "GET ", "/contacts/x"))
    local long = ("x"):rep(3 * 1024 * 1024)
    assert.matches("over the 16384", h.invalid(client.request, client, "GET", "/contacts/", { query = { q = long } }))
    assert.are.same({}, h.requests(srv))
  end)

  it("lets a field the spec does not list through with ghl.unchecked", function()
    assert.matches("did you mean firstName", h.invalid(client.contacts.create, client.contacts, { firstname = "A" }))
    -- sent as asked (the local server, strict like GHL, then refuses the field: its answer)
    local _, err = client.contacts:create(ghl.unchecked{ firstName = "Beta", betaField = 1 })
    assert.matches('"betaField":1', sent().body, 1, true)
    assert.matches("betaField should not exist", err.message)
    client:call("contacts.create-contact", ghl.unchecked{ firstName = "Beta2", betaField = 2 })
    assert.matches('"betaField":2', sent().body, 1, true)
  end)
end)

describe("no misspelt parameter reaches GHL", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  -- a plausible typo of a real name: lower case (firstName -> firstname),
  -- or camel case for snake (pipeline_id -> pipelineId), or a letter off
  local function typo(name)
    if name:find("_") then
      return (name:gsub("_(%l)", function(c) return c:upper() end))
    end
    if name:lower() ~= name then return name:lower() end
    return name .. "s"
  end

  it("every resource method and iterator refuses one, suggests the right name, and sends nothing", function()
    local client = h.client(srv, { company_id = "CompMock000000000001" })
    local tried = 0
    for _, class in ipairs(resource.defined) do
      for mname, spec in pairs(class._specs) do
        local e = operations.resolve(spec.op, mname)
        local names = spec.body and e.bf or (spec.query and e.q) or nil
        if names and #names > 0 then
          local real = names[1]
          local wrong = typo(real)
          local obj = class.new(client)
          local args = {}
          for i = 1, #(spec.args or {}) do args[i] = "X" .. i end
          args[#args + 1] = { [wrong] = "v" }
          local where = class._name .. ":" .. mname
          local unpack_ = table.unpack or unpack -- luacheck: ignore 113 (LuaJIT)
          local ok, err = pcall(function()
            local r = obj[mname](obj, unpack_(args))
            if type(r) == "function" then r() end -- an iterator: its first page
          end)
          assert.is_false(ok, where .. " accepted " .. wrong)
          assert.are.equal("invalid_argument", err.kind, where .. ": " .. tostring(err))
          assert.matches(("'%s'"):format(wrong:gsub("%p", "%%%0")), err.message, 1, false)
          assert.matches(real, err.message, 1, true)
          tried = tried + 1
        end
      end
    end
    assert.is_true(tried >= 40, "methods tried: " .. tried)
    assert.are.same({}, h.requests(srv))
    client:close()
  end)

  it("each_of, batch entries and call refuse one too", function()
    local client = h.client(srv)
    assert.matches("did you mean pipeline_id",
      h.invalid(client.each_of, client, "opportunities.search-opportunity", { pipelineId = "P" }))
    assert.matches("did you mean pipeline_id", h.invalid(function()
      for _ in client.opportunities:each{ pipelineId = "P" } do end
    end))
    assert.matches("did you mean firstName",
      h.invalid(client.batch, client, { { op = "contacts.create-contact", params = { firstname = "A" } } }))
    assert.matches("did you mean firstName", h.invalid(client.call, client, "contacts.create-contact", { firstname = "A" }))
    assert.are.same({}, h.requests(srv))
    client:close()
  end)
end)
