-- Faults on demand, for tests. A fault is "<name>" or "<name>=<arg>", asked
-- for by a request header "X-Mock-Fault: <fault>" or queued for the next
-- matching requests with POST /_mock/faults (fault_queue.lua); the header
-- wins. Every fault but delay= and after= answers instead of the route, so
-- nothing is processed and no state changes.
local http = require "ghl_mock.http"
local ratelimit = require "ghl_mock.ratelimit"
local queue = require "ghl_mock.fault_queue"
local auth = require "ghl_mock.auth"

local M = {}

local faults = {}

-- never answer (the client's timeout must end the call)
function faults.hang() ngx.sleep(3600) return ngx.exit(444) end

function faults.delay(arg)
  ngx.sleep((tonumber(arg) or 100) / 1000)
  return false -- then answer normally
end

-- Process the request normally, then answer <status> instead of the real
-- reply (http.send swaps it): GHL's "422, but the contact was created"
-- (highlevel-api-docs#64), or a 500 after a POST that did happen.
-- after=close: processed, then the connection is closed without a byte of
-- answer (a server or proxy that died after the write: the client cannot
-- tell whether it happened).
function faults.after(arg)
  ngx.ctx.after = arg == "close" and "close" or tonumber(arg) or 500
  return false
end

-- what the rate limiter answers (ratelimit.lua), asked for directly
faults["429"] = function() return ratelimit.reject(nil) end

faults["429_retry_after"] = function(arg)
  return ratelimit.reject(tostring(math.floor(tonumber(arg) or 1)))
end

-- Retry-After exactly as given ("1e10", "1e999", "soon")
faults["429_raw_retry_after"] = function(arg) return ratelimit.reject(arg) end

-- Retry-After as an IMF-fixdate, e.g. "Wed, 21 Oct 2026 07:28:00 GMT"
faults["429_retry_after_date"] = function(arg)
  return ratelimit.reject(ngx.http_time(ngx.time() + math.floor(tonumber(arg) or 1)))
end

-- Token answers (auth.lua) for a token the server otherwise accepts. Only
-- auth_expired may make a client refresh; scope and location refusals must
-- not be read as an expired token.
function faults.auth_scope() return auth.scope() end

function faults.auth_location() return auth.location() end

function faults.auth_expired()
  ratelimit.unset_headers() -- exactly what an unknown token gets
  return auth.invalid_jwt()
end

function faults.status(arg)
  local code = tonumber(arg) or 500
  if code ~= math.floor(code) or code < 200 or code > 599 then code = 500 end
  if code == 429 then return faults["429"]() end
  return http.reply(code, http.status_body(code))
end

-- a proxy's HTML error page
function faults.html502()
  ngx.status = 502
  ngx.header["Content-Type"] = "text/html"
  ngx.print("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    .. "</center></body></html>")
  return ngx.exit(ngx.HTTP_OK)
end

-- 200 with a contacts page whose first contact's id and searchAfter are
-- arrays nested N deep (default 900): what a hostile server or proxy can send
function faults.deep_page(arg)
  local n = math.min(tonumber(arg) or 900, 100000)
  local deep = string.rep("[", n) .. '"x"' .. string.rep("]", n)
  return http.send(200, '{"contacts":[{"id":' .. deep .. ',"searchAfter":' .. deep .. '},'
    .. '{"id":"b","searchAfter":' .. deep .. '}],"total":5}')
end

-- 200 with <text> as the JSON body, byte for byte: a hostile answer a test
-- writes itself (an array 500 deep, ESC in a contact's name, an odd total)
function faults.json(arg)
  return http.send(200, arg)
end

-- a GHL-shaped 400 whose message is <text>, byte for byte: what a hostile
-- server or proxy can put in the text a client shows (ESC sequences, CR...)
function faults.message(arg)
  return http.error(400, arg, "Bad Request")
end

-- 200 with a body that is not JSON
function faults.notjson()
  ngx.status = 200
  ngx.header["Content-Type"] = "text/html"
  ngx.print("<!DOCTYPE html><html><body>Service maintenance</body></html>")
  return ngx.exit(ngx.HTTP_OK)
end

-- 200, JSON by its Content-Type, complete, but a trailing comma makes it invalid
function faults.badjson()
  return http.send(200, '{"contact": {"id": "x",}}')
end

-- an error body that quotes the caller's Authorization header back
function faults.echo_token()
  local h = ngx.req.get_headers()["authorization"] or ""
  return http.error(400, "Bad token format: " .. h, "Bad Request", { received = h })
end

-- The same, in the spellings a server may use on the way back: the
-- Authorization header percent-encoded (as a form would carry it) and, in
-- the raw JSON text, every character \u-escaped; and the request body as
-- received (a form: client_secret=...%2B...) with its values \u-escaped too.
local function percent(s)
  return (s:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function json_escaped(s)
  return (s:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end))
end

function faults.echo_encoded()
  local h = ngx.req.get_headers()["authorization"] or ""
  local req = ngx.ctx.req
  local form = req and req.raw_body or ""
  local text = ('{"statusCode":400,"error":"invalid_grant","message":"Bad token format: %s",'
    .. '"received":"%s","form":"%s","form_escaped":"%s","mixed":"%s"}')
    :format(percent(h), json_escaped(h), (form:gsub('["\\]', "")), json_escaped(form),
            json_escaped(h:sub(1, 12)) .. percent(h:sub(13)))
  return http.send(400, text)
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

-- A valid JSON body of exactly n bytes (n >= 64).
local function json_of(n)
  local head, tail = '{"contact":{"id":"SeedC000000000000001","firstName":"Partial","pad":"', '"}}'
  return head .. string.rep("x", n - #head - #tail) .. tail
end

-- Writes a 200 status line, the headers set so far (the rate limits), a
-- Content-Length of `length` and then only `bytes`, straight to the socket:
-- nginx's filters would fix the lie (gzip drops Content-Length). Then the
-- connection is closed, after `pause` seconds, so the client sees a body
-- that ends early (curl: exit 18, "transfer closed with N bytes remaining").
local function short_body(length, bytes, pause)
  local sock = ngx.req.socket(true)
  if not sock then return ngx.exit(444) end
  local head = { "HTTP/1.1 200 OK", "Date: " .. ngx.http_time(ngx.time()),
                 "Content-Type: application/json; charset=utf-8", "Content-Length: " .. length }
  for k, v in pairs(ngx.resp.get_headers(100, true)) do
    -- the raw socket turned keep-alive off; the client must not be told
    if k:lower() ~= "connection" then
      if type(v) == "table" then v = table.concat(v, ", ") end
      head[#head + 1] = k .. ": " .. tostring(v)
    end
  end
  head[#head + 1] = ""
  head[#head + 1] = bytes
  sock:send(table.concat(head, "\r\n"))
  if pause then ngx.sleep(pause) end
  return ngx.exit(444)
end

-- headers for a 2 KB body, its first 100 bytes, a pause (the client has
-- read them), then the connection is dropped
function faults.reset()
  return short_body(2048, json_of(2048):sub(1, 100), 0.05)
end

-- a whole answer's headers and half its body, then close
function faults.truncated()
  local body = json_of(600)
  return short_body(#body, body:sub(1, 300))
end

-- close the connection without a byte (the request was read: curl exit 52)
function faults.close() return ngx.exit(444) end

-- a status line and part of a header line, straight to the socket, a pause
-- (the client has read them), then the connection is dropped: the answer
-- broke off inside its head
function faults.reset_head()
  local sock = ngx.req.socket(true)
  if not sock then return ngx.exit(444) end
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: applic")
  ngx.sleep(0.02)
  return ngx.exit(444)
end

--- The name and argument of a fault spec, or nil when there is no such fault.
function M.parse(spec)
  if type(spec) ~= "string" then return nil end
  local name, arg = spec:match("^([%w_]+)=?(.*)$")
  if not (name and faults[name]) then return nil end
  return name, arg
end

--- The fault for this request: its X-Mock-Fault header, else the first
-- queued entry it matches (which uses one of that entry's times).
function M.pick(req)
  local spec = req.headers["x-mock-fault"]
  if spec ~= nil then return spec end
  return queue.take(req.method, req.path)
end

-- Returns true when the fault answered the request.
function M.apply(spec)
  local name, arg = M.parse(spec)
  if not name then
    http.error(400, "unknown X-Mock-Fault " .. tostring(spec), "Bad Request")
    return true
  end
  return faults[name](arg) ~= false
end

return M
