--- RESP2, the wire protocol of Redis: a minimal client for the Redis store (ghl.store.redis)
-- over LuaSocket in scripts, ngx.socket.tcp inside nginx. Only what the store needs.
local M = {}

local function socket_for_host()
  if ngx and ngx.socket and ngx.socket.tcp and ngx.get_phase and ngx.get_phase() ~= "init" then
    return ngx.socket.tcp(), true
  end
  return require("socket").tcp(), false
end

local Conn = {}
Conn.__index = Conn

--- Connect; timeout in ms.
function M.connect(host, port, timeout_ms)
  local sock, is_ngx = socket_for_host()
  if is_ngx then sock:settimeout(timeout_ms) else sock:settimeout(timeout_ms / 1000) end
  local ok, err = sock:connect(host, port)
  if not ok then return nil, ("redis %s:%d: %s"):format(host, port, tostring(err)) end
  -- reused: a connection from nginx's pool (it has been authenticated already)
  local reused = is_ngx and (sock:getreusedtimes() or 0) > 0
  return setmetatable({ sock = sock, is_ngx = is_ngx, reused = reused }, Conn)
end

local function read_reply(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, "redis: " .. tostring(err) end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest end
  if kind == "-" then return nil, "redis: " .. rest, true end -- an error reply: the connection is fine
  if kind == ":" then return tonumber(rest) end
  if kind == "$" then
    local n = tonumber(rest)
    if not n or n < 0 then return false end -- nil bulk
    local data, rerr = sock:receive(n + 2)
    if not data then return nil, "redis: " .. tostring(rerr) end
    return data:sub(1, n)
  end
  if kind == "*" then
    local n = tonumber(rest)
    if not n or n < 0 then return false end
    local out = {}
    for i = 1, n do
      local v, verr = read_reply(sock)
      if v == nil then return nil, verr end
      out[i] = v
    end
    return out
  end
  return nil, "redis: unexpected reply " .. line:sub(1, 40)
end

--- conn:call("SET", "k", "v") -> reply (false for a nil reply) | nil, err [, true when Redis
-- answered with an error (the connection can go on)]
function Conn:call(...)
  local args = { ... }
  local parts = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    a = tostring(a)
    parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  local ok, err = self.sock:send(table.concat(parts))
  if not ok then return nil, "redis: " .. tostring(err) end
  return read_reply(self.sock)
end

--- Give the connection back: nginx keeps it in its pool, LuaSocket closes it.
function Conn:release()
  if self.is_ngx then self.sock:setkeepalive(10000, 16) else self.sock:close() end
end

--- Drop the connection (after an error: it may hold half a reply, so it
-- must never go back to nginx's pool).
function Conn:close()
  self.sock:close()
end

return M
