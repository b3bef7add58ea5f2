-- client.contacts end to end against the local GHL server.
local h = require "spec.support.helpers"
local ghl = require "ghl"

describe("contacts", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client

  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  it("creates, reads, updates and deletes a contact", function()
    local c, resp = client.contacts:create{ firstName = "Ada", lastName = "Lovelace", email = "ada@example.com" }
    assert.is_table(c, tostring(resp))
    assert.are.equal(201, resp.status)
    assert.is_string(c.id)
    assert.are.equal("Ada", c.firstName)
    assert.are.equal(srv.location_id, c.locationId)

    local got = assert(client.contacts:get(c.id))
    assert.are.equal(c.id, got.id)
    assert.are.equal("ada@example.com", got.email)

    local upd = assert(client.contacts:update(c.id, { tags = { "vip" }, phone = "+15555550100" }))
    assert.are.same({ "vip" }, upd.tags)
    assert.are.equal("+15555550100", upd.phone)
    assert.are.equal("Ada", upd.firstName)

    local ok, dresp = client.contacts:delete(c.id)
    assert.is_true(ok)
    assert.is_true(dresp.body.succeded)

    local gone, err = client.contacts:get(c.id)
    assert.is_nil(gone)
    assert.are.equal("http", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("Contact not found", err.message)
    assert.are.equal("/contacts/" .. c.id, err.path)
    assert.is_string(err.trace_id)
  end)

  it("upserts: creates first, then updates the same contact", function()
    local a, r1 = assert(client.contacts:upsert{ email = "grace@example.com", firstName = "Grace" })
    assert.is_true(r1.body.new)
    local b, r2 = assert(client.contacts:upsert{ email = "grace@example.com", lastName = "Hopper" })
    assert.is_false(r2.body.new)
    assert.are.equal(a.id, b.id)
    assert.are.equal("Hopper", b.lastName)
  end)

  it("sends the spec's paths, Version and our User-Agent", function()
    local c = assert(client.contacts:create{ firstName = "Paths" })
    assert(client.contacts:get(c.id))
    assert(client.contacts:update(c.id, { firstName = "P" }))
    assert(client.contacts:upsert{ firstName = "U", email = "u@example.com" })
    assert(client.contacts:delete(c.id))
    local seen = {}
    for _, r in ipairs(h.requests(srv)) do
      seen[#seen + 1] = r.method .. " " .. r.path
      assert.are.equal("2021-07-28", r.headers.version)
      assert.are.equal("ghl-lua/" .. ghl.VERSION, r.headers["user-agent"])
      assert.are.equal("(present)", r.headers.authorization)
      assert.are.equal("application/json", r.headers.accept)
    end
    assert.are.same({
      "POST /contacts/", "GET /contacts/" .. c.id, "PUT /contacts/" .. c.id, "POST /contacts/upsert",
      "DELETE /contacts/" .. c.id,
    }, seen)
  end)

  it("fills locationId from the client without changing the caller's table", function()
    local fields = { firstName = "Loc" }
    local c = assert(client.contacts:create(fields))
    assert.is_nil(fields.locationId)
    assert.are.equal(srv.location_id, c.locationId)
    local sent = require("cjson").decode(h.last_request(srv).body)
    assert.are.equal(srv.location_id, sent.locationId)
  end)

  it("returns GHL's 422 with the message array joined", function()
    local c, err = client.contacts:create{ firstName = "Bad", email = "not-an-email" }
    assert.is_nil(c)
    assert.are.equal("http", err.kind)
    assert.are.equal(422, err.status)
    assert.are.equal("email must be an email", err.message)
    assert.are.same({ "email must be an email" }, err.body.message)
  end)

  it("returns GHL's duplicate-contact 400 with its meta", function()
    local first = assert(client.contacts:create{ email = "dup@example.com" })
    local c, err = client.contacts:create{ email = "dup@example.com" }
    assert.is_nil(c)
    assert.are.equal(400, err.status)
    assert.matches("does not allow duplicated contacts", err.message)
    assert.are.equal(first.id, err.body.meta.contactId)
  end)

  it("reports a contact of another location as an auth error", function()
    local mine = assert(client.contacts:create{ firstName = "Mine" })
    local other = h.client(srv, { token = srv.OTHER_TOKEN, location_id = srv.OTHER_LOCATION_ID })
    local c, err = other.contacts:get(mine.id)
    assert.is_nil(c)
    assert.are.equal("auth", err.kind)
    assert.are.equal(403, err.status)
    other:close()
  end)

  it("keeps ids with '/', '?', '#' and '..' inside their segment", function()
    for _, id in ipairs{ "a/b", "x?y=1", "frag#1", "../contacts" } do
      local c, err = client.contacts:get(id)
      assert.is_nil(c)
      assert.are.equal(404, err.status, id)
      assert.are.equal("Contact not found", err.message, id)
    end
    -- "." and "..": refused, since a normalising proxy would take them as dot segments
    for _, id in ipairs{ ".", ".." } do
      assert.matches("dot segment", h.invalid(client.contacts.get, client.contacts, id))
      assert.matches("dot segment", h.invalid(client.contacts.delete_note, client.contacts, "C1", id))
    end
    local paths = {}
    for _, r in ipairs(h.requests(srv)) do paths[#paths + 1] = r.path end
    assert.are.same({ "/contacts/a%2Fb", "/contacts/x%3Fy%3D1", "/contacts/frag%231", "/contacts/..%2Fcontacts" }, paths)
  end)

  describe("bad input raises at the call", function()
    local invalid = h.invalid

    it("names the argument", function()
      local cs = client.contacts
      assert.matches("contacts:get: contactId must be a non%-empty string, got nil", invalid(cs.get, cs))
      assert.matches('contacts:get: contactId must be a non%-empty string, got string ""', invalid(cs.get, cs, ""))
      assert.matches("contacts:get: contactId must be a non%-empty string, got number", invalid(cs.get, cs, 12))
      assert.matches('contacts:create: fields must be a table, got string "Ada"', invalid(cs.create, cs, "Ada"))
      assert.matches("contacts:update: fields must be a table, got nil", invalid(cs.update, cs, "id"))
      assert.matches("contacts:update: contactId must be", invalid(cs.update, cs, nil, {}))
      assert.matches("contacts:delete: contactId must be", invalid(cs.delete, cs, false))
      assert.matches("contacts:upsert: fields must be a table", invalid(cs.upsert, cs, 1))
      assert.matches("call it with a colon", invalid(cs.get, "abc"))
    end)

    it("needs a locationId to create", function()
      local c = h.client(srv, { location_id = false })
      assert.matches("needs the body parameter 'locationId' %(or give location_id to ghl.new%)", invalid(c.contacts.create, c.contacts, { firstName = "x" }))
      c:close()
    end)

    it("sends nothing when the arguments are wrong", function()
      pcall(client.contacts.get, client.contacts, "")
      pcall(client.contacts.create, client.contacts, "x")
      assert.are.same({}, h.requests(srv))
    end)
  end)
end)
