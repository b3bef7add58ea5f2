-- The answers about tokens, in one place so that the router and the auth_*
-- faults (faults.lua) send the same bodies. Only "Invalid JWT" means
-- "unknown or expired": a client refreshes on that one and on no other.
local http = require "ghl_mock.http"
local common = require "ghl_mock.common"

local M = {}

-- an unknown token and an expired one get the same body (no traceId)
function M.invalid_jwt()
  return http.reply(401, { statusCode = 401, message = "Invalid JWT" })
end

-- a valid token without the scope (GHL's wording, highlevel-api-docs#217);
-- also an agency token on a sub-account route
function M.scope()
  return http.reply(401, { statusCode = 401, message = "The token is not authorized for this scope." })
end

-- the specs' Agency-Access-Only: a location token or a PIT is refused
function M.agency_only()
  return http.reply(401, { statusCode = 401, message = "This route is only available to Agency-Access tokens" })
end

-- a valid token for another location: what the routes answer (common.lua)
M.location = common.forbidden

-- an agency token asking about another company
function M.company()
  return http.reply(403, { statusCode = 403, message = "The token does not have access to this company",
                           traceId = http.trace_id() })
end

--- Whether a token record is an agency (Company) OAuth access token.
function M.is_agency_oauth(tok)
  return tok.oauth == true and tok.userType == "Company"
end

return M
