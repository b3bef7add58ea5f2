-- Faults queued by POST /_mock/faults, for the requests a test cannot put a
-- header on: a client's own retries. An entry {method?, path, fault, times,
-- skip?} is met by the next `times` requests with that method (any when nil)
-- and that exact raw path (no query), after the first `skip` of them went
-- through untouched (page 3 of a walk: skip = 2); entries are used in the
-- order queued. With `chance` (0..1) a matching request meets the entry only
-- that often (else the next entries are tried): faults spread over a run.
local M = {}

local queue = {}

function M.clear() queue = {} end

function M.add(entry) queue[#queue + 1] = entry end

--- The fault spec of the first entry this request matches (using one of
-- its times), or nil. Costs one length check while the queue is empty.
function M.take(method, path)
  if #queue == 0 then return nil end
  for i, e in ipairs(queue) do
    if e.path == path and (e.method == nil or e.method == method) and (not e.chance or math.random() < e.chance) then
      if (e.skip or 0) > 0 then
        e.skip = e.skip - 1
        return nil
      end
      e.times = e.times - 1
      if e.times <= 0 then table.remove(queue, i) end
      return e.fault
    end
  end
  return nil
end

--- What is left, in order.
function M.list() return queue end

return M
