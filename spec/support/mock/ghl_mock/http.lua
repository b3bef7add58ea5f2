-- Request reading and GHL-shaped replies for the local GHL server.
local cjson = require "cjson.safe"
local redact = require "ghl_mock.redact"

local M = {}

-- mpx lua-cjson has no empty-array marker: use a sentinel string and swap it
M.EMPTY_ARRAY = "\0ghl-mock-empty-array\0"

local function trace_id()
  return ("%08x-%04x-4%03x-%04x-%012x"):format(math.random(0, 0xffffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), math.random(0x8000, 0xbfff), math.random(0, 0xffffffffffff))
end
M.trace_id = trace_id

function M.encode(v)
  local s = assert(cjson.encode(v))
  return (s:gsub('"\\u0000ghl%-mock%-empty%-array\\u0000"', "[]"))
end

-- Reason phrases for GHL-shaped error bodies made from a bare status.
local REASONS = { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [409] = "Conflict", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout" }

--- The body GHL would send with a bare status (faults status= and after=).
-- 422s carry a message array, as GHL's validation pipe writes them.
function M.status_body(status)
  local reason = REASONS[status]
  local message = reason or "Error"
  if status == 500 then
    message = "Internal server error"
  elseif status == 422 then
    message = { reason }
  end
  return { statusCode = status, message = message, error = reason, traceId = trace_id() }
end

--- Writes a JSON text as the whole answer. Every reply goes through here,
-- so the after=<status> fault (faults.lua) swaps the answer of a request
-- that was processed normally.
function M.send(status, s)
  local ctx = ngx.ctx
  local after = ctx.after
  if after then
    ctx.after = nil
    if after == "close" then return ngx.exit(444) end
    status, s = after, M.encode(M.status_body(after))
  end
  ngx.status = status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.header["Content-Length"] = #s
  ngx.print(s)
  return ngx.exit(ngx.HTTP_OK)
end

function M.reply(status, body)
  return M.send(status, M.encode(body))
end

-- GHL error bodies: {statusCode, message, error} plus a traceId.
-- `message` may be an array of strings (422 validation errors).
function M.error(status, message, err, extra)
  local body = { statusCode = status, message = message, error = err, traceId = trace_id() }
  for k, v in pairs(extra or {}) do body[k] = v end
  return M.reply(status, body)
end

function M.bearer()
  local h = ngx.req.get_headers()["authorization"]
  if type(h) ~= "string" then return nil end
  return h:match("^Bearer (%S+)$")
end

function M.read_request(method, path)
  ngx.req.read_body()
  local raw = ngx.req.get_body_data()
  local headers = ngx.req.get_headers(100)
  local logged = {}
  for k, v in pairs(headers) do
    logged[k] = k == "authorization" and "(present)" or v
  end
  return {
    method = method,
    path = path,
    uri = redact.uri(path, ngx.var.request_uri), -- as logged (query: req.query)
    query = ngx.req.get_uri_args(100),
    headers = logged,
    raw_body = raw,
    logged_body = redact.body(path, raw), -- what /_mock/requests shows
    connection = tonumber(ngx.var.connection),
  }
end

-- The JSON body as a table, or replies 400 and returns nil.
function M.json_body(req)
  if not req.raw_body or req.raw_body == "" then
    M.error(400, "Request body is missing", "Bad Request")
    return nil
  end
  local body = cjson.decode(req.raw_body)
  if type(body) ~= "table" then
    M.error(400, "Unexpected token in JSON body", "Bad Request")
    return nil
  end
  return body
end

return M
