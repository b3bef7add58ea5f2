-- Faults on demand, for tests: a request carrying "X-Mock-Fault: <name>"
-- gets the fault instead of a normal answer.
local http = require "ghl_mock.http"

local M = {}

local faults = {}

-- never answer (the client's timeout must end the call)
function faults.hang() ngx.sleep(3600) return ngx.exit(444) end

function faults.delay(arg)
  ngx.sleep((tonumber(arg) or 100) / 1000)
  return false -- then answer normally
end

function faults.status(arg)
  local code = tonumber(arg) or 500
  return http.error(code, code >= 500 and "Internal server error" or "Error", nil)
end

-- a proxy's HTML error page
function faults.html502()
  ngx.status = 502
  ngx.header["Content-Type"] = "text/html"
  ngx.print("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    .. "</center></body></html>")
  return ngx.exit(ngx.HTTP_OK)
end

-- 200 with a body that is not JSON
function faults.notjson()
  ngx.status = 200
  ngx.header["Content-Type"] = "text/html"
  ngx.print("<!DOCTYPE html><html><body>Service maintenance</body></html>")
  return ngx.exit(ngx.HTTP_OK)
end

-- an error body that quotes the caller's Authorization header back
function faults.echo_token()
  local h = ngx.req.get_headers()["authorization"] or ""
  return http.error(400, "Bad token format: " .. h, "Bad Request", { received = h })
end

-- a body of N bytes (default 1 MiB)
function faults.big(arg)
  local n = tonumber(arg) or 1048576
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  local chunk = string.rep("x", 65536)
  ngx.print('{"pad":"')
  local left = n - 10
  while left > 0 do
    ngx.print(left >= #chunk and chunk or chunk:sub(1, left))
    left = left - #chunk
  end
  ngx.print('"}')
  return ngx.exit(ngx.HTTP_OK)
end

-- Returns true when a fault answered the request.
function M.apply(req)
  local spec = req.headers["x-mock-fault"]
  if type(spec) ~= "string" then return false end
  local name, arg = spec:match("^([%w_]+)=?(.*)$")
  local f = name and faults[name]
  if not f then
    http.error(400, "unknown X-Mock-Fault " .. spec, "Bad Request")
    return true
  end
  return f(arg) ~= false
end

return M
