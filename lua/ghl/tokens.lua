--- OAuth tokens for calls: which token an operation takes, and a cache of
-- them for one call or a whole batch (fetched once and shared by the calls
-- in flight, renewed once when they expire; the store's lock makes that
-- once across processes too). The app (ghl.oauth) reads and writes the store.
local core = require "ghl.core"

local now_ms = core.now_ms

local M = {}

-- Which OAuth token an operation takes: the catalogue's token type ("L",
-- "A", "A L", "Lo", ...; nil for a raw request) and the ids the client has.
function M.which(client, t)
  if client.location_id and (t == nil or t == "" or t:find("L", 1, true)) then
    return "Location", client.location_id
  end
  if client.company_id and (t == nil or t == "" or t:find("A", 1, true)) then
    return "Company", client.company_id
  end
  if client.location_id then return "Location", client.location_id end
  return nil
end

local Tokens = {}
Tokens.__index = Tokens

--- The token cache of `client` (an OAuth client) for one call or batch.
function M.new(client)
  return setmetatable({ auth = client._auth, company_id = client.company_id, cache = {} }, Tokens)
end

-- An access token for (user_type, id); `stale` is one GHL refused.
function Tokens:get(user_type, id, stale)
  local key = user_type .. "|" .. id
  local e = self.cache[key]
  local access, fresh_until
  if stale then
    if e and e.access ~= stale then return e.access end -- another call renewed it already
    access, fresh_until = self.auth:renew(user_type, id, stale)
  elseif e and e.fresh_until > now_ms() then
    return e.access
  else
    access, fresh_until = self.auth:token(user_type, id, self.company_id)
  end
  if not access then return nil, fresh_until end
  self.cache[key] = { access = access, fresh_until = tonumber(fresh_until) or 0 }
  return access
end

return M
