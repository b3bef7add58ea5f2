--- Incremental export: the records of a resource that changed since a time, or since the last
-- run, read with GHL's own filters and written out page by page, with a state file that moves
-- only after a page's records are out.
--
--     local ex = assert(ghl.export{ client = client, resource = "contacts", state = "contacts.state" })
--     for contacts in ex:pages() do
--       for _, c in ipairs(contacts) do out:write(c.id, ",", c.dateUpdated, "\n") end
--       out:flush()            -- the page's rows are out...
--       assert(ex:commit())    -- ...then the state file says so (an atomic write)
--     end
--
-- The first run (no state file yet) reads everything, or what changed since `since`; every
-- later run reads what changed since the last one. A run with nothing new sends one request.
--
-- **What each resource is read by** (the server does the filtering wherever GHL can):
--
-- - `contacts`, by `dateUpdated`: `POST /contacts/search` with the filter
--   `{ field = "dateUpdated", operator = "range", value = { gte = <ISO time> } }`, sorted by
--   `dateUpdated` ascending, paged by `searchAfter` (the last contact's sort value and id).
-- - `conversations`, by `lastMessageDate` (a new message moves it; a read or a star does not):
--   `GET /conversations/search` with `sort=asc`, `sortBy=last_message_date` and `startAfterDate`.
--   GHL's cursor there is the date alone and skips every conversation whose date equals it, so
--   each page asks from one millisecond before the last date it got and drops what it already
--   has; more than a page of conversations with one same date is an error, not a silent skip.
-- - `opportunities`, by `updatedAt` (every change, the default): GHL's opportunity search has
--   no filter or order on `updatedAt`, so every run reads every opportunity (oldest first,
--   `order=added_asc`, keyset paging) and keeps those changed since; the state remembers where
--   an interrupted run was. `field = "createdAt"` reads only new ones, on the server: the
--   `date` filter (a day, `mm-dd-yyyy`) and `startAfter` (epoch ms) of the same search.
--
-- **The cursor rule.** A record's version is its id and its time (the field above, to the
-- millisecond). The state holds `lower`, the time the next run starts from (`gte`: ties are
-- read again, never skipped), and `seen`, the versions written at or after `lower`; a version
-- read again is dropped, so a record is written once per change. Inside a run, pages follow
-- GHL's own cursor (time and id), so equal times at a page boundary are neither lost nor
-- repeated. GHL's search index lags its writes ("updates may take a few seconds to appear in
-- search results"), so a change may show up after the walk passed its place; `overlap` (default
-- 5 minutes) is how long that lag may be. After each page read at the server's time `t` (its
-- `Date` header; without one, the newest time on the page, never this machine's clock, which
-- may run ahead of GHL's), `lower` moves up to the page's last time only where that is older than
-- `t - overlap`; once a page reaches that recent past, `lower` stays for the rest of the run,
-- and the last page moves it to `t - overlap`. So every change older than `lower` was already
-- in the index when the walk went past it, and was written; everything newer is read again by
-- the next run. A record changed while the run is under way may come twice in it (the later
-- row is the newer version). A state is written only by `commit`, after the caller wrote the
-- page's records, atomically (a temp file, fsync, rename): a run killed at any point leaves
-- the state of the last page committed, and the next run starts from there. One export at a
-- time uses a state file: it holds `<state>.lock` (flock: a killed process lets go of it).
-- @module ghl.export
local core = require "ghl.core"
local errors = require "ghl.errors"
local check = require "ghl.check"

local M = {}

local Export = {}
Export.__index = Export

local floor = math.floor
local DAY = 86400000

--- The default `overlap`: how long GHL's search index may lag its writes (ms).
M.OVERLAP_MS = 300000

local STATE_VERSION = 1

-- times ---------------------------------------------------------------------

