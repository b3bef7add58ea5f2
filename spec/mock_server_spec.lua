-- `make mock`: the local GHL server in the foreground. It prints the export
-- lines once it answers, stops nginx and removes its folder on SIGINT,
-- SIGTERM and SIGHUP (sent to make or to the server's own process) and when
-- make dies, and refuses a busy port before printing anything. The README's
-- list of what it serves is checked against the routes it registers.
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local server = require "spec.support.server"
local sys = require "spec.support.sys"

local q, sh, capture, read = sys.q, sys.sh, sys.capture, sys.read

-- a pid's state letter from /proc, nil when it is gone (Z: dead, not reaped)
local function state(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat and stat:match("^%d+ %b() (%a)")
end

local function gone(pid)
  local s = state(pid)
  return s == nil or s == "Z" or s == "X"
end

local function children(pid)
  local out = {}
  for c in (read(("/proc/%s/task/%s/children"):format(pid, pid)) or ""):gmatch("%d+") do out[#out + 1] = c end
  return out
end

local function comm(pid)
  return ((read("/proc/" .. pid .. "/comm") or ""):gsub("%s+$", ""))
end

local function wait_until(seconds, fn)
  local deadline = socket.gettime() + seconds
  repeat
    local v = fn()
    if v then return v end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return fn()
end

local function get(url, headers)
  local out = {}
  local _, code = http.request{ url = url, headers = headers, sink = ltn12.sink.table(out) }
  return code, table.concat(out)
end

local function refuses(port)
  local c = socket.tcp()
  c:settimeout(0.5)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return not ok
end

-- the mock folder whose nginx listens on port (nil when there is none)
local function prefix_of(port)
  local out = capture(("grep -l 'listen 127.0.0.1:%d;' /tmp/ghl-mock.*/nginx.conf 2>/dev/null"):format(port))
  local conf = out:match("[^\n]+")
  return conf and conf:match("^(.*)/nginx%.conf$")
end

local tmp = capture("mktemp -d /tmp/ghl-mockspec.XXXXXX"):match("[^\n]+")

-- `make mock` as a person at a terminal runs it: its own session and process
-- group, none of its signals ignored (a background job's SIGINT would be),
-- and not a sub-make of the `make test` running this suite (under its -j2 -O
-- the banner would be held back until the server ends)
local MAKE_MOCK = "setsid env --default-signal=INT,HUP,TERM -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s mock MOCK_PORT=%d"
local function start_make(port)
  local log = ("%s/make-%d.log"):format(tmp, port)
  local pid = capture((MAKE_MOCK .. " >%s 2>&1 </dev/null & echo $!")
    :format(port, q(log))):match("%d+")
  assert(pid, "make did not start")
  local run = { make = pid, log = log, port = port }
  run.banner = wait_until(90, function() -- make may build the modules first
    local text = read(log) or ""
    if text:find("export GHL_CLIENT_SECRET=", 1, true) or gone(pid) then return text end
  end)
  for _, c in ipairs(children(pid)) do
    if comm(c):match("^lua") then run.lua = c end
  end
  run.prefix = prefix_of(port)
  run.nginx = run.prefix and (read(run.prefix .. "/logs/nginx.pid") or ""):match("%d+")
  return run
end

-- whatever is left of a run, gone (a failed check must not leave nginx behind)
local function finish(run)
  sh("kill -KILL -" .. run.make .. " 2>/dev/null")
  if run.nginx and not gone(run.nginx) then sh("kill -TERM " .. run.nginx .. " 2>/dev/null") end
  if run.prefix then sh("rm -rf " .. q(run.prefix)) end
end

describe("make mock #nginx", function()
  teardown(function() sh("rm -rf " .. q(tmp)) end)

  local cases = {
    { "SIGTERM to make (make passes it on)", "make", "TERM" },
    { "SIGINT to make alone (make waits for its children without telling them)", "make", "INT" },
    { "SIGHUP to make alone", "make", "HUP" },
    { "SIGTERM to the server's Lua process", "lua", "TERM" },
    { "SIGINT to the server's Lua process", "lua", "INT" },
    { "SIGHUP to the server's Lua process", "lua", "HUP" },
    { "Ctrl-C: SIGINT to the whole process group", "group", "INT" },
    { "its parent killed outright (SIGKILL to make)", "make", "KILL" },
  }
  for _, case in ipairs(cases) do
    local what, target, sig = case[1], case[2], case[3]
    it("stops nginx and removes its folder on " .. what, function()
      local run = start_make(server.free_port())
      local ok, err = pcall(function()
        local banner = run.banner or ""
        assert.is_truthy(banner:find("export GHL_BASE_URL=http://127.0.0.1:" .. run.port, 1, true), banner)
        assert.is_truthy(banner:find("export GHL_TOKEN=" .. server.TOKEN, 1, true), banner)
        assert.is_truthy(run.lua, "no Lua process under make")
        assert.is_truthy(run.prefix, "no /tmp/ghl-mock.* folder for port " .. run.port)
        assert.is_truthy(run.nginx, "no nginx pid")
        -- it answers as soon as the export lines are out
        local code, body = get(("http://127.0.0.1:%d/contacts/SeedC000000000000001"):format(run.port),
          { authorization = "Bearer " .. server.TOKEN, version = "2021-07-28" })
        assert.are.equal(200, code, body)
        assert.are.equal("SeedC000000000000001", cjson.decode(body).contact.id)

        local pid = target == "lua" and run.lua or target == "group" and ("-" .. run.make) or run.make
        assert(sh(("kill -%s %s"):format(sig, pid)))
        assert.is_truthy(wait_until(10, function() return gone(run.nginx) end), "nginx still runs: " .. run.nginx)
        assert.is_true(refuses(run.port), "the port still answers")
        assert.is_truthy(wait_until(5, function() return not read(run.prefix .. "/config.lua") end),
          run.prefix .. " is still there")
        assert.is_truthy(wait_until(10, function() return gone(run.make) and gone(run.lua) end),
          "make or its Lua process is still running")
      end)
      finish(run)
      assert(ok, err)
    end)
  end

  local early = {
    { "Ctrl-C (SIGINT to the process group)", "group", "INT" },
    { "SIGTERM to the server's Lua process", "lua", "TERM" },
    { "SIGHUP to make alone", "make", "HUP" },
  }
  for _, case in ipairs(early) do
    local what, target, sig = case[1], case[2], case[3]
    it("leaves nothing behind on " .. what .. " while it starts, before the export lines", function()
      local port = server.free_port()
      local log = ("%s/early-%d.log"):format(tmp, port)
      local pid = capture((MAKE_MOCK .. " >%s 2>&1 </dev/null & echo $!")
        :format(port, q(log))):match("%d+")
      local run = { make = pid, port = port }
      local ok, err = pcall(function()
        -- the port takes connections: nginx listens, its workers may not answer yet, and the
        -- server's Lua process is making sure they do before it prints the export lines
        local deadline = socket.gettime() + 90
        while refuses(port) and not gone(pid) and socket.gettime() < deadline do socket.sleep(0.002) end
        for _, c in ipairs(children(pid)) do
          if comm(c):match("^lua") then run.lua = c end
        end
        local to = target == "lua" and run.lua or target == "group" and ("-" .. pid) or pid
        assert.is_truthy(to, "no Lua process under make")
        assert(sh(("kill -%s %s"):format(sig, to)))
        run.prefix = prefix_of(port)
        assert.is_truthy(wait_until(10, function() return gone(pid) end), "make mock did not stop")
        assert.is_truthy(wait_until(5, function() return refuses(port) end), "nginx still answers")
        assert.is_truthy(wait_until(5, function() return not prefix_of(port) end), "its folder is still there")
      end)
      finish(run)
      assert(ok, tostring(err) .. "\n" .. (read(log) or ""))
    end)
  end

  it("refuses a busy port first and clearly: no export line, a non-zero exit", function()
    local busy = assert(socket.bind("127.0.0.1", 0))
    local _, port = busy:getsockname()
    local out = capture(("timeout 90 make -s mock MOCK_PORT=%d 2>&1 </dev/null; echo \"exit=$?\""):format(port))
    busy:close()
    assert.is_truthy(out:find(("port %d is in use; make mock MOCK_PORT=%%d+"):format(port)), out)
    assert.is_falsy(out:find("export ", 1, true), out)
    local code = tonumber(out:match("exit=(%d+)"))
    assert.is_truthy(code and code ~= 0, out)
    assert.is_nil(prefix_of(port))
    -- bin/ghl mock says it the same way, with its own command
    busy = assert(socket.bind("127.0.0.1", port))
    out = capture(("timeout 60 lua5.4 bin/ghl mock %d 2>&1 </dev/null; echo \"exit=$?\""):format(port))
    busy:close()
    assert.is_truthy(out:find(("port %d is in use; ghl mock %%d+"):format(port)), out)
    assert.is_falsy(out:find("export ", 1, true), out)
    assert.are.equal("1", out:match("exit=(%d+)"))
  end)
end)

describe("the README's list of what the local GHL server serves #nginx", function()
  local srv
  setup(function() srv = server.start() end)
  teardown(function() if srv then srv:stop() end end)

  -- {name = count} of the routes under each first path segment
  local function by_service(routes, generic)
    local out = {}
    for _, r in ipairs(routes) do
      if r.generic == generic then
        local name = assert(r.path:match("^/([^/]+)"), r.path)
        out[name] = (out[name] or 0) + 1
      end
    end
    return out
  end

  local function line_of(counts, with_counts)
    local names = {}
    for k in pairs(counts) do names[#names + 1] = k end
    table.sort(names)
    for i, k in ipairs(names) do
      names[i] = with_counts and ("`/%s` (%d)"):format(k, counts[k]) or ("`/%s`"):format(k)
    end
    return table.concat(names, ", ")
  end

  -- the bullet of the README's "The local GHL server" section that starts with `head`
  local function bullet(readme, head)
    local section = readme:match("\n## The local GHL server\n(.-)\n## ") or ""
    local text = section:match("\n%- %*%*" .. head .. "%*%*(.-)\n[^ ]") or ""
    return (text:gsub("%s+", " "))
  end

  it("names every service the mock has routes for, with state or as generic pages", function()
    local code, body = get(srv.url .. "/_mock/routes")
    assert.are.equal(200, code, body)
    local routes = cjson.decode(body).routes
    assert.is_true(#routes > 100)
    local readme = sys.slurp("README.md")
    local stateful, generic = by_service(routes, false), by_service(routes, true)

    local listed = {}
    for name, n in bullet(readme, "With state"):gmatch("`/([%w%-]+)` %((%d+)") do listed[name] = tonumber(n) end
    assert.are.same(stateful, listed, "README's \"With state\" bullet should list: " .. line_of(stateful, true))

    listed = {}
    for name in bullet(readme, "Generic pages"):gmatch("`/([%w%-]+)`") do listed[name] = (generic[name] or 0) end
    local want = {}
    for name, n in pairs(generic) do want[name] = n end
    assert.are.same(want, listed, "README's \"Generic pages\" bullet should list: " .. line_of(generic))
  end)
end)
