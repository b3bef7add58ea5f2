--- client.contacts: contacts of a location (spec: apps/contacts.json).
local check = require "ghl.check"
local errors = require "ghl.errors"
local unwrap = require "ghl.unwrap"

local Contacts = {}
Contacts.__index = Contacts

-- every operation of apps/contacts.json declares Version 2021-07-28
local VERSION = "2021-07-28"

function Contacts.new(client)
  return setmetatable({ client = client }, Contacts)
end

-- A copy of `fields` with locationId filled from the client when absent;
-- the caller's table is never changed.
local function with_location(self, fields, where)
  local body = {}
  for k, v in pairs(fields) do body[k] = v end
  if body.locationId == nil then body.locationId = self.client.location_id end
  if body.locationId == nil then
    errors.invalid("%s: fields.locationId is required (or give location_id to ghl.new)", where)
  end
  return body
end

local function call(self, method, path, opts, field)
  opts.version = VERSION
  local body, resp = self.client:request(method, path, opts)
  return unwrap(body, resp, field)
end

--- Get a contact by id. @return contact, resp | nil, err
function Contacts:get(id)
  check.self(self, Contacts, "contacts:get")
  check.id(id, "contacts:get", "id")
  return call(self, "GET", "/contacts/{contactId}", { path = { contactId = id } }, "contact")
end

--- Create a contact. `locationId` defaults to the client's.
-- @return contact, resp | nil, err
function Contacts:create(fields)
  check.self(self, Contacts, "contacts:create")
  check.table(fields, "contacts:create", "fields")
  return call(self, "POST", "/contacts/", { body = with_location(self, fields, "contacts:create") }, "contact")
end

--- Update a contact; only the given fields change.
-- @return contact, resp | nil, err
function Contacts:update(id, fields)
  check.self(self, Contacts, "contacts:update")
  check.id(id, "contacts:update", "id")
  check.table(fields, "contacts:update", "fields")
  return call(self, "PUT", "/contacts/{contactId}", { path = { contactId = id }, body = fields }, "contact")
end

--- Delete a contact. @return true, resp | nil, err
function Contacts:delete(id)
  check.self(self, Contacts, "contacts:delete")
  check.id(id, "contacts:delete", "id")
  local body, resp = self.client:request("DELETE", "/contacts/{contactId}",
    { path = { contactId = id }, version = VERSION })
  if body == nil then return nil, resp end
  resp.body = body
  return true, resp
end

--- Create or update by the location's duplicate rules (email/phone).
-- `resp.body.new` tells which happened. @return contact, resp | nil, err
function Contacts:upsert(fields)
  check.self(self, Contacts, "contacts:upsert")
  check.table(fields, "contacts:upsert", "fields")
  return call(self, "POST", "/contacts/upsert", { body = with_location(self, fields, "contacts:upsert") }, "contact")
end

return Contacts
