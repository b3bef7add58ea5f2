--- Pacing in Redis (what `ghl.store.redis{...}:pacer(key)` returns): every
-- process and host that paces against the same key shares one rate-limit
-- budget. The C pacer (csrc/pacer.c) cannot run inside Redis, so SCRIPT
-- below does its accounting again, in Redis's Lua, on Redis's clock: one
-- script call imports the last answer's X-RateLimit-* values, decides and
-- stores the state atomically. Costs, per request:
--
--   acquire  one round trip (EVALSHA; a process's first call loads the
--            script first, and after a NOSCRIPT, when Redis lost its
--            scripts, that one call sends it whole with EVAL); one more
--            for each window spent before the request's turn comes
--   update   none: an answer's headers ride along with the next acquire,
--            unless others need them at once (the first answer of a budget
--            or of a window, a spent window or day, changed limits): then
--            one round trip of its own
--
-- Methods answer like the C pacer's, and `nil, "message"` (a string, not an
-- error object) when Redis could not be asked; ghl.pacer then paces in this
-- process alone for a while.
local core = require "ghl.core"
local errors = require "ghl.errors"

local floor = math.floor

local M = {}

-- The state is a hash of these fields, times in Redis's milliseconds (-1:
-- not known): max, rem (left in the window by our count), iv (the window),
-- rep (Remaining of the window's last answer; -1: a window we opened and no
-- answer of it yet), dmax/drem (the day), ws (window start), op (when we
-- opened the window ourselves), ns (next spaced slot), up (last answer),
-- pu/pb (probes: until when, how many out), hl (1: answers carry no
-- headers). The accounting is pacer.c's; in short:
--   * nothing known yet: up to 8 requests go (probes); the others ask again
--     every 20 ms until an answer shows the limits (or 2 s pass); the first
--     answer's Remaining is taken less the other probes still out;
--   * a window rolls over after `iv`; while its count is above `reserve`
--     of max, requests go at once; below it they are spaced iv/max apart;
--     with nothing left, a request sleeps until the window ends (+20 ms)
--     and asks again: nothing is counted in the next window before it
--     begins, since an answer meanwhile may show it begins later;
--   * every acquire counts one request in the window and one in the day;
--     an answer lowers the counts to what GHL says, never raises them
--     (answers arrive out of order), except in a new window or a new day;
--   * the first request of a server window (Remaining = max - 1) sent
--     after our window began dates the window anew: it began later;
--   * a spent day fails fast until the next UTC midnight (an estimate:
--     GHL does not say when it resets);
--   * a wait longer than max_wait_ms counts nothing and fails (code 3).
-- ARGV: 1 "1" to acquire, "0" to learn only; 2 max_wait_ms (-1: no bound);
-- 3 reserve; 4 calls that ended without an answer since the last script
-- call (each ends a probe); 5-9 an answer's max, remaining, interval_ms,
-- daily_limit, daily_remaining (-1: absent; a Remaining over the Max and an
-- interval over 60 s already taken as the Max and 60 s), 10 how long ago it
-- arrived and 11 how long ago its request was sent (ms; -1: no answer /
-- not known). Returns { code (0 go after wait, 1 a probe is out: ask again
-- after wait, 2 the day is spent, 3 the wait is too long, 4 the window is
-- spent: ask again after wait), wait_ms, now, max, rem, iv,
-- dmax, drem, ws, up, rep, hl }.
M.SCRIPT = [[
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: writes after TIME
local key, F = KEYS[1], { 'max', 'rem', 'iv', 'rep', 'dmax', 'drem', 'ws', 'op', 'ns', 'up', 'pu', 'pb', 'hl' }
local n, DAY = tonumber, 86400000
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v, s = redis.call('HMGET', key, unpack(F)), {}
for i, f in ipairs(F) do s[f] = n(v[i]) or (i <= 8 and -1 or 0) end
local function day(x) return math.floor(x / DAY) end
if n(ARGV[4]) > 0 then s.pb = math.max(0, s.pb - n(ARGV[4])) end
local age = n(ARGV[10])
if age >= 0 then
  local max, rem, iv, dmax, drem, sage = n(ARGV[5]), n(ARGV[6]), n(ARGV[7]), n(ARGV[8]), n(ARGV[9]), n(ARGV[11])
  local at, sent = now - age, sage >= 0 and now - sage or -1
  s.hl = (max < 0 and rem < 0 and iv < 0 and dmax < 0 and drem < 0) and 1 or 0
  local others = s.max <= 0 and math.max(0, s.pb - 1) or 0 -- probes still out, maybe not counted in rem
  s.pu, s.pb = 0, 0
  if max > 0 and rem >= 0 and iv > 0 and not (sent >= 0 and sent < s.op and max == s.max and iv == s.iv) then
    local prov = s.rep < 0
    if s.ws < 0 or prov or (sent >= 0 and sent or at) >= s.ws + iv or max ~= s.max or iv ~= s.iv then
      s.ws = at
      if not (prov and s.rem >= 0 and s.rem < rem) then s.rem = math.max(0, rem - others) end
    else
      if rem == max - 1 and sent >= 0 and sent >= s.ws then s.ws = at end -- the server's window began later
      if rem < s.rem then s.rem = rem end
    end
    s.max, s.iv, s.rep = max, iv, rem
  end
  if dmax >= 0 then s.dmax = dmax end
  if drem >= 0 and (s.drem < 0 or drem < s.drem or day(at) > day(s.up)) then s.drem = drem end
  if at > s.up then s.up = at end
end
local code, wait = 0, 0
if ARGV[1] == '1' then
  local maxwait, before = n(ARGV[2]), {}
  for k, x in pairs(s) do before[k] = x end
  local reset = (day(s.up) + 1) * DAY
  if s.drem == 0 and now < reset then
    code, wait = 2, reset - now
  elseif s.max <= 0 or s.iv <= 0 then
    if s.pu <= now then s.pb = 0 end
    if s.hl == 1 or s.pb < 8 then
      if s.hl ~= 1 then s.pb, s.pu = s.pb + 1, now + 2000 end
    else
      code, wait = 1, 20
    end
  else
    if now >= s.ws + s.iv then s.ws, s.op, s.rem, s.rep = now, now, s.max, -1 end
    if s.rem <= 0 then
      code, wait = 4, s.ws + s.iv + 20 - now
    else
      if s.rem <= s.max * n(ARGV[3]) then
        if s.ns < now then s.ns = now end
        wait = s.ns - now
        s.ns = s.ns + s.iv / s.max
      end
      s.rem = s.rem - 1
      if s.drem > 0 then s.drem = s.drem - 1 end
    end
  end
  if code ~= 2 and wait > 0 and maxwait >= 0 and wait > maxwait then s, code = before, 3 end
end
local out = {}
for _, f in ipairs(F) do out[#out + 1] = f; out[#out + 1] = string.format('%.17g', s[f]) end
redis.call('HSET', key, unpack(out))
redis.call('PEXPIRE', key, 2 * DAY)
return { code, math.ceil(wait), now, s.max, s.rem, s.iv, s.dmax, s.drem, s.ws, s.up, s.rep, s.hl }
]]

local RESERVE = 0.2 -- as the C pacer's default
local STALE_MS = 60000 -- an answer held longer than this says nothing about the window any more

local Pacer = {}
Pacer.__index = Pacer

--- The pacer of `key` (a full Redis key) on Redis store `store`.
function M.new(store, key)
  return setmetatable({ store = store, key = key, pending = nil, ended = 0, waits = 0, waited_ms = 0,
                        st = nil, st_at = 0 }, Pacer)
end

-- One script call: what is pending goes along; the state comes back.
-- reply | nil, message
function Pacer:_run(acquire, now, max_wait)
  local p, age, sent_age = self.pending, -1, -1
  local max, rem, iv, dmax, drem = -1, -1, -1, -1, -1
  if p and now - p.at <= STALE_MS then
    max, rem, iv, dmax, drem = p[1], p[2], p[3], p[4], p[5]
    age = math.max(0, floor(now - p.at))
    if p.sent and p.sent > 0 then sent_age = math.max(age, floor(now - p.sent)) end
  end
  local wait_arg = -1
  if max_wait and max_wait < math.huge then wait_arg = math.max(0, floor(max_wait)) end
  local r, err = self.store:_pace_script(self.key, acquire and "1" or "0", wait_arg, RESERVE, self.ended,
    max, rem, iv, dmax, drem, age, sent_age)
  -- sent or not, what was pending is not sent again (the process pacer has it)
  self.pending, self.ended = nil, 0
  if type(r) ~= "table" or #r < 12 then
    return nil, err or "redis store: the pacing script answered " .. type(r)
  end
  self.st, self.st_at = r, now
  return r
end

--- Like the C pacer's update; nil, message when Redis could not be asked.
function Pacer:update(head, now, sent_at)
  local st = self.st
  if type(head) ~= "string" then
    -- no answer: it ends a probe; said at once while others wait for probes
    self.ended = self.ended + 1
    if st and st[4] > 0 then return true end
  else
    local max, rem, iv, dmax, drem = core.ratelimit_headers(head)
    if max < 0 and rem < 0 and iv < 0 and dmax < 0 and drem < 0 and st and st[12] == 1 then
      return true -- the server sends no X-RateLimit-* headers, and Redis knows it
    end
    self.pending = { max, rem, iv, dmax, drem, at = now, sent = sent_at }
    -- the others need these now: the first limits, the first answer of a
    -- window (ours, or the server's: Remaining = max - 1), a spent window
    -- or day, limits that changed; else they ride
    -- along with the next acquire
    if st and st[4] > 0 and st[11] >= 0 and rem ~= 0 and rem ~= max - 1 and drem ~= 0 and max == st[4]
      and iv == st[6] then
      return true
    end
  end
  local r, err = self:_run(false, now)
  if not r then return nil, err end
  return true
end

local function rate_limited(msg, wait_ms)
  return errors.new{ kind = "rate_limited", message = msg, retry_after_ms = wait_ms, retry_after = wait_ms / 1000 }
end

--- Like the C pacer's acquire; nil, message when Redis could not be asked.
function Pacer:acquire(now, max_wait)
  local r, err = self:_run(true, now, max_wait)
  if not r then return nil, err end
  local code, wait = r[1], r[2]
  if code == 0 then
    if wait > 0 then self.waits, self.waited_ms = self.waits + 1, self.waited_ms + wait end
    return wait
  elseif code == 1 or code == 4 then
    if code == 4 then self.waits, self.waited_ms = self.waits + 1, self.waited_ms + wait end
    return wait, code == 1 and "probe" or "window"
  elseif code == 2 then
    local e = rate_limited(("the daily request budget (%.0f) is spent; it resets about %.0f s from now (UTC midnight)")
      :format(math.max(r[7], 0), wait / 1000), wait)
    e.reset_at = floor((now + wait) / 1000)
    return nil, e
  end
  return nil, rate_limited(("pacing would wait %.0f ms for GHL's rate limit, longer than the %.0f ms left of "
    .. "this call's budget (timeout_ms, max_retry_time_ms); nothing was sent"):format(wait, max_wait or 0), wait)
end

--- What the last script call showed (no round trip), as the C pacer's state.
function Pacer:state()
  local r, out = self.st, { waits = self.waits, waited_ms = self.waited_ms }
  if not r then return out end
  local function set(k, x) if x >= 0 then out[k] = x end end
  local offset = self.st_at - r[3] -- Redis's clock to ours
  local max, rem = r[4], r[5]
  set("max", max)
  set("remaining", rem < 0 and max > 0 and 0 or rem)
  set("interval_ms", r[6])
  set("daily_limit", r[7])
  set("daily_remaining", r[8])
  if r[9] >= 0 and r[6] > 0 then out.window_reset_ms = r[9] + r[6] + offset end
  if r[10] > 0 then out.daily_reset_ms = (floor(r[10] / 86400000) + 1) * 86400000 + offset end
  out.paced = max > 0 and rem <= max * RESERVE
  return out
end


return M
