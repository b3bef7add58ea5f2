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
-- At most `concurrency` calls are active at once, so a call's budget starts
-- when it does, not when the batch did. Calls are paced per location (an
-- agency OAuth client's calls for many locations: one budget each): a call
-- that waits for its location's budget, or before a retry, leaves its slot
-- to calls of other locations, and while it waits no other call of its
-- location starts, so a spent location holds up no other.
-- OAuth: one token cache for the batch, so the token is fetched once and a
-- token that expires mid-batch is renewed once.
--
-- Hooks (ghl.job's journal): `on_send(i)` runs just before call i's first
-- request leaves (after its pacing wait; not again for its retries) and
-- `on_done(i, body, resp | nil, err)` as soon as call i has its result,
-- both before any other call is started. A hook that raises ends the batch
-- (the error is raised; requests in flight are abandoned).
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

-- The calls not started yet, per pacer (one budget: a location), each
-- queue in input order. `take(held)` gives the first call, in input order,
-- of a pacer none of whose calls is held back (`held[pacer]`), or nil: a
-- location that waits does not hold up the others, and only one of its
-- calls at a time waits for its budget, so the others' budgets (their
-- timeout_ms) have not begun yet. Calls without a pacer are never held.
local function queues_of(calls)
  local queues, order = {}, {}
  for i = 1, #calls do
    local p = calls[i].pacer or false
    local q = queues[p]
    if not q then
      q = { head = 1, pacer = p }
      queues[p] = q
      order[#order + 1] = q
    end
    q[#q + 1] = i
  end
  local function take(held)
    local best, bq, k = nil, nil, 1
    while k <= #order do
      local q = order[k]
      local i = q[q.head]
      if i == nil then -- this queue is done: drop it
        order[k] = order[#order]
        order[#order] = nil
      else
        if (best == nil or i < best) and not (q.pacer and held[q.pacer]) then best, bq = i, q end
        k = k + 1
      end
    end
    if bq then bq.head = bq.head + 1 end
    return best
  end
  return take
end

-- curl multi: step every active call whose time has come; start what is
-- to be sent; poll the transfers; feed what finished back to its call.
-- A call that waits (for its pacer, or before a retry) gives its slot up
-- (it is parked) and takes one again when its time comes, before any call
-- not started yet; at most `concurrency` calls hold a slot (in flight or
-- about to be sent), so no more transfers than that run at once.
local function over_multi(client, calls, concurrency, hooks)
  local multi = client:_multi_for(concurrency)
  local n, results, active, done, inflight = #calls, {}, {}, 0, 0
  local parked, held, take = {}, {}, queues_of(calls)
  local on_send, on_done, told = hooks.on_send, hooks.on_done, {}
  local function finish(i, what, x, y)
    local r = outcome(what, x, y)
    results[i] = r
    done = done + 1
    if on_done then on_done(i, r[1], r[2]) end
  end
  while done < n do
    local now, soonest = now_ms(), math.huge
    -- parked calls whose time has come first, then calls not started yet
    local k = 1
    while k <= #parked do
      local i = parked[k]
      local call = calls[i]
      if call.at > now then
        if call.at < soonest then soonest = call.at end
        k = k + 1
      elseif #active < concurrency then
        table.remove(parked, k)
        local p = call.pacer
        held[p] = held[p] > 1 and held[p] - 1 or nil
        active[#active + 1] = i
      else
        k = k + 1 -- due, and waits for a slot
      end
    end
    while #active < concurrency do
      local i = take(held)
      if not i then break end
      active[#active + 1] = i
    end
    k = 1
    while k <= #active do
      local i = active[k]
      local call = calls[i]
      if call.state ~= "sent" then
        local what, x, y = driver.step(call, now)
        if what == "send" then
          if on_send and not told[i] then
            told[i] = true
            on_send(i)
          end
          assert(multi:start(i, x))
          inflight = inflight + 1
          k = k + 1
        elseif what == "wait" then
          if call.at < soonest then soonest = call.at end
          local p = call.pacer
          if p then -- its slot goes to another call meanwhile
            table.remove(active, k)
            parked[#parked + 1] = i
            held[p] = (held[p] or 0) + 1
          else
            k = k + 1
          end
        else -- "fail" before sending (a token, the pacer's budget)
          finish(i, what, x, y)
          table.remove(active, k)
        end
      else
        k = k + 1
      end
    end
    if inflight > 0 then
      local timeout = math.max(0, math.min(soonest - now_ms(), 100))
      for _, r in ipairs(multi:poll(timeout)) do
        local i = r[1]
        inflight = inflight - 1
        local what, x, y = driver.feed(calls[i], r[2], r[3], r[4], r[5])
        if what == "done" or what == "fail" then
          finish(i, what, x, y)
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

-- nginx: light threads that take the next call until none is left; a
-- thread takes a call of a location none of whose calls waits for its
-- budget when there is one (see queues_of), else the next call.
local function in_threads(client, calls, concurrency, hooks)
  local n, results, raised = #calls, {}, nil
  local transport, sleep = client._transport, client._sleep
  local held, take, taken = {}, queues_of(calls), 0
  local none = {}
  local function worker()
    while taken < n do
      local i = take(held) or take(none)
      taken = taken + 1
      local call = calls[i]
      local p = call.pacer
      local function wait(ms) -- while it waits, its location's other calls go to other threads
        if p then held[p] = (held[p] or 0) + 1 end
        sleep(ms)
        if p then held[p] = held[p] > 1 and held[p] - 1 or nil end
      end
      local ok, a, b = true, nil, nil
      if hooks.on_send then ok, a = pcall(hooks.on_send, i) end
      if ok then ok, a, b = pcall(driver.run, call, transport, wait) end
      if ok then results[i] = { a, b } else raised = raised or a; results[i] = { nil, a } end
      if ok and hooks.on_done then
        local hok, herr = pcall(hooks.on_done, i, a, b)
        if not hok then raised = raised or herr end
      end
    end
  end
  local threads = {}
  for k = 1, math.min(concurrency, n) do threads[k] = ngx.thread.spawn(worker) end
  for k = 1, #threads do ngx.thread.wait(threads[k]) end
  if raised then error(raised, 0) end -- misuse (a phase without cosockets): raise it, as a single call would
  return results
end

local function in_order(client, calls, hooks)
  local results = {}
  for i = 1, #calls do
    if hooks.on_send then hooks.on_send(i) end
    local r = { driver.run(calls[i], client._transport, client._sleep) }
    results[i] = r
    if hooks.on_done then hooks.on_done(i, r[1], r[2]) end
  end
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
  local hooks = { on_send = opts.on_send, on_done = opts.on_done }
  for name, f in pairs(hooks) do
    if type(f) ~= "function" then errors.invalid("batch: %s must be a function, got %s", name, type(f)) end
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
    if not (hooks.on_send or hooks.on_done) then return over_multi(client, calls, math.min(concurrency, 256), hooks) end
    local ok, res = pcall(over_multi, client, calls, math.min(concurrency, 256), hooks)
    if ok then return res end
    -- a hook raised with transfers in flight: the multi handle is not reused
    local multi = client._multi
    client._multi = nil
    if multi then multi:close() end
    error(res, 0)
  end
  if ngx and ngx.thread and ngx.get_phase and ngx.get_phase() ~= "init" then
    return in_threads(client, calls, concurrency, hooks)
  end
  return in_order(client, calls, hooks)
end

return M
