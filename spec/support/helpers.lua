--- Helpers shared by the specs: a local GHL server per describe block,
-- clients pointed at it, and a look at what the server received.
local server = require "spec.support.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local M = {}

--- A local GHL server for a describe block:
--
--   local srv = h.server()
--   setup(srv.start) teardown(srv.stop) before_each(srv.reset)
--
-- After start, srv.url, srv.token, srv.location_id, ... are set.
function M.server(opts)
  local srv = {}
  local running
  function srv.start()
    running = server.start(opts)
    for k, v in pairs(running) do srv[k] = v end
  end
  --- Stop and start again on the same ports (connections are dropped).
  function srv.restart()
    running:stop()
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.port, o.tls_port = running.port, running.tls_port
    running = server.start(o)
    for k, v in pairs(running) do srv[k] = v end
  end
  function srv.stop()
    if running then running:stop() end
  end
  function srv.reset()
    M.admin(srv, "POST", "/_mock/reset")
  end
  function srv.log()
    return running and running:log() or ""
  end
  srv.OTHER_TOKEN, srv.OTHER_LOCATION_ID = server.OTHER_TOKEN, server.OTHER_LOCATION_ID
  return srv
end

--- A client for the server; extra options override the defaults (false
-- removes a default string option such as location_id).
function M.client(srv, extra)
  local ghl = require "ghl"
  local o = { token = srv.token, location_id = srv.location_id, base_url = srv.url,
              timeout_ms = 5000, connect_timeout_ms = 2000,
              retry_base_ms = 5, retry_max_delay_ms = 50 } -- retries stay fast in specs
  for k, v in pairs(extra or {}) do
    if v == false and type(o[k]) == "string" then v = nil end -- false: leave a default out
    o[k] = v
  end
  return ghl.new(o)
end

--- Call a /_mock/ admin endpoint (with LuaSocket: not the library under
-- test); `body` (a table) is sent as JSON.
function M.admin(srv, method, path, body)
  local out = {}
  local data = body and cjson.encode(body) or ""
  local _, code = http.request{ url = srv.url .. path, method = method, sink = ltn12.sink.table(out),
                                source = ltn12.source.string(data),
                                headers = { ["content-type"] = "application/json", ["content-length"] = #data } }
  assert(code == 200, ("admin %s %s failed: %s %s"):format(method, path, tostring(code), table.concat(out)))
  return cjson.decode(table.concat(out))
end

--- Queue a fault for the next `times` matching requests (see the server's faults.lua).
function M.fault(srv, method, path, fault, times)
  return M.admin(srv, "POST", "/_mock/faults", { method = method, path = path, fault = fault, times = times or 1 })
end

--- Set the server's rate limit (max, interval_ms, daily, retry_after).
function M.rate_limit(srv, cfg)
  return M.admin(srv, "POST", "/_mock/ratelimit", cfg)
end

--- The requests the server received since the last reset.
function M.requests(srv)
  return M.admin(srv, "GET", "/_mock/requests").requests
end

--- The last request the server received.
function M.last_request(srv)
  local r = M.requests(srv)
  return r[#r]
end

--- Fails when `text` holds `secret` in any spelling a server could echo it
-- in: as is, percent-encoded (either case), JSON \u-escaped.
function M.assert_no_secret(text, secret, what)
  local pct = secret:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)
  local pct_all = secret:gsub(".", function(c) return ("%%%02x"):format(c:byte()) end)
  local esc = secret:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)
  for _, form in ipairs{ secret, pct, pct:lower(), pct_all, esc } do
    assert(not text:find(form, 1, true), ("%s holds a secret (%s...)"):format(what or "the text", form:sub(1, 6)))
  end
end

--- A new folder only this user can write to (mode 0700), for file stores.
function M.private_dir()
  local p = io.popen("mktemp -d /tmp/ghl-spec.XXXXXX")
  local dir = p:read("*l")
  p:close()
  return dir
end

--- A 127.0.0.1 port with nothing listening on it.
M.closed_port = server.free_port

--- Run fn and return the error it raised (fails when it does not raise).
function M.raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error to be raised")
  return err
end

--- Run fn, which must raise ghl's invalid_argument error; its message.
function M.invalid(fn, ...)
  local err = M.raised(fn, ...)
  require("luassert").are.equal("invalid_argument", err.kind)
  return err.message
end

return M
