-- URL redirects of the funnels app (apps/funnels.json): create-redirect,
-- POST /funnels/lookup/redirect (CreateRedirectParams), and
-- update-redirect-by-id, PATCH /funnels/lookup/redirect/{id}
-- (UpdateRedirectParams). Both answer 200 {data = RedirectResponseDTO}.
-- Nothing is seeded: a test creates the redirect it changes.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"

local M = {}

local V = "2021-07-28"

local CREATE = { "locationId", "domain", "path", "target", "action" }
local UPDATE = { "target", "action", "locationId" }
local ACTIONS = { "funnel", "website", "url", "all" }

-- problems of a body against one of the two schemas: unknown or missing
-- properties, strings that are not strings, an action outside the enum
local function validate(body, fields)
  local problems = common.whitelist(body, common.set(fields), {})
  common.required(body, fields, problems)
  for _, k in ipairs(fields) do
    if not common.empty(body[k]) and type(body[k]) ~= "string" then
      problems[#problems + 1] = k .. " must be a string"
    end
  end
  if type(body.action) == "string" and body.action ~= "" and not common.contains(ACTIONS, body.action) then
    problems[#problems + 1] = "action must be one of the following values: " .. table.concat(ACTIONS, ", ")
  end
  return common.ok(problems)
end

local function create(req)
  local body = http.json_body(req)
  if not body or not validate(body, CREATE) or not common.own(req, body.locationId) then return end
  local r = state.add("redirects", {
    id = state.new_id(), locationId = body.locationId, domain = body.domain, path = body.path,
    pathLowercase = body.path:lower(), type = "Permanent", target = body.target, action = body.action,
  })
  return common.reply(200, { data = r })
end

local function update(req)
  local r = common.load(state.redirects, req.params.id, req, "Redirect")
  if not r then return end
  local body = http.json_body(req)
  if not body or not validate(body, UPDATE) or not common.own(req, body.locationId) then return end
  r.target, r.action = body.target, body.action
  return common.reply(200, { data = r })
end

function M.register(route)
  route("POST", "/funnels/lookup/redirect", V, create)
  route("PATCH", "/funnels/lookup/redirect/{id}", V, update)
end

return M
