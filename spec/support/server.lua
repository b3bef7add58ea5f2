--- The local GHL server: starts nginx + its Lua module on a free 127.0.0.1
-- port with in-memory state, and stops it again.
--
--   local server = require "spec.support.server"
--   local srv = server.start()      -- srv.url, srv.token, srv.location_id,
--                                   -- srv.client_id, srv.client_secret (OAuth)
--   ...
--   srv:stop()
--
-- Run as a script (`make mock`) it serves in the foreground until Ctrl-C,
-- SIGTERM or SIGHUP, or until make goes (spec/support/mock_guard.sh stops
-- nginx and removes its folder then).
local socket = require "socket"

local M = {
  TOKEN = "pit-6f1c2a0e-5b7d-4c3e-9a8f-0d2e4b6c8a10",
  LOCATION_ID = "LocMockA0000000000001",
  OTHER_TOKEN = "pit-0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
  OTHER_LOCATION_ID = "LocMockB0000000000002",
  -- the one OAuth app the server knows (its app id: the part before "-")
  CLIENT_ID = "64f0c1d2e3a4b5c6d7e8f901-lmockapp",
  CLIENT_SECRET = "mock-client-secret-7c1e4b9a2d",
  COMPANY_ID = "CompMock000000000001", -- the agency of the seeded locations
  AGENCY_TOKEN = "pit-3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a", -- an agency-level PIT of that agency
}

local function here()
  local src = debug.getinfo(1, "S").source:sub(2)
  return src:match("^(.*)/[^/]*$") or "."
end

local function abs(path)
  if path:sub(1, 1) == "/" then return path end
  local p = io.popen("pwd")
  local cwd = p:read("*l")
  p:close()
  return cwd .. "/" .. path
end

local sys = require "spec.support.sys"
local sh, read, write = sys.sh, sys.read, sys.write

local function find_nginx()
  local env = os.getenv("GHL_NGINX")
  for _, p in ipairs{ env or "/usr/sbin/nginx", "/usr/sbin/nginx", "/usr/local/openresty/nginx/sbin/nginx",
                      "/usr/local/sbin/nginx", "/usr/bin/nginx" } do
    local f = io.open(p, "rb")
    if f then f:close() return p end
  end
  error("nginx not found: install Debian's nginx and libnginx-mod-http-lua (make deps)")
end

local function module_lines()
  local dir = "/usr/lib/nginx/modules/"
  if read(dir .. "ngx_http_lua_module.so") then
    return ("load_module %sndk_http_module.so;\nload_module %sngx_http_lua_module.so;"):format(dir, dir)
  end
  return "# the Lua module is built in" -- OpenResty
end

local AS_ROOT = (function()
  local p = io.popen("id -u")
  local uid = p and p:read("*l")
  if p then p:close() end
  return uid == "0"
end)()

