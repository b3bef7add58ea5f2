-- One refresh per expiry across OS processes: 8 processes share a file
-- store (flock) or a Redis store (lease), all find the token expired at the
-- same moment, and the server sees exactly one refresh; every one succeeds.
-- And a process that dies between receiving a new pair and storing it loses
-- nothing: the next refresh repeats the old token within GHL's 30 s window.
local h = require "spec.support.helpers"
local ghl = require "ghl"
local server = require "spec.support.server"
local redis_server = require "spec.support.redis"
local cjson = require "cjson"

local LUA = jit and "luajit" or "lua5.4"
local WORKERS = 8

describe("refresh race #subprocess", function()
  local srv = h.server()
  local redis
  setup(function()
    srv.start()
    redis = redis_server.start()
  end)
  teardown(function()
    srv.stop()
    if redis then redis.stop() end
  end)
  before_each(srv.reset)

  local function stats() return h.admin(srv, "GET", "/_mock/oauth") end

  -- tokens for the location in `store`, then expired on both sides (the
  -- record says so, and the server refuses the old access token)
  local function expired_tokens(store)
    local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                           store = store }
    local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Location", locationId = server.LOCATION_ID }).code
    assert(app:exchange(code))
    local key = app:_key("Location", server.LOCATION_ID)
    local rec = cjson.decode((assert(store:get(key))))
    rec.expires_at = 0
    assert(store:set(key, cjson.encode(rec)))
    h.admin(srv, "POST", "/_mock/oauth/expire")
  end

  -- runs n workers at once; returns the exit codes and outputs
  local function race(kind, where, n, mode)
    local start_at = math.floor(require("ghl.clock").now_ms() + 700)
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local cmds = {}
    for i = 1, n do
      cmds[#cmds + 1] = ("(%s spec/support/oauth_worker.lua %s %s %s %d %s >%s/out.%d 2>&1; echo $? >%s/rc.%d) &")
        :format(LUA, srv.url, kind, where, start_at, mode or "", dir, i, dir, i)
    end
    os.execute(table.concat(cmds, " ") .. " wait")
    local codes, outs = {}, {}
    for i = 1, n do
      local f = io.open(dir .. "/rc." .. i)
      codes[i] = f and tonumber(f:read("*l"))
      if f then f:close() end
      f = io.open(dir .. "/out." .. i)
      outs[i] = f and f:read("a") or ""
      if f then f:close() end
    end
    os.execute("rm -rf " .. dir)
    return codes, outs
  end

  local function all_ok(codes, outs)
    for i = 1, #codes do
      assert.are.equal(0, codes[i], "worker " .. i .. ": " .. outs[i])
      assert.matches("^ok SeedC000000000000001", outs[i])
    end
  end

  it("8 processes on a file store: exactly one refresh", function()
    local path = h.private_dir() .. "/tokens.json"
    expired_tokens(ghl.store.file(path))
    local codes, outs = race("file", path, WORKERS)
    all_ok(codes, outs)
    assert.are.equal(1, stats().refresh_calls)
    -- the file holds the secrets: owner only
    local p = io.popen("stat -c %a " .. path)
    assert.are.equal("600", p:read("*l"))
    p:close()
    os.remove(path)
  end)

  it("8 processes on a Redis store: exactly one refresh", function()
    expired_tokens(ghl.store.redis{ host = redis.host, port = redis.port, prefix = "race:" })
    local codes, outs = race("redis", redis.host .. ":" .. redis.port, WORKERS)
    all_ok(codes, outs)
    assert.are.equal(1, stats().refresh_calls)
  end)

  for _, kind in ipairs{ "file", "redis" } do
    it(("a process that dies before storing the new pair loses nothing (%s store)"):format(kind), function()
      local where, store
      if kind == "file" then
        where = h.private_dir() .. "/tokens.json"
        store = ghl.store.file(where)
      else
        where = redis.host .. ":" .. redis.port
        store = ghl.store.redis{ host = redis.host, port = redis.port, prefix = "race:" }
      end
      expired_tokens(store)
      local codes = race(kind, where, 1, "crash")
      assert.are.equal(3, codes[1], "the crashing worker must die in set()")
      assert.are.equal(1, stats().refresh_calls)
      local codes2, outs2 = race(kind, where, WORKERS)
      all_ok(codes2, outs2)
      local st = stats()
      assert.are.equal(2, st.refresh_calls) -- the lost one, and its repeat
      assert.are.equal(1, st.refresh_repeats)
      assert.are.equal(0, st.invalid_grants)
      if kind == "file" then os.remove(where) end
    end)
  end

  -- the location record says it expired, and the server refuses its access token
  local function expire_location(app, store)
    local key = app:_key("Location", server.LOCATION_ID)
    local rec = cjson.decode((assert(store:get(key))))
    rec.expires_at = 0
    assert(store:set(key, cjson.encode(rec)))
    h.admin(srv, "POST", "/_mock/oauth/expire", { locationId = server.LOCATION_ID })
  end

  for _, kind in ipairs{ "file", "redis" } do
    it(("8 processes, an agency install: one mint, one refresh, one mint after a revoke (%s store)"):format(kind),
      function()
        local where, store
        if kind == "file" then
          where = h.private_dir() .. "/tokens.json"
          store = ghl.store.file(where)
        else
          where = redis.host .. ":" .. redis.port
          store = ghl.store.redis{ host = redis.host, port = redis.port, prefix = "mint:" }
        end
        local app = ghl.oauth{ client_id = server.CLIENT_ID, client_secret = server.CLIENT_SECRET, base_url = srv.url,
                               store = store, user_type = "Company" }
        local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Company", companyId = server.COMPANY_ID }).code
        assert(app:exchange(code))
        app:forget(server.LOCATION_ID) -- (Redis outlives a test)
        -- no location token yet: all 8 need one at once, one mints it
        all_ok(race(kind, where, WORKERS, "agency"))
        local st = stats()
        assert.are.same({ 1, 0 }, { st.location_token_calls, st.refresh_calls })
        assert.is_true(app:session(server.LOCATION_ID).has_refresh_token)
        -- it expires: one refresh with its refresh token, no mint
        expire_location(app, store)
        all_ok(race(kind, where, WORKERS, "agency"))
        st = stats()
        assert.are.same({ 1, 1, 0 }, { st.location_token_calls, st.refresh_calls, st.invalid_grants })
        -- its refresh token is revoked: one refused refresh, one mint
        h.admin(srv, "POST", "/_mock/oauth/revoke", { locationId = server.LOCATION_ID })
        expire_location(app, store)
        all_ok(race(kind, where, WORKERS, "agency"))
        st = stats()
        assert.are.same({ 2, 2, 1 }, { st.location_token_calls, st.refresh_calls, st.invalid_grants })
        assert.are.equal(0, st.refresh_repeats)
        if kind == "file" then os.remove(where) end
      end)
  end
end)
