--- The local GHL server: starts nginx + its Lua module on a free 127.0.0.1
-- port with in-memory state, and stops it again.
--
--   local server = require "spec.support.server"
--   local srv = server.start()      -- srv.url, srv.token, srv.location_id,
--                                   -- srv.client_id, srv.client_secret (OAuth)
--   ...
--   srv:stop()
--
-- Run as a script (`make mock`) it serves in the foreground until Ctrl-C.
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

local function wait_ready(port, seconds)
  local deadline = socket.gettime() + seconds
  repeat
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", port) then
      c:close()
      return true
    end
    c:close()
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false
end

-- A self-signed certificate for 127.0.0.1, made with the openssl command.
local function make_cert(prefix)
  local cmd = ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
    .. "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s/tls.key' -out '%s/tls.crt' "
    .. ">/dev/null 2>&1"):format(prefix, prefix)
  assert(sh(cmd), "openssl could not make a test certificate")
  return prefix .. "/tls.crt"
end

--- Start a server. opts: `port` (default: a free one), `tls` (also listen
-- with HTTPS on `tls_port`, self-signed certificate at `ca_file`), `tokens`
-- (PITs: list of {token=, locationId=}, or {token=, userType = "Company",
-- companyId=} for an agency PIT), `oauth` ({client_id=, client_secret=},
-- default M.CLIENT_ID/M.CLIENT_SECRET; may also set access_ttl_s,
-- repeat_window_s, token_style, which /_mock/reset then goes back to),
-- `foreground` (block until nginx exits).
function M.start(opts)
  opts = opts or {}
  local oauth = {}
  for k, v in pairs(opts.oauth or {}) do oauth[k] = v end
  oauth.client_id = oauth.client_id or M.CLIENT_ID
  oauth.client_secret = oauth.client_secret or M.CLIENT_SECRET
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
  local srv = M.nginx{
    prefix = prefix, template = template, port = opts.port, tls_port = opts.tls and (opts.tls_port or true),
    foreground = opts.foreground, what = "the local GHL server",
    vars = function(port, tls_port)
      return {
        MOCK_DIR = mock_dir,
        TLS_LISTEN = tls_port and ("listen 127.0.0.1:%d ssl; ssl_certificate %s/tls.crt; "
          .. "ssl_certificate_key %s/tls.key;"):format(tls_port, prefix, prefix) or "",
      }
    end,
    banner = function(s)
      -- shell lines to paste into another terminal (test credentials of this server only)
      return ("local GHL server on %s; in another shell:\n  export GHL_BASE_URL=%s\n  export GHL_TOKEN=%s\n"
        .. "  export GHL_LOCATION_ID=%s\n  export GHL_CLIENT_ID=%s\n  export GHL_CLIENT_SECRET=%s\n")
        :format(s.url, s.url, M.TOKEN, M.LOCATION_ID, oauth.client_id, oauth.client_secret)
    end,
  }
  srv.token, srv.location_id = M.TOKEN, M.LOCATION_ID
  srv.client_id, srv.client_secret, srv.company_id = oauth.client_id, oauth.client_secret, M.COMPANY_ID
  srv.ca_file = ca_file
  return srv
end

--- Start nginx with a configuration template of ours. opts: `template`
-- (text, with @NAME@ placeholders), `prefix` (a fresh folder, default: made
-- here), `port` (default: a free one), `tls_port` (a number, or true for a
-- free one), `vars(port, tls_port)` (more placeholders), `foreground`,
-- `banner(srv)`, `what` (for errors). @PREFIX@, @PORT@, @TLS_PORT@ and
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
    local globals = (AS_ROOT and "user root;" or "") .. (opts.foreground and " daemon off;" or "")
    local cmd = ("'%s' -p '%s' -c '%s/nginx.conf' -e '%s/logs/error.log'%s"):format(
      nginx, prefix, prefix, prefix, globals ~= "" and (" -g '" .. globals .. "'") or "")
    local srv = setmetatable({
      url = "http://127.0.0.1:" .. port, port = port, prefix = prefix, nginx = nginx,
      tls_port = tls_port, tls_url = tls_port and ("https://127.0.0.1:" .. tls_port),
    }, Server)
    if opts.foreground then
      if opts.banner then io.stderr:write(opts.banner(srv)) end
      sh(cmd)
      return srv
    end
    if sh(cmd .. " 2>>'" .. prefix .. "/logs/start.log'") and wait_ready(port, 10) then
      return srv
    end
    local log = (read(prefix .. "/logs/error.log") or "") .. (read(prefix .. "/logs/start.log") or "")
    if (opts.port and opts.tls_port ~= true) or not log:find("Address already in use", 1, true) then
      sh(("rm -rf '%s'"):format(prefix))
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
  return read(self.prefix .. "/logs/error.log") or ""
end

-- run as a script: serve in the foreground
if not pcall(debug.getlocal, 4, 1) then
  local port = tonumber(arg and arg[1] or os.getenv("GHL_MOCK_PORT") or "")
  M.start{ foreground = true, port = port or 8080 }
end

return M
