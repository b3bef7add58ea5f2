-- Opportunities (apps/opportunities.json): create, get, update, delete,
-- upsert, status, followers, and GET /opportunities/search with its
-- snake_case query and keyset paging (startAfter + startAfterId, cursor in
-- meta). Newest first by default (order=added_asc reverses it).
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"
local sorted = require "ghl_mock.sorted"
local pipelines = require "ghl_mock.pipelines"
local contacts = require "ghl_mock.contacts"

local M = {}

local V = "2021-07-28"
local STATUSES = { "open", "won", "lost", "abandoned" }
local STATUS = common.set(STATUSES)
local STATUS_MSG = "status must be one of the following values: " .. table.concat(STATUSES, ", ")

-- GHL's internal host, as in the spec's example: clients must not follow it
local NEXT_PAGE_HOST = "http://localhost:5066"

local function public(o)
  local r = common.out(o)
  local c = state.contacts[o.contactId]
  if c then
    r.contact = common.out{ id = c.id, name = c.contactName, companyName = c.companyName, email = c.email,
                            phone = c.phone, tags = c.tags or {} }
  end
  return r
end

local function load(req)
  return common.load(state.opportunities, req.params.id, req, "Opportunity")
end

local UPDATE = { "pipelineId", "name", "pipelineStageId", "status", "monetaryValue", "assignedTo", "customFields" }

