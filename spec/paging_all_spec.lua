-- Every paged operation of the catalogue, walked to its end over at least
-- three pages on the local server: the operations that page are found from
-- their parameters (a cursor-named query parameter or body field), not from
-- the catalogue's paging style, so one without a pager fails here; one left
-- out must be listed, with its reason, in the catalogue's header. Most are
-- served by the server's generic spec-shaped pages (paged.lua), the rest by
-- its hand-written routes over the seed.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"

local LOC, COMP = server.LOCATION_ID, server.COMPANY_ID

-- a parameter named like this makes an operation paged (tools/spec_paging.lua reads the same names)
local CURSORS = { "skip", "offset", "page", "cursor", "next", "startAfter", "startAfterId", "startAfterDate",
                  "lastMessageId", "searchAfter", "lastFaqId", "lastKnowledgeBaseId", "lastDoc" }

-- The hand-written routes: params, page size, and the seed's item count.
local SEEDED = {
  ["calendars.get-appointment-notes"] = { p = { appointmentId = "SeedE000000000000001" }, size = 10, n = 25 },
  ["contacts.get-contacts"] = { size = 100, n = 2500 },
  ["contacts.search-contacts-advanced"] = { size = 500, n = 2500 },
  ["conversations.export-messages-by-location"] = { size = 50, n = 150 },
  ["conversations.get-messages"] = { p = { conversationId = "ConvMock000000000001" }, size = 50, n = 120 },
  ["conversations.search-conversation"] = { size = 2, n = 6 },
  ["locations.GET-all-or-email-sms-templates"] = { p = { originId = LOC }, size = 10, n = 30 },
  ["locations.search-locations"] = { p = { companyId = COMP }, size = 10, n = 25 },
  ["locations.task-search"] = { size = 25, n = 60 },
  ["oauth.get-installed-location"] = { p = { companyId = COMP, appId = server.CLIENT_ID:match("^[^-]*") }, size = 10,
                                       n = 25 },
  ["opportunities.get-lost-reason"] = { size = 1, n = 4 },
  ["opportunities.search-opportunities-advanced"] = { p = { query = "" }, size = 100, n = 300 },
  ["opportunities.search-opportunity"] = { size = 100, n = 300 },
  ["users.search-users"] = { p = { companyId = COMP }, size = 10, n = 30 },
}

-- the lists of the catalogue's header: "-- key: reason" under each heading
local function header_lists()
  local text = require("spec.support.sys").slurp("lua/ghl/catalog.lua")
  local lists, current = {}, nil
  for line in text:gmatch("[^\n]+") do
    if line == "return {" then break end
    if line:match("^%-%- Paged operations: ") then current = "left_out" lists[current] = {}
    elseif line:match("^%-%- Not paging") then current = "not_paged" lists[current] = {}
    elseif current then
      local key, reason = line:match("^%-%- ([%w._-]+): (.+)$")
      if key then lists[current][key] = reason end
    end
  end
  return lists.left_out or {}, lists.not_paged or {}
end

-- the local server's table of the operations its generic pages serve
local MOCKED = require "spec.support.mock.ghl_mock.paged_ops"

-- Whether the generic page of `op` says where the walk ends (a trusted
-- total, hasMore, nextPage, totalPages, a null cursor): then a walk of
-- three full pages takes three requests, not a fourth that comes back empty.
local function says_end(op)
  for path, ty in pairs(op.f) do
    local name = path:match("([^.]+)$")
    if name == "hasMore" or name == "hasNext" or name == "nextPage" or name == "totalPages"
      or name == "nextCursor" or (op.pg == "last_id" and name == op.ck) then
      return true
    end
    if (name == "total" or name == "totalCount") and ty == "number" and op.pg ~= "last_id" and op.pg ~= "cursor" then
      return true
    end
  end
  return false
end

local function takes(e, name)
  for _, list in ipairs{ e.q or {}, e.bf or {} } do
    for _, n in ipairs(list) do if n == name then return true end end
  end
  return false
