--- The `ghl` command line: GoHighLevel from a shell.
--
--   ghl call get-contact contactId=...          any operation of the catalogue
--   ghl contacts get ID                         resource methods
--   ghl contacts export --format csv > out.csv  every contact, progress bar on a terminal
--   ghl ops contact                             the operations
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
local core = require "ghl.core"
local output = require "ghl.cli.output"
local progress = require "ghl.cli.progress"
local terminal = require "ghl.cli.terminal"
local auth = require "ghl.cli.auth"
local tokens = require "ghl.tokens"

local M = {}

local unpack = table.unpack or unpack

M.RESOURCES = { "contacts", "opportunities", "calendars", "workflows", "conversations", "locations", "users" }

M.EXPORT_COLUMNS = { "id", "firstName", "lastName", "email", "phone", "tags", "dateAdded" }

M.SHORT_USAGE = [[
usage: ghl <command> [arguments]
  ghl call <operation> [name=value ...] [name:=json ...]
  ghl <resource> <method> [id ...] [name=value ...] [name:=json ...]
  ghl contacts export [--format csv|jsonl] [--columns a,b,...] [--query text] [--raw-csv]
  ghl ops [filter] [--json]
  ghl login [--store path] [--scope a,b,...]
  ghl mock [port]
  ghl version | ghl help
]]

