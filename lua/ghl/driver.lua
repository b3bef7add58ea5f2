--- One call from its first attempt to its result: the one sequence of
-- decisions that every path runs (a single call, client:batch over curl
-- multi or in nginx light threads, a transport of your own):
--
-- - token: OAuth: fetched, renewed when it expires or GHL refuses it
-- - pacing: wait for the rate limit, never past the call's budget
-- - send: the transport makes one attempt and reports what happened
-- - interpret: the C core: done, retry after N ms, refresh, or fail
--
-- A call is a small state machine. `step` says what to do next ("send" a
-- request, "wait" N ms, or "fail"), `feed` takes what the transport
-- reported and gives the outcome or what to do next. Runners own the I/O
-- and nothing else: `run` here for one call at a time, ghl.batch for many.
-- The decisions themselves are the C core's (client:interpret,
-- pacer:acquire) and ghl.tokens'; this file only sequences them.
-- @internal ghl.driver
local core = require "ghl.core"
local errors = require "ghl.errors"
local tokens_of = require "ghl.tokens"

local now_ms = core.now_ms

local M = {}

-- A transport of one's own may hand back a header table: the core reads
-- one shape only, the raw head.
local function head_of(t)
  local lines = { "HTTP/1.1 000 \r\n" }
  for k, v in pairs(t) do
    if type(k) == "string" then lines[#lines + 1] = k .. ": " .. tostring(v) .. "\r\n" end
  end
  lines[#lines + 1] = "\r\n"
  return table.concat(lines)
end

--- A call of `client`: request() arguments and the catalogue's token type.
-- Misuse raises here (the request is built now), before anything is sent.
-- A call is a plain table (no metatable: the C core reads its fields, and
-- a miss must stay cheap): { client, req, state, attempt, started, at,
-- sent_at } and, for OAuth clients, the token's.
function M.new(client, method, path, opts, token_type, tokens)
  local req = client._core:prepare(method, path, opts)
  local call = client._spare_call
  if call then -- the last finished call of this client, reused: no table per call
    client._spare_call = nil
    call.req, call.state, call.attempt, call.started, call.at, call.sent_at = req, "pace", 1, 0, 0, 0
    call.reconnected, call.token_type, call.pacer = nil, token_type, client._pacer
  else
    -- every call's fields up front: a table that grows rehashes
    call = { client = client, req = req, state = "pace", attempt = 1, started = 0, at = 0, sent_at = 0,
             token_type = token_type, pacer = client._pacer }
  end
  if client._auth then
    call.method, call.path, call.opts = method, path, opts
    local user_type, id = tokens_of.which(client, token_type, opts)
    if not user_type then
      call.state, call.refusal = "refused", id -- this client cannot make the call: said, nothing sent
      return call
    end
    call.user_type, call.resource = user_type, id
    call.pacer = client:_pacer_for(id) -- GHL counts per location (or company)
    call.tokens = tokens or tokens_of.new(client)
    call.can_refresh, call.state = true, "token"
  elseif client._pit and token_type then
    local refusal = tokens_of.pit_refusal(token_type)
    if refusal then call.state, call.refusal = "refused", refusal end
  end
  return call
end

local function fail(call, err)
  call.state = "done"
  err.method, err.path = call.req.method, call.req.path
  return "fail", err
end

local function wait(call, now, ms)
  call.at = now + ms
  return "wait", ms
end

-- The token of an OAuth call: fetched (or renewed), then the request is
-- built again with it. nil, or "fail", err.
local function take_token(call)
  local access, err = call.tokens:get(call.user_type, call.resource, call.stale)
  if not access then return fail(call, err) end
  call.access, call.stale = access, nil
  local c = call.client._core
  c:set_token(access)
  call.req = c:prepare(call.method, call.path, call.opts)
  return nil
end

--- What to do next: "send", req | "wait", ms | "fail", err.
local function step(call, now)
  if call.at > now then return "wait", call.at - now end
  local client, state = call.client, call.state
  if call.started == 0 then call.started = now end
  if state == "refused" then return fail(call, call.refusal) end
  if state == "token" then
    local what, err = take_token(call)
    if what then return what, err end
    state, now = "pace", now_ms() -- a renewal takes time
  end
  local pacer = call.pacer
  if state == "pace" and pacer then
    -- never wait past the call's budget: fail at once, nothing sent
    local ms, again = pacer:acquire(now, client._budget_ms - (now - call.started))
    if pacer.unreachable then client:_store_unreachable(pacer, call.req) end
    if not ms then return fail(call, again) end
    if again then
      -- a probe is out, or the window is spent: ask again after the wait
      -- (nothing was counted: what arrives meanwhile may change the answer)
      call.state = "pace"
      client:_notify_wait(ms, again == "probe" and "probe" or "rate_limit", call.req, pacer)
      return wait(call, now, ms)
    end
    if ms > 0 then
      call.state = "send"
      client:_notify_wait(ms, "rate_limit", call.req, pacer)
      return wait(call, now, ms)
    end
  end
  call.state, call.sent_at = "sent", now
  return "send", call.req
end
M.step = step

--- What the transport reported: status, head, body | nil, kind, message,
-- facts. Returns the outcome ("done", body, resp | "fail", err), or
-- "wait", ms before the next attempt, or nothing (step again: the token is
-- to be renewed).
local function feed(call, status, head, body, facts)
  local client, now = call.client, now_ms()
  if status and type(head) == "table" then head = head_of(head) end
  local pacer = call.pacer
  if pacer then
    pacer:update(status and head or nil, now, call.sent_at)
    if pacer.unreachable then client:_store_unreachable(pacer, call.req) end
  end
  local c = client._core
  if call.access then c:set_token(call.access) end -- the token to redact is this call's
  local action, x, y = c:interpret(call, status, head, body, facts)
  if action == "done" then
    call.state = "done"
    return "done", x, y
  elseif action == "retry" then
    client:_notify_retry(call.attempt - 1, x, y, call.req)
    call.state = "pace"
    return wait(call, now, x)
  elseif action == "refresh" then
    call.state, call.stale = "token", call.access
    return nil
  end
  call.state = "done"
  if client._pit and x.status == 401 and call.token_type and not core.auth_refreshable(x.message) then
    -- a PIT of the other level (sub-account vs agency) is refused like a
    -- missing scope (an unknown PIT is "Invalid JWT": no hint there)
    local hint = tokens_of.pit_hint(call.token_type)
    if hint then x.message = tostring(x.message) .. hint end
  end
  return "fail", x
end
M.feed = feed

--- Run a call to its end on a transport with perform(req); sleep(ms)
-- waits (ngx.sleep inside nginx). Returns body, resp | nil, err.
local function run(call, transport, sleep)
  local what, x, y = step(call, now_ms())
  while true do
    if what == "send" then
      what, x, y = feed(call, transport:perform(x))
      if what == "done" then return x, y end
      if what == nil then what, x, y = step(call, now_ms()) end
    elseif what == "wait" then
      sleep(x)
      what, x, y = step(call, now_ms())
    elseif what == "done" then
      return x, y
    else
      return nil, x
    end
  end
end
M.run = run

--- The error of a call on a closed client.
function M.closed_error(method, path)
  return errors.new{
    kind = "closed",
    message = "client is closed",
    method = type(method) == "string" and method:upper() or nil,
    path = type(path) == "string" and path or nil,
  }
end

--- One call of `client` from start to end (Client:request and friends).
function M.request(client, method, path, opts, token_type)
  if client._closed then return nil, M.closed_error(method, path) end
  local call = M.new(client, method, path, opts, token_type)
  local x, y = run(call, client._transport, client._sleep)
  if not client._auth then
    call.req = nil
    client._spare_call = call -- nothing refers to it now: the next call reuses it
  end
  return x, y
end

return M
