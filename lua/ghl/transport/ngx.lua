--- The nginx transport: HTTP/1.1 over ngx.socket.tcp, so a call yields the
-- request's coroutine instead of blocking the worker. Parsing of status
-- lines, heads and chunk sizes is the C core's (pure, fuzzed); this file
-- only moves bytes. Chosen by default when `ngx` is present.
--
-- One attempt per perform, and the facts of it: the raw head (the shape
-- the curl transport gives too), or the failure with whether the request
-- may have reached the server, whether the connection came from the pool,
-- whether any answer arrived. It never tries again itself: the C core's
-- policy decides (a GET on a pooled connection the server had closed is
-- retried at once; a POST or PATCH that may have been read never is).
--
-- TLS is verified unless ssl_verify = false; nginx needs the CAs to trust:
--
--     lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
--
-- and a resolver for host names: `resolver 127.0.0.53 ipv6=off;`.
-- @internal ghl.transport.ngx
local core = require "ghl.core"

local M = {}

local T = {}
T.__index = T

local MAX_HEAD = 256 * 1024
-- POST and PATCH use their own pool whose connections nginx closes after
-- 2 s idle: an idle connection the server is about to close is what turns
-- a write into an ambiguous one (libcurl: CURLOPT_MAXAGE_CONN, the same 2 s)
local WRITE_IDLE_MS = 2000
local NOT_SENT = { sent = false, reused = false, answered = false }

local header = core.header

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
function T:_connect(u, write)
  local sock = ngx.socket.tcp()
  sock:settimeouts(self.connect_timeout, self.timeout, self.timeout)
  local pool = ("ghl:%s:%s:%d:%s%s"):format(u.scheme, u.host, u.port, self.ssl_verify and "v" or "n",
    write and ":w" or "")
  local ok, err = sock:connect(u.host, u.port, { pool = pool, pool_size = self.pool_size })
  if not ok then
    return nil, kind_of(err), ("cannot connect to %s:%d: %s"):format(u.host, u.port, tostring(err))
  end
  if u.scheme == "https" and sock:getreusedtimes() == 0 then
    -- false: no session object wanted. lua-nginx-module 0.10.23 reports a
    -- certificate that fails verification during a handshake that finished
    -- at once by closing the socket while answering true (with nil instead
    -- of false, lua-resty-core 0.1.25 asserts; upstream lua-resty-core#499),
    -- so a closed socket after the handshake is that failure
    local ok, done, herr = pcall(sock.sslhandshake, sock, false, u.host, self.ssl_verify)
    if not ok or not done or not sock:getreusedtimes() then
      sock:close()
      herr = ok and herr or nil
      return nil, kind_of(herr), ("TLS handshake with %s failed: %s"):format(u.host,
        herr and tostring(herr) or "the server's certificate could not be verified (nginx's error log has the reason)")
    end
  end
  return sock
end

-- status, raw head | nil, err, answered (whether any byte of it came)
local function read_head(sock)
  local line, err, partial = sock:receive("*l")
  if not line then return nil, err, partial ~= nil and partial ~= "" end
  local status = core.parse_status_line(line)
  if not status then return nil, "malformed status line from the server", true end
  local lines, size = { line }, #line
  while true do
    local h, herr = sock:receive("*l")
    if not h then return nil, herr, true end
    if h == "" then break end
    size = size + #h + 2
    if size > MAX_HEAD then return nil, "response head too large", true end
    lines[#lines + 1] = h
  end
  lines[#lines + 1] = "\r\n"
  return status, table.concat(lines, "\r\n")
end

-- the body: Content-Length, chunked, or until the server closes
function T:_read_body(sock, head)
  local te, cl = header(head, "transfer-encoding"), header(head, "content-length")
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

-- One request on sock: status, head, body | nil, kind, message, facts.
function T:_exchange(sock, req, u, reused, write)
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
  -- from here on, any byte may have reached the server
  local sent, serr = sock:send(head)
  if not sent then
    return nil, kind_of(serr), "sending the request: " .. tostring(serr),
      { sent = true, reused = reused, answered = false }
  end
  local status, rhead, answered = read_head(sock)
  while status and status >= 100 and status < 200 do -- 1xx interim answers
    status, rhead = read_head(sock)
    answered = true
  end
  if not status then
    return nil, kind_of(rhead), "reading the response: " .. tostring(rhead),
      { sent = true, reused = reused, answered = answered }
  end
  local failed = { sent = true, reused = reused, answered = true }
  local data, reusable_or_kind, msg
  if req.method == "HEAD" or status == 204 or status == 304 then
    data, reusable_or_kind = "", true
  else
    data, reusable_or_kind, msg = self:_read_body(sock, rhead)
  end
  if not data then return nil, reusable_or_kind, msg, failed end
  local enc = header(rhead, "content-encoding")
  if enc and enc ~= "identity" then
    -- we never ask for compression here (no zlib in the core)
    return nil, "decode", "the server sent Content-Encoding " .. enc .. ", which the nginx transport does not decode",
      failed
  end
  if reusable_or_kind and (header(rhead, "connection") or ""):lower() ~= "close" then
    sock:setkeepalive(write and WRITE_IDLE_MS or self.keepalive, self.pool_size)
  else
    sock:close()
  end
  return status, rhead, data
end

--- t:perform(req) -> status, head, body | nil, kind, message, facts
-- (facts: { sent, reused, answered })
function T:perform(req)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error(core.new_error{ kind = "invalid_argument", method = req.method, path = req.path, message =
      ("nginx has no cosockets in the %s phase, so ghl cannot call GHL from it; "
       .. "run the call from a timer: ngx.timer.at(0, function() ... end)"):format(phase) }, 0)
  end
  local u, uerr = core.parse_url(req.url)
  if not u then return nil, "network", uerr, NOT_SENT end
  if req.timeout_ms then self = setmetatable({ timeout = req.timeout_ms }, { __index = self }) end
  local write = req.method == "POST" or req.method == "PATCH"
  local sock, kind, msg = self:_connect(u, write)
  if not sock then return nil, kind, msg, NOT_SENT end
  local status, a, b, facts = self:_exchange(sock, req, u, sock:getreusedtimes() > 0, write)
  if not status then sock:close() end
  return status, a, b, facts
end

function T:sleep(ms)
  ngx.sleep(ms / 1000)
end

M.T = T
return M
