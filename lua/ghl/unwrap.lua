--- Resources return the object inside GHL's wrapper ({contact = {...}}).
-- @internal ghl.unwrap
local errors = require "ghl.errors"

--- `body[field]` when the call succeeded and the field is an object;
-- a `decode` error when the server answered without it (never a silent nil).
-- The whole body stays reachable as `resp.body`.
return function(body, resp, field)
  if body == nil then return nil, resp end
  resp.body = body
  local v = type(body) == "table" and body[field] or nil
  if type(v) ~= "table" then
    return nil, errors.new{
      kind = "decode",
      status = resp.status,
      message = ("response has no '%s' object"):format(field),
      body = body,
      trace_id = resp.trace_id,
    }
  end
  return v, resp
end
