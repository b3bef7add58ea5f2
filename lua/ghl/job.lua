--- Bulk jobs that survive a crash: the rows of a CSV or JSON Lines file (or
-- a Lua list or iterator) through one operation, with `client:batch` under
-- the pacer, and a journal that makes the next run resume where this one
-- stopped, never sending a row again that is done.
--
--     local job = ghl.job{
--       client = client,
--       rows = "people.csv",                 -- or "rows.jsonl", a list, an iterator
--       op = "upsert",                       -- create, update, add_tags, ... or any operation
--       map = { ["E-mail"] = "email", ["Lead Score"] = "customField" },
--       journal = "people.journal",          -- or ghl.store.redis{...} with name =
--     }
--     local report = assert(job:run())
--     print(report.done, report.failed, report.ambiguous)
--     local check = job:dry_run()            -- every bad row at once, nothing sent
--
-- **Rows.** A CSV file has a header line; each later record is a row,
-- numbered from 1 (empty lines do not count). A JSON Lines file has one
-- JSON object a line. A row's identity is its number and the hash of its
-- content (the first 16 hex digits of a SHA-256 of its cells, its JSON
-- line, or its Lua value): a run finds each row's last record in the
-- journal by number, and tells from the hash whether the row changed since.
-- So: add rows at the end, fix failed rows where they are, do not insert or
-- reorder rows in a file a journal has seen (those rows read as changed,
-- and are not sent: see `changed` below). An iterator is read once: to
-- resume, make the job again with the same rows and the same journal.
--
-- **Mapping.** Without `map`, CSV columns are matched to the operation's
-- parameters by name (case, spaces, `-` and `_` do not count: `First Name`
-- is `firstName`; `id` is the operation's one path id, `contactId`); the
-- columns `_row` and `_error` (what a failed-rows file adds) are left out;
-- another column is a problem that stops the job before anything is sent.
-- `map` as a table maps column (or JSON key) to parameter: `"email"`,
-- `"dnd:boolean"` (a type: `string`, `number`, `boolean`, `list`, `json`),
-- `"customField"` (the location's custom field named like the column) or
-- `"customField:Lead Score"` (by name, field key or id), `false` or `"-"`
-- (left out). CSV cells become values by the field: an empty cell is left
-- out, a list field (`tags`) is split at `,` and `;`, a boolean one reads
-- true/false/yes/no/1/0, an object or list of objects reads JSON, and the
-- `'` that `ghl contacts export` puts before a cell starting with `= + - @`
-- is taken off again (`raw_csv = true`: cells as they are). `map` as a
-- function gets the row (a CSV row as a table column -> cell) and its
-- number and returns the params, `nil, why` (the row fails), or `false`
-- (the row is left out). `params` are added to every row's.
--
-- **What a run does with each row**, by its last journal record:
--
-- - none: checked (the dry run's checks), then sent;
-- - `done`: skipped, never sent again (`skipped` counts them);
-- - `failed`: sent again, unless GHL refused it for a reason of the row
--   (a 4xx other than 401, 403, 408, 429: `retry = false` in the record)
--   and it has not changed since; `retry_failed = true` sends those too;
-- - `sent` without an outcome (the runner died with it in flight) or
--   `ambiguous` (the request may have reached GHL: a timeout or a
--   connection lost after sending, a 5xx answer to a POST): resolved, not
--   sent blindly. A contact create is looked up by the row's email (or
--   phone) with contacts.get-duplicate-contact: found is done (with that
--   id), not found is sent again. An upsert with an email or phone, a PUT,
--   a DELETE, adding or removing tags are sent again (repeating them
--   changes nothing). Any other operation stays `ambiguous`, in the journal
--   and the report, and is never sent again unless `retry_ambiguous`;
-- - a different hash: the row changed since. A row that had failed is
--   sent as it is now; one that was done, sent or ambiguous is reported as
--   `changed` and not sent (sending it could repeat what was done).
--
-- Ambiguous writes of this run are resolved the same way right after the
-- batch they were in (up to three times a row).
--
-- **The journal**: a file by default, JSON Lines, one record a line,
-- appended and fdatasync'ed before the next request leaves (core.appender):
-- the `sent` record of a row before its first request, its outcome as
-- soon as it is known. It is locked while a run has it open (a second
-- runner is refused: `reason = "locked"`), and a line torn by a kill is cut
-- off when it is next opened. Records:
--
--     {"t":"job","v":1,"op":"contacts.create-contact","source":"people.csv","at":1767225600000}
--     {"t":"run","at":1767225600000}
--     {"t":"sent","row":1,"hash":"3f79bb7b435b0532","at":1767225600012}
--     {"t":"done","row":1,"hash":"3f79bb7b435b0532","id":"k2Vq...","at":1767225600180}
--     {"t":"failed","row":2,"hash":"...","error":"http 422: email must be an email ...","kind":"http","status":422,"retry":false,"at":...}
--     {"t":"ambiguous","row":3,"hash":"...","error":"network: ... may have reached GHL ...","at":...}
--     {"t":"done","row":3,"hash":"...","id":"...","how":"found by email","at":...}
--
-- A record holds no field of a row (only what GHL's own error messages
-- quote) and never a token. `journal = store` (with `name =`)
-- keeps the same records in a token store, one key a row: a job started on
-- one host can be resumed on another with `ghl.store.redis{...}`; its lock
-- is a lease of 60 s, renewed while the run lasts. SQLite (Debian's
-- lua-sql-sqlite3, built for Lua 5.1 to 5.4) would also survive a kill, but
-- it would be the library's first dependency beyond Lua, one nginx's LuaJIT
-- would need too, and it still needs a lock of its own against a second
-- runner; an append-only file needs a write and an fdatasync a record.
-- @module ghl.job
local core = require "ghl.core"
local errors = require "ghl.errors"
local check = require "ghl.check"
local operations = require "ghl.operations"
local ops = require "ghl.job.ops"
local source = require "ghl.job.source"
local journal = require "ghl.job.journal"

local M = {}

local Job = {}
Job.__index = Job

local now_ms = core.now_ms
local problem = journal.problem

local OPTIONS = {
  client = "table", rows = "any", op = "string", map = "any", params = "table", journal = "any", name = "string",
  format = "string", concurrency = "number", retry_ambiguous = "boolean", retry_failed = "boolean",
  on_progress = "function", raw_csv = "boolean",
}

local function is_store(v)
  return type(v) == "table" and type(v.get) == "function" and type(v.set) == "function"
    and type(v.lock) == "function" and type(v.unlock) == "function"
end

--- Make a job (`ghl.job{...}`): nothing is read or sent until `run` or
-- `dry_run`.
-- @tparam table opts
-- @tparam ghl.client opts.client the client the rows are sent with
-- @param opts.rows a path (`.csv`, `.jsonl`), a list, or an iterator (a
-- function that returns a row a call, then nil)
-- @string opts.op the operation: `create`, `upsert`, `update`, `delete`,
-- `add_tags`, `remove_tags`, `add_followers`, `add_to_workflow`,
-- `remove_from_workflow` (the contact operations) or any operation of the
-- catalogue ("contacts.upsert-contact", "opportunities.create-opportunity")
-- @param[opt] opts.map a table column -> parameter, or a function(row, n)
-- -> params (see above)
-- @tparam[opt] table opts.params parameters every row gets (a row's own win):
-- `{ workflowId = "..." }`
-- @param[opt] opts.journal a path, a token store (with `opts.name`), or
-- nil: in memory (a second `run` of this job object resumes; nothing
-- survives the process)
-- @string[opt] opts.name the job's key prefix in a store journal
-- @string[opt] opts.format "csv" or "jsonl" when the path's name does not say
-- @int[opt=8] opts.concurrency requests in flight at once (client:batch)
-- @bool[opt=false] opts.retry_ambiguous send ambiguous rows of operations without
-- a natural key again (they may then be applied twice)
-- @bool[opt=false] opts.retry_failed send again rows GHL refused for a reason of the row
-- @tparam[opt] function opts.on_progress called with { rows, total, done, failed,
-- ambiguous, changed, skipped, sent, elapsed_ms, waiting, wait_ms, max, interval_ms }
-- as rows are settled (`waiting`: the pacer holds requests back, GHL's
-- rate limit is what bounds the job; `max` per `interval_ms` is that limit)
-- @bool[opt=false] opts.raw_csv CSV cells exactly as they are (no `'` taken off)
-- @treturn Job
-- @raise `invalid_argument` for an unknown option or operation, or a value of the wrong type
-- @usage local job = ghl.job{ client = client, rows = "people.csv", op = "upsert", journal = "people.journal" }
function M.new(opts)
  if type(opts) ~= "table" then errors.invalid("ghl.job: expects a table of options, got %s", type(opts)) end
  check.options("ghl.job", opts, OPTIONS) -- "any": checked below
  if type(opts.client) ~= "table" or type(opts.client.batch) ~= "function" then
    errors.invalid("ghl.job: client must be a client made by ghl.new")
  end
  local rows = opts.rows
  if type(rows) ~= "string" and type(rows) ~= "table" and type(rows) ~= "function" then
    errors.invalid("ghl.job: rows must be a path, a list or an iterator, got %s", type(rows))
  end
  if type(opts.op) ~= "string" then errors.invalid("ghl.job: op must be an operation name, got %s", type(opts.op)) end
  local e, key = ops.resolve(opts.op)
  if e.b == "multipart" then errors.invalid("ghl.job: %s uploads files (multipart): not a row operation", key) end
  local map = opts.map
  if map ~= nil and type(map) ~= "table" and type(map) ~= "function" then
    errors.invalid("ghl.job: map must be a table (column -> parameter) or a function, got %s", type(map))
  end
  local c = opts.concurrency or 8
  if c < 1 or c ~= math.floor(c) or c > 256 then
    errors.invalid("ghl.job: concurrency must be a whole number from 1 to 256, got %s", tostring(c))
  end
  if opts.format ~= nil and opts.format ~= "csv" and opts.format ~= "jsonl" then
    errors.invalid("ghl.job: format must be \"csv\" or \"jsonl\", got %q", opts.format)
  end
  local j = opts.journal
  local jr
  if j == nil or j == false then
    jr = journal.memory()
  elseif type(j) == "string" then
    if j == "" then errors.invalid("ghl.job: journal must be a non-empty path") end
    jr = journal.file(j)
  elseif is_store(j) then
    if type(opts.name) ~= "string" or opts.name == "" then
      errors.invalid("ghl.job: a journal in a store needs name = (the job's key prefix)")
    end
    jr = journal.store(j, opts.name)
  else
    errors.invalid("ghl.job: journal must be a path or a token store (get, set, lock, unlock), got %s", type(j))
  end
  return setmetatable({
    client = opts.client, rows = rows, format = opts.format, e = e, key = key, map = map,
    params = opts.params, journal = jr, journal_name = type(j) == "string" and j or opts.name,
    concurrency = c, retry_ambiguous = opts.retry_ambiguous == true, retry_failed = opts.retry_failed == true,
    on_progress = opts.on_progress, raw_csv = opts.raw_csv == true,
  }, Job)
end

--- A bulk job (`ghl.job{...}`).
-- @type Job

-- mapping ---------------------------------------------------------------------

local function norm(s) return (tostring(s):lower():gsub("[^%w]", "")) end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local TRUE = { ["true"] = true, yes = true, y = true, ["1"] = true, on = true }
local FALSE = { ["false"] = false, no = false, n = false, ["0"] = false, off = false }

local function split(s)
  local out = {}
  for part in s:gmatch("[^,;]+") do
    part = trim(part)
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

local TYPES = { string = true, number = true, boolean = true, list = true, json = true }

-- A map target: { field =, as = } | { custom = name } | false; or nil, why.
local function target_of(t, column)
  if t == false or t == "-" then return false end
  if type(t) ~= "string" or t == "" then
    return nil, ("map: the target of '%s' must be a parameter name, \"customField[:name]\" or false"):format(column)
  end
  local cf = t:match("^customFields?:(.+)$")
  if cf then return { custom = trim(cf) } end
  if t == "customField" or t == "customFields" then return { custom = column } end
  local field, as = t:match("^([^:]+):(%a+)$")
  if field then
    if not TYPES[as] then
      return nil, ("map: '%s' has an unknown type '%s' (string, number, boolean, list, json)"):format(t, as)
    end
    return { field = field, as = as }
  end
  return { field = t }
end

-- A CSV cell as the value of `field` (typed `as` when the map says so):
-- value | nil (empty: left out), and a problem.
local function cell_value(self, field, as, cell)
  if cell == "" then return nil end
  if not self.raw_csv and cell:find("^'[=+%-@\t\r]") then cell = cell:sub(2) end
  local t = as or ops.field_type(self.e, self.key, field)
  if t == "number" then
    local n = tonumber(cell)
    if not n then return nil, "is not a number: " .. ops.describe(cell) end
    return math.tointeger and math.tointeger(n) or n
  elseif t == "boolean" then
    local l = trim(cell):lower()
    if TRUE[l] then return true end
    if FALSE[l] ~= nil then return false end
    return cell -- the check says what is wrong with it
  elseif t == "strings" or t == "list" then
    if as == nil and cell:find("^%s*%[") then -- a JSON list
      local v = core.json_decode(cell)
      if type(v) == "table" then return v end
    end
    return split(cell)
  elseif t == "json" or t == "object" or t == "custom_fields" then
    if t ~= "json" and not cell:find("^%s*[%[{]") then return cell end
    local v, err = core.json_decode(cell)
    if v == nil and err then return nil, "is not valid JSON: " .. tostring(err) end
    return v
  end
  return cell
end

-- params[t.field] = the text `cell` as cell_value makes it; a problem goes
-- into `problems` (made at the first one), which is returned.
local function put_cell(self, params, problems, t, cell)
  local v, why = cell_value(self, t.field, t.as, cell)
  if why then
    problems = problems or {}
    problems[#problems + 1] = { field = t.field, problem = why }
  end
  if v ~= nil then params[t.field] = v end
  return problems
end

-- The location's custom fields (one GET), indexed by name, key and id.
function Job:_custom_fields()
  if self._cf then return self._cf end
  local client = self.client
  if not client.location_id then
    return nil, "custom fields by name need the client's location_id"
  end
  local body, err = client:call("locations.get-custom-fields", { locationId = client.location_id, model = "contact" })
  if not body then return nil, "cannot read the location's custom fields: " .. tostring(err) end
  local index, names = {}, {}
  for _, f in ipairs(type(body.customFields) == "table" and body.customFields or {}) do
    if type(f) == "table" and type(f.id) == "string" then
      index[f.id] = f
      if type(f.name) == "string" then
        index[norm(f.name)] = index[norm(f.name)] or f
        names[#names + 1] = f.name
      end
      if type(f.fieldKey) == "string" then
        index[f.fieldKey] = f
        index[f.fieldKey:gsub("^contact%.", "")] = index[f.fieldKey:gsub("^contact%.", "")] or f
      end
    end
  end
  self._cf = { index = index, names = names }
  return self._cf
end

local MULTI = { CHECKBOX = true, MULTIPLE_OPTIONS = true, TEXTBOX_LIST = true }

-- The custom field `name` names: the field | nil, why.
function Job:_custom(name)
  local cf, err = self:_custom_fields()
  if not cf then return nil, err end
  local f = cf.index[name] or cf.index[norm(name)]
  if f then return f end
  local near = operations.closest(name, cf.names)
  return nil, ("the location has no custom field '%s'%s"):format(name,
    #near > 0 and ("; did you mean %s?"):format(table.concat(near, ", "))
    or (#cf.names > 0 and ("; its custom fields: %s"):format(table.concat(cf.names, ", ")) or ""))
end

local NUMERIC = { NUMERICAL = true, MONETORY = true, FLOAT = true }

local function add_custom(params, f, value)
  if type(value) == "string" and MULTI[f.dataType] then value = split(value) end
  if type(value) == "string" and NUMERIC[f.dataType] and tonumber(value) then
    value = tonumber(value)
    value = math.tointeger and math.tointeger(value) or value
  end
  local list = params.customFields
  if type(list) ~= "table" then
    list = {}
    params.customFields = list
  end
  list[#list + 1] = { id = f.id, key = f.fieldKey and (f.fieldKey:gsub("^contact%.", "")) or nil, field_value = value }
end

-- The function that turns a row into params: mapper(item) -> params |
-- false (left out) | nil, problems; or nil and the job's problems.
function Job:_mapper(src)
  local map, e, key, const = self.map, self.e, self.key, self.params
  local jp = {} -- problems of the job (not of a row)
  for _, p in ipairs(src.problems or {}) do jp[#jp + 1] = p end
  local function with_const(params)
    if const and type(params) == "table" then
      for k, v in pairs(const) do
        if params[k] == nil then params[k] = v end
      end
    end
    return params
  end
  local function row_table(item)
    if src.kind ~= "csv" then return item.data end
    local t = {}
    for i, col in ipairs(src.columns) do
      local cell = item.data[i] or ""
      if not self.raw_csv and cell:find("^'[=+%-@\t\r]") then cell = cell:sub(2) end
      t[col] = cell
    end
    return t
  end
  if type(map) == "function" then
    return function(item)
      local ok, params, why = pcall(map, row_table(item), item.n)
      if not ok then return nil, { { problem = "map raised an error: " .. tostring(params) } } end
      if params == false then return false end
      if params == nil then return nil, { { problem = "map: " .. tostring(why or "returned nothing") } } end
      return with_const(params)
    end
  end
  -- a table (or none): per column or key
  local targets = {}
  local names = ops.all_names(e)
  local by_norm = {}
  for _, n in ipairs(names) do by_norm[norm(n)] = by_norm[norm(n)] or n end
  local map_norm = {}
  for k, v in pairs(map or {}) do
    if type(k) ~= "string" then
      jp[#jp + 1] = "map: column names must be strings"
    else
      map_norm[norm(k)] = { k, v }
    end
  end
  local sets = operations.sets(e)
  -- whether the operation takes `name` (a body whose schema lists no fields takes any)
  local function takes(name)
    return sets.pp[name] or sets.q[name] or (e.b and (not sets.bf or sets.bf[name])) or false
  end
  local function resolve_target(column, auto)
    local m = map and map[column]
    if m == nil then
      local hit = map_norm[norm(column)]
      if hit then m = hit[2] end
    end
    if m ~= nil then
      local t, why = target_of(m, column)
      if t == nil then return nil, why end
      if t and t.custom then
        local f, cerr = self:_custom(t.custom)
        if not f then return nil, ("map: column '%s': %s"):format(column, cerr) end
        t.field_def = f
      elseif t and not takes(t.field) then
        local near = operations.closest(t.field, names)
        return nil, ("map: column '%s' maps to '%s', which is not a parameter of %s%s"):format(column, t.field, key,
          #near > 0 and ("; did you mean %s?"):format(table.concat(near, ", ")) or "")
      end
      return t
    end
    if column == "_row" or column == "_error" then return false end
    if not auto then return { field = column } end
    local hit = by_norm[norm(column)]
    if hit then return { field = hit } end
    if norm(column) == "id" and e.pp and #e.pp == 1 then return { field = e.pp[1] } end
    local near = operations.closest(column, names)
    return nil, ("column '%s' is not a parameter of %s%s: map it to one, or to - to leave it out"):format(column, key,
      #near > 0 and ("; did you mean %s?"):format(table.concat(near, ", ")) or "")
  end
  if src.kind == "csv" then
    local present = {}
    for i, col in ipairs(src.columns) do
      present[norm(col)] = true
      local t, why = resolve_target(col, true)
      if t == nil then jp[#jp + 1] = why else targets[i] = t end
    end
    for k in pairs(map or {}) do
      if type(k) == "string" and not present[norm(k)] then
        jp[#jp + 1] = ("map names the column '%s', which the header does not have (its columns: %s)")
          :format(k, table.concat(src.columns, ", "))
      end
    end
    if #jp > 0 then return nil, jp end
    return function(item)
      local params, problems = {}, nil
      for i, t in ipairs(targets) do
        if t then
          local cell = item.data[i] or ""
          if t.field_def then
            if cell ~= "" then
              if not self.raw_csv and cell:find("^'[=+%-@\t\r]") then cell = cell:sub(2) end
              add_custom(params, t.field_def, cell)
            end
          else
            problems = put_cell(self, params, problems, t, cell)
          end
        end
      end
      if problems then return nil, problems end
      return with_const(params)
    end
  end
  if #jp > 0 then return nil, jp end
  -- JSON objects and Lua tables: keys renamed by the map
  local cache = {}
  return function(item)
    local row = item.data
    if type(row) ~= "table" then return row end -- the check reports it
    local params, problems = {}, nil
    for k, v in pairs(row) do
      local t = cache[k]
      if t == nil then
        local why
        t, why = resolve_target(k, false)
        if t == nil then return nil, { { field = tostring(k), problem = why } } end
        cache[k] = t
      end
      if t then
        if t.field_def then
          add_custom(params, t.field_def, v)
        elseif t.as and type(v) == "string" then
          problems = put_cell(self, params, problems, t, v)
        elseif v ~= nil then
          params[t.field] = v
        end
      end
    end
    if problems then return nil, problems end
    return with_const(params)
  end
end

-- The problems of a row's params: ops.check, then what the request
-- builder itself would refuse (so that a batch never raises).
function Job:_check(params)
  local problems = ops.check(self.client, self.e, self.key, params)
  if #problems > 0 then return problems end
  local client = self.client
  local ok, err = pcall(function()
    local m, p, o = client:_op_request(self.key, params, nil, "ghl.job")
    client._core:prepare(m, p, o)
  end)
  if not ok then
    problems[1] = { problem = tostring(type(err) == "table" and err.message or err) }
  end
  return problems
end

local function problem_text(list)
  local parts = {}
  for i, p in ipairs(list) do parts[i] = p.field and (p.field .. " " .. p.problem) or p.problem end
  return table.concat(parts, "; ")
end
M.problem_text = problem_text

-- sources -----------------------------------------------------------------------

function Job:_open_source()
  local src, err = source.open(self.rows, self.format)
  if not src then return problem("source", "%s", err) end
  return src
end

-- the next row, or nil; a source that fails (an unclosed CSV quote) raises
-- a job error
local function next_row(src)
  local ok, item = pcall(src.next)
  if ok then return item end
  local msg = type(item) == "table" and item.message or tostring(item)
  error({ job_error = select(2, problem("source", "%s: %s", tostring(src.name or "rows"), msg)) }, 0)
end

--- Check every row and send nothing: all the problems of all the rows at
-- once (names the operation does not take, with the closest ones; required
-- parameters missing; lists, the contact fields' types, email addresses;
-- what JSON cannot carry: NaN, infinities, invalid UTF-8), and those of the
-- job (a column that maps to nothing, a custom field the location lacks).
-- Nothing is sent, except one GET of the location's custom fields when the
-- map names custom fields.
-- @treturn[1] table `{ ok, rows, bad, problems = { { row, line, field, problem }, ... } }`
-- (`row` nil for a problem of the job itself)
-- @treturn[2] nil
-- @treturn[2] error the source cannot be read (`kind = "job"`, `reason = "source"`)
-- @usage local check = job:dry_run()
-- for _, p in ipairs(check.problems) do print(p.row, p.field, p.problem) end
function Job:dry_run()
  local src, err = self:_open_source()
  if not src then return nil, err end
  local report = { rows = 0, bad = 0, problems = {} }
  local list = report.problems
  local ok, perr = pcall(function()
    local mapper, jp = self:_mapper(src)
    if not mapper then
      for _, p in ipairs(jp) do list[#list + 1] = { problem = p } end
    end
    while true do
      local item = next_row(src)
      if not item then break end
      report.rows = report.rows + 1
      local problems
      if item.problem then
        problems = { { problem = item.problem } }
      elseif mapper then
        local params, mp = mapper(item)
        if params == nil then
          problems = mp
        elseif params ~= false then
          problems = self:_check(params)
        end
      end
      if problems and #problems > 0 then
        report.bad = report.bad + 1
        for _, p in ipairs(problems) do
          list[#list + 1] = { row = item.n, line = item.line, field = p.field, problem = p.problem }
        end
      end
    end
  end)
  src.close()
  if not ok then
    if type(perr) == "table" and perr.job_error then return nil, perr.job_error end
    error(perr, 0)
  end
  report.ok = #list == 0
  return report
end

-- running -------------------------------------------------------------------------

local function record(t, item, extra)
  local r = { t = t, row = item.n, hash = item.hash, at = now_ms() }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function err_text(err)
  local s = tostring(err)
  return (s:gsub("^ghl: ", ""))
end

local MAX_TRIES = 3

-- one run's state
local Run = {}
Run.__index = Run

function Run:progress(force)
  local f = self.job.on_progress
  if not f then return end
  local now = now_ms()
  if not force and self.last_progress and now - self.last_progress < 50 then return end
  self.last_progress = now
  local r, w = self.report, self.wait
  f{ rows = self.seen, total = self.total, done = r.done, failed = r.failed, ambiguous = r.ambiguous,
     changed = r.changed, skipped = r.skipped, sent = r.sent, elapsed_ms = now - self.started,
     waiting = w.at ~= nil and now - w.at < math.max(1000, w.ms or 0), wait_ms = w.ms, max = w.max,
     interval_ms = w.interval_ms }
end

function Run:put(list)
  local ok, err = self.journal:put(list)
  if not ok then error({ job_error = err }, 0) end
end

-- a row that will not be done this run: counted and kept for the report
function Run:unsettled(item, state, text, err)
  local r = self.report
  if state == "ambiguous" then
    r.ambiguous = r.ambiguous + 1
  elseif state == "changed" then
    r.changed = r.changed + 1
  else
    r.failed = r.failed + 1
    if state == "invalid" then r.invalid = r.invalid + 1 end
  end
  r.failures[#r.failures + 1] = { row = item.n, line = item.line, state = state, error = text,
                                  kind = err and err.kind, status = err and err.status, data = item.data }
  self:progress()
end

function Run:done(item, id, how)
  self:put{ record("done", item, { id = id, how = how }) }
  local r = self.report
  r.done = r.done + 1
  if item.resolving then r.resolved = r.resolved + 1 end
  self:progress()
end

-- What the answer to a row means (on_done of the batch).
function Run:outcome(item, body, x)
  local job = self.job
  if body ~= nil then return self:done(item, ops.id_of(job.e, body, item.params), item.how) end
  local err = x
  local status = err and err.status
  if err and err.kind == "decode" and type(status) == "number" and status >= 200 and status < 300 then
    return self:done(item, nil, "answered " .. status .. ", but not with JSON")
  end
  -- a contact create whose first try was ambiguous, refused now as a duplicate: the first one happened
  local meta = item.resolving and type(err) == "table" and type(err.body) == "table" and err.body.meta
  if type(meta) == "table" and type(meta.contactId) == "string" and job.key == "contacts.create-contact" then
    return self:done(item, meta.contactId, "GHL has it already (" .. tostring(meta.matchingField or "duplicate") .. ")")
  end
  local state, retry = ops.classify(err, job.e.m)
  local text = err_text(err)
  if state == "ambiguous" then
    self:put{ record("ambiguous", item, { error = text }) }
    item.tries = (item.tries or 0) + 1
    item.error = text
    if item.tries >= MAX_TRIES then return self:unsettled(item, "ambiguous", text, err) end
    self.resolve_q[#self.resolve_q + 1] = item
    return
  end
  self:put{ record("failed", item, { error = text, kind = err and err.kind, status = status, retry = retry }) }
  self:unsettled(item, "failed", text, err)
end

-- Sends the rows of `items` in one batch.
function Run:send(items)
  local job = self.job
  local calls = {}
  for i, item in ipairs(items) do calls[i] = { op = job.key, params = item.params } end
  local r = self.report
  job.client:batch(calls, {
    concurrency = job.concurrency,
    on_send = function(i)
      self:put{ record("sent", items[i]) }
      r.sent = r.sent + 1
    end,
    on_done = function(i, body, x) self:outcome(items[i], body, x) end,
  })
end

-- Settles ambiguous rows: looked up, sent again, or reported.
function Run:resolve(items)
  local job = self.job
  local lookups, found_by = {}, {}
  for _, item in ipairs(items) do
    local how = ops.resolution(job.key, job.e, item.params)
    if how == "again" or (how == "report" and job.retry_ambiguous) then
      item.resolving, item.how = true, how == "again" and "sent again" or "sent again (retry_ambiguous)"
      self.pending[#self.pending + 1] = item
    elseif how == "lookup" then
      lookups[#lookups + 1] = item
    else
      local text = item.error or "no answer was recorded: the runner stopped while the request was in flight"
      if not item.error then self:put{ record("ambiguous", item, { error = text }) } end
      self:unsettled(item, "ambiguous", text .. " (no natural key to look it up by; retry_ambiguous sends it again)")
    end
  end
  if #lookups == 0 then return end
  local calls = {}
  for i, item in ipairs(lookups) do calls[i], found_by[i] = ops.lookup_call(item.params) end
  local results = job.client:batch(calls, { concurrency = job.concurrency })
  for i, item in ipairs(lookups) do
    local body, err = results[i][1], results[i][2]
    item.resolving = true
    if body ~= nil then
      local id = ops.found_id(body)
      if id then
        self:done(item, id, "found by " .. found_by[i])
      else
        item.how = "not found by " .. found_by[i] .. ": sent again"
        self.pending[#self.pending + 1] = item
      end
    else
      local text = ("%s; looking it up by %s failed: %s"):format(item.error or "in flight when the runner stopped",
        found_by[i], err_text(err))
      self:put{ record("ambiguous", item, { error = text }) }
      self:unsettled(item, "ambiguous", text, err)
    end
  end
end

-- What to do with a row, by its journal record.
function Run:decide(item, mapper)
  local job = self.job
  local r = self.journal:get(item.n)
  if r and r.hash ~= item.hash then
    if r.t == "failed" then
      r = nil -- fixed since: sent as it is now
    else
      local what = r.t == "done" and ("was done" .. (r.id and (" (id " .. tostring(r.id) .. ")") or ""))
        or (r.t == "sent" and "was sent (its outcome unknown)") or "was ambiguous"
      return self:unsettled(item, "changed", ("the row changed since it %s: not sent again"):format(what))
    end
  end
  if r and r.t == "done" then
    local rep = self.report
    rep.done, rep.skipped = rep.done + 1, rep.skipped + 1
    return self:progress()
  end
  local params, problems
  if item.problem then
    problems = { { problem = item.problem } }
  else
    params, problems = mapper(item)
    if params == false then
      self.report.ignored = self.report.ignored + 1
      return
    end
    if params ~= nil then problems = job:_check(params) end
  end
  if problems and #problems > 0 then return self:unsettled(item, "invalid", problem_text(problems)) end
  item.params = params
  if r and r.t == "failed" and r.retry == false and not job.retry_failed then
    return self:unsettled(item, "failed", tostring(r.error) .. " (refused in an earlier run; retry_failed sends it again)",
      { kind = r.kind, status = r.status })
  end
  if r and (r.t == "sent" or r.t == "ambiguous") then
    item.error = r.t == "ambiguous" and r.error or nil
    self.resolve_q[#self.resolve_q + 1] = item
    return
  end
  self.pending[#self.pending + 1] = item
end

-- Sends what is pending and settles what came back ambiguous: a batch
-- once a batch's worth of rows is pending (ambiguous rows first, so those
-- of one batch are settled before the next is sent); with `all`, until
-- nothing is left.
function Run:drain(all)
  while true do
    local busy = false
    local chunk = self.chunk
    if #self.resolve_q > 0 and (all or #self.resolve_q >= chunk or #self.pending >= chunk) then
      local q = self.resolve_q
      self.resolve_q = {}
      self:resolve(q)
      busy = true
    end
    local pending = self.pending
    if #pending > 0 and (all or #pending >= chunk) then
      local items, rest = {}, {}
      local n = math.min(#pending, chunk)
      for i = 1, n do items[i] = pending[i] end
      for i = n + 1, #pending do rest[i - n] = pending[i] end
      self.pending = rest
      self:send(items)
      busy = true
    end
    if not busy then return end
  end
end

--- Run the job: every row not done yet is sent (see above for what each
-- journal record makes of a row), the journal records each outcome before
-- the next request leaves, and the report says what became of every row.
-- Run it again with the same journal after a crash, a kill or a fix: it
-- resumes.
-- @treturn[1] table the report: `{ ok, rows, done, failed, ambiguous, changed,
-- skipped, invalid, ignored, sent, resolved, resumed, elapsed_ms, journal,
-- columns, failures = { { row, line, state, error, kind, status, data }, ... } }`:
-- `done` counts every row done (`skipped` of them in earlier runs), `failed`
-- those refused (`invalid`: by the checks, before sending), `ambiguous`
-- those that may or may not have been applied, `changed` those that changed
-- since they were sent; `sent` the requests this run sent, `resolved` the
-- ambiguous rows it settled; `ok` is true when every row is done (or left
-- out by the map). `failures` lists the rows that are not done, each with
-- its state ("failed", "invalid", "ambiguous", "changed"), the reason and
-- the row as read (`data`: a CSV row's cells, a JSON row's value); `columns`
-- the CSV header.
-- @treturn[2] nil
-- @treturn[2] error `kind = "job"`, `reason`: `locked` (another runner has the
-- journal), `journal` (the journal is another job's, or damaged), `io` (it
-- cannot be written: the run stops), `source` (the rows cannot be read),
-- `map` (the map or a column cannot be used: nothing was sent)
-- @usage local report, err = job:run()
-- if not report then error(err) end
-- print(("%d done, %d failed, %d ambiguous"):format(report.done, report.failed, report.ambiguous))
function Job:run()
  local started = now_ms()
  local run = setmetatable({ job = self, journal = self.journal, pending = {}, resolve_q = {},
                             chunk = math.max(32, self.concurrency * 8), seen = 0, started = started, wait = {},
                             report = { rows = 0, done = 0, failed = 0, ambiguous = 0, changed = 0, skipped = 0,
                                        invalid = 0, ignored = 0, sent = 0, resolved = 0, failures = {},
                                        journal = self.journal_name } }, Run)
  -- the pacer's waits, for on_progress (the custom fields' GET may wait too)
  local client = self.client
  local prev = client._on_wait
  client._on_wait = function(w)
    if w.reason == "rate_limit" or w.reason == "probe" then
      run.wait = { at = now_ms(), ms = w.wait_ms, max = w.max, interval_ms = w.interval_ms }
      run:progress(true) -- a long wait: said now, not when the next row is settled
    end
    if prev then return prev(w) end
  end
  local report, err = self:_run(run)
  client._on_wait = prev
  return report, err
end

function Job:_run(run)
  local src, serr = self:_open_source()
  if not src then return nil, serr end
  local ok_map, mapper, jp = pcall(self._mapper, self, src)
  if not ok_map then
    src.close()
    error(mapper, 0)
  end
  if not mapper then
    src.close()
    return problem("map", "the job cannot start: %s", table.concat(jp, "; "))
  end
  local info, jerr = self.journal:open{ op = self.key, source = type(self.rows) == "string" and self.rows or nil,
                                        at = now_ms() }
  if not info then
    src.close()
    return nil, jerr
  end
  local report = run.report
  report.columns, report.resumed, report.dropped = src.columns, info.resumed, info.dropped
  run.total = self.on_progress and source.count(self.rows, self.format) or nil
  local ok, err = pcall(function()
    while true do
      local item = next_row(src)
      if not item then break end
      run.seen = run.seen + 1
      report.rows = run.seen
      run:decide(item, mapper)
      run:drain(false)
    end
    run:drain(true)
  end)
  src.close()
  self.journal:close()
  if not ok then
    if type(err) == "table" and err.job_error then return nil, err.job_error end
    error(err, 0)
  end
  report.elapsed_ms = now_ms() - run.started
  report.ok = report.failed == 0 and report.ambiguous == 0 and report.changed == 0
  run:progress(true)
  table.sort(report.failures, function(a, b) return a.row < b.row end)
  return report
end

--- The operation the job runs ("contacts.upsert-contact").
function Job:operation() return self.key end

return M
