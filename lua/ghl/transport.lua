--- Which transport a client gets: libcurl (ghl.curl, C) in scripts, nginx's
-- cosockets (ghl.transport.ngx) inside nginx, or an object of your own with
-- perform(req). Every transport makes one attempt per perform and reports
-- what happened; ghl.driver decides what comes next.
-- @internal ghl.transport
local core = require "ghl.core"
local errors = require "ghl.errors"

local M = {}

local function in_nginx() return ngx and ngx.socket and ngx.socket.tcp end

--- The transport for validated ghl.new options, a sleep(ms) that suits it
-- (ngx.sleep inside nginx: it yields), and the curl options when it is
-- libcurl (client:batch makes its multi handle from them).
function M.for_client(o)
  local t, copts
  if type(o.transport) == "table" or type(o.transport) == "userdata" then
    t = o.transport
  elseif (o.transport or (in_nginx() and "ngx" or "curl")) == "ngx" then
    if not in_nginx() then
      errors.invalid("ghl.new: transport \"ngx\" needs nginx (OpenResty / lua-nginx-module)")
    end
    t = require("ghl.transport.ngx").new(o)
  else
    -- loaded on demand: a host without libcurl (nginx) never needs it
    copts = { timeout_ms = o.timeout_ms, connect_timeout_ms = o.connect_timeout_ms, ca_file = o.ca_file,
              proxy = o.proxy, ssl_verify = o.ssl_verify, max_body_bytes = o.max_body_bytes }
    t = require("ghl.curl").new(copts)
  end
  local sleep = t.sleep and function(ms) t:sleep(ms) end or core.sleep_ms
  return t, sleep, copts
end

return M
