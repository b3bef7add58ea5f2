-- The CRUD handlers GHL gives a contact's notes and tasks alike: list
-- {<plural>} (no paging), get/create/update {<singular>}, delete {succeded}.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local contacts = require "ghl_mock.contacts"

local M = {}

-- spec: collection ("notes"), singular ("note"), label ("Note"), id_param
-- (the route's name for the child id), fields, check(body, creating),
-- order(a, b) for the list. Returns { list, create, get, update, delete, load }.
function M.handlers(spec)
  local h = {}
  local plural, singular = spec.collection, spec.singular

  -- the contact and its child of the route, or nil after answering 404
  function h.load(req)
    local c = contacts.load(req)
    if not c then return nil end
    local x = state[plural][req.params[spec.id_param]]
    if not x or x.contactId ~= c.id then
      common.not_found(spec.label)
      return nil
    end
    return x, c
  end

  function h.list(req)
    local c = contacts.load(req)
    if not c then return end
    local out = {}
    for _, x in pairs(state[plural]) do
      if x.contactId == c.id then out[#out + 1] = x end
    end
    table.sort(out, spec.order)
    return common.reply(200, { [plural] = out })
  end

  function h.create(req)
    local c = contacts.load(req)
    if not c then return end
    local body = http.json_body(req)
    if not body or not spec.check(body, true) then return end
    local x = common.pick(body, spec.fields)
    x.id, x.contactId, x.locationId, x.dateAdded = state.new_id(), c.id, c.locationId, state.now_iso()
    state.add(plural, x)
    return common.reply(201, { [singular] = x })
  end

  function h.get(req)
    local x = h.load(req)
    if x then return common.reply(200, { [singular] = x }) end
  end

  function h.update(req)
    local x = h.load(req)
    if not x then return end
    local body = http.json_body(req)
    if not body or not spec.check(body, false) then return end
    for k, v in pairs(common.pick(body, spec.fields)) do x[k] = v end
    return common.reply(200, { [singular] = x })
  end

  function h.delete(req)
    local x = h.load(req)
    if not x then return end
    state.remove(plural, x)
    return http.reply(200, { succeded = true })
  end

  return h
end

return M
