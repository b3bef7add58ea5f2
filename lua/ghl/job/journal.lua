--- Where a ghl.job writes down what happened to each row, so that a run
-- after a crash resumes and never sends a row again that is done.
--
-- - `journal.file(path)`: JSON Lines, one record a line, appended and
--   fdatasync'ed before `put` returns (core.appender: locked while open, a
--   torn last line cut off on open);
-- - `journal.store(store, name)`: a token store (ghl.store.redis{...} for a
--   job resumed on another host; any store with get/set/lock/unlock): one
--   key a row, `<name>:row:<n>`, the job's `<name>:job`, and a lock;
-- - `journal.memory()`: nothing kept past the process (a job without one).
--
-- Every journal: `j:open(meta)` -> info | nil, err (takes the lock, reads
-- what is there, checks it is the same job), `j:get(n)` -> the last record
-- of row n or nil, `j:put(list)` -> true | nil, err (on disk when it
-- returns), `j:close()`. Records (see ghl.job for the format) carry a row
-- number and hash and an outcome (and GHL's error message), never a token.
-- @internal ghl.job.journal
local core = require "ghl.core"

local M = {}

local encode, decode = core.json_encode, core.json_decode

local function problem(reason, fmt, ...)
  return nil, core.new_error{ kind = "job", reason = reason, message = fmt:format(...) }
end
M.problem = problem

-- Whether a journal's job record is the job `meta` describes.
local function same_job(have, meta, where)
  if have.op ~= meta.op then
    return problem("journal", "%s is the journal of a job of %s, not of %s: give another journal",
      where, tostring(have.op), meta.op)
  end
  return true
end

-- file ----------------------------------------------------------------------

local File = {}
File.__index = File

function M.file(path)
  return setmetatable({ path = path, rows = {}, kind = "file" }, File)
end

function File:open(meta)
  local ap, dropped, locked = core.appender(self.path)
  if not ap then return problem(locked and "locked" or "io", "journal: %s", tostring(dropped)) end
  self.ap = ap
  local f, err = io.open(self.path, "rb")
  if not f then
    self:close()
    return problem("io", "journal: cannot read %s", tostring(err))
  end
  local rows, job, lineno, runs = self.rows, nil, 0, 0
  for line in f:lines() do
    lineno = lineno + 1
    if line ~= "" then
      local r = decode(line)
      if type(r) ~= "table" then
        f:close()
        self:close()
        return problem("journal", "journal %s: line %d is not a record (not a journal, or damaged)", self.path, lineno)
      end
      if r.t == "job" then
        job = job or r
      elseif r.t == "run" then
        runs = runs + 1
      elseif type(r.row) == "number" then
        rows[r.row] = r
      end
    end
  end
  f:close()
  if job then
    local ok, perr = same_job(job, meta, self.path)
    if not ok then
      self:close()
      return nil, perr
    end
  elseif lineno > 0 then
    self:close()
    return problem("journal", "journal %s does not start with a job record: not a journal of ghl.job", self.path)
  end
  local lines = {}
  if not job then lines[1] = encode{ t = "job", v = 1, op = meta.op, source = meta.source, at = meta.at } end
  lines[#lines + 1] = encode{ t = "run", at = meta.at }
  local ok, werr = ap:append(table.concat(lines, "\n") .. "\n")
  if not ok then
    self:close()
    return problem("io", "journal %s: %s", self.path, tostring(werr))
  end
  return { resumed = job ~= nil, runs = runs, dropped = dropped }
end

function File:get(n) return self.rows[n] end

function File:put(list)
  local lines = {}
  for i, r in ipairs(list) do
    lines[i] = encode(r)
    self.rows[r.row] = r
  end
  local ok, err = self.ap:append(table.concat(lines, "\n") .. "\n")
  if not ok then return problem("io", "journal %s: %s", self.path, tostring(err)) end
  return true
end

function File:close()
  if self.ap then
    self.ap:close()
    self.ap = nil
  end
end

-- store ---------------------------------------------------------------------

local Store = {}
Store.__index = Store

M.LOCK_TTL_MS = 60000

function M.store(store, name)
  return setmetatable({ store = store, name = name, kind = "store" }, Store)
end

function Store:open(meta)
  local s, name = self.store, self.name
  local lease, lerr = s:lock(name .. ":runner", M.LOCK_TTL_MS)
  if not lease then
    return problem("locked", "journal %s: another runner holds it (%s)", name, tostring(lerr))
  end
  self.lease, self.renewed = lease, core.now_ms()
  local text, gerr = s:get(name .. ":job")
  if text == nil and gerr then
    self:close()
    return problem("io", "journal %s: %s", name, tostring(gerr))
  end
  local job = text and decode(text)
  if text and type(job) ~= "table" then
    self:close()
    return problem("journal", "journal %s: its job record is damaged", name)
  end
  if job then
    local ok, perr = same_job(job, meta, name)
    if not ok then
      self:close()
      return nil, perr
    end
  else
    local ok, serr = s:set(name .. ":job", encode{ t = "job", v = 1, op = meta.op, source = meta.source, at = meta.at })
    if not ok then
      self:close()
      return problem("io", "journal %s: %s", name, tostring(serr))
    end
  end
  return { resumed = job ~= nil, runs = 0, dropped = 0 }
end

function Store:get(n)
  local text = self.store:get(self.name .. ":row:" .. n)
  local r = text and decode(text)
  return type(r) == "table" and r or nil
end

-- the lease lasts as long as the run does
function Store:_renew()
  local s, now = self.store, core.now_ms()
  if not s.extend or now - self.renewed < M.LOCK_TTL_MS / 3 then return true end
  local ok, err = s:extend(self.name .. ":runner", self.lease, M.LOCK_TTL_MS)
  if ok == false then return problem("locked", "journal %s: the lock was lost (another runner may have it)", self.name) end
  if ok == nil then return problem("io", "journal %s: %s", self.name, tostring(err)) end
  self.renewed = now
  return true
end

function Store:put(list)
  local ok, err = self:_renew()
  if not ok then return nil, err end
  for _, r in ipairs(list) do
    local done, serr = self.store:set(self.name .. ":row:" .. r.row, encode(r))
    if not done then return problem("io", "journal %s: %s", self.name, tostring(serr)) end
  end
  return true
end

function Store:close()
  if self.lease then
    self.store:unlock(self.name .. ":runner", self.lease)
    self.lease = nil
  end
end

-- memory --------------------------------------------------------------------

local Memory = {}
Memory.__index = Memory

function M.memory()
  return setmetatable({ rows = {}, kind = "memory" }, Memory)
end

function Memory:open() return { resumed = false, runs = 0, dropped = 0 } end

function Memory:get(n) return self.rows[n] end

function Memory:put(list)
  for _, r in ipairs(list) do self.rows[r.row] = r end
  return true
end

function Memory:close() end

return M