-- days since 1970-01-01 of a civil date (H. Hinnant's algorithm)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local MONTH_DAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Epoch milliseconds of an ISO 8601 date or date-time, as GHL writes them
-- (`2026-01-31T08:00:00.000Z`) and with an offset (`+05:30`, `-0800`); a time without a zone is
-- UTC, a date alone its midnight UTC; digits past the milliseconds are dropped.
-- @string s
-- @treturn ?number epoch ms, or nil when `s` is not one
function M.parse_iso(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > MONTH_DAYS[mo] then return nil end
  local hh, mi, ss, ms, off = 0, 0, 0, 0, 0
  if rest ~= "" then
    local h, m2, tail = rest:match("^[Tt ](%d%d):(%d%d)(.*)$")
    if not h then return nil end
    hh, mi, rest = tonumber(h), tonumber(m2), tail
    local s2, tail2 = rest:match("^:(%d%d)(.*)$")
    if s2 then
      ss, rest = tonumber(s2), tail2
      local f, tail3 = rest:match("^[.,](%d+)(.*)$")
      if f then ms, rest = tonumber((f .. "00"):sub(1, 3)), tail3 end
    end
    if rest ~= "" and rest ~= "Z" and rest ~= "z" then
      local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then
        sign, oh = rest:match("^([+-])(%d%d)$")
        om = "00"
      end
      if not sign then return nil end
      off = (tonumber(oh) * 60 + tonumber(om)) * (sign == "-" and -1 or 1)
    end
  end
  if hh > 23 or mi > 59 or ss > 60 then return nil end
  return (days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss) * 1000 + ms - off * 60000
end

--- An epoch-ms time as GHL writes it: `2026-01-31T08:00:00.000Z`.
-- @number ms
-- @treturn string
function M.iso(ms)
  ms = floor(ms)
  local days = floor(ms / DAY)
  local rest = ms - days * DAY
  local y, m, d = civil_from_days(days)
  local s = floor(rest / 1000)
  return ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"):format(y, m, d, floor(s / 3600), floor(s / 60) % 60, s % 60,
    rest % 1000)
end

local UNITS = { ms = 1, s = 1000, m = 60000, h = 3600000, d = DAY, w = 7 * DAY }

--- Milliseconds of a duration: `90s`, `15m`, `24h`, `7d`, `2w`, `500ms`, `1h30m`, `0`.
-- @string s
-- @treturn ?number ms, or nil when `s` is not one
function M.duration(s)
  if type(s) ~= "string" or s == "" then return nil end
  if s == "0" then return 0 end
  local total, rest = 0, s
  while rest ~= "" do
    local n, unit, tail = rest:match("^(%d+%.?%d*)(ms)(.*)$")
    if not n then n, unit, tail = rest:match("^(%d+%.?%d*)([smhdw])(.*)$") end
    if not n then return nil end
    total = total + tonumber(n) * UNITS[unit]
    rest = tail
  end
  return floor(total)
end

local TIME_FORMS = "ISO 8601 (2026-01-31, 2026-01-31T08:00:00Z, ...+05:30), epoch seconds or milliseconds, "
  .. "or a duration back from now (90m, 24h, 7d)"

--- The epoch-ms time a `since` names: ISO 8601 (see `parse_iso`); epoch seconds or
-- milliseconds, as a number or digits (below 1e11 it can only be seconds: 1e11 ms is 1973); a
-- duration back from `now` (see `duration`).
-- @param v a string or a number
-- @number[opt] now epoch ms (default: this machine's clock)
-- @treturn[1] number epoch ms
-- @treturn[2] nil
-- @treturn[2] string why `v` is not a time
function M.time(v, now)
  if type(v) == "number" then
    if v ~= v or v < 0 or v == math.huge then return nil, ("%s is not a time"):format(tostring(v)) end
    if v < 1e11 then return floor(v * 1000) end
    return floor(v)
  end
  if type(v) ~= "string" then return nil, ("a time is a string or a number, not %s"):format(type(v)) end
  if v:match("^%d+$") and #v <= 16 then return M.time(tonumber(v), now) end
  local d = M.duration(v)
  if d then return floor(now or core.now_ms()) - d end
  local t = M.parse_iso(v)
  if t then return t end
  return nil, ("'%s' is not a time: %s"):format(v, TIME_FORMS)
end

-- A record's time: epoch ms (a number, or digits: as GHL sends them, so that the cursors made
-- from them are GHL's) or an ISO 8601 string.
local function ms_of(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return nil end
    return floor(v)
  end
  if type(v) == "string" then
    if v:match("^%d+$") then return ms_of(tonumber(v)) end
    return M.parse_iso(v)
  end
  return nil
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }

-- epoch ms of an HTTP Date header (IMF-fixdate), or nil
local function http_date_ms(v)
  if type(v) ~= "string" then return nil end
  local d, mon, y, hh, mi, ss = v:match("^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local m = mon and MONTHS[mon]
  if not m then return nil end
  return (days_from_civil(tonumber(y), m, tonumber(d)) * 86400 + tonumber(hh) * 3600 + tonumber(mi) * 60
    + tonumber(ss)) * 1000
end

local function digits(n) return ("%d"):format(floor(n)) end

local function mdy(ms)
  local y, m, d = civil_from_days(floor(ms / DAY))
  return ("%02d-%02d-%04d"):format(m, d, y)
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- what each resource is read by ----------------------------------------------

-- opportunities: the next page from meta.startAfter / startAfterId (never meta.nextPageUrl)
local function keyset_next(p, body)
  local meta = type(body.meta) == "table" and body.meta or {}
  local after, id = meta.startAfter, meta.startAfterId
  if after == nil or after == core.null or id == nil or id == core.null then return nil end
  local n = copy(p)
  n.startAfter = type(after) == "number" and digits(after) or tostring(after)
  n.startAfterId = tostring(id)
  return n
end

local READERS = {
  contacts = {
    default = "dateUpdated",
    dateUpdated = {
      op = "contacts.search-contacts-advanced", items = "contacts", size = "pageLimit", max = 500,
      own = { "page", "pageLimit", "searchAfter", "sort" },
      key = function(r) return ms_of(r.dateUpdated) end,
      first = function(p, lower)
        p.sort = { { field = "dateUpdated", direction = "asc" } }
        if lower then
          local f = {}
          for i, x in ipairs(p.filters or {}) do f[i] = x end
          f[#f + 1] = { field = "dateUpdated", operator = "range", value = { gte = M.iso(lower) } }
          p.filters = f
        end
      end,
      next = function(p, _, items)
        local sa = items[#items].searchAfter
        if type(sa) ~= "table" then return nil, "the last contact of the page has no searchAfter cursor" end
        local n = copy(p)
        n.searchAfter = sa
        return n
      end,
    },
  },
  opportunities = {
    default = "updatedAt",
    updatedAt = {
      op = "opportunities.search-opportunity", items = "opportunities", size = "limit", max = 100, scan = true,
      own = { "order", "page", "limit", "startAfter", "startAfterId", "date", "endDate" },
      key = function(r) return ms_of(r.updatedAt) end,
      first = function(p, _, cursor)
        p.order = "added_asc"
        if cursor then p.startAfter, p.startAfterId = cursor.startAfter, cursor.startAfterId end
      end,
      next = keyset_next,
      cursor = function(p) return { startAfter = p.startAfter, startAfterId = p.startAfterId } end,
    },
    createdAt = {
      op = "opportunities.search-opportunity", items = "opportunities", size = "limit", max = 100,
      own = { "order", "page", "limit", "startAfter", "startAfterId", "date", "endDate" },
      key = function(r) return ms_of(r.createdAt) end,
      first = function(p, lower)
        p.order = "added_asc"
        if lower then
          -- the day filter a day early (GHL may read the day in the location's time zone: safe
          -- whichever date it filters on, as every date of a deal is at or after its creation),
          -- and the keyset cursor for the millisecond
          p.date = mdy(lower - DAY)
          p.startAfter = digits(lower - 1)
        end
      end,
      next = keyset_next,
    },
  },
  conversations = {
    default = "lastMessageDate",
    lastMessageDate = {
      op = "conversations.search-conversation", items = "conversations", size = "limit", max = 100,
      own = { "sort", "sortBy", "startAfterDate", "limit" },
      key = function(r)
        local v = ms_of(r.lastMessageDate)
        if v == nil and type(r.sort) == "table" then v = ms_of(r.sort[1]) end
        return v
      end,
      first = function(p, lower)
        p.sort, p.sortBy = "asc", "last_message_date"
        if lower then p.startAfterDate = digits(lower - 1) end
      end,
      -- startAfterDate skips every conversation of that very date: ask from a millisecond
      -- before the last one (the ones already read are dropped as seen)
      next = function(p, _, items, key, size)
        local last = key(items[#items])
        if not last then return nil, "the last conversation of the page has no lastMessageDate" end
        local prev = tonumber(p.startAfterDate)
        if prev and last - 1 <= prev then
          return nil, ("more than %d conversations have lastMessageDate %s: GHL's startAfterDate cursor cannot "
            .. "page past them (a larger page_size can)"):format(size, M.iso(last))
        end
        local n = copy(p)
        n.startAfterDate = digits(last - 1)
        return n
      end,
    },
  },
}

--- The resources an export reads, each with the fields it can follow (the first is the default).
M.FIELDS = { contacts = { "dateUpdated" }, opportunities = { "updatedAt", "createdAt" },
             conversations = { "lastMessageDate" } }

-- the state file ----------------------------------------------------------------

local function state_error(path, fmt, ...)
  return errors.new{ kind = "state", file = path, message = ("state file %s: "):format(path) .. fmt:format(...) }
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- The state in `path`: the table, false when there is no file yet, or nil and an error.
local function read_state(path)
  local f, msg, code = io.open(path, "rb")
  if not f then
    if code == 2 then return false end -- ENOENT: a first run
    return nil, state_error(path, "cannot be read: %s", tostring(msg))
  end
  local text, rerr = f:read("*a")
  f:close()
  if not text then return nil, state_error(path, "cannot be read: %s", tostring(rerr)) end
  local ok, st = pcall(core.json_decode, text)
  if not ok or type(st) ~= "table" or st.ghl_export == nil then
    return nil, state_error(path, "is not an export state (JSON with ghl_export); delete it to start over")
  end
  if st.ghl_export ~= STATE_VERSION then
    return nil, state_error(path, "has version %s; this ghl writes version %d", tostring(st.ghl_export), STATE_VERSION)
  end
  if type(st.seen) ~= "table" then st.seen = {} end
  for k, v in pairs(st) do
    if v == core.null then st[k] = nil end
  end
  if st.run == core.null then st.run = nil end
  return st
end

-- the export ---------------------------------------------------------------------

local TIME = { "string", "number" }
local OPTIONS = { client = "table", resource = "string", field = "string", state = "string", params = "table",
                  page_size = "number", since = TIME, overlap = TIME }

local function option_types(where, opts)
  if type(opts) ~= "table" then errors.invalid("%s: expects a table of options, got %s", where, type(opts)) end
  check.options(where, opts, OPTIONS)
end

--- Start an export (also `ghl.export{...}`). Nothing is sent until the first page is asked for.
-- @tparam table opts
-- @tparam ghl.client opts.client the client to read with
-- @tparam string opts.resource `"contacts"`, `"opportunities"` or `"conversations"`
-- @tparam[opt] string opts.field what a change is: `dateUpdated` (contacts), `lastMessageDate`
-- (conversations), `updatedAt` (opportunities: every change, every run reads them all) or
-- `createdAt` (opportunities: new ones only, filtered by GHL)
-- @param[opt] opts.since where a first run starts (a run with a state file starts where the state
-- says): ISO 8601, epoch seconds or ms, or a duration back from now such as `"24h"` (see `time`);
-- default: everything
-- @tparam[opt] string opts.state the state file: read when it exists, written by `commit`
-- (mode 0600); none: this run alone
-- @param[opt=300000] opts.overlap how long GHL's search index may lag behind its writes: ms, or
-- a duration such as `"5m"`; what changed that recently is read again by the next run (and
-- dropped when it was written already)
-- @tparam[opt] table opts.params more of the search, by GHL's names: `query` and `filters`
-- (contacts), `pipeline_id`, `status`, ... (opportunities), `contactId`, `assignedTo`, ...
-- (conversations); the names the export sets itself (sort, cursor, page size) are refused. A
-- state file remembers them: another narrowing needs another state file
-- @tparam[opt] number opts.page_size records a page: default and most 500 (contacts), 100
-- @treturn[1] ghl.export.Export the export
-- @treturn[2] nil
-- @treturn[2] table err, `kind = "state"`: the state file cannot be read or locked (another export
-- holds it, its folder does not exist), is not one, or is that of another resource, field,
-- location or narrowing
-- @raise `invalid_argument` for an unknown option or resource, a `since` that is not a time
-- @usage
-- local ex = assert(ghl.export{ client = client, resource = "contacts", since = "24h",
--                               state = "contacts.state" })
-- for contact in ex:each{ flush = function() out:flush() end } do out:write(contact.id, "\n") end
function M.new(opts)
  local where = "ghl.export"
  option_types(where, opts)
  local client = opts.client
  if client == nil or getmetatable(client) ~= require("ghl.client") then
    errors.invalid("%s: client must be a client from ghl.new{...}", where)
  end
  local fields = M.FIELDS[opts.resource]
  if not fields then
    errors.invalid("%s: resource must be contacts, opportunities or conversations, got %s", where,
      tostring(opts.resource))
  end
  local field = opts.field or READERS[opts.resource].default
  local reader = READERS[opts.resource][field]
  if type(field) ~= "string" or field == "default" or not reader then
    errors.invalid("%s: %s are followed by %s, not '%s'", where, opts.resource, table.concat(fields, " or "),
      tostring(field))
  end
  local size = opts.page_size or reader.max
  if size ~= floor(size) or size < 1 or size > reader.max then
    errors.invalid("%s: page_size must be a whole number from 1 to %d for %s, got %s", where, reader.max,
      opts.resource, tostring(size))
  end
  local overlap = opts.overlap
  if overlap == nil then
    overlap = M.OVERLAP_MS
  elseif type(overlap) == "string" then
    overlap = M.duration(overlap)
    if not overlap then
      errors.invalid("%s: overlap must be ms or a duration such as 5m, got '%s'", where, opts.overlap)
    end
  elseif overlap ~= overlap or overlap < 0 or overlap == math.huge then
    errors.invalid("%s: overlap must be 0 or more ms, got %s", where, tostring(overlap))
  end
  local since
  if opts.since ~= nil then
    local why
    since, why = M.time(opts.since)
    if not since then errors.invalid("%s: since: %s", where, why) end
  end
  local narrow = copy(opts.params)
  for _, k in ipairs(reader.own) do
    if narrow[k] ~= nil then
      errors.invalid("%s: params.%s is set by the export itself (sort, cursor, page size)", where, k)
    end
  end
  local location = narrow.locationId or narrow.location_id or client.location_id

  local self = setmetatable({
    client = client, resource = opts.resource, field = field, path = opts.state, page_size = floor(size),
    overlap = floor(overlap), location_id = location, _reader = reader, _narrow = narrow,
    requests = 0, pages_read = 0, written = 0, skipped = 0,
  }, Export)
  local st, err
  if opts.state then
    -- one run at a time on a state file (a cron job that overlaps itself): the lock is held
    -- until `close` (or the end of `each`, or the process)
    local lock, lerr = core.file_lock(opts.state .. ".lock", 0)
    if not lock then
      if tostring(lerr):find("timed out", 1, true) then
        return nil, state_error(opts.state, "is in use by another export (it holds %s.lock)", opts.state)
      end
      return nil, state_error(opts.state, "cannot be locked: %s", tostring(lerr))
    end
    self._lock = lock
    st, err = read_state(opts.state)
    if st == nil then
      self:close()
      return nil, err
    end
  end
  if st then
    local mine = { opts.resource, field, location or "", narrow }
    local theirs = { st.resource, st.field, st.location_id or "", st.params or {} }
    if not same(mine, theirs) then
      self:close()
      return nil, state_error(opts.state, "is the state of %s by %s of location %s%s; this export is of %s by %s "
        .. "of location %s%s: name another state file (or delete this one to start over)", tostring(st.resource),
        tostring(st.field), tostring(st.location_id), next(st.params or {}) and " (narrowed)" or "", opts.resource,
        field, tostring(location), next(narrow) and " (narrowed)" or "")
    end
    self._saved = core.json_encode(st)
    self.first_run = false
  else
    st = { ghl_export = STATE_VERSION, resource = opts.resource, field = field, location_id = location,
           params = narrow, since = since, lower = since, seen = {}, exported = 0 }
    self.first_run = true
  end
  st.overlap_ms = self.overlap
  self._st = st
  -- this run: where it starts, and (an interrupted scan) where it was
  if st.run then
    self.lower, self._cursor, self._next_lower = st.run.lower, st.run.cursor, st.run.next_lower
    self._scan_fixed = true
  else
    self.lower = st.lower
  end
  self._L = self.lower -- where the next run will start (moved page by page)
  self._open = true
  return self
end

-- the largest of two times, nil being none
local function later(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return a > b and a or b
end

--- The next page: its records not written before, and the whole answer. A page may hold no new
-- record (all of them seen in the overlap): commit it all the same.
-- @treturn[1] table the page's new records (in GHL's order)
-- @treturn[1] table the whole answer
-- @treturn[2] nil when there is no page left
-- @treturn[3] nil
-- @treturn[3] table err, a structured error (the page failed after retries; no state moved)
function Export:next_page()
  if self._done then return nil end
  local r = self._reader
  local p = self._params
  if not p then
    p = copy(self._narrow)
    p[r.size] = self.page_size
    r.first(p, self.lower, self._cursor)
    self._params = p
  end
  local body, resp = self.client:call(r.op, p)
  self.requests = self.requests + 1
  if body == nil then
    self._done = true
    return nil, resp
  end
  local items = type(body) == "table" and body[r.items]
  if type(items) ~= "table" then
    self._done = true
    return nil, errors.new{ kind = "decode", status = resp.status, body = body,
                            message = ("the answer has no '%s' list"):format(r.items) }
  end
  -- the server's time of this page: its Date header (whole seconds: never later than the truth)
  local t = http_date_ms(resp.headers and resp.headers.date)
  local st, seen, lower = self._st, self._st.seen, self.lower
  local out, skipped, hi = {}, 0, nil
  for _, rec in ipairs(items) do
    local k = type(rec) == "table" and r.key(rec) or nil
    local id = type(rec) == "table" and rec.id or nil
    if type(id) ~= "string" then id = nil end
    if k and (hi == nil or k > hi) then hi = k end
    if k and lower and k < lower then
      skipped = skipped + 1 -- before the start (a scan reads everything)
    elseif k and id and seen[id] == k then
      skipped = skipped + 1 -- this version was written already
    else
      out[#out + 1] = rec
      if k and id then
        seen[id] = k
        st.mark = later(st.mark, k)
      end
    end
  end
  local nxt, why
  if #items >= self.page_size then
    nxt, why = r.next(p, body, items, r.key, self.page_size)
    if nxt == nil and why then
      self._done = true
      return nil, errors.new{ kind = "decode", status = resp.status, message = why }
    end
    if nxt and core.json_encode(nxt) == core.json_encode(p) then
      self._done = true
      return nil, errors.new{ kind = "decode", status = resp.status, message = "the server repeated the cursor" }
    end
  end
  local last = nxt == nil
  -- the cursor rule (see the top of this module); without a Date header, the newest time on
  -- the page is all that is known of the server's clock (never this machine's)
  local now = t or hi
  local recent = now and now - self.overlap
  if r.scan then
    -- every page of the run reads at least what the index held at its first page, less the lag
    if not self._scan_fixed then
      self._next_lower, self._scan_fixed = later(lower, recent), true
    end
  elseif self._open then
    if last then
      self._L = later(self._L, recent)
    elseif hi and recent then
      self._L = later(self._L, hi < recent and hi or recent)
      if hi >= recent then self._open = false end
    end
  end
  local keep_from = r.scan and self._next_lower or self._L
  if keep_from then
    for id, k in pairs(seen) do
      if type(k) ~= "number" or k < keep_from then seen[id] = nil end
    end
  end
  if r.scan then
    if last then
      st.lower, st.run = self._next_lower, nil
    else
      st.run = { lower = lower, next_lower = self._next_lower, cursor = r.cursor(nxt) }
    end
  else
    st.lower = self._L
  end
  st.lower_iso = st.lower and M.iso(st.lower) or nil
  st.mark_iso = st.mark and M.iso(st.mark) or nil
  st.exported = (st.exported or 0) + #out
  self._params = nxt
  self._done = last
  self.pages_read = self.pages_read + 1
  self.written = self.written + #out
  self.skipped = self.skipped + skipped
  return out, body
end

--- Iterate the pages: `new_records, answer` for each (see `next_page`). A page that fails
-- raises the structured error: a loop never ends early in silence. Call `commit` after writing
-- each page's records. The end of the loop lets go of the state file's lock (see `close`).
-- @treturn function
function Export:pages()
  return function()
    local items, page = self:next_page()
    if items == nil then
      self:close() -- the loop came back after its last page: that one is committed, or never will be
      if page ~= nil then error(page, 0) end
    end
    return items, page
  end
end

--- Record in the state file that every record handed out so far is written: an atomic
-- replacement (a temp file, fsync, rename, fsync of the folder), skipped when nothing changed.
-- Without a state file it does nothing.
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] table err, `kind = "state"`
function Export:commit()
  if not self.path then return true end
  local text = core.json_encode(self._st)
  if text == self._saved then return true end
  local ok, err = core.write_file(self.path, text)
  if not ok then return nil, state_error(self.path, "cannot be written: %s", tostring(err)) end
  self._saved = text
  return true
end

--- Iterate the new records one by one, committing each page once the loop has come back for
-- the record after its last one (so the loop's body has written them all): `opts.flush` is
-- called first (e.g. `function() file:flush() end`). A page or a commit that fails raises the
-- structured error.
-- @tparam[opt] table opts `flush`
-- @treturn function
function Export:each(opts)
  opts = check.options("export:each", opts, { flush = "function" })
  local items, i = nil, 0
  local function commit()
    if opts.flush then opts.flush() end
    local ok, err = self:commit()
    if not ok then error(err, 0) end
  end
  return function()
    while true do
      if items then
        i = i + 1
        local v = items[i]
        if v ~= nil then return v end
        items = nil
        commit()
      end
      local page, err = self:next_page()
      if page == nil then
        self:close()
        if err ~= nil then error(err, 0) end
        return nil
      end
      items, i = page, 0
    end
  end
end

--- Let go of the state file's lock (the end of `each` does, and so does the end of the
-- process): another export may use the file from then on. Idempotent.
function Export:close()
  if self._lock then
    self._lock:unlock()
    self._lock = nil
  end
end

--- Where this run started and where the next one will, for a summary.
-- @treturn table `resource`, `field`, `first_run`, `lower` (epoch ms or nil: everything),
-- `next_lower` (what the state says after the pages so far), `requests`, `pages`, `written`,
-- `skipped` (records read again and dropped), `state` (the file)
function Export:info()
  local st = self._st
  return { resource = self.resource, field = self.field, first_run = self.first_run, lower = self.lower,
           next_lower = st.run and st.run.lower or st.lower, requests = self.requests, pages = self.pages_read,
           written = self.written, skipped = self.skipped, state = self.path }
end

--- An iterator over the records changed since a time, with no state: what the resources'
-- `changed_since` methods return.
-- @local
function M.changed(client, resource, since, params, opts, where)
  if since == nil then
    errors.invalid("%s: since is required: %s", where, TIME_FORMS)
  end
  if params ~= nil then check.table(params, where, "params") end
  opts = check.options(where, opts, { field = "string", page_size = "number" })
  local ex = M.new{ client = client, resource = resource, since = since, params = params, field = opts.field,
                    page_size = opts.page_size }
  return ex:each()
end

Export.__close = Export.close -- Lua 5.4: local ex <close> = assert(ghl.export{...})

M.Export = Export

return M
