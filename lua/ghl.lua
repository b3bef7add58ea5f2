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

--- Make a client.
-- @tparam table opts `token` (Private Integration Token or OAuth access
-- token), `location_id`, `base_url`, `version`, `timeout_ms`,
-- `connect_timeout_ms`, `max_retries`, `ca_file`, `proxy`, `ssl_verify`,
-- `max_body_bytes`, `transport`, `pacing` (false: off), `pacing_store` (a
-- `ghl.store.redis{...}` or `ghl.store.shm(dict)`: one rate-limit budget
-- for every process and host that uses it), `pacing_dict` (short for
-- `pacing_store = ghl.store.shm(name)`), `on_wait`, `on_retry`; the README's
-- table has them all. Unknown keys are an error.
-- @return a client
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
