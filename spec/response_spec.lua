-- Response interpretation of the C core and the error object: pure, no network.
local core = require "ghl.core"
local ghl = require "ghl"

local TOKEN = "pit-11111111-2222-4333-8444-555555555555"

-- a raw response head, as every transport hands it over
local function head(t)
  local lines = { "HTTP/1.1 200 OK" }
  for k, v in pairs(t or {}) do lines[#lines + 1] = k .. ": " .. v end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

describe("response interpretation", function()
  local c = core.client{ token = TOKEN, base_url = "https://example.test", max_retries = 0 }
  local req = c:prepare("GET", "/contacts/{contactId}", { path = { contactId = "abc" } })

  local function interpret(status, body, headers)
    return c:interpret({ req = req }, status, head(headers), body)
  end

  it("decodes a 2xx JSON body and reports status, headers and traceId", function()
    local action, body, resp = interpret(200, '{"contact":{"id":"abc"},"traceId":"t-1"}', { ["x-a"] = "1" })
    assert.are.equal("done", action)
    assert.are.equal("abc", body.contact.id)
    assert.are.equal(200, resp.status)
    assert.are.equal("1", resp.headers["x-a"])
    assert.are.equal("t-1", resp.trace_id)
  end)

  it("gives an empty table for an empty 2xx body", function()
    local action, body, resp = interpret(204, "")
    assert.are.equal("done", action)
    assert.are.same({}, body)
    assert.are.equal(204, resp.status)
  end)

  it("reports a 2xx body that is not JSON as a decode error with its first bytes", function()
    local action, err = interpret(200, "<html><body>maintenance</body></html>")
    assert.are.equal("fail", action)
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
    assert.matches("<html><body>maintenance", err.message, 1, true)
    assert.are.equal("GET", err.method)
    assert.are.equal("/contacts/abc", err.path)
  end)

  it("maps statuses to kinds", function()
    local kinds = { [400] = "http", [401] = "auth", [403] = "auth", [404] = "http", [422] = "http",
                    [429] = "rate_limited", [500] = "http", [502] = "http" }
    for status, kind in pairs(kinds) do
      local action, err = interpret(status, '{"statusCode":' .. status .. ',"message":"m"}')
      assert.are.equal("fail", action)
      assert.are.equal(kind, err.kind, "status " .. status)
      assert.are.equal(status, err.status)
    end
  end)

  it("reads GHL's error body: message string, error and traceId", function()
    local _, err = interpret(401, '{"statusCode":401,"message":"Invalid JWT","traceId":"tr-9"}')
    assert.are.equal("Invalid JWT", err.message)
    assert.are.equal("tr-9", err.trace_id)
    assert.are.equal(401, err.body.statusCode)
  end)

  it("joins a message array (422)", function()
    local _, err = interpret(422,
      '{"statusCode":422,"message":["email must be an email","phone must be a string"],"error":"Unprocessable Entity"}')
    assert.are.equal("email must be an email; phone must be a string", err.message)
    assert.are.same({ "email must be an email", "phone must be a string" }, err.body.message)
  end)

  it("falls back to `error` when there is no message", function()
    local _, err = interpret(404, '{"statusCode":404,"error":"Not Found"}')
    assert.are.equal("Not Found", err.message)
  end)

  it("describes a non-JSON error page by status and first bytes", function()
    local _, err = interpret(502, "<html><head><title>502 Bad Gateway</title></head></html>")
    assert.are.equal("http", err.kind)
    assert.matches("HTTP 502", err.message)
    assert.matches("502 Bad Gateway", err.message, 1, true)
    assert.matches("<html>", err.body, 1, true)
  end)

  it("never puts the token in an error, even when the server echoes it", function()
    local _, err = interpret(400, '{"statusCode":400,"message":"bad token Bearer ' .. TOKEN .. '"}')
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
    assert.is_nil(err.message:find(TOKEN, 1, true))
    assert.matches("[REDACTED]", err.message, 1, true)
    local _, err2 = interpret(502, "proxy saw " .. TOKEN)
    assert.is_nil(err2.body:find(TOKEN, 1, true))
    -- a 2xx that is not JSON is quoted in the decode error: redacted too (found by fuzz_response)
    local _, err3 = interpret(200, "<html>" .. TOKEN .. "</html>")
    assert.are.equal("decode", err3.kind)
    assert.is_nil(tostring(err3):find(TOKEN, 1, true))
    assert.is_nil(err3.body:find(TOKEN, 1, true))
  end)

  it("redacts the token in every spelling: percent-encoded, JSON-escaped, mixed, in any case", function()
    local function pct(s, all) return (s:gsub(all and "." or "[^%w]", function(ch) return ("%%%02X"):format(ch:byte()) end)) end
    local function esc(s) return (s:gsub(".", function(ch) return ("\\u%04x"):format(ch:byte()) end)) end
    local spellings = { pct(TOKEN), pct(TOKEN):lower(), pct(TOKEN, true), esc(TOKEN),
                        esc(TOKEN:sub(1, 10)) .. pct(TOKEN:sub(11)), (TOKEN:gsub("%-", "\\u002d")),
                        (TOKEN:gsub("%-", "%%2d")) }
    for _, s in ipairs(spellings) do
      local _, err = interpret(401, '{"statusCode":401,"message":"bad token ' .. s .. '","echo":"' .. s .. '"}')
      local text = tostring(err) .. require("cjson").encode(err.body) .. err.body.echo
      assert.is_nil(text:find(TOKEN, 1, true), s)
      assert.is_nil(text:find(s, 1, true), s)
      assert.matches("[REDACTED]", err.body.echo, 1, true)
    end
    assert.are.equal("x [REDACTED] y", core.redact("x " .. pct(TOKEN) .. " y", TOKEN))
    assert.are.equal("short abc", core.redact("short abc", "abc")) -- under 6 bytes: left alone
    assert.are.equal("a [REDACTED]+[REDACTED]", core.redact("a s3cr3t!+s3cr3t%21", "s3cr3t!"))
  end)

  it("turns a transport failure into a structured error", function()
    local action, err = c:interpret({ req = req }, nil, "timeout", "Operation timed out after 100 ms")
    assert.are.equal("fail", action)
    assert.are.equal("timeout", err.kind)
    assert.is_nil(err.status)
    assert.are.equal("Operation timed out after 100 ms", err.message)
    assert.are.equal("/contacts/abc", err.path)
  end)
end)

describe("error object", function()
  local c = core.client{ token = TOKEN, base_url = "https://example.test", max_retries = 0 }
  local req = c:prepare("GET", "/contacts/{contactId}", { path = { contactId = "abc" } })
  local _, err = c:interpret({ req = req }, 404, head(), '{"statusCode":404,"message":"Contact not found","traceId":"t1"}')

  it("prints kind, status, message, request and trace id", function()
    assert.are.equal("ghl: http 404: Contact not found (GET /contacts/abc) [trace_id t1]", tostring(err))
    assert.are.equal(1, err.attempts)
  end)

  it("concatenates on either side", function()
    assert.are.equal("failed: " .. tostring(err), "failed: " .. err)
    assert.are.equal(tostring(err) .. "!", err .. "!")
  end)

  it("is recognised by ghl.is_error", function()
    assert.is_true(ghl.is_error(err))
    assert.is_false(ghl.is_error({ kind = "http" }))
  end)

  it("can be raised and caught as itself", function()
    local ok, e = pcall(error, err)
    assert.is_false(ok)
    assert.are.equal(err, e)
  end)
end)

describe("retry policy", function()
  local c = core.client{ token = TOKEN, base_url = "https://example.test", max_retries = 3,
                         retry_base_ms = 100, retry_max_delay_ms = 1000, max_retry_time_ms = 5000 }
  local function req(method) return c:prepare(method, "/x") end

  local function decide(method, status, headers, attempt, elapsed, sent)
    local call = { req = req(method), attempt = attempt or 1, started = core.now_ms() - (elapsed or 0) }
    if status then return c:interpret(call, status, head(headers), '{"message":"m"}') end
    return c:interpret(call, nil, headers, "boom", sent)
  end

  it("retries 429 for every method", function()
    for _, m in ipairs{ "GET", "PUT", "DELETE", "POST", "PATCH" } do
      assert.are.equal("retry", (decide(m, 429)), m)
    end
  end)

  it("retries 500/502/503/504 only for idempotent methods", function()
    for _, status in ipairs{ 500, 502, 503, 504 } do
      for _, m in ipairs{ "GET", "PUT", "DELETE" } do assert.are.equal("retry", (decide(m, status)), m .. status) end
      for _, m in ipairs{ "POST", "PATCH" } do assert.are.equal("fail", (decide(m, status)), m .. status) end
    end
  end)

  it("never retries any other status", function()
    for _, status in ipairs{ 400, 401, 403, 404, 409, 422, 501 } do
      assert.are.equal("fail", (decide("GET", status)), status)
    end
  end)

  it("retries a failed connection for every method only when nothing was sent", function()
    assert.are.equal("retry", (decide("POST", nil, "network", 1, 0, false)))
    assert.are.equal("fail", (decide("POST", nil, "network", 1, 0, true)))
    assert.are.equal("fail", (decide("POST", nil, "timeout", 1, 0, true)))
    assert.are.equal("retry", (decide("GET", nil, "timeout", 1, 0, true)))
    assert.are.equal("retry", (decide("PUT", nil, "network", 1, 0, true)))
    assert.are.equal("fail", (decide("POST", nil, "network", 1, 0, nil)), "unknown counts as sent")
    assert.are.equal("fail", (decide("GET", nil, "too_large", 1, 0, true)))
  end)

  it("backs off with full jitter under a growing, capped ceiling", function()
    for attempt = 1, 3 do
      local ceiling = math.min(1000, 100 * 2 ^ (attempt - 1))
      for _ = 1, 50 do
        local _, delay = decide("GET", 503, {}, attempt)
        assert.is_true(delay >= 0 and delay <= ceiling, ("attempt %d delay %s"):format(attempt, delay))
      end
    end
  end)

  it("stops after max_retries and within max_retry_time_ms", function()
    local action, err = decide("GET", 503, {}, 4)
    assert.are.equal("fail", action)
    assert.are.equal(4, err.attempts)
    assert.are.equal("fail", (decide("GET", 429, { ["retry-after"] = "10" }, 1, 0)))
  end)

  it("honours Retry-After (seconds and HTTP-date) and the rate-limit interval", function()
    local _, delay, err = decide("POST", 429, { ["retry-after"] = "2" })
    assert.is_true(delay >= 2000 and delay <= 2200, tostring(delay))
    assert.are.equal(2, err.retry_after)
    assert.are.equal(2000, err.retry_after_ms)
    local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3)
    _, delay = decide("POST", 429, { ["retry-after"] = date })
    assert.is_true(delay >= 1000 and delay <= 4400, tostring(delay))
    _, delay = decide("GET", 429, { ["x-ratelimit-interval-milliseconds"] = "1500" })
    assert.is_true(delay >= 1500 and delay <= 1650, tostring(delay))
    _, delay = decide("GET", 503, { ["retry-after"] = "1" })
    assert.is_true(delay >= 1000 and delay <= 1100, tostring(delay))
  end)

  it("parses Retry-After values", function()
    assert.are.equal(120000, core.parse_retry_after("120"))
    assert.are.equal(0, core.parse_retry_after("0"))
    assert.are.equal(30000, core.parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", 784111777))
    assert.are.equal(30000, core.parse_retry_after("Sunday, 06-Nov-94 08:50:07 GMT", 784111777))
    assert.are.equal(30000, core.parse_retry_after("Sun Nov  6 08:50:07 1994", 784111777))
    assert.are.equal(0, core.parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 100))
    for _, bad in ipairs{ "", "soon", "-5", "12abc", "Sun, 32 Nov 1994 08:49:37 GMT", "inf", "nan" } do
      assert.is_nil(core.parse_retry_after(bad), bad)
    end
    -- longer than any budget, never "now": taken as a billion seconds
    for _, huge in ipairs{ "1e10", "1e999", "99999999999999999999" } do
      assert.are.equal(1e12, core.parse_retry_after(huge), huge)
    end
  end)
end)

