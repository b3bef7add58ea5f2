--- Token stores: where OAuth tokens live, shared by every caller, process
-- or nginx worker that uses them. A store is any object with these methods
-- (values are strings; the OAuth code stores JSON):
--
--   store:get(key)           -> value | nil             (nil, err when it cannot read)
--   store:set(key, value)    -> true | nil, err         atomic: readers see the old or the new value
--   store:delete(key)        -> true | nil, err
--   store:lock(key, ttl_ms)  -> lease | nil, err        waits for the lock (up to the store's
--                                                       `lock_timeout_ms`); the lease ends by
--                                                       itself after ttl_ms or when the holder dies
--   store:unlock(key, lease) -> true | nil, err         nil, err: the lock may still be held
--                                                       (the OAuth app tries again)
--   store:extend(key, lease, ttl_ms) -> true | false | nil, err   (optional) the lease lasts
--                                                       ttl_ms from now; false: it is lost.
--                                                       Without it, a refresh gets no retry
--                                                       that would end after its lease
--   store:add(key, value, ttl_ms) -> true | false | nil, err   (optional) set only when absent,
--                                                       atomically; the value expires after ttl_ms
--                                                       (get sees it until then, nil after):
--                                                       webhook deliveries claimed and handled
--   store:delete_if(key, value) -> true | false | nil, err   (optional) delete only while the
--                                                       key holds value, atomically: a webhook
--                                                       claim given back never drops another's
--   store:pacer(key, fallback) -> pacer   (optional) a rate-limit pacer whose state lives in the
--                                                       store under key (a token fingerprint and a
--                                                       location): pacing_store of ghl.new. The pacer
--                                                       answers acquire/update/state as the C pacer
--                                                       does (csrc/pacer.c), or nil and a message (a
--                                                       string) when the store cannot be asked: the
--                                                       call then paces with `fallback`, this
--                                                       process's pacer of the same budget
--
-- The OAuth app takes the lock around a refresh and reads again inside it,
-- so one refresh happens per expiry however many callers find the token
-- expired at once. Plug your own store by giving an object with these methods.
--
--   ghl.store.memory()                      one process
--   ghl.store.file(path)                    one host: flock, atomic rename, mode 0600
--   ghl.store.shm(dict_name)                one nginx: lua_shared_dict (pacing too)
--   ghl.store.redis{host=, port=, prefix=}  many hosts: a lease that expires (pacing too: a script)
local M = {}

function M.memory(opts) return require("ghl.store.memory").new(opts) end
function M.file(path, opts) return require("ghl.store.file").new(path, opts) end
function M.shm(dict_name, opts) return require("ghl.store.shm").new(dict_name, opts) end
function M.redis(opts) return require("ghl.store.redis").new(opts) end

local METHODS = { "get", "set", "delete", "lock", "unlock" }

--- Whether `s` can serve as a store (has every method).
function M.check(s)
  if type(s) ~= "table" and type(s) ~= "userdata" then return false, "a store must be an object" end
  for _, m in ipairs(METHODS) do
    if type(s[m]) ~= "function" then return false, ("a store needs a %s method"):format(m) end
  end
  return true
end

return M
