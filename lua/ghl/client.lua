--- The client `ghl.new{...}` makes: its calls (request, call, each_of,
-- pages_of, batch, close), and a table for each resource: @{client.contacts},
-- @{client.opportunities}, @{client.calendars}, @{client.conversations},
-- @{client.locations}, @{client.users}, @{client.workflows}.
--
--     local client = ghl.new{ token = os.getenv("GHL_TOKEN"), location_id = location_id }
--     local contact = assert(client.contacts:get(contact_id))
--     local body = assert(client:call("contacts.get-contact", { contactId = contact_id }))
--     for invoice in client:each_of("invoices.list-invoices", { altId = location_id, altType = "location", limit = 100 }) do
--       print(invoice._id)
--     end
--
-- Every call runs ghl.driver (token, pacing, send, interpret, retry): the C
-- core decides, the transport only moves bytes. ghl.batch runs many calls
-- at once with the same driver.
local core = require "ghl.core"
local errors = require "ghl.errors"
local operations = require "ghl.operations"
local paging = require "ghl.paging"
local pacer = require "ghl.pacer"
local driver = require "ghl.driver"
local transport = require "ghl.transport"

local Client = {}
Client.__index = Client

local RESOURCES = {
  contacts = require "ghl.resources.contacts",
  opportunities = require "ghl.resources.opportunities",
  calendars = require "ghl.resources.calendars",
  workflows = require "ghl.resources.workflows",
  conversations = require "ghl.resources.conversations",
  locations = require "ghl.resources.locations",
  users = require "ghl.resources.users",
}

--- Make a client from validated options (applications call `ghl.new`).
-- @local
function Client.new(o)
  local self = setmetatable({}, Client)
  self._core = core.client{
    token = o.token,
    base_url = o.base_url,
    version = o.version,
    location_id = o.location_id,
    max_retries = o.max_retries,
    max_retry_time_ms = o.max_retry_time_ms,
    retry_base_ms = o.retry_base_ms,
    retry_max_delay_ms = o.retry_max_delay_ms,
  }
  self._transport, self._sleep, self._curl_options = transport.for_client(o)
  self._on_retry = o.on_retry
  self._on_wait = o.on_wait
  self._auth = o.oauth
  -- a Private Integration Token ("pit-" and a UUID); a token= that is an
  -- OAuth access token made elsewhere (a JWT) is not one
  self._pit = type(o.token) == "string" and o.token:sub(1, 4) == "pit-"
  -- a pacing wait longer than this is never slept (the call fails at once)
  self._budget_ms = math.min(o.timeout_ms or 30000, o.max_retry_time_ms or 60000)
  if o.pacing ~= false then
    -- GHL counts per app and location/company: an OAuth client's tokens change, its app does not
    self._pacing_who = o.oauth and ("app:" .. o.oauth.client_id) or self._core:fingerprint()
    self._pacing_dict, self._pacing_store = o.pacing_dict, o.pacing_store
    self._pacer_resource = o.location_id or o.company_id
    self._pacer = self:_new_pacer(self._pacer_resource)
    self._pacers = {} -- an agency OAuth client's other locations: one budget each
  end
  self.location_id = o.location_id
  self.company_id = o.company_id
  for name, resource in pairs(RESOURCES) do
    self[name] = resource.new(self)
  end
  return self
end

Client.closed_error = driver.closed_error

function Client:_new_pacer(resource)
  local who = self._pacing_who
  if self._pacing_store then return pacer.stored(self._pacing_store, who, resource) end
  if self._pacing_dict then return pacer.shared(self._pacing_dict, who, resource) end
  return pacer.get(who, resource)
end

-- The pacer of a call: an OAuth client's calls are counted per location or
-- company of the token they send (an agency client mints for many
-- locations: each has its own budget); a token's calls by the client's.
function Client:_pacer_for(resource)
  local p = self._pacer
  if not p or not self._auth or resource == nil or resource == self._pacer_resource then return p end
  p = self._pacers[resource]
  if not p then
    p = self:_new_pacer(resource)
    self._pacers[resource] = p
  end
  return p
end

--- Call any endpoint.
-- @string method GET, POST, PUT, PATCH or DELETE
-- @string path a path template such as "/contacts/{contactId}"
-- @tparam[opt] table opts `path` (values for {name} segments), `query`,
-- `body` (a table, sent as JSON), `headers`, `version`
-- @return decoded body and `resp` (`status`, `headers`, `trace_id`), or nil and an error
-- @usage local body = assert(client:request("GET", "/contacts/{contactId}", { path = { contactId = id } }))
function Client:request(method, path, opts)
  return self:_request(method, path, opts, nil)