end

local function pages_by_params(e)
  for _, n in ipairs(CURSORS) do
    if takes(e, n) then return true end
  end
  return false
end

describe("every paged operation", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop)

  it("is walked to the end over at least three pages, or left out with its reason", function()
    h.admin(srv, "POST", "/_mock/reset")
    -- tokens of every kind: PITs (sub-account, agency), OAuth (location, agency)
    local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url }
    assert(app:exchange(h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Location", locationId = LOC }).code))
    assert(app:exchange(h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = COMP }).code,
                        { user_type = "Company" }))
    local conn = { base_url = srv.url, pacing = false, retry_base_ms = 1, retry_max_delay_ms = 5 }
    local function with(o)
      for k, v in pairs(conn) do o[k] = v end
      return ghl.new(o)
    end
    local clients = {
      pit = with{ token = server.TOKEN, location_id = LOC, company_id = COMP },
      agency_pit = with{ token = server.AGENCY_TOKEN, company_id = COMP },
      oauth = with{ oauth = app, location_id = LOC },
      agency_oauth = with{ oauth = app, company_id = COMP },
    }
    -- the catalogue's token type: alternatives, L location / A agency, o = OAuth only
    local function client_for(t)
      local loc, pit = t == "", t == ""
      for alt in t:gmatch("%S+") do
        loc = loc or alt:sub(1, 1) == "L"
        pit = pit or alt:sub(2) ~= "o"
      end
      if not loc then return pit and clients.agency_pit or clients.agency_oauth end
      return pit and clients.pit or clients.oauth
    end

    local left_out, not_paged = header_lists()
    local ops = ghl.operations()
    local keys = {}
    for key in pairs(ops) do keys[#keys + 1] = key end
    table.sort(keys)
    local walked, skipped, ignored, problems = 0, {}, {}, {}
    for _, key in ipairs(keys) do
      local e = ops[key]
      if pages_by_params(e) or e.pg then
        if not e.pg then
          local reason = left_out[key] or not_paged[key]
          if reason and #reason > 20 then
            table.insert(left_out[key] and skipped or ignored, key)
          else
            problems[#problems + 1] = key .. ": pages (a cursor parameter), but has no pager and no reason"
          end
        else
          local seeded = SEEDED[key]
          local params = {}
          for _, list in ipairs{ e.pp or {}, e.rq or {}, e.rb or {} } do
            for _, name in ipairs(list) do params[name] = "Id0000000000000000001" end
          end
          params.locationId = params.locationId and LOC
          params.location_id = params.location_id and LOC
          params.companyId = params.companyId and COMP
          params[e.ck] = nil -- the pager starts the walk (a required cursor too)
          for name, shape in pairs(e.bs and e.bs.o or {}) do
            if params[name] and shape == "a" then params[name] = {} end -- an array: sent as []
          end
          for k, v in pairs(seeded and seeded.p or {}) do params[k] = v end
          local size_key = e.lk or "limit"
          if takes(e, size_key) or e.lk then params[size_key] = seeded and seeded.size or 3 end
          -- generic pages: three full pages of 3 (the end signal saves a fourth request)
          local want = seeded and seeded.n or 9
          local max_requests = seeded and math.huge or (says_end(MOCKED[key]) and 3 or 4)
          if not seeded then h.admin(srv, "POST", "/_mock/paged", { op = key, count = want }) end
          local before = #h.requests(srv)
          local n = 0
          local ok, err = pcall(function()
            for _ in client_for(e.t or ""):each_of(key, params) do n = n + 1 end
          end)
          local requests = 0
          if seeded then
            local log = h.requests(srv)
            for i = before + 1, #log do
              if log[i].method == e.m and log[i].path ~= "/oauth/token" and log[i].path ~= "/oauth/locationToken" then
                requests = requests + 1
              end
            end
          else
            local st = h.admin(srv, "GET", "/_mock/paged").ops[key]
            requests = st and st.requests or 0
          end
          if not ok then
            problems[#problems + 1] = ("%s: raised %s"):format(key, tostring(err))
          elseif n ~= want or requests < 3 or requests > max_requests then
            problems[#problems + 1] = ("%s (%s): %d items in %d requests, want %d in 3 to %s"):format(
              key, e.pg, n, requests, want, tostring(max_requests))
          else
            walked = walked + 1
          end
        end
      end
    end
    for key in pairs(left_out) do
      assert.is_nil(ops[key].pg, key .. " is listed as left out but has a pager")
      assert.is_string(ops[key].nx, key .. " left out: each_of must say why")
    end
    io.stderr:write(("\n  paging: %d/%d paged operations walked to the end over >= 3 pages; left out, with the "
      .. "reasons in lua/ghl/catalog.lua: %s; %d more take a cursor-named parameter that is not paging\n")
      :format(walked, walked + #skipped + #problems, #skipped > 0 and table.concat(skipped, ", ") or "none", #ignored))
    assert.are.same({}, problems)
    assert.is_true(walked >= 80)
  end)

  describe("around the walk", function()
    local c
    before_each(function()
      h.admin(srv, "POST", "/_mock/reset")
      c = ghl.new{ token = server.TOKEN, location_id = LOC, company_id = COMP, base_url = srv.url, pacing = false }
    end)

    it("takes an items path as the option, and refuses a path that finds nothing", function()
      h.admin(srv, "POST", "/_mock/paged", { op = "social-media-posting.get-tags-location-id", count = 5 })
      local n = 0
      for _ in c:each_of("social-media-posting.get-tags-location-id", { limit = 2 }, { items = "results.tags" }) do
        n = n + 1
      end
      assert.are.equal(5, n)
      local err = h.raised(function()
        for _ in c:each_of("social-media-posting.get-tags-location-id", { limit = 2 }, { items = "results.tag" }) do end
      end)
      assert.are.equal("decode", err.kind)
      assert.matches("results.tag", err.message)
      assert.matches("items option must be", h.invalid(c.each_of, c, "social-media-posting.get-tags-location-id", {},
        { items = 3 }))
    end)

    it("sends the next skip of a body the spec types a string as a string", function()
      local agency = ghl.new{ token = server.AGENCY_TOKEN, company_id = COMP, base_url = srv.url, pacing = false }
      h.admin(srv, "POST", "/_mock/paged", { op = "users.filter-users-by-email", count = 5 })
      local n = 0
      for _ in agency:each_of("users.filter-users-by-email", { emails = "a@x.com", limit = "2" }) do n = n + 1 end
      assert.are.equal(5, n)
      local skips = {}
      for _, r in ipairs(h.requests(srv)) do
        if r.path == "/users/search/filter-by-email" then skips[#skips + 1] = r.body:match('"skip":([^,}]+)') or "none" end
      end
      assert.are.same({ "none", '"2"', '"4"' }, skips)
    end)

    it("fills a cursor the spec requires for the first page", function()
      h.admin(srv, "POST", "/_mock/paged", { op = "snapshots.get-snapshot-push", count = 4 })
      local agency = ghl.new{ token = server.AGENCY_TOKEN, company_id = COMP, base_url = srv.url, pacing = false }
      local n = 0
      for _ in agency:each_of("snapshots.get-snapshot-push", { snapshotId = "S1", from = "a", to = "b", limit = "2" }) do
        n = n + 1
      end
      assert.are.equal(4, n)
      local first = h.requests(srv)[1]
      assert.matches("lastDoc=&", first.uri .. "&")
    end)

    it("says why an operation left out is not walked", function()
      assert.matches("fetchAll=true", h.invalid(c.each_of, c, "ad-manager.fb-get-ad-accounts", { locationId = LOC }))
    end)
  end)
end)
