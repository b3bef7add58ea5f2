-- Edges of which token a call takes and of minting (issue 17's red team):
-- the location a request names in another spelling, install events handled
-- at the same time, and the default company.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local cjson = require "cjson"

local LOC, OTHER, COMP = server.LOCATION_ID, server.OTHER_LOCATION_ID, server.COMPANY_ID

describe("which token (edges)", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  local function app(extra)
    local o = { client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                store = ghl.store.memory(), refresh_skew_ms = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.oauth(o)
  end

  local function agency(extra)
    local o = { user_type = "Company" }
    for k, v in pairs(extra or {}) do o[k] = v end
    local a = app(o)
    local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = COMP }).code
    assert(a:exchange(code))
    return a
  end

  local function stats() return h.admin(srv, "GET", "/_mock/oauth") end

  local function client(a, extra)
    local o = { oauth = a, base_url = srv.url, retry_base_ms = 5, retry_max_delay_ms = 20, max_retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.new(o)
  end

  describe("an agency client on an operation whose location parameter is location_id", function()
    it("mints the token of that location instead of refusing the call", function()
      local c = client(agency(), { company_id = COMP })
      local body, err = c:call("opportunities.search-opportunity", { location_id = LOC })
      assert.is_table(body, err and err.message)
      assert.is_table(body.opportunities)
      assert.are.equal(1, stats().location_token_calls)
    end)

    it("sends that location's token, not the one of the client's location_id", function()
      local c = client(agency(), { company_id = COMP, location_id = OTHER })
      local body, err = c:call("opportunities.search-opportunity", { location_id = LOC })
      assert.is_table(body, err and err.message)
      assert.is_table(body.opportunities)
    end)

    it("altId with altType location names the location too", function()
      local c = client(agency(), { company_id = COMP, location_id = OTHER })
      local _, err = c:call("medias.fetch-media-content", { altId = LOC, altType = "location", sortBy = "createdAt", sortOrder = "asc", type = "file" })
      assert.are_not.equal("needs_location_token", err and err.reason)
      -- the token of LOC was minted, not that of the client's location_id
      assert.are.equal(1, stats().location_token_calls)
      c = client(agency(), { company_id = COMP })
      _, err = c:call("medias.fetch-media-content", { altId = LOC, altType = "location", sortBy = "createdAt", sortOrder = "asc", type = "file" })
      assert.are_not.equal("needs_location_token", err and err.reason)
    end)
  end)

  describe("INSTALL of a location under the agency (App:on_webhook)", function()
    -- a store shared by two "processes"; `before_lock(key)` runs before a lock is taken
    local function shared_store(before_lock)
      local inner = ghl.store.memory()
      local s = setmetatable({}, { __index = function(_, k)
        local v = inner[k]
        if type(v) == "function" then return function(_, ...) return v(inner, ...) end end
        return v
      end })
      function s.lock(_, key, ttl)
        before_lock(key)
        return inner:lock(key, ttl)
      end
      return s
    end

    it("two deliveries handled at the same time (two workers or hosts) mint once", function()
      local other
      local once = false
      local store = shared_store(function(key)
        if not once and key:find(":Location:" .. LOC, 1, true) then
          once = true
          -- the other worker handles its delivery between our look and our lock
          assert(other:on_webhook{ type = "INSTALL", locationId = LOC, companyId = COMP })
        end
      end)
      local a = agency{ store = store }
      other = app{ user_type = "Company", store = store }
      assert(a:on_webhook{ type = "INSTALL", locationId = LOC, companyId = COMP })
      assert.is_true(once)
      assert.are.equal(1, stats().location_token_calls)
      assert.is_true(a:session(LOC).has_refresh_token)
    end)
  end)

  describe("a mint that fails", function()
    for _, fault in ipairs{ "echo_token", "echo_encoded" } do
      it("holds no token in its error when GHL echoes the agency token (" .. fault .. ")", function()
        local store = ghl.store.memory()
        local a = agency{ store = store }
        local agency_token = assert(a:token("Company", COMP))
        h.fault(srv, "POST", "/oauth/locationToken", fault, 1)
        local c = client(a, { company_id = COMP, location_id = LOC })
        local _, err = c.contacts:get("SeedC000000000000001")
        assert.are.equal("mint_failed", err.reason)
        h.assert_no_secret(cjson.encode(err), agency_token, "the mint error")
        h.assert_no_secret(tostring(err), agency_token, "the mint error's text")
        h.assert_no_secret(cjson.encode(err), server.CLIENT_SECRET, "the mint error")
      end)
    end

    for _, answer in ipairs{ "true", "null", "[]", '"x"', "3" } do
      it("answered 200 with " .. answer .. ": a structured decode error", function()
        local a = agency()
        h.fault(srv, "POST", "/oauth/locationToken", "json=" .. answer, 1)
        local c = client(a, { company_id = COMP, location_id = LOC })
        local ok, body, err = pcall(c.contacts.get, c.contacts, "SeedC000000000000001")
        assert.is_true(ok, tostring(body))
        assert.is_nil(body)
        assert.are.equal("decode", err.kind)
        assert.are.equal("mint_failed", err.reason)
        assert.matches("cannot mint a token for location " .. LOC .. " from the agency token of company " .. COMP
          .. ": the token answer has no access_token", err.message)
      end)

      it("a refresh answered 200 with " .. answer .. ": a structured decode error", function()
        local a = agency()
        h.fault(srv, "POST", "/oauth/token", "json=" .. answer, 1)
        local ok, s, err = pcall(a.refresh, a, COMP)
        assert.is_true(ok, tostring(s))
        assert.is_nil(s)
        assert.are.equal("decode", err.kind)
      end)
    end
  end)

  it("a mint, a refresh and a code exchange answered 200 with false: a structured decode error", function()
    local a = agency()
    h.fault(srv, "POST", "/oauth/locationToken", "json=false", 1)
    local _, err = client(a, { company_id = COMP, location_id = LOC }).contacts:get("SeedC000000000000001")
    assert.are.same({ "decode", "mint_failed" }, { err.kind, err.reason })
    assert.matches("cannot mint a token for location " .. LOC .. ".*JSON false", err.message)
    h.fault(srv, "POST", "/oauth/token", "json=false", 1)
    local s
    s, err = a:refresh(COMP)
    assert.is_nil(s)
    assert.are.same({ "decode", 200 }, { err.kind, err.status })
    h.fault(srv, "POST", "/oauth/token", "json=false", 1)
    s, err = app():exchange("any-code")
    assert.is_nil(s)
    assert.are.equal("decode", err.kind)
  end)

  describe("an error answer of the token endpoint that is not GHL's usual shape", function()
    -- a transport that answers every request 400 with `body`
    local function app_answering(body)
      local t = { perform = function()
        return 400, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n", body
      end }
      local store = ghl.store.memory()
      local a = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, store = store,
                           transport = t, max_retries = 0 }
      assert(store:set(a:_key("Company", COMP), cjson.encode{ access_token = "a", refresh_token = "r", expires_at = 0,
                                                                user_type = "Company", company_id = COMP }))
      return a
    end

    for _, body in ipairs{ '{"message":[null]}', '{"message":[{"a":1}]}', '{"message":["a",{"b":2},"c"]}' } do
      it("is an auth error, not a Lua error: " .. body, function()
        local a = app_answering(body)
        local ok, s, err = pcall(a.refresh, a, COMP)
        assert.is_true(ok, tostring(s))
        assert.is_nil(s)
        assert.are.equal("auth", err.kind)
        assert.are.equal(400, err.status)
      end)
    end
  end)

  describe("one app shared by coroutines (nginx light threads)", function()
    it("a mint in flight lends its agency token to no other token request", function()
      local AGENCY = "eyJhbGciOiJIUzI1NiJ9.agency-access-token.c2lnbmF0dXJl"
      local seen = {}
      -- a transport that hands each request to the test and waits for its answer, as a light thread does
      local t = { perform = function(_, req)
        seen[#seen + 1] = { path = req.path, authorization = req.headers and req.headers.Authorization }
        return coroutine.yield(req)
      end }
      local store = ghl.store.memory()
      local a = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, store = store,
                           transport = t, max_retries = 0 }
      local now = os.time() * 1000
      assert(store:set(a:_key("Company", COMP), cjson.encode{ access_token = AGENCY, refresh_token = "cr",
        expires_at = now + 3600000, user_type = "Company", company_id = COMP }))
      assert(store:set(a:_key("Location", OTHER), cjson.encode{ access_token = "old", refresh_token = "r2",
        expires_at = 0, user_type = "Location", location_id = OTHER }))
      local minting = coroutine.create(function() return a:location_token(COMP, LOC) end)
      local refreshing = coroutine.create(function() return a:refresh(OTHER) end)
      assert.is_true((coroutine.resume(minting)))    -- its mint is on the wire
      assert.is_true((coroutine.resume(refreshing))) -- and so is the other location's refresh
      assert.are.same({ "/oauth/locationToken", "/oauth/token" }, { seen[1].path, seen[2].path })
      assert.are.equal("Bearer " .. AGENCY, seen[1].authorization)
      assert.is_nil(seen[2].authorization) -- /oauth/token takes no token
      local ok = coroutine.resume(minting, 200, { ["Content-Type"] = "application/json" },
        cjson.encode{ access_token = "la1", refresh_token = "lr1", expires_in = 3600, locationId = LOC })
      assert.is_true(ok)
      -- the refresh fails, and its answer quotes the Authorization header it got
      local _, session, err = coroutine.resume(refreshing, 400, { ["Content-Type"] = "application/json" },
        cjson.encode{ error = "invalid_request", error_description = "Bad token format: " .. tostring(seen[2].authorization) })
      assert.is_nil(session)
      assert.are.equal("auth", err.kind)
      h.assert_no_secret(cjson.encode(err), AGENCY, "the other refresh's error")
    end)
  end)

  describe("the location's lock while the agency token is renewed", function()
    it("is kept or given up: a lease that ran out meanwhile does not mint a second token", function()
      local clock = require "ghl.clock"
      local inner = ghl.store.memory()
      local third -- another process's app on the same store
      local delayed = false
      local store = setmetatable({}, { __index = function(_, k)
        local v = inner[k]
        if type(v) == "function" then return function(_, ...) return v(inner, ...) end end
        return v
      end })
      function store.lock(_, key, ttl)
        if not delayed and key:find(":Company:", 1, true) then
          delayed = true
          clock.sleep_ms(400) -- another process holds the agency's lock longer than our location lease lasts...
          -- ...and meanwhile a third one needs the same location's token: the lease is its now
          local c = client(third, { company_id = COMP, location_id = LOC })
          assert(c.contacts:get("SeedC000000000000001"))
        end
        return inner:lock(key, ttl)
      end
      local function mk()
        return app{ user_type = "Company", store = store, timeout_ms = 200, lock_ttl_ms = 300 }
      end
      local a = mk()
      third = mk()
      local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = COMP }).code
      assert(a:exchange(code))
      -- the agency token has expired: the location's mint renews it first
      local key = a:_key("Company", COMP)
      local rec = cjson.decode(inner:get(key))
      rec.expires_at = 0
      assert(inner:set(key, cjson.encode(rec)))
      local c = client(a, { company_id = COMP, location_id = LOC })
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_true(delayed)
      assert.is_table(body, err and err.message) -- the token the third one minted
      assert.are.equal(1, stats().location_token_calls)
      assert.are.equal(1, stats().refresh_calls)
    end)

    it("a lease that ran out with no one minting since: nothing sent, a mint_failed error that says why", function()
      local clock = require "ghl.clock"
      local inner = ghl.store.memory()
      local store = setmetatable({}, { __index = function(_, k)
        local v = inner[k]
        if type(v) == "function" then return function(_, ...) return v(inner, ...) end end
        return v
      end })
      function store.lock(_, key, ttl)
        if key:find(":Company:", 1, true) then clock.sleep_ms(400) end
        return inner:lock(key, ttl)
      end
      local a = app{ user_type = "Company", store = store, timeout_ms = 200, lock_ttl_ms = 300 }
      local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = COMP }).code
      assert(a:exchange(code))
      local key = a:_key("Company", COMP)
      local rec = cjson.decode(inner:get(key))
      rec.expires_at = 0
      assert(inner:set(key, cjson.encode(rec)))
      local _, err = client(a, { company_id = COMP, location_id = LOC }).contacts:get("SeedC000000000000001")
      assert.are.equal("auth", err.kind)
      assert.are.equal("mint_failed", err.reason)
      assert.matches("longer than the location's lock lasts", err.message)
      assert.are.equal(0, stats().location_token_calls)
    end)
  end)
end)
