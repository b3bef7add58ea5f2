--- The client: request loop over the C core and a transport.
--
-- The C core decides (builds the request, judges the response); the
-- transport only moves bytes. The loop between them stays in Lua so it can
-- yield inside nginx.
local core = require "ghl.core"
local errors = require "ghl.errors"

local Client = {}
Client.__index = Client

local RESOURCES = {
  contacts = require "ghl.resources.contacts",
}

local function make_transport(o)
  if o.transport ~= nil and o.transport ~= "curl" then
    return o.transport
  end
  -- loaded on demand: a host without libcurl (nginx) never needs it
  local curl = require "ghl.curl"
  return curl.new{
    timeout_ms = o.timeout_ms,
    connect_timeout_ms = o.connect_timeout_ms,
    ca_file = o.ca_file,
    proxy = o.proxy,
    ssl_verify = o.ssl_verify,
    max_body_bytes = o.max_body_bytes,
  }
end

--- Make a client from validated options (see `ghl.new`).
function Client.new(o)
  local self = setmetatable({}, Client)
  self._core = core.client{
    token = o.token,
    base_url = o.base_url,
    version = o.version,
    location_id = o.location_id,
    max_retries = o.max_retries,
  }
  self._transport = make_transport(o)
  self.location_id = o.location_id
  for name, resource in pairs(RESOURCES) do
    self[name] = resource.new(self)
  end
  return self
end

local function closed_error(method, path)
  return errors.new{
    kind = "closed",
    message = "client is closed",
    method = type(method) == "string" and method:upper() or nil,
    path = type(path) == "string" and path or nil,
  }
end

--- Call any endpoint.
-- @string method GET, POST, PUT, PATCH or DELETE
-- @string path a path template such as "/contacts/{contactId}"
-- @tparam[opt] table opts `path` (values for {name} segments), `query`,
-- `body` (a table, sent as JSON), `headers`, `version`
-- @return decoded body and `resp` (`status`, `headers`, `trace_id`), or nil and an error
function Client:request(method, path, opts)
  if self._closed then
    return nil, closed_error(method, path)
  end
  local c = self._core
  local req = c:prepare(method, path, opts)
  local status, a, b = self._transport:perform(req)
  local action, x, y = c:interpret(req, status, a, b)
  if action == "done" then
    return x, y
  end
  return nil, x
end

--- Close the client and its connection. Idempotent; later calls fail with
-- `kind = "closed"`.
function Client:close()
  if self._closed then return end
  self._closed = true
  local t = self._transport
  if type(t) ~= "string" and t.close then t:close() end
  self._core:close()
end

Client.__close = Client.close

function Client:__tostring()
  return ("ghl.Client (%s%s)"):format(self.location_id or "no location",
    self._closed and ", closed" or "")
end

--- Counters of the transport (`requests`, `connects`) when it keeps them.
function Client:transport_stats()
  local t = self._transport
  return t.stats and t:stats() or {}
end

return Client
