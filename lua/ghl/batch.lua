--- client:batch over a curl multi handle: many calls in flight at once on
-- pooled connections. The loop is here; every decision is the C core's, as
-- for a single call: the pacer says when a call may start, interpret() says
-- done, retry (after how long) or fail.
local core = require "ghl.core"
local errors = require "ghl.errors"

local M = {}

local now_ms = core.now_ms

--- The request of one batch entry: { method, path, opts } or
-- { op =, params =, opts = }. Misuse raises here, before anything is sent.
function M.prepare(client, call, i)
  local where = ("batch: call %d"):format(i)
  if type(call) ~= "table" then errors.invalid("%s must be a table", where) end
  if call.op ~= nil then
    local method, path, opts = client:_op_request(call.op, call.params, call.opts and call.opts.headers, where)
    return client._core:prepare(method, path, opts)
  end
  if type(call[1]) ~= "string" then
    errors.invalid("%s must be { method, path, opts } or { op =, params = }", where)
  end
  return client._core:prepare(call[1], call[2], call[3])
end

--- Runs the calls on `multi` (curl.multi) with up to `concurrency` in
-- flight. Results in input order: { body, resp } or { nil, err }.
function M.run(client, calls, concurrency, multi)
  local c, lim = client._core, client._limiter
  local n = #calls
  local jobs, queue = {}, {}
  for i = 1, n do
    jobs[i] = { req = M.prepare(client, calls[i], i), attempt = 1, at = 0 }
    queue[i] = i
  end
  -- every call's retry budget counts from here, after all were prepared
  local started = now_ms()
  local results, done, inflight = {}, 0, 0

  while done < n do
    local now = now_ms()
    -- start what may start, in order, as far as the concurrency allows
    local qi = 1
    while qi <= #queue and inflight < concurrency do
      local j = queue[qi]
      local job = jobs[j]
      local go = job.at <= now
      if go and lim and not job.slot then
        local wait, x = lim:acquire(now)
        if not wait then -- the daily budget is spent: this call fails, nothing sent
          x.method, x.path = job.req.method, job.req.path
          results[j] = { nil, x }
          done = done + 1
          table.remove(queue, qi)
          go = false
          qi = qi - 1
        elseif x == true or wait > 0 then
          -- come back later; a paced wait (x ~= true) has reserved its slot
          job.at, job.slot, go = now + wait, x ~= true, false
        end
      end
      if go then
        job.slot, job.sent_at = nil, now_ms()
        assert(multi:start(j, job.req))
        inflight = inflight + 1
        table.remove(queue, qi)
      else
        qi = qi + 1
      end
    end
    if done >= n then break end

    -- wait for transfers, or for the next call that may start (only when a
    -- slot is free: with every slot busy, a ready call waits for a transfer)
    local next_at = math.huge
    if inflight < concurrency then
      for _, j in ipairs(queue) do
        if jobs[j].at < next_at then next_at = jobs[j].at end
      end
    end
    local timeout = math.max(0, math.min(next_at - now_ms(), 100))
    if inflight == 0 then
      if timeout > 0 then client._sleep(timeout) end
    else
      local finished = multi:poll(timeout)
      if #finished > 0 then
        -- an answer may have ended the pacer's probe: calls told to ask again
        -- ask now instead of at their next poll
        for _, j in ipairs(queue) do
          if not jobs[j].slot and jobs[j].attempt == 1 then jobs[j].at = 0 end
        end
      end
      for _, r in ipairs(finished) do
        local j = r[1]
        local job = jobs[j]
        inflight = inflight - 1
        local status, a, b, sent = r[2], r[3], r[4], r[5]
        if lim then lim:update(status and a or nil, now_ms(), job.sent_at) end
        local action, x, y = c:interpret(job.req, status, a, b, job.attempt, now_ms() - started, sent)
        if action == "done" then
          results[j] = { x, y }
          done = done + 1
        elseif action == "retry" then
          client:_notify_retry(job.attempt, x, y, job.req)
          job.attempt, job.at = job.attempt + 1, now_ms() + x
          queue[#queue + 1] = j
        else
          results[j] = { nil, x }
          done = done + 1
        end
      end
    end
  end
  return results
end

return M