end

-- Every call: the driver, from start to end (a closed client answers
-- "closed" there).
Client._request = driver.request

-- Tells the on_retry hook what failed and what happens next; never a
-- header (the token).
function Client:_notify_retry(attempt, delay_ms, err, req)
  if self._on_retry then
    self._on_retry{ attempt = attempt, delay_ms = delay_ms, error = err, kind = err.kind, status = err.status,
                    message = err.message, method = req.method, path = req.path }
  end
end

-- Tells the on_wait hook that the pacer holds a call back, why and for how
-- long, with the budget as GHL last reported it.
function Client:_notify_wait(wait_ms, reason, req, p, message)
  local hook = self._on_wait
  if hook then
    local st, floor = (p or self._pacer):state(), math.floor
    local function count(v) return v and floor(v) end -- the pacer keeps doubles
    hook{ wait_ms = count(wait_ms), reason = reason, message = message, method = req.method, path = req.path,
          remaining = count(st.remaining), max = count(st.max), interval_ms = count(st.interval_ms),
          daily_remaining = count(st.daily_remaining) }
  end
end

-- The pacing store could not be asked (p.unreachable holds why): the call
-- paces in this process alone. Said once per client, through on_wait
-- (reason "store_unreachable", wait_ms 0), or else in nginx's error log or
-- on stderr.
function Client:_store_unreachable(p, req)
  local why = p.unreachable
  p.unreachable = nil
  if self._told_unreachable then return end
  self._told_unreachable = true
  local message = ("the pacing store could not be asked (%s): this process paces on its own, "
    .. "not against the shared budget, until it answers again"):format(tostring(why))
  if self._on_wait then return self:_notify_wait(0, "store_unreachable", req, p, message) end
  local line = "ghl: " .. message
  local nginx = rawget(_G, "ngx")
  if nginx and nginx.log then nginx.log(nginx.WARN, line) else io.stderr:write(line, "\n") end
end

--- The rate-limit budget as GHL last reported it, and the pacing so far:
-- { max, remaining, interval_ms, daily_limit, daily_remaining,
--   window_reset_ms, daily_reset_ms, paced, waits, waited_ms }.
-- Empty until a response carried the X-RateLimit-* headers. `resource`: a
-- location (or company) id, for an agency OAuth client's other budgets.
function Client:rate_limit(resource)
  local p = self:_pacer_for(resource)
  return p and p:state() or {}
end

-- The request of an operation of the catalogue: method, path, opts (its
-- Version), token type; parts = {path, query, body} after operations.complete.
function Client:_op_args(e, parts, headers)
  local opts = { path = parts.path, query = parts.query, version = e.v, headers = headers,
                 comma_query = e.qc and operations.sets(e).qc }
  if e.b == "form" then
    opts.form = parts.body or {}
  elseif e.b then
    -- a JSON body the caller left out: {} for writes, nothing for DELETE
    opts.body = parts.body or (e.m ~= "DELETE" and e.m ~= "GET" and {} or nil)
    opts.body_shape = e.bs -- where the schema has arrays: an empty table there is []
  end
  return e.m, e.p, opts, e.t
end

-- Sends an operation of the catalogue.
function Client:_send(e, parts, headers)
  return self:_request(self:_op_args(e, parts, headers))
end

-- The catalogue entry of an operation whose flat params are a table (or nil).
local function resolve(operation, params, where)
  local e, key = operations.resolve(operation, where)
  if params ~= nil and type(params) ~= "table" then
    errors.invalid("%s %s: params must be a table, got %s", where, key, type(params))
  end
  return e, key
end

-- An operation by operationId with flat params, as method, path, opts and
-- token type (what _request takes). Misuse raises, named after `where`.
function Client:_op_request(operation, params, headers, where)
  local e, key = resolve(operation, params, where)
  if e.b == "multipart" then
    errors.invalid("%s %s: multipart uploads are not supported by call()", where, key)
  end
  local parts = operations.complete(self, e, key, operations.split(e, key, params, where), where)
  return self:_op_args(e, parts, headers)
end

