--- The nginx transport: HTTP/1.1 over ngx.socket.tcp, so a call yields the
-- request's coroutine instead of blocking the worker. Parsing of status
-- lines, heads and chunk sizes is the C core's (pure, fuzzed); this file
-- only moves bytes. Chosen by default when `ngx` is present.
--
-- TLS is verified unless ssl_verify = false; nginx needs the CAs to trust:
--   lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
-- and a resolver for host names:   resolver 127.0.0.53 ipv6=off;
local core = require "ghl.core"

local M = {}

local T = {}
T.__index = T

local MAX_HEAD = 256 * 1024

-- where cosockets exist (lua-nginx-module docs); elsewhere: ngx.timer.at
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

--- opts: timeout_ms, connect_timeout_ms, ssl_verify, max_body_bytes,
-- keepalive_timeout_ms (60000), pool_size (32)
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    timeout = opts.timeout_ms or 30000,
    connect_timeout = opts.connect_timeout_ms or 10000,
    ssl_verify = opts.ssl_verify ~= false,
    max_body = opts.max_body_bytes or 64 * 1024 * 1024,
    keepalive = opts.keepalive_timeout_ms or 60000,
    pool_size = opts.pool_size or 32,
  }, T)
end

local function kind_of(err)
  return err == "timeout" and "timeout" or "network"
end

-- connect (or take a pooled connection) and do TLS on a new one
function T:_connect(u)
  local sock = ngx.socket.tcp()
  sock:settimeouts(self.connect_timeout, self.timeout, self.timeout)
  local pool = ("ghl:%s:%s:%d:%s"):format(u.scheme, u.host, u.port, self.ssl_verify and "v" or "n")
  local ok, err = sock:connect(u.host, u.port, { pool = pool, pool_size = self.pool_size })
  if not ok then
    return nil, kind_of(err), ("cannot connect to %s:%d: %s"):format(u.host, u.port, tostring(err))
  end
  if u.scheme == "https" and sock:getreusedtimes() == 0 then
    local sess, herr = sock:sslhandshake(nil, u.host, self.ssl_verify)
    if not sess then
      sock:close()
      return nil, kind_of(herr), ("TLS handshake with %s failed: %s"):format(u.host, tostring(herr))
    end
  end
  return sock
end

