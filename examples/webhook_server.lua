-- A webhook receiver for plain Lua scripts: a small HTTP server on the
-- loopback (LuaSocket, Debian lua-socket) that hands each delivery to
-- ghl.webhook.receive. Put a TLS proxy (nginx, caddy) in front of it.
--
--   lua5.4 examples/webhook_server.lua [port] [keys.pem]
--
-- 401 for a missing or bad signature or a stale event, 200 when handled
-- (also for a redelivery already handled), 429 when a handler failed (GHL
-- delivers again), 413 for a body over 1 MiB.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")
local ghl = support.ghl
local core = require "ghl.core"
local socket = require "socket"
local cjson = require "cjson"

local port = tonumber(arg[1]) or 8081
local keys = arg[2] and assert(ghl.webhook.read_keys(arg[2]))
local MAX_BODY = 1024 * 1024

-- each returns true when the event is done; nil, err (or a raise) has GHL deliver it again
local handlers = {
  ContactCreate = function(e) print("new contact " .. tostring(e.id)) return true end,
  InboundMessage = function(e) print("message from " .. tostring(e.contactId) .. ": " .. tostring(e.body)) return true end,
  ["*"] = function(e) print("event " .. tostring(e.type)) return true end,
}
local store = ghl.store.memory() -- deliveries handled, for this process (ghl.store.redis{...} for several)

local function answer(conn, status, body)
  local text = cjson.encode(body)
  conn:send(("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(status, ({ [200] = "OK", [429] = "Too Many Requests" })[status] or "Error", #text, text))
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
  local status, reply = ghl.webhook.receive(body, headers, handlers, {
    keys = keys, store = store,
    on_error = function(info) io.stderr:write(("webhook %s failed: %s\n"):format(info.stage, info.message)) end,
  })
  io.stdout:flush()
  return answer(conn, status, reply)
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
