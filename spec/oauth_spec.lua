-- OAuth 2.0 end to end against the local server: authorize URL, code
-- exchange, proactive and reactive refresh, rotation, invalid_grant, agency
-- -> location tokens, installed locations, stores, and no secret anywhere.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local cjson = require "cjson"

local LOC, COMP = server.LOCATION_ID, "CompMock000000000001"

describe("oauth", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  local function app(extra)
    local o = { client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                redirect_uri = "https://app.example.com/oauth/callback", store = ghl.store.memory() }
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
    local o = { oauth = a, location_id = LOC, base_url = srv.url, retry_base_ms = 5, retry_max_delay_ms = 20 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ghl.new(o)
  end

  it("builds the /v2/oauth/chooselocation URL, white label too", function()
    local a = app()
    local url = a:authorize_url{ scope = { "contacts.readonly", "contacts.write" }, state = "s t" }
    assert.matches("^https://marketplace%.gohighlevel%.com/v2/oauth/chooselocation%?", url)
    assert.matches("response_type=code", url)
    assert.matches("scope=contacts%.readonly%%20contacts%.write", url)
    assert.matches("state=s%%20t", url)
    assert.matches("redirect_uri=https%%3A%%2F%%2Fapp%.example%.com%%2Foauth%%2Fcallback", url)
    assert.matches("client_id=" .. server.CLIENT_ID, url, 1, true)
    assert.matches("^https://marketplace%.leadconnectorhq%.com/v2/", a:authorize_url{ white_label = true })
    assert.matches("loginWindowOpenMode=self", a:authorize_url{ login_window = "self" })
  end)

  it("checks the state of the redirect", function()
    assert.is_true(ghl.oauth.check_state("abc123", "abc123"))
    local ok, err = ghl.oauth.check_state("abc123", "abc124")
    assert.is_nil(ok)
    assert.are.equal("auth", err.kind)
    assert.is_nil((ghl.oauth.check_state("abc", nil)))
  end)

  it("exchanges a code, stores the tokens and calls the API with them", function()
    local a = app()
    local s = assert(a:exchange(code()))
    assert.are.equal("Location", s.user_type)
    assert.are.equal(LOC, s.location_id)
    assert.is_true(s.has_refresh_token)
    assert.is_nil(s.access_token)
    local c = client(a)
    assert.are.equal("SeedC000000000000001", assert(c.contacts:get("SeedC000000000000001")).id)
    assert.are.equal(1, stats().code_calls)
  end)

  it("lists the sessions its store holds (memory and file stores)", function()
    local dir = io.popen("mktemp -d /tmp/ghl-sessions.XXXXXX"):read("*l")
    for _, store in ipairs{ ghl.store.memory(), ghl.store.file(dir .. "/tokens.json") } do
      local a = app{ store = store }
      assert.are.same({}, assert(a:sessions()))
      assert(a:exchange(code("Location")))
      assert(app{ store = store, user_type = "Company" }:exchange(code("Company")))
      assert(store:set("another-app:Location:x", { access_token = "t" }))
      assert.are.same({ { user_type = "Company", id = COMP }, { user_type = "Location", id = LOC } }, assert(a:sessions()))
    end
    os.execute("rm -rf '" .. dir .. "'")
    local nolist = ghl.store.memory()
    nolist.keys = false -- a store of ones own without keys()
    local a = app{ store = nolist }
    local none, err = a:sessions()
    assert.is_nil(none)
    assert.matches("cannot list", err)
  end)

  it("accepts both token key styles", function()
    h.admin(srv, "POST", "/_mock/oauth", { token_style = "camel" })
    local a = app()
    assert(a:exchange(code()))
    assert(client(a).contacts:get("SeedC000000000000001"))
  end)

  it("refreshes before expiry (proactive), once, and stores the rotated pair first", function()
    h.admin(srv, "POST", "/_mock/oauth", { access_ttl_s = 2 })
    local store = ghl.store.memory()
    local a = app{ store = store, refresh_skew_ms = 1500 }
    assert(a:exchange(code()))
    local first = cjson.decode(store.data[next(store.data)])
    require("socket").sleep(0.6) -- now within the skew
    local c = client(a)
    assert(c.contacts:get("SeedC000000000000001"))
    assert(c.contacts:get("SeedC000000000000002"))
    assert.are.equal(1, stats().refresh_calls)
    local now = cjson.decode(store.data[next(store.data)])
    assert.are_not.equal(first.refresh_token, now.refresh_token)
    assert.are_not.equal(first.access_token, now.access_token)
    for _, r in ipairs(h.requests(srv)) do assert.are_not.equal(401, r.status) end
  end)

  it("refreshes once on a 401 that says the token expired, then retries once", function()
    local a = app()
    assert(a:exchange(code()))
    local c = client(a)
    assert(c.contacts:get("SeedC000000000000001"))
    h.admin(srv, "POST", "/_mock/oauth/expire")
    local contact = assert(c.contacts:get("SeedC000000000000001"))
    assert.are.equal("SeedC000000000000001", contact.id)
    assert.are.equal(1, stats().refresh_calls)
  end)

  it("does not refresh on a scope 401 or a location 403", function()
    local a = app()
    assert(a:exchange(code()))
    local c = client(a, { max_retries = 0 })
    for _, f in ipairs{ "auth_scope", "auth_location" } do
      h.fault(srv, "GET", "/contacts/SeedC000000000000001", f, 1)
      local v, err = c.contacts:get("SeedC000000000000001")
      assert.is_nil(v)
      assert.are.equal("auth", err.kind)
    end
    assert.are.equal(0, stats().refresh_calls)
  end)

  it("a refresh token rotated elsewhere: invalid_grant says re-authorisation is needed", function()
    h.admin(srv, "POST", "/_mock/oauth", { repeat_window_s = 0 })
    local store = ghl.store.memory()
    local a = app{ store = store }
    assert(a:exchange(code()))
    -- another app instance with a copy of the store rotates the token behind our back
    local other = ghl.store.memory()
    for k, v in pairs(store.data) do other.data[k] = v end
    assert(app{ store = other }:refresh(LOC))
    local s, err = a:refresh(LOC)
    assert.is_nil(s)
    assert.are.equal("auth", err.kind)
    assert.matches("re%-authorisation is needed", err.message)
  end)

  it("invalid_grant after another worker rotated the stored pair: uses the stored one", function()
    h.admin(srv, "POST", "/_mock/oauth", { repeat_window_s = 0 })
    local store = ghl.store.memory()
    local a = app{ store = store }
    assert(a:exchange(code()))
    local stale = store.data[next(store.data)]
    assert(app{ store = store }:refresh(LOC)) -- rotated through the same store
    -- our caller still holds the old access token and gets a 401
    local rec = cjson.decode(stale)
    local token = assert(a:renew("Location", LOC, rec.access_token))
    assert.are_not.equal(rec.access_token, token)
    assert.are.equal(1, stats().refresh_calls)
  end)

  it("agency token -> location token without a refresh token (older answers): minted again when it expires", function()
    h.admin(srv, "POST", "/_mock/oauth", { location_refresh_token = false })
    local a = app{ user_type = "Company" }
    local s = assert(a:exchange(code("Company")))
    assert.are.equal("Company", s.user_type)
    assert.are.equal(COMP, s.company_id)
    local loc = assert(a:location_token(COMP, LOC))
    assert.are.equal(LOC, loc.location_id)
    assert.are.equal(COMP, loc.minted_from)
    assert.is_false(loc.has_refresh_token)
    local c = client(a, { company_id = COMP })
    assert(c.contacts:get("SeedC000000000000001"))
    h.admin(srv, "POST", "/_mock/oauth/expire")
    assert(c.contacts:get("SeedC000000000000001"))
    local st = stats()
    assert.are.equal(2, st.location_token_calls)
    assert.are.equal(1, st.refresh_calls) -- the agency token was refreshed to mint again
  end)

  it("mints a location token on first use when the client knows the company", function()
    local a = app{ user_type = "Company" }
    assert(a:exchange(code("Company")))
    local c = client(a, { company_id = COMP })
    assert(c.contacts:get("SeedC000000000000001"))
    assert.are.equal(1, stats().location_token_calls)
  end)

  it("iterates installed locations with the agency token", function()
    local a = app{ user_type = "Company" }
    assert(a:exchange(code("Company")))
    local n = 0
    for loc in a:installed_locations{ companyId = COMP, limit = 10 } do
      assert.is_string(loc._id)
      n = n + 1
    end
    assert.are.equal(25, n)
  end)

  it("keeps a new pair the store cannot save, reports it, and saves it at a later call", function()
    local store = ghl.store.memory()
    local reports = {}
    local a = app{ store = store, on_store_error = function(info) reports[#reports + 1] = info end }
    assert(a:exchange(code()))
    local key = next(store.data)
    local old = cjson.decode(store.data[key])
    local set = store.set
    store.set = function() return nil, "disk full" end
    -- GHL has spent the old refresh token: the new pair is not dropped
    local s = assert(a:refresh(LOC))
    assert.is_true(s.has_refresh_token)
    assert.are.equal(1, #reports)
    local r = reports[1]
    assert.are.same({ "save", "Location", LOC, 4, true }, { r.op, r.user_type, r.id, r.attempts, r.kept })
    assert.matches("cannot save the new tokens: disk full", r.message)
    assert.are.equal(old.refresh_token, cjson.decode(store.data[key]).refresh_token)
    -- the process goes on with it, and saves it once the store takes it again
    local c = client(a)
    assert(c.contacts:get("SeedC000000000000001"))
    store.set = set
    require("socket").sleep(1.05) -- a kept pair is tried at most once a second
    assert(c.contacts:get("SeedC000000000000002"))
    local now = cjson.decode(store.data[key])
    assert.are_not.equal(old.refresh_token, now.refresh_token)
    assert.are.equal(1, #reports)
    local st = stats()
    assert.are.equal(1, st.refresh_calls)
    assert.are.equal(0, st.invalid_grants)
  end)

  it("wants a lease longer than a token request", function()
    local err = h.raised(ghl.oauth, { client_id = server.CLIENT_ID, client_secret = "x", timeout_ms = 5000,
                                      lock_ttl_ms = 5000 })
    assert.are.equal("invalid_argument", err.kind)
    assert.matches("lock_ttl_ms", err.message)
    assert.is_truthy(app{ timeout_ms = 5000, lock_ttl_ms = 5001 })
  end)

  it("reports a token answer without an access token or refresh token", function()
    local curl = require("ghl.curl").new{}
    local fake = { perform = function(_, req)
      if req.path == "/oauth/token" then return 200, {}, '{"token_type":"Bearer","expires_in":10}' end
      return curl:perform(req)
    end }
    local a = app{ transport = fake }
    local s, err = a:exchange("any-code")
    assert.is_nil(s)
    assert.are.equal("decode", err.kind)
    assert.matches("no access_token", err.message)
  end)

  it("refuses a bad app configuration at once", function()
    for _, bad in ipairs{
      { client_id = server.CLIENT_ID, client_secret = "" },
      { client_id = "", client_secret = "x" },
      { client_id = server.CLIENT_ID, client_secret = "x", user_type = "Agency" },
      { client_id = server.CLIENT_ID, client_secret = "x", store = {} },
      { client_id = server.CLIENT_ID, client_secret = "x", bogus = 1 },
      { client_id = server.CLIENT_ID, client_secret = "x", on_store_error = "not a function" },
    } do
      local err = h.raised(ghl.oauth, bad)
      assert.are.equal("invalid_argument", err.kind)
    end
    assert.matches("needs location_id or company_id", h.raised(ghl.new, { oauth = app() }).message)
    assert.matches("not both", h.raised(ghl.new, { oauth = app(), token = "x", location_id = LOC }).message)
  end)

  it("puts no secret in any error, tostring or session", function()
    local store = ghl.store.memory()
    local a = app{ store = store }
    local the_code = code()
    local texts = {}
    local function keep(v) texts[#texts + 1] = type(v) == "table" and cjson.encode(v) or tostring(v) end
    keep(select(2, a:exchange("wrong-" .. the_code)))
    assert(a:exchange(the_code))
    keep(select(2, a:exchange(the_code))) -- reused code: invalid_grant
    local c = client(a)
    keep(tostring(c))
    keep(tostring(a))
    keep(a:session(LOC))
    h.fault(srv, "GET", "/contacts/x", "echo_token", 1)
    local _, e = c.contacts:get("x")
    keep(e)
    keep(e.body)
    local rec = cjson.decode(store.data[next(store.data)])
    for _, text in ipairs(texts) do
      for _, secret in ipairs{ server.CLIENT_SECRET, rec.access_token, rec.refresh_token, the_code } do
        assert.is_nil(text:find(secret, 1, true), "a secret leaked into: " .. text)
      end
    end
  end)

  it("puts no secret in an error in any spelling the token endpoint echoes it in", function()
    local store = ghl.store.memory()
    local a = app{ store = store }
    local texts = {}
    local function keep(err)
      texts[#texts + 1] = tostring(err) .. cjson.encode(err.body or {}) .. tostring(err.oauth_error)
      if type(err.body) == "table" then
        for _, v in pairs(err.body) do texts[#texts + 1] = tostring(v) end
      end
    end
    -- the exchange: the code and the client secret go out form-encoded
    local the_code = code()
    h.fault(srv, "POST", "/oauth/token", "echo_encoded", 1)
    local s, err = a:exchange(the_code)
    assert.is_nil(s)
    keep(err)
    -- the refresh: the refresh token too
    assert(a:exchange(code()))
    local rec = cjson.decode(store.data[next(store.data)])
    h.fault(srv, "POST", "/oauth/token", "echo_encoded", 1)
    local r, rerr = a:refresh(LOC)
    assert.is_nil(r)
    keep(rerr)
    -- an API call that echoes the access token encoded
    local c = client(a)
    h.fault(srv, "GET", "/contacts/x", "echo_encoded", 1)
    local _, e = c.contacts:get("x")
    keep(e)
    for _, text in ipairs(texts) do
      for _, secret in ipairs{ server.CLIENT_SECRET, the_code, rec.refresh_token, rec.access_token } do
        h.assert_no_secret(text, secret, "an OAuth error")
      end
    end
    assert.matches("[REDACTED]", texts[1], 1, true)
  end)
end)

