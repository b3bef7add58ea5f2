-- Lists kept in (_ms, id) order, so pages and cursors come from index
-- arithmetic and binary search instead of sorting on every request.
-- Items carry `_ms` (the sort time) and `id` (the tie-break). Change an
-- item's `_ms` only after taking it out of its lists.
local M = {}

local floor = math.floor

local function key_less(ams, aid, bms, bid)
  return ams < bms or (ams == bms and aid < bid)
end
M.key_less = key_less

--- Index of the first item whose key is greater than (ms, id).
function M.upper(list, ms, id)
  local lo, hi = 1, #list + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    local it = list[mid]
    if key_less(ms, id, it._ms, it.id) then hi = mid else lo = mid + 1 end
  end
  return lo
end

--- Index of the first item whose key is not less than (ms, id).
function M.lower(list, ms, id)
  local lo, hi = 1, #list + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    local it = list[mid]
    if key_less(it._ms, it.id, ms, id) then lo = mid + 1 else hi = mid end
  end
  return lo
end

function M.insert(list, item)
  table.insert(list, M.upper(list, item._ms, item.id), item)
end

function M.remove(list, item)
  local i = M.lower(list, item._ms, item.id)
  if list[i] == item then
    table.remove(list, i)
    return true
  end
  return false
end

function M.sort(list)
  table.sort(list, function(a, b) return key_less(a._ms, a.id, b._ms, b.id) end)
end

--- First position p in 1..n+1 where pred(p) holds, for a pred that is false
-- then true along the list.
function M.first(n, pred)
  local lo, hi = 1, n + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if pred(mid) then hi = mid else lo = mid + 1 end
  end
  return lo
end

return M
