--- Validation of `ghl.new` options: copied, typed, unknown keys refused.
local errors = require "ghl.errors"

local M = {}

-- kind of value each option takes; the list is the whole public surface
local SCHEMA = {
  token = "string",
  location_id = "string",
  company_id = "string",
  base_url = "string",
  version = "string",
  timeout_ms = "timeout",
  connect_timeout_ms = "timeout",
  max_retries = "count",
  max_retry_time_ms = "duration",
  max_retry_time = "duration", -- the same, in milliseconds (name of the issue tracker)
  retry_base_ms = "duration",
  retry_max_delay_ms = "duration",
  on_retry = "function",
  on_wait = "function",
  pacing = "boolean",
  pacing_dict = "string", -- nginx: share pacing across workers through this lua_shared_dict
  pacing_store = "pacing_store", -- share pacing across processes and hosts: ghl.store.redis{}, ghl.store.shm(dict)
  ca_file = "file",
  proxy = "string",
  ssl_verify = "boolean",
  max_body_bytes = "bytes",
  transport = "transport",
  oauth = "oauth",
}

local function known()
  local names = {}
  for k in pairs(SCHEMA) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local function check_value(name, kind, v)
  local t = type(v)
  if kind == "string" or kind == "file" then
    if t ~= "string" or v == "" then
      errors.invalid("ghl.new: option '%s' must be a non-empty string, got %s", name, t == "string" and "\"\"" or t)
    end
    if kind == "file" then
      local f, err = io.open(v, "rb")
      if not f then errors.invalid("ghl.new: option '%s' cannot be read: %s", name, err) end
      f:close()
    end
  elseif kind == "timeout" then
    -- what libcurl and nginx take: whole milliseconds, at most a day
    if t ~= "number" or v ~= v or v < 1 or v > 86400000 then
      errors.invalid("ghl.new: option '%s' must be a number of milliseconds from 1 to 86400000 (a day), got %s",
        name, tostring(v))
    end
  elseif kind == "bytes" then
    if t ~= "number" or v ~= v or v < 1 or v > 2 ^ 40 then
      errors.invalid("ghl.new: option '%s' must be a number of bytes from 1 to 2^40, got %s", name, tostring(v))
    end
  elseif kind == "count" then
    if t ~= "number" or v < 0 or v > 100 or v ~= math.floor(v) then
      errors.invalid("ghl.new: option '%s' must be a whole number from 0 to 100, got %s", name, tostring(v))
    end
  elseif kind == "duration" then
    if t ~= "number" or v ~= v or v < 0 or v == math.huge then
      errors.invalid("ghl.new: option '%s' must be a number of milliseconds >= 0, got %s", name, tostring(v))
    end
  elseif kind == "function" then
    if t ~= "function" then
      errors.invalid("ghl.new: option '%s' must be a function, got %s", name, t)
    end
  elseif kind == "boolean" then
    if t ~= "boolean" then
      errors.invalid("ghl.new: option '%s' must be true or false, got %s", name, t)
    end
  elseif kind == "oauth" then
    if (t ~= "table" and t ~= "userdata") or type(v.token) ~= "function" or type(v.renew) ~= "function" then
      errors.invalid("ghl.new: option 'oauth' must be an app made by ghl.oauth{...}")
    end
  elseif kind == "pacing_store" then
    if t ~= "table" and t ~= "userdata" then
      errors.invalid("ghl.new: option 'pacing_store' must be a store (ghl.store.redis{...} or ghl.store.shm(dict)), "
        .. "got %s", t)
    end
    if type(v.pacer) ~= "function" then
      errors.invalid("ghl.new: option 'pacing_store': this store cannot pace (it has no pacer method); "
        .. "ghl.store.redis{...} and ghl.store.shm(dict) can, ghl.store.memory() and ghl.store.file() cannot")
    end
  elseif kind == "transport" then
    local ok = v == "curl" or v == "ngx"
      or ((t == "table" or t == "userdata") and type(v.perform) == "function")
    if not ok then
      errors.invalid("ghl.new: option 'transport' must be \"curl\", \"ngx\" or an object with a perform(req) method")
    end
  end
end

--- Check `opts` and return a validated copy.
function M.check(opts)
  if type(opts) ~= "table" then
    errors.invalid("ghl.new expects an options table, got %s", type(opts))
  end
  local out = {}
  for k, v in pairs(opts) do
    local kind = type(k) == "string" and SCHEMA[k]
    if not kind then
      errors.invalid("ghl.new: unknown option '%s' (known: %s)", tostring(k), known())
    end
    check_value(k, kind, v)
    out[k] = v
  end
  if out.max_retry_time ~= nil then
    if out.max_retry_time_ms ~= nil then
      errors.invalid("ghl.new: give max_retry_time_ms or max_retry_time, not both")
    end
    out.max_retry_time_ms, out.max_retry_time = out.max_retry_time, nil
  end
  if out.pacing_store ~= nil and out.pacing_dict ~= nil then
    errors.invalid("ghl.new: give pacing_store or pacing_dict, not both (pacing_dict = name is "
      .. "pacing_store = ghl.store.shm(name))")
  end
  if out.token == nil and out.oauth == nil then
    errors.invalid("ghl.new: option 'token' is required (a Private Integration Token or an OAuth access token), or 'oauth'")
  end
  if out.token ~= nil and out.oauth ~= nil then
    errors.invalid("ghl.new: give 'token' or 'oauth', not both")
  end
  if out.oauth ~= nil and out.location_id == nil and out.company_id == nil then
    errors.invalid("ghl.new: an OAuth client needs location_id or company_id (whose tokens to use)")
  end
  return out
end

return M
