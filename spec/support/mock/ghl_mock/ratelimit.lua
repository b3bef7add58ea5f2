-- GHL's rate limits (GHL's rate-limit docs): a burst budget per fixed window and a
-- daily budget, one bucket per token (a token maps to one location, and
-- GHL counts per app and location). Every authenticated answer carries the
-- five X-RateLimit-* headers; a spent budget answers 429 before anything is
-- processed. This runs on every request: no allocation after a bucket's
-- first request, a few comparisons and five header writes.
local http = require "ghl_mock.http"

local M = {}

-- GHL's published limits; daily_interval_ms is ours (GHL only says "per day")
local DEFAULTS = { max = 100, interval_ms = 10000, daily = 200000, daily_interval_ms = 86400000,
                   retry_after = false }

-- No spec or doc gives the 429 body (GHL's rate-limit and error docs): the shape of GHL's
-- other errors, {statusCode, message, error}, and no traceId.
local BODY_429 = '{"statusCode":429,"message":"Too many requests","error":"Too Many Requests"}'

local cfg, buckets

--- Back to GHL's defaults, counters emptied.
function M.reset()
  cfg = {}
  for k, v in pairs(DEFAULTS) do cfg[k] = v end
  buckets = {}
end
M.reset()

local function whole(v, name, problems)
  if v == nil then return end
  if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
    problems[#problems + 1] = name .. " must be a whole number of at least 1"
  end
end

--- Change any of max, interval_ms, daily, daily_interval_ms, retry_after;
-- counters start again. Returns nil and the problems when some are bad.
function M.configure(body)
  local problems = {}
  for _, k in ipairs{ "max", "interval_ms", "daily", "daily_interval_ms" } do whole(body[k], k, problems) end
  if body.retry_after ~= nil and type(body.retry_after) ~= "boolean" then
    problems[#problems + 1] = "retry_after must be a boolean"
  end
  if #problems > 0 then return nil, problems end
  for k in pairs(DEFAULTS) do
    if body[k] ~= nil then cfg[k] = body[k] end
  end
  buckets = {}
  return true
end

--- The config and the counters per token (tokens shortened: the log must not hold them).
function M.snapshot()
  local now = ngx.now() * 1000
  local counters = {}
  for token, b in pairs(buckets) do
    counters[#counters + 1] = {
      token = token:sub(1, 8) .. "...", locationId = b.location,
      used = now - b.win < cfg.interval_ms and b.n or 0,
      daily_used = now - b.day < cfg.daily_interval_ms and b.dn or 0,
      rejected = b.rejected,
      window_ms_left = math.max(0, math.floor(b.win + cfg.interval_ms - now)),
    }
  end
  local out = {}
  for k, v in pairs(cfg) do out[k] = v end
  return { config = out, tokens = #counters > 0 and counters or http.EMPTY_ARRAY }
end

local function static_headers(h)
  h["X-RateLimit-Limit-Daily"] = cfg.daily
  h["X-RateLimit-Interval-Milliseconds"] = cfg.interval_ms
  h["X-RateLimit-Max"] = cfg.max
end

--- Count one request of a known token and set the five headers. Returns
-- nil when it may go on, or "burst"/"daily" and the seconds until that
-- window ends when a budget is spent (the request is then not counted).
function M.take(tok)
  local now = ngx.now() * 1000
  local key = tok.bucket or tok.token -- OAuth tokens: one bucket per location or company (oauth_store.lua)
  local b = buckets[key]
  if not b then
    b = { win = now, n = 0, day = now, dn = 0, rejected = 0, location = tok.locationId }
    buckets[key] = b
  end
  -- fixed windows: the first request after one ends starts the next
  if now - b.win >= cfg.interval_ms then b.win, b.n = now, 0 end
  if now - b.day >= cfg.daily_interval_ms then b.day, b.dn = now, 0 end
  local spent, ends
  if b.dn >= cfg.daily then
    spent, ends = "daily", b.day + cfg.daily_interval_ms
  elseif b.n >= cfg.max then
    spent, ends = "burst", b.win + cfg.interval_ms
  else
    b.n, b.dn = b.n + 1, b.dn + 1
  end
  local h = ngx.header
  static_headers(h)
  h["X-RateLimit-Daily-Remaining"] = cfg.daily - b.dn
  h["X-RateLimit-Remaining"] = spent and 0 or cfg.max - b.n
  if not spent then return nil end
  b.rejected = b.rejected + 1
  return spent, math.max(1, math.ceil((ends - now) / 1000))
end

--- Take the five headers off this answer again (a fault that plays an
-- unknown token: those get none).
function M.unset_headers()
  local h = ngx.header
  for _, k in ipairs{ "X-RateLimit-Limit-Daily", "X-RateLimit-Interval-Milliseconds", "X-RateLimit-Max",
                      "X-RateLimit-Daily-Remaining", "X-RateLimit-Remaining" } do
    h[k] = nil
  end
end

--- Whether a spent budget's 429 says when to come back.
function M.retry_after() return cfg.retry_after end

--- Answer 429 as the limiter does: Remaining 0 (Daily-Remaining 0 too when
-- `daily`), Retry-After only when given (seconds, or an HTTP-date string).
function M.reject(retry_after, daily)
  local h = ngx.header
  if not h["X-RateLimit-Max"] then -- no bucket (unknown token): the config's numbers
    static_headers(h)
    h["X-RateLimit-Daily-Remaining"] = cfg.daily
  end
  h["X-RateLimit-Remaining"] = 0
  if daily then h["X-RateLimit-Daily-Remaining"] = 0 end
  if retry_after then h["Retry-After"] = retry_after end
  ngx.ctx.after = nil -- nothing was processed: no after= swap either
  return http.send(429, BODY_429)
end

return M
