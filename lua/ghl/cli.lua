--- The `ghl` command line: GoHighLevel from a shell.
--
--   ghl call get-contact contactId=...          any operation of the catalogue
--   ghl contacts get ID                         resource methods
--   ghl contacts export --format csv > out.csv  every contact, progress bar on a terminal
--   ghl contacts export --state contacts.state  what changed since the last run (ghl.export)
--   ghl ops contact                             the operations
--   ghl ops get-slots                           one operation: parameters, token, Version
--   ghl login                                   OAuth, tokens in a 0600 file
--   ghl mock                                    the local GHL server (source checkout)
--
-- `main(args [, ctx])` returns the exit code (0 ok, 1 API error, 2 usage,
-- 130 interrupted) and never exits by itself; whatever a command raises
-- ends as one line on stderr (GHL_DEBUG=1 adds the traceback). Results go
-- to stdout, messages to stderr, both through a terminal guard
-- (cli/terminal.lua): on a terminal what the server sent cannot drive it.
-- `ctx` (for tests) may give stdout, stderr, stdin, getenv, stdout_tty,
-- stderr_tty, stdin_tty, now_ms, client.
local ghl = require "ghl"
local output = require "ghl.cli.output"
local progress = require "ghl.cli.progress"
local terminal = require "ghl.cli.terminal"
local auth = require "ghl.cli.auth"
local cliargs = require "ghl.cli.args"
local messages = require "ghl.cli.messages"
local opsinfo = require "ghl.cli.ops"
local operations = require "ghl.operations"

local M = {}

local unpack = table.unpack or unpack

M.RESOURCES = { "contacts", "opportunities", "calendars", "workflows", "conversations", "locations", "users" }

M.EXPORT_COLUMNS = { "id", "firstName", "lastName", "email", "phone", "tags", "dateAdded" }
-- an incremental export's (--since, --state): when each changed too
M.CHANGES_COLUMNS = { "id", "firstName", "lastName", "email", "phone", "tags", "dateAdded", "dateUpdated" }

M.SHORT_USAGE = [[
usage: ghl <command> [arguments]
  ghl <resource> <method> [id ...] [name=value ...] [name:=json ...]
  ghl call <operation> [name=value ...] [name:=json ...] [--each]
  ghl contacts export [--format csv|jsonl] [--columns a,b,...] [--query text] [--raw-csv]
                      [--since TIME|STATE] [--state FILE] [--overlap DURATION]
  ghl ops [filter] [--json]
  ghl import contacts FILE [--upsert] [--map col=field,...] [--journal F] [--dry-run] [--concurrency N]
  ghl run OPERATION FILE [name=value ...] [--map ...] [--journal F] [--dry-run] [--concurrency N]
  ghl login [--store path] [--scope a,b,...]
  ghl mock [port]
  ghl webhook key FILE | ghl webhook sign [--key FILE] [--send URL] [name=value ...]
  ghl version | ghl help [resource|operation]
]]

