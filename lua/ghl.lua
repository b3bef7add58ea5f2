--- ghl: a Lua client for the GoHighLevel (HighLevel) API v2.
--
--     local ghl = require "ghl"
--     local client = ghl.new{ token = os.getenv("GHL_TOKEN"), location_id = "..." }
--     local contact, err = client.contacts:get("abc")
--
-- Calls return `value, resp` or `nil, err`; `err` is a structured error
-- (`kind`, `status`, `message`, `body`, `method`, `path`, `trace_id`).
-- Misuse (a wrong argument type, an unknown option) raises such an error
-- with `kind = "invalid_argument"`.
-- @module ghl

local core = require "ghl.core"
local options = require "ghl.options"
local Client = require "ghl.client"

-- ghl.oauth and ghl.webhook are loaded when first used: a script with a
-- Private Integration Token starts without them.
local function module_on_use(name, call)
  return setmetatable({}, {
    __index = function(_, k) return require(name)[k] end,
    __call = call,
  })
end

local ghl = {
  --- Library version (also sent in the User-Agent header).
  VERSION = core.VERSION,
  --- JSON null as decoded in response bodies (lua-cjson's `cjson.null`).
  null = core.null,
  --- Token stores for OAuth: memory(), file(path), shm(dict), redis{...}.
  store = require "ghl.store",
  --- Webhooks: verify(raw_body, headers, opts), dispatch(event, handlers), ...
  webhook = module_on_use("ghl.webhook"),
  --- ghl.oauth{client_id=, client_secret=, ...} makes an OAuth app (see
  -- ghl.oauth); ghl.oauth.check_state(expected, received) guards the redirect.
  oauth = module_on_use("ghl.oauth", function(_, opts) return require("ghl.oauth").new(opts) end),
  --- ghl.export{client=, resource=, since=, state=, ...} reads what changed since a time or
  -- the last run, page by page, with a state file (see @{ghl.export}).
  export = module_on_use("ghl.export", function(_, opts) return require("ghl.export").new(opts) end),
  --- ghl.job{client=, rows=, op=, map=, journal=, ...} makes a bulk job that
  -- survives a crash (see ghl.job): job:run(), job:dry_run().
  job = module_on_use("ghl.job", function(_, opts) return require("ghl.job").new(opts) end),
}

local errors = require "ghl.errors"

local function mark(mt, name)
  return function(t)
    if t == nil then return setmetatable({}, mt) end
    if type(t) ~= "table" then errors.invalid("ghl.%s: expects a table (or nothing), got %s", name, type(t)) end
    local cur = getmetatable(t)
    if cur ~= nil and cur ~= mt then
      errors.invalid("ghl.%s: the table already has a metatable of its own", name)
    end
    return setmetatable(t, mt)
  end
end

--- Mark a table as a JSON array in request bodies: `ghl.array()` is an
-- empty one (`[]`, where a plain `{}` would be sent as an object when no
-- schema tells). Returns the table.
ghl.array = mark(core.array_mt, "array")

--- Mark a table as a JSON object in request bodies (`ghl.object()`: `{}`).
ghl.object = mark(core.object_mt, "object")

--- Let names through that GHL's spec does not list: `client:call(op,
-- ghl.unchecked{ ... })`, `client.contacts:create(ghl.unchecked{ ... })`.
-- Without it a name the operation does not take is an error (a typo would
-- otherwise be sent, or dropped, in silence). Returns the table.
ghl.unchecked = mark(require("ghl.operations").UNCHECKED, "unchecked")

--- Make a client: the object every call goes through (@{ghl.client}), with
-- a table for each resource (@{client.contacts}, @{client.opportunities}, ...).
--
-- Give `token` or `oauth`, not both. Durations are in milliseconds. Unknown
-- options are an error, so a typo never goes unnoticed. The README's
-- retry policy and @{options.md|the options topic} say more.
-- @tparam table opts
-- @tparam[opt] string opts.token a Private Integration Token (`pit-...`) or an OAuth access
-- token; required unless `oauth` is given
-- @tparam[opt] table opts.oauth an app from `ghl.oauth{...}` (@{ghl.oauth}) instead of `token`: the
-- client picks, renews and stores tokens (needs `location_id` or `company_id`)
-- @tparam[opt] string opts.location_id fills `locationId` / `location_id` where an endpoint needs one
-- @tparam[opt] string opts.company_id fills `companyId` where an endpoint needs one (agency calls);
-- lets an OAuth client mint location tokens from the agency token
-- @tparam[opt="https://services.leadconnectorhq.com"] string opts.base_url
-- @tparam[opt="2021-07-28"] string opts.version the `Version` header of `client:request`; resource
-- methods and `client:call` send each operation's own
-- @tparam[opt=30000] number opts.timeout_ms the whole call (1 ms to a day)
-- @tparam[opt=10000] number opts.connect_timeout_ms connection set-up (1 ms to a day)
-- @tparam[opt=3] int opts.max_retries retries after the first attempt (0 to 100)
-- @tparam[opt=60000] number opts.max_retry_time_ms no retry starts that would end later than this
-- after the first try
-- @tparam[opt] number opts.max_retry_time the same as `max_retry_time_ms`, in ms (give one of them)
-- @tparam[opt=500] number opts.retry_base_ms backoff: a random wait under `retry_base_ms`, doubled for
-- each retry (full jitter)
-- @tparam[opt=10000] number opts.retry_max_delay_ms the longest of those waits
-- @tparam[opt] func opts.on_retry `function(info)` called before each retry: `attempt`, `delay_ms`,
-- `kind`, `status`, `message`, `method`, `path`, `error` (never a header or token)
-- @tparam[opt] func opts.on_wait `function(info)` called when the pacer holds a call back: `wait_ms`,
-- `reason` (`rate_limit`; `probe` while another call learns the budget), `method`, `path`,
-- `remaining` (left, after this call, in the window it is placed in), `max`, `interval_ms`,
-- `daily_remaining`
-- @tparam[opt=true] bool opts.pacing slow down before GHL's rate limit; `false` turns it off
-- @tparam[opt] string opts.pacing_dict inside nginx: a `lua_shared_dict` through which all workers
-- share one budget
-- @tparam[opt] table opts.pacing_store a `ghl.store.redis{...}` or `ghl.store.shm(dict)`: one
-- rate-limit budget for every process and host that uses it (`pacing_dict` is short for the shm one)
-- @tparam[opt] string opts.ca_file PEM file of the CAs to trust (default: the system's)
-- @tparam[opt] string opts.proxy such as `http://proxy:3128`; default: the environment's
-- (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`, as libcurl reads them), read when the
-- client is made
-- @tparam[opt=true] bool opts.ssl_verify TLS verification; only an explicit `false` turns it off
-- @tparam[opt] number opts.max_body_bytes larger answers fail with `kind = "too_large"` (default
-- 64 MiB; 1 to 2^40)
-- @param[opt="curl"] opts.transport `"curl"` (scripts), `"ngx"` (nginx; the default there), or an
-- object with `perform(req)` (and optionally `sleep(ms)`)
-- @treturn ghl.client the client
-- @raise an `invalid_argument` error for an unknown option, a value of the wrong type or out of
-- range, both or neither of `token` and `oauth`
-- @usage
-- local client = ghl.new{ token = os.getenv("GHL_TOKEN"), location_id = os.getenv("GHL_LOCATION_ID") }
-- local contact = assert(client.contacts:get(contact_id))
function ghl.new(opts)
  return Client.new(options.check(opts))
end

--- The endpoint catalogue: "service.operationId" -> {m = method, p = path,
-- v = Version, t = token type, pp/q/rq/rb = parameters, pg = paging style, ...}
-- (576 operations, generated from GHL's OpenAPI specs).
function ghl.operations()
  return require("ghl.operations").all()
end

--- Whether `v` is an error returned by ghl.
function ghl.is_error(v)
  return type(v) == "table" and getmetatable(v) == core.error_mt
end

return ghl