describe("pacer", function()
  local function headers(max, rem, interval, daily)
    return head{ ["x-ratelimit-max"] = tostring(max), ["x-ratelimit-remaining"] = tostring(rem),
                 ["x-ratelimit-interval-milliseconds"] = tostring(interval),
                 ["x-ratelimit-limit-daily"] = "200000", ["x-ratelimit-daily-remaining"] = tostring(daily or 1000) }
  end

  it("reads a raw head: plain digits, other numbers, and refuses what is not a count", function()
    local lim = core.pacer()
    lim:update("HTTP/1.1 200 OK\r\nX-RateLimit-Max: 100\r\nx-ratelimit-remaining:  95 \r\n" ..
               "X-RateLimit-Interval-Milliseconds: 1e4\r\nX-RateLimit-Limit-Daily: 200000\r\n" ..
               "X-RateLimit-Daily-Remaining: -5\r\nX-RateLimit-Maximum: 7\r\n\r\n", 1000)
    local s = lim:state()
    assert.are.equal(100, s.max)
    assert.are.equal(95, s.remaining)
    assert.are.equal(10000, s.interval_ms)
    assert.are.equal(200000, s.daily_limit)
    assert.is_nil(s.daily_remaining)
    -- "9x" is no count: without a Remaining the burst numbers are left as they were
    lim:update("HTTP/1.1 200 OK\r\nX-RateLimit-Max: 100\r\nX-RateLimit-Remaining: 9x\r\n" ..
               "X-RateLimit-Interval-Milliseconds: 10000\r\nX-RateLimit-Daily-Remaining: 12abc\r\n\r\n", 2000)
    s = lim:state()
    assert.are.equal(95, s.remaining)
    assert.is_nil(s.daily_remaining)
    lim:update("HTTP/1.1 200 OK\r\nX-RateLimit-Max: 1234567890123456\r\nX-RateLimit-Remaining: 90\r\n" ..
               "X-RateLimit-Interval-Milliseconds: 10000\r\nX-RateLimit-Daily-Remaining: 2.5e2\r\n\r\n", 3000)
    s = lim:state()
    assert.are.equal(1234567890123456, s.max)
    assert.are.equal(90, s.remaining)
    assert.are.equal(250, s.daily_remaining)
  end)

  it("sends at most 8 probes before it knows anything, then the rest", function()
    local lim = core.pacer()
    for i = 1, 8 do assert.are.equal(0, lim:acquire(1000 + i), i) end
    local wait, again = lim:acquire(1009)
    assert.are.equal("probe", again)
    assert.is_true(wait > 0)
    lim:update(headers(10, 9, 1000), 1010)
    assert.are.equal(0, lim:acquire(1011))
  end)

  it("takes the first answer's Remaining less the other probes still out", function()
    local lim = core.pacer()
    for i = 1, 4 do lim:acquire(1000 + i) end
    -- the first answer may have been counted before the 3 others reached the server
    lim:update(headers(10, 9, 1000), 1010)
    assert.are.equal(6, lim:state().remaining)
    lim:update(headers(10, 7, 1000), 1011) -- a later one: lower, taken
    assert.are.equal(6, lim:state().remaining)
  end)

  it("gives the X-RateLimit-* values of a head as it takes them (core.ratelimit_headers)", function()
    assert.are.same({ 10, 10, 60000, 200000, 5 }, -- a Remaining over the Max: the Max; an hour: 60 s
      { core.ratelimit_headers(head{ ["x-ratelimit-max"] = "10", ["x-ratelimit-remaining"] = "99",
                                     ["x-ratelimit-interval-milliseconds"] = "3600000",
                                     ["x-ratelimit-limit-daily"] = "200000", ["x-ratelimit-daily-remaining"] = "5" }) })
    assert.are.same({ -1, -1, -1, -1, -1 }, { core.ratelimit_headers(head{ ["x-ratelimit-max"] = "ten" }) })
  end)

  it("does not let probes that never answered hold the others back for long", function()
    local lim = core.pacer()
    for i = 1, 8 do lim:acquire(1000 + i) end
    assert.are.equal("probe", select(2, lim:acquire(1500)))
    assert.are.equal(0, lim:acquire(3100)) -- 2 s later: the probes are given up
  end)

  it("ends a probe that got no answer, so the next call probes at once", function()
    local lim = core.pacer()
    assert.are.equal(0, lim:acquire(1000))
    lim:update(nil, 1300) -- the probe timed out
    assert.are.equal(0, lim:acquire(1301))
  end)

  it("stops probing when the server sends no rate-limit headers", function()
    local lim = core.pacer()
    assert.are.equal(0, lim:acquire(1000))
    lim:update(head(), 1010)
    assert.are.equal(0, lim:acquire(1011))
    assert.are.equal(0, lim:acquire(1012))
  end)

  it("exports and imports its state (nginx workers share it)", function()
    local a = core.pacer()
    a:update(headers(10, 3, 1000), 5000)
    local b = core.pacer()
    assert.is_true(b:import(a:export()))
    assert.are.same(a:state(), b:state())
    assert.is_nil((b:import("garbage")))
  end)

  it("spaces requests near the end of the window, and waits for the next one when spent", function()
    local lim = core.pacer()
    local t = 1000000
    lim:update(headers(10, 9, 1000), t)
    local waits = {}
    for i = 1, 12 do waits[i] = lim:acquire(t) end
    -- 9 left: 7 go at once, the last 2 (reserve 20 %) are spaced at 100 ms
    for i = 1, 7 do assert.are.equal(0, waits[i], i) end
    assert.are.equal(0, waits[8])
    assert.are.equal(100, waits[9])
    -- nothing left: the tenth waits for the window to roll over
    assert.is_true(waits[10] >= 1000, tostring(waits[10]))
    local st = lim:state()
    assert.are.equal(10, st.max)
    assert.are.equal(1000, st.interval_ms)
  end)

  it("makes every caller of a spent window wait for the next one (concurrent callers)", function()
    local lim = core.pacer()
    lim:update(headers(4, 4, 1000), 1000)
    local waits, again = {}, {}
    for i = 1, 10 do waits[i], again[i] = lim:acquire(1000) end
    for i = 1, 4 do assert.is_true(waits[i] <= 250 and not again[i], i .. ": " .. waits[i]) end
    -- the others sleep until the window ends, then ask again: nothing is
    -- counted in the next window before it begins
    for i = 5, 10 do
      assert.are.equal(1020, waits[i], i)
      assert.are.equal("window", again[i], i)
    end
    for i = 5, 8 do assert.are.equal(0, lim:acquire(2020), i) end
    local w, a = lim:acquire(2020)
    assert.are.equal("window", a)
    assert.are.equal(1020, w)
  end)

  it("fails fast when the daily budget is spent", function()
    local lim = core.pacer()
    lim:update(headers(100, 50, 10000, 0), 1000)
    local wait, err = lim:acquire(2000)
    assert.is_nil(wait)
    assert.are.equal("rate_limited", err.kind)
    assert.matches("daily request budget", err.message)
    assert.is_true(err.retry_after > 0)
    assert.is_number(err.reset_at)
  end)

  it("does not take an older, higher Remaining arriving late for a new window", function()
    local lim = core.pacer()
    lim:update(headers(10, 1, 1000), 1000)
    lim:update(headers(10, 6, 1000), 1100) -- an answer overtaken by later ones
    assert.are.equal(1, lim:state().remaining)
  end)

  it("does not date a window it opened by a late answer counted in the previous one", function()
    local lim = core.pacer()
    lim:update(headers(10, 9, 1000), 0) -- the server's window: [0, 1000)
    for _ = 1, 9 do lim:acquire(10) end
    assert.are.equal(0, lim:acquire(1000)) -- ours rolls over: a provisional window opens at 1000
    -- an answer to a request sent at 990 (counted in the old window), late
    lim:update(headers(10, 0, 1000), 1001, 990)
    -- the first answer of the new window: the server began it at about 1040
    lim:update(headers(10, 9, 1000), 1045, 1000)
    assert.are.equal(2045, lim:state().window_reset_ms)
    -- without the send time, the late answer is taken as the new window's first
    local old = core.pacer()
    old:update(headers(10, 9, 1000), 0)
    for _ = 1, 9 do old:acquire(10) end
    old:acquire(1000)
    old:update(headers(10, 0, 1000), 1001)
    assert.are.equal(2001, old:state().window_reset_ms)
  end)

  it("dates the window anew when the server's began later than ours (state from an earlier run)", function()
    local lim = core.pacer()
    lim:update(headers(10, 3, 1000), 0, 0) -- ours: [0, 1000), 3 left
    for _ = 1, 3 do assert.is_true(lim:acquire(600) < 1000) end
    -- the server counts them as the first of a window of its own, begun at 600
    lim:update(headers(10, 8, 1000), 605, 600)
    assert.are.equal(1000, lim:state().window_reset_ms) -- not the first of a window: no news
    lim:update(headers(10, 9, 1000), 610, 600)
    assert.are.equal(1610, lim:state().window_reset_ms)
    -- so the next request waits for the server's window, not ours
    assert.is_true(lim:acquire(620) >= 1000)
    -- and callers told to wait before that answer came find out when they ask again
    local p = core.pacer()
    p:update(headers(10, 3, 1000), 0, 0)
    for _ = 1, 3 do p:acquire(600) end
    local w, again = p:acquire(600) -- spent: until our window's end
    assert.are.same({ 420, "window" }, { w, again })
    p:update(headers(10, 9, 1000), 605, 600)
    w, again = p:acquire(1020)
    assert.are.same({ 605, "window" }, { w, again })
    assert.are.equal(0, p:acquire(1625))
    -- an older answer of the current window, overtaken by later ones, moves nothing
    local late = core.pacer()
    late:update(headers(10, 7, 1000), 100, 50) -- the first answer of our window, at 100
    late:update(headers(10, 9, 1000), 120, 40)  -- the window's first request, sent before that
    assert.are.equal(1100, late:state().window_reset_ms)
  end)

  it("refuses a time that is not a finite number (it would poison the state)", function()
    local lim = core.pacer()
    assert.has_error(function() lim:acquire(0 / 0) end, "bad argument #1 to 'acquire' (a finite time in ms expected)")
    assert.has_error(function() lim:update(headers(10, 9, 1000), math.huge) end)
    assert.has_error(function() lim:update(headers(10, 9, 1000), 1000, -math.huge) end)
    lim:update(headers(10, 9, 1000), 1000, nil)
    assert.are.equal(9, lim:state().remaining)
  end)

  it("starts a new window when its clock says so", function()
    local lim = core.pacer()
    lim:update(headers(10, 0, 1000), 1000)
    lim:update(headers(10, 9, 1000), 2100)
    assert.are.equal(0, lim:acquire(2100))
  end)

  it("never sleeps past the caller's budget: fails at once and counts nothing", function()
    local lim = core.pacer()
    lim:update(headers(10, 0, 10000), 1000) -- nothing left until 11000
    local wait, err = lim:acquire(1001, 5000)
    assert.is_nil(wait)
    assert.are.equal("rate_limited", err.kind)
    assert.is_true(err.retry_after_ms > 5000)
    assert.matches("pacing would wait", err.message)
    -- nothing was counted: a caller with the budget for it still gets the next window
    local w = lim:acquire(1002, 20000)
    assert.is_true(w >= 9000 and w <= 10100, tostring(w))
    -- no wait needed: never refused, whatever the budget
    local fresh = core.pacer()
    fresh:update(headers(10, 9, 10000), 1000)
    assert.are.equal(0, fresh:acquire(1001, -5))
  end)

  it("clamps or ignores absurd rate-limit headers", function()
    local lim = core.pacer()
    lim:update(headers(10, 0, 3600000), 1000) -- an hour-long window
    assert.are.equal(60000, lim:state().interval_ms)
    lim = core.pacer()
    lim:update(headers(10, 0, 1e15), 1000)
    assert.are.equal(60000, lim:state().interval_ms)
    lim = core.pacer()
    lim:update(headers(10, 50, 1000), 1000) -- more left than the maximum
    assert.are.equal(10, lim:state().remaining)
    for _, bad in ipairs{ "-5", "soon", "NaN", "inf", "1e400", "" } do
      lim = core.pacer()
      lim:update(head{ ["x-ratelimit-max"] = "10", ["x-ratelimit-remaining"] = "0",
                       ["x-ratelimit-interval-milliseconds"] = bad }, 1000)
      assert.is_nil(lim:state().interval_ms, bad)
      assert.are.equal(0, lim:acquire(1001, 10)) -- nothing trusted, nothing slept
    end
  end)
end)