M.USAGE = [[
ghl - the GoHighLevel API v2 from the command line

commands:
  <resource> <method> [id ...] [name=value ...] [name:=json ...]
        A method of a resource: its ids in order, then name=value fields.
        resources: contacts opportunities calendars workflows conversations
                   locations users      (`ghl help <resource>`: its methods)
  call <operation> [name=value ...] [name:=json ...] [--each]
        Any of GHL's operations; parameters by name (path, query and body
        alike). --each prints every item of a paged operation.
  ops [filter] [--json]
        The operations whose name holds filter; for one operation, every
        parameter (where it goes, which are required), its token and the
        Version header it sends.
  contacts export [--format csv|jsonl] [--columns a,b,...] [--query text]
                  [--raw-csv] [--since TIME|STATE] [--state FILE] [--overlap DURATION]
        Every contact to stdout (CSV with a header by default), a progress
        bar on a terminal. A CSV cell that starts with = + - @ TAB or CR gets
        a leading ' (no spreadsheet formula); --raw-csv writes cells as they are.
        --since TIME: only the contacts changed since then (GHL filters on
        dateUpdated): ISO 8601, epoch seconds or ms, or 90m, 24h, 7d back.
        --state FILE: what changed since the run that wrote FILE (the first
        run: everything, or since --since); FILE is rewritten after each page
        is out, so a run stopped anywhere resumes. --since STATE: the same.
  import contacts FILE [--upsert] [--map col=field,...] [--journal F] [--dry-run]
                       [--concurrency N] [--failed F] [--retry-ambiguous] [--retry-failed]
  run OPERATION FILE [name=value ...] [the same options]
        A CSV (header line) or JSON Lines file through create-contact (or
        --upsert), or through any operation (name=value: for every row),
        with a journal (default FILE.journal): run it again after a crash and
        it resumes, never sending a row again that is done; an ambiguous
        write (no answer) is looked up, not sent blindly. --map "Lead
        Score=customField" maps a column to a custom field by name, Col=-
        leaves it out. --dry-run checks every row, sends nothing. The rows
        not done go to FILE's .failed.csv/.jsonl with the reason. Exit 0
        when every row is done, 1 when some are not.
  login [--store path] [--scope a,b,...]
        OAuth for a Marketplace app: prints the authorize URL, reads the
        redirect URL on stdin, stores the tokens (mode 0600).
  mock [port]
        The local GHL server with its seed data in the foreground (default
        port 8080; from a source checkout). Ctrl-C stops it.
  webhook key FILE | webhook sign [--key FILE] [--send URL] [name=value ...]
        Signed test webhooks for a receiver of yours (`ghl webhook help`).
  version, help [resource|operation]

values:
  name=value     a string; for a list, items joined with commas: tags=vip,lead
  name:=json     a JSON value: count:=5 dnd:=true tags:='["vip","lead"]'
  times          where GHL takes epoch milliseconds, a number below 1e11 is
                 read as seconds and sent times 1000 (a note on stderr)
  --             every word after it is a positional argument

output: JSON, pretty on a terminal (--pretty / --compact choose); iterators
  print one JSON per line. Exit status: 0 ok, 1 API error, 2 usage error.

environment:
  GHL_TOKEN          Private Integration Token (pit-...) or OAuth access token
  GHL_LOCATION_ID    the location (sub-account) to work in
  GHL_COMPANY_ID     the agency (company) id, for agency operations
  GHL_BASE_URL       API base URL (default https://services.leadconnectorhq.com)
  GHL_CLIENT_ID, GHL_CLIENT_SECRET, GHL_REDIRECT_URI
                     the OAuth app of `ghl login` (used when GHL_TOKEN is unset)
  GHL_TOKEN_STORE    the OAuth token file (default ~/.config/ghl/tokens.json)
  GHL_PACING_REDIS   redis://host:port: pace against one rate-limit budget with every process
                     using that Redis (ghl.new's pacing_store)
  GHL_DEBUG=1        an unexpected error prints its Lua traceback too
]]

local ENV_HELP = [[
  GHL_TOKEN, GHL_LOCATION_ID         a Private Integration Token (or OAuth access token), its location
  GHL_CLIENT_ID, GHL_CLIENT_SECRET   an OAuth app: the session `ghl login` stored
]]

-- errors ----------------------------------------------------------------

-- A misuse of the command line (exit 2): its message and what follows it
-- on stderr: "usage" (the short usage), "credentials" (how to give them) or
-- nothing; `after`: a line of its own instead (a usage line, where to look).
local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(e) return e.message end

local function usage_error(hint, fmt, ...)
  error(setmetatable({ message = fmt:format(...), hint = hint }, Usage), 0)
end

local function misuse(fmt, ...) usage_error("usage", fmt, ...) end

-- a misuse whose message is followed by the line `after` (nil: nothing)
local function refuse(after, fmt, ...)
  error(setmetatable({ message = fmt:format(...), after = after }, Usage), 0)
end

local function with_prefix(msg)
  msg = tostring(msg)
  if msg:sub(1, 5) == "ghl: " then return msg end
  return "ghl: " .. msg
end

-- s with every plain occurrence of `secret` replaced
local function redact(s, secret)
  local i = s:find(secret, 1, true)
  while i do
    s = s:sub(1, i - 1) .. "[REDACTED]" .. s:sub(i + #secret)
    i = s:find(secret, i + 10, true)
  end
  return s
end

-- The secrets of the environment, which no message may show. The library
-- redacts the token it sends from what the server echoes; this covers a
-- message made anywhere else.
local SECRETS = { "GHL_TOKEN", "GHL_CLIENT_SECRET" }

-- s without the secrets of the environment
local function scrub(ctx, s)
  for _, name in ipairs(SECRETS) do
    local secret = ctx.getenv(name)
    if type(secret) == "string" and #secret >= 8 then s = redact(s, secret) end -- a short one: innocent text
  end
  return s
end

-- terminals and output ------------------------------------------------

local function is_tty(fd)
  local ok, _, code = os.execute("test -t " .. fd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1 / LuaJIT
  return ok == true and (code == nil or code == 0)
end

local function stdout_tty(ctx)
  if ctx.stdout_tty == nil then ctx.stdout_tty = is_tty(1) end
  return ctx.stdout_tty
end

local function stderr_tty(ctx)
  if ctx.stderr_tty == nil then ctx.stderr_tty = is_tty(2) end
  return ctx.stderr_tty
end

local function print_value(ctx, v)
  local pretty = ctx.pretty
  if pretty == nil then pretty = stdout_tty(ctx) end
  ctx.stdout:write(output.json(v, pretty), "\n")
end

-- The fields a paging style adds to each item for itself, which no output
-- shows: search_after's cursor (the item's sort values).
local function internal_fields(e)
  if e and e.pg == "search_after" then return { searchAfter = true } end
  return nil
end

-- v without the `drop` fields (a copy; v itself when it has none)
local function without(v, drop)
  if not drop or type(v) ~= "table" then return v end
  local has = false
  for k in pairs(drop) do has = has or v[k] ~= nil end
  if not has then return v end
  local c = {}
  for k, x in pairs(v) do
    if not drop[k] then c[k] = x end
  end
  return c
end

-- items of an iterator, one compact JSON per line (without `drop` fields)
local function stream(ctx, iter, drop)
  local out = ctx.stdout
  local n = 0
  for v in iter do
    out:write(output.json(without(v, drop)), "\n")
    n = n + 1
  end
  return n
end

-- The line that reports an error: "ghl: ..." without a secret, and on a
-- terminal one line (a server's message may hold line breaks, or a CR that
-- overwrites it), escaped like the rest of what reaches it.
local function error_line(ctx, msg)
  msg = scrub(ctx, with_prefix(msg))
  if stderr_tty(ctx) then msg = terminal.escape(msg) end
  return msg
end

-- an API error: its line in the command line's terms, then what to check
-- for a refused token (never the token)
local function api_error(ctx, err)
  ctx.stderr:write(error_line(ctx, messages.translate(tostring(err))), "\n")
  for _, hint in ipairs(messages.auth_hints(err, ctx.getenv)) do
    ctx.stderr:write(error_line(ctx, hint), "\n")
  end
  return 1
end

-- a note on stderr (what the command changed in what it was given)
local function note_to(ctx)
  return function(msg) ctx.stderr:write(error_line(ctx, "note: " .. msg), "\n") end
end

-- arguments -------------------------------------------------------------

local function decode_json(text, what)
  local v, err = cliargs.decode_json(text, what)
  if err then misuse("%s", err) end
  return v
end

--- name=value -> name, "value"; name:=json -> name, decoded; else nil.
-- JSON that does not parse is a usage error.
function M.parse_pair(word)
  local name, value, err = cliargs.parse_pair(word)
  if err then misuse("%s", err) end
  return name, value
end

-- --flag value / --flag=value options out of args (ghl.cli.args.take_flags);
-- unknown flags are a usage error.
local function take_flags(args, spec, where) return cliargs.take_flags(args, spec, where, misuse) end

local split_list = cliargs.split_list

-- the client ---------------------------------------------------------------

local function client_of(ctx)
  if ctx.client then return ctx.client end
  local ok, client, why = pcall(auth.client, ctx)
  if not ok then
    -- a setting the client refuses (GHL_BASE_URL=notaurl): the environment's fault
    if ghl.is_error(client) and client.kind == "invalid_argument" then
      usage_error("credentials", "%s", messages.translate(client.message))
    end
    error(client, 0)
  end
  if not client then usage_error("credentials", "%s", why) end
  ctx.client = client
  return client
end

-- commands ---------------------------------------------------------------

local commands = {}

local resource_help, is_resource -- below

--- `ghl help`, `ghl help <resource>`, `ghl help <operation>`.
function commands.help(ctx, args)
  local topic = args and args[1]
  if not topic then
    ctx.stdout:write(M.USAGE)
    return 0
  end
  if is_resource(topic) then
    ctx.stdout:write(resource_help(topic))
    return 0
  end
  local names = opsinfo.named(topic)
  if #names == 1 then
    ctx.stdout:write(opsinfo.detail(names[1]))
    return 0
  end
  if #names > 1 then
    for _, k in ipairs(names) do ctx.stdout:write(opsinfo.summary(k), "\n") end
    return 0
  end
  local near = messages.suggest(topic, M.RESOURCES)
  if #near == 0 then near = opsinfo.suggest(topic) end
  refuse("ghl: `ghl help` lists the commands, `ghl ops <filter>` the operations",
    "help: no resource or operation '%s'%s", topic, messages.did_you_mean(near))
end

function commands.version(ctx)
  -- where the C core came from: which install a shell's `ghl` runs
  local core = package.searchpath("ghl.core", package.cpath) or "?"
  ctx.stdout:write(("ghl %s (%s) %s\n"):format(ghl.VERSION, jit and jit.version or _VERSION, core))
  return 0
end

-- The key of the operation `name` names, or a usage error (a typo gets
-- the nearest names).
local function operation_key(name, where)
  local names = opsinfo.named(name)
  if #names == 1 then return names[1] end
  if #names > 1 then
    refuse(nil, "%s: operationId '%s' is in several services; name one of: %s", where, name,
      table.concat(names, ", "))
  end
  local near = opsinfo.suggest(name)
  refuse(#near == 0 and "ghl: `ghl ops <filter>` finds operations by name" or nil,
    "%s: unknown operation '%s'%s", where, name, messages.did_you_mean(near))
end

local function env_set(ctx, name)
  local v = ctx.getenv(name)
  return v ~= nil and v ~= ""
end

-- "calendarId (path), locationId (body; or set GHL_LOCATION_ID)"
local function missing_text(list)
  local parts = {}
  for i, m in ipairs(list) do
    local how = m.default == "location" and "; or set GHL_LOCATION_ID"
      or m.default == "company" and "; or set GHL_COMPANY_ID" or ""
    parts[i] = ("%s (%s%s)"):format(m.name, m.where, how)
  end
  return table.concat(parts, ", ")
end

function commands.call(ctx, args)
  local opts, words = take_flags(args, { each = "switch" }, "call")
  local rest, dropped = {}, false -- without the "--" that ended the options
  for _, w in ipairs(words) do
    if w == "--" and not dropped then dropped = true else rest[#rest + 1] = w end
  end
  local op = rest[1]
  if not op then misuse("call needs an operation, e.g. ghl call contacts.get-contact contactId=ID") end
  -- an unknown or ambiguous operation is misuse, whatever the credentials
  local key = operation_key(op, "call")
  local e = operations.entry(key)
  local params = {}
  for i = 2, #rest do
    local w = rest[i]
    local name, value = M.parse_pair(w)
    if not name then
      refuse(("ghl: parameters are name=value or name:=json (`ghl ops %s` lists them)"):format(key),
        "call: expected name=value or name:=json, got '%s'", w)
    end
    params[name] = value
  end
  cliargs.shape(e, params, note_to(ctx))
  local where = "call " .. key
  local usage = ("ghl: `ghl ops %s` shows every parameter of %s"):format(key, key)
  -- every required parameter missing, at once: first those no setting fills
  -- in (GHL_TOKEN unset: an OAuth session may name the location)
  -- (--each: the pager fills in its cursor)
  local skip = opts.each and e.ck and { [e.ck] = true } or nil
  local missing = cliargs.missing(e, params, { location = true, company = true }, skip)
  if #missing > 0 then
    local oauth = not env_set(ctx, "GHL_TOKEN")
    missing = cliargs.missing(e, params, { location = oauth or env_set(ctx, "GHL_LOCATION_ID"),
                                           company = oauth or env_set(ctx, "GHL_COMPANY_ID") }, skip)
    refuse(usage, "%s: missing %s", where, missing_text(missing))
  end
  local client = client_of(ctx)
  missing = cliargs.missing(e, params, { location = client.location_id ~= nil, company = client.company_id ~= nil },
    skip)
  if #missing > 0 then refuse(usage, "%s: missing %s", where, missing_text(missing)) end
  ctx.after = usage
  if opts.each then
    stream(ctx, client:each_of(key, params), internal_fields(e))
    return 0
  end
  local body, err = client:call(key, params)
  if body == nil then return api_error(ctx, err) end
  print_value(ctx, body)
  return 0
end

--- The methods of a resource, sorted.
function M.methods(rname)
  local class = require("ghl.resources." .. rname)
  local out = {}
  for k, v in pairs(class) do
    if type(v) == "function" and type(k) == "string" and k:sub(1, 1) ~= "_" and k ~= "new" then
      out[#out + 1] = k
    end
  end
  table.sort(out)
  return out
end

function is_resource(name)
  for _, r in ipairs(M.RESOURCES) do
    if r == name then return true end
  end
  return false
end

-- what the command adds to a resource's methods: name -> usage line
local ADDED = {
  contacts = { export = "export [--format csv|jsonl] [--columns a,b,...] [--query text] [--raw-csv] "
    .. "[--since TIME|STATE] [--state FILE] [--overlap DURATION]" },
}

--- What `ghl <resource> <method>` takes: the resource's methods and what
-- the command adds (contacts export), sorted.
function M.verbs(rname)
  local list = M.methods(rname)
  for name in pairs(ADDED[rname] or {}) do list[#list + 1] = name end
  table.sort(list)
  return list
end

function resource_help(rname)
  return cliargs.help(rname, M.verbs(rname), ADDED[rname])
end

-- An incremental export (--since, --state): the ghl.export of the command's flags.
local function changes_of(ctx, client, opts, params)
  local export = require "ghl.export"
  local since, state = nil, opts.state
  if opts.since and export.time(opts.since) then
    since = opts.since
  elseif opts.since then -- a state file, which must exist (--state starts one): a mistyped time is no file
    local file = io.open(opts.since, "rb")
    if not file then
      misuse("contacts export: --since '%s' is not a time (ISO 8601, epoch seconds or ms, or 90m, 24h, 7d back) "
        .. "nor a state file; --state %s starts one", opts.since, opts.since)
    end
    file:close()
    if state and state ~= opts.since then
      misuse("contacts export: --since names the state file %s, --state another (%s)", opts.since, state)
    end
    state = opts.since
  end
  local overlap = opts.overlap
  if overlap and not export.duration(overlap) then
    misuse("contacts export: --overlap must be a duration such as 5m, 90s or 0, got '%s'", overlap)
  end
  local q = params.query and { query = params.query } or nil
  local ex, err = export.new{ client = client, resource = "contacts", since = since, state = state,
                              overlap = overlap, params = q, page_size = params.pageLimit }
  if not ex then error(err, 0) end
  return ex
end

local function export_contacts(ctx, args)
  local opts, rest = take_flags(args, { format = "value", columns = "value", query = "value", ["raw-csv"] = "switch",
                                        since = "value", state = "value", overlap = "value" }, "contacts export")
  if #rest > 0 then misuse("contacts export: unexpected argument '%s'", rest[1]) end
  local format = opts.format or "csv"
  if format ~= "csv" and format ~= "jsonl" then
    misuse("contacts export: --format must be csv or jsonl, got '%s'", format)
  end
  local incremental = opts.since ~= nil or opts.state ~= nil
  local columns = incremental and M.CHANGES_COLUMNS or M.EXPORT_COLUMNS
  if opts.columns then
    columns = split_list(opts.columns)
    if #columns == 0 then misuse("contacts export: --columns needs at least one column") end
  end
  local pick = opts.columns ~= nil -- JSON Lines: the columns asked for, else every field
  local drop = internal_fields(operations.entry("contacts.search-contacts-advanced"))
  local client = client_of(ctx)
  local out = ctx.stdout
  -- the bar only when stderr is a terminal and the data does not go to it too
  local bar = progress.new{ out = ctx.raw_stderr, enabled = stderr_tty(ctx) and not stdout_tty(ctx),
                            noun = "contacts", now = ctx.now_ms }
  local params = { pageLimit = 500 }
  if opts.query and opts.query ~= "" then params.query = opts.query end
  local ex = incremental and changes_of(ctx, client, opts, params) or nil
  local csv, ncol, raw = format == "csv", #columns, opts["raw-csv"]
  if csv then out:write(output.csv_row(columns, ncol, raw), "\n") end
  local n, total = 0, nil
  local ok, err = pcall(function()
    local row = {}
    for items, page in (ex and ex:pages() or client.contacts:pages(params)) do
      if type(page) == "table" then
        total = tonumber(page.total) or (type(page.meta) == "table" and tonumber(page.meta.total)) or total
      end
      for _, c in ipairs(items) do
        if csv then
          for i = 1, ncol do row[i] = output.field(c, columns[i]) end
          out:write(output.csv_row(row, ncol, raw), "\n")
        elseif pick then
          local obj = {}
          for i = 1, ncol do
            local v = output.field(c, columns[i])
            if v == nil then v = ghl.null end
            obj[columns[i]] = v
          end
          out:write(output.json(obj), "\n")
        else
          out:write(output.json(without(c, drop)), "\n")
        end
        n = n + 1
        bar:update(n, total)
      end
      if ex then
        -- the page's rows are out before the state says so
        out:flush()
        local done, cerr = ex:commit()
        if not done then error(cerr, 0) end
      end
    end
  end)
  if not ok then
    if bar.draws > 0 then ctx.stderr:write("\n") end
    error(err, 0)
  end
  out:flush()
  bar:finish(n, total)
  ctx.stderr:write(("exported %d contacts in %.1f s"):format(n, bar:elapsed()))
  if ex then
    local i = ex:info()
    local export = require "ghl.export"
    ctx.stderr:write(("; changed since %s"):format(i.lower and export.iso(i.lower) or "the start"))
    if i.skipped > 0 then ctx.stderr:write(("; %d already written, left out"):format(i.skipped)) end
    if i.state then
      ctx.stderr:write(("; state in %s (next run from %s)"):format(i.state,
        i.next_lower and export.iso(i.next_lower) or "the start"))
    end
  end
  ctx.stderr:write("\n")
  return 0
end

-- The old reading of a method's words, for a method that has no signature
-- (ids, then the name=value pairs as one table).
local function loose_argv(rname, mname, words)
  local argv, n, fields = {}, 0, nil
  local literal = false
  for _, w in ipairs(words) do
    if literal then
      n = n + 1
      argv[n] = w
    elseif w == "--" then
      literal = true
    elseif w:sub(1, 2) == ":=" then
      n = n + 1
      argv[n] = decode_json(w:sub(3), "argument " .. n)
    elseif w:match("^%-%-%a") then
      misuse("%s %s: unknown option %s (values are name=value)", rname, mname, w)
    else
      local name, value = M.parse_pair(w)
      if name then
        fields = fields or {}
        fields[name] = value
      else
        n = n + 1
        argv[n] = w
      end
    end
  end
  if fields then
    n = n + 1
    argv[n] = fields
  end
  return argv, n
end

local function run_resource(ctx, rname, args)
  local verbs = M.verbs(rname)
  local given = args[1]
  if given == "help" then
    ctx.stdout:write(resource_help(rname))
    return 0
  end
  if not given or given:sub(1, 1) == "-" then
    refuse(resource_help(rname):gsub("\n$", ""), "%s needs a method", rname)
  end
  local mname = given:gsub("%-", "_")
  local known = false
  for _, m in ipairs(verbs) do known = known or m == mname end
  if not known then
    local near = messages.suggest(mname, verbs)
    if #near > 0 then
      refuse(("ghl: `ghl help %s` lists its methods"):format(rname), "%s: unknown method '%s'%s", rname, given,
        messages.did_you_mean(near))
    end
    refuse(nil, "%s: unknown method '%s'; its methods: %s", rname, given, table.concat(verbs, " "))
  end
  if rname == "contacts" and mname == "export" then
    return export_contacts(ctx, { unpack(args, 2) })
  end
  local words = { unpack(args, 2) }
  local sig = cliargs.signature(rname, mname)
  local argv, n
  if sig then
    argv, n = cliargs.bind(rname, mname, sig, words, function(msg, after)
      refuse("ghl: " .. after, "%s", msg)
    end, note_to(ctx))
  else
    argv, n = loose_argv(rname, mname, words)
  end
  local res = client_of(ctx)[rname]
  ctx.after = "ghl: usage: " .. cliargs.usage(rname, mname, sig) -- after the client's errors: theirs are not usage
  local v, err = res[mname](res, unpack(argv, 1, n))
  if v == nil and ghl.is_error(err) then return api_error(ctx, err) end
  if type(v) == "function" then
    stream(ctx, v, internal_fields(sig and sig.op and operations.entry(sig.op)))
    return 0
  end
  print_value(ctx, v)
  return 0
end

function commands.ops(ctx, args)
  local opts, rest = take_flags(args, { json = "switch" }, "ops")
  if #rest > 1 then misuse("ops takes one filter, got '%s'", table.concat(rest, " ")) end
  local filter = rest[1] or ""
  local keys = filter == "" and opsinfo.keys() or opsinfo.matching(filter)
  local exact = filter ~= "" and opsinfo.named(filter) or {}
  if #keys == 0 and #exact == 0 then
    local near = opsinfo.suggest(filter)
    refuse(#near == 0 and "ghl: `ghl ops` lists every operation; a filter is a part of a name: ghl ops contact" or nil,
      "no operation matches '%s'%s", filter, messages.did_you_mean(near))
  end
  if opts.json then
    local list = {}
    for i, k in ipairs(keys) do list[i] = opsinfo.json(k) end
    print_value(ctx, list)
    return 0
  end
  local out = ctx.stdout
  local one = #exact == 1 and exact[1] or (#keys == 1 and keys[1])
  if one then
    out:write(opsinfo.detail(one))
    local others = {}
    for _, k in ipairs(keys) do
      if k ~= one then others[#others + 1] = k end
    end
    if #others > 0 then
      local shown = { unpack(others, 1, math.min(5, #others)) }
      out:write(("  also matching '%s': %s%s\n"):format(filter, table.concat(shown, ", "),
        #others > #shown and (" and %d more"):format(#others - #shown) or ""))
    end
    return 0
  end
  for _, k in ipairs(keys) do out:write(opsinfo.summary(k), "\n") end
  return 0
end

function commands.login(ctx, args)
  local opts, rest = take_flags(args, { store = "value", scope = "value" }, "login")
  if #rest > 0 then misuse("login: unexpected argument '%s'", rest[1]) end
  local scope
  if opts.scope then
    scope = split_list(opts.scope)
    if #scope == 0 then misuse("login: --scope needs at least one scope") end
  end
  if ctx.stdin_tty == nil then ctx.stdin_tty = is_tty(0) end
  local code, why, session = auth.login(ctx, { store = opts.store, scope = scope })
  if code == 2 then usage_error(nil, "%s", why) end
  if code ~= 0 then return api_error(ctx, why) end
  print_value(ctx, session)
  return 0
end

function commands.mock(ctx, args)
  local _, rest = take_flags(args, {}, "mock")
  local port = 8080
  if rest[1] then
    port = tonumber(rest[1])
    if not port or port ~= math.floor(port) or port < 1 or port > 65535 then
      misuse("mock: port must be a number from 1 to 65535, got '%s'", rest[1])
    end
  end
  if #rest > 1 then misuse("mock: unexpected argument '%s'", rest[2]) end
  local ok, server = pcall(require, "spec.support.server")
  if not ok then
    if tostring(server):find("module 'spec.support.server' not found", 1, true) then
      usage_error(nil, "mock needs the source checkout of ghl (its spec/support/ folder): run bin/ghl "
        .. "mock or `make mock` there")
    end
    error(server, 0)
  end
  ctx.stderr:write("ghl mock: the local GHL server with its seed data (a location with 2,500 contacts, "
    .. "opportunities, calendars, conversations...); Ctrl-C stops it.\n")
  local srv = server.start{ foreground = true, port = port }
  local log = srv:log()
  srv:stop()
  local emerg = log:match("%[emerg%][^\n]*")
  if emerg then
    ctx.stderr:write("ghl: the local GHL server did not start: ", emerg, "\n")
    return 1
  end
  return 0
end

-- bulk jobs with a journal (ghl.job): lua/ghl/cli/import.lua
local function job_helpers(ctx)
  return { misuse = misuse, refuse = refuse, fail = function(...) usage_error(nil, ...) end,
           client = function() return client_of(ctx) end, stderr_tty = function() return stderr_tty(ctx) end,
           note = note_to(ctx), parse_pair = M.parse_pair, operation_key = operation_key,
           line = function(msg) return error_line(ctx, msg) end }
end

function commands.import(ctx, args) return require("ghl.cli.import").import(ctx, args, job_helpers(ctx)) end

function commands.run(ctx, args) return require("ghl.cli.import").run(ctx, args, job_helpers(ctx)) end

-- signed test webhooks: lua/ghl/cli/webhook.lua
function commands.webhook(ctx, args)
  return require("ghl.cli.webhook").run(ctx, args, { take_flags = take_flags, misuse = misuse, parse_pair = M.parse_pair,
                                                     fail = function(...) usage_error(nil, ...) end })
end

-- main --------------------------------------------------------------------

local function context(ctx)
  ctx = ctx or {}
  local c = {}
  for k, v in pairs(ctx) do c[k] = v end
  c.raw_stderr = c.stderr or io.stderr -- the progress bar's: its \r and clear-line are its own
  c.stdout = terminal.guard(c.stdout or io.stdout, function() return stdout_tty(c) end)
  c.stderr = terminal.guard(c.raw_stderr, function() return stderr_tty(c) end)
  c.stdin = c.stdin or io.stdin
  c.getenv = c.getenv or os.getenv
  return c
end

local function run(ctx, args)
  -- help anywhere (before "--"); --pretty / --compact anywhere
  local words = {}
  local literal = false
  for i = 1, #args do
    local a = args[i]
    if literal then
      words[#words + 1] = a
    elseif a == "--" then
      literal = true
      words[#words + 1] = a
    elseif a == "-h" or a == "--help" then
      ctx.help = true
    elseif a == "--pretty" then
      ctx.pretty = true
    elseif a == "--compact" then
      ctx.pretty = false
    else
      words[#words + 1] = a
    end
  end
  local cmd = words[1]
  if ctx.help then
    -- `ghl contacts --help`: the resource's; anything else: the whole help
    if #words == 1 and is_resource(cmd) then return commands.help(ctx, { cmd }) end
    return commands.help(ctx)
  end
  if cmd == nil then
    ctx.stderr:write(M.SHORT_USAGE)
    return 2
  end
  local rest = { unpack(words, 2) }
  if cmd == "help" then return commands.help(ctx, rest) end
  if cmd == "version" or cmd == "--version" then return commands.version(ctx) end
  if commands[cmd] then return commands[cmd](ctx, rest) end
  if is_resource(cmd) then return run_resource(ctx, cmd, rest) end
  local names = { "call", "ops", "import", "run", "login", "mock", "webhook", "version", "help" }
  for _, r in ipairs(M.RESOURCES) do names[#names + 1] = r end
  local near = messages.suggest(cmd, names)
  if #near > 0 then
    refuse("ghl: `ghl help` lists the commands", "unknown command '%s'%s", cmd, messages.did_you_mean(near))
  end
  misuse("unknown command '%s'; commands: call ops import run login mock webhook version help, or a resource: %s", cmd,
    table.concat(M.RESOURCES, " "))
end

-- GHL_DEBUG=1 (any value but "" and "0"): tracebacks, for a bug report
local function debugging(ctx)
  local v = ctx.getenv("GHL_DEBUG")
  return v ~= nil and v ~= "" and v ~= "0"
end

-- The text of any error value (a __tostring may itself fail)
local function text_of(e)
  local ok, s = pcall(tostring, e)
  return ok and type(s) == "string" and s or ("an error value of type " .. type(e))
end

-- What a raised error means: { code, message, usage, env, hint, more }.
-- An error nobody expected (a bug, or data no check foresaw) is one line
-- too: its first, with a hint; GHL_DEBUG shows the rest and the traceback.
local function classify(e, ctx)
  if getmetatable(e) == Usage then
    return { code = 2, message = e.message, usage = e.hint == "usage", env = e.hint == "credentials",
             after = e.after }
  end
  if ghl.is_error(e) then
    -- the library's misuse, in the command line's terms; then the usage of
    -- what was run (or the short usage)
    local after = ctx and ctx.after
    if e.kind == "invalid_argument" then
      return { code = 2, message = messages.translate(type(e.message) == "string" and e.message or text_of(e)),
               usage = after == nil, after = after }
    end
    return { code = 1, message = messages.translate(text_of(e)), hints = messages.auth_hints(e, ctx.getenv) }
  end
  local s = text_of(e)
  if s:find("interrupted!$") then return { code = 130, message = "interrupted" } end -- Ctrl-C
  local first, more = s:match("^([^\n]*)\n(.*)$")
  return { code = 1, message = "unexpected error: " .. (first or s), more = more,
           hint = "ghl: GHL_DEBUG=1 shows the Lua traceback of this error (please report it)" }
end

--- Run the command line `args` (a list of strings, as `arg`). Returns the
-- exit code: 0 ok, 1 API error, 2 usage error.
function M.main(args, ctx)
  ctx = context(ctx)
  local trace = debugging(ctx)
  local ok, code = xpcall(run, function(e)
    local r = classify(e, ctx)
    if trace and r.code ~= 2 then r.trace = debug.traceback("", 2) end
    return r
  end, ctx, args or {})
  if ctx.client then pcall(ctx.client.close, ctx.client) end
  pcall(ctx.stdout.flush, ctx.stdout)
  if ok then return code or 0 end
  -- the handler itself failed (a stack overflow leaves it little room):
  -- xpcall then gives "error in error handling" instead of its table
  local r = type(code) == "table" and code or classify(code, ctx)
  local err = ctx.stderr
  err:write(error_line(ctx, r.message), "\n")
  if r.trace then
    if r.more then err:write(scrub(ctx, r.more), "\n") end
    err:write(scrub(ctx, (r.trace:gsub("^\n", ""))), "\n")
  elseif r.hint then
    err:write(r.hint, "\n")
  end
  for _, hint in ipairs(r.hints or {}) do err:write(error_line(ctx, hint), "\n") end
  if r.after then err:write(scrub(ctx, r.after), "\n") end
  if r.usage then err:write(M.SHORT_USAGE) end
  if r.env then err:write("credentials (environment):\n", ENV_HELP) end
  return r.code
end

return M
