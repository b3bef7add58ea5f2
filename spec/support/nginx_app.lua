--- The nginx test application (spec/support/ngx_app) for specs: ghl inside
-- a real nginx, pointed at a local GHL server, and a way to call its
-- handlers. The same start as spec/nginx_spec.lua's.
--
--   local mock = h.server{ tls = true }   -- nginx.conf.in trusts its CA
--   local app = nginx_app.start(mock)     -- after mock.start()
--   local code, r = nginx_app.get(app, "/t/keepalive")
--   app:stop()
local server = require "spec.support.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local read = require("spec.support.sys").slurp

local M = {}

local ROOT = io.popen("pwd"):read("*l")

--- Start the application against `mock` (a running local GHL server made
-- with tls = true). opts: workers (1), untrusted (another such server whose
-- certificate the application does not trust).
function M.start(mock, opts)
  opts = opts or {}
  local p = io.popen("mktemp -d /tmp/ghl-app.XXXXXX")
  local prefix = p:read("*l")
  p:close()
  os.execute(("mkdir -p '%s/logs' '%s/tmp'"):format(prefix, prefix))
  local cfg = { url = mock.url, tls_url = mock.tls_url, untrusted_tls_url = opts.untrusted and opts.untrusted.tls_url,
                token = mock.token, location_id = mock.location_id, client_id = mock.client_id,
                client_secret = mock.client_secret }
  local fields = {}
  for k, v in pairs(cfg) do fields[#fields + 1] = ("%s = %q"):format(k, v) end
  local f = assert(io.open(prefix .. "/config.lua", "w"))
  f:write("return { " .. table.concat(fields, ", ") .. " }")
  f:close()
  return server.nginx{
    prefix = prefix, what = "the nginx test application",
    template = read(ROOT .. "/spec/support/ngx_app/nginx.conf.in"),
    vars = function()
      return { WORKERS = tostring(opts.workers or 1), ROOT = ROOT, APP_DIR = ROOT .. "/spec/support/ngx_app",
               CA_FILE = assert(mock.ca_file, "the local GHL server must be started with tls = true") }
    end,
  }
end

--- GET a path of the application: status code, the decoded JSON answer
-- (or the raw text when it is not JSON).
function M.get(app, path)
  local out = {}
  local _, code = http.request{ url = app.url .. path, sink = ltn12.sink.table(out) }
  local body = table.concat(out)
  local ok, data = pcall(cjson.decode, body)
  return code, ok and data or body
end

--- A query string from a table of strings (names sorted, values escaped).
function M.query(t)
  local names, out = {}, {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    out[#out + 1] = k .. "=" .. tostring(t[k]):gsub("[^%w%-_%.~]", function(ch)
      return ("%%%02X"):format(ch:byte())
    end)
  end
  return table.concat(out, "&")
end

return M
