--- client:batch: many calls at once. Each call is a ghl.driver call (the
-- same token, pacing, retry and refresh decisions as a single call); only
-- the I/O differs:
--
-- - curl multi: the default outside nginx: every active call's transfer
--   on one multi handle (pooled connections)
-- - light threads: inside nginx: ngx.thread.spawn, each running calls one
--   after the other on the nginx transport
-- - in order: a transport of your own: one call after the other
--
-- At most `concurrency` calls are active (in flight, pacing or backing off)
-- at once, so a call's budget starts when it does, not when the batch did.
-- OAuth: one token cache for the batch, so the token is fetched once and a
-- token that expires mid-batch is renewed once.
-- @internal ghl.batch
local core = require "ghl.core"
local errors = require "ghl.errors"
local driver = require "ghl.driver"

local now_ms = core.now_ms

local M = {}

-- The driver call of one batch entry: { method, path, opts } or
-- { op =, params =, opts = }. Misuse raises here, before anything is sent.
local function new_call(client, entry, i, tokens)
  local where = ("batch: call %d"):format(i)
  if type(entry) ~= "table" or (entry.op == nil and type(entry[1]) ~= "string") then
    errors.invalid("%s must be { method, path, opts } or { op =, params = }", where)
  end
  if entry.op ~= nil then
    local method, path, opts, token_type = client:_op_request(entry.op, entry.params,
      entry.opts and entry.opts.headers, where)
    return driver.new(client, method, path, opts, token_type, tokens)
  end
  return driver.new(client, entry[1], entry[2], entry[3], nil, tokens)
end

local function outcome(what, x, y)
  if what == "done" then return { x, y } end
  return { nil, x }
end

-- curl multi: step every active call whose time has come; start what is
-- to be sent; poll the transfers; feed what finished back to its call.
local function over_multi(client, calls, concurrency)
  local multi = client:_multi_for(concurrency)
  local n, results, active, next_i, done, inflight = #calls, {}, {}, 1, 0, 0
  while done < n do
    while #active < concurrency and next_i <= n do
      active[#active + 1] = next_i
      next_i = next_i + 1
    end
    local now, soonest, k = now_ms(), math.huge, 1
    while k <= #active do
      local i = active[k]
      local call = calls[i]
      if call.state ~= "sent" then
        local what, x, y = driver.step(call, now)
        if what == "send" then
          assert(multi:start(i, x))
          inflight = inflight + 1
        elseif what == "wait" then
          if call.at < soonest then soonest = call.at end
        else -- "fail" before sending (a token, the pacer's budget)
          results[i] = outcome(what, x, y)
          done = done + 1
          table.remove(active, k)
          k = k - 1
        end
      end
      k = k + 1
    end
    if inflight > 0 then
      local timeout = math.max(0, math.min(soonest - now_ms(), 100))
      for _, r in ipairs(multi:poll(timeout)) do
        local i = r[1]
        inflight = inflight - 1
        local what, x, y = driver.feed(calls[i], r[2], r[3], r[4], r[5])
        if what == "done" or what == "fail" then
          results[i] = outcome(what, x, y)
          done = done + 1
          for k2 = 1, #active do
            if active[k2] == i then table.remove(active, k2) break end
          end
        end
      end
    elseif soonest < math.huge then
      client._sleep(math.max(0, soonest - now_ms()))
    end
  end
  return results
end

-- nginx: light threads that take the next call until none is left.
local function in_threads(client, calls, concurrency)
  local n, results, next_i, raised = #calls, {}, 0, nil
  local transport, sleep = client._transport, client._sleep
  local function worker()
    while true do
      next_i = next_i + 1
      local i = next_i
      if i > n then return end
      local ok, a, b = pcall(driver.run, calls[i], transport, sleep)
      if ok then results[i] = { a, b } else raised = raised or a; results[i] = { nil, a } end
    end
  end
  local threads = {}
  for k = 1, math.min(concurrency, n) do threads[k] = ngx.thread.spawn(worker) end
  for k = 1, #threads do ngx.thread.wait(threads[k]) end
  if raised then error(raised, 0) end -- misuse (a phase without cosockets): raise it, as a single call would
  return results
end

local function in_order(client, calls)
  local results = {}
  for i = 1, #calls do results[i] = { driver.run(calls[i], client._transport, client._sleep) } end
  return results
end

--- Runs the calls (see Client:batch); results in input order.
function M.run(client, entries, opts)
  if type(entries) ~= "table" then errors.invalid("batch: calls must be a list, got %s", type(entries)) end
  opts = opts or {}
  local concurrency = opts.concurrency or 8
  if type(concurrency) ~= "number" or concurrency < 1 or concurrency ~= math.floor(concurrency) then
    errors.invalid("batch: concurrency must be a whole number >= 1, got %s", tostring(concurrency))
  end
  local n = #entries
  if client._closed then
    local out = {}
    for i = 1, n do out[i] = { nil, client.closed_error(nil, nil) } end
    return out
  end
  local tokens = client._auth and require("ghl.tokens").new(client)
  local calls = {}
  for i = 1, n do calls[i] = new_call(client, entries[i], i, tokens) end
  if n == 0 then return {} end
  if client._curl_options then
    return over_multi(client, calls, math.min(concurrency, 256))
  end
  if ngx and ngx.thread and ngx.get_phase and ngx.get_phase() ~= "init" then
    return in_threads(client, calls, concurrency)
  end
  return in_order(client, calls)
end

return M