--- Run any of the 576 operations of GHL's specs by operationId.
-- `params` is flat: path and query parameters by name, the rest goes into
-- the JSON body. Required parameters are checked before anything is sent;
-- `locationId`/`location_id`/`companyId` default to the client's.
-- @string operation "contacts.get-contact" (or a bare operationId when unique)
-- @tparam[opt] table params
-- @tparam[opt] table opts `headers`
-- @return decoded body, resp | nil, err
-- @usage local body = assert(client:call("contacts.get-contact", { contactId = contact_id }))
function Client:call(operation, params, opts)
  return self:_request(self:_op_request(operation, params, opts and opts.headers, "call"))
end

--- Iterate the items of any paged operation (all pages, one in memory).
-- Options (in `params` or `opts`): `max_items`, `max_pages`, `items`
-- (where the items are, a field or a path such as "results.posts", when
-- the catalogue does not know it). A cursor the spec requires is filled in
-- for the first page.
-- A page that fails raises the structured error.
-- @string operation "invoices.list-invoices" (or a bare operationId when unique)
-- @tparam[opt] table params flat, as for `call`
-- @tparam[opt] table opts `max_items`, `max_pages`, `items`, `headers`
-- @treturn function an iterator over the items
-- @usage for invoice in client:each_of("invoices.list-invoices", { altId = loc, altType = "location", limit = 100 }) do
--   print(invoice._id)
-- end
function Client:each_of(operation, params, opts)
  return paging.items(self:_pager(operation, params, opts, "each_of"))
end

--- Like each_of, yielding `items, page` per page.
-- @string operation
-- @tparam[opt] table params
-- @tparam[opt] table opts
-- @treturn function an iterator of `items, page` (the page's items and the whole answer)
function Client:pages_of(operation, params, opts)
  return paging.pages(self:_pager(operation, params, opts, "pages_of"))
end

function Client:_pager(operation, params, opts, where)
  local e, key = resolve(operation, params, where)
  local clean, o = paging.take_options(params, opts)
  local pager = paging.pager(e, key, o, where .. " " .. key)
  paging.first_cursor(e, clean)
  local parts = operations.complete(self, e, key, operations.split(e, key, clean, where), where)
  local target, fetch = paging.fetcher(self, e, parts, o.headers)
  return pager, parts[target], fetch
end

--- Close the client and its connection. Idempotent; later calls fail with
-- `kind = "closed"`.
function Client:close()
  if self._closed then return end
  self._closed = true
  local t = self._transport
  if type(t) ~= "string" and t.close then t:close() end
  if self._multi then self._multi:close() end
  self._core:close()
end

Client.__close = Client.close

function Client:__tostring()
  return ("ghl.Client (%s%s)"):format(self.location_id or "no location",
    self._closed and ", closed" or "")
end

--- Run several calls at once; results in input order, each `{ body, resp }`
-- or `{ nil, err }`. A call is `{ "GET", "/contacts/{contactId}", opts }`
-- or `{ op = "contacts.get-contact", params = {...} }`.
-- opts: concurrency (default 8); `on_send(i)`, called just before call i's
-- first request leaves (after its pacing wait), and `on_done(i, body, resp
-- | nil, err)`, called as soon as call i has its result, each before any
-- other call starts (ghl.job journals with them; a hook that raises ends
-- the batch with that error). With libcurl the calls run on a curl multi
-- handle (pooled connections, HTTP/2 multiplexing where offered); inside
-- nginx in light threads (ngx.thread.spawn); with a transport of your own
-- one after the other. Tokens, pacing and retries are those of single
-- calls; an OAuth token is fetched once for the batch and renewed once.
-- @tparam table calls a list of calls
-- @tparam[opt] table opts `concurrency`, `on_send`, `on_done`
-- @treturn table the results, in the order of `calls`
-- @usage local results = client:batch{
--   { op = "contacts.get-contact", params = { contactId = a } },
--   { "GET", "/contacts/{contactId}", { path = { contactId = b } } },
-- }
-- for i, r in ipairs(results) do print(i, r[1] and "ok" or tostring(r[2])) end
function Client:batch(calls, opts)
  return require("ghl.batch").run(self, calls, opts)
end

-- The curl multi handle of batches, kept for the next batch.
function Client:_multi_for(concurrency)
  local multi = self._multi
  if not multi or self._multi_size < concurrency then
    if multi then multi:close() end
    multi = require("ghl.curl").multi(self._curl_options, concurrency)
    self._multi, self._multi_size = multi, concurrency
  end
  return multi
end

--- Counters of the transport (`requests`, `connects`) when it keeps them.
function Client:transport_stats()
  local t = self._transport
  return t.stats and t:stats() or {}
end

return Client
