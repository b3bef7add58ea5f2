--- Iterators over paged operations: Lua closures over a C pager, so they
-- can yield inside nginx. A failed page raises the structured error: a
-- `for` loop never ends early in silence.
-- @internal ghl.paging
local core = require "ghl.core"
local errors = require "ghl.errors"

local M = {}

-- our options, never sent to GHL
local OPTIONS = { max_items = true, max_pages = true, items = true, limit = false }

--- Takes max_items / max_pages / items out of `params` (a copy is made).
function M.take_options(params, opts)
  local clean, o = {}, {}
  for k, v in pairs(opts or {}) do o[k] = v end
  for k, v in pairs(params or {}) do
    if OPTIONS[k] then o[k] = v else clean[k] = v end
  end
  return clean, o
end

--- A pager for a catalogue entry (style, items field, page-size key).
function M.pager(e, key, o, where)
  if not e.pg then
    if e.nx then errors.invalid("%s: %s is not walked page by page (it %s); use client:call", where, key, e.nx) end
    errors.invalid("%s: %s has no known paging style; use client:call for one page", where, key)
  end
  if o.items ~= nil and (type(o.items) ~= "string" or o.items == "") then
    errors.invalid("%s: the items option must be a field or a path of fields (\"results.posts\")", where)
  end
  return core.pager{
    style = e.pg,
    items = o.items or e.it, -- a path: "results.posts"
    cursor_key = e.ck,       -- nil: the style's own
    size_key = e.lk,
    cursor_string = e.ct == "s",
    first_page = e.p0,
    max_items = o.max_items,
    max_pages = o.max_pages,
  }
end

-- The cursor of the first page, for the styles that count
local FIRST = { skip_limit = 0, limit_offset = 0 }

--- Fills in the cursor of the first page when the spec requires it (a
-- required lastDoc, offset, ...) and the caller gave none: 0 for the
-- counting styles, the first page number, else "" (nothing to continue after).
function M.first_cursor(e, params)
  local ck = e.ck
  if not ck or params[ck] ~= nil then return end
  local required = false
  for _, list in ipairs{ e.rq or {}, e.rb or {} } do
    for _, n in ipairs(list) do required = required or n == ck end
  end
  if not required then return end
  local v = FIRST[e.pg] or (e.pg == "page" and (e.p0 or 1)) or ""
  if e.ct == "s" and type(v) == "number" then v = tostring(v) end
  params[ck] = v
end

--- Where an entry's cursor goes (its query or its body, in `parts`), and a
-- fetch(cursor) that sends the entry with that cursor in its place.
function M.fetcher(client, e, parts, headers)
  local target = e.pin == "body" and "body" or "query"
  parts[target] = parts[target] or {}
  return target, function(cursor)
    parts[target] = cursor
    return client:_send(e, parts, headers)
  end
end

--- Iterates pages: fetch(cursor_params) -> page | nil, err. Yields
-- `items, page` per page.
function M.pages(pager, params, fetch)
  local nextp, done, yielded = pager:first(params), false, 0
  return function()
    if done then return nil end
    local page, err = fetch(nextp)
    if page == nil then
      done = true
      error(err, 0)
    end
    local items, after = pager:next(nextp, page)
    if items == nil then
      done = true
      error(after, 0)
    end
    nextp = after
    if after == nil then
      done = true
      -- a last page that only confirms the end is not worth a turn of the loop
      if #items == 0 and yielded > 0 then return nil end
    end
    yielded = yielded + 1
    return items, page
  end
end

--- Iterates items, one page in memory at a time.
function M.items(pager, params, fetch)
  local next_page = M.pages(pager, params, fetch)
  local items, i = nil, 0
  return function()
    while true do
      if items then
        i = i + 1
        local v = items[i]
        if v ~= nil then return v end
      end
      items, i = next_page(), 0
      if items == nil then return nil end
    end
  end
end

return M
