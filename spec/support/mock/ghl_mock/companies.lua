-- Companies (apps/companies.json): GET /companies/{companyId}, the one
-- operation, Agency-Access (an agency OAuth token or an agency PIT).
local state = require "ghl_mock.state"
local seed = require "ghl_mock.seed"
local common = require "ghl_mock.common"
local auth = require "ghl_mock.auth"

local M = {}

local function get(req)
  if req.params.companyId ~= req.token.companyId then return auth.company() end
  local n = 0
  for _, loc in pairs(state.locations) do
    if loc.companyId == seed.ids.company then n = n + 1 end
  end
  return common.reply(200, { company = { id = seed.ids.company, name = "Mock Agency", email = "agency@example.com",
                                         timezone = "America/New_York", status = "active", locationCount = n } })
end

function M.register(route)
  route("GET", "/companies/{companyId}", "2021-07-28", get, "agency_access")
end

return M
