-- Pipelines and lost reasons (apps/opportunities.json): GET
-- /opportunities/pipelines {pipelines} (no paging) and GET
-- /opportunities/lost-reason {lostReasons, total} (skip + limit).
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-07-28"

--- The location's pipelines in their order.
function M.of(location)
  local out = {}
  for _, p in pairs(state.pipelines) do
    if p.locationId == location then out[#out + 1] = p end
  end
  table.sort(out, function(a, b) return (a._order or 1e9) < (b._order or 1e9) or
    ((a._order or 1e9) == (b._order or 1e9) and a.id < b.id) end)
  return out
end

--- The stage of a pipeline, by id.
function M.stage(p, id)
  for _, s in ipairs(p.stages) do
    if s.id == id then return s end
  end
end

local function location_param(req)
  local problems = common.required_query(req, { "locationId" }, {})
  return problems, common.q(req, "locationId")
end

local function list(req)
  local problems, location = location_param(req)
  if not common.ok(problems) or not common.own(req, location) then return end
  return common.reply(200, { pipelines = M.of(location) })
end

local function lost_reasons(req)
  local problems, location = location_param(req)
  local skip = common.int(common.q(req, "skip"), "skip", { default = 0, min = 0 }, problems)
  local limit = common.int(common.q(req, "limit"), "limit", { default = 100, min = 1 }, problems)
  if not common.ok(problems) or not common.own(req, location) then return end
  local q = (common.q(req, "name") or common.q(req, "query") or ""):lower()
  local all = {}
  for _, r in pairs(state.lost_reasons) do
    if r.locationId == location and (q == "" or common.has(r.name, q)) then all[#all + 1] = r end
  end
  table.sort(all, function(a, b) return a.id < b.id end)
  return common.reply(200, { lostReasons = common.slice(all, skip, limit), total = #all })
end

function M.register(route)
  route("GET", "/opportunities/pipelines", V, list)
  route("GET", "/opportunities/lost-reason", V, lost_reasons)
end

return M
