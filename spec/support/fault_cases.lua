--- The cases of the fault matrix (spec/fault_matrix_spec.lua), one table
-- for its three request paths: curl easy (a single call), curl multi
-- (client:batch) and the nginx transport inside nginx. Each case is a
-- fault of the local server, queued with h.fault(srv, method, path, fault,
-- times) for the call's own path, and what must happen for each method:
--
--   attempts  resp.attempts or err.attempts (every send counts)
--   kind      err.kind; nil: the call succeeds
--   status    err.status
--   arrived   requests the server got on that method and path (default:
--             attempts)
--   sent      err.sent (whether the request may have reached the server)
--   retry_after_ms  err.retry_after_ms
--   wait_ms   the least wait before the retry (on_retry's delay_ms and the
--             time the call took)
--   reused    the first request that arrived came on a kept-alive
--             connection (the request log's connection_requests > 1)
--
-- The client: max_retries = 2 (so "retried" is 3 attempts), timeout_ms =
-- 400, max_body_bytes = 64 KiB, and the server's 429s ask for 200 ms.
local M = {}

M.MAX_RETRIES = 2
M.TIMEOUT_MS = 400
M.MAX_BODY_BYTES = 64 * 1024
M.RATE_LIMIT = { interval_ms = 200 } -- h.rate_limit: a 429 asks to come back in 200 ms

M.METHODS = { "GET", "PUT", "DELETE", "POST", "PATCH" }
local IDEMPOTENT = { "GET", "PUT", "DELETE" }

M.C1 = "SeedC000000000000001" -- GET and PUT
M.C2 = "SeedC000000000000002" -- the warm-up GET

--- What a POST or PATCH that failed after it may have left says.
M.NOT_SENT_AGAIN = "may have reached GHL and been processed, so it was not sent again"

function M.idempotent(method)
  return method == "GET" or method == "PUT" or method == "DELETE"
end

--- The call made first on the same client when a case is `warm`, so the
-- faulted one goes out on a kept-alive connection: a GET for GET, PUT and
-- DELETE; a harmless POST for POST and PATCH (inside nginx they have a pool
-- of their own: a GET's connection is not theirs).
function M.warm_up(method, location_id)
  if M.idempotent(method) then return { "GET", "/contacts/" .. M.C2 } end
  return { "POST", "/contacts/search", { locationId = location_id, pageLimit = 1 } }
end

local function fail(attempts, kind, extra)
  local w = { attempts = attempts, kind = kind }
  for k, v in pairs(extra or {}) do w[k] = v end
  return w
end

local function per_method(idem, write)
  return { GET = idem, PUT = idem, DELETE = idem, POST = write, PATCH = write }
end

M.CASES = {}

-- name, fault, times, { GET/PUT/DELETE outcome, POST/PATCH outcome }, extra fields
local function case(name, fault, times, expect, extra)
  local c = { name = name, fault = fault, times = times, expect = expect, methods = M.METHODS }
  for k, v in pairs(extra or {}) do c[k] = v end
  M.CASES[#M.CASES + 1] = c
  return c
end

local PERSISTENT = 5 -- more times than any call sends: every attempt meets the fault

-- nothing listens: never sent, so every method is retried
case("refused", nil, nil, per_method(fail(3, "network", { arrived = 0, sent = false }),
                                     fail(3, "network", { arrived = 0, sent = false })), { refused = true })

-- the faults that a GET/PUT/DELETE gets over when they stop (a transient
-- run of each, times = 1, follows) and that a POST/PATCH never sees twice
local TRANSIENT = {
  { "reset mid-head", "reset_head", fail(3, "network", { sent = true }), fail(1, "network", { sent = true }) },
  { "reset mid-body", "reset", fail(3, "network", { sent = true }), fail(1, "network", { sent = true }) },
  { "silent past timeout_ms", "hang", fail(3, "timeout", { sent = true }), fail(1, "timeout", { sent = true }) },
  { "truncated body", "truncated", fail(3, "network", { sent = true }), fail(1, "network", { sent = true }) },
  { "500", "status=500", fail(3, "http", { status = 500 }), fail(1, "http", { status = 500 }) },
  { "503", "status=503", fail(3, "http", { status = 503 }), fail(1, "http", { status = 503 }) },
  { "HTML 502", "html502", fail(3, "http", { status = 502 }), fail(1, "http", { status = 502 }) },
}
for _, t in ipairs(TRANSIENT) do
  case(t[1], t[2], PERSISTENT, per_method(t[3], t[4]))
end
for _, t in ipairs(TRANSIENT) do
  case(t[1] .. " once", t[2], 1, per_method({ attempts = 2 }), { methods = IDEMPOTENT })
end

-- GHL did not process a 429: every method is retried
local rate_limited = fail(3, "rate_limited", { status = 429, retry_after_ms = 200, wait_ms = 200 })
case("429", "429", PERSISTENT, per_method(rate_limited, rate_limited))
case("429 once", "429", 1, per_method({ attempts = 2, wait_ms = 200 }, { attempts = 2, wait_ms = 200 }))
case("429 with Retry-After: 1 once", "429_retry_after=1", 1,
  per_method({ attempts = 2, wait_ms = 900 }, { attempts = 2, wait_ms = 900 }))

-- The server reads the whole request on a reused kept-alive connection and
-- closes it without a word (it may have processed it): a GET/PUT/DELETE is
-- sent again at once on a fresh connection, a POST/PATCH is not.
case("reused connection closed after the request", "close", 1,
  per_method({ attempts = 2, reused = true }, fail(1, "network", { sent = true, reused = true })), { warm = true })

-- more faults, persistent
case("delay=30", "delay=30", PERSISTENT, per_method({ attempts = 1 }, { attempts = 1 }))
case("closed before any answer", "close", PERSISTENT,
  per_method(fail(3, "network", { sent = true }), fail(1, "network", { sent = true })))
case("502", "status=502", PERSISTENT, per_method(fail(3, "http", { status = 502 }), fail(1, "http", { status = 502 })))
case("504", "status=504", PERSISTENT, per_method(fail(3, "http", { status = 504 }), fail(1, "http", { status = 504 })))
case("body not JSON", "badjson", PERSISTENT, per_method(fail(1, "decode"), fail(1, "decode")))
case("body over max_body_bytes", "big=200000", PERSISTENT, per_method(fail(1, "too_large"), fail(1, "too_large")))
case("processed, then 422", "after=422", PERSISTENT,
  per_method(fail(1, "http", { status = 422 }), fail(1, "http", { status = 422 })))
case("processed, then 500", "after=500", PERSISTENT,
  per_method(fail(3, "http", { status = 500 }), fail(1, "http", { status = 500 })))
case("400", "status=400", PERSISTENT, per_method(fail(1, "http", { status = 400 }), fail(1, "http", { status = 400 })))

return M