local function read_head(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local status = core.parse_status_line(line)
  if not status then return nil, "malformed status line from the server" end
  local lines, size = {}, 0
  while true do
    local h, herr = sock:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    size = size + #h + 2
    if size > MAX_HEAD then return nil, "response head too large" end
    lines[#lines + 1] = h
  end
  return status, core.parse_headers(table.concat(lines, "\r\n"))
end

-- the body: Content-Length, chunked, or until the server closes
function T:_read_body(sock, headers)
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if te and te:lower():find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = sock:receive("*l")
      if not line then return nil, kind_of(err), "reading a chunk: " .. tostring(err) end
      local size, perr = core.parse_chunk_size(line)
      if not size then return nil, "network", perr end
      if size == 0 then
        repeat -- trailers, up to the blank line
          local t, terr = sock:receive("*l")
          if not t then return nil, kind_of(terr), "reading trailers: " .. tostring(terr) end
        until t == ""
        return table.concat(parts), true
      end
      total = total + size
      if total > self.max_body then return nil, "too_large", ("response exceeds max_body_bytes (%d bytes)"):format(self.max_body) end
      local data, derr = sock:receive(size)
      if not data then return nil, kind_of(derr), "reading the body: " .. tostring(derr) end
      parts[#parts + 1] = data
      local crlf, cerr = sock:receive(2)
      if crlf ~= "\r\n" then return nil, "network", "malformed chunk framing" .. (cerr and (": " .. cerr) or "") end
    end
  end
  if cl then
    local n = tonumber(cl)
    if not n or n < 0 or n ~= math.floor(n) or not cl:match("^%s*%d+%s*$") then
      return nil, "network", "malformed Content-Length: " .. cl
    end
    if n > self.max_body then return nil, "too_large", ("response exceeds max_body_bytes (%d bytes)"):format(self.max_body) end
    if n == 0 then return "", true end
    local data, err = sock:receive(n)
    if not data then return nil, kind_of(err), "reading the body: " .. tostring(err) end
    return data, true
  end
  -- no length: the body ends when the server closes
  local parts, total = {}, 0
  while true do
    local data, err, partial = sock:receive(8192)
    data = data or partial
    if data and #data > 0 then
      total = total + #data
      if total > self.max_body then return nil, "too_large", ("response exceeds max_body_bytes (%d bytes)"):format(self.max_body) end
      parts[#parts + 1] = data
    end
    if err == "closed" then return table.concat(parts), false end
    if err then return nil, kind_of(err), "reading the body: " .. tostring(err) end
  end
end

function T:_exchange(sock, req, u)
  local head = { req.method, " ", u.path, " HTTP/1.1\r\nHost: ", u.host,
                 ((u.scheme == "https" and u.port ~= 443) or (u.scheme == "http" and u.port ~= 80))
                   and (":" .. u.port) or "", "\r\n" }
  for k, v in pairs(req.headers or {}) do
    head[#head + 1] = k .. ": " .. v .. "\r\n"
  end
  local body = req.body
  if body or req.method == "POST" or req.method == "PUT" or req.method == "PATCH" then
    head[#head + 1] = "Content-Length: " .. #(body or "") .. "\r\n"
  end
  head[#head + 1] = "\r\n"
  if body then head[#head + 1] = body end
  local sent, serr = sock:send(head)
  if not sent then return nil, kind_of(serr), "sending the request: " .. tostring(serr), false end
  local status, headers = read_head(sock)
  while status and status >= 100 and status < 200 do -- 1xx interim answers
    status, headers = read_head(sock)
  end
  if not status then return nil, kind_of(headers), "reading the response: " .. tostring(headers), true, true end
  local data, reusable_or_kind, msg
  if req.method == "HEAD" or status == 204 or status == 304 then
    data, reusable_or_kind = "", true
  else
    data, reusable_or_kind, msg = self:_read_body(sock, headers)
  end
  if not data then return nil, reusable_or_kind, msg, true end
  local enc = headers["content-encoding"]
  if enc and enc ~= "identity" then
    -- we never ask for compression here (no zlib in the core)
    return nil, "decode", "the server sent Content-Encoding " .. enc .. ", which the nginx transport does not decode", true
  end
  if reusable_or_kind and (headers.connection or ""):lower() ~= "close" then
    sock:setkeepalive(self.keepalive, self.pool_size)
  else
    sock:close()
  end
  return status, headers, data
end

--- t:perform(req) -> status, headers, body | nil, kind, message, sent
function T:perform(req)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error(core.new_error{ kind = "invalid_argument", method = req.method, path = req.path, message =
      ("nginx has no cosockets in the %s phase, so ghl cannot call GHL from it; "
       .. "run the call from a timer: ngx.timer.at(0, function() ... end)"):format(phase) }, 0)
  end
  local u, uerr = core.parse_url(req.url)
  if not u then return nil, "network", uerr, false end
  if req.timeout_ms then self = setmetatable({ timeout = req.timeout_ms }, { __index = self }) end
  for try = 1, 2 do
    local sock, kind, msg = self:_connect(u)
    if not sock then return nil, kind, msg, false end
    local reused = sock:getreusedtimes() > 0
    local status, a, b, sent, before_answer = self:_exchange(sock, req, u)
    if status then return status, a, b end
    sock:close()
    -- a pooled connection the server had closed while idle: nothing was
    -- processed, so one more try on a fresh connection is safe
    if not (reused and try == 1 and (before_answer or sent == false) and (b or ""):find("closed", 1, true)) then
      return nil, a, b, sent
    end
  end
end

function T:sleep(ms)
  ngx.sleep(ms / 1000)
end

M.T = T
return M