-- Type checks shared by create, update and upsert.
local function check_fields(body, problems)
  for _, k in ipairs{ "pipelineId", "name", "pipelineStageId", "assignedTo", "contactId", "lostReasonId" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if body.status ~= nil and not STATUS[body.status] then problems[#problems + 1] = STATUS_MSG end
  if body.monetaryValue ~= nil and type(body.monetaryValue) ~= "number" then
    problems[#problems + 1] = "monetaryValue must be a number conforming to the specified constraints"
  end
  if body.customFields ~= nil and (type(body.customFields) ~= "table" or (next(body.customFields)
    and #body.customFields == 0)) then
    problems[#problems + 1] = "customFields must be an array"
  end
  return problems
end

-- Pipeline and stage of a change: replies 400 and returns nil when unknown.
local function resolve_stage(location, pipeline_id, stage_id)
  local p = state.pipelines[pipeline_id]
  if not p or p.locationId ~= location then
    common.bad_request("Pipeline not found")
    return nil
  end
  if stage_id == nil then return p, p.stages[1] end
  local s = pipelines.stage(p, stage_id)
  if not s then
    common.bad_request("Pipeline stage not found in this pipeline")
    return nil
  end
  return p, s
end

local function apply(o, body, now)
  local old_status, old_stage = o.status, o.pipelineStageId
  for _, k in ipairs(UPDATE) do
    if body[k] ~= nil then o[k] = body[k] end
  end
  if body.lostReasonId ~= nil then o.lostReasonId = body.lostReasonId end
  o.updatedAt, o.lastActionDate = now, now
  if o.status ~= old_status then o.lastStatusChangeAt = now end
  if o.pipelineStageId ~= old_stage then o.lastStageChangeAt = now end
end

local function duplicate(location, contact_id, pipeline_id)
  for _, o in ipairs(state.index("opportunities", location)) do
    if o.contactId == contact_id and o.pipelineId == pipeline_id then return o end
  end
end

local function new_opportunity(location, body, p, s)
  local ms = clock.now_ms()
  local now = clock.iso(ms)
  local c = state.contacts[body.contactId]
  local o = { id = state.new_id(), locationId = location, contactId = body.contactId,
              name = body.name or (c and c.contactName) or "Opportunity", status = body.status or "open",
              pipelineId = p.id, pipelineStageId = s.id, monetaryValue = body.monetaryValue or 0,
              assignedTo = body.assignedTo, source = "api", customFields = body.customFields or {},
              followers = {}, lostReasonId = body.lostReasonId, indexVersion = 1, createdAt = now,
              updatedAt = now, lastStatusChangeAt = now, lastStageChangeAt = now, lastActionDate = now, _ms = ms }
  return state.add("opportunities", o)
end

-- the contact a body names must exist in the location (400 otherwise)
local function contact_ok(location, id)
  local c = state.contacts[id]
  if not c or c.locationId ~= location then
    common.bad_request("Contact not found")
    return false
  end
  return true
end

local CREATE = common.set{ "pipelineId", "locationId", "name", "pipelineStageId", "status", "contactId",
  "monetaryValue", "assignedTo", "customFields" }

local function create(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, CREATE, {})
  common.required(body, { "pipelineId", "locationId", "name", "status", "contactId" }, problems)
  check_fields(body, problems)
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  local p, s = resolve_stage(body.locationId, body.pipelineId, body.pipelineStageId)
  if not p or not contact_ok(body.locationId, body.contactId) then return end
  if duplicate(body.locationId, body.contactId, p.id) then
    return common.bad_request("Can not create duplicate opportunity for the contact.")
  end
  return common.reply(201, { opportunity = public(new_opportunity(body.locationId, body, p, s)) })
end

local function get(req)
  local o = load(req)
  if o then return common.reply(200, { opportunity = public(o) }) end
end

local function update(req)
  local o = load(req)
  if not o then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, common.set(UPDATE), {})
  check_fields(body, problems)
  if not common.ok(problems) then return end
  if body.pipelineId or body.pipelineStageId then
    -- a new pipeline without a stage starts at its first stage
    local pid, stage = body.pipelineId or o.pipelineId, body.pipelineStageId
    if not stage and pid == o.pipelineId then stage = o.pipelineStageId end
    local p, s = resolve_stage(o.locationId, pid, stage)
    if not p then return end
    body.pipelineId, body.pipelineStageId = p.id, s.id
  end
  apply(o, body, state.now_iso())
  return common.reply(200, { opportunity = public(o) })
end

local function delete(req)
  local o = load(req)
  if not o then return end
  state.remove("opportunities", o)
  return http.reply(200, { succeded = true })
end

local function status(req)
  local o = load(req)
  if not o then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, { status = true, lostReasonId = true }, {})
  if not STATUS[body.status] then problems[#problems + 1] = STATUS_MSG end
  if not common.ok(problems) then return end
  apply(o, { status = body.status, lostReasonId = body.lostReasonId }, state.now_iso())
  return http.reply(200, { succeded = true })
end

-- UpsertOpportunityDto marks followers, isRemoveAllFollowers and
-- followersActionType as required; they are optional here (a spec artefact).
local UPSERT = common.set{ "id", "pipelineId", "locationId", "contactId", "name", "status", "pipelineStageId",
  "monetaryValue", "assignedTo", "lostReasonId", "followers", "isRemoveAllFollowers", "followersActionType",
  "customFields" }

local function upsert(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.whitelist(body, UPSERT, {})
  common.required(body, { "pipelineId", "locationId" }, problems)
  check_fields(body, problems)
  if body.followersActionType ~= nil and body.followersActionType ~= "add" and body.followersActionType ~= "remove" then
    problems[#problems + 1] = "followersActionType must be one of the following values: add, remove"
  end
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  local o
  if not common.empty(body.id) then
    o = state.opportunities[body.id]
    if not o or o.locationId ~= body.locationId then return common.not_found("Opportunity") end
  elseif not common.empty(body.contactId) then
    o = duplicate(body.locationId, body.contactId, body.pipelineId)
  else
    return common.invalid{ "contactId should not be empty" }
  end
  local p, s = resolve_stage(body.locationId, body.pipelineId,
    body.pipelineStageId or (o and o.pipelineId == body.pipelineId and o.pipelineStageId) or nil)
  if not p then return end
  local created = false
  if o then
    local change = common.pick(body, UPDATE)
    change.lostReasonId = body.lostReasonId
    change.pipelineId, change.pipelineStageId = p.id, s.id
    apply(o, change, state.now_iso())
  else
    if not contact_ok(body.locationId, body.contactId) then return end
    o = new_opportunity(body.locationId, body, p, s)
    created = true
  end
  if body.isRemoveAllFollowers == true then o.followers = {} end
  if common.strings(body.followers) then
    if body.followersActionType == "remove" then contacts.remove_followers(o, body.followers)
    else contacts.add_followers(o, body.followers) end
  end
  return common.reply(200, { opportunity = public(o), new = created, traceId = http.trace_id() })
end

local function followers_body(req)
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, { followers = true }, {})
  if common.empty(body.followers) then
    problems[#problems + 1] = "followers should not be empty"
  elseif not common.strings(body.followers) then
    problems[#problems + 1] = "each value in followers must be a string"
  end
  if not common.ok(problems) then return nil end
  return body.followers
end

local function add_followers(req)
  local o = load(req)
  local list = o and followers_body(req)
  if list then return common.reply(201, contacts.add_followers(o, list)) end
end

local function remove_followers(req)
  local o = load(req)
  if not o then return end
  if common.q(req, "isRemoveAllFollowers") == "true" then
    return common.reply(200, contacts.remove_followers(o, o.followers or {}))
  end
  local list = followers_body(req)
  if list then return common.reply(200, contacts.remove_followers(o, list)) end
end

-- "mm-dd-yyyy" -> epoch ms of that UTC day
local function mdy(s)
  local m, d, y = (s or ""):match("^(%d%d)%-(%d%d)%-(%d%d%d%d)$")
  return m and clock.ms(tonumber(y), tonumber(m), tonumber(d))
end

local function search(req)
  local q = function(k) local v = common.q(req, k) if v ~= "" then return v end end
  local problems = common.required_query(req, { "location_id" }, {})
  local location = q("location_id")
  local limit = common.int(q("limit"), "limit", { default = 20, min = 1, max = 100 }, problems)
  local page = common.int(q("page"), "page", { default = 1, min = 1 }, problems)
  local st = q("status")
  if st and st ~= "all" and not STATUS[st] then
    problems[#problems + 1] = "status must be one of the following values: open, won, lost, abandoned, all"
  end
  local after_ms = q("startAfter")
  if after_ms and not tonumber(after_ms) then
    problems[#problems + 1] = "startAfter must be a number string"
  end
  local order = q("order") or "added_desc"
  if order ~= "added_desc" and order ~= "added_asc" then
    problems[#problems + 1] = "order must be one of the following values: added_asc, added_desc"
  end
  local from, to = q("date"), q("endDate")
  if from and not mdy(from) then problems[#problems + 1] = "date must be in mm-dd-yyyy format" end
  if to and not mdy(to) then problems[#problems + 1] = "endDate must be in mm-dd-yyyy format" end
  if not common.ok(problems) or not common.own(req, location) then return end
  from, to = mdy(from), mdy(to)
  local desc = order == "added_desc"

  local filters = { pipelineId = q("pipeline_id"), pipelineStageId = q("pipeline_stage_id"),
                    contactId = q("contact_id"), assignedTo = q("assigned_to"), id = q("id") }
  if st and st ~= "all" then filters.status = st end
  local text = q("q") and q("q"):lower()
  local list = state.index("opportunities", location)
  local items = {}
  for _, o in ipairs(list) do
    local ok = (not from or o._ms >= from) and (not to or o._ms < to + clock.DAY)
    for k, v in pairs(filters) do
      if o[k] ~= v then ok = false break end
    end
    if ok and text then
      local c = state.contacts[o.contactId]
      ok = common.has(o.name, text) or (c and (common.has(c.contactName, text) or common.has(c.email, text)
        or common.has(c.phone, text))) or false
    end
    if ok then items[#items + 1] = o end
  end
  local n = #items
  local at = desc and function(i) return items[n + 1 - i] end or function(i) return items[i] end

  local start
  local after_id = q("startAfterId")
  if after_ms or after_id then
    local ms = tonumber(after_ms)
    if not ms then
      local o = state.opportunities[after_id]
      ms = o and o._ms
    end
    if not ms then
      start = n + 1
    else
      local id = after_id or (desc and "" or "\255")
      start = sorted.first(n, function(i)
        local o = at(i)
        if desc then return sorted.key_less(o._ms, o.id, ms, id) end
        return sorted.key_less(ms, id, o._ms, o.id)
      end)
    end
  else
    start = (page - 1) * limit + 1
  end
  local out = {}
  for i = start, math.min(n, start + limit - 1) do out[#out + 1] = public(at(i)) end
  local more = start + limit - 1 < n
  local last = more and at(start + limit - 1)
  local current = math.floor((start - 1) / limit) + 1
  local next_url = common.null
  if more then
    local args = {}
    for k, v in pairs(req.query) do args[k] = v end
    args.startAfter, args.startAfterId, args.page = tostring(last._ms), last.id, tostring(current + 1)
    next_url = NEXT_PAGE_HOST .. "/opportunities/search?" .. ngx.encode_args(args)
  end
  local meta = { total = n, nextPageUrl = next_url, startAfterId = more and last.id or common.null,
                 startAfter = more and last._ms or common.null, currentPage = current,
                 nextPage = more and current + 1 or common.null, prevPage = current > 1 and current - 1 or common.null }
  return common.reply(200, { opportunities = out, meta = meta, aggregations = common.object(),
                             traceId = http.trace_id() })
end

-- POST /opportunities/search: the body-based search, paged by `page` (the
-- spec lists every field as required; the server here needs locationId,
-- limit and page). Same order as the GET search.
local function search_advanced(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = common.required(body, { "locationId" }, {})
  local limit = common.int(body.limit, "limit", { default = 20, min = 1, max = 100 }, problems)
  local page = common.int(body.page, "page", { default = 1, min = 1 }, problems)
  if body.searchAfter ~= nil and type(body.searchAfter) ~= "table" then
    problems[#problems + 1] = "searchAfter must be an array"
  end
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  local list = state.index("opportunities", body.locationId)
  local text = type(body.query) == "string" and body.query ~= "" and body.query:lower() or nil
  local items = {}
  for i = #list, 1, -1 do
    local o = list[i]
    if not text or common.has(o.name, text) then items[#items + 1] = o end
  end
  local out = {}
  for i = (page - 1) * limit + 1, math.min(#items, page * limit) do out[#out + 1] = public(items[i]) end
  return common.reply(200, { opportunities = out, total = #items, aggregations = common.object(),
                             traceId = http.trace_id() })
end

function M.register(route)
  route("POST", "/opportunities/search", V, search_advanced)
  -- literal paths before /opportunities/{id}: the first matching route wins
  route("GET", "/opportunities/search", V, search)
  route("POST", "/opportunities/upsert", V, upsert)
  route("POST", "/opportunities/", V, create)
  route("GET", "/opportunities/{id}", V, get)
  route("PUT", "/opportunities/{id}", V, update)
  route("DELETE", "/opportunities/{id}", V, delete)
  route("PUT", "/opportunities/{id}/status", V, status)
  route("POST", "/opportunities/{id}/followers", V, add_followers)
  route("DELETE", "/opportunities/{id}/followers", V, remove_followers)
end

return M
