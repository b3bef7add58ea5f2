-- Workflows (apps/workflows.json): the one v2 operation, GET /workflows/
-- {workflows}, no paging. Enrolling contacts is in contacts.lua.
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local function list(req)
  local problems = common.required_query(req, { "locationId" }, {})
  local location = common.q(req, "locationId")
  if not common.ok(problems) or not common.own(req, location) then return end
  local out = {}
  for _, w in pairs(state.workflows) do
    if w.locationId == location then out[#out + 1] = w end
  end
  table.sort(out, function(a, b) return a.createdAt < b.createdAt or (a.createdAt == b.createdAt and a.id < b.id) end)
  return common.reply(200, { workflows = out })
end

function M.register(route)
  route("GET", "/workflows/", "2021-07-28", list)
end

return M