M.USAGE = [[
ghl - the GoHighLevel API v2 from the command line

usage: ghl <command> [arguments]

commands:
  call <operation> [name=value ...] [name:=json ...]
        Run any operation of GHL's API (see `ghl ops`) and print the answer.
        <operation> is "service.operationId" or a bare operationId where it
        is unique; parameters are flat (path, query and body by name).
        --each streams the items of a paged operation, one JSON per line.
  <resource> <method> [id ...] [name=value ...] [name:=json ...]
        A method of a resource: ids in order, then the name=value pairs as
        one table (the fields of create/update/search...). Iterators
        (each, each_*, messages, export, pages) print one JSON per line.
        resources: contacts opportunities calendars workflows conversations
                   locations users   (`ghl <resource>` lists its methods)
  contacts export [--format csv|jsonl] [--columns a,b,...] [--query text]
                  [--raw-csv]
        Every contact to stdout (CSV by default, with a header row; arrays
        joined with ";"). Columns: id,firstName,lastName,email,phone,tags,
        dateAdded unless given (a.b reaches into objects). A progress bar
        goes to stderr when it is a terminal.
        A CSV cell that starts with = + - @ TAB or CR gets a leading ' so
        that a spreadsheet reads it as text, not as a formula (OWASP's rule
        against CSV injection; it applies to "-5" and "+14155550100" too).
        --raw-csv writes every cell as it is. JSON Lines are never changed.
  ops [filter] [--json]
        The operations whose name contains filter: name, method, path,
        (paging style), and the token it takes (location, agency, either;
        "OAuth only" where GHL refuses a Private Integration Token).
  login [--store path] [--scope a,b,...]
        OAuth for a Marketplace app: prints the authorize URL, reads the
        redirect URL (or the code) on stdin, stores the tokens (mode 0600).
        Later commands use them when GHL_TOKEN is not set.
        Default scopes: contacts.readonly,contacts.write.
  mock [port]
        The local GHL server with its seed data in the foreground (default
        port 8080; from a source checkout). Ctrl-C stops it.
  version, help

values:
  name=value     a string            name:=json   a JSON value: count:=5 dnd:=true
                                                   tags:='["vip","lead"]'
  :=json         a JSON value as the next positional argument (a list of tags...)
  --             every word after it is a positional argument

output:
  JSON; pretty (indented, keys sorted) when stdout is a terminal, one line
  otherwise. --pretty / --compact choose. On a terminal, control characters
  (ESC, CR, DEL, the C1 controls...) in what the server sent are shown as
  \u00XX instead of being obeyed; pipes and files get the bytes as they are.

exit status:
  0 ok, 1 API or data error (one line on stderr), 2 usage error

environment:
  GHL_TOKEN          Private Integration Token (pit-...) or OAuth access token
  GHL_LOCATION_ID    the location (sub-account) to work in
  GHL_COMPANY_ID     the agency (company) id, for agency operations
  GHL_BASE_URL       API base URL (default https://services.leadconnectorhq.com)
  GHL_CLIENT_ID, GHL_CLIENT_SECRET
                     the OAuth app (ghl login; used when GHL_TOKEN is not set)
  GHL_REDIRECT_URI   OAuth redirect URI (default https://localhost/oauth/callback)
  GHL_TOKEN_STORE    the OAuth token file (default $XDG_CONFIG_HOME/ghl/tokens.json
                     or ~/.config/ghl/tokens.json)
  GHL_PACING_REDIS   redis://host:port: pace against one rate-limit budget with every process
                     using that Redis (ghl.new's pacing_store)
  GHL_DEBUG=1        an unexpected error prints its Lua traceback too (for a bug report)
]]

local ENV_HELP = [[
  GHL_TOKEN, GHL_LOCATION_ID         a Private Integration Token (or OAuth access token), its location
  GHL_CLIENT_ID, GHL_CLIENT_SECRET   an OAuth app: the session `ghl login` stored
]]

-- errors ----------------------------------------------------------------

-- A misuse of the command line (exit 2): its message and what follows it
-- on stderr: "usage" (the short usage), "credentials" (how to give them) or
-- nothing.
local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(e) return e.message end

local function usage_error(hint, fmt, ...)
  error(setmetatable({ message = fmt:format(...), hint = hint }, Usage), 0)
end

local function misuse(fmt, ...) usage_error("usage", fmt, ...) end

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

-- items of an iterator, one compact JSON per line
local function stream(ctx, iter)
  local out = ctx.stdout
  local n = 0
  for v in iter do
    out:write(output.json(v), "\n")
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

local function api_error(ctx, err)
  ctx.stderr:write(error_line(ctx, err), "\n")
  return 1
end

-- arguments -------------------------------------------------------------

-- JSON numbers with an integer value as Lua integers (5.4), so "5" is sent as 5
local function integers(v)
  if not math.tointeger then return v end
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
  end
  return v
end

local function decode_json(text, what)
  local v, err = core.json_decode(text)
  if v == nil and err then misuse("%s: not valid JSON (%s): %s", what, tostring(err.message or err), text) end
  return integers(v)
end

--- name=value -> name, "value"; name:=json -> name, decoded; else nil.
function M.parse_pair(word)
  local name, json = word:match("^([%a_][%w_.%-]*):=(.*)$")
  if name then return name, decode_json(json, name .. ":=") end
  local n2, value = word:match("^([%a_][%w_.%-]*)=(.*)$")
  if n2 then return n2, value end
  return nil
end

-- Takes --flag value / --flag=value options out of args. spec: name ->
-- "value" or "switch". Returns the options and the other words; unknown
-- flags are a usage error. "--" ends the options.
local function take_flags(args, spec, where)
  local opts, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i, #args do rest[#rest + 1] = args[j] end
      break
    end
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if name then
      local kind = spec[name]
      if not kind then misuse("%s: unknown option --%s", where, name) end
      if kind == "switch" then
        if inline then misuse("%s: --%s takes no value", where, name) end
        opts[name] = true
      else
        local v = inline
        if v == nil then
          i = i + 1
          v = args[i]
          if v == nil then misuse("%s: --%s needs a value", where, name) end
        end
        opts[name] = v
      end
    elseif a:match("^%-%a") then
      misuse("%s: unknown option %s", where, a)
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

local function split_list(s)
  local out = {}
  for part in s:gmatch("[^,%s]+") do out[#out + 1] = part end
  return out
end

-- the client ---------------------------------------------------------------

local function client_of(ctx)
  if ctx.client then return ctx.client end
  local client, why = auth.client(ctx)
  if not client then usage_error("credentials", "%s", why) end
  ctx.client = client
  return client
end

-- commands ---------------------------------------------------------------

local commands = {}

function commands.help(ctx)
  ctx.stdout:write(M.USAGE)
  return 0
end

function commands.version(ctx)
  -- where the C core came from: which install a shell's `ghl` runs
  local core = package.searchpath("ghl.core", package.cpath) or "?"
  ctx.stdout:write(("ghl %s (%s) %s\n"):format(ghl.VERSION, jit and jit.version or _VERSION, core))
  return 0
end

function commands.call(ctx, args)
  local opts, words = take_flags(args, { each = "switch" }, "call")
  local rest, dropped = {}, false -- without the "--" that ended the options
  for _, w in ipairs(words) do
    if w == "--" and not dropped then dropped = true else rest[#rest + 1] = w end
  end
  local op = rest[1]
  if not op then misuse("call needs an operation, e.g. ghl call contacts.get-contact contactId=ID") end
  local params = {}
  for i = 2, #rest do
    local w = rest[i]
    local name, value = M.parse_pair(w)
    if not name then misuse("call: expected name=value or name:=json, got '%s'", w) end
    params[name] = value
  end
  -- an unknown or ambiguous operation is misuse, whatever the credentials
  require("ghl.operations").resolve(op, "call")
  local client = client_of(ctx)
  if opts.each then
    stream(ctx, client:each_of(op, params))
    return 0
  end
  local body, err = client:call(op, params)
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

local function is_resource(name)
  for _, r in ipairs(M.RESOURCES) do
    if r == name then return true end
  end
  return false
end

local function export_contacts(ctx, args)
  local opts, rest = take_flags(args, { format = "value", columns = "value", query = "value", ["raw-csv"] = "switch" },
    "contacts export")
  if #rest > 0 then misuse("contacts export: unexpected argument '%s'", rest[1]) end
  local format = opts.format or "csv"
  if format ~= "csv" and format ~= "jsonl" then
    misuse("contacts export: --format must be csv or jsonl, got '%s'", format)
  end
  local columns = M.EXPORT_COLUMNS
  if opts.columns then
    columns = split_list(opts.columns)
    if #columns == 0 then misuse("contacts export: --columns needs at least one column") end
  end
  local client = client_of(ctx)
  local out = ctx.stdout
  -- the bar only when stderr is a terminal and the data does not go to it too
  local bar = progress.new{ out = ctx.raw_stderr, enabled = stderr_tty(ctx) and not stdout_tty(ctx),
                            noun = "contacts", now = ctx.now_ms }
  local params = { pageLimit = 500 }
  if opts.query and opts.query ~= "" then params.query = opts.query end
  local csv, ncol, raw = format == "csv", #columns, opts["raw-csv"]
  if csv then out:write(output.csv_row(columns, ncol, raw), "\n") end
  local n, total = 0, nil
  local ok, err = pcall(function()
    local row = {}
    for items, page in client.contacts:pages(params) do
      if type(page) == "table" then
        total = tonumber(page.total) or (type(page.meta) == "table" and tonumber(page.meta.total)) or total
      end
      for _, c in ipairs(items) do
        if csv then
          for i = 1, ncol do row[i] = output.field(c, columns[i]) end
          out:write(output.csv_row(row, ncol, raw), "\n")
        else
          out:write(output.json(c), "\n")
        end
        n = n + 1
        bar:update(n, total)
      end
    end
  end)
  if not ok then
    if bar.draws > 0 then ctx.stderr:write("\n") end
    error(err, 0)
  end
  out:flush()
  bar:finish(n, total)
  ctx.stderr:write(("exported %d contacts in %.1f s\n"):format(n, bar:elapsed()))
  return 0
end

local function run_resource(ctx, rname, args)
  local methods = M.methods(rname)
  local mname = args[1]
  if not mname or mname:sub(1, 1) == "-" then
    misuse("%s needs a method: %s (or: export)", rname, table.concat(methods, " "))
  end
  if rname == "contacts" and mname == "export" then
    return export_contacts(ctx, { unpack(args, 2) })
  end
  mname = mname:gsub("%-", "_")
  local known = false
  for _, m in ipairs(methods) do known = known or m == mname end
  if not known then
    misuse("unknown method '%s' of %s; its methods: %s%s", args[1], rname, table.concat(methods, " "),
      rname == "contacts" and " export" or "")
  end
  local argv, n, fields = {}, 0, nil
  local literal = false
  for i = 2, #args do
    local w = args[i]
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
  local res = client_of(ctx)[rname]
  local v, err = res[mname](res, unpack(argv, 1, n))
  if v == nil and ghl.is_error(err) then return api_error(ctx, err) end
  if type(v) == "function" then
    stream(ctx, v)
    return 0
  end
  print_value(ctx, v)
  return 0
end

function commands.ops(ctx, args)
  local opts, rest = take_flags(args, { json = "switch" }, "ops")
  if #rest > 1 then misuse("ops takes one filter, got '%s'", table.concat(rest, " ")) end
  local filter = rest[1] and rest[1]:lower() or ""
  local ops = ghl.operations()
  local keys = {}
  for k in pairs(ops) do
    if k:lower():find(filter, 1, true) then keys[#keys + 1] = k end
  end
  table.sort(keys)
  if opts.json then
    local list = {}
    for i, k in ipairs(keys) do
      local e = ops[k]
      list[i] = { key = k, method = e.m, path = e.p, paging = e.pg, version = e.v, scopes = e.s,
                  token = tokens.describe(e.t), deprecated = e.dep or nil }
    end
    print_value(ctx, list)
    return 0
  end
  local out = ctx.stdout
  for _, k in ipairs(keys) do
    local e = ops[k]
    out:write(k, "  ", e.m, " ", e.p, e.pg and ("  (" .. e.pg .. ")") or "", "  token: ", tokens.describe(e.t),
      e.dep and "  [deprecated]" or "", "\n")
  end
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
      return commands.help(ctx)
    elseif a == "--pretty" then
      ctx.pretty = true
    elseif a == "--compact" then
      ctx.pretty = false
    else
      words[#words + 1] = a
    end
  end
  local cmd = words[1]
  if cmd == nil then
    ctx.stderr:write(M.SHORT_USAGE)
    return 2
  end
  local rest = { unpack(words, 2) }
  if cmd == "help" then return commands.help(ctx) end
  if cmd == "version" or cmd == "--version" then return commands.version(ctx) end
  if commands[cmd] then return commands[cmd](ctx, rest) end
  if is_resource(cmd) then return run_resource(ctx, cmd, rest) end
  misuse("unknown command '%s'; commands: call ops login mock version help, or a resource: %s", cmd,
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
local function classify(e)
  if getmetatable(e) == Usage then
    return { code = 2, message = e.message, usage = e.hint == "usage", env = e.hint == "credentials" }
  end
  if ghl.is_error(e) then
    if e.kind == "invalid_argument" then return { code = 2, message = text_of(e), usage = true } end
    return { code = 1, message = text_of(e) }
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
    local r = classify(e)
    if trace and r.code ~= 2 then r.trace = debug.traceback("", 2) end
    return r
  end, ctx, args or {})
  if ctx.client then pcall(ctx.client.close, ctx.client) end
  pcall(ctx.stdout.flush, ctx.stdout)
  if ok then return code or 0 end
  -- the handler itself failed (a stack overflow leaves it little room):
  -- xpcall then gives "error in error handling" instead of its table
  local r = type(code) == "table" and code or classify(code)
  local err = ctx.stderr
  err:write(error_line(ctx, r.message), "\n")
  if r.trace then
    if r.more then err:write(scrub(ctx, r.more), "\n") end
    err:write(scrub(ctx, (r.trace:gsub("^\n", ""))), "\n")
  elseif r.hint then
    err:write(r.hint, "\n")
  end
  if r.usage then err:write(M.SHORT_USAGE) end
  if r.env then err:write("credentials (environment):\n", ENV_HELP) end
  return r.code
end

return M
