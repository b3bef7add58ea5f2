--- Two-phase dedupe of webhook deliveries over a store: a delivery is
-- claimed (with a lease, so a crashed handler does not block its
-- redelivery for good), handled, then committed (kept for the whole retry
-- horizon) or released (so GHL's redelivery can be handled). Two keys per
-- delivery: "webhook:claim:<key>" (the lease) and "webhook:done:<key>".
--
-- The store needs `add(key, value, ttl_ms)` (atomic set-if-absent with an
-- expiry) and, to give a claim back safely, `delete_if(key, value)`;
-- ghl.store.memory, shm and redis have both (see lua/ghl/store.lua).
-- @internal ghl.webhook.claims
local clock = require "ghl.clock"

local M = {}

local Claims = {}
Claims.__index = Claims

--- Claims over `store`; leases of claim_ttl_ms, commits kept done_ttl_ms.
function M.new(store, claim_ttl_ms, done_ttl_ms)
  return setmetatable({ store = store, claim_ttl = claim_ttl_ms, done_ttl = done_ttl_ms }, Claims)
end

-- a value read back: the file store gives its add entries as {v, exp}
local function present(v)
  if type(v) == "table" and v.exp then return v.exp > clock.now_ms() end
  return v ~= nil
end

-- A token no other claimer has (LuaJIT's math.random is not seeded, so
-- processes started together would draw the same numbers).
local urandom
local function token()
  urandom = urandom or io.open("/dev/urandom", "rb")
  local bytes = urandom and urandom:read(12)
  if bytes and #bytes == 12 then
    return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
  end
  return ("%d.%s.%d"):format(clock.now_ms(), tostring({}):match("0x%x+") or "", math.random(1, 1e9))
end

--- Whether the delivery was handled: true | false | nil, err.
function Claims:done(key)
  local v, err = self.store:get("webhook:done:" .. key)
  if v == nil and err then return nil, err end
  return present(v)
end

--- Claim the delivery: a token (ours to handle) | false (someone holds it,
-- or it is done) | nil, err.
function Claims:claim(key)
  local done, err = self:done(key)
  if done == nil then return nil, err end
  if done then return false, "done" end
  local t = token()
  local added, aerr = self.store:add("webhook:claim:" .. key, t, self.claim_ttl)
  if added == nil then return nil, aerr end
  if not added then
    -- being handled, or handled and being committed right now
    done = self:done(key)
    return false, done and "done" or "busy"
  end
  -- committed between our first look and the claim: hand it back
  done, err = self:done(key)
  if done ~= false then
    self:release(key, t)
    if done == nil then return nil, err end
    return false, "done"
  end
  return t
end

--- Give a claim back (the handler failed): only ours, never another's.
function Claims:release(key, t)
  local store = self.store
  if store.delete_if then return store:delete_if("webhook:claim:" .. key, t) end
  return store:delete("webhook:claim:" .. key) -- a store of one's own without delete_if
end

--- Record the delivery as handled, then give the claim back.
function Claims:commit(key, t)
  local added, err = self.store:add("webhook:done:" .. key, "1", self.done_ttl)
  if added == nil then return nil, err end
  self:release(key, t)
  return true
end

return M
