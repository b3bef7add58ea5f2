--- `ghl import` and `ghl run`: bulk jobs with a journal (ghl.job) from the
-- command line.
--
--   ghl import contacts people.csv [--upsert] [--map col=field,...] [--journal F]
--                                  [--dry-run] [--concurrency N] [--failed F] ...
--   ghl run OPERATION rows.jsonl [name=value ...] [the same options]
--
-- A progress bar on a terminal (rows done / failed / ambiguous, rate, ETA,
-- and whether GHL's rate limit is what holds the job back), a summary on
-- stderr, the report as one JSON line on stdout, and the rows that are not
-- done in a file (CSV or JSON Lines, the row as read plus `_row` and
-- `_error`) that can be fed back in. Exit status: 0 every row done, 1 some
-- are not (or the job could not run), 2 usage.
--
-- The dispatch is in cli.lua (`commands.import`, `commands.run`), which
-- hands over its helpers: misuse(fmt, ...), refuse(after, fmt, ...),
-- client(), api_error(err), stderr_tty(), note(msg), parse_pair(word).
local core = require "ghl.core"
local ghl_job = require "ghl.job"
local jobsource = require "ghl.job.source"
local output = require "ghl.cli.output"
local progress = require "ghl.cli.progress"
local terminal = require "ghl.cli.terminal"
local cliargs = require "ghl.cli.args"

local M = {}

M.IMPORT_USAGE = "ghl import contacts FILE [--upsert] [--map col=field,...] [--journal F] [--dry-run] "
  .. "[--concurrency N] [--failed F] [--retry-ambiguous] [--retry-failed] [--format csv|jsonl] [--raw-csv]"
M.RUN_USAGE = "ghl run OPERATION FILE [name=value ...] [--map col=field,...] [--journal F] [--dry-run] "
  .. "[--concurrency N] [--failed F] [--retry-ambiguous] [--retry-failed] [--format csv|jsonl] [--raw-csv]"

local FLAGS = {
  upsert = "switch", map = "list", journal = "value", ["dry-run"] = "switch", concurrency = "value",
  failed = "value", ["retry-ambiguous"] = "switch", ["retry-failed"] = "switch", format = "value",
  ["raw-csv"] = "switch",
}

-- The options (ghl.cli.args.take_flags) and the other words, without the "--"
-- that ended the options.
local function flags(args, spec, where, h)
  local opts, rest = cliargs.take_flags(args, spec, where, h.misuse)
  for k, w in ipairs(rest) do
    if w == "--" then table.remove(rest, k) break end
  end
  return opts, rest
end

--- The map of --map values ("Email=email,Lead Score=customField", repeated):
-- column -> target ("-": left out). Split at commas, each at its last "=".
function M.parse_map(list, where, h)
  local map, n = {}, 0
  for _, text in ipairs(list or {}) do
    for part in text:gmatch("[^,]+") do
      local col, target = part:match("^(.*)=(.*)$")
      col = col and col:match("^%s*(.-)%s*$")
      target = target and target:match("^%s*(.-)%s*$")
      if not col or col == "" or target == "" then
        h.misuse("%s: --map takes column=field pairs (Email=email, \"Lead Score=customField\", Notes=-), got '%s'",
          where, part)
      end
      map[col] = target == "-" and false or target
      n = n + 1
    end
  end
  return n > 0 and map or nil
end

-- "people.csv" -> "people.failed.csv"
local function failed_path(file, kind)
  local base = file:gsub("%.[%w]+$", "")
  return base .. ".failed." .. (kind == "csv" and "csv" or "jsonl")
end
M.failed_path = failed_path

--- The file of the rows a run left undone: CSV (the header plus `_row`,
-- `_error`) or JSON Lines (each row's object plus `_row`, `_error`); the
-- text to write.
function M.failed_text(report, kind)
  local out = {}
  if kind == "csv" then
    local cols, at_row, at_err = {}, nil, nil
    for i, c in ipairs(report.columns or {}) do
      cols[i] = c
      if c == "_row" then at_row = i elseif c == "_error" then at_err = i end
    end
    if not at_row then cols[#cols + 1] = "_row" at_row = #cols end
    if not at_err then cols[#cols + 1] = "_error" at_err = #cols end
    out[1] = output.csv_row(cols, #cols)
    for _, f in ipairs(report.failures) do
      local cells = {}
      for i = 1, #cols do cells[i] = type(f.data) == "table" and f.data[i] or nil end
      cells[at_row], cells[at_err] = f.row, ("%s: %s"):format(f.state, f.error)
      out[#out + 1] = output.csv_row(cells, #cols)
    end
  else
    for _, f in ipairs(report.failures) do
      local obj = {}
      if type(f.data) == "table" then
        for k, v in pairs(f.data) do obj[k] = v end
      end
      obj._row, obj._error = f.row, ("%s: %s"):format(f.state, f.error)
      out[#out + 1] = output.json(obj)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- progress ------------------------------------------------------------------

--- The progress line of a job: rows settled of the total, done / failed /
-- ambiguous, rate, ETA, and "held back by GHL's rate limit" while the
-- pacer is what bounds the job.
function M.progress_line(p)
  local settled = p.done + p.failed + p.ambiguous + p.changed
  local seconds = p.elapsed_ms / 1000
  local fresh = settled - p.skipped
  local rate = seconds > 0 and fresh / seconds or 0
  local parts = {}
  local total = p.total
  if total and total > 0 then
    local frac = math.min(settled / total, 1)
    local full = math.floor(frac * 20 + 0.5)
    parts[1] = ("[%s%s] %d/%d"):format(("#"):rep(full), ("-"):rep(20 - full), settled, total)
  else
    parts[1] = ("%d rows"):format(settled)
  end
  parts[#parts + 1] = ("done %d  failed %d  ambiguous %d"):format(p.done, p.failed, p.ambiguous)
  if p.changed > 0 then parts[#parts + 1] = ("changed %d"):format(p.changed) end
  parts[#parts + 1] = rate >= 100 and ("%d/s"):format(math.floor(rate + 0.5)) or ("%.1f/s"):format(rate)
  if total and total > settled then
    parts[#parts + 1] = rate > 0 and ("ETA " .. progress.duration((total - settled) / rate)) or "ETA --"
  end
  if p.waiting then
    local limit = ""
    if p.max and p.interval_ms then
      limit = (" (%d per %s)"):format(p.max, progress.duration(p.interval_ms / 1000))
    end
    parts[#parts + 1] = "held back by GHL's rate limit" .. limit
    if p.wait_ms and p.wait_ms >= 1000 then parts[#parts + 1] = "waits " .. progress.duration(p.wait_ms / 1000) end
  end
  return table.concat(parts, "  ")
end

local function bar(ctx, h)
  local out = ctx.raw_stderr
  local enabled = h.stderr_tty()
  local now = ctx.now_ms or core.now_ms
  local b = { draws = 0, last = nil }
  function b.update(p)
    if not enabled then return end
    local t = now()
    if b.last and t - b.last < 100 then return end
    b.last = t
    b.draws = b.draws + 1
    out:write("\r", terminal.escape(M.progress_line(p)), "\27[K")
    if out.flush then out:flush() end
  end
  function b.finish()
    if enabled and b.draws > 0 then out:write("\n") end
  end
  return b
end

-- running -----------------------------------------------------------------

local function plural(n, word) return ("%d %s%s"):format(n, word, n == 1 and "" or "s") end

local function summary(report, what, seconds)
  local parts = { ("%s done"):format(report.done) }
  if report.skipped > 0 then parts[1] = parts[1] .. (" (%d in earlier runs)"):format(report.skipped) end
  parts[#parts + 1] = ("%d failed"):format(report.failed)
  parts[#parts + 1] = ("%d ambiguous"):format(report.ambiguous)
  if report.changed > 0 then parts[#parts + 1] = ("%d changed since sent"):format(report.changed) end
  if report.ignored > 0 then parts[#parts + 1] = ("%d left out by the map"):format(report.ignored) end
  local rate = seconds > 0 and (report.sent / seconds) or 0
  return ("%s: %s: %s; %s sent in %.1f s (%.1f/s)"):format(what, plural(report.rows, "row"),
    table.concat(parts, ", "), plural(report.sent, "request"), seconds, rate)
end

-- The job's options from the command line.
local function job_options(ctx, h, where, file, opts)
  local c
  if opts.concurrency then
    c = tonumber(opts.concurrency)
    if not c or c < 1 or c > 256 or c ~= math.floor(c) then
      h.misuse("%s: --concurrency must be a whole number from 1 to 256, got '%s'", where, opts.concurrency)
    end
  end
  local format = opts.format
  if format and format ~= "csv" and format ~= "jsonl" then
    h.misuse("%s: --format must be csv or jsonl, got '%s'", where, format)
  end
  format = format or jobsource.format_of(file)
  if not format then
    h.misuse("%s: cannot tell the format of %s: name it .csv or .jsonl, or give --format", where, file)
  end
  local f = io.open(file, "rb")
  if not f then h.fail("%s: cannot read %s", where, file) end
  f:close()
  return { rows = file, format = format, concurrency = c, map = M.parse_map(opts.map, where, h),
           retry_ambiguous = opts["retry-ambiguous"] or nil, retry_failed = opts["retry-failed"] or nil,
           raw_csv = opts["raw-csv"] or nil }
end

local function dry_run(ctx, job, where)
  local check, err = job:dry_run()
  if not check then
    ctx.stderr:write("ghl: ", tostring(err.message), "\n")
    return 1
  end
  for _, p in ipairs(check.problems) do
    local at = p.row and ("row %d (line %d)"):format(p.row, p.line) or "the job"
    ctx.stdout:write(("%s: %s%s\n"):format(at, p.field and (p.field .. ": ") or "", p.problem))
  end
  ctx.stderr:write(("%s --dry-run: %s, %s with problems (%s); no row was sent\n"):format(where,
    plural(check.rows, "row"), check.bad, plural(#check.problems, "problem")))
  return check.ok and 0 or 1
end

local function execute(ctx, h, where, o, opts, file)
  local client = h.client()
  local b = bar(ctx, h)
  o.client = client
  o.journal = opts.journal or (file .. ".journal")
  o.on_progress = b.update
  local job = ghl_job.new(o)
  if opts["dry-run"] then return dry_run(ctx, job, where) end
  local report, err = job:run()
  b.finish()
  if not report then
    if err.reason == "map" then h.fail("%s: %s", where, tostring(err.message)) end
    ctx.stderr:write(h.line(tostring(err.message)), "\n")
    if err.reason == "locked" then
      ctx.stderr:write("ghl: another `ghl import` or `ghl run` has this journal open; wait for it to end\n")
    end
    return 1
  end
  local seconds = report.elapsed_ms / 1000
  ctx.stderr:write(h.line(summary(report, where, seconds)), "\n")
  local fpath = opts.failed or failed_path(file, o.format)
  if #report.failures > 0 then
    local ok, werr = core.write_file(fpath, M.failed_text(report, o.format))
    if ok then
      ctx.stderr:write(h.line(("ghl: the %s not done and why: %s (fix them and run it again, or import that file)")
        :format(plural(#report.failures, "row"), fpath)), "\n")
    else
      ctx.stderr:write(h.line("ghl: cannot write the failed rows: " .. tostring(werr)), "\n")
    end
    if report.ambiguous > 0 then
      ctx.stderr:write("ghl: ambiguous rows may have been applied: check them in GHL before sending them again "
        .. "(--retry-ambiguous sends them)\n")
    end
  else
    os.remove(fpath) -- an earlier run's, out of date now
  end
  ctx.stderr:write(h.line(("ghl: journal %s: the same command resumes from it"):format(o.journal)), "\n")
  ctx.stdout:write(output.json{
    rows = report.rows, done = report.done, failed = report.failed, ambiguous = report.ambiguous,
    changed = report.changed, skipped = report.skipped, sent = report.sent, resolved = report.resolved,
    elapsed_ms = report.elapsed_ms, journal = o.journal, failed_rows = #report.failures > 0 and fpath or nil,
  }, "\n")
  return report.ok and 0 or 1
end

--- `ghl import contacts FILE ...`
function M.import(ctx, args, h)
  local opts, rest = flags(args, FLAGS, "import", h)
  local what, file = rest[1], rest[2]
  if not what then h.misuse("import needs what to import and a file: %s", M.IMPORT_USAGE) end
  if what ~= "contacts" then
    h.refuse("ghl: `ghl run OPERATION FILE` runs a file through any operation",
      "import: only contacts can be imported, got '%s'", what)
  end
  if not file then h.misuse("import contacts needs a file: %s", M.IMPORT_USAGE) end
  if rest[3] then h.misuse("import contacts: unexpected argument '%s'", rest[3]) end
  local where = "import contacts"
  local o = job_options(ctx, h, where, file, opts)
  o.op = opts.upsert and "contacts.upsert-contact" or "contacts.create-contact"
  return execute(ctx, h, where, o, opts, file)
end

--- `ghl run OPERATION FILE [name=value ...] ...`
function M.run(ctx, args, h)
  local opts, rest = flags(args, FLAGS, "run", h)
  local op, file = rest[1], rest[2]
  if not op or not file then h.misuse("run needs an operation and a file: %s", M.RUN_USAGE) end
  if opts.upsert then h.misuse("run: --upsert is for `ghl import contacts`; name the operation instead") end
  local key = h.operation_key(require("ghl.job.ops").ALIASES[op] or op, "run")
  local e = require("ghl.operations").entry(key)
  local params
  for i = 3, #rest do
    local name, value = h.parse_pair(rest[i])
    if not name then
      h.refuse(("ghl: parameters for every row are name=value or name:=json (`ghl ops %s` lists them)"):format(key),
        "run: expected name=value or name:=json, got '%s'", rest[i])
    end
    params = params or {}
    params[name] = value
  end
  if params then cliargs.shape(e, params, h.note) end
  local where = "run " .. key
  local o = job_options(ctx, h, where, file, opts)
  o.op, o.params = key, params
  return execute(ctx, h, where, o, opts, file)
end

return M
