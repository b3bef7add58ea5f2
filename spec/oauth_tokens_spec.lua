-- Which token each operation gets, against the local server: an operation a
-- client has no token for is refused before anything is sent; an agency
-- install mints, refreshes and mints again the location tokens it needs;
-- PITs are refused where GHL takes OAuth only; /oauth/token's user_type,
-- camelCase answers and "Location is not active". The table: doc/tokens.md.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local cjson = require "cjson"

local LOC, COMP = server.LOCATION_ID, server.COMPANY_ID

describe("which token", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  local function app(extra)
    local o = { client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                store = ghl.store.memory(), refresh_skew_ms = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.oauth(o)
  end

  local function code(user_type, id)
    local body = user_type == "Company" and { userType = "Company", companyId = id or COMP }
      or { userType = "Location", locationId = id or LOC }
    return h.admin(srv, "POST", "/_mock/oauth/code", body).code
  end

  local function stats() return h.admin(srv, "GET", "/_mock/oauth") end

  local function client(a, extra)
    local o = { oauth = a, base_url = srv.url, retry_base_ms = 5, retry_max_delay_ms = 20 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.new(o)
  end

  -- the API requests the server saw (the token endpoint's and the mint's aside)
  local function api_requests()
    local n = 0
    for _, r in ipairs(h.requests(srv)) do
      if r.path:sub(1, 7) ~= "/oauth/" then n = n + 1 end
    end
    return n
  end

  -- every operation whose token type has no location alternative
  local function agency_only_ops()
    local list = {}
    for key, e in pairs(ghl.operations()) do
      local t = e.t or ""
      if t ~= "" and not t:find("L", 1, true) and e.b ~= "multipart" then list[#list + 1] = key end
    end
    table.sort(list)
    return list
  end

  -- params that satisfy the operation's required lists
  local function params_for(key)
    local e, p = ghl.operations()[key], {}
    for _, list in ipairs{ e.pp or {}, e.rq or {}, e.rb or {} } do
      for _, name in ipairs(list) do p[name] = "Id0000000000000000001" end
    end
    return p
  end

  describe("a location-only OAuth client", function()
    it("refuses every agency-only operation with nothing sent, and says how to get an agency token", function()
      local a = app()
      assert(a:exchange(code()))
      local c = client(a, { location_id = LOC })
      local ops = agency_only_ops()
      assert.is_true(#ops >= 39, "agency-only operations in the catalogue: " .. #ops)
      local before = stats().token_calls
      for _, key in ipairs(ops) do
        local body, err = c:call(key, params_for(key))
        assert.is_nil(body, key)
        assert.are.equal("auth", err.kind, key)
        assert.are.equal("needs_agency_token", err.reason, key)
        assert.matches("needs an agency %(Company%) token", err.message)
        assert.matches("company_id", err.message)
        assert.matches("nothing was sent", err.message)
        assert.is_nil(err.status)
      end
      assert.are.equal(0, api_requests())
      assert.are.equal(before, stats().token_calls) -- no refresh spent either
    end)

    it("refuses in batches and iterators too", function()
      local a = app()
      assert(a:exchange(code()))
      local c = client(a, { location_id = LOC })
      local results = c:batch{
        { op = "companies.get-company", params = { companyId = COMP } },
        { op = "contacts.get-contact", params = { contactId = "SeedC000000000000001" } },
      }
      assert.is_nil(results[1][1])
      assert.are.equal("needs_agency_token", results[1][2].reason)
      assert.are.equal("SeedC000000000000001", results[2][1].contact.id)
      local err = h.raised(function()
        for _ in c:each_of("oauth.get-installed-location", { companyId = COMP, appId = "x" }) do end
      end)
      assert.are.equal("needs_agency_token", err.reason)
      assert.are.equal(1, api_requests()) -- the contact only
    end)
  end)

  describe("an agency OAuth client", function()
    local function agency()
      local a = app{ user_type = "Company" }
      assert(a:exchange(code("Company")))
      return a
    end

    it("calls agency operations with the agency token", function()
      local c = client(agency(), { company_id = COMP })
      local body = assert(c:call("companies.get-company", { companyId = COMP }))
      assert.are.equal(COMP, body.company.id)
      assert.are.equal(0, stats().location_token_calls)
    end)

    it("mints the location token of the locationId a location operation names", function()
      local c = client(agency(), { company_id = COMP })
      local tags = assert(c:call("locations.get-location-tags", { locationId = LOC }))
      assert.is_table(tags.tags)
      assert(c:call("locations.get-location-tags", { locationId = LOC }))
      assert.are.equal(1, stats().location_token_calls)
      -- another location of the agency: its own token
      assert(c:call("locations.get-location-tags", { locationId = server.OTHER_LOCATION_ID }))
      assert.are.equal(2, stats().location_token_calls)
    end)

    it("refuses a location operation that names no location, with nothing sent", function()
      local c = client(agency(), { company_id = COMP })
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(body)
      assert.are.equal("auth", err.kind)
      assert.are.equal("needs_location_token", err.reason)
      assert.matches("give location_id to ghl.new", err.message)
      assert.are.equal(0, api_requests())
      assert.are.equal(0, stats().location_token_calls)
    end)

    it("says why it cannot mint: a location outside the agency", function()
      local c = client(agency(), { company_id = COMP, location_id = "LocNotOurs0000000001", max_retries = 0 })
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(body)
      assert.are.equal("auth", err.kind)
      assert.are.equal("mint_failed", err.reason)
      assert.matches("cannot mint a token for location LocNotOurs0000000001 from the agency token of company "
        .. COMP .. ": Location LocNotOurs0000000001 not found", err.message)
      assert.are.equal(0, api_requests())
    end)

    it("mints, renews by refresh token after expiry, mints again after the refresh token is revoked", function()
      local a = agency()
      local c = client(a, { company_id = COMP, location_id = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      local s = a:session(LOC)
      assert.is_true(s.has_refresh_token)
      assert.are.equal(COMP, s.minted_from)
      local st = stats()
      assert.are.equal(1, st.location_token_calls)
      assert.are.equal(0, st.refresh_calls)
      -- expiry: the location's refresh token renews it, no mint
      h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      st = stats()
      assert.are.equal(1, st.location_token_calls)
      assert.are.equal(1, st.refresh_calls)
      assert.is_true(a:session(LOC).has_refresh_token)
      assert.are.equal(COMP, a:session(LOC).minted_from) -- kept through the refresh
      -- revoked (a reconnect): the refresh is refused, the agency token mints again, once
      h.admin(srv, "POST", "/_mock/oauth/revoke", { locationId = LOC })
      h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      st = stats()
      assert.are.equal(2, st.refresh_calls)
      assert.are.equal(1, st.invalid_grants)
      assert.are.equal(2, st.location_token_calls)
      -- and the new one refreshes again
      h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      assert.are.equal(3, stats().refresh_calls)
      assert.are.equal(2, stats().location_token_calls)
    end)

    it("a revoked location refresh token, and the mint fails too: says both", function()
      local a = agency()
      local c = client(a, { company_id = COMP, location_id = LOC, max_retries = 0 })
      assert(c.contacts:get("SeedC000000000000001"))
      h.admin(srv, "POST", "/_mock/oauth/revoke", { locationId = LOC })
      h.admin(srv, "POST", "/_mock/oauth/revoke", { companyId = COMP })
      h.admin(srv, "POST", "/_mock/oauth/expire")
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(body)
      assert.are.equal("auth", err.kind)
      assert.matches("the refresh token of Location " .. LOC .. " was rejected %(invalid_grant%) and cannot mint",
        err.message)
      assert.matches("re%-authorisation is needed", err.message) -- the agency's own refresh token
      assert.are.equal(1, stats().location_token_calls)
    end)

    it("a refresh token of a location installed directly is not replaced by a mint", function()
      local a = app()
      assert(a:exchange(code()))
      local c = client(a, { location_id = LOC, max_retries = 0 })
      h.admin(srv, "POST", "/_mock/oauth/revoke", { locationId = LOC })
      h.admin(srv, "POST", "/_mock/oauth/expire")
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(body)
      assert.are.equal("reauthorize", err.reason)
      assert.matches("re%-authorisation is needed", err.message)
      assert.are.equal(0, stats().location_token_calls)
    end)
  end)

  describe("a Private Integration Token client", function()
    local function pit(token, extra)
      local o = { token = token, base_url = srv.url, max_retries = 0 }
      for k, v in pairs(extra or {}) do o[k] = v end
      return ghl.new(o)
    end

    it("is refused, unsent, where GHL takes OAuth tokens only", function()
      local c = pit(server.AGENCY_TOKEN, { company_id = COMP })
      for key, p in pairs{
        ["oauth.get-installed-location"] = { companyId = COMP, appId = "x" },
        ["oauth.get-location-access-token"] = { companyId = COMP, locationId = LOC },
        ["marketplace.getCharges"] = {},
        ["marketplace.get-installer-details"] = { appId = "x" },
      } do
        local body, err = c:call(key, p)
        assert.is_nil(body, key)
        assert.are.equal("auth", err.kind)
        assert.are.equal("oauth_only", err.reason, key)
        assert.matches("OAuth tokens only", err.message)
      end
      assert.are.equal(0, #h.requests(srv))
    end)

    it("sends the PIT elsewhere; a 401 at the other level says so", function()
      local agency = pit(server.AGENCY_TOKEN, { company_id = COMP })
      assert.are.equal(COMP, assert(agency:call("companies.get-company", { companyId = COMP })).company.id)
      local _, err = agency.contacts:get("SeedC000000000000001")
      assert.are.equal(401, err.status)
      assert.matches("needs a sub%-account token: an agency Private Integration Token cannot call it", err.message)
      local sub = pit(server.TOKEN, { location_id = LOC })
      _, err = sub:call("companies.get-company", { companyId = COMP })
      assert.are.equal(401, err.status)
      assert.matches("needs an agency token: a sub%-account Private Integration Token cannot call it", err.message)
      assert.are.equal(3, #h.requests(srv))
    end)

    it("an OAuth access token given as token= is not taken for a PIT", function()
      local a = app{ user_type = "Company" }
      assert(a:exchange(code("Company")))
      local access = assert(a:token("Company", COMP))
      local c = pit(access, { company_id = COMP })
      local n = 0
      for _ in c:each_of("oauth.get-installed-location", { companyId = COMP, appId = server.CLIENT_ID:match("^[^-]*") }) do
        n = n + 1
      end
      assert.is_true(n > 0)
    end)
  end)

  describe("the token endpoint", function()
    -- the form fields of the token requests the server saw (secrets logged as "(present)")
    local function token_forms()
      local out = {}
      for _, r in ipairs(h.requests(srv)) do
        if r.path == "/oauth/token" then
          local f = {}
          for k, v in (r.body or ""):gmatch("([^&=]+)=([^&]*)") do f[k] = v end
          out[#out + 1] = f
        end
      end
      return out
    end

    it("sends user_type with the code and with each refresh, Location and Company", function()
      local a = app{ user_type = "Company" }
      assert(a:exchange(code("Company")))
      local l = app()
      assert(l:exchange(code()))
      assert(a:refresh(COMP))
      assert(l:refresh(LOC))
      local forms = token_forms()
      assert.are.equal(4, #forms)
      assert.are.same({ "authorization_code", "Company" }, { forms[1].grant_type, forms[1].user_type })
      assert.are.same({ "authorization_code", "Location" }, { forms[2].grant_type, forms[2].user_type })
      assert.are.same({ "refresh_token", "Company" }, { forms[3].grant_type, forms[3].user_type })
      assert.are.same({ "refresh_token", "Location" }, { forms[4].grant_type, forms[4].user_type })
      -- the server checks it: a Company code asked for as a Location token is refused
      local s, err = app():exchange(code("Company"))
      assert.is_nil(s)
      assert.are.equal("auth", err.kind)
      assert.are.equal("invalid_grant", err.oauth_error)
    end)

    it("takes camelCase answers (accessToken, expiresIn, refreshToken) for code, refresh and mint", function()
      h.admin(srv, "POST", "/_mock/oauth", { token_style = "camel", access_ttl_s = 3600 })
      local a = app{ user_type = "Company" }
      local s = assert(a:exchange(code("Company")))
      assert.is_true(s.has_refresh_token)
      local hour = os.time() * 1000 + 3600 * 1000
      assert.is_true(math.abs(s.expires_at - hour) < 5000, "expiresIn read")
      assert(a:refresh(COMP))
      local loc = assert(a:location_token(COMP, LOC))
      assert.is_true(loc.has_refresh_token)
      local c = client(a, { company_id = COMP, location_id = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      local st = stats()
      assert.are.equal(2, st.refresh_calls)
      assert.are.equal(1, st.location_token_calls)
    end)

    it("\"Location is not active\" on refresh: reported as such, not retried, no mint, tokens kept", function()
      local a = app{ user_type = "Company" }
      assert(a:exchange(code("Company")))
      local c = client(a, { company_id = COMP, location_id = LOC })
      assert(c.contacts:get("SeedC000000000000001"))
      h.admin(srv, "POST", "/_mock/oauth", { inactive_locations = { LOC } })
      h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = LOC })
      local before = stats()
      local body, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(body)
      assert.are.equal("auth", err.kind)
      assert.are.equal("location_inactive", err.reason)
      assert.are.equal(400, err.status)
      assert.matches("Location is not active", err.message)
      assert.matches("no re%-authorisation is needed", err.message)
      local st = stats()
      assert.are.equal(before.refresh_calls + 1, st.refresh_calls) -- once, not retried
      assert.are.equal(before.location_token_calls, st.location_token_calls) -- not minted again
      assert.is_true(a:session(LOC).has_refresh_token) -- kept for when it is active again
      -- active again: the same refresh token works
      h.admin(srv, "POST", "/_mock/oauth", { inactive_locations = {} })
      assert(c.contacts:get("SeedC000000000000001"))
    end)

    it("\"Location is not active\" on a mint: reported as such", function()
      local a = app{ user_type = "Company" }
      assert(a:exchange(code("Company")))
      h.admin(srv, "POST", "/_mock/oauth", { inactive_locations = { LOC } })
      local c = client(a, { company_id = COMP, location_id = LOC, max_retries = 3 })
      local _, err = c.contacts:get("SeedC000000000000001")
      assert.are.equal("location_inactive", err.reason)
      assert.are.equal(1, stats().location_token_calls)
    end)
  end)

  it("the records in the store hold no camelCase duplicates and no secret outside the store", function()
    local store = ghl.store.memory()
    local a = app{ user_type = "Company", store = store }
    assert(a:exchange(code("Company")))
    assert(a:location_token(COMP, LOC))
    for _, raw in pairs(store.data) do
      local rec = cjson.decode(raw)
      if rec.user_type then
        assert.is_nil(rec.accessToken)
        assert.is_string(rec.refresh_token)
      end
    end
    local s = a:session(LOC)
    h.assert_no_secret(cjson.encode(s), cjson.decode(store.data[a:_key("Location", LOC)]).refresh_token, "session")
  end)
end)
