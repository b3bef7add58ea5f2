--- One call from its first attempt to its result: the one sequence of
-- decisions that every path runs (a single call, client:batch over curl
-- multi or in nginx light threads, a transport of your own):
--
--   token    OAuth: fetched, renewed when it expires or GHL refuses it
--   pacing   wait for the rate limit, never past the call's budget
--   send     the transport makes one attempt and reports what happened
--   interpret the C core: done, retry after N ms, refresh, or fail
--
-- A call is a small state machine. `step` says what to do next ("send" a
-- request, "wait" N ms, or the result), `feed` takes what the transport
-- reported. Runners own the I/O and nothing else: `run` here for one call
-- at a time, ghl.batch for many. The decisions themselves are the C core's
-- (client:interpret, pacer:acquire); this file only sequences them.
local core = require "ghl.core"
local errors = require "ghl.errors"

local now_ms = core.now_ms

local M = {}

local Call = {}
Call.__index = Call

-- Which OAuth token an operation takes: the catalogue's token type ("L",
-- "A", "A L", "Lo", ...; nil for a raw request) and the ids the client has.
local function token_for(client, t)
  if client.location_id and (t == nil or t == "" or t:find("L", 1, true)) then
    return "Location", client.location_id
  end
  if client.company_id and (t == nil or t == "" or t:find("A", 1, true)) then
    return "Company", client.company_id
  end
  if client.location_id then return "Location", client.location_id end
  return nil
end

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

--- The OAuth tokens of one call, or of a whole batch: fetched once and
-- shared by the calls in flight, renewed once when they expire (the store's
-- lock makes that once across processes too).
local Tokens = {}
Tokens.__index = Tokens

function M.tokens(client)
  return setmetatable({ auth = client._auth, company_id = client.company_id, cache = {} }, Tokens)
end

-- An access token for (user_type, id); `stale` is one GHL refused.
function Tokens:get(user_type, id, stale)
  local key = user_type .. "|" .. id
  local e = self.cache[key]
  local access, fresh_until
  if stale then
    if e and e.access ~= stale then return e.access end -- another call renewed it already
    access, fresh_until = self.auth:renew(user_type, id, stale)
  elseif e and e.fresh_until > now_ms() then
    return e.access
  else
    access, fresh_until = self.auth:token(user_type, id, self.company_id)
  end
  if not access then return nil, fresh_until end
  self.cache[key] = { access = access, fresh_until = tonumber(fresh_until) or 0 }
  return access
end

--- A call of `client`: request() arguments and the catalogue's token type.
-- Misuse raises here (the request is built now), before anything is sent.
function M.new(client, method, path, opts, token_type, tokens)
  local self = setmetatable({ client = client, method = method, path = path, opts = opts,
                              attempt = 1, started = 0, at = 0, state = "pace" }, Call)
  self.req = client._core:prepare(method, path, opts)
  if client._auth then
    self.user_type, self.resource = token_for(client, token_type)
    self.tokens = tokens or M.tokens(client)
    self.can_refresh, self.state = true, "token"
  end
  return self
end

function Call:_finish(ok, x, y)
  self.state, self.ok, self.x, self.y = "done", ok, x, y
  return self:step()
end

function Call:_fail(err)
  err.method, err.path = self.req.method, self.req.path
  return self:_finish(false, err)
end

function Call:_wait(now, ms)
  self.at = now + ms
  return "wait", ms
end

--- What to do next: "send", req | "wait", ms | "done", body, resp | "fail", err.
function Call:step(now)
  local state = self.state
  if state == "done" then
    if self.ok then return "done", self.x, self.y end
    return "fail", self.x
  end
  if self.at > now then return "wait", self.at - now end
  local client = self.client
  if self.started == 0 then self.started = now end
  if state == "token" then
    if not self.user_type then
      return self:_fail(errors.new{ kind = "auth",
        message = "this operation needs an agency token: give company_id to ghl.new" })
    end
    local access, err = self.tokens:get(self.user_type, self.resource, self.stale)
    if not access then return self:_fail(err) end
    self.access, self.stale = access, nil
    local c = client._core
    c:set_token(access)
    self.req = c:prepare(self.method, self.path, self.opts)
    state, now = "pace", now_ms() -- a renewal takes time
  end
  local pacer = client._pacer
  if state == "pace" and pacer then
    -- never wait past the call's budget: fail at once, nothing sent
    local wait, again = pacer:acquire(now, client._budget_ms - (now - self.started))
    if not wait then return self:_fail(again) end
    if again == true then self.state = "pace" return self:_wait(now, wait) end -- a probe is out
    if wait > 0 then self.state = "send" return self:_wait(now, wait) end
  end
  self.state, self.sent_at = "sent", now
  return "send", self.req
end

--- What the transport reported: status, head, body | nil, kind, message, facts.
function Call:feed(status, head, body, facts)
  local client, now = self.client, now_ms()
  if status and type(head) == "table" then head = head_of(head) end
  local pacer = client._pacer
  if pacer then pacer:update(status and head or nil, now, self.sent_at) end
  local c = client._core
  if self.access then c:set_token(self.access) end -- the token to redact is this call's
  local action, x, y = c:interpret(self, status, head, body, facts)
  if action == "done" then
    self:_finish(true, x, y)
  elseif action == "retry" then
    client:_notify_retry(self.attempt - 1, x, y, self.req)
    self.state, self.at = "pace", now + x
  elseif action == "refresh" then
    self.state, self.stale = "token", self.access
  else
    self:_finish(false, x)
  end
end

--- Run a call to its end on a transport with perform(req); sleep(ms)
-- waits (ngx.sleep inside nginx). Returns body, resp | nil, err.
function M.run(call, transport, sleep)
  while true do
    local what, x, y = call:step(now_ms())
    if what == "send" then
      call:feed(transport:perform(x))
    elseif what == "wait" then
      sleep(x)
    elseif what == "done" then
      return x, y
    else
      return nil, x
    end
  end
end

return M
