-- A webhook receiver for plain Lua scripts: a small HTTP server on the
-- loopback (LuaSocket, Debian lua-socket) that verifies GHL's signature and
-- dispatches the events. Put a TLS proxy (nginx, caddy) in front of it.
--
--   lua5.4 examples/webhook_server.lua [port] [keys.pem]
--
-- 401 for a missing or bad signature or a stale event, 200 otherwise (also
-- for a redelivery already handled), 413 for a body over 1 MiB.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")
local ghl = support.ghl
local core = require "ghl.core"
local socket = require "socket"
local cjson = require "cjson"

local port = tonumber(arg[1]) or 8081
local keys = arg[2] and assert(ghl.webhook.read_keys(arg[2]))
local MAX_BODY = 1024 * 1024

local handlers = {
  ContactCreate = function(e) print("new contact " .. tostring(e.id)) end,
  InboundMessage = function(e) print("message from " .. tostring(e.contactId) .. ": " .. tostring(e.body)) end,
  ["*"] = function(e) print("event " .. tostring(e.type)) end,
}

local function answer(conn, status, body)
  local text = cjson.encode(body)
  conn:send(("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(status, status == 200 and "OK" or "Error", #text, text))
end

local function serve(conn)
  conn:settimeout(5)
  local line = conn:receive("*l")
  if not line then return end
  local method, path = line:match("^(%u+) (%S+) HTTP/1%.[01]$")
  local head = {}
  while true do
    local h = conn:receive("*l")
    if not h or h == "" then break end
    head[#head + 1] = h
  end
  local headers = core.parse_headers(table.concat(head, "\r\n"))
  if method ~= "POST" or path ~= "/webhooks/ghl" then return answer(conn, 404, { error = "POST /webhooks/ghl" }) end
  local len = tonumber(headers["content-length"] or "")
  if not len then return answer(conn, 411, { error = "Content-Length required" }) end
  if len > MAX_BODY then return answer(conn, 413, { error = "body too large" }) end
  local body = len > 0 and conn:receive(len) or ""
  if not body then return end
  local event, err = ghl.webhook.verify(body, headers, { keys = keys })
  if not event then
    if err.reason == "duplicate" then return answer(conn, 200, { duplicate = true }) end
    return answer(conn, 401, { error = err.reason, message = err.message })
  end
  ghl.webhook.dispatch(event, handlers)
  io.stdout:flush()
  return answer(conn, 200, { ok = true })
end

local server = assert(socket.bind("127.0.0.1", port))
io.stderr:write(("listening on http://127.0.0.1:%d/webhooks/ghl\n"):format(port))
while true do
  local conn = server:accept()
  if conn then
    local ok, err = pcall(serve, conn)
    if not ok then io.stderr:write("error: ", tostring(err), "\n") end
    conn:close()
  end
end