--- A free 127.0.0.1 port (free when asked: the caller binds it soon after).
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function serialize(v, indent)
  indent = indent or ""
  if type(v) == "table" then
    local out = { "{\n" }
    for k, x in pairs(v) do
      out[#out + 1] = ("%s  [%s] = %s,\n"):format(indent, serialize(k), serialize(x, indent .. "  "))
    end
    out[#out + 1] = indent .. "}"
    return table.concat(out)
  elseif type(v) == "string" then
    return ("%q"):format(v)
  end
  return tostring(v)
end

local Server = {}
Server.__index = Server

-- An answer from 127.0.0.1:port: a connection taken, or with `path` an HTTP
-- status line for a GET of it.
local function answers(port, path)
  local c = socket.tcp()
  c:settimeout(1)
  local ok = c:connect("127.0.0.1", port)
  if ok and path then
    ok = c:send(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"):format(path))
    local line = ok and c:receive("*l")
    ok = line and line:match("^HTTP/1%.%d %d%d%d") ~= nil
  end
  c:close()
  return ok and true or false
end

-- give_up(): whether to stop waiting (the guard of a server in the foreground ended)
local function wait_ready(port, seconds, path, give_up)
  local deadline = socket.gettime() + seconds
  repeat
    if answers(port, path) then return true end
    if give_up and give_up() then return false end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false
end

-- Run a shell command: true when it exited 0; then whether SIGINT ended it.
local function run(cmd)
  local a, how, code = os.execute(cmd)
  if type(a) == "number" then return a == 0, a % 128 == 2 end -- Lua 5.1 / LuaJIT: the wait status
  return a == true and (code == 0 or code == nil), how == "signal" and code == 2
end

-- A self-signed certificate for 127.0.0.1, made with the openssl command.
local function make_cert(prefix)
  local cmd = ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
    .. "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s/tls.key' -out '%s/tls.crt' "
    .. ">/dev/null 2>&1"):format(prefix, prefix)
  assert(sh(cmd), "openssl could not make a test certificate")
  return prefix .. "/tls.crt"
end

-- Whether 127.0.0.1:port can be listened on: true, or nil and why.
local function can_listen(port)
  local s, err = socket.bind("127.0.0.1", port)
  if not s then return nil, tostring(err) end
  s:close()
  return true
end

-- A port to suggest instead of a busy one: the first free one from 9000.
local function other_port(busy)
  for port = 9000, 9099 do
    if port ~= busy and can_listen(port) then return port end
  end
  return M.free_port()
end

-- This process's pid and its parent's (from /proc; the parent nil without it).
local function self_and_parent()
  local stat = read("/proc/self/stat")
  local pid, ppid = (stat or ""):match("^(%d+) %b() %S+ (%d+)")
  if pid then return pid, ppid end
  local p = io.popen("echo $PPID")
  pid = p:read("*l")
  p:close()
  return pid, nil
end

-- The guard of a server in the foreground (spec/support/mock_guard.sh), started
-- before nginx: it stops nginx and removes its folder on SIGINT, SIGTERM or
-- SIGHUP, and when this process (or make, when make runs it) goes, also
-- while nginx is still starting. io.popen, not os.execute: system() would
-- have this process ignore SIGINT while the guard runs.
local function start_guard(prefix)
  local pid, ppid = self_and_parent()
  local watched = pid
  if ppid and (read("/proc/" .. ppid .. "/comm") or "") == "make\n" then watched = watched .. " " .. ppid end
  local guard = abs(here() .. "/mock_guard.sh")
  local p = assert(io.popen(("exec sh %s %s %s"):format(sys.q(guard), sys.q(prefix), watched)))
  return { p = p, pid = p:read("*l") }
end

-- Whether the guard has ended (a zombie until its pipe is closed).
local function guard_ended(g)
  local stat = read("/proc/" .. g.pid .. "/stat")
  local state = stat and stat:match("^%d+ %b() (%a)")
  return state == nil or state == "Z" or state == "X"
end

-- Stop the guard (it stops nginx and removes the folder) and wait for it.
local function stop_guard(g)
  if g.pid then sh("kill -TERM " .. g.pid .. " 2>/dev/null") end
  g.p:close()
end

-- Serve until the guard ends. Returns how: "stopped", "interrupted" (Ctrl-C
-- here) or "nginx exited"; the caller stops what the guard may have left.
local function serve(srv, g)
  write(srv.prefix .. "/serving", "")
  -- Ctrl-C: lua5.4's read is interrupted and "interrupted!" raised in here
  local ok = pcall(function() return g.p:read("*a") end)
  if not ok then
    stop_guard(g)
    return "interrupted"
  end
  local _, _, code = g.p:close()
  return code == 1 and "nginx exited" or "stopped"
end

--- Start a server. opts: `port` (default: a free one), `tls` (also listen
-- with HTTPS on `tls_port`, self-signed certificate at `ca_file`), `tokens`
-- (PITs: list of {token=, locationId=}, or {token=, userType = "Company",
-- companyId=} for an agency PIT), `oauth` ({client_id=, client_secret=},
-- default M.CLIENT_ID/M.CLIENT_SECRET; may also set access_ttl_s,
-- repeat_window_s, token_style, which /_mock/reset then goes back to),
-- `foreground` (serve until SIGINT, SIGTERM or SIGHUP, or until the process
-- that called ends; the export lines go to stderr once it answers; returns
-- the stopped server, with `error` set when it did not start or nginx
-- exited by itself, and `interrupted` after a Ctrl-C), `busy_hint` (with
-- foreground: what to run instead when the port is taken, a format for the
-- other port; default "ghl mock %d").
function M.start(opts)
  opts = opts or {}
  local oauth = {}
  for k, v in pairs(opts.oauth or {}) do oauth[k] = v end
  oauth.client_id = oauth.client_id or M.CLIENT_ID
  oauth.client_secret = oauth.client_secret or M.CLIENT_SECRET
  if opts.foreground and opts.port then
    -- a busy port is said first, before anything is started or printed
    local ok, why = can_listen(opts.port)
    if not ok then
      local msg
      if why:find("in use", 1, true) then
        msg = ("port %d is in use; %s"):format(opts.port, (opts.busy_hint or "ghl mock %d"):format(other_port(opts.port)))
      else
        msg = ("cannot listen on 127.0.0.1:%d: %s"):format(opts.port, why)
      end
      return setmetatable({ error = msg, stopped = true, last_log = "[emerg] " .. msg }, Server)
    end
  end
  local mock_dir = abs(here() .. "/mock")
  local template = assert(read(mock_dir .. "/nginx.conf.in"))
  local p = io.popen("mktemp -d /tmp/ghl-mock.XXXXXX")
  local prefix = p:read("*l")
  p:close()
  assert(prefix and prefix ~= "", "mktemp failed")
  assert(sh(("mkdir -p '%s/logs' '%s/tmp'"):format(prefix, prefix)))
  write(prefix .. "/config.lua", "return " .. serialize{
    tokens = opts.tokens or {
      { token = M.TOKEN, locationId = M.LOCATION_ID },
      { token = M.OTHER_TOKEN, locationId = M.OTHER_LOCATION_ID },
      { token = M.AGENCY_TOKEN, userType = "Company", companyId = M.COMPANY_ID },
    },
    seed = opts.seed,
    oauth = oauth,
  })

  local ca_file = opts.tls and make_cert(prefix)
  local guard = opts.foreground and start_guard(prefix)
  local ok, srv = pcall(M.nginx, {
    prefix = prefix, template = template, port = opts.port, tls_port = opts.tls and (opts.tls_port or true),
    what = "the local GHL server", ready_path = "/_mock/state",
    give_up = guard and guard.pid and function() return guard_ended(guard) end,
    vars = function(port, tls_port)
      return {
        MOCK_DIR = mock_dir,
        TLS_LISTEN = tls_port and ("listen 127.0.0.1:%d ssl; ssl_certificate %s/tls.crt; "
          .. "ssl_certificate_key %s/tls.key;"):format(tls_port, prefix, prefix) or "",
      }
    end,
  })
  if not ok then
    if not opts.foreground then error(srv, 0) end
    -- interrupted while nginx was starting: what started goes too
    setmetatable({ prefix = prefix }, Server):stop()
    stop_guard(guard)
    local msg = tostring(srv)
    if msg:find("interrupted!$") then return setmetatable({ interrupted = true, stopped = true }, Server) end
    return setmetatable({ error = msg, stopped = true, last_log = msg }, Server)
  end
  srv.token, srv.location_id = M.TOKEN, M.LOCATION_ID
  srv.client_id, srv.client_secret, srv.company_id = oauth.client_id, oauth.client_secret, M.COMPANY_ID
  srv.ca_file = ca_file
  if opts.foreground then
    local fine, how = pcall(function()
      -- shell lines to paste into another terminal (test credentials of this server only), once it answers
      io.stderr:write(("local GHL server on %s; in another shell:\n  export GHL_BASE_URL=%s\n  export GHL_TOKEN=%s\n"
        .. "  export GHL_LOCATION_ID=%s\n  export GHL_CLIENT_ID=%s\n  export GHL_CLIENT_SECRET=%s\n"
        .. "Ctrl-C (or SIGTERM, SIGHUP) stops it.\n")
        :format(srv.url, srv.url, M.TOKEN, M.LOCATION_ID, oauth.client_id, oauth.client_secret))
      io.stderr:flush()
      return serve(srv, guard)
    end)
    if not fine then
      pcall(stop_guard, guard)
      if tostring(how):find("interrupted!$") then srv.interrupted = true else srv.error = tostring(how) end
    elseif how == "interrupted" then
      srv.interrupted = true
    elseif how == "nginx exited" then
      srv.error = "nginx exited by itself"
    end
    srv:stop() -- nothing left to do when the guard did it; all of it when the guard died first
  end
  return srv
end

--- Start nginx with a configuration template of ours. opts: `template`
-- (text, with @NAME@ placeholders), `prefix` (a fresh folder, default: made
-- here), `port` (default: a free one), `tls_port` (a number, or true for a
-- free one), `vars(port, tls_port)` (more placeholders), `what` (for
-- errors), `ready_path` (started once a GET of it is answered; default:
-- once the port takes a connection), `give_up()` (true: stop waiting for
-- that, as after a Ctrl-C). @PREFIX@, @PORT@, @TLS_PORT@ and
-- @LOAD_MODULES@ are always filled.
function M.nginx(opts)
  local nginx = find_nginx()
  local prefix = opts.prefix
  if not prefix then
    local p = io.popen("mktemp -d /tmp/ghl-nginx.XXXXXX")
    prefix = p:read("*l")
    p:close()
    assert(prefix and prefix ~= "", "mktemp failed")
    assert(sh(("mkdir -p '%s/logs' '%s/tmp'"):format(prefix, prefix)))
  end
  local what = opts.what or "nginx"
  for _ = 1, 5 do -- another process may take the free port before nginx binds it
    local port = opts.port or M.free_port()
    local tls_port = opts.tls_port == true and M.free_port() or opts.tls_port or nil
    local vars = { PREFIX = prefix, PORT = tostring(port), TLS_PORT = tostring(tls_port or ""),
                   LOAD_MODULES = module_lines() }
    for k, v in pairs(opts.vars and opts.vars(port, tls_port) or {}) do vars[k] = v end
    local conf = opts.template:gsub("@(%u[%u_]*)@", vars)
    write(prefix .. "/nginx.conf", conf)
    -- run as root, nginx's workers would become "nobody", who may not read a
    -- checkout in a private folder (a clone under mktemp -d): keep them root
    local globals = AS_ROOT and "user root;" or ""
    local cmd = ("'%s' -p '%s' -c '%s/nginx.conf' -e '%s/logs/error.log'%s"):format(
      nginx, prefix, prefix, prefix, globals ~= "" and (" -g '" .. globals .. "'") or "")
    local srv = setmetatable({
      url = "http://127.0.0.1:" .. port, port = port, prefix = prefix, nginx = nginx,
      tls_port = tls_port, tls_url = tls_port and ("https://127.0.0.1:" .. tls_port),
    }, Server)
    local started, interrupted = run(cmd .. " 2>>'" .. prefix .. "/logs/start.log'")
    if started and wait_ready(port, 10, opts.ready_path, opts.give_up) then
      return srv
    end
    -- a Ctrl-C that came while os.execute ran was not ours (system() ignores
    -- SIGINT) but the guard's: its end says so
    interrupted = interrupted or (opts.give_up and opts.give_up())
    local log = (read(prefix .. "/logs/error.log") or "") .. (read(prefix .. "/logs/start.log") or "")
    if interrupted or (opts.port and opts.tls_port ~= true) or not log:find("Address already in use", 1, true) then
      -- a Ctrl-C kills the shell, not nginx, which may be running now or soon (its pid file says)
      local deadline = socket.gettime() + 0.5
      while not read(prefix .. "/logs/nginx.pid") and socket.gettime() < deadline do socket.sleep(0.02) end
      srv:stop()
      if interrupted then error("interrupted!", 0) end
      error(what .. " did not start:\n" .. log)
    end
  end
  error(what .. " found no free port")
end

--- Stop nginx and remove its temporary folder. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = (read(self.prefix .. "/logs/nginx.pid") or ""):match("%d+")
  if pid then
    sh("kill -TERM " .. pid .. " 2>/dev/null")
    -- nginx removes its pid file on exit (kill -0 would also see a zombie)
    for _ = 1, 300 do
      if not read(self.prefix .. "/logs/nginx.pid") then break end
      socket.sleep(0.01)
    end
    if read(self.prefix .. "/logs/nginx.pid") then sh("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  sh(("rm -rf '%s'"):format(self.prefix))
end

--- The server's error log (for diagnosing a failed test).
function Server:log()
  return self.prefix and read(self.prefix .. "/logs/error.log") or self.last_log or ""
end

-- run as a script: serve in the foreground.
--   lua5.4 spec/support/server.lua [--make] [port]     (--make: run by `make mock`)
if not pcall(debug.getlocal, 4, 1) then
  local via_make, port = false, nil
  for _, a in ipairs(arg or {}) do
    if a == "--make" then via_make = true else port = port or tonumber(a) end
  end
  port = port or tonumber(os.getenv("GHL_MOCK_PORT") or "") or 8080
  local srv = M.start{ foreground = true, port = port,
                       busy_hint = via_make and "make mock MOCK_PORT=%d" or "lua5.4 spec/support/server.lua %d" }
  if srv.error then io.stderr:write(srv.error, "\n") os.exit(1) end
  if srv.interrupted then os.exit(130) end
end

return M
